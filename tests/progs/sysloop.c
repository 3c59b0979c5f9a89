/* sysloop: a syscall-heavy loop for the supervisor benchmark.
 *	sysloop [BATCH [seccomp]]
 * Forever: BATCH (default 1,000,000) getppid() calls, then BATCH one-byte
 * read()s of /dev/zero, printing after each batch "getppid NS" or
 * "read NS", the mean nanoseconds per call.  (A smaller BATCH suits a
 * run under strace, where every call costs microseconds.)  With
 * "seccomp", it first installs a filter that allows everything: what any
 * seccomp filter costs each system call, the floor under pthaw's PID
 * remapping. */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "say.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long batch = argc > 1 && atol(argv[1]) > 0 ? atol(argv[1]) : 1000000;
	int fd = open("/dev/zero", O_RDONLY);
	char buf[1];

	if (argc > 2 && strcmp(argv[2], "seccomp") == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { 1, &allow };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
			say("FAIL seccomp: %s\n", strerror(errno));
			return 1;
		}
	}
	if (fd < 0) {
		say("FAIL open /dev/zero: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		double t0 = now_ns();

		for (int i = 0; i < batch; i++)
			getppid();
		say("getppid %.1f\n", (now_ns() - t0) / batch);
		t0 = now_ns();
		for (int i = 0; i < batch; i++)
			if (read(fd, buf, 1) != 1)
				say("FAIL read: %s\n", strerror(errno));
		say("read %.1f\n", (now_ns() - t0) / batch);
	}
}
