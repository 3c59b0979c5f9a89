/* fd_shared: fd 3 opens FILE, fd 4 is dup(3) (one open file description,
 * one offset), fd 5 opens FILE again (its own offset).  Each round reads a
 * byte through 3 and two through 5, and checks the offsets and kcmp. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>

#define KIND "fd_shared"
#include "zdtm.h"

#define SIZE 4096

static long pos3, pos5;

static int same_file(int a, int b)
{
	pid_t me = getpid();

	return syscall(SYS_kcmp, me, me, KCMP_FILE, a, b) == 0;
}

static const char *setup(int argc, char **argv)
{
	char buf[SIZE];
	int fd;

	if (argc != 2) {
		errno = EINVAL;
		return "usage: fd_shared FILE";
	}
	closefrom(3);
	for (int i = 0; i < SIZE; i++)
		buf[i] = i % 251;
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd != 3 || write(3, buf, SIZE) != SIZE || lseek(3, 0, SEEK_SET))
		return "open FILE as fd 3";
	if (dup(3) != 4)
		return "dup 3";
	if (open(argv[1], O_RDONLY) != 5)
		return "open FILE again as fd 5";
	return NULL;
}

static const char *step(int fd, long *pos, const char *what)
{
	unsigned char c;

	if (lseek(fd, 0, SEEK_CUR) != *pos)
		return zdtm_why("%s: offset %lld, expected %ld", what,
				(long long)lseek(fd, 0, SEEK_CUR), *pos);
	if (read(fd, &c, 1) != 1 || c != *pos % 251)
		return zdtm_why("%s: read the wrong byte at %ld", what, *pos);
	if (++*pos == SIZE)
		*pos = lseek(fd, 0, SEEK_SET);
	return NULL;
}

static const char *check(void)
{
	const char *why;

	if (!same_file(3, 4))
		return "fds 3 and 4 (dup) are no longer one open file description (kcmp)";
	if (same_file(3, 5))
		return "fds 3 and 5 (two opens) became one open file description (kcmp)";
	if ((why = step(3, &pos3, "fd 3")) || (why = step(5, &pos5, "fd 5")) ||
	    (why = step(5, &pos5, "fd 5")))
		return why;
	if (lseek(4, 0, SEEK_CUR) != pos3)
		return zdtm_why("fd 4 (dup of 3) is at %lld, fd 3 at %ld",
				(long long)lseek(4, 0, SEEK_CUR), pos3);
	if ((fcntl(4, F_GETFL) & O_ACCMODE) != O_RDWR || (fcntl(5, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return "access modes of fds 4 and 5";
	return NULL;
}
