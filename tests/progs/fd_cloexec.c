/* fd_cloexec: FD_CLOEXEC is per fd, not per open file: fd 3 (FILE) without
 * it, fd 4 = dup(3) with it, fd 5 (/dev/null) with it, fd 6 = dup(5)
 * without.  Each round checks the four flags. */
#include <fcntl.h>

#define KIND "fd_cloexec"
#include "zdtm.h"

static const int want[7] = { [3] = 0, [4] = FD_CLOEXEC, [5] = FD_CLOEXEC, [6] = 0 };

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: fd_cloexec FILE";
	}
	closefrom(3);
	if (open(argv[1], O_RDWR | O_CREAT, 0644) != 3)
		return "open FILE";
	if (fcntl(3, F_DUPFD_CLOEXEC, 4) != 4)
		return "dup 3 with FD_CLOEXEC";
	if (open("/dev/null", O_RDONLY | O_CLOEXEC) != 5)
		return "open /dev/null";
	if (dup(5) != 6)
		return "dup 5";
	return NULL;
}

static const char *check(void)
{
	for (int fd = 3; fd <= 6; fd++) {
		int f = fcntl(fd, F_GETFD);

		if (f < 0)
			return zdtm_why("fd %d is closed", fd);
		if (f != want[fd])
			return zdtm_why("fd %d: FD_CLOEXEC is %s, was %s", fd, f ? "set" : "clear",
					want[fd] ? "set" : "clear");
	}
	return NULL;
}
