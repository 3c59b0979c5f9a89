/* cwd_deleted: the working directory was removed. */
#include <sys/stat.h>

#include "held.h"

static struct stat was;

static int setup(const char *dir)
{
	if (mkdir(dir, 0755) || chdir(dir) || stat(".", &was))
		return -1;
	return rmdir(dir);
}

static const char *check(void)
{
	struct stat st;

	return stat(".", &st) || st.st_ino != was.st_ino ? "the working directory changed" : NULL;
}
