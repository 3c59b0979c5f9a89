/* tcp_echo ADDR PORT: a server of one connection: listens on ADDR:PORT,
 * accepts one client, and echoes what it sends, slowly (4 KiB every 20
 * ms), so that at any moment bytes wait in both directions: received and
 * not yet read, written and not yet acknowledged.  Prints "tcp_echo ok N"
 * about ten times a second; "FAIL tcp_echo: why" and exit 1 when the
 * connection breaks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "say.h"

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int l, c, one = 1;
	long n = 0, last;
	char buf[4096];

	if (argc != 3 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		say("usage: tcp_echo ADDR PORT\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4)) {
		say("FAIL tcp_echo setup: listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
		return 2;
	}
	say("tcp_echo listening\n");
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0) {
		say("FAIL tcp_echo setup: accept: %s\n", strerror(errno));
		return 2;
	}
	say("tcp_echo ready\n");
	last = now_ms();
	for (;;) {
		struct pollfd p = { .fd = c, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 100) < 0 && errno != EINTR) {
			say("FAIL tcp_echo: poll: %s\n", strerror(errno));
			return 1;
		}
		if (p.revents) {
			r = read(c, buf, sizeof(buf));
			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0) {
				say("tcp_echo client done\n");
				close(c);
				c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
				continue;
			}
			if (r < 0) {
				say("FAIL tcp_echo: read: %s\n", strerror(errno));
				return 1;
			}
			for (ssize_t off = 0; off < r;) {
				ssize_t w = write(c, buf + off, (size_t)(r - off));

				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					say("FAIL tcp_echo: write: %s\n", strerror(errno));
					return 1;
				}
				off += w;
			}
			msleep(20);
		}
		if (now_ms() - last >= 100) {
			say("tcp_echo ok %ld\n", ++n);
			last = now_ms();
		}
	}
}
