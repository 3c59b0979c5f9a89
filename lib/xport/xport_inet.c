/* xport_inet.c: IPv4/IPv6 plumbing for the tcp and udp transports:
 * host:port specs, dialing with a timeout, binding and listening. */
#include "xport_int.h"
#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int64_t xport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t xport_deadline(int64_t timeout_ms)
{
	return timeout_ms > 0 ? xport_now_ms() + timeout_ms : 0;
}

int xport_poll(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int timeout = -1;

		if (deadline) {
			int64_t left = deadline - xport_now_ms();

			if (left <= 0)
				return 0;
			timeout = left > 3600000 ? 3600000 : (int)left;
		}
		int n = poll(&p, 1, timeout);

		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return err_sys(errno, "poll");
	}
}

static int set_timeo(int fd, int opt, int64_t ms)
{
	struct timeval tv = {
		.tv_sec = ms / 1000,
		.tv_usec = (ms % 1000) * 1000,
	};

	if (ms <= 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)) < 0)
		return err_sys(errno, "setsockopt %s",
			       opt == SO_SNDTIMEO ? "SO_SNDTIMEO" : "SO_RCVTIMEO");
	return 0;
}

int xport_sock_timeouts(int fd, const struct xport_opts *o)
{
	int rc = set_timeo(fd, SO_SNDTIMEO, o->write_timeout_ms);

	return rc ? rc : set_timeo(fd, SO_RCVTIMEO, o->read_timeout_ms);
}

int xport_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

void xport_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a, sizeof(a));
			snprintf(buf, len, "%s:%u", a, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
		}
	} else {
		snprintf(buf, len, "(address family %d)", sa->sa_family);
	}
}

static int parse_port(const char *spec, const char *s, int dial, char *port,
		      size_t portlen)
{
	unsigned long v = 0;
	const char *p;

	for (p = s; *p >= '0' && *p <= '9' && v <= 65535; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (p == s || *p || v > 65535 || (dial && v == 0))
		return err_msg(EINVAL, "%s: bad port \"%s\" (want %s-65535)",
			       spec, s, dial ? "1" : "0");
	snprintf(port, portlen, "%lu", v);
	return 0;
}

int xport_parse_inet(const char *spec, const char *rest, int dial,
		     char *host, size_t hostlen, char *port, size_t portlen)
{
	int sl = (int)(rest - spec);
	const char *colon, *h = rest;
	char want[64];
	size_t hl;

	if (dial)
		snprintf(want, sizeof(want), "%.*sHOST:PORT", sl, spec);
	else
		snprintf(want, sizeof(want), "%.*sPORT or %.*sADDR:PORT", sl,
			 spec, sl, spec);
	if (!*rest)
		return err_msg(EINVAL, "%s: missing address (want %s)", spec, want);
	if (*rest == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':')
			return err_msg(EINVAL, "%s: want [IPV6-ADDRESS]:PORT",
				       spec);
		h = rest + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (colon && colon != strchr(rest, ':'))
			return err_msg(EINVAL, "%s: an IPv6 address needs brackets ([::1]:PORT)",
				       spec);
		hl = colon ? (size_t)(colon - rest) : 0;
	}
	if (colon && hl == 0)
		return err_msg(EINVAL, "%s: empty host (want %s)", spec, want);
	if (!colon && dial)
		return err_msg(EINVAL, "%s: missing host (want %s)", spec, want);
	if (hl >= hostlen)
		return err_msg(EINVAL, "%s: host name too long", spec);
	memcpy(host, h, hl);
	host[hl] = '\0';
	return parse_port(spec, colon ? colon + 1 : rest, dial, port, portlen);
}

static int resolve(const char *spec, const char *host, const char *port,
		   int socktype, int flags, struct addrinfo **res)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = socktype,
		.ai_flags = AI_NUMERICSERV | flags,
	};
	int rc = getaddrinfo(host, port, &hints, res);

	if (rc == EAI_SYSTEM)
		return err_sys(errno, "%s: cannot resolve \"%s\"", spec, host);
	if (rc)
		return err_msg(EHOSTUNREACH, "%s: cannot resolve \"%s\": %s",
			       spec, host, gai_strerror(rc));
	return 0;
}

/* Non-blocking connect, so that a dial timeout can be kept with poll. */
static int dial_one(const char *spec, const struct addrinfo *ai,
		    int64_t deadline, int64_t timeout_ms, int *fdp)
{
	char a[80];
	int fd, rc, soerr = 0;
	socklen_t len = sizeof(soerr);

	xport_addr_str(ai->ai_addr, a, sizeof(a));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
	if (fd < 0)
		return err_sys(errno, "%s: socket", spec);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = err_sys(errno, "%s: connect %s", spec, a);
			goto fail;
		}
		rc = xport_poll(fd, POLLOUT, deadline);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			rc = err_msg(ETIMEDOUT, "%s: connect %s: timed out after %lld ms",
				     spec, a, (long long)timeout_ms);
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr) {
			rc = err_sys(soerr, "%s: connect %s", spec, a);
			goto fail;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = err_sys(errno, "%s: fcntl", spec);
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int xport_inet_dial(const char *spec, const char *host, const char *port,
		    int socktype, const struct xport_opts *o, int *fdp,
		    struct sockaddr_storage *peer)
{
	int64_t deadline = xport_deadline(o->dial_timeout_ms);
	struct addrinfo *res, *ai;
	int rc, fd = -1;

	rc = resolve(spec, host, port, socktype, 0, &res);
	if (rc)
		return rc;
	rc = err_msg(EHOSTUNREACH, "%s: no address for \"%s\"", spec, host);
	for (ai = res; ai; ai = ai->ai_next) {
		rc = dial_one(spec, ai, deadline, o->dial_timeout_ms, &fd);
		if (rc == 0 || rc == -ETIMEDOUT)
			break;
	}
	if (rc == 0) {
		memcpy(peer, ai->ai_addr, ai->ai_addrlen);
		rc = xport_sock_timeouts(fd, o);
		if (rc) {
			close(fd);
			rc = err_wrap(rc, "%s", spec);
		}
	}
	freeaddrinfo(res);
	if (rc == 0)
		*fdp = fd;
	return rc;
}

static int bind_one(const char *spec, int family, const struct sockaddr *sa,
		    socklen_t salen, int socktype, int *fdp)
{
	int fd, rc, on = 1, off = 0;
	char a[80];

	xport_addr_str(sa, a, sizeof(a));
	fd = socket(family, socktype | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys(errno, "%s: socket", spec);
	/* A restarted pthaw must not wait out TIME_WAIT; for udp the option
	 * would let two readers share the port, so only for tcp. */
	if (socktype == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, sa, salen) < 0) {
		rc = err_sys(errno, "%s: bind %s", spec, a);
		goto fail;
	}
	if (socktype == SOCK_STREAM) {
		if (listen(fd, 1) < 0) {
			rc = err_sys(errno, "%s: listen", spec);
			goto fail;
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
			rc = err_sys(errno, "%s: fcntl", spec);
			goto fail;
		}
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return rc;
}

int xport_inet_bind(const char *spec, const char *host, const char *port,
		    int socktype, int *fdp)
{
	struct addrinfo *res, *ai;
	int rc;

	if (!*host) {
		struct sockaddr_in6 s6 = {
			.sin6_family = AF_INET6,
			.sin6_port = htons((uint16_t)atoi(port)),
			.sin6_addr = IN6ADDR_ANY_INIT,
		};
		struct sockaddr_in s4 = {
			.sin_family = AF_INET,
			.sin_port = s6.sin6_port,
			.sin_addr.s_addr = htonl(INADDR_ANY),
		};

		rc = bind_one(spec, AF_INET6, (struct sockaddr *)&s6,
			      sizeof(s6), socktype, fdp);
		if (rc == -EAFNOSUPPORT)
			rc = bind_one(spec, AF_INET, (struct sockaddr *)&s4,
				      sizeof(s4), socktype, fdp);
		return rc;
	}
	rc = resolve(spec, host, port, socktype, AI_PASSIVE, &res);
	if (rc)
		return rc;
	rc = err_msg(EHOSTUNREACH, "%s: no address for \"%s\"", spec, host);
	for (ai = res; ai; ai = ai->ai_next) {
		rc = bind_one(spec, ai->ai_family, ai->ai_addr, ai->ai_addrlen,
			      socktype, fdp);
		if (rc == 0)
			break;
	}
	freeaddrinfo(res);
	return rc;
}
