/* fd_pipe.c: pipes and FIFOs.  A pipe is one object with two ends: the
 * capture reads the bytes queued in it without taking them (tee(2) into
 * a private pipe), and the restore makes it once and hands each end to
 * its file.  An end whose other end is open outside the process (a pipe
 * from the shell or a parent) is connected, when pthaw is told so
 * (-inherit-fd), to a pipe of pthaw's own; otherwise it is refused. */
#include "err.h"
#include "fdkind.h"
#include "files.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "reopen.h"
#include "snap.h"
#include "treeshare.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The queued bytes a pipe record holds: its payload, less room for the
 * file ids and chunk lengths. */
#define PIPE_DATA_MAX	(REC_MAX_PAYLOAD - 64 * 1024)
#define PIPE_SIZE_MAX	(1u << 30)

struct pipe_obj {
	struct rec_pipe r;
	uint32_t *files;	/* r.nfiles ids */
	uint32_t *chunks;	/* r.nchunks lengths */
	unsigned char *data;	/* r.data_len bytes */
	/* restore: pload's fds of the ends made and not given yet */
	long end[2];
	int made;
};

struct pipes {
	size_t n;
	struct pipe_obj *p;
};

/* pthaw -inherit-fd: the process's fd -> pthaw's own fd. */
struct inherit {
	int fd, mine;
};
static struct inherit *inherits;
static size_t ninherits;

int fd_pipe_inherit(const char *spec)
{
	const char *p = spec;

	free(inherits);
	inherits = NULL;
	ninherits = 0;
	while (p && *p) {
		struct inherit in;
		struct stat sb;
		char *end;
		long fd = strtol(p, &end, 10), mine = fd;

		if (end == p || fd < 0 || fd >= SNAP_FD_MAX)
			return err_msg(EINVAL, "invalid value \"%s\" for flag -inherit-fd: want FD[:PTHAWFD][,...]", spec);
		if (*end == ':') {
			p = end + 1;
			mine = strtol(p, &end, 10);
			if (end == p || mine < 0 || mine > INT32_MAX)
				return err_msg(EINVAL, "invalid value \"%s\" for flag -inherit-fd: want FD[:PTHAWFD][,...]", spec);
		}
		if (*end && *end != ',')
			return err_msg(EINVAL, "invalid value \"%s\" for flag -inherit-fd: want FD[:PTHAWFD][,...]", spec);
		p = *end ? end + 1 : end;
		if (fstat((int)mine, &sb) < 0)
			return err_msg(EBADF, "-inherit-fd: pthaw's fd %ld is not open", mine);
		if (!S_ISFIFO(sb.st_mode))
			return err_msg(EINVAL, "-inherit-fd: pthaw's fd %ld is not a pipe or FIFO", mine);
		for (size_t i = 0; i < ninherits; i++)
			if (inherits[i].fd == fd)
				return err_msg(EINVAL, "-inherit-fd: fd %ld given twice", fd);
		in = (struct inherit){ (int)fd, (int)mine };
		if (!(inherits = realloc(inherits, (ninherits + 1) * sizeof(*inherits))))
			return err_sys(ENOMEM, "-inherit-fd");
		inherits[ninherits++] = in;
	}
	return 0;
}

static int is_pipe_kind(uint32_t kind)
{
	return kind == FD_PIPE || kind == FD_FIFO;
}

/* Capture. */

/* An anonymous pipe: "pipe:[INODE]". */
static int pipe_claim_anon(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return S_ISFIFO(d->sb->st_mode) && strncmp(d->link, "pipe:[", 6) == 0;
}

/* A FIFO: reopened by its name, which must lead to it. */
static int pipe_claim_fifo(const struct fd_info *d, struct rec_file *r)
{
	char what[32];

	(void)r;
	if (!S_ISFIFO(d->sb->st_mode) || d->link[0] != '/')
		return 0;
	snprintf(what, sizeof(what), "fd %d", d->fd);
	return file_reopenable(d->pid, what, d->link, d->sb) ?: 1;
}

static int refuse(pid_t pid, const struct snap_file *f, const char *why)
{
	return err_msg(ENOTSUP, "process %d: fd %d (%s): %s", pid, f->first_fd, f->path, why);
}

/* Whether an end the process lacks is open elsewhere: seen through a
 * new open file description of the pipe (/proc/PID/fd/N opens the pipe
 * itself, anew).  A reader sees POLLHUP once no writer is left, a
 * writer POLLERR once no reader is (fs/pipe.c pipe_poll); our own new
 * description counts only on its own side. */
static int other_end_outside(const char *path, int want_writer, int *outside)
{
	struct pollfd pf = { .events = want_writer ? POLLIN : POLLOUT };

	pf.fd = open(path, (want_writer ? O_RDONLY : O_WRONLY) | O_NONBLOCK | O_CLOEXEC);
	if (pf.fd < 0)
		return err_sys(errno, "%s", path);
	if (poll(&pf, 1, 0) < 0) {
		close(pf.fd);
		return err_sys(errno, "%s: poll", path);
	}
	*outside = want_writer ? !(pf.revents & POLLHUP) : !(pf.revents & POLLERR);
	close(pf.fd);
	return 0;
}

/* The queued bytes, left where they are: tee(2) duplicates the pipe's
 * buffers into a private pipe without consuming them, and reading that
 * one gives them in order, a packet a read (O_DIRECT buffers keep their
 * packet mark through tee). */
static int read_queue(pid_t pid, const struct snap_file *f, const char *path, struct pipe_obj *p)
{
	int rd, q[2] = { -1, -1 }, avail = 0, rc = 0;
	uint32_t cap = 0;
	ssize_t n;

	rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rd < 0)
		return err_sys(errno, "%s", path);
	n = fcntl(rd, F_GETPIPE_SZ);
	if (n <= 0 || ioctl(rd, FIONREAD, &avail) < 0 || avail < 0) {
		rc = err_sys(errno, "process %d: fd %d (%s): pipe size", pid, f->first_fd, f->path);
		goto out;
	}
	p->r.size = (uint32_t)n;
	if (!avail)
		goto out;
	if ((size_t)avail > PIPE_DATA_MAX) {
		rc = refuse(pid, f, "more bytes are queued in the pipe than a record holds");
		goto out;
	}
	if (pipe2(q, O_NONBLOCK | O_CLOEXEC) < 0 || fcntl(q[1], F_SETPIPE_SZ, p->r.size) < 0) {
		rc = err_sys(errno, "process %d: fd %d (%s): a private pipe of %u bytes to copy it into",
			     pid, f->first_fd, f->path, p->r.size);
		goto out;
	}
	n = tee(rd, q[1], (size_t)avail, SPLICE_F_NONBLOCK);
	if (n != avail) {
		rc = err_msg(EIO, "process %d: fd %d (%s): tee copied %zd of the %d bytes queued", pid,
			     f->first_fd, f->path, n, avail);
		goto out;
	}
	p->data = malloc((size_t)avail);
	if (!p->data) {
		rc = err_sys(ENOMEM, "pipe");
		goto out;
	}
	while (p->r.data_len < (uint32_t)avail) {
		n = read(q[0], p->data + p->r.data_len, (size_t)avail - p->r.data_len);
		if (n <= 0) {
			rc = err_sys(n < 0 ? errno : EIO, "process %d: fd %d: reading the copy of the pipe",
				     pid, f->first_fd);
			goto out;
		}
		if (p->r.nchunks == cap) {
			uint32_t *c = realloc(p->chunks, (cap = cap ? 2 * cap : 16) * sizeof(*c));

			if (!c) {
				rc = err_sys(ENOMEM, "pipe");
				goto out;
			}
			p->chunks = c;
		}
		p->chunks[p->r.nchunks++] = (uint32_t)n;
		p->r.data_len += (uint32_t)n;
	}
out:
	close(rd);
	if (q[0] >= 0)
		close(q[0]);
	if (q[1] >= 0)
		close(q[1]);
	return rc;
}

/* Whether a process of the tree captured before pid has the pipe of
 * file f (its own pipe record, not one taken from another). */
static int tree_has(pid_t pid, const struct snap_file *f)
{
	const struct snap *o;
	pid_t owner;

	for (size_t i = 0; (o = tshare_captured_nth(pid, i, &owner)); i++) {
		const struct pipes *ps = o->kind[KIND_PIPE];

		for (size_t k = 0; ps && k < ps->n; k++)
			if (!(ps->p[k].r.flags & PIPE_TREE) && ps->p[k].r.ino == f->r.ident.ino &&
			    o->files[ps->p[k].files[0]].r.ident.dev == f->r.ident.dev)
				return 1;
	}
	return 0;
}

/* The files of one pipe (same inode) from file i on. */
static int capture_one(pid_t pid, const struct snap *s, size_t i, unsigned char *seen,
		       struct pipe_obj *p)
{
	const struct snap_file *f = &s->files[i];
	int nr = 0, nw = 0, outside = 0, rc;
	char path[64];

	p->r.ino = f->r.ident.ino;
	if (f->r.kind == FD_FIFO)
		p->r.flags |= PIPE_FIFO;
	for (size_t j = i; j < s->nfiles; j++) {
		const struct snap_file *g = &s->files[j];
		uint32_t acc = g->r.flags & O_ACCMODE;

		if (!is_pipe_kind(g->r.kind) || g->r.ident.ino != f->r.ident.ino ||
		    g->r.ident.dev != f->r.ident.dev)
			continue;
		seen[j] = 1;
		nr += acc != O_WRONLY;
		nw += acc != O_RDONLY;
		if (g->r.flags & O_DIRECT)
			p->r.flags |= PIPE_PACKETS;
		p->files = realloc(p->files, (p->r.nfiles + 1) * sizeof(*p->files));
		if (!p->files)
			return err_sys(ENOMEM, "pipe");
		p->files[p->r.nfiles++] = g->r.id;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, f->first_fd);
	/* An earlier process of the tree has this pipe: it makes it and
	 * puts its bytes back; the ends here are opened on that one. */
	if (tree_has(pid, f)) {
		p->r.flags |= PIPE_TREE;
		return 0;
	}
	/* A FIFO's other ends come back by its name; an end the process
	 * lacks that a later process of the tree has is not outside: that
	 * process opens it on this pipe. */
	if (!(p->r.flags & PIPE_FIFO) && (!nr || !nw) &&
	    !tshare_pipe_end(pid, f->r.ident.dev, f->r.ident.ino, !nw)) {
		rc = other_end_outside(path, !nw, &outside);
		if (rc)
			return rc;
		if (outside)
			p->r.flags |= PIPE_OUTSIDE;
	}
	return read_queue(pid, f, path, p);
}

static void pipes_free(void *data)
{
	struct pipes *ps = data;

	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->p[i].files);
		free(ps->p[i].chunks);
		free(ps->p[i].data);
	}
	free(ps->p);
	free(ps);
}

static struct pipe_obj *pipes_add(struct pipes *ps)
{
	struct pipe_obj *p = realloc(ps->p, (ps->n + 1) * sizeof(*p));

	if (!p)
		return NULL;
	ps->p = p;
	p += ps->n++;
	memset(p, 0, sizeof(*p));
	p->end[0] = p->end[1] = -1;
	return p;
}

static int pipe_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct pipes *ps = NULL;
	unsigned char *seen = calloc(s->nfiles + 1, 1);
	int rc = seen ? 0 : err_sys(ENOMEM, "pipes");

	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		struct pipe_obj *p;

		if (seen[i] || !is_pipe_kind(s->files[i].r.kind))
			continue;
		if (!ps && !(ps = calloc(1, sizeof(*ps))))
			rc = err_sys(ENOMEM, "pipes");
		else if (!(p = pipes_add(ps)))
			rc = err_sys(ENOMEM, "pipes");
		else
			rc = capture_one(c->pid, s, i, seen, p);
	}
	free(seen);
	if (rc) {
		pipes_free(ps);
		return rc;
	}
	*data = ps;
	return 0;
}

/* Encoding. */

static int pipe_write(const void *data, struct rec_writer *w)
{
	const struct pipes *ps = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < ps->n; i++) {
		const struct pipe_obj *p = &ps->p[i];
		size_t hl = sizeof(p->r) + 4 * (p->r.nfiles + p->r.nchunks);
		unsigned char *h = malloc(hl);

		if (!h)
			return err_sys(ENOMEM, "pipe record");
		memcpy(h, &p->r, sizeof(p->r));
		memcpy(h + sizeof(p->r), p->files, 4 * p->r.nfiles);
		if (p->r.nchunks)
			memcpy(h + sizeof(p->r) + 4 * p->r.nfiles, p->chunks, 4 * p->r.nchunks);
		rc = rec_write(w, REC_PIPE, h, hl, p->data, p->r.data_len);
		free(h);
	}
	return rc;
}

static int pipe_take(void **data, const unsigned char *p, size_t len)
{
	struct pipes *ps = *data;
	struct pipe_obj *o;
	struct rec_pipe r;
	uint64_t sum = 0;
	size_t need;

	if (len < sizeof(r))
		return err_msg(EBADMSG, "pipe record: too short");
	memcpy(&r, p, sizeof(r));
	need = sizeof(r) + 4ull * r.nfiles + 4ull * r.nchunks + r.data_len;
	if (r.nfiles < 1 || r.nfiles > SNAP_FD_MAX || r.nchunks > r.data_len || r.data_len > PIPE_DATA_MAX ||
	    need != len || r.pad || (r.flags & ~(uint32_t)(PIPE_OUTSIDE | PIPE_PACKETS | PIPE_FIFO | PIPE_TREE)) ||
	    ((r.flags & PIPE_TREE) && (r.data_len || (r.flags & PIPE_OUTSIDE))) ||
	    r.size < r.data_len || r.size > PIPE_SIZE_MAX || (r.data_len && !r.nchunks))
		return err_msg(EBADMSG, "pipe record: malformed");
	if (!ps && !(ps = *data = calloc(1, sizeof(*ps))))
		return err_sys(ENOMEM, "pipes");
	if (!(o = pipes_add(ps)))
		return err_sys(ENOMEM, "pipes");
	o->r = r;
	o->files = malloc(4 * r.nfiles);
	o->chunks = malloc(4 * r.nchunks + 1);
	o->data = malloc(r.data_len + 1);
	if (!o->files || !o->chunks || !o->data)
		return err_sys(ENOMEM, "pipes");
	memcpy(o->files, p + sizeof(r), 4 * r.nfiles);
	memcpy(o->chunks, p + sizeof(r) + 4 * r.nfiles, 4 * r.nchunks);
	memcpy(o->data, p + sizeof(r) + 4 * (r.nfiles + r.nchunks), r.data_len);
	for (uint32_t i = 0; i < r.nchunks; i++) {
		if (!o->chunks[i])
			return err_msg(EBADMSG, "pipe record: an empty chunk");
		sum += o->chunks[i];
	}
	if (sum != r.data_len)
		return err_msg(EBADMSG, "pipe record: chunks of %llu bytes, %u queued", (unsigned long long)sum,
			       r.data_len);
	return 0;
}

/* Each pipe's files are pipes or FIFOs of the stream, each in one pipe;
 * a pipe with an end outside the process lacks that end. */
static int pipe_verify(const struct snap *s, const void *data)
{
	const struct pipes *ps = data;
	unsigned char *in = calloc(s->nfiles + 1, 1);
	int rc = in ? 0 : err_sys(ENOMEM, "pipes");

	for (size_t i = 0; !rc && i < ps->n; i++) {
		const struct pipe_obj *p = &ps->p[i];
		int nr = 0, nw = 0;

		for (uint32_t j = 0; !rc && j < p->r.nfiles; j++) {
			uint32_t id = p->files[j], acc;

			if (id >= s->nfiles || in[id] ||
			    s->files[id].r.kind != (p->r.flags & PIPE_FIFO ? FD_FIFO : FD_PIPE)) {
				rc = err_msg(EBADMSG, "pipe record: file %u is not one of its pipe's", id);
				break;
			}
			in[id] = 1;
			acc = s->files[id].r.flags & O_ACCMODE;
			nr += acc != O_WRONLY;
			nw += acc != O_RDONLY;
		}
		if (!rc && !(p->r.flags & PIPE_FIFO) && (p->r.flags & PIPE_OUTSIDE) && nr && nw)
			rc = err_msg(EBADMSG, "pipe record: ends of pipe %llu do not add up", (unsigned long long)p->r.ino);
	}
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		if (is_pipe_kind(s->files[i].r.kind) && !in[i])
			rc = err_msg(EBADMSG, "file %zu: a pipe without its pipe record", i);
	free(in);
	return rc;
}

/* Restore. */

/* Which of in[0..n) names an fd of one of p's files. */
static const struct inherit *inherit_in(const struct snap *s, const struct pipe_obj *p,
					const struct inherit *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < s->nfds; k++)
			for (uint32_t j = 0; j < p->r.nfiles; j++)
				if (s->fds[k].fd == in[i].fd && s->fds[k].file == p->files[j])
					return &in[i];
	return NULL;
}

static const struct inherit *inherit_of(const struct snap *s, const struct pipe_obj *p)
{
	return inherit_in(s, p, inherits, ninherits);
}

/* Before any page: every pipe whose other end was outside the process
 * is given a pipe of pthaw's, and -inherit-fd names no other fd. */
static int pipe_check(struct kind_check *c, const void *data)
{
	const struct pipes *ps = data;
	const struct snap *s = c->snap;
	int rc = 0;

	for (size_t i = 0; i < ps->n; i++) {
		const struct pipe_obj *p = &ps->p[i];
		const struct snap_file *f = &s->files[p->files[0]];

		int stdio = -1;

		if (!(p->r.flags & PIPE_OUTSIDE) || (!c->in_tree && inherit_of(s, p)))
			continue;
		/* Its other end may be the process's own stdin, stdout or
		 * stderr, which becomes pthaw's (the path names the pipe). */
		for (size_t k = 0; stdio < 0 && k < s->nfds; k++)
			if (s->fds[k].fd <= 2 && s->files[s->fds[k].file].r.kind == FD_STDIO &&
			    strcmp(s->files[s->fds[k].file].path, f->path) == 0)
				stdio = s->fds[k].fd;
		if (stdio >= 0)
			rc = kind_problem(c, err_msg(ENOTSUP, "fd %d (%s): the pipe's other end is fd %d, which becomes pthaw's own; pthaw -inherit-fd=%d[:FD] gives it a pipe of pthaw's own",
						   f->first_fd, f->path, stdio, f->first_fd));
		else
			rc = kind_problem(c, err_msg(ENOTSUP, "fd %d (%s): the pipe's other end was open outside the process (its parent's?); pthaw -inherit-fd=%d[:FD] gives it a pipe of pthaw's own",
						   f->first_fd, f->path, f->first_fd));
		if (!c->out)
			return rc;
	}
	/* -inherit-fd names fds of the root of a tree. */
	for (size_t i = 0; !c->in_tree && i < ninherits; i++) {
		int ok = 0;

		for (size_t j = 0; !ok && j < ps->n; j++)
			ok = (ps->p[j].r.flags & PIPE_OUTSIDE) && inherit_in(s, &ps->p[j], &inherits[i], 1);
		if (ok)
			continue;
		rc = kind_problem(c, err_msg(EINVAL, "-inherit-fd=%d: fd %d of the process is not a pipe whose other end was outside it",
					   inherits[i].fd, inherits[i].fd));
		if (!c->out)
			return rc;
	}
	return rc;
}

static long call(struct kind_restore *r, long nr, long a0, long a1, long a2, const void *d, size_t len)
{
	return pload_call(r->pl, nr, a0, a1, a2, 0, 0, 0, d, len);
}

static struct pipe_obj *pipe_of(const struct snap *s, uint32_t id)
{
	struct pipes *ps = s->kind[KIND_PIPE];

	for (size_t i = 0; ps && i < ps->n; i++)
		for (uint32_t j = 0; j < ps->p[i].r.nfiles; j++)
			if (ps->p[i].files[j] == id)
				return &ps->p[i];
	return NULL;
}

/* What the last call left in pload's scratch area (pload is pthaw's
 * child, with pthaw's credentials or the process's fs ids: pthaw may
 * read it as it writes the pages). */
static int scratch_read(struct kind_restore *r, void *buf, size_t len)
{
	struct iovec l = { buf, len }, rv = { (void *)(uintptr_t)r->pl->hello.scratch, len };

	return process_vm_readv(r->pl->pid, &l, 1, &rv, 1, 0) == (ssize_t)len ? 0 : -EIO;
}

/* Before any page: file f is in a pipe record. */
static int pipe_file_verify(const struct snap *s, const struct snap_file *f)
{
	return pipe_of(s, f->r.id) ? 0 :
	       err_msg(EBADMSG, "file %u (fd %d): a pipe without its pipe record", f->r.id, f->first_fd);
}

/* The queued bytes, written in order through w (non-blocking), a chunk
 * a write: with O_DIRECT on w each is one packet again. */
static int fill(struct kind_restore *r, const struct snap_file *f, const struct pipe_obj *p, long w)
{
	const unsigned char *d = p->data;
	long ret;

	for (uint32_t i = 0; i < p->r.nchunks; d += p->chunks[i++]) {
		ret = call(r, SYS_write, w, (long)r->pl->hello.scratch, p->chunks[i], d, p->chunks[i]);
		if (ret != (long)p->chunks[i])
			return err_sys(ret < 0 ? (int)-ret : EIO, "fd %d (%s): putting back the %u bytes queued",
				       f->first_fd, f->path, p->r.data_len);
	}
	return 0;
}

static int set_size(struct kind_restore *r, const struct snap_file *f, const struct pipe_obj *p, long fd)
{
	long ret = call(r, SYS_fcntl, fd, F_SETPIPE_SZ, p->r.size, NULL, 0);

	if (ret < 0)
		return err_sys((int)-ret, "fd %d (%s): pipe size %u bytes (above /proc/sys/fs/pipe-max-size?)",
			       f->first_fd, f->path, p->r.size);
	return 0;
}

static long set_flags(struct kind_restore *r, const struct snap_file *f, long fd)
{
	long ret = call(r, SYS_fcntl, fd, F_SETFL, f->r.flags & (O_NONBLOCK | O_DIRECT | O_APPEND), NULL, 0);

	if (ret < 0) {
		call(r, SYS_close, fd, 0, 0, NULL, 0);
		return err_sys((int)-ret, "fd %d (%s): status flags 0%o", f->first_fd, f->path, f->r.flags);
	}
	return fd;
}

/* Opens /proc/PID/fd/N (PID pthaw's or pload's own): a new open file
 * description of that pipe, in the mode asked.  O_NONBLOCK: a FIFO's
 * open would wait for the other side. */
static long open_proc_fd(struct kind_restore *r, pid_t pid, long fd, int mode)
{
	char path[64];
	int n = snprintf(path, sizeof(path), "/proc/%d/fd/%ld", pid, fd);

	return call(r, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, mode | O_NONBLOCK | O_CLOEXEC,
		    path, (size_t)n + 1);
}

static long inherit_open(struct kind_restore *r, const struct snap_file *f, const struct inherit *in)
{
	long fd = open_proc_fd(r, getpid(), in->mine, (int)(f->r.flags & O_ACCMODE));

	if (fd < 0)
		return err_sys((int)-fd, "fd %d (%s): -inherit-fd=%d:%d: opening pthaw's pipe", f->first_fd,
			       f->path, in->fd, in->mine);
	return set_flags(r, f, fd);
}

/* A FIFO by its name (reopen.c, pinned with O_PATH), each file anew.
 * The first one puts the queued bytes back, unless the FIFO holds bytes
 * already: then it is the very pipe still open elsewhere (a clone on the
 * same host), which has them. */
static long fifo_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f,
		      struct pipe_obj *p)
{
	char what[32], path[4200];
	struct reopen o;
	long t, hold, fd, ret;
	int rc = 0;

	reopen_file(s, f, r->pl->self, what, sizeof(what), path, sizeof(path), &o);
	o.flags = O_PATH | O_CLOEXEC;
	t = reopen(r->pl, r->same_host, &o);
	if (t < 0)
		return t;
	/* Read and write: never waits for the other side, and keeps the
	 * pipe (and what is put in it) while the ends are opened. */
	hold = open_proc_fd(r, r->pl->self, t, O_RDWR | (p->r.flags & PIPE_PACKETS ? O_DIRECT : 0));
	fd = hold < 0 ? hold : open_proc_fd(r, r->pl->self, t, (int)(f->r.flags & O_ACCMODE));
	call(r, SYS_close, t, 0, 0, NULL, 0);
	if (fd < 0) {
		if (hold >= 0)
			call(r, SYS_close, hold, 0, 0, NULL, 0);
		return err_sys((int)-fd, "fd %d (%s): opening the FIFO", f->first_fd, f->path);
	}
	if (!p->made) {
		struct pollfd pf = { .fd = (int)hold, .events = POLLIN };

		p->made = 1;
		ret = call(r, SYS_poll, (long)r->pl->hello.scratch, 1, 0, &pf, sizeof(pf));
		if (ret == 0)
			rc = set_size(r, f, p, hold) ?: fill(r, f, p, hold);
		else if (ret < 0)
			rc = err_sys((int)-ret, "fd %d (%s): poll", f->first_fd, f->path);
	}
	call(r, SYS_close, hold, 0, 0, NULL, 0);
	if (rc) {
		call(r, SYS_close, fd, 0, 0, NULL, 0);
		return rc;
	}
	return set_flags(r, f, fd);
}

/* A pipe an earlier process of the tree made (PIPE_TREE): the first
 * made with a pipe record of its own for that inode.  Through its
 * /proc/PID/fd link, a new open file description of that very pipe, in
 * the mode of f (pload has pthaw's credentials: it may open what the
 * earlier process holds). */
static long tree_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f,
		      const struct pipe_obj *p)
{
	const struct snap *o;
	uint32_t old;
	pid_t seen;
	char link[32];
	long t;

	for (size_t i = 0; (o = tshare_restored_nth(i, &old, &seen)) && o != s; i++) {
		const struct pipes *ps = o->kind[KIND_PIPE];

		for (size_t k = 0; ps && k < ps->n; k++) {
			const struct snap_file *of = &o->files[ps->p[k].files[0]];

			if ((ps->p[k].r.flags & PIPE_TREE) || ps->p[k].r.ino != p->r.ino ||
			    of->r.ident.dev != f->r.ident.dev)
				continue;
			snprintf(link, sizeof(link), "fd/%d", of->first_fd);
			t = tshare_open_link(r, seen, link, (int)(f->r.flags & O_ACCMODE) | O_NONBLOCK,
					     f->path);
			return t < 0 ? t : set_flags(r, f, t);
		}
	}
	return err_msg(EBADMSG, "fd %d (%s): its pipe is an earlier process's of the tree, which none has",
		       f->first_fd, f->path);
}

/* An anonymous pipe is made once, when its first file comes: its size
 * set and its bytes put back while both ends are open (a write with no
 * reader would raise SIGPIPE in pload), then an end no file of the
 * process has is closed, and the end of a file still to come is set
 * aside where the fds given meanwhile cannot land on it. */
static int make_pipe(struct kind_restore *r, const struct snap *s, const struct snap_file *f,
		     struct pipe_obj *p)
{
	int fds[2], has[2] = { 0, 0 }, rc;
	long ret;

	ret = call(r, SYS_pipe2, (long)r->pl->hello.scratch,
		   O_NONBLOCK | O_CLOEXEC | (p->r.flags & PIPE_PACKETS ? O_DIRECT : 0), 0, NULL, 0);
	if (ret == 0 && scratch_read(r, fds, sizeof(fds)))
		ret = -EIO;
	if (ret < 0)
		return err_sys((int)-ret, "fd %d (%s): pipe2", f->first_fd, f->path);
	p->made = 1;
	p->end[0] = fds[0];
	p->end[1] = fds[1];
	rc = set_size(r, f, p, fds[1]) ?: fill(r, f, p, fds[1]);
	for (uint32_t j = 0; !rc && j < p->r.nfiles; j++) {
		uint32_t acc = s->files[p->files[j]].r.flags & O_ACCMODE;

		has[0] |= acc != O_WRONLY;
		has[1] |= acc != O_RDONLY;
	}
	for (int e = 0; e < 2; e++) {
		if (rc || !has[e]) {
			call(r, SYS_close, p->end[e], 0, 0, NULL, 0);
			p->end[e] = -1;
		}
	}
	return rc;
}

/* A file of the pipe given before f, with end e (2: any): its lowest
 * fd, in place in pload already; -1 if none. */
static long given_fd(const struct snap *s, const struct pipe_obj *p, const struct snap_file *f, int e)
{
	for (uint32_t j = 0; j < p->r.nfiles && p->files[j] < f->r.id; j++) {
		uint32_t acc = s->files[p->files[j]].r.flags & O_ACCMODE;

		if (e == 2 || acc == O_RDWR || (acc == O_WRONLY) == e)
			return s->files[p->files[j]].first_fd;
	}
	return -1;
}

/* Each end from pipe2 goes to the first file of that end; another file
 * of it (opened again through /proc, as bash's `3> >(cmd)` does) and a
 * file with both ends are new open files of the pipe, opened the same
 * way through an fd of it in pload. */
static long pipe_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	struct pipe_obj *p = pipe_of(s, f->r.id);
	const struct inherit *in;
	uint32_t acc = f->r.flags & O_ACCMODE;
	int e = acc != O_RDONLY;
	long t, via;
	int rc;

	if (!p)
		return err_msg(EBADMSG, "fd %d (%s): a pipe without its pipe record", f->first_fd, f->path);
	if (p->r.flags & PIPE_FIFO)
		return fifo_open(r, s, f, p);
	if (p->r.flags & PIPE_TREE)
		return tree_open(r, s, f, p);
	if ((p->r.flags & PIPE_OUTSIDE) && (in = inherit_of(s, p)))
		return inherit_open(r, f, in);
	if (p->r.flags & PIPE_OUTSIDE)
		return err_msg(ENOTSUP, "fd %d (%s): the pipe's other end was open outside the process; pthaw -inherit-fd=%d[:FD] gives it a pipe of pthaw's own",
			       f->first_fd, f->path, f->first_fd);
	if (!p->made && (rc = make_pipe(r, s, f, p)))
		return rc;
	if (acc != O_RDWR && p->end[e] >= 0) {
		t = p->end[e];
		p->end[e] = -1;
	} else {
		via = acc == O_RDWR ? (p->end[0] >= 0 ? p->end[0] : p->end[1]) : -1;
		if (via < 0)
			via = given_fd(s, p, f, acc == O_RDWR ? 2 : e);
		if (via < 0)
			return err_msg(EBADMSG, "fd %d (%s): no end of its pipe to open it from", f->first_fd, f->path);
		t = open_proc_fd(r, r->pl->self, via, (int)acc);
		if (t < 0)
			return err_sys((int)-t, "fd %d (%s): opening the pipe again", f->first_fd, f->path);
	}
	for (int k = 0; k < 2; k++) {
		long a;

		if (p->end[k] < 0)
			continue;
		a = fd_aside(r, s, p->end[k]);
		if (a < 0) {
			call(r, SYS_close, t, 0, 0, NULL, 0);
			return a;
		}
		p->end[k] = a;
	}
	return set_flags(r, f, t);
}

/* Once the copy has its own open files of the pipes -inherit-fd gave,
 * pthaw lets go of them (but of its own stdio): their reader sees the end
 * of file when the process closes its end, not when pthaw exits. */
static void pipe_done(struct kind_restore *r, const struct snap *s)
{
	struct pipes *ps = s->kind[KIND_PIPE];

	for (size_t i = 0; i < ninherits; i++)
		if (inherits[i].mine > 2) {
			close(inherits[i].mine);
			inherits[i].mine = -1;
		}

	for (size_t i = 0; ps && i < ps->n; i++)
		for (int e = 0; e < 2; e++)
			if (ps->p[i].end[e] >= 0) {
				call(r, SYS_close, ps->p[i].end[e], 0, 0, NULL, 0);
				ps->p[i].end[e] = -1;
			}
}

/* Printing. */

static void pipe_print(FILE *out, const void *data)
{
	const struct pipes *ps = data;

	for (size_t i = 0; i < ps->n; i++) {
		const struct pipe_obj *p = &ps->p[i];

		fprintf(out, "%s %llu: files", p->r.flags & PIPE_FIFO ? "FIFO" : "pipe",
			(unsigned long long)p->r.ino);
		for (uint32_t j = 0; j < p->r.nfiles; j++)
			fprintf(out, " %u", p->files[j]);
		fprintf(out, ", size %u, %u bytes queued", p->r.size, p->r.data_len);
		if (p->r.flags & PIPE_PACKETS)
			fprintf(out, " in %u packets", p->r.nchunks);
		if (p->r.flags & PIPE_OUTSIDE)
			fprintf(out, ", other end outside the process (pthaw -inherit-fd)");
		if (p->r.flags & PIPE_TREE)
			fprintf(out, ", made by an earlier process of the tree");
		fprintf(out, "\n");
	}
}

static void pipe_print_json(struct json *j, const void *data)
{
	const struct pipes *ps = data;

	json_array_begin(j, "pipes");
	for (size_t i = 0; i < ps->n; i++) {
		const struct pipe_obj *p = &ps->p[i];

		json_object_begin(j, NULL);
		json_uint(j, "ino", p->r.ino);
		json_bool(j, "fifo", !!(p->r.flags & PIPE_FIFO));
		json_array_begin(j, "files");
		for (uint32_t k = 0; k < p->r.nfiles; k++)
			json_uint(j, NULL, p->files[k]);
		json_array_end(j);
		json_uint(j, "size", p->r.size);
		json_uint(j, "queued", p->r.data_len);
		json_bool(j, "packets", !!(p->r.flags & PIPE_PACKETS));
		json_uint(j, "chunks", p->r.nchunks);
		json_bool(j, "outside", !!(p->r.flags & PIPE_OUTSIDE));
		json_bool(j, "tree", !!(p->r.flags & PIPE_TREE));
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_pipe = {
	.kind = FD_PIPE,
	.name = "pipe",
	.claim = pipe_claim_anon,
	.verify = pipe_file_verify,
	.open = pipe_open,
	.done = pipe_done,
};

const struct fd_kind_ops fd_kind_fifo = {
	.kind = FD_FIFO,
	.name = "fifo",
	.claim = pipe_claim_fifo,
	.verify = pipe_file_verify,
	.open = pipe_open,
	.done = pipe_done,
};

const struct kind_ops kind_pipe = {
	.name = "pipe",
	.type = REC_PIPE,
	.flags = KIND_MANY,
	.capture = pipe_capture,
	.write = pipe_write,
	.take = pipe_take,
	.verify = pipe_verify,
	.check = pipe_check,
	.print = pipe_print,
	.print_json = pipe_print_json,
	.free = pipes_free,
};
