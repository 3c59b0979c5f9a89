/* thread_sig: signals and threads.  Three threads, each with its own
 * mask: A blocks SIGUSR1 and has one SIGUSR1 pending for itself alone
 * (sent with pthread_kill at the start), B blocks SIGUSR2, C blocks
 * nothing.  Each round the main thread (which blocks both) sends SIGUSR2
 * to C with pthread_kill (glibc uses its cached tid of C: tgkill) and
 * checks the handler ran in C, by C's tid; A and B check their own masks
 * and what is pending for them; every thread's gettid() is what it was. */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

#define KIND "thread_sig"
#include "zdtm.h"

enum { A, B, C, N };
static pthread_t th[N];
static volatile pid_t tids[N];
static volatile pid_t handler_tid;
static volatile long handled;
static const char *volatile broken;

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static void on_sig(int sig)
{
	(void)sig;
	handler_tid = tid();
	handled++;
}

static void *thread(void *arg)
{
	long me = (long)arg;
	sigset_t want, got, pend;

	sigemptyset(&want);
	if (me == A)
		sigaddset(&want, SIGUSR1);
	if (me == B)
		sigaddset(&want, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &want, NULL);
	tids[me] = tid();
	for (;;) {
		msleep(20);
		pthread_sigmask(SIG_SETMASK, NULL, &got);
		for (int s = 1; s < 32; s++)
			if (sigismember(&got, s) != sigismember(&want, s))
				broken = zdtm_why("thread %c: signal %d %sblocked", "ABC"[me], s,
						  sigismember(&got, s) ? "" : "not ");
		if (tid() != tids[me])
			broken = zdtm_why("thread %c: gettid() %d, was %d", "ABC"[me], tid(), tids[me]);
		sigpending(&pend);
		if (me == A && tids[C] && !sigismember(&pend, SIGUSR1))
			broken = "thread A: its own pending SIGUSR1 is gone";
		if (me == B && sigismember(&pend, SIGUSR1))
			broken = "thread B: A's SIGUSR1 is pending for B";
	}
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };
	sigset_t both;

	(void)argc, (void)argv;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &both, NULL);
	for (long i = 0; i < N; i++)
		if (pthread_create(&th[i], NULL, thread, (void *)i))
			return "pthread_create";
	while (!tids[A] || !tids[B] || !tids[C])
		msleep(1);
	if (pthread_kill(th[A], SIGUSR1))
		return "pthread_kill";
	return NULL;
}

static const char *check(void)
{
	long before = handled;

	if (broken)
		return broken;
	if (pthread_kill(th[C], SIGUSR2))
		return "pthread_kill of thread C failed";
	for (int ms = 0; ms < 3000 && handled == before; ms++)
		msleep(1);
	if (handled == before)
		return "SIGUSR2 sent to thread C was not handled within 3 s";
	if (handler_tid != tids[C])
		return zdtm_why("SIGUSR2 sent to thread C (tid %d) was handled by tid %d", tids[C],
				handler_tid);
	return NULL;
}
