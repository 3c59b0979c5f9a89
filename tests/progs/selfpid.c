/* selfpid: a counter that also says who it thinks it is.  Prints "count N
 * pid P stat S uid U" every 50 ms, where P is getpid(), S the pid that
 * /proc/self/stat gives and U getuid(); "FAIL ..." when /proc/self/stat
 * disagrees with getpid(), or getpid() or getuid() change.  It keeps
 * /proc/loadavg open and reads it each round: a restore in a PID
 * namespace reopens it from another mount of /proc. */
#include <fcntl.h>
#include <stdlib.h>

#include "say.h"

/* The first field of /proc/self/stat: the pid as the /proc mounted here
 * sees this process (the host's /proc in a PID namespace would not). */
static long stat_pid(void)
{
	char buf[64];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atol(buf);
}

int main(void)
{
	pid_t pid = getpid();
	uid_t uid = getuid();
	int load = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	char buf[128];

	for (long n = 0;; n++) {
		pid_t p = getpid();
		long s = stat_pid();

		if (p != pid)
			say("FAIL pid changed from %d to %d\n", pid, p);
		if (s != p)
			say("FAIL /proc/self/stat says pid %ld, getpid() %d\n", s, p);
		if (load < 0 || pread(load, buf, sizeof(buf), 0) <= 0)
			say("FAIL /proc/loadavg (fd %d) cannot be read\n", load);
		if (getuid() != uid)
			say("FAIL uid changed from %u to %u\n", uid, getuid());
		say("count %ld pid %d stat %ld uid %u\n", n, p, s, getuid());
		msleep(50);
	}
}
