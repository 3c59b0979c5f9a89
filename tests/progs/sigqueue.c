/* sigqueue: signals queued and never delivered (the siginfo kind).
 * SIGUSR2 and SIGRTMIN+2 are blocked; SIGUSR2 is sent once and stays
 * pending, and three SIGRTMIN+2 carry the values N, N+1, N+2.  Each
 * round SIGUSR2 must still be pending, and the oldest SIGRTMIN+2 is
 * taken with sigtimedwait: it must carry the next value, sent with
 * sigqueue; one with the value after the last is queued again.  A lost
 * queue, a lost value or a changed order is seen in the round after the
 * restore. */
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define KIND "sigqueue"
#include "zdtm.h"

#define QUEUED 3

static int rtsig;
static long next;	/* the value of the oldest SIGRTMIN+2 queued */

static int queue(long value)
{
	return sigqueue(getpid(), rtsig, (union sigval){ .sival_ptr = (void *)value });
}

static const char *setup(int argc, char **argv)
{
	sigset_t set;

	(void)argc;
	(void)argv;
	rtsig = SIGRTMIN + 2;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, rtsig);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return "sigprocmask";
	if (kill(getpid(), SIGUSR2))
		return "kill SIGUSR2";
	next = 1000;
	for (int i = 0; i < QUEUED; i++)
		if (queue(next + i))
			return "sigqueue";
	return NULL;
}

static const char *check(void)
{
	const struct timespec now = { 0, 0 };
	sigset_t set, pending;
	siginfo_t si;

	if (sigpending(&pending))
		return zdtm_why("sigpending: %s", strerror(errno));
	if (!sigismember(&pending, SIGUSR2))
		return "SIGUSR2 is no longer pending";
	if (!sigismember(&pending, rtsig))
		return "no SIGRTMIN+2 is pending: the queue is lost";
	sigemptyset(&set);
	sigaddset(&set, rtsig);
	if (sigtimedwait(&set, &si, &now) != rtsig)
		return zdtm_why("sigtimedwait: %s", strerror(errno));
	if (si.si_code != SI_QUEUE)
		return zdtm_why("SIGRTMIN+2 came with si_code %d, not SI_QUEUE", si.si_code);
	if ((long)si.si_value.sival_ptr != next)
		return zdtm_why("SIGRTMIN+2 carried %ld, the next queued was %ld",
				(long)si.si_value.sival_ptr, next);
	if (queue(next + QUEUED))
		return zdtm_why("sigqueue: %s", strerror(errno));
	next++;
	return NULL;
}
