/* sigactions: every signal a process may set (1 to 64 but SIGKILL and
 * SIGSTOP) set to an action of its own: one of two handlers or SIG_IGN,
 * or SIG_DFL with flags (SIGCHLD's SA_NOCLDSTOP among them), each with a
 * mask and flags that differ from its neighbours'.  Each round checks
 * every action is still what it set: an action read for the wrong
 * signal, or not read, shows. */
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND "sigactions"
#include "zdtm.h"

static void on_a(int sig)
{
	(void)sig;
}

static void on_b(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
}

/* What signal s is set to. */
static void want(int s, struct sigaction *sa)
{
	memset(sa, 0, sizeof(*sa));
	sigemptyset(&sa->sa_mask);
	/* A mask of its own: the signals s + 1 and s * 7 % 64 + 1. */
	if (s + 1 <= 64 && s + 1 != SIGKILL && s + 1 != SIGSTOP)
		sigaddset(&sa->sa_mask, s + 1);
	if (s * 7 % 64 + 1 != SIGKILL && s * 7 % 64 + 1 != SIGSTOP)
		sigaddset(&sa->sa_mask, s * 7 % 64 + 1);
	switch (s % 4) {
	case 0:
		sa->sa_handler = on_a;
		sa->sa_flags = SA_RESTART;
		break;
	case 1:
		sa->sa_sigaction = on_b;
		sa->sa_flags = SA_SIGINFO | (s > 32 ? SA_NODEFER : 0);
		break;
	case 2:
		sa->sa_handler = SIG_IGN;
		break;
	default:
		sa->sa_handler = SIG_DFL;
		sa->sa_flags = SA_RESTART | SA_ONSTACK;
	}
	if (s == SIGCHLD) {
		sa->sa_handler = SIG_DFL;
		sa->sa_flags = SA_NOCLDSTOP;
	}
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (int s = 1; s <= 64; s++) {
		struct sigaction sa;

		if (s == SIGKILL || s == SIGSTOP)
			continue;
		want(s, &sa);
		/* glibc keeps 32 and 33 for itself: the kernel's call. */
		if (syscall(SYS_rt_sigaction, s, &(struct {
				    void *h;
				    unsigned long flags;
				    void *restorer;
				    unsigned long mask;
			    }){ (void *)sa.sa_handler, (unsigned long)sa.sa_flags | 0x04000000, NULL,
				*(unsigned long *)&sa.sa_mask },
			    NULL, 8))
			return zdtm_why("rt_sigaction %d", s);
	}
	return NULL;
}

static const char *check(void)
{
	for (int s = 1; s <= 64; s++) {
		struct sigaction sa;
		struct {
			void *h;
			unsigned long flags;
			void *restorer;
			unsigned long mask;
		} got;

		if (s == SIGKILL || s == SIGSTOP)
			continue;
		want(s, &sa);
		if (syscall(SYS_rt_sigaction, s, NULL, &got, 8))
			return zdtm_why("rt_sigaction %d: cannot read it", s);
		if (got.h != (void *)sa.sa_handler || (got.flags & ~0x04000000ul) != (unsigned long)sa.sa_flags ||
		    got.mask != *(unsigned long *)&sa.sa_mask)
			return zdtm_why("signal %d: handler %p flags 0x%lx mask 0x%lx, set %p 0x%x 0x%lx", s,
					got.h, got.flags, got.mask, (void *)sa.sa_handler, sa.sa_flags,
					*(unsigned long *)&sa.sa_mask);
	}
	return NULL;
}
