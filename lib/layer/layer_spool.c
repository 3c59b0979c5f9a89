/* layer_spool.c: a reader layer over pthaw's input pipe that passes reads
 * through until it is asked to spool: then a thread reads the rest of the
 * input into an unlinked temporary file as fast as it comes, and reads
 * are served from that file.  `pfrez -halt | pthaw` ends the original
 * only once the whole stream is written; a restore that needs what the
 * original still holds (a unix socket's name, a SysV segment's key)
 * spools, so that pfrez can finish and end it, instead of both waiting on
 * each other across a full pipe. */
#include "layer.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct spool {
	struct layer l;
	pthread_mutex_t mu;	/* held across a read passed through */
	pthread_cond_t cv;
	pthread_t th;
	int on, ended;		/* spooling; the thread saw the input's end */
	int rc;			/* the thread's error (-errno), its message in why */
	char why[256];
	int fd;			/* the temporary file */
	unsigned long long in, out;	/* bytes written to it, read from it */
};

/* The one input that may be spooled (pthaw's). */
static struct spool *input;

static void *spool_thread(void *arg)
{
	struct spool *s = arg;
	static char buf[1 << 16];

	for (;;) {
		ssize_t n = layer_read(s->l.below, buf, sizeof(buf));
		ssize_t w = 0;

		while (n > 0 && w < n) {
			ssize_t k = pwrite(s->fd, buf + w, (size_t)(n - w), (off_t)(s->in + (unsigned long long)w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				n = err_sys(errno, "spooling the input to a temporary file");
				break;
			}
			w += k;
		}
		pthread_mutex_lock(&s->mu);
		if (n > 0)
			s->in += (unsigned long long)n;
		else if (n == 0)
			s->ended = 1;
		else {
			s->rc = (int)n;
			snprintf(s->why, sizeof(s->why), "%s", err_last());
		}
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (n <= 0)
			return NULL;
	}
}

static ssize_t spool_read(struct layer *l, void *buf, size_t n)
{
	struct spool *s = (struct spool *)l;
	ssize_t r;

	pthread_mutex_lock(&s->mu);
	if (!s->on) {
		r = layer_read(l->below, buf, n);
		pthread_mutex_unlock(&s->mu);
		return r;
	}
	while (s->out == s->in && !s->ended && !s->rc)
		pthread_cond_wait(&s->cv, &s->mu);
	if (s->out < s->in) {
		if (n > s->in - s->out)
			n = (size_t)(s->in - s->out);
		r = pread(s->fd, buf, n, (off_t)s->out);
		if (r < 0)
			r = err_sys(errno, "reading the spooled input");
		else if (r == 0)
			r = err_msg(EIO, "reading the spooled input: it is shorter than written");
		else
			s->out += (unsigned long long)r;
	} else if (s->rc) {
		r = err_msg(-s->rc, "%s", s->why);
	} else {
		r = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static void spool_stop(struct spool *s)
{
	if (input == s)
		input = NULL;
	if (s->on) {
		/* The thread ends at the input's end or error; one still
		 * reading (pthaw failing early) is cancelled. */
		pthread_cancel(s->th);
		pthread_join(s->th, NULL);
		close(s->fd);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

static int spool_close(struct layer *l)
{
	struct layer *below = l->below;

	spool_stop((struct spool *)l);
	free(l);
	return layer_close(below);
}

static void spool_destroy(struct layer *l)
{
	struct layer *below = l->below;

	spool_stop((struct spool *)l);
	free(l);
	layer_destroy(below);
}

static const struct layer_ops spool_ops = {
	.name = "spool",
	.read = spool_read,
	.close = spool_close,
	.destroy = spool_destroy,
};

struct layer *layer_spool_open(struct layer *below)
{
	struct spool *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->l.ops = &spool_ops;
	s->l.below = below;
	s->fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	input = s;
	return &s->l;
}

int layer_spool_input(void)
{
	struct spool *s = input;
	const char *dir = getenv("TMPDIR");
	int rc = 0;

	if (!s)
		return 0;
	/* Waits for a read passed through to return (the pipe is full:
	 * at once), so that the thread reads on where it stopped. */
	pthread_mutex_lock(&s->mu);
	if (s->on)
		goto out;
	s->fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		rc = err_sys(errno, "spooling the input: a temporary file in %s", dir && *dir ? dir : "/tmp");
		goto out;
	}
	rc = -pthread_create(&s->th, NULL, spool_thread, s);
	if (rc) {
		close(s->fd);
		s->fd = -1;
		rc = err_sys(-rc, "spooling the input: a thread");
		goto out;
	}
	s->on = 1;
out:
	pthread_mutex_unlock(&s->mu);
	return rc ? rc : 1;
}

int layer_spool_ended(void)
{
	struct spool *s = input;
	int ended;

	if (!s || !s->on)
		return 1;
	pthread_mutex_lock(&s->mu);
	ended = s->ended || s->rc;
	pthread_mutex_unlock(&s->mu);
	return ended;
}
