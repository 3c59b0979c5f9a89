/* itimer: setitimer(2) ITIMER_REAL every 30 ms, ITIMER_VIRTUAL every 7 ms
 * and ITIMER_PROF every 9 ms of CPU time.  Each round burns 25 ms of CPU
 * and sleeps 100 ms, then checks that each timer fired (its signal's
 * handler ran) and still has its interval. */
#include <signal.h>
#include <sys/time.h>
#include <time.h>

#define KIND "itimer"
#define ZDTM_ROUND
#include "zdtm.h"

static const struct {
	int which, sig;
	long usec;
	const char *name;
} timers[3] = {
	{ ITIMER_REAL, SIGALRM, 30000, "ITIMER_REAL" },
	{ ITIMER_VIRTUAL, SIGVTALRM, 7000, "ITIMER_VIRTUAL" },
	{ ITIMER_PROF, SIGPROF, 9000, "ITIMER_PROF" },
};
static volatile long count[3];
static long before[3];
static struct timeval interval[3];

static void on_sig(int sig)
{
	for (int i = 0; i < 3; i++)
		if (timers[i].sig == sig)
			count[i]++;
}

static long long cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static const char *setup(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig, .sa_flags = SA_RESTART };

	(void)argc, (void)argv;
	for (int i = 0; i < 3; i++) {
		struct itimerval it = { { 0, timers[i].usec }, { 0, timers[i].usec } }, got;

		if (sigaction(timers[i].sig, &sa, NULL) || setitimer(timers[i].which, &it, NULL))
			return timers[i].name;
		/* The kernel may round the interval (to its tick for the CPU
		 * timers): what it reports now is what must come back. */
		if (getitimer(timers[i].which, &got))
			return timers[i].name;
		interval[i] = got.it_interval;
	}
	return NULL;
}

static void between_rounds(void)
{
	long long end = cpu_ns() + 25000000LL;
	volatile long spin;

	for (int i = 0; i < 3; i++)
		before[i] = count[i];
	/* User time, for ITIMER_VIRTUAL: the clock read is a system call. */
	while (cpu_ns() < end)
		for (spin = 0; spin < 200000; spin++)
			;
	msleep(100);
}

static const char *check(void)
{
	for (int i = 0; i < 3; i++) {
		struct itimerval it;

		if (getitimer(timers[i].which, &it))
			return timers[i].name;
		if (it.it_interval.tv_sec != interval[i].tv_sec ||
		    it.it_interval.tv_usec != interval[i].tv_usec)
			return zdtm_why("%s interval is %ld.%06ld s, was %ld.%06ld s", timers[i].name,
					(long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec,
					(long)interval[i].tv_sec, (long)interval[i].tv_usec);
		if (count[i] == before[i])
			return zdtm_why("%s did not fire in a round (%ld signals so far)", timers[i].name,
					count[i]);
	}
	return NULL;
}
