/* tree_zombie: two children that ended and are not reaped: one exited
 * with status 42, one was killed by SIGTERM.  Each must still be there as
 * a zombie, its status readable (waitid WNOWAIT), until the end. */
#include <sys/wait.h>

#define KIND "tree_zombie"
#include "zdtm.h"
#include "tree.h"

static pid_t exited, killed;

static const char *setup(int argc, char **argv)
{
	siginfo_t si;

	(void)argc, (void)argv;
	exited = fork();
	if (exited == 0)
		_exit(42);
	killed = tree_child(NULL, -1);
	if (exited < 0 || killed < 0)
		return "fork";
	kill(killed, SIGTERM);
	/* Both ended before the first round: seen, not reaped. */
	if (waitid(P_PID, exited, &si, WEXITED | WNOWAIT) || waitid(P_PID, killed, &si, WEXITED | WNOWAIT))
		return "waitid";
	return NULL;
}

static const char *zombie(pid_t pid, int code, int status)
{
	struct tree_stat st;
	siginfo_t si = { 0 };

	if (tree_stat(pid, &st) || st.state != 'Z' || st.ppid != getpid())
		return zdtm_why("child %d: state %c, parent %d, not a zombie child of %d", pid,
				st.state ? st.state : '-', st.ppid, getpid());
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT | WNOHANG))
		return zdtm_why("child %d: waitid: %s", pid, strerror(errno));
	if (si.si_pid != pid || si.si_code != code || si.si_status != status)
		return zdtm_why("child %d: waitid says code %d status %d, not %d %d", pid, si.si_code,
				si.si_status, code, status);
	return NULL;
}

static const char *check(void)
{
	const char *why = zombie(exited, CLD_EXITED, 42);

	return why ? why : zombie(killed, CLD_KILLED, SIGTERM);
}
