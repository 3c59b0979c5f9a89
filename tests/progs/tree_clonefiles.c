/* tree_clonefiles: a child made with clone(CLONE_FILES) and no thread
 * flags: parent and child share one fd table (a descriptor one opens,
 * the other has).  pfrez refuses the tree by name: restored apart, each
 * would have a table of its own.  Each round the parent opens and closes
 * an fd (in the table both have). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>

#define KIND "tree_clonefiles"
#include "zdtm.h"

static char stack[64 * 1024] __attribute__((aligned(16)));

static int child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		msleep(20);
	return 0;
}

static const char *setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (clone(child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL) < 0)
		return "clone CLONE_FILES";
	return NULL;
}

static const char *check(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return "open /dev/null";
	close(fd);
	return NULL;
}
