/* lock_ofd: an open file description lock (F_OFD_SETLK, write, bytes
 * 0..99) on FILE (fd 3).  Each round checks /proc/locks lists it and that
 * F_OFD_GETLK through a second open of FILE sees it (OFD locks conflict
 * between open files, even in one process). */
#include <fcntl.h>

#define KIND "lock_ofd"
#include "zdtm.h"
#include "locks.h"

static char path[4096];
static struct stat st;

static const char *setup(int argc, char **argv)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100 };

	if (argc != 2) {
		errno = EINVAL;
		return "usage: lock_ofd FILE";
	}
	snprintf(path, sizeof(path), "%s", argv[1]);
	closefrom(3);
	if (open(path, O_RDWR | O_CREAT, 0644) != 3 || fstat(3, &st))
		return "open FILE";
	if (fcntl(3, F_OFD_SETLK, &fl))
		return "F_OFD_SETLK";
	return NULL;
}

static const char *check(void)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 1 };
	int pid, fd, r;

	if (lock_listed("OFDLCK", "WRITE", &st, &pid) != 1)
		return "/proc/locks lists no OFD write lock on FILE";
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return zdtm_why("open FILE again: %s", strerror(errno));
	r = fcntl(fd, F_OFD_GETLK, &fl);
	close(fd);
	if (r)
		return zdtm_why("F_OFD_GETLK: %s", strerror(errno));
	if (fl.l_type == F_UNLCK)
		return "F_OFD_GETLK through a second open of FILE sees no lock";
	if (fl.l_type != F_WRLCK || fl.l_start != 0 || fl.l_len != 100)
		return zdtm_why("F_OFD_GETLK sees type %d at %lld+%lld, not the write lock on 0+100",
				fl.l_type, (long long)fl.l_start, (long long)fl.l_len);
	return NULL;
}
