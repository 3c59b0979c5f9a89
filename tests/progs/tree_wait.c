/* tree_wait: three children, each waiting for SIGUSR1 to exit with its
 * own status (10, 11, 12).  Late in the run (after any capture) the
 * parent sends it and wait()s for each: the statuses must be theirs. */
#include <sys/wait.h>

#define KIND "tree_wait"
#include "zdtm.h"
#include "tree.h"

#define NKIDS 3
static pid_t kids[NKIDS];
static volatile int my_status;
static long round_no;

static void on_usr1(int sig)
{
	(void)sig;
	_exit(my_status);
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < NKIDS; i++) {
		my_status = 10 + i;
		kids[i] = tree_child(NULL, -1);
		if (kids[i] < 0)
			return "fork";
	}
	return NULL;
}

static const char *check(void)
{
	int st;

	for (int i = 0; i < NKIDS; i++)
		if (kill(kids[i], 0))
			return zdtm_why("child %d is gone: %s", kids[i], strerror(errno));
	if (++round_no != 40)
		return NULL;
	for (int i = 0; i < NKIDS; i++) {
		kill(kids[i], SIGUSR1);
		if (waitpid(kids[i], &st, 0) != kids[i])
			return zdtm_why("waitpid %d: %s", kids[i], strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 10 + i)
			return zdtm_why("child %d: status 0x%x, not exit %d", kids[i], st, 10 + i);
	}
	say(KIND " reaped\n");
	/* New ones for the rounds to come. */
	return setup(0, NULL);
}
