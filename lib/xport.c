/* xport.c: opening a transport from its spec, stdin/stdout and files,
 * accepting the one connection, and the -halt status reply. */
#include "xport.h"
#include "xport_int.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
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
		}
	}
	if (rc)
		xport_close(x);
	return rc;
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
	return fd_layer(x);
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

int xport_status_send(struct xport *x, int ok, const char *msg)
{
	char line[XPORT_STATUS_MAX], junk[4096];
	size_t n, off = 0;
	int drained = 0;

	if (!x->two_way)
		return 0;
	n = (size_t)snprintf(line, sizeof(line), "PTHAW %s ", ok ? "OK" : "FAIL");
	for (const char *p = msg ? msg : ""; *p && n < sizeof(line) - 1; p++)
		line[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	line[n++] = '\n';
	while (off < n) {
		ssize_t w = send(x->fd, line + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return err_msg(ETIMEDOUT, "%s: sending the status: timed out",
				       x->desc);
		if (w < 0)
			return err_sys(errno, "%s: sending the status", x->desc);
		off += (size_t)w;
	}
	shutdown(x->fd, SHUT_WR);
	/* Closing a socket with unread input resets the connection, and a
	 * reset may overtake the status on its way: read what is there. */
	while (drained < (1 << 20)) {
		ssize_t r = recv(x->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (r <= 0)
			break;
		drained += (int)r;
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

static int status_parse(struct xport *x, const char *buf, size_t n,
			char *msg, size_t msglen)
{
	static const char ok[] = "PTHAW OK", fail[] = "PTHAW FAIL";
	const char *text;
	int rc;

	if (n >= sizeof(ok) - 1 && !memcmp(buf, ok, sizeof(ok) - 1)) {
		text = buf + sizeof(ok) - 1;
		rc = 1;
	} else if (n >= sizeof(fail) - 1 && !memcmp(buf, fail, sizeof(fail) - 1)) {
		text = buf + sizeof(fail) - 1;
		rc = 0;
	} else {
		char shown[48];

		printable(shown, sizeof(shown), buf, n);
		return err_msg(EPROTO, "%s: garbled status from the reader: \"%s\"",
			       x->desc, shown);
	}
	if (*text != ' ' && *text != '\n')
		return err_msg(EPROTO, "%s: garbled status from the reader",
			       x->desc);
	if (*text == ' ')
		text++;
	printable(msg, msglen, text, (size_t)(buf + n - text));
	return rc;
}

static int status_read(struct xport *x, int64_t timeout_ms, char *msg,
		       size_t msglen)
{
	int64_t deadline = xport_deadline(timeout_ms);
	char buf[XPORT_STATUS_MAX];
	size_t n = 0;
	char *nl;
	int rc;

	if (!x->two_way || x->fd < 0)
		return err_msg(ENOTCONN, "%s: no way back from the reader on this transport",
			       x->desc);
	for (;;) {
		ssize_t r;

		rc = xport_poll(x->fd, POLLIN, deadline);
		if (rc < 0)
			return err_wrap(rc, "%s", x->desc);
		if (rc == 0)
			return err_msg(ETIMEDOUT, "%s: no status from the reader within %lld ms",
				       x->desc, (long long)timeout_ms);
		r = recv(x->fd, buf + n, sizeof(buf) - n, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return err_sys(errno, "%s: link to the reader dropped",
				       x->desc);
		}
		if (r == 0 && n == 0)
			return err_msg(ECONNRESET, "%s: the reader closed the link without reporting a result",
				       x->desc);
		if (r == 0)
			return err_msg(EPROTO, "%s: status from the reader cut short",
				       x->desc);
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl)
			return status_parse(x, buf, (size_t)(nl - buf), msg, msglen);
		if (n == sizeof(buf))
			return err_msg(EPROTO, "%s: status from the reader too long",
				       x->desc);
	}
}

int xport_status_recv(struct xport *x, int64_t timeout_ms, char *msg,
		      size_t msglen)
{
	int rc;

	if (msglen)
		msg[0] = '\0';
	rc = status_read(x, timeout_ms, msg, msglen);
	if (rc < 0 && msglen)
		snprintf(msg, msglen, "%s", err_last());
	return rc;
}
