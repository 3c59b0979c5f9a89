/* tree_reaper: a double fork and a chain.  This process is a child
 * subreaper: its child X made Y and exited (reaped here), so Y is this
 * process's child now; P made Q, three levels.  Each keeps its parent. */
#include <sys/prctl.h>
#include <sys/wait.h>

#define KIND "tree_reaper"
#include "zdtm.h"
#include "tree.h"

static pid_t y, p, q;
static int pipefd[2];

static void make_and_tell(void)
{
	pid_t k = tree_child(NULL, -1);

	if (write(pipefd[1], &k, sizeof(k)) != sizeof(k))
		_exit(1);
	close(pipefd[1]);
}

static void make_and_leave(void)
{
	make_and_tell();
	_exit(3);
}

static const char *setup(int argc, char **argv)
{
	pid_t x;
	int st;

	(void)argc, (void)argv;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || pipe(pipefd))
		return "subreaper";
	x = fork();
	if (x == 0) {
		close(pipefd[0]);
		make_and_leave();
	}
	if (read(pipefd[0], &y, sizeof(y)) != sizeof(y) || waitpid(x, &st, 0) != x || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 3)
		return "the double fork";
	p = tree_child(make_and_tell, pipefd[1]);
	if (read(pipefd[0], &q, sizeof(q)) != sizeof(q))
		return "the chain";
	close(pipefd[0]);
	close(pipefd[1]);
	return NULL;
}

static const char *parent_is(pid_t pid, int ppid)
{
	struct tree_stat st;

	if (tree_stat(pid, &st) || st.state == 'Z' || st.ppid != ppid)
		return zdtm_why("process %d: state %c parent %d, not %d", pid, st.state ? st.state : '-',
				st.ppid, ppid);
	return NULL;
}

static const char *check(void)
{
	const char *why;

	if ((why = parent_is(y, getpid())) || (why = parent_is(p, getpid())) || (why = parent_is(q, p)))
		return why;
	return NULL;
}
