/* fd_epoll: an epoll loop over a pipe (data 0x1111), an eventfd
 * (EPOLLET, data 0x2222) and a timerfd every 20 ms (data 0x3333), and a
 * second eventfd added EPOLLONESHOT (data 0x4444) that fired once at the
 * start and so is disarmed.  Each round writes to the pipe and the
 * eventfd, and the loop must see each of the three with its data, then
 * read them; the one-shot must never come again. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#define KIND "fd_epoll"
#include "zdtm.h"

static int ep, p[2], efd, tfd, one;

static int add(int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static const char *setup(int argc, char **argv)
{
	struct itimerspec t = { { 0, 20000000 }, { 0, 20000000 } };
	struct epoll_event ev;
	uint64_t v = 1;

	(void)argc, (void)argv;
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK);
	one = eventfd(1, EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep < 0 || efd < 0 || one < 0 || tfd < 0 || pipe2(p, O_NONBLOCK) || timerfd_settime(tfd, 0, &t, NULL))
		return "setup";
	if (add(p[0], EPOLLIN, 0x1111) || add(efd, EPOLLIN | EPOLLET, 0x2222) || add(tfd, EPOLLIN, 0x3333) ||
	    add(one, EPOLLIN | EPOLLONESHOT, 0x4444))
		return "epoll_ctl";
	if (epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.u64 != 0x4444 || read(one, &v, 8) != 8)
		return "the one-shot eventfd did not fire first";
	return NULL;
}

static const char *check(void)
{
	struct epoll_event ev[8];
	uint64_t v = 1;
	unsigned seen = 0;
	char c;

	if (write(p[1], "x", 1) != 1 || write(efd, &v, 8) != 8 || write(one, &v, 8) != 8)
		return "writes";
	for (int tries = 0; seen != 7 && tries < 50; tries++) {
		int n = epoll_wait(ep, ev, 8, 100);

		for (int i = 0; i < n; i++) {
			switch (ev[i].data.u64) {
			case 0x1111:
				if (read(p[0], &c, 1) != 1 || c != 'x')
					return "the pipe had no byte";
				seen |= 1;
				break;
			case 0x2222:
				if (read(efd, &v, 8) != 8)
					return "the eventfd had no count";
				seen |= 2;
				break;
			case 0x3333:
				if (read(tfd, &v, 8) != 8 || !v)
					return "the timerfd had not expired";
				seen |= 4;
				break;
			case 0x4444:
				return "the disarmed EPOLLONESHOT eventfd came again";
			default:
				return zdtm_why("an event with data %#" PRIx64, (uint64_t)ev[i].data.u64);
			}
		}
	}
	if (seen != 7)
		return zdtm_why("the loop saw only %#x of the pipe, eventfd and timerfd (1, 2, 4)", seen);
	if (read(one, &v, 8) != 8)
		return "the one-shot eventfd";
	return NULL;
}
