/* fd_unix_tree.c: the unix connections that a restore makes across the
 * processes of a tree, or by their names: a pair whose ends two
 * processes hold, a connection accepted from a listener (made again by
 * connecting to its name, which both ends keep), a connection not yet
 * accepted (made again in its listener's queue order), a datagram socket
 * connected to a name a later process binds.  fd_unix.c restores each
 * socket and calls in here (fd_unix.h). */
#include "fd_unix.h"
#include "err.h"
#include "fdkind.h"
#include "kind.h"
#include "pload_ctl.h"
#include "snap.h"
#include "treeshare.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* connect(2) of pload's t to name, a relative path taken from cwd (the
 * connecting process's) when pload's is another. */
long unix_connect_name(struct kind_restore *r, long t, const char *name, uint32_t nlen, const char *cwd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t n = nlen;

	if (name[0] != '\0' && name[0] != '/' && cwd && strcmp(cwd, r->snap->cwd) != 0) {
		n = (size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%.*s", cwd, (int)nlen, name);
		if (n >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
	} else {
		memcpy(sa.sun_path, name, nlen);
	}
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (sa.sun_path[0] && n < UNIX_NAME_MAX)
		len++;
	return pcall(r, SYS_connect, t, (long)r->pl->hello.scratch, len, 0, 0, &sa, sizeof(sa));
}

/*
 * A connect(2) that waits for another process of the tree, made from
 * the pload being restored when its time comes, which takes the socket
 * from the connecting process (pidfd_getfd(2)) unless it is its own:
 * - a datagram socket connected to a name that a process restored after
 *   it binds (a server its parent started): once that process has bound
 *   the name again; before, the name is nobody's, or still the
 *   original's (a clone beside it, or `pfrez -halt | pthaw` before the
 *   original ends), which a connect would silently reach instead;
 * - a connection not yet accepted (UNIX_CONNECTING, queued): its socket
 *   is made at its fds unconnected; it connects once its listener
 *   listens again (the listener's process is restored: its own, or an
 *   earlier one), and after every connection before it in that
 *   listener's queue, so that the listener accepts them in their order.
 */
struct deferred {
	uint32_t pid;		/* the process that binds the name, or holds the
				 * listener, in the snapshot */
	uint32_t peer_fd;	/* its fd for the bound socket, or the listener */
	int queued;		/* a connection not yet accepted */
	uint32_t place;		/* queued: its place in the listener's queue */
	uint32_t old_pid;	/* the connecting process, in the snapshot */
	pid_t seen;		/* the connecting process */
	int fd;			/* its fd for the socket */
	char *cwd;		/* its working directory (for a relative name) */
	uint32_t name_len;
	char name[UNIX_NAME_MAX];
};

static struct deferred *deferred;
static size_t ndeferred;

/* Per listener, the place in its queue that connects next. */
static struct lqueue {
	uint32_t pid, fd, next;
} *lqueues;
static size_t nlqueues;

int unix_defer_connect(struct kind_restore *r, const struct unix_sock *u, int fd)
{
	struct deferred *d = realloc(deferred, (ndeferred + 1) * sizeof(*d));
	int queued = u->r.state == UNIX_CONNECTING;

	if (!d)
		return err_sys(ENOMEM, "unix sockets");
	deferred = d;
	d = &deferred[ndeferred];
	*d = (struct deferred){ u->r.peer_pid, u->r.peer, queued, queued ? u->r.backlog : 0, r->old_pid,
				r->self_pid, fd, strdup(r->snap->cwd), u->r.peer_name_len, { 0 } };
	if (!d->cwd)
		return err_sys(ENOMEM, "unix sockets");
	memcpy(d->name, u->body + u->r.name_len, u->r.peer_name_len);
	ndeferred++;
	return 0;
}

static uint32_t *next_place(uint32_t pid, uint32_t fd)
{
	struct lqueue *q;

	for (size_t i = 0; i < nlqueues; i++)
		if (lqueues[i].pid == pid && lqueues[i].fd == fd)
			return &lqueues[i].next;
	if (!(q = realloc(lqueues, (nlqueues + 1) * sizeof(*q))))
		return NULL;
	lqueues = q;
	lqueues[nlqueues] = (struct lqueue){ pid, fd, 0 };
	return &lqueues[nlqueues++].next;
}

/* Whether d's time has come in r's process: the name is bound there;
 * or the listener's process is restored and d's turn in its queue has
 * come (*next: the listener's next place).  1, 0, or -errno. */
static int deferred_ready(struct kind_restore *r, const struct deferred *d, uint32_t **next)
{
	pid_t seen;

	*next = NULL;
	if (!d->queued)
		return d->pid == r->old_pid;
	if (d->pid != r->old_pid && (!r->tree || !tshare_restored(d->pid, &seen)))
		return 0;
	if (!(*next = next_place(d->pid, d->peer_fd)))
		return err_sys(ENOMEM, "unix sockets");
	return **next == d->place;
}

/* Connects every deferred socket whose time has come, as long as one
 * does: each connection made lets the next in its listener's queue go. */
int unix_deferred_connect(struct kind_restore *r)
{
	char name[4 * UNIX_NAME_MAX + 8];
	size_t i = 0;

	while (i < ndeferred) {
		struct deferred d = deferred[i];
		int own = d.old_pid == r->old_pid, rc;
		uint32_t *next;
		long t, ret;

		rc = deferred_ready(r, &d, &next);
		if (rc <= 0) {
			if (rc < 0)
				return rc;
			i++;
			continue;
		}
		deferred[i] = deferred[--ndeferred];
		t = own ? d.fd : tshare_take_fd(r, d.seen, d.fd, d.queued ? "unix socket" : "unix datagram socket");
		ret = t < 0 ? t : unix_connect_name(r, t, d.name, d.name_len, d.cwd);
		if (t >= 0 && !own)
			pcall(r, SYS_close, t, 0, 0, 0, 0, NULL, 0);
		free(d.cwd);
		if (t < 0)
			return (int)t;
		if (ret < 0) {
			unix_name_str(name, sizeof(name), d.name, d.name_len);
			return d.queued ?
			       err_sys((int)-ret, "process %u: fd %d: unix socket: connecting again to %s (not yet accepted there)",
				       d.old_pid, d.fd, name) :
			       err_sys((int)-ret, "process %u: fd %d: unix datagram socket: connecting again to %s, which process %u binds",
				       d.old_pid, d.fd, name, r->old_pid);
		}
		if (next)
			(*next)++;
		i = 0;
	}
	return 0;
}

/* The listeners of the process made so far (file ids), which
 * unix_accepted_pair looks at first. */
static uint32_t *lopen;
static size_t nlopen;

int unix_listener_made(uint32_t file)
{
	uint32_t *l = realloc(lopen, (nlopen + 1) * sizeof(*l));

	if (!l)
		return err_sys(ENOMEM, "unix sockets");
	lopen = l;
	lopen[nlopen++] = file;
	return 0;
}

void unix_listeners_reset(void)
{
	snap_array_reset((void **)&lopen, &nlopen, NULL);
}

/* A listener on name of an earlier process of the tree, taken from it:
 * pload's fd, -ENOENT when none, or -errno. */
static long tree_listener(struct kind_restore *r, uint32_t type, const unsigned char *name, uint32_t nlen,
			  int fd)
{
	char n[4 * UNIX_NAME_MAX + 8];
	const struct snap *o;
	uint32_t old, *next;
	pid_t seen;

	for (size_t i = 0; r->tree && (o = tshare_restored_nth(i, &old, &seen)); i++) {
		const struct unix_socks *us = o->kind[KIND_UNIX];

		for (size_t j = 0; old != r->old_pid && us && j < us->n; j++) {
			const struct unix_sock *v = &us->v[j];
			int lfd = o->files[v->r.file].first_fd;

			if (v->r.state != UNIX_LISTEN || v->r.type != type || v->r.name_len != nlen ||
			    memcmp(v->body, name, nlen))
				continue;
			if (!(next = next_place(old, (uint32_t)lfd)))
				return err_sys(ENOMEM, "unix sockets");
			if (*next)
				return err_msg(ENOTSUP, "fd %d: unix socket accepted from %s: its listener, at fd %d of process %u, has its connections not yet accepted queued again already, before which it cannot be made again",
					       fd, unix_name_str(n, sizeof(n), name, nlen), lfd, old);
			return tshare_take_fd(r, seen, lfd, "unix listening socket");
		}
	}
	return -ENOENT;
}

/*
 * A connection accepted from a listener on name (UNIX_ACCEPTED), made
 * again in pload by connecting to a listener on that name and accepting
 * it: the accepted end has the name (getsockname(2)) and the client it
 * as its peer's (getpeername(2)), which a socketpair's ends would not.
 * The listener is the process's own on that name when it is made
 * already (its queue stays empty until unix_restore connects those not
 * yet accepted), or an earlier process's of the tree, taken from it,
 * while no connection is queued on it again yet (one accepted now would
 * be that one: refused by name); else a temporary one is bound to the
 * name (waiting, as a listener's bind does, while the original holds
 * it), closed and its path unlinked once it has accepted.  The client
 * connects before its options are put: SO_PASSCRED would bind it to a
 * name of its own.  0 with sv[0] the accepted end and sv[1] the client,
 * or -errno.
 */
int unix_accepted_pair(struct kind_restore *r, const struct snap *s, uint32_t type,
		       const unsigned char *name, uint32_t nlen, int fd, int sv[2])
{
	const struct unix_socks *us = s->kind[KIND_UNIX];
	char path[UNIX_NAME_MAX + 1] = { 0 }, n[4 * UNIX_NAME_MAX + 8];
	long l = -1, a = -1, c, ret = 0;
	int taken = 0;

	for (size_t i = 0; i < nlopen && l < 0; i++) {
		const struct unix_sock *v = unix_sock_by_file(us, lopen[i]);

		if (v && v->r.type == type && v->r.name_len == nlen && !memcmp(v->body, name, nlen))
			l = s->files[v->r.file].first_fd;
	}
	if (l < 0 && (l = tree_listener(r, type, name, nlen, fd)) != -ENOENT) {
		if (l < 0)
			return (int)l;
		taken = 1;
	} else if (l < 0) {
		l = pcall(r, SYS_socket, AF_UNIX, type | SOCK_CLOEXEC, 0, 0, 0, NULL, 0);
		if (l < 0)
			return err_sys((int)-l, "fd %d: unix socket", fd);
		ret = unix_bind(r, l, name, nlen, fd);
		if (!ret && (ret = pcall(r, SYS_listen, l, 1, 0, 0, 0, NULL, 0)) < 0)
			ret = err_sys((int)-ret, "fd %d: unix socket: listening on %s to make its connection again",
				      fd, unix_name_str(n, sizeof(n), name, nlen));
		if (ret) {
			pcall(r, SYS_close, l, 0, 0, 0, 0, NULL, 0);
			return (int)ret;
		}
		/* Negative: pload's own, closed below. */
		l = -l - 1;
	}
	c = pcall(r, SYS_socket, AF_UNIX, type | SOCK_CLOEXEC, 0, 0, 0, NULL, 0);
	if (c < 0)
		ret = err_sys((int)-c, "fd %d: unix socket", fd);
	if (!ret && (ret = unix_connect_name(r, c, (const char *)name, nlen, NULL)) < 0)
		ret = err_sys((int)-ret, "fd %d: unix socket: connecting again to %s", fd,
			      unix_name_str(n, sizeof(n), name, nlen));
	if (!ret && (a = pcall(r, SYS_accept4, l < 0 ? -l - 1 : l, 0, 0, SOCK_CLOEXEC, 0, NULL, 0)) < 0)
		ret = err_sys((int)-a, "fd %d: unix socket: accepting its connection again on %s", fd,
			      unix_name_str(n, sizeof(n), name, nlen));
	if (taken)
		pcall(r, SYS_close, l, 0, 0, 0, 0, NULL, 0);
	if (l < 0) {
		pcall(r, SYS_close, -l - 1, 0, 0, 0, 0, NULL, 0);
		/* The temporary listener's file, which the original's
		 * listener (gone) no longer had, or left behind. */
		memcpy(path, name, nlen);
		if (name[0])
			pcall(r, SYS_unlinkat, AT_FDCWD, (long)r->pl->hello.scratch, 0, 0, 0, path, nlen + 1);
	}
	if (ret) {
		if (c >= 0)
			pcall(r, SYS_close, c, 0, 0, 0, 0, NULL, 0);
		return (int)ret;
	}
	sv[0] = (int)a;
	sv[1] = (int)c;
	return 0;
}

/*
 * A pair across two processes of a tree: the first of them to be
 * restored makes it, and pthaw keeps the other end (pidfd_getfd(2) from
 * that pload, which it traces) until the later process's pload takes it
 * (SCM_RIGHTS, hand_in).  Nothing of it stays in the earlier process:
 * its pload is gone by then, and the later pload's own fds are cleared
 * when it is fitted to its process (pload_move).  The later one finds
 * it here by its PID and fd in the snapshot, with the earlier end's
 * record: that end's shutdown comes after the later end's queue, which
 * is sent from it.
 */
struct handed {
	uint32_t pid;		/* the later process, in the snapshot */
	uint32_t fd;		/* its fd for it */
	int t;			/* the end, in pthaw */
	pid_t seen;		/* the earlier process */
	struct rec_unix first;	/* the earlier end */
};

static struct handed *handed;
static size_t nhanded;

/* pthaw's own fd on pload's fd (pidfd_getfd(2), which pthaw may call:
 * it traces pload), or -1 with errno set. */
static int from_pload(struct kind_restore *r, int fd)
{
	int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0), t, e;

	if (pidfd < 0)
		return -1;
	t = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	e = errno;
	close(pidfd);
	errno = e;
	return t;
}

/* The first end of a pair across the tree: both made here, this one's
 * queue sent from the other, which goes to the later process's pload. */
static long tree_pair_first(struct kind_restore *r, const struct snap_file *f, const struct unix_sock *u)
{
	struct handed *h;
	int fd = f->first_fd, sv[2], t = -1;
	long ret;

	if (!(h = realloc(handed, (nhanded + 1) * sizeof(*h))))
		return err_sys(ENOMEM, "unix sockets");
	handed = h;
	if (u->r.opts & UNIX_ACCEPTED) {
		ret = unix_accepted_pair(r, r->snap, u->r.type, u->body, u->r.name_len, fd, sv);
	} else if (u->r.peer_name_len) {
		/* The client of the other end, which was accepted. */
		ret = unix_accepted_pair(r, r->snap, u->r.type, u->body + u->r.name_len, u->r.peer_name_len, fd, sv);
		t = sv[0], sv[0] = sv[1], sv[1] = t, t = -1;
	} else {
		ret = unix_socketpair(r, u->r.type, sv, fd);
	}
	if (ret)
		return ret;
	ret = unix_put_opts(r, sv[0], &u->r, fd);
	if (!ret)
		ret = unix_queue_back(r, sv[1], u, fd);
	if (!ret) {
		t = from_pload(r, sv[1]);
		if (t < 0)
			ret = err_sys(errno, "fd %d: unix socket pair: keeping the other end (pidfd_getfd)", fd);
	}
	pcall(r, SYS_close, sv[1], 0, 0, 0, 0, NULL, 0);
	if (ret) {
		pcall(r, SYS_close, sv[0], 0, 0, 0, 0, NULL, 0);
		return ret;
	}
	handed[nhanded++] = (struct handed){ u->r.peer_pid, u->r.peer, t, r->self_pid, u->r };
	return sv[0];
}

/* pthaw's fd held into pload, which makes a socket pair, one end of
 * which pthaw takes (pload's, in any PID namespace, cannot see pthaw to
 * take from it) and sends held through with SCM_RIGHTS: pload's fd for
 * held, or -errno. */
static long hand_in(struct kind_restore *r, int held, int fd)
{
	long scratch = (long)r->pl->hello.scratch, ret;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c = { 0 };
	struct {
		struct msghdr m;
		struct iovec v;
		char byte[8];
		char cm[CMSG_SPACE(sizeof(int))];
	} in;
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int k[2], mine, got;

	ret = pcall(r, SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, scratch, 0, NULL, 0);
	if (ret < 0)
		return err_sys((int)-ret, "fd %d: unix socket pair: handing it over", fd);
	ret = unix_read_scratch(r, k, sizeof(k));
	if (ret)
		return ret;
	mine = from_pload(r, k[1]);
	pcall(r, SYS_close, k[1], 0, 0, 0, 0, NULL, 0);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &held, sizeof(int));
	if (mine < 0 || sendmsg(mine, &m, MSG_NOSIGNAL) != 1) {
		ret = err_sys(errno, "fd %d: unix socket pair: handing it over", fd);
		if (mine >= 0)
			close(mine);
		pcall(r, SYS_close, k[0], 0, 0, 0, 0, NULL, 0);
		return ret;
	}
	close(mine);
	/* The message laid out in pload's scratch area, its pointers
	 * pointing there. */
	memset(&in, 0, sizeof(in));
	in.v = (struct iovec){ (void *)(scratch + offsetof(typeof(in), byte)), sizeof(in.byte) };
	in.m = (struct msghdr){ .msg_iov = (void *)(scratch + offsetof(typeof(in), v)), .msg_iovlen = 1,
				.msg_control = (void *)(scratch + offsetof(typeof(in), cm)),
				.msg_controllen = sizeof(in.cm) };
	ret = pcall(r, SYS_recvmsg, k[0], scratch, MSG_CMSG_CLOEXEC, 0, 0, &in, sizeof(in));
	pcall(r, SYS_close, k[0], 0, 0, 0, 0, NULL, 0);
	if (ret != 1)
		return err_sys(ret < 0 ? (int)-ret : EIO, "fd %d: unix socket pair: taking it over", fd);
	ret = unix_read_scratch(r, &in, sizeof(in));
	if (ret)
		return ret;
	memcpy(&c, in.cm, sizeof(in.cm));
	m.msg_control = c.buf;
	m.msg_controllen = sizeof(c.buf);
	cm = CMSG_FIRSTHDR(&m);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return err_msg(EIO, "fd %d: unix socket pair: taking it over: no descriptor came", fd);
	memcpy(&got, CMSG_DATA(cm), sizeof(int));
	return got;
}

/* The later end: handed over already; its queue sent from the earlier
 * end (taken from that process for the while), whose shutdown then
 * comes. */
long unix_tree_pair(struct kind_restore *r, const struct snap *s, const struct snap_file *f,
		    const struct unix_sock *u)
{
	struct rec_unix first;
	pid_t seen;
	int fd = f->first_fd;
	long ret, w, t;
	size_t i;

	if (!tshare_restored(u->r.peer_pid, &seen))
		return tree_pair_first(r, f, u);
	for (i = 0; i < nhanded && (handed[i].pid != s->proc.pid || handed[i].fd != (uint32_t)fd); i++)
		;
	if (i == nhanded)
		return err_msg(EBADMSG, "fd %d: unix socket paired with fd %u of process %u, which did not have it",
			       fd, u->r.peer, u->r.peer_pid);
	t = hand_in(r, handed[i].t, fd);
	close(handed[i].t);
	first = handed[i].first;
	seen = handed[i].seen;
	handed[i] = handed[--nhanded];
	if (t < 0)
		return t;
	w = tshare_take_fd(r, seen, (int)u->r.peer, "unix socket pair");
	ret = w < 0 ? w : unix_queue_back(r, w, u, fd);
	if (!ret)
		ret = unix_shut(r, w, &first, (int)u->r.peer);
	if (w >= 0)
		pcall(r, SYS_close, w, 0, 0, 0, 0, NULL, 0);
	if (!ret)
		ret = unix_put_opts(r, t, &u->r, fd);
	if (!ret)
		ret = unix_shut(r, t, &u->r, fd);
	if (ret < 0) {
		pcall(r, SYS_close, t, 0, 0, 0, 0, NULL, 0);
		return ret;
	}
	return t;
}

int fd_unix_tree_end(int check)
{
	char name[4 * UNIX_NAME_MAX + 8];
	const struct deferred *d = deferred;
	int rc = 0;

	/* A connection not yet accepted is named before a datagram socket. */
	for (size_t i = 0; i < ndeferred; i++)
		if (deferred[i].queued) {
			d = &deferred[i];
			break;
		}
	if (check && ndeferred && d->queued)
		rc = err_msg(EBADMSG, "process %u: fd %d: unix socket connected to %s, not yet accepted at fd %u of process %u, which has no such listener or place in its queue",
			     d->old_pid, d->fd, unix_name_str(name, sizeof(name), d->name, d->name_len), d->peer_fd, d->pid);
	else if (check && ndeferred)
		rc = err_msg(EBADMSG, "process %u: fd %d: unix datagram socket connected to %s, bound by process %u, which is no process of the tree",
			     d->old_pid, d->fd, unix_name_str(name, sizeof(name), d->name, d->name_len), d->pid);
	else if (check && nhanded)
		rc = err_msg(EBADMSG, "unix socket pair: its other end at fd %u of process %u, which is no process of the tree",
			     handed[0].fd, handed[0].pid);
	for (size_t i = 0; i < ndeferred; i++)
		free(deferred[i].cwd);
	snap_array_reset((void **)&deferred, &ndeferred, NULL);
	snap_array_reset((void **)&lqueues, &nlqueues, NULL);
	for (size_t i = 0; i < nhanded; i++)
		close(handed[i].t);
	snap_array_reset((void **)&handed, &nhanded, NULL);
	return rc;
}
