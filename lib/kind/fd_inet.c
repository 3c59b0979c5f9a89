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
#include "layer.h"
#include "pload_ctl.h"
#include "snap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <linux/capability.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INET_OPTS	24	/* room in a record; the table has fewer */
#define INET_ADDR_LEN	28	/* sizeof(struct sockaddr_in6) */
#define INET_WAIT_MS	5000	/* for an address the original is letting go */

enum inet_state {
	INET_LISTEN = 1,	/* TCP, listening */
	INET_FRESH = 2,		/* TCP, never connected (bound or not) */
	INET_DGRAM = 3,		/* UDP, bound or connected */
	INET_CONN = 4,		/* TCP, an established connection (pfrez -halt) */
};

/* An established connection, as TCP_REPAIR reads and sets it. */
struct rec_tcp_conn {
	uint32_t snd_seq;	/* the sequence number after the send queue */
	uint32_t rcv_seq;	/* the sequence number after the receive queue */
	uint32_t inq_len;	/* bytes received, not yet read by the process */
	uint32_t outq_len;	/* bytes written, not yet acknowledged */
	uint32_t unsent_len;	/* of those, not yet sent */
	uint32_t mss;
	uint32_t opts;		/* TCPI_OPT_TIMESTAMPS, _SACK, _WSCALE of TCP_INFO */
	uint32_t snd_wscale, rcv_wscale;
	uint32_t timestamp;	/* TCP_TIMESTAMP: the connection's clock */
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;	/* TCP_REPAIR_WINDOW */
} __attribute__((packed));

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
	struct rec_tcp_conn conn;	/* INET_CONN; else zeros */
	/* then, of INET_CONN, conn.inq_len + conn.outq_len bytes: the
	 * receive queue, then the send queue */
} __attribute__((packed));

/* A socket: its record, the bytes queued in a connection (its receive
 * queue, then its send queue), and in pfrez the socket itself, held
 * until the original's fate is known. */
struct inet_obj {
	struct rec_inet r;
	unsigned char *q;
	int held;		/* pfrez: a duplicate of the original's fd, or -1 */
	int reuse;		/* pfrez: its SO_REUSEADDR, which repair mode resets */
};

struct inets {
	size_t n, cap;
	struct inet_obj *v;
	int locked;		/* pfrez: the nftables lock is in place */
	int guard_fd;		/* pfrez: to the guard of the lock (inet_guard) */
	pid_t guard;
	int settled;
	pid_t pid;
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

static int see_socket(pid_t pid, const struct snap_file *f, struct rec_inet *r, int halt)
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
		} else if (ti.tcpi_state == TCP_ESTABLISHED && !halt) {
			rc = err_msg(ENOTSUP, "%s: an established connection moves only with -halt: a copy beside the original would be a second end of one connection",
				     what);
			goto out;
		} else if (ti.tcpi_state == TCP_ESTABLISHED) {
			r->state = INET_CONN;	/* read by conn_read(), once locked */
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

/* Runs nft with script on its standard input, in the network namespace of
 * process pid (0: this one's).  0, or -errno (message set unless quiet). */
static int run_nft(pid_t pid, const char *script, int quiet)
{
	int in[2], st, ns = -1;
	pid_t child;
	size_t n = strlen(script);

	if (pid) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0)
			return quiet ? -errno : err_sys(errno, "%s", path);
	}
	if (pipe2(in, O_CLOEXEC) < 0) {
		if (ns >= 0)
			close(ns);
		return quiet ? -errno : err_sys(errno, "pipe");
	}
	child = fork();
	if (child == 0) {
		sigset_t none;
		int null = open("/dev/null", O_WRONLY);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if ((ns >= 0 && setns(ns, CLONE_NEWNET) < 0) || dup2(in[0], 0) < 0 ||
		    (quiet && null >= 0 && dup2(null, 2) < 0))
			_exit(126);
		if (null >= 0)
			dup2(null, 1);
		execlp("nft", "nft", "-f", "-", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (ns >= 0)
		close(ns);
	if (child < 0) {
		close(in[1]);
		return quiet ? -EAGAIN : err_sys(errno, "fork");
	}
	if (write(in[1], script, n) != (ssize_t)n)
		n = 0;
	close(in[1]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && n)
		return 0;
	if (quiet)
		return -EIO;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return err_msg(ENOENT, "nft (Debian package nftables) is needed to hold TCP connections while they move, and it is not installed");
	return err_msg(EIO, "nft could not hold the connections (exit %d)",
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* "ip saddr 10.0.0.1 tcp sport 80": one end of a connection for nft
 * (an IPv4 address mapped into IPv6 is matched as IPv4). */
static void nft_end(char *buf, size_t n, const char *dir, const uint8_t *a)
{
	char host[INET6_ADDRSTRLEN] = "?";
	struct sockaddr_in6 s6;
	struct sockaddr_in s;
	sa_family_t f;

	memcpy(&f, a, sizeof(f));
	if (f == AF_INET) {
		memcpy(&s, a, sizeof(s));
		inet_ntop(AF_INET, &s.sin_addr, host, sizeof(host));
		snprintf(buf, n, "ip %saddr %s tcp %sport %u", dir, host, dir, ntohs(s.sin_port));
		return;
	}
	memcpy(&s6, a, sizeof(s6));
	if (IN6_IS_ADDR_V4MAPPED(&s6.sin6_addr)) {
		inet_ntop(AF_INET, &s6.sin6_addr.s6_addr[12], host, sizeof(host));
		snprintf(buf, n, "ip %saddr %s tcp %sport %u", dir, host, dir, ntohs(s6.sin6_port));
		return;
	}
	inet_ntop(AF_INET6, &s6.sin6_addr, host, sizeof(host));
	snprintf(buf, n, "ip6 %saddr %s tcp %sport %u", dir, host, dir, ntohs(s6.sin6_port));
}

/* The name of the lock of process pid's connections. */
#define LOCK_TABLE	"pfrez_lock_%u"

/* The network lock, as CRIU has one: an nftables table in the process's
 * network namespace drops every packet of its connections, both ways,
 * from before their state is read until the copy has them (pthaw
 * deletes it when the copy runs in that namespace) or the original
 * resumes (inets_settle). */
static void inet_unlock(pid_t netns_of, unsigned pid)
{
	char script[96];

	snprintf(script, sizeof(script), "delete table inet " LOCK_TABLE "\n", pid);
	run_nft(netns_of, script, 1);
}

/* Out of repair mode, without a window probe, and with its SO_REUSEADDR
 * as it was (leaving repair mode clears it). */
static void conn_unrepair(const struct inet_obj *o)
{
	int off = TCP_REPAIR_OFF_NO_WP;

	setsockopt(o->held, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
	setsockopt(o->held, SOL_SOCKET, SO_REUSEADDR, &o->reuse, sizeof(o->reuse));
}

/* In the guard: closes every fd but keep and the held sockets (pfrez's
 * stdout among them: the guard must not keep its reader waiting). */
static void close_but(const struct inets *in, int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int dfd = d ? dirfd(d) : -1;

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name), hold = fd == keep || fd == dfd || e->d_name[0] == '.';

		for (size_t i = 0; !hold && i < in->n; i++)
			hold = in->v[i].held == fd;
		if (!hold)
			close(fd);
	}
	if (d)
		closedir(d);
}

/* If pfrez dies while the lock is in place, nobody would lift it, and
 * the original's connections would stall for good: a guard, a child
 * of pfrez in a session of its own (no Ctrl-C reaches it), lifts it when
 * its pipe from pfrez closes without the word that the original ended. */
static int inet_guard(struct inets *in)
{
	int p[2];
	pid_t child;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(errno, "pipe");
	child = fork();
	if (child == 0) {
		char c = 0;

		setsid();
		close_but(in, p[0]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		if (c != 'e') {
			for (size_t i = 0; i < in->n; i++)
				if (in->v[i].held >= 0)
					conn_unrepair(&in->v[i]);
			inet_unlock(in->pid, (unsigned)in->pid);
		}
		_exit(0);
	}
	close(p[0]);
	if (child < 0) {
		close(p[1]);
		return err_sys(errno, "fork");
	}
	in->guard = child;
	in->guard_fd = p[1];
	return 0;
}

/* Tells the guard the original's fate and waits for it: ended (the lock
 * stays) or resumes (the guard lifts the lock). */
static void inet_unguard(struct inets *in, int ended)
{
	if (in->guard_fd < 0)
		return;
	if (ended && write(in->guard_fd, "e", 1) != 1)
		ended = 0;
	close(in->guard_fd);
	in->guard_fd = -1;
	while (waitpid(in->guard, NULL, 0) < 0 && errno == EINTR)
		;
}

static int inet_lock(struct inets *in)
{
	size_t cap = 512 + in->n * 512, len;
	char *script = malloc(cap), a[160], b[160];
	unsigned pid = (unsigned)in->pid;
	int rc;

	if (!script)
		return err_sys(ENOMEM, "nft script");
	len = (size_t)snprintf(script, cap,
			       "table inet " LOCK_TABLE " {\n"
			       "  chain in { type filter hook input priority -300; policy accept; }\n"
			       "  chain out { type filter hook output priority -300; policy accept; }\n"
			       "}\nflush table inet " LOCK_TABLE "\n", pid, pid);
	for (size_t i = 0; i < in->n && len < cap; i++) {
		const struct rec_inet *r = &in->v[i].r;

		if (r->state != INET_CONN)
			continue;
		nft_end(a, sizeof(a), "s", r->peer);
		nft_end(b, sizeof(b), "d", r->local);
		len += (size_t)snprintf(script + len, cap - len, "add rule inet " LOCK_TABLE " in %s %s drop\n",
					pid, a, b);
		nft_end(a, sizeof(a), "s", r->local);
		nft_end(b, sizeof(b), "d", r->peer);
		if (len < cap)
			len += (size_t)snprintf(script + len, cap - len,
						"add rule inet " LOCK_TABLE " out %s %s drop\n", pid, a, b);
	}
	rc = inet_guard(in);
	if (!rc)
		rc = run_nft(in->pid, script, 0);
	free(script);
	if (!rc)
		in->locked = 1;
	else
		inet_unguard(in, 0);
	return rc;
}



static int repair_queue(int s, int q)
{
	return setsockopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ? -errno : 0;
}

/* The state of an established connection, read in TCP repair mode
 * (which needs CAP_NET_ADMIN) through pfrez's duplicate of the socket,
 * held until the original's fate is known; its queues are peeked at. */
static int conn_read(pid_t pid, const struct snap_file *f, struct inet_obj *o)
{
	struct rec_tcp_conn *c = &o->r.conn;
	struct tcp_repair_window win;
	struct tcp_info ti;
	socklen_t l;
	int s, on = TCP_REPAIR_ON, v, inq = 0, outq = 0, nsd = 0, rc = 0;
	char what[200], a[80], p[80];
	uint32_t seq;

	s = o->held;
	addr_name(a, sizeof(a), o->r.local, o->r.local_len);
	addr_name(p, sizeof(p), o->r.peer, o->r.peer_len);
	snprintf(what, sizeof(what), "process %d: fd %d: tcp connection %s to %s", pid, f->first_fd, a, p);
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return errno == EPERM ? err_msg(EPERM, "%s: reading it (TCP_REPAIR) needs CAP_NET_ADMIN", what) :
		       err_sys(errno, "%s: TCP_REPAIR", what);
	errno = 0;
	l = sizeof(seq);
	if (repair_queue(s, TCP_RECV_QUEUE) || getsockopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &l) < 0) {
		rc = err_sys(errno, "%s: its receive sequence", what);
		goto out;
	}
	c->rcv_seq = seq;
	l = sizeof(seq);
	if (repair_queue(s, TCP_SEND_QUEUE) || getsockopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &l) < 0) {
		rc = err_sys(errno, "%s: its send sequence", what);
		goto out;
	}
	c->snd_seq = seq;
	if (ioctl(s, SIOCINQ, &inq) < 0 || ioctl(s, SIOCOUTQ, &outq) < 0 || ioctl(s, SIOCOUTQNSD, &nsd) < 0 ||
	    inq < 0 || outq < 0 || nsd < 0 || nsd > outq) {
		rc = err_sys(errno ? errno : EIO, "%s: the size of its queues", what);
		goto out;
	}
	if ((size_t)inq + (size_t)outq > REC_MAX_PAYLOAD - sizeof(o->r)) {
		rc = err_msg(E2BIG, "%s: %d bytes queued, more than a record carries (%zu)", what, inq + outq,
			     REC_MAX_PAYLOAD - sizeof(o->r));
		goto out;
	}
	c->inq_len = (uint32_t)inq;
	c->outq_len = (uint32_t)outq;
	c->unsent_len = (uint32_t)nsd;
	o->q = malloc((size_t)inq + (size_t)outq + 1);
	if (!o->q) {
		rc = err_sys(ENOMEM, "%s: its queues", what);
		goto out;
	}
	/* MSG_PEEK takes nothing: in repair mode, with the queue chosen,
	 * it reads the receive queue, or the send queue. */
	if (inq && (repair_queue(s, TCP_RECV_QUEUE) ||
		    recv(s, o->q, (size_t)inq, MSG_PEEK | MSG_DONTWAIT) != inq)) {
		rc = err_sys(errno ? errno : EIO, "%s: reading its receive queue", what);
		goto out;
	}
	if (outq && (repair_queue(s, TCP_SEND_QUEUE) ||
		     recv(s, o->q + inq, (size_t)outq, MSG_PEEK | MSG_DONTWAIT) != outq)) {
		rc = err_sys(errno ? errno : EIO, "%s: reading its send queue", what);
		goto out;
	}
	repair_queue(s, TCP_NO_QUEUE);
	l = sizeof(ti);
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0) {
		rc = err_sys(errno, "%s: TCP_INFO", what);
		goto out;
	}
	c->opts = ti.tcpi_options & (TCPI_OPT_TIMESTAMPS | TCPI_OPT_SACK | TCPI_OPT_WSCALE);
	c->snd_wscale = ti.tcpi_snd_wscale;
	c->rcv_wscale = ti.tcpi_rcv_wscale;
	l = sizeof(v);
	if (getsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &v, &l) < 0) {
		rc = err_sys(errno, "%s: TCP_MAXSEG", what);
		goto out;
	}
	c->mss = (uint32_t)v;
	l = sizeof(seq);
	if (getsockopt(s, IPPROTO_TCP, TCP_TIMESTAMP, &seq, &l) < 0) {
		rc = err_sys(errno, "%s: TCP_TIMESTAMP", what);
		goto out;
	}
	c->timestamp = seq;
	l = sizeof(win);
	if (getsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, &l) < 0) {
		rc = err_sys(errno, "%s: TCP_REPAIR_WINDOW", what);
		goto out;
	}
	c->snd_wl1 = win.snd_wl1;
	c->snd_wnd = win.snd_wnd;
	c->max_window = win.max_window;
	c->rcv_wnd = win.rcv_wnd;
	c->rcv_wup = win.rcv_wup;
out:
	/* Out of repair mode at once, without a window probe: if the move
	 * fails, the original goes on with it as it was (the lock keeps it
	 * silent meanwhile). */
	conn_unrepair(o);
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
		in->v[in->n].held = -1;
		in->v[in->n].r.file = (uint32_t)i;
		rc = see_socket(c->pid, &s->files[i], &in->v[in->n].r, c->halt);
		if (!rc)
			in->n++;
	}
	if (in) {
		in->pid = c->pid;
		in->guard_fd = -1;
	}
	/* Connections: the peer must see nothing of them from here on (no
	 * new data the copy would lack, no reset once the original is
	 * gone), then their state is read. */
	for (size_t i = 0; !rc && in && i < in->n; i++) {
		struct inet_obj *o = &in->v[i];
		socklen_t l = sizeof(o->reuse);

		if (o->r.state != INET_CONN)
			continue;
		o->held = grab(c->pid, s->files[o->r.file].first_fd);
		if (o->held < 0)
			rc = o->held;
		else if (getsockopt(o->held, SOL_SOCKET, SO_REUSEADDR, &o->reuse, &l) < 0)
			rc = err_sys(errno, "process %d: fd %d: SO_REUSEADDR", c->pid, s->files[o->r.file].first_fd);
	}
	for (size_t i = 0; !rc && in && i < in->n; i++)
		if (in->v[i].r.state == INET_CONN && !in->locked)
			rc = inet_lock(in);
	for (size_t i = 0; !rc && in && i < in->n; i++)
		if (in->v[i].r.state == INET_CONN)
			rc = conn_read(c->pid, &s->files[in->v[i].r.file], &in->v[i]);
	*data = in;
	return rc;
}

static int inets_write(const void *data, struct rec_writer *w)
{
	const struct inets *in = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < in->n; i++)
		rc = rec_write(w, REC_INET, &in->v[i].r, sizeof(in->v[i].r), in->v[i].q,
			       (size_t)in->v[i].r.conn.inq_len + in->v[i].r.conn.outq_len);
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
	static const struct rec_tcp_conn none;
	struct rec_inet r;
	size_t qlen;

	if (len < sizeof(r))
		return bad("malformed");
	memcpy(&r, p, sizeof(r));
	qlen = (size_t)r.conn.inq_len + r.conn.outq_len;
	if ((r.family != AF_INET && r.family != AF_INET6) ||
	    (r.type != SOCK_STREAM && r.type != SOCK_DGRAM) ||
	    (r.state == INET_DGRAM) != (r.type == SOCK_DGRAM) ||
	    r.state < INET_LISTEN || r.state > INET_CONN || r.nopts > INET_OPTS ||
	    r.local_len > INET_ADDR_LEN || r.peer_len > INET_ADDR_LEN ||
	    !addr_ok(r.local, r.local_len, r.family) || !addr_ok(r.peer, r.peer_len, r.family) ||
	    (r.state == INET_LISTEN && !r.local_len) ||
	    ((r.state == INET_LISTEN || r.state == INET_FRESH) && r.peer_len) ||
	    (r.state == INET_CONN && (!r.local_len || !r.peer_len || r.conn.unsent_len > r.conn.outq_len ||
				      r.conn.snd_wscale > 14 || r.conn.rcv_wscale > 14)) ||
	    (r.state != INET_CONN && memcmp(&r.conn, &none, sizeof(none))) ||
	    len != sizeof(r) + qlen)
		return bad("malformed");
	for (uint32_t i = 0; i < r.nopts; i++)
		if (!opt_label(r.opt[i].level, r.opt[i].name))
			return bad("an option pthaw does not know");
	if (!in && !(in = *data = calloc(1, sizeof(*in))))
		return err_sys(ENOMEM, "sockets");
	in->guard_fd = -1;
	if (in->n >= SNAP_FD_MAX)
		return bad("too many");
	if (snap_grow((void **)&in->v, &in->cap, in->n, sizeof(*in->v)))
		return err_sys(ENOMEM, "sockets");
	in->v[in->n] = (struct inet_obj){ .r = r, .held = -1 };
	if (qlen && !(in->v[in->n].q = malloc(qlen)))
		return err_sys(ENOMEM, "sockets");
	if (qlen)
		memcpy(in->v[in->n].q, p + sizeof(r), qlen);
	in->n++;
	return 0;
}

static const struct rec_inet *inet_of(const struct snap *s, uint32_t file)
{
	const struct inets *in = s->kind[KIND_INET];

	for (size_t i = 0; in && i < in->n; i++)
		if (in->v[i].r.file == file)
			return &in->v[i].r;
	return NULL;
}

/* Each socket record is a socket file, once. */
static int inets_verify(const struct snap *s, const void *data)
{
	const struct inets *in = data;

	for (size_t i = 0; i < in->n; i++) {
		if (in->v[i].r.file >= s->nfiles || s->files[in->v[i].r.file].r.kind != FD_INET)
			return bad("refers to a file that is not a socket");
		for (size_t j = 0; j < i; j++)
			if (in->v[j].r.file == in->v[i].r.file)
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

/* Whether pthaw holds CAP_NET_ADMIN, which TCP_REPAIR needs (in the
 * user namespace of its network namespace: here, its own). */
static int have_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return 0;
	return (d[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
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
		const struct rec_inet *r = &in->v[i].r;
		const struct snap_file *f = &s->files[r->file];
		char a[80];
		int t, one = 1, e = 0;

		addr_name(a, sizeof(a), r->local, r->local_len);
		if (r->state == INET_CONN) {
			if (!have_net_admin())
				rc = kind_problem(c, err_msg(EPERM, "fd %d: a tcp connection on %s: restoring it (TCP_REPAIR) needs CAP_NET_ADMIN",
							     f->first_fd, a));
		} else if (c->take_sockets && r->local_len && original_holds(c->same_host, s->proc.pid, f)) {
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

/* Runs bind or connect (nr) of t to the address, waiting (as for a lock,
 * locks.c) while the address is in use: after `pfrez -halt | pthaw` the
 * original holds it until pfrez has written the stream and ended it.  A
 * connection's addresses in use show as EADDRNOTAVAIL too. */
static long addr_wait(struct kind_restore *r, long nr, long t, const uint8_t *addr, uint32_t len)
{
	struct timespec t0, now;
	long ret, delay = 10;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int spool = 0;; spool = 1) {
		ret = pcall(r->pl, nr, t, (long)r->pl->hello.scratch, len, 0, 0, addr, len);
		if (ret != -EADDRINUSE && (nr != SYS_connect || ret != -EADDRNOTAVAIL))
			return ret;
		/* From a pipe, the rest of the stream is read ahead
		 * (layer_spool.c), for pfrez to finish it and end the
		 * original: the seconds count from its end. */
		if (!spool && (ret = layer_spool_input()) < 0)
			return ret;
		if (!layer_spool_ended())
			clock_gettime(CLOCK_MONOTONIC, &t0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= INET_WAIT_MS)
			return ret;
		nanosleep(&(struct timespec){ 0, delay * 1000000 }, NULL);
		delay = delay < 200 ? delay * 2 : delay;
	}
}

static long psetopt(struct kind_restore *r, long t, int level, int name, const void *v, size_t n)
{
	return pcall(r->pl, SYS_setsockopt, t, level, name, (long)r->pl->hello.scratch, (long)n, v, n);
}

/* Sends n bytes through t (to the queue repair mode chose, or on the
 * wire), in pieces that fit pload's scratch area. */
static long psend(struct kind_restore *r, long t, const unsigned char *q, size_t n)
{
	size_t off = 0;

	while (off < n) {
		size_t k = n - off > (1u << 20) ? (1u << 20) : n - off;
		long ret = pcall(r->pl, SYS_sendto, t, (long)r->pl->hello.scratch, (long)k, 0, 0, q + off, k);

		if (ret == -EINTR)
			continue;
		if (ret <= 0)
			return ret < 0 ? ret : -EIO;
		off += (size_t)ret;
	}
	return 0;
}

static const struct inet_obj *obj_of(const struct snap *s, uint32_t file)
{
	const struct inets *in = s->kind[KIND_INET];

	for (size_t i = 0; in && i < in->n; i++)
		if (in->v[i].r.file == file)
			return &in->v[i];
	return NULL;
}

/* An established connection, made again in repair mode: its sequence
 * numbers, addresses (connect sends nothing in repair mode), options,
 * window and queues.  It leaves repair mode, and sends what was never
 * sent, at KIND_STAGE_LAST (inets_restore). */
static long conn_open(struct kind_restore *r, const struct snap_file *f, const struct inet_obj *o)
{
	const struct rec_inet *in = &o->r;
	const struct rec_tcp_conn *c = &in->conn;
	struct tcp_repair_opt ro[4];
	struct tcp_repair_window win = { c->snd_wl1, c->snd_wnd, c->max_window, c->rcv_wnd, c->rcv_wup };
	int on = TCP_REPAIR_ON, n = 0, q;
	uint32_t seq;
	long t, ret = 0;
	char what[200], a[80], p[80];
	const char *step = "";

	addr_name(a, sizeof(a), in->local, in->local_len);
	addr_name(p, sizeof(p), in->peer, in->peer_len);
	snprintf(what, sizeof(what), "fd %d: tcp connection %s to %s", f->first_fd, a, p);
	/* Blocking until the queues are filled (O_NONBLOCK comes back at
	 * KIND_STAGE_LAST). */
	t = pcall(r->pl, SYS_socket, in->family, SOCK_STREAM, in->protocol, 0, 0, NULL, 0);
	if (t < 0)
		return err_sys((int)-t, "%s: socket", what);
#define STEP(s, call) do { if (ret >= 0) { step = (s); ret = (call); } } while (0)
	/* Repair mode also lets it bind beside its listener, on one port
	 * (the kernel forces the reuse; SO_REUSEADDR would end that: it is
	 * set, if the process had it, when repair mode ends). */
	STEP("TCP_REPAIR", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)));
	q = TCP_SEND_QUEUE;
	seq = c->snd_seq - c->outq_len;
	STEP("the send queue", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)));
	STEP("the send sequence", psetopt(r, t, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)));
	q = TCP_RECV_QUEUE;
	seq = c->rcv_seq - c->inq_len;
	STEP("the receive queue", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)));
	STEP("the receive sequence", psetopt(r, t, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)));
	for (uint32_t i = 0; ret >= 0 && i < in->nopts; i++) {
		int v = in->opt[i].value;

		if (in->opt[i].level == SOL_SOCKET && in->opt[i].name == SO_REUSEADDR)
			continue;
		if (in->opt[i].level == SOL_SOCKET && (in->opt[i].name == SO_RCVBUF || in->opt[i].name == SO_SNDBUF))
			v /= 2;
		STEP(opt_label(in->opt[i].level, in->opt[i].name),
		     psetopt(r, t, in->opt[i].level, in->opt[i].name, &v, sizeof(v)));
	}
	STEP("bind", addr_wait(r, SYS_bind, t, in->local, in->local_len));
	STEP("connect", addr_wait(r, SYS_connect, t, in->peer, in->peer_len));
	ro[n++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, c->mss };
	if (c->opts & TCPI_OPT_WSCALE)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, c->snd_wscale | c->rcv_wscale << 16 };
	if (c->opts & TCPI_OPT_SACK)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (c->opts & TCPI_OPT_TIMESTAMPS)
		ro[n++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	STEP("TCP_REPAIR_OPTIONS", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_OPTIONS, ro, n * sizeof(ro[0])));
	if (c->opts & TCPI_OPT_TIMESTAMPS)
		STEP("TCP_TIMESTAMP", psetopt(r, t, IPPROTO_TCP, TCP_TIMESTAMP, &c->timestamp, sizeof(c->timestamp)));
	q = TCP_RECV_QUEUE;
	STEP("the receive queue", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)));
	STEP("the received bytes", psend(r, t, o->q, c->inq_len));
	q = TCP_SEND_QUEUE;
	STEP("the send queue", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)));
	STEP("the bytes sent", psend(r, t, o->q + c->inq_len, c->outq_len - c->unsent_len));
	/* The window once the queues are in: the kernel checks it against
	 * where the receive queue ends. */
	STEP("TCP_REPAIR_WINDOW", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, sizeof(win)));
	q = TCP_NO_QUEUE;
	STEP("TCP_REPAIR_QUEUE", psetopt(r, t, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)));
#undef STEP
	if (ret < 0) {
		pcall(r->pl, SYS_close, t, 0, 0, 0, 0, NULL, 0);
		if (ret == -EADDRNOTAVAIL || ret == -EADDRINUSE)
			return err_msg((int)-ret, "%s: its addresses are in use here (waited %d s): the original still holds the connection?",
				       what, INET_WAIT_MS / 1000);
		return err_sys((int)-ret, "%s: %s", what, step);
	}
	return t;
}

static long inet_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct rec_inet *in = inet_of(s, f->r.id);
	long t, ret = 0;
	char a[80];

	if (in->state == INET_CONN)
		return conn_open(r, f, obj_of(s, f->r.id));

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
		ret = addr_wait(r, SYS_bind, t, in->local, in->local_len);
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
	return st == INET_LISTEN ? "listening" : st == INET_FRESH ? "not connected" :
	       st == INET_CONN ? "connected" : "datagrams";
}

static void inets_print(FILE *f, const void *data)
{
	const struct inets *in = data;

	fprintf(f, "Sockets (TCP, UDP):\n");
	for (size_t i = 0; i < in->n; i++) {
		const struct rec_inet *r = &in->v[i].r;
		char a[80], p[80];

		addr_name(a, sizeof(a), r->local, r->local_len);
		addr_name(p, sizeof(p), r->peer, r->peer_len);
		fprintf(f, "  file %u: %s %s on %s", r->file, proto_name(r), state_name(r->state), a);
		if (r->peer_len)
			fprintf(f, " to %s", p);
		if (r->state == INET_LISTEN)
			fprintf(f, ", backlog %u, %u waiting", r->backlog, r->queued);
		if (r->state == INET_CONN)
			fprintf(f, ", send seq %u, receive seq %u, %u bytes received unread, %u sent unacknowledged, %u unsent, mss %u%s%s%s",
				r->conn.snd_seq, r->conn.rcv_seq, r->conn.inq_len,
				r->conn.outq_len - r->conn.unsent_len, r->conn.unsent_len, r->conn.mss,
				r->conn.opts & TCPI_OPT_TIMESTAMPS ? ", timestamps" : "",
				r->conn.opts & TCPI_OPT_SACK ? ", sack" : "",
				r->conn.opts & TCPI_OPT_WSCALE ? ", window scaling" : "");
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
		const struct rec_inet *r = &in->v[i].r;
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
		if (r->state == INET_CONN) {
			json_object_begin(j, "connection");
			json_uint(j, "snd_seq", r->conn.snd_seq);
			json_uint(j, "rcv_seq", r->conn.rcv_seq);
			json_uint(j, "received_unread", r->conn.inq_len);
			json_uint(j, "send_queue", r->conn.outq_len);
			json_uint(j, "unsent", r->conn.unsent_len);
			json_uint(j, "mss", r->conn.mss);
			json_bool(j, "timestamps", (r->conn.opts & TCPI_OPT_TIMESTAMPS) != 0);
			json_bool(j, "sack", (r->conn.opts & TCPI_OPT_SACK) != 0);
			json_bool(j, "window_scaling", (r->conn.opts & TCPI_OPT_WSCALE) != 0);
			json_uint(j, "snd_wscale", r->conn.snd_wscale);
			json_uint(j, "rcv_wscale", r->conn.rcv_wscale);
			json_object_end(j);
		}
		json_object_begin(j, "options");
		for (uint32_t k = 0; k < r->nopts; k++)
			json_int(j, opt_label(r->opt[k].level, r->opt[k].name), r->opt[k].value);
		json_object_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

/* Connections leave repair mode, all together once everything else is
 * in place: the window probe tells the peer where they are.  Then the
 * bytes that were never sent go, and the lock of a move within this
 * network namespace goes. */
static int inets_restore(struct kind_restore *r, const void *data)
{
	const struct inets *in = data;
	const struct snap *s = r->snap;
	int off = TCP_REPAIR_OFF, any = 0;

	for (size_t i = 0; i < in->n; i++) {
		const struct inet_obj *o = &in->v[i];
		const struct snap_file *f = &s->files[o->r.file];
		const struct rec_tcp_conn *c = &o->r.conn;
		long ret;

		if (o->r.state != INET_CONN)
			continue;
		any = 1;
		ret = psetopt(r, f->first_fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off));
		for (uint32_t k = 0; ret >= 0 && k < o->r.nopts; k++)
			if (o->r.opt[k].level == SOL_SOCKET && o->r.opt[k].name == SO_REUSEADDR)
				ret = psetopt(r, f->first_fd, SOL_SOCKET, SO_REUSEADDR, &o->r.opt[k].value,
					      sizeof(o->r.opt[k].value));
		if (ret >= 0)
			ret = psend(r, f->first_fd, o->q + c->inq_len + c->outq_len - c->unsent_len, c->unsent_len);
		if (ret >= 0 && (f->r.flags & O_NONBLOCK))
			ret = pcall(r->pl, SYS_fcntl, f->first_fd, F_SETFL, f->r.flags & ~(uint32_t)O_ACCMODE, 0, 0,
				    NULL, 0);
		if (ret < 0)
			return err_sys((int)-ret, "fd %d: the tcp connection: leaving repair mode", f->first_fd);
	}
	if (any && r->same_host)
		inet_unlock(0, r->old_pid);
	return 0;
}

/* pfrez: the original ends (its connections, in repair mode again, then
 * close without a word, and the lock stays for the copy), or resumes
 * (the lock goes: the peer's next retransmission finds it). */
static void inets_settle(void *data, int ended)
{
	struct inets *in = data;
	int on = TCP_REPAIR_ON;

	if (in->settled || !in->locked)
		return;
	in->settled = 1;
	if (!ended) {
		inet_unguard(in, 0);	/* it lifts the lock */
		return;
	}
	inet_unguard(in, 1);
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].held >= 0)
			setsockopt(in->v[i].held, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
	fprintf(stderr, "pfrez: process %d's TCP connections stay held in its network namespace (nftables table inet " LOCK_TABLE ") until their address has moved; pthaw deletes it when the copy runs in that namespace, else: nft delete table inet " LOCK_TABLE "\n",
		in->pid, (unsigned)in->pid, (unsigned)in->pid);
}

static void inets_free(void *data)
{
	struct inets *in = data;

	for (size_t i = 0; in && i < in->n; i++) {
		if (in->v[i].held >= 0)
			close(in->v[i].held);
		free(in->v[i].q);
	}
	if (in && in->guard_fd >= 0)
		inet_unguard(in, 0);
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
	.stages = KIND_AT(KIND_STAGE_LAST),
	.capture = inets_capture,
	.write = inets_write,
	.take = inets_take,
	.verify = inets_verify,
	.check = inets_check,
	.restore = inets_restore,
	.print = inets_print,
	.print_json = inets_print_json,
	.free = inets_free,
	.settle = inets_settle,
};
