/* sock_listen: sockets that hold no connection, each checked every round
 * (the TCP listeners by a connection of their own every 4th): a TCP listener on 127.0.0.1 (SO_REUSEADDR, SO_KEEPALIVE,
 * TCP_NODELAY, SO_RCVBUF set, backlog 7) that accepts a connection of its
 * own, an IPv6-only listener on ::1, a UDP socket bound and connected to
 * itself, and a TCP socket never connected (TCP_NODELAY).  The ports the
 * kernel chose at the start must be the ports after a restore.
 *
 * A second listener, "queue", accepts only on SIGUSR1, once: it writes
 * "hello N" to what it accepted (a test's client, waiting in the accept
 * queue across a capture).  Its port is printed at the start:
 * "sock_listen queue port P". */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>

#define KIND "sock_listen"
#include "zdtm.h"

static int l4, l6, udp, fresh, queue;
static int have6;
static unsigned short port4, port6, portu, portq;
static volatile sig_atomic_t want_accept;
static long round_no;

static void on_usr1(int sig)
{
	(void)sig;
	want_accept = 1;
}

static unsigned short port_of(int s)
{
	struct sockaddr_in6 a;
	socklen_t l = sizeof(a);

	if (getsockname(s, (struct sockaddr *)&a, &l) < 0)
		return 0;
	return ntohs(a.sin6_port);	/* same place in sockaddr_in */
}

static int opt(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	getsockopt(s, level, name, &v, &l);
	return v;
}

static int listen4(int backlog)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, backlog) < 0)
		return -1;
	return s;
}

static const char *setup(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int one = 1, buf = 32768;

	(void)argc;
	(void)argv;
	signal(SIGUSR1, on_usr1);
	l4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l4 < 0 || setsockopt(l4, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(l4, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(l4, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(l4, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf)) ||
	    bind(l4, (struct sockaddr *)&a, sizeof(a)) || listen(l4, 7))
		return "tcp listener";
	port4 = port_of(l4);
	l6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l6 >= 0 && !setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) &&
	    !bind(l6, (struct sockaddr *)&a6, sizeof(a6)) && !listen(l6, 3)) {
		have6 = 1;
		port6 = port_of(l6);
	} else if (l6 >= 0) {
		close(l6);	/* no IPv6 loopback here */
	}
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (udp < 0 || bind(udp, (struct sockaddr *)&a, sizeof(a)))
		return "udp socket";
	portu = port_of(udp);
	a.sin_port = htons(portu);
	if (connect(udp, (struct sockaddr *)&a, sizeof(a)))
		return "udp connect";
	fresh = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fresh < 0 || setsockopt(fresh, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return "unconnected tcp socket";
	queue = listen4(4);
	if (queue < 0)
		return "queue listener";
	portq = port_of(queue);
	say(KIND " queue port %u\n", portq);
	return NULL;
}

/* Connects to the listener on port, accepts it, and passes a byte. */
static const char *use_listener(int l, int family, unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons(port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT,
				   .sin6_port = htons(port) };
	int c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), s;
	char b = 0;

	if (c < 0)
		return zdtm_why("socket: %s", strerror(errno));
	if (family == AF_INET ? connect(c, (struct sockaddr *)&a, sizeof(a)) :
	    connect(c, (struct sockaddr *)&a6, sizeof(a6))) {
		close(c);
		return zdtm_why("connect to its own listener on port %u: %s", port, strerror(errno));
	}
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || write(c, "x", 1) != 1 || read(s, &b, 1) != 1 || b != 'x') {
		close(c);
		return zdtm_why("accept on port %u: %s", port, strerror(errno));
	}
	/* The client closes first: TIME_WAIT stays on its side, not on
	 * the listener's port (which a restore binds again). */
	close(c);
	close(s);
	return NULL;
}

static const char *check(void)
{
	const char *why;
	char b[16];

	round_no++;
	if (port_of(l4) != port4 || port_of(udp) != portu || port_of(queue) != portq ||
	    (have6 && port_of(l6) != port6))
		return zdtm_why("ports %u %u %u now, were %u %u %u", port_of(l4), port_of(udp),
				port_of(queue), port4, portu, portq);
	if (opt(l4, SOL_SOCKET, SO_ACCEPTCONN) != 1 || opt(queue, SOL_SOCKET, SO_ACCEPTCONN) != 1)
		return "a listener no longer listens";
	if (opt(l4, SOL_SOCKET, SO_REUSEADDR) != 1 || opt(l4, SOL_SOCKET, SO_KEEPALIVE) != 1 ||
	    opt(l4, IPPROTO_TCP, TCP_NODELAY) != 1 || opt(l4, SOL_SOCKET, SO_RCVBUF) != 2 * 32768)
		return zdtm_why("listener options: reuseaddr %d keepalive %d nodelay %d rcvbuf %d",
				opt(l4, SOL_SOCKET, SO_REUSEADDR), opt(l4, SOL_SOCKET, SO_KEEPALIVE),
				opt(l4, IPPROTO_TCP, TCP_NODELAY), opt(l4, SOL_SOCKET, SO_RCVBUF));
	if (opt(fresh, IPPROTO_TCP, TCP_NODELAY) != 1 || port_of(fresh) != 0)
		return "the unconnected socket changed";
	if (have6 && opt(l6, IPPROTO_IPV6, IPV6_V6ONLY) != 1)
		return "IPV6_V6ONLY is off";
	/* A connection of its own, established for a moment, is what a
	 * clone refuses: every 4th round only, so that captures rarely land
	 * on one (under the watch before a copy-on-write hold, each of its
	 * calls takes tens of microseconds). */
	if (round_no % 4 == 1 &&
	    ((why = use_listener(l4, AF_INET, port4)) || (have6 && (why = use_listener(l6, AF_INET6, port6)))))
		return why;
	if (send(udp, "u", 1, 0) != 1 || recv(udp, b, sizeof(b), 0) != 1 || b[0] != 'u')
		return zdtm_why("udp to itself on port %u: %s", portu, strerror(errno));
	if (want_accept) {
		int s = accept4(queue, NULL, NULL, SOCK_CLOEXEC);
		int n;

		want_accept = 0;
		if (s < 0)
			return zdtm_why("accept on the queue listener: %s", strerror(errno));
		n = snprintf(b, sizeof(b), "hello %ld\n", round_no);
		if (write(s, b, (size_t)n) != n)
			return zdtm_why("write to the accepted client: %s", strerror(errno));
		close(s);
	}
	return NULL;
}
