/* layer.c: helpers over the layer interface, and the plain fd layer. */
#include "layer.h"
#include "err.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
	int64_t write_timeout_ms;	/* fd is non-blocking: poll this long */
	unsigned long long bytes;
	unsigned long long limit;	/* reads end at bytes == limit, if limited */
	int limited;
};

static int fd_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_fd *f = (struct layer_fd *)l;
	const char *p = buf;

	f->wrote = 1;
	while (n > 0) {
		ssize_t w = write(f->fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && f->write_timeout_ms) {
				struct pollfd pfd = { .fd = f->fd, .events = POLLOUT };
				int64_t ms = f->write_timeout_ms;
				int rc = poll(&pfd, 1, ms > INT_MAX ? INT_MAX : (int)ms);

				if (rc > 0 || (rc < 0 && errno == EINTR))
					continue;
				if (rc < 0)
					return err_sys(errno, "poll");
				return err_msg(ETIMEDOUT, "write timed out: the reader took nothing for %lld ms",
					       (long long)ms);
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return err_msg(ETIMEDOUT, "write timed out");
			return err_sys(errno, "write");
		}
		p += w;
		n -= (size_t)w;
		f->bytes += (unsigned long long)w;
	}
	return 0;
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
