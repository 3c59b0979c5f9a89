/* lease: a read lease (F_SETLEASE F_RDLCK) on FILE, opened read-only as
 * fd 3.  Each round checks F_GETLEASE and /proc/locks. */
#include <fcntl.h>

#define KIND "lease"
#include "zdtm.h"
#include "locks.h"

static struct stat st;

static const char *setup(int argc, char **argv)
{
	int fd;

	if (argc != 2) {
		errno = EINVAL;
		return "usage: lease FILE";
	}
	closefrom(3);
	fd = open(argv[1], O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return "create FILE";
	close(fd);
	/* A read lease needs no open for writing anywhere, this one included. */
	if (open(argv[1], O_RDONLY) != 3 || fstat(3, &st))
		return "open FILE";
	if (fcntl(3, F_SETLEASE, F_RDLCK))
		return "F_SETLEASE";
	return NULL;
}

static const char *check(void)
{
	int pid, l = fcntl(3, F_GETLEASE);

	if (l != F_RDLCK)
		return zdtm_why("F_GETLEASE is %d, was F_RDLCK (%d)", l, F_RDLCK);
	if (lock_listed("LEASE", "READ", &st, &pid) != 1)
		return "/proc/locks lists no read lease on FILE";
	return NULL;
}
