/* proc_dead: fd 3 is /proc/PID of a child that has exited and was reaped. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "held.h"

static int setup(const char *unused)
{
	char path[64];
	pid_t kid = fork();

	(void)unused;
	if (kid < 0)
		return -1;
	if (kid == 0) {
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d", kid);
	if (open(path, O_RDONLY | O_DIRECTORY) != 3)
		return -1;
	kill(kid, SIGKILL);
	return waitpid(kid, NULL, 0) == kid ? 0 : -1;
}

static const char *check(void)
{
	struct stat st;

	return fstat(3, &st) || !S_ISDIR(st.st_mode) ? "fd 3 is no longer a directory" : NULL;
}
