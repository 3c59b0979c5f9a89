/* layer.c: helpers over the layer interface, and the plain fd layer. */
#include "layer.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int layer_read_full(struct layer *l, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t got = layer_read(l, p, n);

		if (got < 0)
			return (int)got;
		if (got == 0)
			return err_msg(EPIPE, "stream truncated");
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

struct layer_fd {
	struct layer l;
	int fd;
	int close_fd;
	int wrote;
	int pipe;		/* fd is a pipe: 1, not: -1, not yet known: 0 */
	unsigned splice_flags;	/* SPLICE_F_NONBLOCK when fd is O_NONBLOCK */
	int64_t write_timeout_ms;	/* fd is non-blocking: poll this long */
	unsigned long long bytes;
	unsigned long long limit;	/* reads end at bytes == limit, if limited */
	int limited;
};

/* A write or vmsplice found the pipe or socket full (EAGAIN): waits for
 * room, at most the write timeout.  0 to try again, or -errno. */
static int fd_wait(struct layer_fd *f)
{
	struct pollfd pfd = { .fd = f->fd, .events = POLLOUT };
	int64_t ms = f->write_timeout_ms;
	int rc;

	if (!ms)
		return err_msg(ETIMEDOUT, "write timed out");
	rc = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);
	if (rc > 0 || (rc < 0 && errno == EINTR))
		return 0;
	if (rc < 0)
		return err_sys(errno, "poll");
	return err_msg(ETIMEDOUT, "write timed out: the reader took nothing for %lld ms", (long long)ms);
}

static int fd_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_fd *f = (struct layer_fd *)l;
	const char *p = buf;

	f->wrote = 1;
	while (n > 0) {
		ssize_t w = write(f->fd, p, n);

		if (w < 0) {
			int rc;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return err_sys(errno, "write");
			rc = fd_wait(f);
			if (rc)
				return rc;
			continue;
		}
		p += w;
		n -= (size_t)w;
		f->bytes += (unsigned long long)w;
	}
	return 0;
}

/* Into a pipe, given pages go by reference (vmsplice): the pipe holds
 * the caller's pages and the reader copies straight out of them, one copy
 * fewer than write(), and no page of the pipe's own to allocate, fill
 * and free.  The pipe's reader may splice them on (to another pipe, a
 * socket) where they live after our pipe has let go of them: that is
 * safe only because the caller never writes them again (layer.h). */
static int fd_give(struct layer *l, void *buf, size_t n)
{
	struct layer_fd *f = (struct layer_fd *)l;
	struct iovec v = { buf, n };

	if (!f->pipe) {
		struct stat st;
		int fl = fcntl(f->fd, F_GETFL);

		f->pipe = fstat(f->fd, &st) == 0 && S_ISFIFO(st.st_mode) && fl >= 0 ? 1 : -1;
		/* vmsplice ignores O_NONBLOCK: without the flag a reader
		 * that stops would hold it for ever, past the write
		 * timeout. */
		f->splice_flags = fl >= 0 && (fl & O_NONBLOCK) ? SPLICE_F_NONBLOCK : 0;
	}
	if (f->pipe < 0)
		return fd_write(l, buf, n);
	f->wrote = 1;
	while (v.iov_len > 0) {
		ssize_t w = vmsplice(f->fd, &v, 1, f->splice_flags);

		if (w < 0) {
			int rc;

			if (errno == EINTR)
				continue;
			/* Not for this fd after all (or forbidden by a
			 * seccomp filter): copied, now and from now on. */
			if ((errno == EINVAL || errno == ENOSYS || errno == EPERM) && v.iov_base == buf) {
				f->pipe = -1;
				return fd_write(l, buf, n);
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return err_sys(errno, "vmsplice");
			rc = fd_wait(f);
			if (rc)
				return rc;
			continue;
		}
		v.iov_base = (char *)v.iov_base + w;
		v.iov_len -= (size_t)w;
		f->bytes += (unsigned long long)w;
	}
	return 1;
}

static ssize_t fd_read(struct layer *l, void *buf, size_t n)
{
	struct layer_fd *f = (struct layer_fd *)l;

	if (f->limited && n > f->limit - f->bytes)
		n = f->limit - f->bytes;
	if (!n)
		return 0;
	for (;;) {
		ssize_t r = read(f->fd, buf, n);

		if (r >= 0) {
			f->bytes += (unsigned long long)r;
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return err_msg(ETIMEDOUT, "read timed out");
		return err_sys(errno, "read");
	}
}

static void fd_destroy(struct layer *l)
{
	struct layer_fd *f = (struct layer_fd *)l;

	if (f->close_fd)
		close(f->fd);
	free(f);
}

static int fd_close(struct layer *l)
{
	struct layer_fd *f = (struct layer_fd *)l;
	struct stat st;
	int rc = 0;

	if (f->close_fd) {
		if (close(f->fd) < 0 && errno != EINTR)
			rc = err_sys(errno, "close");
	} else if (f->wrote && fstat(f->fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		shutdown(f->fd, SHUT_WR);
	}
	free(f);
	return rc;
}

static const struct layer_ops fd_ops = {
	.name = "fd",
	.write = fd_write,
	.read = fd_read,
	.close = fd_close,
	.destroy = fd_destroy,
	.give = fd_give,
};

struct layer *layer_fd_open(int fd, int close_fd)
{
	struct layer_fd *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->l.ops = &fd_ops;
	f->fd = fd;
	f->close_fd = close_fd;
	return &f->l;
}

void layer_fd_read_limit(struct layer *l, unsigned long long n)
{
	struct layer_fd *f = (struct layer_fd *)l;

	if (l->ops == &fd_ops) {
		f->limit = f->bytes + n;
		f->limited = 1;
	}
}

void layer_fd_write_timeout(struct layer *l, int64_t ms)
{
	if (l->ops == &fd_ops)
		((struct layer_fd *)l)->write_timeout_ms = ms;
}

unsigned long long layer_fd_bytes(const struct layer *l)
{
	return l->ops == &fd_ops ? ((const struct layer_fd *)l)->bytes : 0;
}
