/* tree_stopped: a child stopped by SIGSTOP stays stopped (state T), the
 * child of this process; at the end it is continued and must still be
 * alive to exit with its status.
 *
 * tree_stopped killed: for a tracer killed while it held the tree.  The
 * kernel then lets all its tracees go at once (exit_ptrace), and one that
 * was in a group stop is woken to stop again by itself (__ptrace_unlink):
 * until it next runs, which under load can be after this process's next
 * round, it shows as 'R' without running any code of its own.  A pfrez
 * that ends normally waits for it (capture_release); a killed one cannot.
 * So here a state other than 'T' must settle back to 'T' within 2 s.
 *
 * tree_stopped fast: rounds every millisecond, for a capture of this
 * process's parent: this one, inside the tree, must not be let go before
 * its child is stopped again (pfrez's capture_release). */
#include <sys/wait.h>

#define KIND "tree_stopped"
#define ZDTM_ROUND
#include "zdtm.h"
#include "tree.h"

static pid_t child;
static long round_no;
static int killed, period = ZDTM_PERIOD;

static void stop_self(void)
{
	raise(SIGSTOP);
	/* Continued: the end. */
	_exit(7);
}

static const char *setup(int argc, char **argv)
{
	int st;

	killed = argc > 1 && strcmp(argv[1], "killed") == 0;
	if (argc > 1 && strcmp(argv[1], "fast") == 0)
		period = 1;
	child = tree_child(stop_self, -1);
	if (child < 0 || waitpid(child, &st, WUNTRACED) != child || !WIFSTOPPED(st))
		return "a stopped child";
	return NULL;
}

static void between_rounds(void)
{
	msleep(period);
}

static const char *check(void)
{
	struct tree_stat st;
	int s;

	for (int ms = 0; killed && ms < 2000; ms++) {
		if (tree_stat(child, &st) || st.state == 'T')
			break;
		if (ms == 0)
			say(KIND " child %d: state %c, let go by a killed tracer?\n", child, st.state);
		msleep(1);
	}
	if (tree_stat(child, &st) || st.state != 'T' || st.ppid != getpid())
		return zdtm_why("child %d: state %c, parent %d, not a stopped child of %d", child,
				st.state ? st.state : '-', st.ppid, getpid());
	/* Late (after any capture), once: it goes on and ends with 7. */
	if (++round_no == 2000 / period) {
		kill(child, SIGCONT);
		if (waitpid(child, &s, 0) != child || !WIFEXITED(s) || WEXITSTATUS(s) != 7)
			return zdtm_why("child %d: continued, it did not exit 7 (status 0x%x)", child, s);
		child = tree_child(stop_self, -1);
		if (waitpid(child, &s, WUNTRACED) != child || !WIFSTOPPED(s))
			return "a new stopped child";
		say(KIND " continued\n");
	}
	return NULL;
}
