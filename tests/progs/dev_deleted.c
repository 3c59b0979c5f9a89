/* dev_deleted: fd 3 is a copy of /dev/null (mknod), opened for writing,
 * whose node was then deleted. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "held.h"

static int setup(const char *node)
{
	if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) || open(node, O_WRONLY) != 3)
		return -1;
	return unlink(node);
}

static const char *check(void)
{
	struct stat st;

	if (fstat(3, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return "fd 3 is no longer /dev/null's device";
	return write(3, "x", 1) == 1 ? NULL : "writing to fd 3 failed";
}
