/* proc_self: fd 3 is /proc/self/status (which the kernel names
 * /proc/PID/status), fd 4 the directory /proc/self.  Both must name the
 * process itself, also after a restore: the Pid line read through fd 3
 * equals the one of a fresh open of /proc/self/status. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "held.h"

static long pid_in(int fd)
{
	char buf[4096], *p;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nPid:");
	return p ? strtol(p + 5, NULL, 10) : -1;
}

static int setup(const char *unused)
{
	(void)unused;
	if (open("/proc/self/status", O_RDONLY) != 3 || open("/proc/self", O_RDONLY | O_DIRECTORY) != 4)
		return -1;
	return 0;
}

static const char *check(void)
{
	int fd = open("/proc/self/status", O_RDONLY), d;
	long want = pid_in(fd), got = pid_in(3), viadir;

	close(fd);
	d = openat(4, "status", O_RDONLY);
	viadir = pid_in(d);
	close(d);
	if (want < 0 || got != want)
		return "fd 3 does not read this process's status";
	return viadir != want ? "fd 4 is not this process's /proc directory" : NULL;
}
