/* tree_zombie: two children that ended and are not reaped: one exited
 * with status 42, one was killed by SIGTERM, each under a name of its
 * own.  Each must still be there as a zombie, its status readable (waitid
 * WNOWAIT) and its name shown in /proc/PID/comm, until the end. */
#include <sys/prctl.h>
#include <sys/wait.h>

#define KIND "tree_zombie"
#include "zdtm.h"
#include "tree.h"

static pid_t exited, killed;

/* /proc/PID/comm without its newline ("" if unreadable). */
static void comm_of(pid_t pid, char *comm, size_t len)
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if ((f = fopen(path, "re"))) {
		if (!fgets(comm, (int)len, f))
			comm[0] = '\0';
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = '\0';
}

static void name_killed(void)
{
	prctl(PR_SET_NAME, "tz_killed");
}

static const char *setup(int argc, char **argv)
{
	siginfo_t si;

	(void)argc, (void)argv;
	exited = fork();
	if (exited == 0) {
		prctl(PR_SET_NAME, "tz_exited");
		_exit(42);
	}
	killed = tree_child(name_killed, -1);
	if (exited < 0 || killed < 0)
		return "fork";
	/* Named before it is killed. */
	for (int i = 0; i < 5000; i++) {
		char comm[32];

		comm_of(killed, comm, sizeof(comm));
		if (strcmp(comm, "tz_killed") == 0)
			break;
		usleep(1000);
	}
	kill(killed, SIGTERM);
	/* Both ended before the first round: seen, not reaped. */
	if (waitid(P_PID, exited, &si, WEXITED | WNOWAIT) || waitid(P_PID, killed, &si, WEXITED | WNOWAIT))
		return "waitid";
	return NULL;
}

static const char *zombie(pid_t pid, int code, int status, const char *name)
{
	struct tree_stat st;
	siginfo_t si = { 0 };
	char comm[32];

	if (tree_stat(pid, &st) || st.state != 'Z' || st.ppid != getpid())
		return zdtm_why("child %d: state %c, parent %d, not a zombie child of %d", pid,
				st.state ? st.state : '-', st.ppid, getpid());
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT | WNOHANG))
		return zdtm_why("child %d: waitid: %s", pid, strerror(errno));
	if (si.si_pid != pid || si.si_code != code || si.si_status != status)
		return zdtm_why("child %d: waitid says code %d status %d, not %d %d", pid, si.si_code,
				si.si_status, code, status);
	comm_of(pid, comm, sizeof(comm));
	if (strcmp(comm, name) != 0)
		return zdtm_why("child %d: named \"%s\", not \"%s\"", pid, comm, name);
	return NULL;
}

static const char *check(void)
{
	const char *why = zombie(exited, CLD_EXITED, 42, "tz_exited");

	return why ? why : zombie(killed, CLD_KILLED, SIGTERM, "tz_killed");
}
