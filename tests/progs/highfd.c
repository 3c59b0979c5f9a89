/* highfd: holds /dev/null at fd 5000, above the usual `ulimit -n 1024`,
 * and then lowers its own soft RLIMIT_NOFILE to 1024 (the fd stays, as
 * after a setrlimit in a real program).  Prints "count N" every 50 ms
 * after checking that fd 5000 is still /dev/null and the soft limit is
 * still 1024. */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "say.h"

#define HIGH 5000

int main(void)
{
	struct rlimit rl;
	struct stat st;
	int fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_max <= HIGH) {
		say("FAIL the hard RLIMIT_NOFILE is below %d\n", HIGH + 1);
		return 2;
	}
	rl.rlim_cur = HIGH + 1;
	fd = open("/dev/null", O_WRONLY);
	if (setrlimit(RLIMIT_NOFILE, &rl) || fd < 0 || dup2(fd, HIGH) != HIGH || close(fd)) {
		say("FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	rl.rlim_cur = 1024;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		say("FAIL setrlimit: %s\n", strerror(errno));
		return 1;
	}
	for (long n = 0;; n++) {
		if (fstat(HIGH, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
			say("FAIL count %ld: fd %d is not /dev/null\n", n, HIGH);
			return 1;
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur != 1024) {
			say("FAIL count %ld: soft RLIMIT_NOFILE is %llu, not 1024\n", n,
			    (unsigned long long)rl.rlim_cur);
			return 1;
		}
		say("count %ld\n", n);
		msleep(50);
	}
}
