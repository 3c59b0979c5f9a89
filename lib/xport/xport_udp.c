/* xport_udp.c: the udp transport: the stream cut into numbered datagrams
 * (format in xport.h), a paced writer layer and a checking reader layer. */
#include "xport_int.h"
#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UDP_HDR		16
#define UDP_VERSION	1
#define UDP_LAST	0x01
#define UDP_MTU_NET	1400
#define UDP_MTU_LO	61440
#define UDP_MAX		65507	/* IPv4's largest udp payload */
#define UDP_LAST_COPIES	3
/* The writer may run this far ahead of its rate: well inside the
 * receive buffer the reader asks for. */
#define UDP_BURST	(256 << 10)
#define UDP_RCVBUF	(8 << 20)
#define UDP_SNDBUF	(4 << 20)
#define UDP_IDLE_MS	30000

static const unsigned char udp_magic[4] = { 'P', 'F', 'Z', 'U' };

static void put_le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned get_le16(const unsigned char *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct udp_writer {
	struct layer l;
	int fd;
	char desc[128];
	size_t mtu;		/* payload bytes per datagram */
	size_t fill;		/* payload bytes waiting in buf */
	uint64_t seq;
	uint64_t rate;		/* bytes per second */
	uint64_t sent;
	int64_t t0;		/* ns, first datagram */
	unsigned char buf[UDP_HDR + UDP_MTU_LO];
};

/* UDP has no flow control: a writer faster than its reader overruns the
 * reader's buffer and the stream is lost.  Keep to the rate. */
static void udp_pace(struct udp_writer *w, size_t len)
{
	int64_t due, now = now_ns();

	if (!w->sent)
		w->t0 = now;
	w->sent += len;
	if (w->sent <= UDP_BURST)
		return;
	due = w->t0 + (int64_t)((double)(w->sent - UDP_BURST) * 1e9 /
				(double)w->rate);
	if (due > now) {
		struct timespec ts = {
			.tv_sec = due / 1000000000,
			.tv_nsec = due % 1000000000,
		};

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
	}
}

static int udp_send(struct udp_writer *w, int last)
{
	size_t len = UDP_HDR + w->fill;
	int tries = 0;

	memcpy(w->buf, udp_magic, 4);
	w->buf[4] = UDP_VERSION;
	w->buf[5] = last ? UDP_LAST : 0;
	put_le16(w->buf + 6, (unsigned)w->fill);
	put_le64(w->buf + 8, w->seq);
	udp_pace(w, len);
	for (;;) {
		ssize_t r = send(w->fd, w->buf, len, MSG_NOSIGNAL);

		if (r == (ssize_t)len)
			break;
		if (r >= 0)
			return err_msg(EMSGSIZE, "%s: datagram %llu sent short",
				       w->desc, (unsigned long long)w->seq);
		if (errno == EINTR)
			continue;
		/* The local queue is full for a moment: wait, as for a
		 * blocking write. */
		if (errno == ENOBUFS && ++tries < 1000) {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return err_msg(ETIMEDOUT, "%s: write timed out", w->desc);
		if (errno == ECONNREFUSED)
			return err_msg(ECONNREFUSED, "%s: nobody is listening (connection refused)",
				       w->desc);
		return err_sys(errno, "%s: send", w->desc);
	}
	w->seq++;
	w->fill = 0;
	return 0;
}

static int udp_write(struct layer *l, const void *buf, size_t n)
{
	struct udp_writer *w = (struct udp_writer *)l;
	const unsigned char *p = buf;

	while (n > 0) {
		size_t k = w->mtu - w->fill;

		if (k > n)
			k = n;
		memcpy(w->buf + UDP_HDR + w->fill, p, k);
		w->fill += k;
		p += k;
		n -= k;
		if (w->fill == w->mtu) {
			int rc = udp_send(w, 0);

			if (rc)
				return rc;
		}
	}
	return 0;
}

static void udp_writer_destroy(struct layer *l)
{
	free(l);
}

static int udp_writer_close(struct layer *l)
{
	struct udp_writer *w = (struct udp_writer *)l;
	int rc = 0;

	/* Copies of the last datagram carry the same number: the reader
	 * stops at the first one it gets and never sees the others.  A
	 * reader that got the first may be gone already, so only the
	 * first send's failure counts. */
	for (int i = 0; i < UDP_LAST_COPIES; i++) {
		size_t fill = w->fill;
		int r = udp_send(w, 1);

		if (i == 0)
			rc = r;
		if (r)
			break;
		w->seq--;
		w->fill = fill;
	}
	free(w);
	return rc;
}

static ssize_t udp_writer_read(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "udp: writer cannot read");
}

static const struct layer_ops udp_writer_ops = {
	.name = "udp",
	.write = udp_write,
	.read = udp_writer_read,
	.close = udp_writer_close,
	.destroy = udp_writer_destroy,
};

int xport_udp_open_dest(struct xport *x, const char *spec)
{
	struct sockaddr_storage peer;
	char host[256], port[8];
	struct udp_writer *w;
	int rc, size = UDP_SNDBUF;

	rc = xport_parse_inet(spec, spec + 4, 1, host, sizeof(host), port,
			      sizeof(port));
	if (rc)
		return rc;
	rc = xport_inet_dial(spec, host, port, SOCK_DGRAM, &x->o, &x->fd, &peer);
	if (rc)
		return rc;
	x->own_fd = 1;
	setsockopt(x->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_msg(ENOMEM, "%s: out of memory", spec);
	w->l.ops = &udp_writer_ops;
	w->fd = x->fd;
	snprintf(w->desc, sizeof(w->desc), "%s", x->desc);
	w->mtu = xport_is_loopback(&peer) ? UDP_MTU_LO : UDP_MTU_NET;
	w->rate = x->o.udp_rate ? x->o.udp_rate : XPORT_UDP_RATE;
	x->layer = &w->l;
	return 0;
}

struct udp_reader {
	struct layer l;
	int fd;
	char desc[128];
	int started, ended;
	int local_only;		/* refuse a first sender off the loopback */
	int err;		/* once failed, always failed */
	char errmsg[256];
	uint64_t next;		/* the sequence number expected */
	int64_t first_ms, idle_ms;
	struct sockaddr_storage peer;
	size_t off, len;	/* payload of the current datagram in buf */
	unsigned char buf[UDP_MAX + 1];
};

static int same_sender(const struct sockaddr_storage *a,
		       const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
	}
	return 0;
}

/* Takes the next datagram into buf: 0, or -errno with the message set. */
static int udp_next(struct udp_reader *r)
{
	struct sockaddr_storage from;
	struct iovec iov = { r->buf, sizeof(r->buf) };
	struct msghdr mh = {
		.msg_name = &from,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	uint64_t seq;
	ssize_t n;
	int rc;

	for (;;) {
		int64_t t = r->started ? r->idle_ms : r->first_ms;

		rc = xport_poll(r->fd, POLLIN, xport_deadline(t));
		if (rc < 0)
			return rc;
		if (rc == 0 && r->started)
			return err_msg(ETIMEDOUT, "%s: no datagram for %lld ms after datagram %llu: stream cut short",
				       r->desc, (long long)t,
				       (unsigned long long)r->next - 1);
		if (rc == 0)
			return err_msg(ETIMEDOUT, "%s: no datagram within %lld ms",
				       r->desc, (long long)t);
		mh.msg_namelen = sizeof(from);
		n = recvmsg(r->fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys(errno, "%s: recv", r->desc);
		}
		if (!r->started && r->local_only && !xport_is_loopback(&from)) {
			char a[80];

			xport_addr_str((struct sockaddr *)&from, a, sizeof(a));
			return err_msg(EACCES, "%s: refused a stream from %s: not a loopback address, and no key to authenticate it (give -key or -keydir, or -insecure to accept it)",
				       r->desc, a);
		}
		if (!r->started) {
			/* From now on the kernel drops other senders' datagrams;
			 * those already queued are dropped below. */
			r->peer = from;
			connect(r->fd, (struct sockaddr *)&from, mh.msg_namelen);
			r->started = 1;
		} else if (!same_sender(&from, &r->peer)) {
			continue;
		}
		break;
	}
	if ((mh.msg_flags & MSG_TRUNC) || n > UDP_MAX)
		return err_msg(EPROTO, "%s: datagram larger than %d bytes",
			       r->desc, UDP_MAX);
	if (n < UDP_HDR || memcmp(r->buf, udp_magic, 4))
		return err_msg(EPROTO, "%s: not a pfrez datagram (%zd bytes, bad magic)",
			       r->desc, n);
	if (r->buf[4] != UDP_VERSION)
		return err_msg(EPROTO, "%s: datagram version %u, want %u",
			       r->desc, r->buf[4], UDP_VERSION);
	if (get_le16(r->buf + 6) != (size_t)n - UDP_HDR)
		return err_msg(EPROTO, "%s: datagram of %zd bytes says it carries %u",
			       r->desc, n - UDP_HDR, get_le16(r->buf + 6));
	seq = get_le64(r->buf + 8);
	if (seq > r->next)
		return err_msg(EPROTO, "%s: datagram %llu lost or reordered (got %llu)",
			       r->desc, (unsigned long long)r->next,
			       (unsigned long long)seq);
	if (seq < r->next)
		return err_msg(EPROTO, "%s: datagram %llu duplicated or reordered (expected %llu)",
			       r->desc, (unsigned long long)seq,
			       (unsigned long long)r->next);
	r->next++;
	r->ended = (r->buf[5] & UDP_LAST) != 0;
	r->off = UDP_HDR;
	r->len = (size_t)n;
	return 0;
}

static ssize_t udp_read(struct layer *l, void *buf, size_t n)
{
	struct udp_reader *r = (struct udp_reader *)l;
	size_t k;

	if (r->err)
		return err_msg(r->err, "%s", r->errmsg);
	while (r->off == r->len) {
		int rc;

		if (r->ended)
			return 0;
		rc = udp_next(r);
		if (rc) {
			r->err = -rc;
			snprintf(r->errmsg, sizeof(r->errmsg), "%s", err_last());
			return rc;
		}
	}
	k = r->len - r->off;
	if (k > n)
		k = n;
	memcpy(buf, r->buf + r->off, k);
	r->off += k;
	return (ssize_t)k;
}

static int udp_reader_write(struct layer *l, const void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "udp: reader cannot write");
}

static void udp_reader_destroy(struct layer *l)
{
	free(l);
}

static int udp_reader_close(struct layer *l)
{
	free(l);
	return 0;
}

static const struct layer_ops udp_reader_ops = {
	.name = "udp",
	.write = udp_reader_write,
	.read = udp_read,
	.close = udp_reader_close,
	.destroy = udp_reader_destroy,
};

int xport_udp_open_src(struct xport *x, const char *spec)
{
	char host[256], port[8];
	struct udp_reader *r;
	int rc, size = UDP_RCVBUF;

	rc = xport_parse_inet(spec, spec + 4, 0, host, sizeof(host), port,
			      sizeof(port));
	if (rc)
		return rc;
	rc = xport_inet_bind(spec, host, port, SOCK_DGRAM, &x->fd);
	if (rc)
		return rc;
	x->own_fd = 1;
	/* The receive buffer is all the slack the reader has; FORCE passes
	 * rmem_max when privileged. */
	if (setsockopt(x->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(x->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_msg(ENOMEM, "%s: out of memory", spec);
	r->l.ops = &udp_reader_ops;
	r->fd = x->fd;
	snprintf(r->desc, sizeof(r->desc), "%s", x->desc);
	r->first_ms = x->o.dial_timeout_ms;
	r->local_only = x->o.local_only;
	r->idle_ms = x->o.read_timeout_ms ? x->o.read_timeout_ms : UDP_IDLE_MS;
	x->layer = &r->l;
	return 0;
}
