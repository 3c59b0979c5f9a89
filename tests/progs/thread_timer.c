/* thread_timer: a POSIX timer aimed at one thread (SIGEV_THREAD_ID): a
 * second thread creates a periodic 20 ms timer that signals it alone;
 * its handler notes the tid it runs in.  Each round checks that the
 * timer still fires, in that thread only, and that the main thread (which
 * blocks nothing) never took it. */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#define KIND "thread_timer"
#include "zdtm.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

static volatile pid_t target, wrong;
static volatile long fired;
static const char *volatile broken;

static void on_timer(int sig)
{
	pid_t me = (pid_t)syscall(SYS_gettid);

	(void)sig;
	if (me != target)
		wrong = me;
	fired++;
}

static void *worker(void *arg)
{
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 1 };
	struct itimerspec it = { { 0, 20000000 }, { 0, 20000000 } };
	timer_t t;

	(void)arg;
	target = (pid_t)syscall(SYS_gettid);
	ev.sigev_notify_thread_id = target;
	if (timer_create(CLOCK_MONOTONIC, &ev, &t) || timer_settime(t, 0, &it, NULL)) {
		broken = "timer_create";
		return NULL;
	}
	for (;;)
		msleep(1000);
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_timer, .sa_flags = SA_RESTART };
	pthread_t t;

	(void)argc, (void)argv;
	sigaction(SIGRTMIN + 1, &sa, NULL);
	if (pthread_create(&t, NULL, worker, NULL))
		return "pthread_create";
	while (!target && !broken)
		msleep(1);
	return broken;
}

static const char *check(void)
{
	static long last, stuck;

	if (broken)
		return broken;
	if (wrong)
		return zdtm_why("the timer of thread %d fired in thread %d", target, wrong);
	if (fired == last && ++stuck > 3)	/* it fires 2 or 3 times a round */
		return zdtm_why("the thread's timer stopped firing (%ld times)", fired);
	if (fired != last)
		stuck = 0;
	last = fired;
	return NULL;
}
