/* fd_inet.c: TCP and UDP sockets of IPv4 and IPv6 that hold no
 * connection: a listening TCP socket (bound again, with its backlog and
 * the options the program set), a TCP socket not yet connected, and a
 * UDP socket, bound or connected, with no datagram queued.  Established
 * TCP connections, and sockets in the states between, are refused by
 * name.
 *
 * pfrez looks at each socket through a duplicate of the process's own fd
 * (pidfd_getfd: the same open file description, read without changing
 * it): getsockname, getpeername, getsockopt, and TCP_INFO for the state
 * and, of a listening socket, its backlog and accept queue.  An option
 * is recorded when its value differs from a new socket's: setting one
 * that was never set can change a socket (SO_RCVBUF turns off the
 * kernel's buffer autotuning).
 *
 * On the host it was captured on, while the original still holds its
 * listening socket, a new one cannot bind the same address: pthaw
 * -take-sockets gives the copy the original's very socket instead
 * (pidfd_getfd from the original, still alive and held by pfrez), with
 * the connections waiting in its accept queue. */
#include "fdkind.h"
#include "err.h"
#include "files.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "snap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define INET_OPTS	24	/* room in a record; the table has fewer */
#define INET_ADDR_LEN	28	/* sizeof(struct sockaddr_in6) */
#define INET_WAIT_MS	5000	/* for an address the original is letting go */

enum inet_state {
	INET_LISTEN = 1,	/* TCP, listening */
	INET_FRESH = 2,		/* TCP, never connected (bound or not) */
	INET_DGRAM = 3,		/* UDP, bound or connected */
};

struct rec_inet_opt {
	int32_t level, name, value;
} __attribute__((packed));

struct rec_inet {
	uint32_t file;		/* the file record it is */
	uint32_t family;	/* AF_INET, AF_INET6 */
	uint32_t type;		/* SOCK_STREAM, SOCK_DGRAM */
	uint32_t protocol;
	uint32_t state;		/* enum inet_state */
	uint32_t backlog;	/* INET_LISTEN: listen()'s, as the kernel keeps it */
	uint32_t queued;	/* INET_LISTEN: connections waiting to be accepted */
	uint32_t nopts;
	uint32_t local_len, peer_len;	/* 0: not bound / not connected */
	uint8_t local[INET_ADDR_LEN], peer[INET_ADDR_LEN];
	struct rec_inet_opt opt[INET_OPTS];
} __attribute__((packed));

struct inets {
	size_t n, cap;
	struct rec_inet *v;
};

/* The options a program may set whose value getsockopt reports as an int
 * that setsockopt takes back (SO_RCVBUF and SO_SNDBUF: half of it; the
 * kernel doubles what it is given). */
static const struct inet_opt_name {
	int level, name;
	const char *label;
	int stream_only, v6_only;
} inet_opts[] = {
	{ SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR", 0, 0 },
	{ SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT", 0, 0 },
	{ SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", 0, 0 },
	{ SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST", 0, 0 },
	{ SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE", 0, 0 },
	{ SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", 0, 0 },
	{ SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", 0, 0 },
	{ SOL_SOCKET, SO_RCVLOWAT, "SO_RCVLOWAT", 0, 0 },
	{ SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY", 0, 0 },
	{ IPPROTO_IPV6, IPV6_V6ONLY, "IPV6_V6ONLY", 0, 1 },
	{ IPPROTO_IP, IP_TOS, "IP_TOS", 0, 0 },
	{ IPPROTO_IP, IP_TTL, "IP_TTL", 0, 0 },
	{ IPPROTO_IP, IP_FREEBIND, "IP_FREEBIND", 0, 0 },
	{ IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY", 1, 0 },
	{ IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT", 1, 0 },
	{ IPPROTO_TCP, TCP_KEEPIDLE, "TCP_KEEPIDLE", 1, 0 },
	{ IPPROTO_TCP, TCP_KEEPINTVL, "TCP_KEEPINTVL", 1, 0 },
	{ IPPROTO_TCP, TCP_KEEPCNT, "TCP_KEEPCNT", 1, 0 },
	{ IPPROTO_TCP, TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT", 1, 0 },
	{ IPPROTO_TCP, TCP_FASTOPEN, "TCP_FASTOPEN", 1, 0 },
	{ IPPROTO_TCP, TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT", 1, 0 },
};
#define INET_NOPTS (sizeof(inet_opts) / sizeof(inet_opts[0]))

static const char *opt_label(int level, int name)
{
	for (size_t i = 0; i < INET_NOPTS; i++)
		if (inet_opts[i].level == level && inet_opts[i].name == name)
			return inet_opts[i].label;
	return NULL;
}

static const char *tcp_state_name(int st)
{
	static const char *const n[] = {
		[TCP_ESTABLISHED] = "an established connection", [TCP_SYN_SENT] = "a connection being made (SYN_SENT)",
		[TCP_SYN_RECV] = "a connection being accepted (SYN_RECV)", [TCP_FIN_WAIT1] = "a closing connection (FIN_WAIT1)",
		[TCP_FIN_WAIT2] = "a closing connection (FIN_WAIT2)", [TCP_TIME_WAIT] = "a closed connection (TIME_WAIT)",
		[TCP_CLOSE_WAIT] = "a connection the peer closed (CLOSE_WAIT)", [TCP_LAST_ACK] = "a closing connection (LAST_ACK)",
		[TCP_CLOSING] = "a closing connection (CLOSING)",
	};

	return st > 0 && st < (int)(sizeof(n) / sizeof(n[0])) && n[st] ? n[st] : "a TCP state pfrez does not know";
}

/* "127.0.0.1:8080", "[::1]:8080", "*" (not bound). */
static void addr_name(char *buf, size_t n, const uint8_t *a, uint32_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (len >= sizeof(struct sockaddr_in) && ((const struct sockaddr *)a)->sa_family == AF_INET) {
		struct sockaddr_in s;

		memcpy(&s, a, sizeof(s));
		inet_ntop(AF_INET, &s.sin_addr, host, sizeof(host));
		snprintf(buf, n, "%s:%u", host, ntohs(s.sin_port));
	} else if (len >= sizeof(struct sockaddr_in6) && ((const struct sockaddr *)a)->sa_family == AF_INET6) {
		struct sockaddr_in6 s;

		memcpy(&s, a, sizeof(s));
		inet_ntop(AF_INET6, &s.sin6_addr, host, sizeof(host));
		snprintf(buf, n, "[%s]:%u", host, ntohs(s.sin6_port));
	} else {
		snprintf(buf, n, "*");
	}
}

static const char *proto_name(const struct rec_inet *r)
{
	if (r->type == SOCK_STREAM)
		return r->family == AF_INET6 ? "tcp6" : "tcp";
	return r->family == AF_INET6 ? "udp6" : "udp";
}

/* The process's fd, duplicated into pfrez: the same socket. */
static int grab(pid_t pid, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), t;

	if (pidfd < 0)
		return err_sys(errno, "process %d: pidfd_open", pid);
	t = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (t < 0)
		t = err_sys(errno, "process %d: fd %d: pidfd_getfd", pid, fd);
	close(pidfd);
	return t;
}

static int sockopt_int(int s, int level, int name, int *v)
{
	socklen_t l = sizeof(*v);

	*v = 0;
	return getsockopt(s, level, name, v, &l) < 0 ? -errno : 0;
}

static int inet_claim(const struct fd_info *d, struct rec_file *r)
{
	int s, family, type;
	const char *why = NULL;

	(void)r;
	if (!S_ISSOCK(d->sb->st_mode))
		return 0;
	s = grab(d->pid, d->fd);
	if (s < 0)
		return s;
	if (sockopt_int(s, SOL_SOCKET, SO_DOMAIN, &family) || sockopt_int(s, SOL_SOCKET, SO_TYPE, &type))
		why = "its family and type cannot be read";
	close(s);
	if (why)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): a socket: %s", d->pid, d->fd, d->link, why);
	if (family != AF_INET && family != AF_INET6)
		return 0;	/* unix sockets: theirs; others: refused by files.c */
	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): a %s socket (raw or other): not supported",
			       d->pid, d->fd, d->link, family == AF_INET6 ? "IPv6" : "IPv4");
	return 1;
}

/* Records each option that differs from a new socket's of the same kind. */
static int read_opts(int s, struct rec_inet *r)
{
	int fresh = socket((int)r->family, (int)r->type | SOCK_CLOEXEC, (int)r->protocol);

	if (fresh < 0)
		return err_sys(errno, "a %s socket to compare options with", proto_name(r));
	for (size_t i = 0; i < INET_NOPTS; i++) {
		const struct inet_opt_name *o = &inet_opts[i];
		int v, f;

		if ((o->stream_only && r->type != SOCK_STREAM) || (o->v6_only && r->family != AF_INET6) ||
		    (o->level == IPPROTO_IP && r->family != AF_INET))
			continue;
		if (sockopt_int(s, o->level, o->name, &v) || sockopt_int(fresh, o->level, o->name, &f) || v == f)
			continue;
		if (r->nopts >= INET_OPTS)
			break;
		r->opt[r->nopts++] = (struct rec_inet_opt){ o->level, o->name, v };
	}
	close(fresh);
	return 0;
}

static int see_socket(pid_t pid, const struct snap_file *f, struct rec_inet *r)
{
	struct tcp_info ti;
	socklen_t l;
	int s, v, rc = 0;
	char what[128];

	s = grab(pid, f->first_fd);
	if (s < 0)
		return s;
	snprintf(what, sizeof(what), "process %d: fd %d (%s)", pid, f->first_fd, f->path);
	if (sockopt_int(s, SOL_SOCKET, SO_DOMAIN, &v) || (r->family = (uint32_t)v,
	    sockopt_int(s, SOL_SOCKET, SO_TYPE, &v)) || (r->type = (uint32_t)v,
	    sockopt_int(s, SOL_SOCKET, SO_PROTOCOL, &v))) {
		rc = err_msg(ENOTSUP, "%s: its family, type and protocol cannot be read", what);
		goto out;
	}
	r->protocol = (uint32_t)v;
	l = sizeof(r->local);
	if (getsockname(s, (struct sockaddr *)r->local, &l) == 0 && l <= sizeof(r->local))
		r->local_len = l;
	/* An unbound socket reports port 0: nothing to bind again. */
	if (r->local_len && ((struct sockaddr_in *)r->local)->sin_port == 0)
		r->local_len = 0;
	l = sizeof(r->peer);
	if (getpeername(s, (struct sockaddr *)r->peer, &l) == 0 && l <= sizeof(r->peer))
		r->peer_len = l;
	if (r->type == SOCK_STREAM) {
		l = sizeof(ti);
		if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) {
			rc = err_sys(errno, "%s: TCP_INFO", what);
			goto out;
		}
		if (ti.tcpi_state == TCP_LISTEN) {
			r->state = INET_LISTEN;
			/* Of a listening socket, TCP_INFO reports the accept
			 * queue (unacked) and listen()'s backlog (sacked). */
			r->queued = ti.tcpi_unacked;
			r->backlog = ti.tcpi_sacked;
		} else if (ti.tcpi_state == TCP_CLOSE && !r->peer_len) {
			r->state = INET_FRESH;
		} else {
			rc = err_msg(ENOTSUP, "%s: %s: TCP connections are not supported yet", what,
				     tcp_state_name(ti.tcpi_state));
			goto out;
		}
	} else {
		int q = 0;

		r->state = INET_DGRAM;
		if (ioctl(s, SIOCOUTQ, &q) == 0 && q > 0)
			rc = err_msg(ENOTSUP, "%s: %d bytes of datagrams wait to be sent; they cannot be carried",
				     what, q);
		else if (ioctl(s, FIONREAD, &q) == 0 && q > 0)
			rc = err_msg(ENOTSUP, "%s: datagrams wait to be read; they cannot be carried", what);
		if (rc)
			goto out;
	}
	rc = read_opts(s, r);
out:
	close(s);
	return rc;
}

static int inets_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct inets *in = NULL;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		if (s->files[i].r.kind != FD_INET)
			continue;
		if (!in && !(in = calloc(1, sizeof(*in))))
			return err_sys(ENOMEM, "sockets");
		if (snap_grow((void **)&in->v, &in->cap, in->n, sizeof(*in->v))) {
			rc = err_sys(ENOMEM, "sockets");
			break;
		}
		memset(&in->v[in->n], 0, sizeof(in->v[in->n]));
		in->v[in->n].file = (uint32_t)i;
		rc = see_socket(c->pid, &s->files[i], &in->v[in->n]);
		if (!rc)
			in->n++;
	}
	*data = in;
	if (rc && in) {
		free(in->v);
		free(in);
		*data = NULL;
	}
	return rc;
}

static int inets_write(const void *data, struct rec_writer *w)
{
	const struct inets *in = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < in->n; i++)
		rc = rec_write(w, REC_INET, &in->v[i], sizeof(in->v[i]), NULL, 0);
	return rc;
}

static int bad(const char *why)
{
	return err_msg(EBADMSG, "inet record: %s", why);
}

static int addr_ok(const uint8_t *a, uint32_t len, uint32_t family)
{
	sa_family_t f;

	if (!len)
		return 1;
	memcpy(&f, a, sizeof(f));
	if (f != family && !(family == AF_INET6 && f == AF_INET))
		return 0;
	return f == AF_INET ? len == sizeof(struct sockaddr_in) : len == sizeof(struct sockaddr_in6);
}

static int inets_take(void **data, const unsigned char *p, size_t len)
{
	struct inets *in = *data;
	struct rec_inet r;

	if (len != sizeof(r))
		return bad("malformed");
	memcpy(&r, p, sizeof(r));
	if ((r.family != AF_INET && r.family != AF_INET6) ||
	    (r.type != SOCK_STREAM && r.type != SOCK_DGRAM) ||
	    (r.state == INET_DGRAM) != (r.type == SOCK_DGRAM) ||
	    r.state < INET_LISTEN || r.state > INET_DGRAM || r.nopts > INET_OPTS ||
	    r.local_len > INET_ADDR_LEN || r.peer_len > INET_ADDR_LEN ||
	    !addr_ok(r.local, r.local_len, r.family) || !addr_ok(r.peer, r.peer_len, r.family) ||
	    (r.state == INET_LISTEN && !r.local_len) || (r.state != INET_DGRAM && r.peer_len))
		return bad("malformed");
	for (uint32_t i = 0; i < r.nopts; i++)
		if (!opt_label(r.opt[i].level, r.opt[i].name))
			return bad("an option pthaw does not know");
	if (!in && !(in = *data = calloc(1, sizeof(*in))))
		return err_sys(ENOMEM, "sockets");
	if (in->n >= SNAP_FD_MAX)
		return bad("too many");
	if (snap_grow((void **)&in->v, &in->cap, in->n, sizeof(*in->v)))
		return err_sys(ENOMEM, "sockets");
	in->v[in->n++] = r;
	return 0;
}

static const struct rec_inet *inet_of(const struct snap *s, uint32_t file)
{
	const struct inets *in = s->kind[KIND_INET];

	for (size_t i = 0; in && i < in->n; i++)
		if (in->v[i].file == file)
			return &in->v[i];
	return NULL;
}

/* Each socket record is a socket file, once. */
static int inets_verify(const struct snap *s, const void *data)
{
	const struct inets *in = data;

	for (size_t i = 0; i < in->n; i++) {
		if (in->v[i].file >= s->nfiles || s->files[in->v[i].file].r.kind != FD_INET)
			return bad("refers to a file that is not a socket");
		for (size_t j = 0; j < i; j++)
			if (in->v[j].file == in->v[i].file)
				return bad("two for one file");
	}
	return 0;
}

/* Each socket file has its record (fd_kind_ops.verify). */
static int inet_verify(const struct snap *s, const struct snap_file *f)
{
	if (!inet_of(s, f->r.id))
		return err_msg(EBADMSG, "file %u: a socket without its inet record", f->r.id);
	return 0;
}

/* Whether the original's fd still holds that very socket (same host,
 * original alive: pidfd_getfd can take it). */
static int original_holds(int same_host, uint32_t old_pid, const struct snap_file *f)
{
	char path[64], link[64], want[64];
	ssize_t n;

	if (!same_host)
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/fd/%d", old_pid, f->first_fd);
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)f->r.ident.ino);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;
	link[n] = '\0';
	return strcmp(link, want) == 0;
}

/* Before any page: a listening address must be free to bind here, or held
 * by the original (which -halt is about to end; else the restore waits
 * for it as for a lock, then fails), or the original's socket there to
 * take; and no connection waiting to be accepted may be dropped. */
static int inets_check(struct kind_check *c, const void *data)
{
	const struct inets *in = data;
	const struct snap *s = c->snap;
	int rc = 0;

	for (size_t i = 0; i < in->n; i++) {
		const struct rec_inet *r = &in->v[i];
		const struct snap_file *f = &s->files[r->file];
		char a[80];
		int t, one = 1, e = 0;

		addr_name(a, sizeof(a), r->local, r->local_len);
		if (c->take_sockets && r->local_len && original_holds(c->same_host, s->proc.pid, f)) {
			continue;
		} else if (c->take_sockets && r->queued) {
			rc = kind_problem(c, err_msg(ENOENT, "fd %d: %s listening on %s: -take-sockets, but the original process %u on this host no longer holds it, and %u connections waited on it",
						     f->first_fd, proto_name(r), a, s->proc.pid, r->queued));
		} else if (r->state == INET_LISTEN && r->queued) {
			rc = kind_problem(c, err_msg(ENOTSUP, "fd %d: %s listening on %s: %u connections wait in its accept queue, which a new socket would lose (-take-sockets keeps them, on the same host)",
						     f->first_fd, proto_name(r), a, r->queued));
		} else if (r->local_len) {
			/* Bind a probe as the copy will: the same options that
			 * decide whether an address in use can be shared. */
			t = socket((int)r->family, (int)r->type | SOCK_CLOEXEC, (int)r->protocol);
			if (t < 0)
				e = errno;
			for (uint32_t k = 0; !e && k < r->nopts; k++)
				if ((r->opt[k].name == SO_REUSEADDR || r->opt[k].name == SO_REUSEPORT ||
				     r->opt[k].name == IPV6_V6ONLY || r->opt[k].name == IP_FREEBIND) &&
				    r->opt[k].value)
					setsockopt(t, r->opt[k].level, r->opt[k].name, &one, sizeof(one));
			if (!e && bind(t, (const struct sockaddr *)r->local, r->local_len) < 0)
				e = errno;
			if (t >= 0)
				close(t);
			if (e == EADDRINUSE && original_holds(c->same_host, s->proc.pid, f))
				e = 0;	/* the restore waits for it, or takes it */
			if (e == EADDRINUSE)
				rc = kind_problem(c, err_msg(EADDRINUSE, "fd %d: %s %s: the address is in use on this host (by another socket, or by connections in TIME_WAIT when the program did not set SO_REUSEADDR)",
							     f->first_fd, proto_name(r), a));
			else if (e)
				rc = kind_problem(c, err_msg(e, "fd %d: %s %s: cannot bind it here: %s",
							     f->first_fd, proto_name(r), a, strerror(e)));
		}
		if (rc && !c->out)
			return rc;
	}
	return rc;
}

static long pcall(struct pload *pl, long nr, long a0, long a1, long a2, long a3, long a4,
		  const void *d, size_t n)
{
	return pload_call(pl, nr, a0, a1, a2, a3, a4, 0, d, n);
}

static long take_original(struct kind_restore *r, const struct snap_file *f)
{
	long pidfd = pcall(r->pl, SYS_pidfd_open, r->old_pid, 0, 0, 0, 0, NULL, 0), t;

	if (pidfd < 0)
		return err_sys((int)-pidfd, "fd %d: taking the original's socket: pidfd_open of %u",
			       f->first_fd, r->old_pid);
	t = pcall(r->pl, SYS_pidfd_getfd, pidfd, f->first_fd, 0, 0, 0, NULL, 0);
	pcall(r->pl, SYS_close, pidfd, 0, 0, 0, 0, NULL, 0);
	if (t < 0)
		return err_sys((int)-t, "fd %d: taking the original's socket", f->first_fd);
	return t;
}

/* Binds t to the address, waiting (as for a lock, locks.c) while it is in
 * use: after `pfrez -halt | pthaw` the original holds it until pfrez has
 * written the stream and ended it. */
static long bind_wait(struct kind_restore *r, const struct rec_inet *in, long t)
{
	struct timespec t0, now;
	long ret, delay = 10;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ret = pcall(r->pl, SYS_bind, t, (long)r->pl->hello.scratch, in->local_len, 0, 0,
			    in->local, in->local_len);
		if (ret != -EADDRINUSE)
			return ret;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= INET_WAIT_MS)
			return ret;
		nanosleep(&(struct timespec){ 0, delay * 1000000 }, NULL);
		delay = delay < 200 ? delay * 2 : delay;
	}
}

static long inet_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct rec_inet *in = inet_of(s, f->r.id);
	long t, ret = 0;
	char a[80];

	/* The original's socket, while it holds it; once -halt has ended
	 * it, a new one (unless connections waited on the old one). */
	if (in->local_len && r->take_sockets) {
		t = original_holds(r->same_host, r->old_pid, f) ? take_original(r, f) : -ENOENT;
		if (t >= 0)
			return t;
		if (in->queued)
			return t == -ENOENT ? err_msg(ENOENT, "fd %d: the original no longer holds its listening socket, and %u connections waited on it",
						       f->first_fd, in->queued) : t;
		err_clear();
	}
	addr_name(a, sizeof(a), in->local, in->local_len);
	t = pcall(r->pl, SYS_socket, in->family,
		  in->type | (f->r.flags & O_NONBLOCK ? SOCK_NONBLOCK : 0), in->protocol, 0, 0, NULL, 0);
	if (t < 0)
		return err_sys((int)-t, "fd %d: %s socket", f->first_fd, proto_name(in));
	/* Options first: SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY decide
	 * what bind allows. */
	for (uint32_t i = 0; ret >= 0 && i < in->nopts; i++) {
		int v = in->opt[i].value;

		if (in->opt[i].level == SOL_SOCKET && (in->opt[i].name == SO_RCVBUF || in->opt[i].name == SO_SNDBUF))
			v /= 2;
		ret = pcall(r->pl, SYS_setsockopt, t, in->opt[i].level, in->opt[i].name,
			    (long)r->pl->hello.scratch, sizeof(v), &v, sizeof(v));
		if (ret < 0)
			err_sys((int)-ret, "fd %d: %s %s: %s", f->first_fd, proto_name(in), a,
				opt_label(in->opt[i].level, in->opt[i].name));
	}
	if (ret >= 0 && in->local_len) {
		ret = bind_wait(r, in, t);
		if (ret == -EADDRINUSE)
			err_msg(EADDRINUSE, "fd %d: %s %s is in use (waited %d s)%s", f->first_fd, proto_name(in), a,
				INET_WAIT_MS / 1000, original_holds(r->same_host, r->old_pid, f) ?
				": the original still listens on it; pthaw -take-sockets gives the copy its socket" : "");
		else if (ret < 0)
			err_sys((int)-ret, "fd %d: %s: binding %s", f->first_fd, proto_name(in), a);
	}
	if (ret >= 0 && in->state == INET_LISTEN) {
		ret = pcall(r->pl, SYS_listen, t, in->backlog, 0, 0, 0, NULL, 0);
		if (ret < 0)
			err_sys((int)-ret, "fd %d: %s %s: listen", f->first_fd, proto_name(in), a);
	}
	if (ret >= 0 && in->peer_len) {
		ret = pcall(r->pl, SYS_connect, t, (long)r->pl->hello.scratch, in->peer_len, 0, 0,
			    in->peer, in->peer_len);
		if (ret < 0)
			err_sys((int)-ret, "fd %d: %s %s: connect", f->first_fd, proto_name(in), a);
	}
	if (ret < 0) {
		pcall(r->pl, SYS_close, t, 0, 0, 0, 0, NULL, 0);
		return ret;
	}
	return t;
}

static const char *state_name(uint32_t st)
{
	return st == INET_LISTEN ? "listening" : st == INET_FRESH ? "not connected" : "datagrams";
}

static void inets_print(FILE *f, const void *data)
{
	const struct inets *in = data;

	fprintf(f, "Sockets (TCP, UDP):\n");
	for (size_t i = 0; i < in->n; i++) {
		const struct rec_inet *r = &in->v[i];
		char a[80], p[80];

		addr_name(a, sizeof(a), r->local, r->local_len);
		addr_name(p, sizeof(p), r->peer, r->peer_len);
		fprintf(f, "  file %u: %s %s on %s", r->file, proto_name(r), state_name(r->state), a);
		if (r->peer_len)
			fprintf(f, " to %s", p);
		if (r->state == INET_LISTEN)
			fprintf(f, ", backlog %u, %u waiting", r->backlog, r->queued);
		for (uint32_t k = 0; k < r->nopts; k++)
			fprintf(f, ", %s %d", opt_label(r->opt[k].level, r->opt[k].name), r->opt[k].value);
		fprintf(f, "\n");
	}
}

static void inets_print_json(struct json *j, const void *data)
{
	const struct inets *in = data;

	json_array_begin(j, "sockets");
	for (size_t i = 0; i < in->n; i++) {
		const struct rec_inet *r = &in->v[i];
		char a[80];

		json_object_begin(j, NULL);
		json_uint(j, "file", r->file);
		json_str(j, "proto", proto_name(r));
		json_str(j, "state", state_name(r->state));
		addr_name(a, sizeof(a), r->local, r->local_len);
		json_str(j, "local", a);
		if (r->peer_len) {
			addr_name(a, sizeof(a), r->peer, r->peer_len);
			json_str(j, "peer", a);
		}
		if (r->state == INET_LISTEN) {
			json_uint(j, "backlog", r->backlog);
			json_uint(j, "queued", r->queued);
		}
		json_object_begin(j, "options");
		for (uint32_t k = 0; k < r->nopts; k++)
			json_int(j, opt_label(r->opt[k].level, r->opt[k].name), r->opt[k].value);
		json_object_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

static void inets_free(void *data)
{
	struct inets *in = data;

	if (in)
		free(in->v);
	free(in);
}

const struct fd_kind_ops fd_kind_inet = {
	.kind = FD_INET,
	.name = "inet socket",
	.claim = inet_claim,
	.verify = inet_verify,
	.open = inet_open,
};

/* The sockets' own state: captured after the fd table, opened by
 * files.c with the fds (inet_open). */
const struct kind_ops kind_inet = {
	.name = "inet",
	.type = REC_INET,
	.flags = KIND_MANY,
	.capture = inets_capture,
	.write = inets_write,
	.take = inets_take,
	.verify = inets_verify,
	.check = inets_check,
	.print = inets_print,
	.print_json = inets_print_json,
	.free = inets_free,
};
