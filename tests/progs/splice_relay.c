/* splice_relay: a pipe's reader that holds what it reads by reference, as
 * a proxy or pv(1) moving data with splice(2) does.
 *	splice_relay MIB
 * moves the first MIB MiB of its stdin (a pipe) into pipes of its own with
 * splice, which takes the pages themselves rather than a copy, and only
 * then passes everything on to its stdout.  A writer that vmsplices its
 * buffers into the pipe and writes into them again while they wait here
 * changes what comes out.  Exit status 1 on an error (said on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int relay(int from, int to)
{
	for (;;) {
		ssize_t n = splice(from, NULL, to, NULL, 1 << 20, 0);

		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			perror("splice_relay: splice");
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 16, eof = 0;
	int (*p)[2] = calloc(n > 0 ? (size_t)n : 1, sizeof(*p));

	if (!p || n <= 0) {
		fprintf(stderr, "usage: splice_relay MIB\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		if (pipe(p[i]) < 0) {
			perror("splice_relay: pipe");
			return 1;
		}
		fcntl(p[i][1], F_SETPIPE_SZ, 1 << 20);
	}
	/* Non-blocking: EAGAIN with input waiting means this pipe is full. */
	for (int i = 0; i < n && !eof;) {
		struct pollfd in = { .fd = 0, .events = POLLIN };
		ssize_t got;

		if (poll(&in, 1, -1) < 0 && errno != EINTR) {
			perror("splice_relay: poll");
			return 1;
		}
		got = splice(0, NULL, p[i][1], NULL, 1 << 20, SPLICE_F_NONBLOCK);
		if (got == 0)
			eof = 1;
		else if (got < 0 && errno == EAGAIN && (in.revents & POLLIN))
			i++;
		else if (got < 0 && errno != EAGAIN && errno != EINTR) {
			perror("splice_relay: splice");
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		close(p[i][1]);
		if (relay(p[i][0], 1))
			return 1;
	}
	return eof ? 0 : relay(0, 1);
}
