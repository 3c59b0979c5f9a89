/* pipe_fd3: holds on fd 3 a pipe it inherited from its parent (the
 * harness's reader at the other end) and writes a line to it each round,
 * checking it is still that pipe. */
#include <sys/stat.h>

#define KIND "pipe_fd3"
#include "zdtm.h"

static struct stat pipe_st;

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (fstat(3, &pipe_st))
		return "fd 3 (run it with a pipe on fd 3)";
	if (!S_ISFIFO(pipe_st.st_mode)) {
		errno = EINVAL;
		return "fd 3 is not a pipe";
	}
	return NULL;
}

static const char *check(void)
{
	static long n;
	struct stat st;

	if (fstat(3, &st) || !S_ISFIFO(st.st_mode) || st.st_ino != pipe_st.st_ino)
		return "fd 3 is no longer the inherited pipe";
	if (dprintf(3, "pipe line %ld\n", ++n) < 0)
		return zdtm_why("write to fd 3: %s", strerror(errno));
	return NULL;
}
