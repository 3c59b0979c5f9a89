/* rmdir_open: fd 3 is a directory that was removed while open. */
#include <fcntl.h>
#include <sys/stat.h>

#include "held.h"

static int setup(const char *dir)
{
	if (mkdir(dir, 0755) || open(dir, O_RDONLY | O_DIRECTORY) != 3)
		return -1;
	return rmdir(dir);
}

static const char *check(void)
{
	struct stat st;

	return fstat(3, &st) || !S_ISDIR(st.st_mode) ? "fd 3 is no longer a directory" : NULL;
}
