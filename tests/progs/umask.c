/* umask: umask 027, checked on the Umask line of /proc/self/status and
 * on the mode of a file created each round. */
#include <fcntl.h>
#include <sys/stat.h>

#define KIND "umask"
#include "zdtm.h"

static char path[4096];

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: umask PATH";
	}
	snprintf(path, sizeof(path), "%s", argv[1]);
	umask(027);
	return NULL;
}

static const char *check(void)
{
	char buf[32];
	struct stat st;
	int fd;

	if (!zdtm_status("Umask", buf, sizeof(buf)) || strcmp(buf, "0027"))
		return zdtm_why("Umask is %s, was 0027", buf);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0777);
	if (fd < 0 || fstat(fd, &st))
		return zdtm_why("create %s: %s", path, strerror(errno));
	close(fd);
	if ((st.st_mode & 0777) != 0750)
		return zdtm_why("a new file with mode 0777 got %03o, not 0750", st.st_mode & 0777);
	return NULL;
}
