/* cwd_dir: the working directory is DIR (made for it), checked with
 * getcwd and against the inode it had. */
#include <sys/stat.h>

#define KIND "cwd_dir"
#include "zdtm.h"

static char dir[4096];
static struct stat dir_st;

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: cwd_dir DIR";
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST)
		return "mkdir";
	if (chdir(argv[1]) || !getcwd(dir, sizeof(dir)) || stat(".", &dir_st))
		return "chdir";
	return NULL;
}

static const char *check(void)
{
	char now[4096];
	struct stat st;

	if (!getcwd(now, sizeof(now)))
		return zdtm_why("getcwd: %s", strerror(errno));
	if (strcmp(now, dir))
		return zdtm_why("the working directory is %s, was %s", now, dir);
	if (stat(".", &st) || st.st_ino != dir_st.st_ino || st.st_dev != dir_st.st_dev)
		return "the working directory is another directory of the same name";
	return NULL;
}
