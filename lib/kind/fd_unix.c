/* fd_unix.c: unix sockets.  A pair whose both ends the process holds (a
 * socketpair, or a connection it made to itself) comes back as a
 * socketpair with the messages queued each way; a listening or bound
 * socket is bound again to its path or abstract name; a connection not
 * yet accepted is made again to its listener, in the listener's order; a
 * socket connected to one outside the process (or tree) is refused,
 * since one end cannot be made again alone (fd_unix_tree.c makes the
 * connections across the processes of a tree, and those a listener's
 * name makes again).  The queues are read in pfrez without being
 * consumed: the socket is taken into pfrez with pidfd_getfd(2) and read
 * with MSG_PEEK at a moving SO_PEEK_OFF, which is put back as it was. */
#include "fd_unix.h"
#include "fdkind.h"
#include "err.h"
#include "json.h"
#include "kind.h"
#include "layer.h"
#include "pload_ctl.h"
#include "snap.h"
#include "treeshare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/* Bytes queued on one socket that a record may carry, and the largest
 * message (it goes through pload's scratch area in one piece). */
#define UNIX_QUEUE_MAX	(REC_MAX_PAYLOAD - 4096)
#define UNIX_MSG_MAX	(1u << 20)
/* Connections waiting to be accepted on one listener. */
#define UNIX_ICONS_MAX	256
/* How long pthaw waits for a name another socket holds: after
 * `pfrez -halt | pthaw` the original holds it until pfrez has flushed the
 * stream and ended it (locks.c waits the same way). */
#define UNIX_WAIT_MS	5000

static const char *type_name(uint32_t type)
{
	return type == SOCK_STREAM ? "stream" : type == SOCK_DGRAM ? "dgram" :
	       type == SOCK_SEQPACKET ? "seqpacket" : "?";
}

static const char *state_name(uint32_t state)
{
	static const char *const name[] = { "unconnected", "pair", "listening", "peer closed",
					    "connected", "pair across the tree", "not yet accepted" };

	return state <= UNIX_CONNECTING ? name[state] : "?";
}

/* A name of nlen bytes, printable: "@..." for an abstract one. */
const char *unix_name_str(char *buf, size_t len, const void *name, uint32_t nlen)
{
	char e[4 * UNIX_NAME_MAX + 2];
	const char *n = name;

	if (!nlen)
		return snprintf(buf, len, "(unnamed)"), buf;
	if (n[0] == '\0') {
		err_escape(e, sizeof(e), n + 1, nlen - 1);
		snprintf(buf, len, "@%s", e);
	} else {
		err_escape(e, sizeof(e), n, nlen);
		snprintf(buf, len, "%s", e);
	}
	return buf;
}

static const char *sock_name(char *buf, size_t len, const struct unix_sock *u)
{
	return unix_name_str(buf, len, u->body, u->r.name_len);
}

/* The socket families the kernel names in the sockfs xattr: "UNIX" for
 * datagram and seqpacket, "UNIX-STREAM" for stream sockets. */
static int unix_claim(const struct fd_info *d, struct rec_file *r)
{
	char path[64], proto[32];
	ssize_t n;

	(void)r;
	if (!S_ISSOCK(d->sb->st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, d->fd);
	n = getxattr(path, "system.sockprotoname", proto, sizeof(proto) - 1);
	if (n < 0)
		return 0;
	proto[n] = '\0';
	return strncmp(proto, "UNIX", 4) == 0 && (proto[4] == '\0' || proto[4] == '-');
}

/* Capture. */

struct diag {
	uint64_t ino;
	uint32_t type, state, shutdown, rqlen, wqlen, nicons;
	uint32_t icons[UNIX_ICONS_MAX];	/* the connections waiting, in order:
					 * their clients' inodes */
	uint64_t peer;
	uint32_t vfs_dev;
	uint64_t vfs_ino;
	char name[UNIX_NAME_MAX];
	uint32_t name_len;
};

/* The attributes of a sock_diag answer about one socket, left bytes of
 * them after m. */
static int diag_parse(const struct unix_diag_msg *m, int left, struct diag *d)
{
	const struct nlattr *a;

	memset(d, 0, sizeof(*d));
	d->ino = m->udiag_ino;
	d->type = m->udiag_type;
	d->state = m->udiag_state;
	for (a = (const struct nlattr *)(m + 1); left >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	     a->nla_len <= left; left -= NLA_ALIGN(a->nla_len),
	     a = (const struct nlattr *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		const void *v = (const char *)a + NLA_HDRLEN;
		size_t vl = a->nla_len - NLA_HDRLEN;

		switch (a->nla_type) {
		case UNIX_DIAG_NAME:
			if (vl > UNIX_NAME_MAX)
				return err_msg(EIO, "sock_diag: unix socket %llu: name too long",
					       (unsigned long long)m->udiag_ino);
			memcpy(d->name, v, vl);
			/* A path name ends with the NUL bind() counted. */
			while (vl && d->name[0] && d->name[vl - 1] == '\0')
				vl--;
			d->name_len = (uint32_t)vl;
			break;
		case UNIX_DIAG_PEER:
			if (vl >= 4)
				d->peer = *(const uint32_t *)v;
			break;
		case UNIX_DIAG_RQLEN:
			if (vl >= sizeof(struct unix_diag_rqlen)) {
				d->rqlen = ((const struct unix_diag_rqlen *)v)->udiag_rqueue;
				d->wqlen = ((const struct unix_diag_rqlen *)v)->udiag_wqueue;
			}
			break;
		case UNIX_DIAG_ICONS:
			d->nicons = (uint32_t)(vl / 4);
			memcpy(d->icons, v, (d->nicons < UNIX_ICONS_MAX ? d->nicons : UNIX_ICONS_MAX) * 4);
			break;
		case UNIX_DIAG_SHUTDOWN:
			if (vl >= 1)
				d->shutdown = *(const uint8_t *)v;
			break;
		case UNIX_DIAG_VFS:
			if (vl >= sizeof(struct unix_diag_vfs)) {
				d->vfs_dev = ((const struct unix_diag_vfs *)v)->udiag_vfs_dev;
				d->vfs_ino = ((const struct unix_diag_vfs *)v)->udiag_vfs_ino;
			}
			break;
		}
	}
	return 0;
}


/* NETLINK_SOCK_DIAG, one exact lookup by inode: the socket's type, state,
 * peer, name, queue lengths and shutdown state.  The socket must be in
 * pfrez's network namespace (checked by the caller). */
static int diag_get(int nl, uint64_t ino, struct diag *d)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = ~0u, .udiag_ino = (uint32_t)ino,
			 .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN |
				       UDIAG_SHOW_ICONS | UDIAG_SHOW_VFS,
			 .udiag_cookie = { ~0u, ~0u } },
	};
	union {
		struct nlmsghdr h;
		char b[8192];
	} rep;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct unix_diag_msg *m;
	ssize_t n;

	if (sendto(nl, &q, sizeof(q), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_sys(errno, "sock_diag: unix socket %llu", (unsigned long long)ino);
	n = recv(nl, &rep, sizeof(rep), 0);
	if (n < 0)
		return err_sys(errno, "sock_diag: unix socket %llu", (unsigned long long)ino);
	if (!NLMSG_OK(&rep.h, n))
		return err_msg(EIO, "sock_diag: unix socket %llu: short answer", (unsigned long long)ino);
	if (rep.h.nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *e = NLMSG_DATA(&rep.h);

		return err_sys(e->error ? -e->error : EIO, "sock_diag: unix socket %llu",
			       (unsigned long long)ino);
	}
	m = NLMSG_DATA(&rep.h);
	if (rep.h.nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || m->udiag_ino != (uint32_t)ino)
		return err_msg(EIO, "sock_diag: unix socket %llu: unexpected answer", (unsigned long long)ino);
	return diag_parse(m, (int)(rep.h.nlmsg_len - NLMSG_LENGTH(sizeof(*m))), d);
}

/* One NETLINK_SOCK_DIAG dump of the unix sockets in states (a bit per
 * TCP_* state) with the attributes show asks for: fn sees each socket
 * and ends the walk by returning nonzero, which is returned; 0 when it
 * never did, or -errno. */
static int diag_dump(uint32_t states, uint32_t show, int (*fn)(const struct diag *d, void *arg), void *arg)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req req;
	} q = {
		.nlh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = states, .udiag_show = show },
	};
	static char buf[65536];
	struct diag d;
	int nl, rc = 0, done = 0;

	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -errno;
	if (send(nl, &q, sizeof(q), 0) < 0)
		rc = -errno;
	while (!rc && !done) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0)
			break;
		for (; !rc && NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			const struct unix_diag_msg *m = NLMSG_DATA(h);

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
				done = 1;
				break;
			}
			/* A socket the kernel describes oddly (a name too
			 * long) is not the one looked for. */
			if (!diag_parse(m, (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m))), &d))
				rc = fn(&d, arg);
			else
				err_clear();
		}
	}
	close(nl);
	return rc;
}

static int queue_add(struct unix_sock *u, size_t *cap, const void *p, uint32_t len)
{
	size_t need = u->blen + 4 + len;

	if (need > *cap) {
		size_t c = *cap ? *cap * 2 : 4096;
		unsigned char *b;

		while (c < need)
			c *= 2;
		if (!(b = realloc(u->body, c)))
			return err_sys(ENOMEM, "unix socket queue");
		u->body = b;
		*cap = c;
	}
	memcpy(u->body + u->blen, &len, 4);
	memcpy(u->body + u->blen + 4, p, len);
	u->blen = need;
	u->r.nmsgs++;
	u->r.qbytes += len;
	return 0;
}

/* One peek at s: 0 with *n the message's (or the stream's bytes') length,
 * -1 when nothing is queued, 0 at the end; or a refusal.  A message
 * carrying descriptors (SCM_RIGHTS) is refused: the files in flight are
 * no fd of the process's, and a restore could not send them again. */
static int peek(pid_t pid, int fd, int s, const struct unix_sock *u, unsigned char *buf, ssize_t *n)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 64) + CMSG_SPACE(sizeof(struct ucred)) + 256];
	} ctl;
	struct iovec iov = { buf, UNIX_MSG_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c;
	int fds = 0;

	*n = recvmsg(s, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (*n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (*n < 0)
		return err_sys(errno, "process %d: fd %d: unix socket: reading its queue", pid, fd);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		/* The peek gave pfrez its own references: let them go. */
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(((int *)CMSG_DATA(c))[i]);
		fds = 1;
	}
	if (fds || (mh.msg_flags & MSG_CTRUNC))
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket: descriptors in flight (SCM_RIGHTS) are queued on it: cannot be restored",
			       pid, fd);
	if (u->r.type != SOCK_STREAM && (mh.msg_flags & MSG_TRUNC))
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket: a message over %u bytes is queued on it",
			       pid, fd, UNIX_MSG_MAX);
	/* A stream at its end; a seqpacket whose peer shut down; or an
	 * empty datagram, which does not move the peek offset and cannot
	 * be told from the end. */
	if (*n == 0 && (u->r.type == SOCK_DGRAM || (u->r.type == SOCK_SEQPACKET && !(u->r.shutdown & UNIX_SHUT_RD))))
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket: an empty message is queued on it: cannot be restored",
			       pid, fd);
	if (*n > 0 && u->r.qbytes + (size_t)*n > UNIX_QUEUE_MAX)
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket: more than %u bytes queued on it",
			       pid, fd, UNIX_QUEUE_MAX);
	if (*n < 0)
		*n = -1;
	return 0;
}

/* The messages queued for s to receive (rqlen: the bytes of a stream or
 * seqpacket queue, the first datagram's of a datagram one).  A peek
 * returns one datagram or seqpacket message whole, a stream's bytes up to
 * a boundary of writers or descriptors.  When one peek gets all (or finds
 * nothing), the socket is left as it was; else the messages are peeked
 * one by one at a moving SO_PEEK_OFF, which is the socket's: the
 * original's (-1, off, unless it set one) is put back at once.  The
 * process is stopped and nothing reads the socket meanwhile; should pfrez
 * die in between, only the original's own MSG_PEEK calls would see the
 * offset moved. */
static int read_queue(pid_t pid, int fd, int s, struct unix_sock *u, uint32_t rqlen)
{
	static unsigned char buf[UNIX_MSG_MAX];
	socklen_t ol = sizeof(int);
	int zero = 0, rc = 0;
	size_t cap = u->blen;
	ssize_t n;

	if (u->r.peek_off == -1) {
		rc = peek(pid, fd, s, u, buf, &n);
		if (rc || n <= 0)
			return rc;
		if (u->r.type != SOCK_DGRAM && (size_t)n == rqlen)
			return queue_add(u, &cap, buf, (uint32_t)n);
	}
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return err_sys(errno, "process %d: fd %d: unix socket: SO_PEEK_OFF", pid, fd);
	while (!(rc = peek(pid, fd, s, u, buf, &n)) && n > 0 && !(rc = queue_add(u, &cap, buf, (uint32_t)n)))
		;
	zero = u->r.peek_off;
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &zero, ol) < 0 && !rc)
		rc = err_sys(errno, "process %d: fd %d: unix socket: putting SO_PEEK_OFF back", pid, fd);
	return rc;
}

static int get_int(int s, int opt, int *v)
{
	socklen_t l = sizeof(*v);

	*v = 0;
	return getsockopt(s, SOL_SOCKET, opt, v, &l) < 0 ? -errno : 0;
}

static int get_opts(pid_t pid, int fd, int s, struct rec_unix *r)
{
	struct timeval tv;
	socklen_t l = sizeof(tv);
	int v[5];

	if (get_int(s, SO_RCVBUF, &v[0]) || get_int(s, SO_SNDBUF, &v[1]) ||
	    get_int(s, SO_PEEK_OFF, &v[2]) || get_int(s, SO_RCVLOWAT, &v[3]) ||
	    get_int(s, SO_PRIORITY, &v[4]))
		return err_sys(errno, "process %d: fd %d: unix socket: getsockopt", pid, fd);
	r->rcvbuf = v[0], r->sndbuf = v[1], r->peek_off = v[2], r->rcvlowat = v[3], r->priority = v[4];
	if (!get_int(s, SO_PASSCRED, &v[0]) && v[0])
		r->opts |= UNIX_PASSCRED;
	if (!get_int(s, SO_PASSSEC, &v[0]) && v[0])
		r->opts |= UNIX_PASSSEC;
	if (!get_int(s, SO_PASSPIDFD, &v[0]) && v[0])
		r->opts |= UNIX_PASSPIDFD;
	if (getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, &l) < 0)
		return err_sys(errno, "process %d: fd %d: unix socket: SO_RCVTIMEO", pid, fd);
	r->rcvtimeo[0] = tv.tv_sec, r->rcvtimeo[1] = tv.tv_usec;
	l = sizeof(tv);
	if (getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, &l) < 0)
		return err_sys(errno, "process %d: fd %d: unix socket: SO_SNDTIMEO", pid, fd);
	r->sndtimeo[0] = tv.tv_sec, r->sndtimeo[1] = tv.tv_usec;
	return 0;
}

static void socks_free(void *data)
{
	struct unix_socks *us = data;

	if (!us)
		return;
	for (size_t i = 0; i < us->n; i++)
		free(us->v[i].body);
	free(us->v);
	free(us);
}

static int same_ns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/net", &b) < 0)
		return err_sys(errno, "process %d: its network namespace", pid);
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return err_msg(ENOTSUP, "process %d: its unix sockets are in another network namespace than pfrez: cannot be read",
			       pid);
	return 0;
}

/* The fd at which process pid has socket inode ino, or -1. */
static int proc_fd_of(pid_t pid, uint64_t ino)
{
	char path[320], link[64], want[64];
	struct dirent *e;
	DIR *d;
	int fd = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
	if (!(d = opendir(path)))
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = '\0', strcmp(link, want) == 0))
			fd = atoi(e->d_name);
	}
	closedir(d);
	return fd;
}

/* A listener's connections waiting to be accepted come back only when
 * the process (or another of the tree) holds each one's client, which
 * makes it again (UNIX_CONNECTING), and nothing was sent on it yet: the
 * bytes queued on a socket no fd holds cannot be read. */
static int waiting_ok(struct kind_capture *c, int nl, int fd, const struct diag *d)
{
	int hfd;

	if (d->nicons > UNIX_ICONS_MAX)
		return err_msg(ENOTSUP, "process %d: fd %d: listening unix socket: %u connections wait to be accepted, more than %u",
			       c->pid, fd, d->nicons, UNIX_ICONS_MAX);
	for (uint32_t i = 0; i < d->nicons; i++) {
		struct diag e;

		/* The client (0: it closed), then what it sent. */
		if (!d->icons[i] || (proc_fd_of(c->pid, d->icons[i]) < 0 &&
				     tshare_socket_holder(c->pid, d->icons[i], &hfd) <= 0))
			return err_msg(ENOTSUP, "process %d: fd %d: listening unix socket: %u connections wait to be accepted, one from a socket outside the process (or its tree), which a restore would lose",
				       c->pid, fd, d->nicons);
		/* What the client sent stays charged to it until read. */
		if (diag_get(nl, d->icons[i], &e))
			return err_wrap(-EIO, "process %d: fd %d: a connection waiting to be accepted", c->pid, fd);
		if (e.wqlen)
			return err_msg(ENOTSUP, "process %d: fd %d: listening unix socket: a connection waiting to be accepted has %u bytes queued, which no restore can read",
				       c->pid, fd, e.wqlen);
	}
	return 0;
}

static int sock_of(struct kind_capture *c, int pidfd, int nl, const struct snap_file *f,
		   struct unix_sock *u)
{
	int fd = f->first_fd, s, rc;
	struct diag d;

	u->ino = f->r.ident.ino;
	u->r.file = f->r.id;
	rc = diag_get(nl, u->ino, &d);
	if (rc)
		return err_wrap(rc, "process %d: fd %d", c->pid, fd);
	u->r.type = d.type;
	u->sent = d.wqlen;
	u->r.shutdown = d.shutdown & (UNIX_SHUT_RD | UNIX_SHUT_WR);
	u->peer_ino = d.peer;
	if (d.type != SOCK_STREAM && d.type != SOCK_DGRAM && d.type != SOCK_SEQPACKET)
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket of type %u: cannot be restored",
			       c->pid, fd, d.type);
	if (d.state == 10 /* TCP_LISTEN */) {
		rc = waiting_ok(c, nl, fd, &d);
		if (rc)
			return rc;
		u->r.state = UNIX_LISTEN;
		u->r.backlog = d.wqlen;
	} else if (d.state == 1 /* TCP_ESTABLISHED */ || d.peer) {
		u->r.state = d.peer ? UNIX_PAIR : UNIX_WIDOWED;
		if (!d.peer && d.type == SOCK_DGRAM)
			u->r.state = UNIX_PLAIN;	/* its peer went: sends fail */
	} else if (d.state == 2 /* TCP_SYN_SENT */) {
		return err_msg(ENOTSUP, "process %d: fd %d: unix socket: a connection not yet accepted: cannot be restored",
			       c->pid, fd);
	}
	u->body = malloc(d.name_len ? d.name_len : 1);
	if (!u->body)
		return err_sys(ENOMEM, "unix sockets");
	memcpy(u->body, d.name, d.name_len);
	u->blen = u->r.name_len = d.name_len;
	s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (s < 0)
		return err_sys(errno, "process %d: fd %d: unix socket: pidfd_getfd", c->pid, fd);
	rc = get_opts(c->pid, fd, s, &u->r);
	if (!rc && u->r.state != UNIX_LISTEN)
		rc = read_queue(c->pid, fd, s, u, d.rqlen);
	close(s);
	if (!rc && u->r.nmsgs && u->r.state == UNIX_PLAIN)
		rc = err_msg(ENOTSUP, "process %d: fd %d: unix socket: messages from other sockets are queued on it, and a restore could not send them from where they came",
			     c->pid, fd);
	return rc;
}

/* A datagram socket connected to a named one that is not connected back
 * (a client of a datagram server: syslog's /dev/log) is connected again
 * by that name: the peer's name, added to u's body. */
static int dgram_to(struct kind_capture *c, const struct snap_file *f, struct unix_sock *u,
		    const struct diag *p)
{
	unsigned char *b;

	char name[4 * UNIX_NAME_MAX + 8];

	if (u->r.nmsgs)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): unix datagram socket connected to %s: messages from it are queued, which a restore could not send again",
			       c->pid, f->first_fd, f->path, unix_name_str(name, sizeof(name), p->name, p->name_len));
	if (!(b = realloc(u->body, u->blen + p->name_len)))
		return err_sys(ENOMEM, "unix sockets");
	memcpy(b + u->blen, p->name, p->name_len);
	u->body = b;
	u->blen += p->name_len;
	u->r.peer_name_len = p->name_len;
	u->r.state = UNIX_DGRAM_TO;
	return 0;
}

struct listener_query {
	uint64_t client;
	struct diag *l;
	uint32_t place;
};

static int has_client(const struct diag *d, void *arg)
{
	struct listener_query *q = arg;

	for (uint32_t i = 0; d->name_len && i < d->nicons && i < UNIX_ICONS_MAX; i++) {
		if (d->icons[i] == (uint32_t)q->client) {
			*q->l = *d;
			q->place = i;
			return 1;
		}
	}
	return 0;
}

/* The listener whose queue has the connection of client (sock_diag
 * names each by its client): its inode and name in *l, and the
 * connection's place in its queue; 1, 0 when none has it, or -errno. */
static int listener_of(uint64_t client, uint64_t *lino, struct diag *l, uint32_t *place)
{
	struct listener_query q = { .client = client, .l = l };
	int rc = diag_dump(1u << 10 /* TCP_LISTEN */, UDIAG_SHOW_NAME | UDIAG_SHOW_ICONS, has_client, &q);

	if (rc < 0)
		return err_sys(-rc, "sock_diag: listing the listening unix sockets");
	*lino = l->ino;
	*place = q.place;
	return rc;
}

/* A connection not yet accepted (its peer is the connection's embryo in
 * a listener's queue): made again by connecting to the listener once
 * the listener is there, in its queue's order.  1 when u is one, 0 when
 * not, or a refusal. */
static int connecting(struct kind_capture *c, const struct snap_file *f, struct unix_sock *u)
{
	char name[4 * UNIX_NAME_MAX + 8];
	struct diag l = { 0 };
	uint64_t lino = 0;
	uint32_t place = 0;
	unsigned char *b;
	pid_t holder = c->pid;
	int rc, hfd;

	rc = listener_of(u->ino, &lino, &l, &place);
	if (rc <= 0)
		return rc;
	unix_name_str(name, sizeof(name), l.name, l.name_len);
	if (u->sent || u->r.shutdown || u->r.nmsgs)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): unix socket connected to %s, not yet accepted, with bytes sent or shut down: cannot be restored",
			       c->pid, f->first_fd, f->path, name);
	if ((hfd = proc_fd_of(c->pid, lino)) < 0 && (holder = tshare_socket_holder(c->pid, lino, &hfd)) <= 0)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): unix socket connected to %s, not yet accepted by its listener, which is outside the process (or its tree): cannot be restored",
			       c->pid, f->first_fd, f->path, name);
	if (!(b = realloc(u->body, u->blen + l.name_len)))
		return err_sys(ENOMEM, "unix sockets");
	memcpy(b + u->blen, l.name, l.name_len);
	u->body = b;
	u->blen += l.name_len;
	u->r.peer_name_len = l.name_len;
	u->r.state = UNIX_CONNECTING;
	u->r.peer_pid = (uint32_t)holder;
	u->r.peer = (uint32_t)hfd;
	u->r.backlog = place;
	return 1;
}

/*
 * A stream or seqpacket connection with a name at one end: the end
 * accept(2) made, which has its listener's name (getsockname(2) there,
 * getpeername(2) at the client); its client has none unless it bound one.
 * A restore makes it again by connecting to a listener on that name
 * (UNIX_ACCEPTED), a socketpair would have no names.  With names at both
 * ends (a client that bound one) which end was accepted cannot be told:
 * refused.  The other end's name, when it is in another process of the
 * tree (tree: 1), goes into u's record: the end restored first makes the
 * connection.
 */
static int accepted(struct kind_capture *c, const struct snap_file *f, struct unix_sock *u,
		    const void *pname, uint32_t plen, int tree)
{
	char name[4 * UNIX_NAME_MAX + 8], name2[4 * UNIX_NAME_MAX + 8];
	unsigned char *b;

	if (u->r.type == SOCK_DGRAM || (!u->r.name_len && !plen))
		return 0;
	if (u->r.name_len && plen)
		return err_msg(ENOTSUP, "process %d: fd %d (%s): unix socket %s connected to %s: a connection between two named sockets, which end accept(2) made cannot be told: cannot be restored",
			       c->pid, f->first_fd, f->path, sock_name(name, sizeof(name), u),
			       unix_name_str(name2, sizeof(name2), pname, plen));
	if (u->r.name_len) {
		u->r.opts |= UNIX_ACCEPTED;
		return 0;
	}
	if (!tree)
		return 0;
	if (!(b = realloc(u->body, u->blen + plen)))
		return err_sys(ENOMEM, "unix sockets");
	memmove(b + u->r.name_len + plen, b + u->r.name_len, u->blen - u->r.name_len);
	memcpy(b + u->r.name_len, pname, plen);
	u->body = b;
	u->blen += plen;
	u->r.peer_name_len = plen;
	return 0;
}

/* Every peer is a socket of the process connected back to it, or the
 * named peer of a datagram socket. */
static int pair_up(struct kind_capture *c, int nl, struct unix_socks *us)
{
	for (size_t i = 0; i < us->n; i++) {
		struct unix_sock *u = &us->v[i];
		const struct snap_file *f = &c->snap->files[u->r.file];
		char name[4 * UNIX_NAME_MAX + 8];
		struct diag d;
		pid_t holder;
		int hfd = -1, rc;
		size_t j;

		/* The kernel names no peer for a connection not yet
		 * accepted (its other end is no socket of a file yet), as
		 * for one whose peer closed. */
		if (u->r.state == UNIX_WIDOWED) {
			rc = connecting(c, f, u);
			if (rc < 0)
				return rc;
			continue;
		}
		if (u->r.state != UNIX_PAIR)
			continue;
		for (j = 0; j < us->n && us->v[j].ino != u->peer_ino; j++)
			;
		if (j < us->n && us->v[j].peer_ino == u->ino && us->v[j].r.type == u->r.type) {
			u->r.peer = us->v[j].r.file;
			rc = accepted(c, f, u, us->v[j].body, us->v[j].r.name_len, 0);
			if (rc)
				return rc;
			continue;
		}
		/* The peer, named when it has a name (the listener it
		 * connected to, the datagram server it sends to). */
		if (diag_get(nl, u->peer_ino, &d))
			return err_wrap(-EIO, "process %d: fd %d: its peer", c->pid, f->first_fd);
		if (u->r.type == SOCK_DGRAM && d.name_len) {
			rc = dgram_to(c, f, u, &d);
			if (rc)
				return rc;
			/* Bound by another process of the tree (a server
			 * its parent started): pthaw connects it once that
			 * process has bound the name again. */
			if ((holder = tshare_socket_holder(c->pid, u->peer_ino, &hfd)) > 0 && hfd >= 0) {
				u->r.peer_pid = (uint32_t)holder;
				u->r.peer = (uint32_t)hfd;
			}
			continue;
		}
		name[0] = '\0';
		if (d.name_len) {
			unix_name_str(name + 2, sizeof(name) - 2, d.name, d.name_len);
			name[0] = ',', name[1] = ' ';
		}
		if (j < us->n)
			return err_msg(ENOTSUP, "process %d: fd %d (%s): unix socket connected to one that is not connected back to it: cannot be restored",
				       c->pid, f->first_fd, f->path);
		/* The other end in another process of the tree: each
		 * process records its own end's queue, and names where
		 * the other is; pthaw makes the pair once. */
		if ((holder = tshare_socket_holder(c->pid, u->peer_ino, &hfd)) > 0 && hfd >= 0) {
			u->r.state = UNIX_TREE_PAIR;
			u->r.peer_pid = (uint32_t)holder;
			u->r.peer = (uint32_t)hfd;
			rc = accepted(c, f, u, d.name, d.name_len, 1);
			if (rc)
				return rc;
			continue;
		}
		return err_msg(ENOTSUP, "process %d: fd %d (%s): unix socket connected to a socket outside the process (inode %llu%s): one end cannot be restored alone",
			       c->pid, f->first_fd, f->path, (unsigned long long)u->peer_ino, name);
	}
	return 0;
}

static int unix_capture(struct kind_capture *c, void **data)
{
	struct unix_socks *us = NULL;
	int pidfd = -1, nl = -1, rc = 0;

	for (size_t i = 0; !rc && i < c->snap->nfiles; i++) {
		const struct snap_file *f = &c->snap->files[i];

		if (f->r.kind != FD_UNIX)
			continue;
		if (!us) {
			us = calloc(1, sizeof(*us));
			if (!us)
				return err_sys(ENOMEM, "unix sockets");
			rc = same_ns(c->pid);
			/* pfrez takes each socket with pidfd_getfd(2) (it
			 * traces the process, which the call requires) and
			 * asks the kernel about it with sock_diag. */
			if (!rc && (pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) < 0)
				rc = err_sys(errno, "process %d: pidfd_open", c->pid);
			if (!rc && (nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
				rc = err_sys(errno, "NETLINK_SOCK_DIAG (reading unix sockets)");
		}
		if (!rc && snap_grow((void **)&us->v, &us->cap, us->n, sizeof(*us->v)))
			rc = err_sys(ENOMEM, "unix sockets");
		if (!rc) {
			memset(&us->v[us->n], 0, sizeof(us->v[0]));
			rc = sock_of(c, pidfd, nl, f, &us->v[us->n++]);
		}
	}
	if (!rc && us)
		rc = pair_up(c, nl, us);
	if (pidfd >= 0)
		close(pidfd);
	if (nl >= 0)
		close(nl);
	if (rc) {
		socks_free(us);
		return rc;
	}
	*data = us;
	return 0;
}

static int unix_write(const void *data, struct rec_writer *w)
{
	const struct unix_socks *us = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < us->n; i++)
		rc = rec_write(w, REC_UNIX, &us->v[i].r, sizeof(us->v[i].r), us->v[i].body, us->v[i].blen);
	return rc;
}

static int bad(const char *why, uint32_t file)
{
	return err_msg(EBADMSG, "unix record (file %u): %s", file, why);
}

static int unix_take(void **data, const unsigned char *p, size_t len)
{
	struct unix_socks *us = *data;
	struct unix_sock u = { 0 };
	const struct rec_unix *r = &u.r;
	size_t off;
	uint64_t total = 0;

	if (len < sizeof(u.r))
		return err_msg(EBADMSG, "unix record: %zu bytes, too short", len);
	memcpy(&u.r, p, sizeof(u.r));
	if (r->type != SOCK_STREAM && r->type != SOCK_DGRAM && r->type != SOCK_SEQPACKET)
		return bad("unknown socket type", r->file);
	if (r->state > UNIX_CONNECTING ||
	    ((r->state == UNIX_TREE_PAIR || r->state == UNIX_CONNECTING) && !r->peer_pid) ||
	    (r->peer_pid && r->state != UNIX_TREE_PAIR && r->state != UNIX_DGRAM_TO &&
	     r->state != UNIX_CONNECTING) ||
	    (r->peer_pid && r->peer >= SNAP_FD_MAX) || (r->shutdown & ~(UNIX_SHUT_RD | UNIX_SHUT_WR)) ||
	    (r->opts & ~(uint32_t)(UNIX_PASSCRED | UNIX_PASSSEC | UNIX_PASSPIDFD | UNIX_ACCEPTED)) ||
	    r->name_len > UNIX_NAME_MAX || r->rcvbuf < 0 || r->sndbuf < 0 ||
	    r->rcvtimeo[0] < 0 || r->rcvtimeo[1] < 0 || r->rcvtimeo[1] >= 1000000 ||
	    r->sndtimeo[0] < 0 || r->sndtimeo[1] < 0 || r->sndtimeo[1] >= 1000000)
		return bad("malformed", r->file);
	if (r->state == UNIX_LISTEN && (!r->name_len || r->nmsgs))
		return bad("a listening socket without a name or with messages", r->file);
	if (r->state == UNIX_PLAIN && r->nmsgs)
		return bad("messages on an unconnected socket", r->file);
	if ((r->opts & UNIX_ACCEPTED) && (r->type == SOCK_DGRAM || !r->name_len ||
					   (r->state != UNIX_PAIR && r->state != UNIX_TREE_PAIR)))
		return bad("accepted, but no named stream or seqpacket connection", r->file);
	if ((r->state == UNIX_DGRAM_TO || r->state == UNIX_CONNECTING) != (r->peer_name_len != 0) &&
	    (r->state != UNIX_TREE_PAIR || r->type == SOCK_DGRAM || r->name_len))
		return bad("a malformed peer name", r->file);
	if (r->peer_name_len > UNIX_NAME_MAX ||
	    (r->state == UNIX_DGRAM_TO && (r->type != SOCK_DGRAM || r->nmsgs)) ||
	    (r->state == UNIX_CONNECTING && (r->type == SOCK_DGRAM || r->nmsgs || r->shutdown ||
					     r->backlog >= UNIX_ICONS_MAX)))
		return bad("a malformed peer name", r->file);
	if (r->name_len == 1 && p[sizeof(u.r)] == '\0')
		return bad("an empty abstract name", r->file);
	off = sizeof(u.r) + r->name_len;
	if (off > len || (r->name_len && p[sizeof(u.r)] && memchr(p + sizeof(u.r), 0, r->name_len)))
		return bad("malformed name", r->file);
	if (r->peer_name_len && (len - off < r->peer_name_len || (r->peer_name_len == 1 && !p[off]) ||
				 (p[off] && memchr(p + off, 0, r->peer_name_len))))
		return bad("a malformed peer name", r->file);
	off += r->peer_name_len;
	for (uint32_t i = 0; i < r->nmsgs; i++) {
		uint32_t ml;

		if (len - off < 4)
			return bad("messages cut short", r->file);
		memcpy(&ml, p + off, 4);
		if (ml > UNIX_MSG_MAX || ml > len - off - 4 || !ml)
			return bad("a message of a wrong length", r->file);
		off += 4 + ml;
		total += ml;
	}
	if (off != len || total != r->qbytes)
		return bad("its length disagrees with its messages", r->file);
	if (!us && !(us = *data = calloc(1, sizeof(*us))))
		return err_sys(ENOMEM, "unix sockets");
	if (snap_grow((void **)&us->v, &us->cap, us->n, sizeof(*us->v)))
		return err_sys(ENOMEM, "unix sockets");
	u.blen = len - sizeof(u.r);
	if (!(u.body = malloc(u.blen ? u.blen : 1)))
		return err_sys(ENOMEM, "unix sockets");
	memcpy(u.body, p + sizeof(u.r), u.blen);
	us->v[us->n++] = u;
	return 0;
}

const struct unix_sock *unix_sock_by_file(const struct unix_socks *us, uint32_t file)
{
	for (size_t i = 0; us && i < us->n; i++)
		if (us->v[i].r.file == file)
			return &us->v[i];
	return NULL;
}

static int unix_verify(const struct snap *s, const void *data)
{
	const struct unix_socks *us = data;

	for (size_t i = 0; i < us->n; i++) {
		const struct rec_unix *r = &us->v[i].r;
		const struct unix_sock *p;

		if (r->file >= s->nfiles || s->files[r->file].r.kind != FD_UNIX)
			return bad("not a unix socket's file", r->file);
		if (unix_sock_by_file(us, r->file) != &us->v[i])
			return bad("a second record for one socket", r->file);
		if (r->peer_pid && r->peer_pid == s->proc.pid && r->state != UNIX_CONNECTING)
			return bad("its peer named in its own process as in another of the tree", r->file);
		if (r->state != UNIX_PAIR)
			continue;
		p = unix_sock_by_file(us, r->peer);
		if (!p || p->r.state != UNIX_PAIR || p->r.peer != r->file || r->peer == r->file ||
		    p->r.type != r->type)
			return bad("its peer is not a socket paired with it", r->file);
		if (r->opts & p->r.opts & UNIX_ACCEPTED)
			return bad("both ends of a connection accepted", r->file);
	}
	return 0;
}

/* Restore. */

/* The fds open() set aside for the second end of a pair, by file id (0:
 * none), from the first end's open to the second's. */
static long *aside;
static size_t naside;

static long set_int(struct kind_restore *r, long t, int opt, int v)
{
	return pcall(r, SYS_setsockopt, t, SOL_SOCKET, opt, (long)r->pl->hello.scratch, sizeof(v),
		     &v, sizeof(v));
}

/* pload answers with a call's return value only: pthaw, its parent,
 * reads what the call wrote to the scratch area (socketpair's fds, a
 * socket option). */
int unix_read_scratch(struct kind_restore *r, void *buf, size_t len)
{
	struct iovec l = { buf, len }, rm = { (void *)(uintptr_t)r->pl->hello.scratch, len };

	if (process_vm_readv(r->pl->pid, &l, 1, &rm, 1, 0) != (ssize_t)len)
		return err_sys(errno ? errno : EIO, "reading the loader's scratch area");
	return 0;
}

int unix_socketpair(struct kind_restore *r, uint32_t type, int sv[2], int fd)
{
	long ret = pcall(r, SYS_socketpair, AF_UNIX, type | SOCK_CLOEXEC, 0, (long)r->pl->hello.scratch, 0,
			 NULL, 0);

	if (ret < 0)
		return err_sys((int)-ret, "fd %d: unix socketpair", fd);
	return unix_read_scratch(r, sv, 2 * sizeof(sv[0]));
}

/* A socket option as getsockopt reads it in pload: 0 with *v, or -errno. */
static long get_int_in(struct kind_restore *r, long t, int opt, int *v)
{
	socklen_t l = sizeof(*v);
	long ret;

	ret = pcall(r, SYS_getsockopt, t, SOL_SOCKET, opt, (long)r->pl->hello.scratch + 8,
		    (long)r->pl->hello.scratch, &l, sizeof(l));
	if (ret < 0)
		return ret;
	{
		unsigned char b[8 + sizeof(*v)];

		ret = unix_read_scratch(r, b, sizeof(b));
		memcpy(v, b + 8, sizeof(*v));
	}
	return ret;
}

/* The options the program set.  SO_RCVBUF and SO_SNDBUF read back double
 * what was set (the kernel's bookkeeping share); past the host's
 * rmem_max/wmem_max setsockopt clamps them silently and only the *FORCE
 * variants (CAP_NET_ADMIN) get there: a smaller buffer than the original's
 * is refused, as the queued messages may not fit again. */
int unix_put_opts(struct kind_restore *r, long t, const struct rec_unix *u, int fd)
{
	static const struct { int opt, force; const char *name; } bufs[] = {
		{ SO_RCVBUF, SO_RCVBUFFORCE, "SO_RCVBUF" }, { SO_SNDBUF, SO_SNDBUFFORCE, "SO_SNDBUF" },
	};
	struct timeval tv;
	long ret;

	for (int i = 0; i < 2; i++) {
		int want = i ? u->sndbuf : u->rcvbuf, got = 0;

		ret = set_int(r, t, bufs[i].opt, want / 2);
		if (ret >= 0)
			ret = get_int_in(r, t, bufs[i].opt, &got);
		if (ret >= 0 && got == want)
			continue;
		ret = set_int(r, t, bufs[i].force, want / 2);
		if (ret >= 0)
			ret = get_int_in(r, t, bufs[i].opt, &got);
		if (ret >= 0 && got != want)
			ret = -EPERM;
		if (ret < 0)
			return err_sys((int)-ret, "fd %d: unix socket: %s %d (this host's net.core.%s is lower, and %s without CAP_NET_ADMIN)",
				       fd, bufs[i].name, want, i ? "wmem_max" : "rmem_max",
				       i ? "SO_SNDBUFFORCE" : "SO_RCVBUFFORCE");
	}
	ret = 0;
	if (u->opts & UNIX_PASSCRED)
		ret = set_int(r, t, SO_PASSCRED, 1);
	if (ret >= 0 && (u->opts & UNIX_PASSSEC))
		ret = set_int(r, t, SO_PASSSEC, 1);
	if (ret >= 0 && (u->opts & UNIX_PASSPIDFD))
		ret = set_int(r, t, SO_PASSPIDFD, 1);
	if (ret >= 0 && u->rcvlowat != 1)
		ret = set_int(r, t, SO_RCVLOWAT, u->rcvlowat);
	if (ret >= 0 && u->priority)
		ret = set_int(r, t, SO_PRIORITY, u->priority);
	if (ret >= 0 && (u->rcvtimeo[0] || u->rcvtimeo[1])) {
		tv = (struct timeval){ u->rcvtimeo[0], u->rcvtimeo[1] };
		ret = pcall(r, SYS_setsockopt, t, SOL_SOCKET, SO_RCVTIMEO, (long)r->pl->hello.scratch,
			    sizeof(tv), &tv, sizeof(tv));
	}
	if (ret >= 0 && (u->sndtimeo[0] || u->sndtimeo[1])) {
		tv = (struct timeval){ u->sndtimeo[0], u->sndtimeo[1] };
		ret = pcall(r, SYS_setsockopt, t, SOL_SOCKET, SO_SNDTIMEO, (long)r->pl->hello.scratch,
			    sizeof(tv), &tv, sizeof(tv));
	}
	if (ret < 0)
		return err_sys((int)-ret, "fd %d: unix socket: setting its options", fd);
	return 0;
}

/* Sends from t the messages queued for u, in order: each datagram or
 * seqpacket message as one, stream bytes as they come. */
int unix_queue_back(struct kind_restore *r, long t, const struct unix_sock *u, int fd)
{
	size_t off = u->r.name_len + u->r.peer_name_len;

	for (uint32_t i = 0; i < u->r.nmsgs; i++) {
		uint32_t ml, done = 0;

		memcpy(&ml, u->body + off, 4);
		while (done < ml) {
			long ret = pcall(r, SYS_sendto, t, (long)r->pl->hello.scratch, ml - done,
					 MSG_DONTWAIT | MSG_NOSIGNAL, 0, u->body + off + 4 + done, ml - done);

			if (ret <= 0)
				return err_sys(ret ? (int)-ret : EIO, "fd %d: unix socket: queueing its %llu bytes again",
					       fd, (unsigned long long)u->r.qbytes);
			done += (uint32_t)ret;
		}
		off += 4 + ml;
	}
	return 0;
}

int unix_shut(struct kind_restore *r, long t, const struct rec_unix *u, int fd)
{
	long ret = 0;

	if (u->shutdown & UNIX_SHUT_RD)
		ret = pcall(r, SYS_shutdown, t, SHUT_RD, 0, 0, 0, NULL, 0);
	if (ret >= 0 && (u->shutdown & UNIX_SHUT_WR))
		ret = pcall(r, SYS_shutdown, t, SHUT_WR, 0, 0, 0, NULL, 0);
	/* Last: the queue was refilled with the offset off. */
	if (ret >= 0 && u->peek_off != -1)
		ret = set_int(r, t, SO_PEEK_OFF, u->peek_off);
	if (ret < 0)
		return err_sys((int)-ret, "fd %d: unix socket: shutdown", fd);
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static int bound_to(const struct diag *d, void *arg)
{
	const struct stat *sb = arg;

	/* The kernel's dev_t: major << 20 | minor. */
	return d->vfs_ino == sb->st_ino && d->vfs_dev >> 20 == major(sb->st_dev) &&
	       (d->vfs_dev & 0xfffff) == minor(sb->st_dev);
}

/* Whether a live socket is bound to the file at path: sock_diag lists
 * each socket's file (UDIAG_SHOW_VFS).  1, 0, or -errno. */
static int path_held(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(sb.st_mode))
		return 1;
	return diag_dump(~0u, UDIAG_SHOW_VFS, bound_to, &sb);
}

/* bind(2) to the recorded name.  A path whose file is left from a socket
 * nobody holds any more is unlinked and made again; a name another socket
 * holds (the original, on this host) is waited for a few seconds (after
 * `pfrez -halt | pthaw` the original is about to end), then refused. */
int unix_bind(struct kind_restore *r, long t, const unsigned char *body, uint32_t nlen, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + nlen);
	char name[4 * UNIX_NAME_MAX + 8], path[SNAP_PATH_MAX + UNIX_NAME_MAX + 2];
	int abstract = body[0] == '\0', waiting = 0;
	struct timespec t0;
	long ret;

	memcpy(sa.sun_path, body, nlen);
	if (!abstract && nlen < UNIX_NAME_MAX)
		len++;
	/* pthaw looks at the file as pload would find it: pload's working
	 * directory is the process's from KIND_STAGE_MM on. */
	if (!abstract)
		snprintf(path, sizeof(path), "%s%s%.*s", sa.sun_path[0] == '/' ? "" : r->snap->cwd,
			 sa.sun_path[0] == '/' ? "" : "/", (int)nlen, sa.sun_path);
	for (;;) {
		int held;

		ret = pcall(r, SYS_bind, t, (long)r->pl->hello.scratch, len, 0, 0, &sa, sizeof(sa));
		if (ret != -EADDRINUSE)
			break;
		held = abstract ? 1 : path_held(path);
		if (held < 0)
			return err_sys(-held, "fd %d: unix socket %s", fd, unix_name_str(name, sizeof(name), body, nlen));
		if (!held) {
			/* A socket file nobody is bound to any more. */
			ret = pcall(r, SYS_unlinkat, AT_FDCWD, (long)r->pl->hello.scratch, 0, 0, 0,
				    sa.sun_path, nlen + 1);
			if (ret < 0 && ret != -ENOENT)
				break;
			continue;
		}
		if (!waiting) {
			/* From a pipe, the rest of the stream is read ahead:
			 * `pfrez -halt` ends the original, which holds the
			 * name, only once it has written it all. */
			ret = layer_spool_input();
			if (ret < 0)
				return (int)ret;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			waiting = 1;
		}
		/* The seconds count from the stream's end. */
		if (!layer_spool_ended())
			clock_gettime(CLOCK_MONOTONIC, &t0);
		if (elapsed_ms(&t0) >= UNIX_WAIT_MS)
			return err_msg(EADDRINUSE, "fd %d: unix socket %s: the name is held by another socket (waited %d s): a copy cannot bind it while the original, on this host, still does",
				       fd, unix_name_str(name, sizeof(name), body, nlen), UNIX_WAIT_MS / 1000);
		nanosleep(&(struct timespec){ 0, 50 * 1000000 }, NULL);
	}
	if (ret < 0)
		return err_sys((int)-ret, "fd %d: unix socket: bind %s", fd, unix_name_str(name, sizeof(name), body, nlen));
	return 0;
}

static long unix_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct unix_sock *u = unix_sock_by_file(s->kind[KIND_UNIX], f->r.id), *p;
	int fd = f->first_fd, sv[2];
	long t, ret;

	if (!u)
		return err_msg(EBADMSG, "fd %d: a unix socket without its unix record", fd);
	if (!aside && !(aside = calloc(s->nfiles, sizeof(*aside))))
		return err_sys(ENOMEM, "unix sockets");
	naside = s->nfiles;
	if (aside[f->r.id]) {
		/* The second end of a pair: the first is at its fds. */
		t = aside[f->r.id];
		aside[f->r.id] = 0;
		p = unix_sock_by_file(s->kind[KIND_UNIX], u->r.peer);
		ret = unix_put_opts(r, t, &u->r, fd);
		if (!ret)
			ret = unix_queue_back(r, s->files[p->r.file].first_fd, u, fd);
		if (!ret)
			ret = unix_queue_back(r, t, p, s->files[p->r.file].first_fd);
		if (!ret)
			ret = unix_shut(r, t, &u->r, fd);
		if (!ret)
			ret = unix_shut(r, s->files[p->r.file].first_fd, &p->r, s->files[p->r.file].first_fd);
	} else if (u->r.state == UNIX_TREE_PAIR) {
		t = unix_tree_pair(r, s, f, u);
		if (t < 0)
			return t;
		ret = 0;
	} else if (u->r.state == UNIX_PAIR && (p = unix_sock_by_file(s->kind[KIND_UNIX], u->r.peer)) &&
		   ((u->r.opts | p->r.opts) & UNIX_ACCEPTED)) {
		/* A connection accepted from a listener on a name: the
		 * end accepted has it, the client has it as its peer's. */
		if (u->r.opts & UNIX_ACCEPTED)
			ret = unix_accepted_pair(r, s, u->r.type, u->body, u->r.name_len, fd, sv);
		else
			ret = unix_accepted_pair(r, s, u->r.type, p->body, p->r.name_len, fd, sv);
		if (ret)
			return ret;
		if (!(u->r.opts & UNIX_ACCEPTED))
			t = sv[0], sv[0] = sv[1], sv[1] = (int)t;
		t = sv[0];
		ret = unix_put_opts(r, t, &u->r, fd);
		if (!ret) {
			ret = fd_aside(r, s, sv[1]);
			if (ret > 0)
				aside[u->r.peer] = ret, ret = 0;
		}
	} else if (u->r.state == UNIX_PAIR || u->r.state == UNIX_WIDOWED) {
		ret = unix_socketpair(r, u->r.type, sv, fd);
		if (ret)
			return ret;
		t = sv[0];
		ret = unix_put_opts(r, t, &u->r, fd);
		if (!ret && u->r.state == UNIX_PAIR) {
			ret = fd_aside(r, s, sv[1]);
			if (ret > 0)
				aside[u->r.peer] = ret, ret = 0;
		} else if (!ret) {
			/* Its peer closed: the messages it left, then its
			 * close, which shuts this end down. */
			ret = unix_queue_back(r, sv[1], u, fd);
			pcall(r, SYS_close, sv[1], 0, 0, 0, 0, NULL, 0);
			if (!ret)
				ret = unix_shut(r, t, &u->r, fd);
		}
	} else {
		t = pcall(r, SYS_socket, AF_UNIX, u->r.type | SOCK_CLOEXEC, 0, 0, 0, NULL, 0);
		if (t < 0)
			return err_sys((int)-t, "fd %d: unix socket", fd);
		ret = unix_put_opts(r, t, &u->r, fd);
		if (!ret && u->r.name_len)
			ret = unix_bind(r, t, u->body, u->r.name_len, fd);
		if (!ret && u->r.state == UNIX_LISTEN) {
			ret = pcall(r, SYS_listen, t, u->r.backlog, 0, 0, 0, NULL, 0);
			if (ret < 0)
				ret = err_sys((int)-ret, "fd %d: unix socket: listen", fd);
			if (!ret)
				ret = unix_listener_made(f->r.id);
		}
		if (!ret)
			ret = unix_shut(r, t, &u->r, fd);
	}
	if (!ret) {
		ret = pcall(r, SYS_fcntl, t, F_SETFL, f->r.flags & O_NONBLOCK, 0, 0, NULL, 0);
		if (ret < 0)
			ret = err_sys((int)-ret, "fd %d: unix socket: F_SETFL", fd);
	}
	if (ret < 0) {
		pcall(r, SYS_close, t, 0, 0, 0, 0, NULL, 0);
		return ret;
	}
	return t;
}

static void unix_done(struct kind_restore *r, const struct snap *s)
{
	(void)s;
	for (size_t i = 0; aside && i < naside; i++)
		if (aside[i])
			pcall(r, SYS_close, aside[i], 0, 0, 0, 0, NULL, 0);
	snap_array_reset((void **)&aside, &naside, NULL);
	unix_listeners_reset();
}

/* At KIND_STAGE_FILES, every socket at its fds: a datagram socket
 * connects again to the name it was connected to (a socket of the
 * process, bound by now, of an earlier process of the tree, or one
 * outside it; a later process's: once that one has bound it); then the
 * sockets of earlier processes waiting for this one's names, and the
 * connections not yet accepted whose turn has come. */
static int unix_restore(struct kind_restore *r, const void *data)
{
	const struct unix_socks *us = data;
	char name[4 * UNIX_NAME_MAX + 8];
	pid_t seen;
	int rc;

	for (size_t i = 0; i < us->n; i++) {
		const struct unix_sock *u = &us->v[i];
		int fd = r->snap->files[u->r.file].first_fd;
		long ret;

		if (u->r.state == UNIX_CONNECTING && u->r.peer_pid != r->old_pid && !r->tree)
			return err_msg(EBADMSG, "fd %d: unix socket: its listener in process %u of a tree, in a process alone",
				       fd, u->r.peer_pid);
		if (u->r.state == UNIX_DGRAM_TO && u->r.peer_pid && !r->tree)
			return err_msg(EBADMSG, "fd %d: unix datagram socket: its peer in process %u of a tree, in a process alone",
				       fd, u->r.peer_pid);
		if (u->r.state == UNIX_CONNECTING ||
		    (u->r.state == UNIX_DGRAM_TO && u->r.peer_pid && !tshare_restored(u->r.peer_pid, &seen))) {
			rc = unix_defer_connect(r, u, fd);
			if (rc)
				return rc;
			continue;
		}
		if (u->r.state != UNIX_DGRAM_TO)
			continue;
		ret = unix_connect_name(r, fd, (const char *)u->body + u->r.name_len, u->r.peer_name_len, NULL);
		if (ret < 0)
			return err_sys((int)-ret, "fd %d: unix datagram socket: connecting again to %s", fd,
				       unix_name_str(name, sizeof(name), u->body + u->r.name_len, u->r.peer_name_len));
	}
	rc = unix_deferred_connect(r);
	if (!r->tree) {
		int end = fd_unix_tree_end(!rc);

		return rc ? rc : end;
	}
	return rc;
}

/* Each socket file has its record (fd_kind_ops.verify), before any page. */
static int unix_file_verify(const struct snap *s, const struct snap_file *f)
{
	if (!unix_sock_by_file(s->kind[KIND_UNIX], f->r.id))
		return err_msg(EBADMSG, "file %u: a unix socket without its unix record", f->r.id);
	return 0;
}

const struct fd_kind_ops fd_kind_unix = {
	.kind = FD_UNIX,
	.name = "unix socket",
	.claim = unix_claim,
	.verify = unix_file_verify,
	.open = unix_open,
	.done = unix_done,
};

/* Printing. */

static void unix_print(FILE *f, const void *data)
{
	const struct unix_socks *us = data;
	char name[4 * UNIX_NAME_MAX + 8];

	fprintf(f, "Unix sockets:\n");
	for (size_t i = 0; i < us->n; i++) {
		const struct unix_sock *u = &us->v[i];
		const struct rec_unix *r = &u->r;

		fprintf(f, "  file %u: %s, %s", r->file, type_name(r->type), state_name(r->state));
		if (r->state == UNIX_PAIR)
			fprintf(f, " with file %u", r->peer);
		if (r->state == UNIX_TREE_PAIR)
			fprintf(f, " with fd %u of process %u", r->peer, r->peer_pid);
		if (r->state == UNIX_DGRAM_TO)
			fprintf(f, " to %s", unix_name_str(name, sizeof(name), u->body + r->name_len, r->peer_name_len));
		if (r->state == UNIX_DGRAM_TO && r->peer_pid)
			fprintf(f, " (bound at fd %u of process %u)", r->peer, r->peer_pid);
		if (r->state == UNIX_CONNECTING)
			fprintf(f, " by %s (listening at fd %u of process %u), place %u in its queue",
				unix_name_str(name, sizeof(name), u->body + r->name_len, r->peer_name_len), r->peer,
				r->peer_pid, r->backlog);
		if (r->state == UNIX_LISTEN)
			fprintf(f, ", backlog %u", r->backlog);
		if (r->name_len)
			fprintf(f, ", name %s", sock_name(name, sizeof(name), u));
		if (r->shutdown)
			fprintf(f, ", shut down%s%s%s", r->shutdown & UNIX_SHUT_RD ? " for reading" : "",
				r->shutdown == 3 ? " and" : "",
				r->shutdown & UNIX_SHUT_WR ? " for writing" : "");
		fprintf(f, ", %u messages (%llu bytes) queued\n", r->nmsgs, (unsigned long long)r->qbytes);
		fprintf(f, "    rcvbuf %d, sndbuf %d%s%s%s%s", r->rcvbuf, r->sndbuf,
			r->opts & UNIX_PASSCRED ? ", passcred" : "", r->opts & UNIX_PASSSEC ? ", passsec" : "",
			r->opts & UNIX_PASSPIDFD ? ", passpidfd" : "",
			r->opts & UNIX_ACCEPTED ? ", accepted from its name" : "");
		if (r->state == UNIX_TREE_PAIR && r->peer_name_len)
			fprintf(f, ", its peer accepted from %s",
				unix_name_str(name, sizeof(name), u->body + r->name_len, r->peer_name_len));
		if (r->peek_off != -1)
			fprintf(f, ", peek_off %d", r->peek_off);
		if (r->rcvtimeo[0] || r->rcvtimeo[1])
			fprintf(f, ", rcvtimeo %lld.%06lld s", (long long)r->rcvtimeo[0], (long long)r->rcvtimeo[1]);
		if (r->sndtimeo[0] || r->sndtimeo[1])
			fprintf(f, ", sndtimeo %lld.%06lld s", (long long)r->sndtimeo[0], (long long)r->sndtimeo[1]);
		fprintf(f, "\n");
	}
}

static void unix_print_json(struct json *j, const void *data)
{
	const struct unix_socks *us = data;

	json_array_begin(j, "sockets");
	for (size_t i = 0; i < us->n; i++) {
		const struct unix_sock *u = &us->v[i];
		const struct rec_unix *r = &u->r;

		json_object_begin(j, NULL);
		json_uint(j, "file", r->file);
		json_str(j, "type", type_name(r->type));
		json_str(j, "state", state_name(r->state));
		if (r->state == UNIX_PAIR)
			json_uint(j, "peer", r->peer);
		if (r->state == UNIX_CONNECTING)
			json_uint(j, "queue_place", r->backlog);
		if (r->state == UNIX_TREE_PAIR || r->state == UNIX_CONNECTING ||
		    (r->state == UNIX_DGRAM_TO && r->peer_pid)) {
			json_uint(j, "peer_fd", r->peer);
			json_uint(j, "peer_pid", r->peer_pid);
		}
		if (r->state == UNIX_LISTEN)
			json_uint(j, "backlog", r->backlog);
		if (r->peer_name_len && u->body[r->name_len] == '\0')
			json_strn(j, "peer_abstract", (const char *)u->body + r->name_len + 1, r->peer_name_len - 1);
		else if (r->peer_name_len)
			json_strn(j, "peer_path", (const char *)u->body + r->name_len, r->peer_name_len);
		if (r->name_len && u->body[0] == '\0')
			json_strn(j, "abstract", (const char *)u->body + 1, r->name_len - 1);
		else if (r->name_len)
			json_strn(j, "path", (const char *)u->body, r->name_len);
		json_bool(j, "shut_rd", (r->shutdown & UNIX_SHUT_RD) != 0);
		json_bool(j, "shut_wr", (r->shutdown & UNIX_SHUT_WR) != 0);
		json_uint(j, "messages", r->nmsgs);
		json_uint(j, "bytes", r->qbytes);
		json_int(j, "rcvbuf", r->rcvbuf);
		json_int(j, "sndbuf", r->sndbuf);
		json_bool(j, "passcred", (r->opts & UNIX_PASSCRED) != 0);
		json_bool(j, "passsec", (r->opts & UNIX_PASSSEC) != 0);
		json_bool(j, "passpidfd", (r->opts & UNIX_PASSPIDFD) != 0);
		json_bool(j, "accepted", (r->opts & UNIX_ACCEPTED) != 0);
		json_int(j, "peek_off", r->peek_off);
		json_int(j, "rcvtimeo_us", r->rcvtimeo[0] * 1000000 + r->rcvtimeo[1]);
		json_int(j, "sndtimeo_us", r->sndtimeo[0] * 1000000 + r->sndtimeo[1]);
		json_object_end(j);
	}
	json_array_end(j);
}

/* The sockets' own state; the fd kind above restores it with the fds
 * (KIND_STAGE_FILES), from these records. */
const struct kind_ops kind_unix = {
	.name = "unix",
	.type = REC_UNIX,
	.flags = KIND_MANY,
	.stages = KIND_AT(KIND_STAGE_FILES),
	.capture = unix_capture,
	.write = unix_write,
	.take = unix_take,
	.verify = unix_verify,
	.restore = unix_restore,
	.print = unix_print,
	.print_json = unix_print_json,
	.free = socks_free,
};
