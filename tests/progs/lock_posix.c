/* lock_posix: a POSIX write lock (fcntl F_SETLK) on bytes 100..199 of
 * FILE (fd 3).  A process never conflicts with its own POSIX locks, so
 * each round reads /proc/locks: the lock is there, with this pid. */
#include <fcntl.h>

#define KIND "lock_posix"
#include "zdtm.h"
#include "locks.h"

static struct stat st;

static const char *setup(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 100 };

	if (argc != 2) {
		errno = EINVAL;
		return "usage: lock_posix FILE";
	}
	closefrom(3);
	if (open(argv[1], O_RDWR | O_CREAT, 0644) != 3 || fstat(3, &st))
		return "open FILE";
	if (fcntl(3, F_SETLK, &fl))
		return "F_SETLK";
	return NULL;
}

/* The PID the kernel knows this process by: when pthaw had to remap its
 * PID, getpid() answers the old one, but /proc/locks names the new one,
 * as /proc/self does. */
static int kernel_pid(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

static const char *check(void)
{
	int pid = 0, self = kernel_pid();

	if (lock_listed("POSIX", "WRITE", &st, &pid) != 1)
		return "/proc/locks lists no POSIX write lock on FILE";
	if (pid != self)
		return zdtm_why("the POSIX lock on FILE belongs to pid %d, this is %d", pid, self);
	return NULL;
}
