/* fd_timerfd: timerfds held across the capture.
 *	once	CLOCK_MONOTONIC, one shot 1000 s away: the time left only goes
 *		down (a restore that started it again from 1000 s fails)
 *	tick	CLOCK_MONOTONIC, every 20 ms, O_NONBLOCK: keeps expiring
 *	abs	CLOCK_REALTIME, TFD_TIMER_ABSTIME, 1000 s from the start: the
 *		deadline stays where it was
 *	fired	CLOCK_BOOTTIME, one shot that went off and was never read: one
 *		expiration waits (fdinfo "ticks: 1") */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/timerfd.h>
#include <time.h>

#define KIND "fd_timerfd"
#include "zdtm.h"

static int once, tick, abs_fd, fired;
static long long last_left, deadline;

static long long ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

static long long now(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return ns(&t);
}

static const char *setup(int argc, char **argv)
{
	struct itimerspec o = { { 0, 0 }, { 1000, 0 } }, t = { { 0, 20000000 }, { 0, 20000000 } };
	struct itimerspec f = { { 0, 0 }, { 0, 1000000 } }, a = { { 0, 0 }, { 0, 0 } };

	(void)argc, (void)argv;
	once = timerfd_create(CLOCK_MONOTONIC, 0);
	tick = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	abs_fd = timerfd_create(CLOCK_REALTIME, 0);
	fired = timerfd_create(CLOCK_BOOTTIME, 0);
	if (once < 0 || tick < 0 || abs_fd < 0 || fired < 0)
		return "timerfd_create";
	deadline = now(CLOCK_REALTIME) + 1000000000000LL;
	a.it_value.tv_sec = deadline / 1000000000;
	a.it_value.tv_nsec = deadline % 1000000000;
	if (timerfd_settime(once, 0, &o, NULL) || timerfd_settime(tick, 0, &t, NULL) ||
	    timerfd_settime(abs_fd, TFD_TIMER_ABSTIME, &a, NULL) || timerfd_settime(fired, 0, &f, NULL))
		return "timerfd_settime";
	last_left = 1000000000000LL;
	msleep(5);
	return NULL;
}

static const char *check(void)
{
	struct itimerspec it;
	char name[64], v[64];
	uint64_t n = 0;
	long long left;

	if (timerfd_gettime(once, &it))
		return "timerfd_gettime";
	left = ns(&it.it_value);
	if (!left || left > last_left)
		return zdtm_why("the one-shot timer has %lld ns left, after %lld before", left, last_left);
	last_left = left;
	msleep(30);
	if (read(tick, &n, 8) != 8 || n < 1)
		return zdtm_why("the periodic timer did not expire (read: %s)", strerror(errno));
	if (timerfd_gettime(tick, &it) || ns(&it.it_interval) != 20000000)
		return "the periodic timer's interval";
	if (!(fcntl(tick, F_GETFL) & O_NONBLOCK) || (fcntl(once, F_GETFL) & O_NONBLOCK))
		return "flags";
	if (timerfd_gettime(abs_fd, &it))
		return "timerfd_gettime abs";
	left = now(CLOCK_REALTIME) + ns(&it.it_value) - deadline;
	if (left < -100000000 || left > 100000000)
		return zdtm_why("the absolute timer's deadline moved by %lld ns", left);
	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", fired);
	if (!zdtm_field(name, "ticks", v, sizeof(v)) || strcmp(v, "1"))
		return zdtm_why("the fired timer has %s expirations waiting, not 1", v);
	return NULL;
}
