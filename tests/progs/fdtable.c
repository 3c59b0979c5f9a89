/* fdtable: a descriptor table with holes.  Besides 0..2 it holds
 *	 3  DIR.data, O_RDWR, read one byte per tick from offset 1000 on
 *	 7  /dev/null, O_WRONLY, close-on-exec
 *	42  DIR.log, O_WRONLY|O_APPEND, one line appended per tick
 * and nothing else.  DIR is argv[1] (a path prefix).  Prints "fds ready",
 * then "tick N" every 50 ms after checking every fd's number, flags,
 * offset and identity, and that no other fd is open. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "say.h"

#define DATA_SIZE 65536
#define START 1000

static char data_path[4096], log_path[4096];
static struct stat data_st, log_st;

static unsigned char byte_at(long i)
{
	return (i * 7 + 3) % 251;
}

static int place(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at)
		return -1;
	if (fd != at)
		close(fd);
	return 0;
}

static int setup(const char *dir)
{
	unsigned char buf[DATA_SIZE];
	int fd;

	snprintf(data_path, sizeof(data_path), "%s.data", dir);
	snprintf(log_path, sizeof(log_path), "%s.log", dir);
	for (long i = 0; i < DATA_SIZE; i++)
		buf[i] = byte_at(i);
	fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, DATA_SIZE) != DATA_SIZE || lseek(fd, START, SEEK_SET) != START ||
	    place(fd, 3))
		return -1;
	if (place(open("/dev/null", O_WRONLY), 7) || fcntl(7, F_SETFD, FD_CLOEXEC))
		return -1;
	if (place(open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644), 42))
		return -1;
	if (stat(data_path, &data_st) || stat(log_path, &log_st))
		return -1;
	return 0;
}

/* The fds open now, other than the one reading /proc/self/fd. */
static int others(char *buf, size_t len)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	buf[0] = 0;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (e->d_name[0] == '.' || fd == dirfd(d) || fd <= 3 || fd == 7 || fd == 42)
			continue;
		snprintf(buf + strlen(buf), len - strlen(buf), " %d", fd);
		n++;
	}
	closedir(d);
	return n;
}

static const char *check(long n, long *rpos)
{
	static char why[256];
	struct stat st;
	unsigned char c;
	char extra[128];

	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			return "fd 0, 1 or 2 is closed";
	if (fstat(3, &st) || st.st_ino != data_st.st_ino || st.st_dev != data_st.st_dev)
		return "fd 3 is not the data file";
	if ((fcntl(3, F_GETFL) & (O_ACCMODE | O_APPEND)) != O_RDWR || fcntl(3, F_GETFD) != 0)
		return "fd 3 flags";
	if (lseek(3, 0, SEEK_CUR) != *rpos) {
		snprintf(why, sizeof(why), "fd 3 offset %lld, expected %ld",
			 (long long)lseek(3, 0, SEEK_CUR), *rpos);
		return why;
	}
	if (read(3, &c, 1) != 1 || c != byte_at(*rpos))
		return "fd 3 read the wrong byte";
	if (++*rpos == DATA_SIZE)
		*rpos = lseek(3, START, SEEK_SET);

	if (fstat(7, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return "fd 7 is not /dev/null";
	if ((fcntl(7, F_GETFL) & O_ACCMODE) != O_WRONLY || fcntl(7, F_GETFD) != FD_CLOEXEC)
		return "fd 7 flags (O_WRONLY, close-on-exec)";

	if (fstat(42, &st) || st.st_ino != log_st.st_ino || st.st_dev != log_st.st_dev)
		return "fd 42 is not the log file";
	if ((fcntl(42, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_WRONLY | O_APPEND) ||
	    fcntl(42, F_GETFD) != 0)
		return "fd 42 flags (O_WRONLY|O_APPEND)";
	/* A clone appends to the same file: the end only moves forward. */
	if (fstat(42, &st) || dprintf(42, "tick %ld\n", n) < 0 ||
	    lseek(42, 0, SEEK_CUR) < st.st_size + 6)
		return "fd 42 did not append at the end";

	if (others(extra, sizeof(extra)) != 0) {
		snprintf(why, sizeof(why), "unexpected open fds:%s", extra);
		return why;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long rpos = START;

	if (argc != 2) {
		say("FAIL usage: fdtable PATH-PREFIX\n");
		return 2;
	}
	closefrom(3);	/* whatever the caller left open */
	if (setup(argv[1])) {
		say("FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	say("fds ready\n");
	for (long n = 0;; n++) {
		const char *why = check(n, &rpos);

		if (why) {
			say("FAIL tick %ld: %s\n", n, why);
			return 1;
		}
		say("tick %ld\n", n);
		msleep(50);
	}
}
