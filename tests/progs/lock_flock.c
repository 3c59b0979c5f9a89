/* lock_flock: an exclusive flock(2) on FILE (fd 3).  Each round checks
 * /proc/locks lists it and that a second open of FILE cannot take it
 * (flock locks conflict between open files, even in one process). */
#include <fcntl.h>
#include <sys/file.h>

#define KIND "lock_flock"
#include "zdtm.h"
#include "locks.h"

static char path[4096];
static struct stat st;

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: lock_flock FILE";
	}
	snprintf(path, sizeof(path), "%s", argv[1]);
	closefrom(3);
	if (open(path, O_RDWR | O_CREAT, 0644) != 3 || fstat(3, &st))
		return "open FILE";
	if (flock(3, LOCK_EX | LOCK_NB))
		return "flock";
	return NULL;
}

static const char *check(void)
{
	int pid, fd, r;

	if (lock_listed("FLOCK", "WRITE", &st, &pid) != 1)
		return "/proc/locks lists no exclusive flock on FILE";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zdtm_why("open FILE again: %s", strerror(errno));
	r = flock(fd, LOCK_SH | LOCK_NB);
	close(fd);
	if (r == 0)
		return "a second open of FILE took a shared flock: the exclusive one is gone";
	return NULL;
}
