/* xport.c: opening a transport from its spec, stdin/stdout and files,
 * accepting the one connection, and the -halt status reply. */
#include "xport.h"
#include "xport_int.h"
#include "crypt.h"
#include "err.h"
#include "header.h"
#include "selfexec.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIPE_SIZE	(1 << 20)

/* listen_fd counts only for kinds that listen, so that a zeroed xport
 * (listen_fd 0) never closes stdin. */
static int listening(const struct xport *x)
{
	return (x->kind == XPORT_TCP || x->kind == XPORT_UNIX) &&
	       x->listen_fd >= 0;
}

static void reset(struct xport *x, const struct xport_opts *o)
{
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->listen_fd = -1;
	if (o)
		x->o = *o;
}

static int is_stdio(const char *spec, const char *name)
{
	return !spec || !strcmp(spec, "-") || !strcmp(spec, name);
}

static const char *after(const char *spec, const char *scheme)
{
	size_t n = strlen(scheme);

	return strncmp(spec, scheme, n) ? NULL : spec + n;
}

/* The default 64 KiB pipe costs a context switch per 64 KiB; 1 MiB is
 * the unprivileged maximum.  A failure only costs speed. */
static void grow_pipe(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode))
		fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

static int fd_layer(struct xport *x)
{
	x->layer = layer_fd_open(x->fd, 0);
	if (!x->layer)
		return err_msg(ENOMEM, "%s: out of memory", x->desc);
	return 0;
}

/* A pipe whose reader stops reading would block pfrez, and keep the
 * original stopped, for ever: writes to a pipe or fifo go through a
 * non-blocking descriptor and wait at most write_timeout for progress.
 * The pipe gets a file description of its own (opened again through
 * /proc/self/fd), so O_NONBLOCK does not reach the shell or the other
 * holders of the one we were given.  Sockets have SO_SNDTIMEO instead,
 * regular files never stall. */
static int pipe_timeout(struct xport *x)
{
	char path[64];
	struct stat st;
	int fd;

	if (x->o.write_timeout_ms <= 0 || fstat(x->fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", x->fd);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* no reader yet or no /proc: writes block */
	if (x->own_fd)
		close(x->fd);
	x->fd = fd;
	x->own_fd = 1;
	layer_destroy(x->layer);	/* the fd layer alone: it closes nothing */
	if (fd_layer(x))
		return -ENOMEM;
	layer_fd_write_timeout(x->layer, x->o.write_timeout_ms);
	return 0;
}

/* A self-executing snapshot (pfrez -exec) read as a source: the stream is
 * the part its trailer names, after pthaw and pload. */
static int skip_to_stream(struct xport *x)
{
	struct selfexec e;
	int rc = selfexec_find(x->fd, &e);

	if (rc == 1 && lseek(x->fd, (off_t)e.stream_off, SEEK_SET) < 0)
		rc = err_sys(errno, "%s: seeking to the snapshot inside", x->desc);
	if (rc < 0) {
		/* xport_close() leaves the layer to its user: none yet. */
		layer_destroy(x->layer);
		x->layer = NULL;
		return rc;
	}
	if (rc == 1)
		layer_fd_read_limit(x->layer, e.stream_len);
	return 0;
}

/* stdin or stdout (fd 0 or 1), which the transport never closes. */
static int stdio_open(struct xport *x, int fd, const char *name)
{
	x->kind = XPORT_STDIO;
	x->fd = fd;
	strcpy(x->desc, name);
	grow_pipe(x->fd);
	return fd_layer(x);
}

/* The snapshot goes to a new file beside the destination, made by
 * mkostemp: a random name, O_CREAT | O_EXCL (nothing already there is
 * opened, a symbolic link planted at a guessable name included), mode
 * 0600 while it is incomplete; xport_commit() renames it over the
 * destination name, which replaces a symbolic link there instead of
 * writing where it points; a failure removes it. */
static int file_tmp(struct xport *x, const char *path)
{
	const char *slash, *base;

	x->path = strdup(path);
	if (!x->path)
		return err_msg(ENOMEM, "%s: out of memory", path);
	slash = strrchr(x->path, '/');
	base = slash ? slash + 1 : x->path;
	if (!*base)
		return err_msg(EINVAL, "%s: not a file name", path);
	if (asprintf(&x->tmp, "%.*s.%s.XXXXXX",
		     slash ? (int)(slash + 1 - x->path) : 0, x->path, base) < 0) {
		x->tmp = NULL;
		return err_msg(ENOMEM, "%s: out of memory", path);
	}
	x->fd = mkostemp(x->tmp, O_CLOEXEC);
	if (x->fd < 0) {
		int e = errno;

		free(x->tmp);
		x->tmp = NULL;
		return err_sys(e, "%s: cannot create a temporary file next to it",
			       path);
	}
	x->own_fd = 1;
	return 0;
}

/* A FIFO or a device is written as it is (-dest=/dev/stdout, a named
 * pipe).  Through a symbolic link only if pfrez's user or root owns the
 * link (as the kernel's protected_symlinks rule has it): a link another
 * user planted is replaced by the file instead. */
static int file_dest(struct xport *x, const char *path)
{
	struct stat st, lst;
	int rc;

	x->kind = XPORT_FILE;
	snprintf(x->desc, sizeof(x->desc), "%s", path);
	if (!*path)
		return err_msg(EINVAL, "empty destination path");
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return err_msg(EISDIR, "%s: is a directory", path);
	if (lstat(path, &lst) == 0 && !S_ISREG(lst.st_mode) &&
	    (!S_ISLNK(lst.st_mode) ||
	     (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
	      (lst.st_uid == geteuid() || lst.st_uid == 0)))) {
		x->fd = open(path, O_WRONLY | O_CLOEXEC | (S_ISLNK(lst.st_mode) ? 0 : O_NOFOLLOW));
		if (x->fd < 0)
			return err_sys(errno, "%s", path);
		x->own_fd = 1;
		if (fstat(x->fd, &st) == 0 && S_ISREG(st.st_mode))
			return err_msg(EEXIST, "%s: changed into a regular file while opened", path);
		grow_pipe(x->fd);
	} else {
		rc = file_tmp(x, path);
		if (rc)
			return rc;
	}
	return fd_layer(x);
}

int xport_open_dest(const char *spec, const struct xport_opts *o,
		    struct xport *x)
{
	struct sockaddr_storage peer;
	char host[256], port[8];
	const char *rest;
	int rc;

	reset(x, o);
	if (is_stdio(spec, "stdout")) {
		rc = stdio_open(x, 1, "stdout");
	} else if ((rest = after(spec, "tcp:"))) {
		x->kind = XPORT_TCP;
		x->two_way = 1;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_parse_inet(spec, rest, 1, host, sizeof(host), port,
				      sizeof(port));
		if (!rc)
			rc = xport_inet_dial(spec, host, port, SOCK_STREAM,
					     &x->o, &x->fd, &peer);
		x->own_fd = 1;
		if (!rc)
			rc = fd_layer(x);
	} else if ((rest = after(spec, "unix:"))) {
		x->kind = XPORT_UNIX;
		x->two_way = 1;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_unix_dial(spec, rest, &x->o, &x->fd);
		x->own_fd = 1;
		if (!rc)
			rc = fd_layer(x);
	} else if (after(spec, "udp:")) {
		x->kind = XPORT_UDP;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_udp_open_dest(x, spec);
	} else {
		rc = file_dest(x, spec);
	}
	if (!rc && (x->kind == XPORT_STDIO || x->kind == XPORT_FILE))
		rc = pipe_timeout(x);
	if (rc)
		xport_close(x);
	return rc;
}

int xport_listen(const char *spec, const struct xport_opts *o,
		 struct xport *x)
{
	char host[256], port[8];
	const char *rest;
	int rc, made = 0;

	reset(x, o);
	if (is_stdio(spec, "stdin")) {
		rc = stdio_open(x, 0, "stdin");
		if (!rc)
			rc = skip_to_stream(x);
	} else if ((rest = after(spec, "tcp:"))) {
		x->kind = XPORT_TCP;
		x->two_way = 1;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_parse_inet(spec, rest, 0, host, sizeof(host), port,
				      sizeof(port));
		if (!rc)
			rc = xport_inet_bind(spec, host, port, SOCK_STREAM,
					     &x->listen_fd);
	} else if ((rest = after(spec, "unix:"))) {
		x->kind = XPORT_UNIX;
		x->two_way = 1;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_unix_listen(spec, rest, &x->listen_fd, &made);
		if (made && !(x->path = strdup(rest))) {
			unlink(rest);
			rc = err_msg(ENOMEM, "%s: out of memory", spec);
		}
	} else if (after(spec, "udp:")) {
		x->kind = XPORT_UDP;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		rc = xport_udp_open_src(x, spec);
	} else {
		x->kind = XPORT_FILE;
		snprintf(x->desc, sizeof(x->desc), "%s", spec);
		x->fd = open(spec, O_RDONLY | O_CLOEXEC);
		if (x->fd < 0) {
			rc = err_sys(errno, "%s", *spec ? spec : "empty source path");
		} else {
			x->own_fd = 1;
			grow_pipe(x->fd);
			rc = fd_layer(x);
			if (!rc)
				rc = skip_to_stream(x);
		}
	}
	if (rc)
		xport_close(x);
	return rc;
}

/* The hand-over needs the link after the stream, so the end of the
 * stream cannot be the end of the link (a shutdown): with a hand-over
 * the stream is framed, and a frame of length 0 is its end. */
static const char frame_magic[] = "PFREZ-FRAMES 1\n";
#define FRAME_MAGIC_LEN	(sizeof(frame_magic) - 1)
/* The plain stream's magic is as long: a reader tells them apart from
 * the same first bytes. */
#define FRAME_PEEK	12

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

struct frame_writer {
	struct layer l;		/* l.below: the fd layer of the socket */
};

static int frame_write(struct layer *l, const void *buf, size_t n)
{
	const char *p = buf;
	unsigned char len[4];
	int rc;

	while (n > 0) {
		size_t k = n > XPORT_FRAME_MAX ? XPORT_FRAME_MAX : n;

		put_le32(len, (uint32_t)k);
		rc = layer_write(l->below, len, sizeof(len));
		if (!rc)
			rc = layer_write(l->below, p, k);
		if (rc)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static ssize_t frame_writer_read(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "framing: writer cannot read");
}

static void frame_destroy(struct layer *l)
{
	layer_destroy(l->below);
	free(l);
}

/* The end frame, and no shutdown: the link stays open for the messages. */
static int frame_writer_close(struct layer *l)
{
	unsigned char end[4] = { 0 };
	int rc = layer_write(l->below, end, sizeof(end));

	frame_destroy(l);
	return rc;
}

static const struct layer_ops frame_writer_ops = {
	.name = "framing",
	.write = frame_write,
	.read = frame_writer_read,
	.close = frame_writer_close,
	.destroy = frame_destroy,
};

int xport_frame_dest(struct xport *x)
{
	struct layer *f;
	int rc;

	if (!x->two_way || !x->layer)
		return err_msg(EINVAL, "%s: a hand-over needs a tcp or unix link", x->desc);
	f = calloc(1, sizeof(*f));
	if (!f)
		return err_msg(ENOMEM, "%s: out of memory", x->desc);
	rc = layer_write(x->layer, frame_magic, FRAME_MAGIC_LEN);
	if (rc) {
		free(f);
		return err_wrap(rc, "%s", x->desc);
	}
	f->ops = &frame_writer_ops;
	f->below = x->layer;
	x->layer = f;
	x->framed = 1;
	return 0;
}

/* The reading side of a tcp or unix source: plain or framed, as the
 * first bytes say. */
struct unframe {
	struct layer l;		/* l.below: the fd layer of the socket */
	int *framed;		/* the xport's flag, set once it is known */
	int state;		/* 0 first read, 1 plain, 2 framed, 3 ended */
	unsigned char peek[FRAME_PEEK];
	size_t peek_off, peek_len;
	uint32_t left;		/* bytes left in the current frame */
	char desc[128];
};

static ssize_t unframe_read(struct layer *l, void *buf, size_t n)
{
	struct unframe *u = (struct unframe *)l;
	unsigned char len[4], rest[FRAME_MAGIC_LEN - FRAME_PEEK];
	ssize_t got;
	int rc;

	if (u->state == 0) {
		/* A stream shorter than the magic is still read as it is. */
		while (u->peek_len < FRAME_PEEK) {
			got = layer_read(l->below, u->peek + u->peek_len,
					 FRAME_PEEK - u->peek_len);
			if (got < 0)
				return got;
			if (got == 0)
				break;
			u->peek_len += (size_t)got;
		}
		u->state = 1;
		if (u->peek_len == FRAME_PEEK && !memcmp(u->peek, frame_magic, FRAME_PEEK)) {
			rc = layer_read_full(l->below, rest, sizeof(rest));
			if (rc)
				return rc;
			if (memcmp(rest, frame_magic + FRAME_PEEK, sizeof(rest)))
				return err_msg(EBADMSG, "%s: unknown framing version",
					       u->desc);
			u->state = 2;
			u->peek_len = 0;
			*u->framed = 1;
		}
	}
	if (u->state == 1) {
		if (u->peek_off < u->peek_len) {
			size_t k = u->peek_len - u->peek_off;

			if (k > n)
				k = n;
			memcpy(buf, u->peek + u->peek_off, k);
			u->peek_off += k;
			return (ssize_t)k;
		}
		return layer_read(l->below, buf, n);
	}
	if (u->state == 3)
		return 0;
	if (u->left == 0) {
		rc = layer_read_full(l->below, len, sizeof(len));
		if (rc)
			return rc;
		u->left = (uint32_t)len[0] | (uint32_t)len[1] << 8 |
			  (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
		if (u->left > XPORT_FRAME_MAX)
			return err_msg(EBADMSG, "%s: frame of %u bytes (at most %u)",
				       u->desc, u->left, XPORT_FRAME_MAX);
		if (u->left == 0) {
			/* Never read past the end frame: what follows are
			 * the hand-over's messages. */
			u->state = 3;
			return 0;
		}
	}
	if (n > u->left)
		n = u->left;
	got = layer_read(l->below, buf, n);
	if (got == 0)
		return err_msg(EPIPE, "%s: stream truncated inside a frame", u->desc);
	if (got > 0)
		u->left -= (uint32_t)got;
	return got;
}

static int unframe_write(struct layer *l, const void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "framing: reader cannot write");
}

static int unframe_close(struct layer *l)
{
	frame_destroy(l);
	return 0;
}

static const struct layer_ops unframe_ops = {
	.name = "unframe",
	.write = unframe_write,
	.read = unframe_read,
	.close = unframe_close,
	.destroy = frame_destroy,
};

static int unframe_layer(struct xport *x)
{
	struct unframe *u;
	int rc = fd_layer(x);

	if (rc)
		return rc;
	u = calloc(1, sizeof(*u));
	if (!u) {
		layer_destroy(x->layer);
		x->layer = NULL;
		return err_msg(ENOMEM, "%s: out of memory", x->desc);
	}
	u->l.ops = &unframe_ops;
	u->l.below = x->layer;
	u->framed = &x->framed;
	snprintf(u->desc, sizeof(u->desc), "%s", x->desc);
	x->layer = &u->l;
	return 0;
}

int xport_accept(struct xport *x)
{
	int64_t deadline = xport_deadline(x->o.dial_timeout_ms);
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc;

	if (!listening(x))
		return 0;
	for (;;) {
		rc = xport_poll(x->listen_fd, POLLIN, deadline);
		if (rc < 0)
			return err_wrap(rc, "%s", x->desc);
		if (rc == 0)
			return err_msg(ETIMEDOUT, "%s: no connection within %lld ms",
				       x->desc, (long long)x->o.dial_timeout_ms);
		len = sizeof(ss);
		fd = accept4(x->listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_CLOEXEC);
		if (fd >= 0)
			break;
		/* The connection may have gone between poll and accept. */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			return err_sys(errno, "%s: accept", x->desc);
	}
	if (x->kind == XPORT_TCP && x->o.local_only && !xport_is_loopback(&ss)) {
		char a[80];

		xport_addr_str((struct sockaddr *)&ss, a, sizeof(a));
		close(fd);
		return err_msg(EACCES, "%s: refused a stream from %s: not a loopback address, and no key to authenticate it (give -key or -keydir, or -insecure to accept it)",
			       x->desc, a);
	}
	close(x->listen_fd);
	x->listen_fd = -1;
	if (x->path) {
		unlink(x->path);
		free(x->path);
		x->path = NULL;
	}
	x->fd = fd;
	x->own_fd = 1;
	if (x->kind == XPORT_TCP) {
		memcpy(x->desc, "tcp:", 4);
		xport_addr_str((struct sockaddr *)&ss, x->desc + 4,
			       sizeof(x->desc) - 4);
	}
	rc = xport_sock_timeouts(fd, &x->o);
	if (rc)
		return err_wrap(rc, "%s", x->desc);
	return unframe_layer(x);
}

int xport_open_src(const char *spec, const struct xport_opts *o,
		   struct xport *x)
{
	int rc = xport_listen(spec, o, x);

	if (!rc)
		rc = xport_accept(x);
	if (rc)
		xport_close(x);
	return rc;
}

int xport_local_port(const struct xport *x)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = listening(x) ? x->listen_fd : x->fd;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

static void sync_dir(const char *path)
{
	char *dup = strdup(path);
	int fd;

	if (!dup)
		return;
	fd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dup);
}

int xport_commit(struct xport *x)
{
	struct stat st;

	if (x->kind == XPORT_STDIO) {
		if (x->fd == 1 && fstat(1, &st) == 0 && S_ISREG(st.st_mode) &&
		    fsync(1) < 0)
			return err_sys(errno, "stdout: fsync");
		return 0;
	}
	if (x->kind != XPORT_FILE || !x->tmp)
		return 0;
	if (fsync(x->fd) < 0)
		return err_sys(errno, "%s: fsync", x->desc);
	if (close(x->fd) < 0) {
		x->fd = -1;
		return err_sys(errno, "%s: close", x->desc);
	}
	x->fd = -1;
	if (rename(x->tmp, x->path) < 0)
		return err_sys(errno, "%s: rename %s", x->desc, x->tmp);
	free(x->tmp);
	x->tmp = NULL;
	/* The rename is durable only once the directory is on disk too. */
	sync_dir(x->path);
	return 0;
}

void xport_abort(struct xport *x)
{
	xport_close(x);
}

void xport_close(struct xport *x)
{
	if (listening(x))
		close(x->listen_fd);
	x->listen_fd = -1;
	if (x->own_fd && x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	x->own_fd = 0;
	if (x->tmp)
		unlink(x->tmp);
	free(x->tmp);
	x->tmp = NULL;
	if (x->kind == XPORT_UNIX && x->path)
		unlink(x->path);
	free(x->path);
	x->path = NULL;
}

static const char *const ho_names[] = {
	[XPORT_HO_READY] = "READY",
	[XPORT_HO_COMMIT] = "COMMIT",
	[XPORT_HO_ABORT] = "ABORT",
	[XPORT_HO_DONE] = "DONE",
	[XPORT_HO_FAIL] = "FAIL",
	[XPORT_HO_PAGE] = "PAGE",
};
#define HO_NTYPES	(sizeof(ho_names) / sizeof(ho_names[0]))
#define HO_MAGIC	"pfrez-handover "

const char *xport_ho_name(enum xport_ho type)
{
	return (size_t)type < HO_NTYPES ? ho_names[type] : "?";
}

/* Which side may send a message type: 1 pfrez (the writer), 0 pthaw. */
static int ho_from_writer(enum xport_ho type)
{
	return type == XPORT_HO_COMMIT || type == XPORT_HO_ABORT;
}

int xport_handover_init(struct xport_handover *ho, int writer,
			const struct header *h,
			const unsigned char *key, size_t keylen)
{
	unsigned char salt[CRYPT_SALT_LEN];
	const char *hex = h ? hdr_get(h, "salt") : NULL;
	int rc = 0;

	memset(ho, 0, sizeof(*ho));
	ho->writer = writer;
	if (h)
		rc = crypt_sha256(h->text, h->len, ho->hdr_hash);
	if (rc || !key)
		return rc;
	if (!hex || strlen(hex) != 2 * CRYPT_SALT_LEN)
		return err_msg(EBADMSG, "header: bad or missing salt");
	for (size_t i = 0; i < CRYPT_SALT_LEN; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return err_msg(EBADMSG, "header: bad or missing salt");
		salt[i] = (unsigned char)v;
	}
	ho->keyed = 1;
	return crypt_handover_key(key, keylen, salt, ho->mac_key);
}

/* The tag of a message as sent by the writer (from_writer) or the reader. */
static int ho_tag(const struct xport_handover *ho, int from_writer, uint64_t seq,
		  const char *type, const char *text, size_t textlen,
		  char hex[2 * CRYPT_HMAC_LEN + 1])
{
	unsigned char m[32 + 1 + 8 + 8 + 1 + XPORT_HO_TEXT_MAX], tag[CRYPT_HMAC_LEN];
	size_t n = 0, tl = strlen(type);
	int rc;

	if (textlen > XPORT_HO_TEXT_MAX || tl > 8)
		return err_msg(EINVAL, "hand-over message too long");
	memcpy(m, ho->hdr_hash, 32);
	n = 32;
	m[n++] = from_writer ? 'W' : 'R';
	for (int i = 0; i < 8; i++)
		m[n++] = (unsigned char)(seq >> (8 * i));
	memcpy(m + n, type, tl);
	n += tl;
	m[n++] = ' ';
	memcpy(m + n, text, textlen);
	n += textlen;
	rc = crypt_hmac_sha256(ho->mac_key, sizeof(ho->mac_key), m, n, tag);
	for (size_t i = 0; !rc && i < sizeof(tag); i++)
		sprintf(hex + 2 * i, "%02x", tag[i]);
	return rc;
}

int xport_handover_send(struct xport *x, struct xport_handover *ho,
			enum xport_ho type, const char *text, int64_t deadline)
{
	char line[XPORT_HO_LINE_MAX], clean[XPORT_HO_TEXT_MAX + 1];
	char tag[2 * CRYPT_HMAC_LEN + 1] = "-";
	size_t tl = 0, n, off = 0;
	int rc;

	if (!x->two_way || x->fd < 0)
		return err_msg(ENOTCONN, "%s: no way back on this transport", x->desc);
	if (ho_from_writer(type) != ho->writer)
		return err_msg(EINVAL, "%s may not come from this side", xport_ho_name(type));
	for (const char *p = text ? text : ""; *p && tl < XPORT_HO_TEXT_MAX; p++)
		clean[tl++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	clean[tl] = '\0';
	if (ho->keyed) {
		rc = ho_tag(ho, ho->writer, ho->next_out, xport_ho_name(type), clean, tl, tag);
		if (rc)
			return rc;
	}
	n = (size_t)snprintf(line, sizeof(line), HO_MAGIC "%s %llu %s %s\n",
			     xport_ho_name(type), (unsigned long long)ho->next_out, tag, clean);
	ho->next_out++;
	while (off < n) {
		ssize_t w;

		rc = xport_poll(x->fd, POLLOUT, deadline);
		if (rc < 0)
			return err_wrap(rc, "%s: sending %s", x->desc, xport_ho_name(type));
		if (rc == 0)
			return err_msg(ETIMEDOUT, "%s: sending %s: timed out", x->desc,
				       xport_ho_name(type));
		w = send(x->fd, line + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (w < 0)
			return err_sys(errno, "%s: sending %s", x->desc, xport_ho_name(type));
		off += (size_t)w;
	}
	return 0;
}

static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	if (!dstlen)
		return;
	for (i = 0; i < n && i < dstlen - 1; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static int is_digits(const char *s, size_t n)
{
	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Checks one line (n bytes, without its newline) strictly. */
static int ho_parse(struct xport *x, struct xport_handover *ho, const char *line,
		    size_t n, char *text, size_t textlen)
{
	const char *p = line, *end = line + n, *type, *seq, *tag, *t;
	size_t typelen, seqlen, taglen;
	char want[2 * CRYPT_HMAC_LEN + 1], shown[48], seqbuf[24];
	int k = -1, rc;

	printable(shown, sizeof(shown), line, n);
	if (n < sizeof(HO_MAGIC) - 1 || memcmp(p, HO_MAGIC, sizeof(HO_MAGIC) - 1))
		goto garbled;
	for (const char *q = line; q < end; q++)
		if (*q < 0x20 || *q >= 0x7f)
			goto garbled;
	type = p + sizeof(HO_MAGIC) - 1;
	seq = memchr(type, ' ', (size_t)(end - type));
	if (!seq)
		goto garbled;
	typelen = (size_t)(seq - type);
	seq++;
	tag = memchr(seq, ' ', (size_t)(end - seq));
	if (!tag)
		goto garbled;
	seqlen = (size_t)(tag - seq);
	tag++;
	t = memchr(tag, ' ', (size_t)(end - tag));
	if (!t)
		goto garbled;
	taglen = (size_t)(t - tag);
	t++;
	for (size_t i = 0; i < HO_NTYPES; i++)
		if (strlen(ho_names[i]) == typelen && !memcmp(ho_names[i], type, typelen))
			k = (int)i;
	if (k < 0 || !is_digits(seq, seqlen) || (size_t)(end - t) > XPORT_HO_TEXT_MAX)
		goto garbled;
	memcpy(seqbuf, seq, seqlen);
	seqbuf[seqlen] = '\0';
	if (strtoull(seqbuf, NULL, 10) != ho->next_in)
		return err_msg(EBADMSG, "%s: hand-over message %s out of sequence (replayed?): refused",
			       x->desc, seqbuf);
	ho->authentic = 0;
	if (ho->keyed && ho->writer && k == XPORT_HO_FAIL && taglen == 1 && *tag == '-') {
		/* An unsigned FAIL: see xport.h. */
	} else if (ho->keyed) {
		if (taglen != 2 * CRYPT_HMAC_LEN)
			return err_msg(EBADMSG, "%s: %s message not authenticated on an encrypted stream (forged?): refused",
				       x->desc, ho_names[k]);
		rc = ho_tag(ho, !ho->writer, ho->next_in, ho_names[k], t, (size_t)(end - t), want);
		if (rc)
			return rc;
		if (!crypt_equal(want, tag, taglen))
			return err_msg(EBADMSG, "%s: %s message fails authentication (forged, or another key): refused",
				       x->desc, ho_names[k]);
		ho->authentic = 1;
	} else if (taglen != 1 || *tag != '-') {
		return err_msg(EBADMSG, "%s: an authenticated %s message on a plain stream: refused",
			       x->desc, ho_names[k]);
	}
	if (ho_from_writer((enum xport_ho)k) == ho->writer)
		return err_msg(EPROTO, "%s: %s may not come from the other side: refused",
			       x->desc, ho_names[k]);
	ho->next_in++;
	printable(text, textlen, t, (size_t)(end - t));
	return k;
garbled:
	return err_msg(EBADMSG, "%s: garbled hand-over message: \"%s\"", x->desc, shown);
}

int xport_handover_recv(struct xport *x, struct xport_handover *ho,
			int64_t deadline, char *text, size_t textlen)
{
	char *nl;
	int rc;

	if (textlen)
		text[0] = '\0';
	if (!x->two_way || x->fd < 0)
		return err_msg(ENOTCONN, "%s: no way back on this transport", x->desc);
	for (;;) {
		ssize_t r;

		nl = memchr(ho->buf, '\n', ho->have);
		if (nl) {
			size_t n = (size_t)(nl - ho->buf);

			rc = ho_parse(x, ho, ho->buf, n, text, textlen);
			memmove(ho->buf, nl + 1, ho->have - n - 1);
			ho->have -= n + 1;
			return rc;
		}
		if (ho->have == sizeof(ho->buf))
			return err_msg(EBADMSG, "%s: hand-over message too long", x->desc);
		rc = xport_poll(x->fd, POLLIN, deadline);
		if (rc < 0)
			return err_wrap(rc, "%s", x->desc);
		if (rc == 0)
			return err_msg(ETIMEDOUT, "%s: no answer in time", x->desc);
		r = recv(x->fd, ho->buf + ho->have, sizeof(ho->buf) - ho->have, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys(errno == EPIPE ? ECONNRESET : errno,
				       "%s: the link broke", x->desc);
		}
		if (r == 0)
			return err_msg(ECONNRESET, "%s: the link closed%s", x->desc,
				       ho->have ? " in the middle of a message" : "");
		ho->have += (size_t)r;
	}
}
