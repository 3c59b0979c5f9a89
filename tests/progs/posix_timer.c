/* posix_timer: a periodic timer_create(2) timer, CLOCK_MONOTONIC, every
 * 20 ms, SIGEV_SIGNAL with SIGRTMIN+1 and sival 0x5eed; and a one-shot
 * SIGEV_NONE timer 1000 s away.  Each round measures the periodic one over
 * ~300 ms (expirations, overruns included, against the time passed: a
 * window with a pause over 100 ms in it, a capture say, is not measured),
 * checks every signal's code, value and timer id, both timers' settings,
 * and that the one-shot's remaining time only goes down. */
#include <signal.h>
#include <time.h>

#define KIND "posix_timer"
#define ZDTM_ROUND
#include "zdtm.h"

#define INTERVAL_NS 20000000L
#define SIVAL 0x5eed
#define ONESHOT_S 1000

static timer_t periodic, oneshot;
static volatile long fired, bad_code, bad_value, bad_id;
static int timer_id = -1;
static long window_got = -1, window_want;
static struct timespec t_setup;
static long long last_left;

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void on_timer(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	fired += 1 + si->si_overrun;
	if (si->si_code != SI_TIMER)
		bad_code = si->si_code;
	if (si->si_value.sival_int != SIVAL)
		bad_value = si->si_value.sival_int;
	if (timer_id < 0)
		timer_id = si->si_timerid;
	else if (si->si_timerid != timer_id)
		bad_id = si->si_timerid;
}

static const char *setup(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_timer, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 1 };
	struct sigevent none = { .sigev_notify = SIGEV_NONE };
	struct itimerspec per = { { 0, INTERVAL_NS }, { 0, INTERVAL_NS } };
	struct itimerspec one = { { 0, 0 }, { ONESHOT_S, 0 } };

	(void)argc, (void)argv;
	ev.sigev_value.sival_int = SIVAL;
	if (sigaction(SIGRTMIN + 1, &sa, NULL))
		return "sigaction";
	if (timer_create(CLOCK_MONOTONIC, &ev, &periodic) || timer_settime(periodic, 0, &per, NULL))
		return "the periodic timer";
	if (timer_create(CLOCK_MONOTONIC, &none, &oneshot) || timer_settime(oneshot, 0, &one, NULL))
		return "the one-shot timer";
	clock_gettime(CLOCK_MONOTONIC, &t_setup);
	last_left = ONESHOT_S * 1000000000LL;
	return NULL;
}

static void between_rounds(void)
{
	long long t0 = now_ns(), t = t0, prev;
	long c0 = fired;
	int gap = 0;

	for (int i = 0; i < 30; i++) {
		prev = t;
		msleep(10);
		t = now_ns();
		if (t - prev > 100000000LL)
			gap = 1;
	}
	window_got = gap ? -1 : fired - c0;
	window_want = (t - t0) / INTERVAL_NS;
}

static const char *check(void)
{
	struct itimerspec it;
	long long left;

	if (bad_code)
		return zdtm_why("a timer signal came with si_code %ld, not SI_TIMER", bad_code);
	if (bad_value)
		return zdtm_why("a timer signal came with sival %#lx, not %#x", bad_value, SIVAL);
	if (bad_id)
		return zdtm_why("a timer signal came from timer id %ld, not %d", bad_id, timer_id);
	if (timer_gettime(periodic, &it))
		return zdtm_why("timer_gettime of the periodic timer: %s", strerror(errno));
	if (it.it_interval.tv_sec || it.it_interval.tv_nsec != INTERVAL_NS)
		return zdtm_why("the periodic timer's interval is %ld.%09ld s", (long)it.it_interval.tv_sec,
				it.it_interval.tv_nsec);
	if (!it.it_value.tv_sec && !it.it_value.tv_nsec)
		return "the periodic timer is disarmed";
	if (window_got >= 0 && (window_got < window_want / 2 || window_got > window_want + 2))
		return zdtm_why("%ld expirations in a window of %ld intervals", window_got, window_want);
	if (timer_gettime(oneshot, &it))
		return zdtm_why("timer_gettime of the one-shot timer: %s", strerror(errno));
	if (it.it_interval.tv_sec || it.it_interval.tv_nsec)
		return "the one-shot timer has an interval";
	left = it.it_value.tv_sec * 1000000000LL + it.it_value.tv_nsec;
	if (left <= 0 || left > last_left)
		return zdtm_why("the one-shot timer has %lld ns left, had %lld", left, last_left);
	last_left = left;
	return NULL;
}
