/* tree_groups: children in other process groups and sessions: A leads a
 * group of its own, B leads a session of its own with its child C leading
 * a group in it, D joins A's group.  Each keeps its place and its parent. */
#include <sys/wait.h>

#define KIND "tree_groups"
#include "zdtm.h"
#include "tree.h"

static pid_t a, b, c, d;
static int pipefd[2];

static void in_session(void)
{
	pid_t k;

	setsid();
	k = tree_child(NULL, -1);
	if (k > 0)
		setpgid(k, k);
	/* Tell the parent C's pid. */
	if (write(pipefd[1], &k, sizeof(k)) != sizeof(k))
		_exit(1);
	close(pipefd[1]);
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (pipe(pipefd))
		return "pipe";
	a = tree_child(NULL, -1);
	setpgid(a, a);
	b = tree_child(in_session, pipefd[1]);
	if (read(pipefd[0], &c, sizeof(c)) != sizeof(c))
		return "C's pid";
	close(pipefd[0]);
	close(pipefd[1]);
	d = tree_child(NULL, -1);
	if (setpgid(d, a))
		return "setpgid D into A's group";
	return NULL;
}

static const char *place(pid_t pid, int ppid, int pgid, int sid)
{
	struct tree_stat st;

	if (tree_stat(pid, &st) || st.state == 'Z' || st.ppid != ppid || st.pgid != pgid || st.sid != sid)
		return zdtm_why("process %d: state %c parent %d group %d session %d, not %d %d %d", pid,
				st.state ? st.state : '-', st.ppid, st.pgid, st.sid, ppid, pgid, sid);
	return NULL;
}

static const char *check(void)
{
	const char *why;
	int me = getpid(), sid = getsid(0);

	if ((why = place(a, me, a, sid)) || (why = place(b, me, b, b)) || (why = place(c, b, c, b)) ||
	    (why = place(d, me, a, sid)))
		return why;
	return NULL;
}
