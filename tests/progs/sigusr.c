/* sigusr: counts SIGUSR1 deliveries in a handler installed with
 * sigaction, and prints "sig N count C" every 50 ms.  Each round it checks
 * that the handler, its flags and mask, and the blocked mask (SIGUSR2) are
 * still what it set.  Writes its pid to argv[1] if given. */
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "say.h"

static volatile sig_atomic_t count;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	count++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 }, set;
	sigset_t block;

	sa.sa_sigaction = on_usr1;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR1, NULL, &set) ||
	    sigprocmask(SIG_BLOCK, &block, NULL)) {
		say("FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	if (argc > 1) {
		char buf[32];
		int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int len = snprintf(buf, sizeof(buf), "%d\n", getpid());

		if (fd < 0 || write(fd, buf, len) != len || close(fd)) {
			say("FAIL writing %s: %s\n", argv[1], strerror(errno));
			return 1;
		}
	}

	for (long n = 0;; n++) {
		struct sigaction now;
		sigset_t mask;

		if (sigaction(SIGUSR1, NULL, &now) || sigprocmask(SIG_BLOCK, NULL, &mask)) {
			say("FAIL round %ld: %s\n", n, strerror(errno));
			return 1;
		}
		if (now.sa_sigaction != on_usr1 || now.sa_flags != set.sa_flags ||
		    !sigismember(&now.sa_mask, SIGHUP)) {
			say("FAIL round %ld: SIGUSR1 action is %p flags %#x, set %p flags %#x\n",
			    n, (void *)now.sa_sigaction, now.sa_flags, (void *)on_usr1, set.sa_flags);
			return 1;
		}
		if (!sigismember(&mask, SIGUSR2) || sigismember(&mask, SIGUSR1)) {
			say("FAIL round %ld: blocked mask lost SIGUSR2 or gained SIGUSR1\n", n);
			return 1;
		}
		say("sig %ld count %d\n", n, (int)count);
		msleep(50);
	}
}
