/* getpid: the thesis's pid test.  Prints "pid P ppid Q" at start, then
 * "pid changed from A to B" (likewise tid, ppid) whenever getpid(),
 * gettid() or getppid() change, and "tick N pid P sigs C" every 50 ms.
 * Each tick it signals itself with kill(getpid()), raise() (which glibc
 * sends with the thread id it cached) and tgkill(getpid(), gettid()): each
 * must arrive here, and no other SIGUSR1 may. */
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "say.h"

static volatile sig_atomic_t sigs;

static void on_usr1(int sig)
{
	(void)sig;
	sigs++;
}

static int sent(const char *how, int rc, long n, int want)
{
	if (rc != 0)
		say("FAIL tick %ld: %s: %s\n", n, how, strerror(errno));
	else if (sigs != want)
		say("FAIL tick %ld: %s: %d signals arrived, expected %d\n", n, how,
		    (int)sigs, want);
	else
		return 0;
	return -1;
}

int main(void)
{
	struct sigaction sa = { 0 };
	pid_t pid = getpid(), tid = gettid(), ppid = getppid();
	int want = 0;

	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		say("FAIL sigaction: %s\n", strerror(errno));
		return 1;
	}
	say("pid %d ppid %d\n", pid, ppid);

	for (long n = 0;; n++) {
		pid_t p = getpid(), t = gettid(), pp = getppid();

		if (p != pid)
			say("pid changed from %d to %d\n", pid, p);
		if (t != tid)
			say("tid changed from %d to %d\n", tid, t);
		if (pp != ppid)
			say("ppid changed from %d to %d\n", ppid, pp);
		pid = p, tid = t, ppid = pp;

		if (sigs != want) {
			say("FAIL tick %ld: %d SIGUSR1 arrived, sent %d\n", n, (int)sigs, want);
			return 1;
		}
		if (sent("kill(getpid())", kill(getpid(), SIGUSR1), n, ++want) ||
		    sent("raise()", raise(SIGUSR1), n, ++want) ||
		    sent("tgkill(getpid(), gettid())",
			 syscall(SYS_tgkill, getpid(), gettid(), SIGUSR1), n, ++want))
			return 1;
		say("tick %ld pid %d sigs %d\n", n, p, (int)sigs);
		msleep(50);
	}
}
