/* sysloop: a syscall-heavy loop for the supervisor benchmark.
 *	sysloop [BATCH]
 * Forever: BATCH (default 1,000,000) getppid() calls, then BATCH one-byte
 * read()s of /dev/zero, printing after each batch "getppid NS" or
 * "read NS", the mean nanoseconds per call.  (A smaller BATCH suits a
 * run under strace, where every call costs microseconds.) */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

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
