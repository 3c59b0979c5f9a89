/* epoll_stale MODE: an epoll whose interest list pfrez must refuse, then
 * a counter.  MODE:
 *	closed	watches an eventfd added as fd 5, which was dup'd to fd 7
 *		and closed: the file is watched, fd 5 is no more
 *	reused	the same, and fd 5 is now /dev/null
 *	pidfd	watches a pidfd (a descriptor pfrez refuses itself) */
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "say.h"

int main(int argc, char **argv)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	int ep = epoll_create1(0), fd;

	if (argc != 2 || ep < 0)
		return 2;
	if (!strcmp(argv[1], "pidfd")) {
		fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
		if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
			return 2;
	} else {
		fd = eventfd(0, 0);
		if (fd < 0 || dup2(fd, 5) != 5 || (fd != 5 && close(fd)) || epoll_ctl(ep, EPOLL_CTL_ADD, 5, &ev) ||
		    dup2(5, 7) != 7 || close(5))
			return 2;
		if (!strcmp(argv[1], "reused") &&
		    ((fd = open("/dev/null", O_RDONLY)) < 0 || dup2(fd, 5) != 5 || close(fd)))
			return 2;
	}
	for (long n = 1;; n++) {
		say("%ld\n", n);
		msleep(50);
	}
}
