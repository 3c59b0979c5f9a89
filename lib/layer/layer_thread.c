/* layer_thread.c: a ring of NBUF buffers between the caller and a
 * thread that drains them into the layer below.
 *
 * Data is copied into the ring: a copy costs far less than the
 * compression or encryption it lets run beside the capture.  An error
 * of the thread is reported by the next write() or by close(). */
#include "layer_thread.h"
#include "err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NBUF	4
#define BUFSZ	(1u << 20)

struct layer_thread {
	struct layer l;
	unsigned char *buf[NBUF];
	size_t fill[NBUF];
	unsigned long long queued, drained;	/* buffers handed over / written */
	int finishing, failed, stop;
	int err;
	char msg[1024];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
};

static void *drain(void *arg)
{
	struct layer_thread *t = arg;

	/* Cancellation (by destroy) only while writing below. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	for (;;) {
		unsigned i;
		int rc;

		pthread_mutex_lock(&t->mu);
		while (!t->stop && t->queued == t->drained && !t->finishing)
			pthread_cond_wait(&t->cv, &t->mu);
		if (t->stop || t->queued == t->drained) {
			pthread_mutex_unlock(&t->mu);
			return NULL;
		}
		i = (unsigned)(t->drained % NBUF);
		pthread_mutex_unlock(&t->mu);

		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		rc = layer_write(t->l.below, t->buf[i], t->fill[i]);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);

		pthread_mutex_lock(&t->mu);
		if (rc) {
			t->failed = 1;
			t->err = -rc;
			strncpy(t->msg, err_last(), sizeof(t->msg) - 1);
		}
		t->drained++;
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
		if (rc)
			return NULL;
	}
}

static int failed(struct layer_thread *t)
{
	return err_msg(t->err, "%s", t->msg);
}

/* Hands the current buffer over and waits for a free one. */
static int push(struct layer_thread *t)
{
	unsigned i = (unsigned)(t->queued % NBUF);

	if (!t->fill[i])
		return 0;
	pthread_mutex_lock(&t->mu);
	t->queued++;
	pthread_cond_broadcast(&t->cv);
	while (!t->failed && t->queued - t->drained == NBUF)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	if (t->failed)
		return failed(t);
	t->fill[t->queued % NBUF] = 0;
	return 0;
}

static int thread_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_thread *t = (struct layer_thread *)l;
	const unsigned char *p = buf;

	if (t->failed)
		return failed(t);
	while (n) {
		unsigned i = (unsigned)(t->queued % NBUF);
		size_t room = BUFSZ - t->fill[i], k = n < room ? n : room;
		int rc;

		memcpy(t->buf[i] + t->fill[i], p, k);
		t->fill[i] += k;
		p += k;
		n -= k;
		if (t->fill[i] == BUFSZ && (rc = push(t)))
			return rc;
	}
	return 0;
}

static ssize_t thread_read(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "thread layer: write only");
}

static void thread_free(struct layer_thread *t)
{
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	for (int i = 0; i < NBUF; i++)
		free(t->buf[i]);
	free(t);
}

static int thread_close(struct layer *l)
{
	struct layer_thread *t = (struct layer_thread *)l;
	struct layer *below = l->below;
	int rc = t->failed ? failed(t) : push(t);

	pthread_mutex_lock(&t->mu);
	t->finishing = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	if (!rc && t->failed)
		rc = failed(t);
	thread_free(t);
	if (rc) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static void thread_destroy(struct layer *l)
{
	struct layer_thread *t = (struct layer_thread *)l;
	struct layer *below = l->below;

	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	/* It may be blocked writing to a reader that went away. */
	pthread_cancel(t->th);
	pthread_join(t->th, NULL);
	thread_free(t);
	layer_destroy(below);
}

static const struct layer_ops thread_ops = {
	.name = "thread",
	.write = thread_write,
	.read = thread_read,
	.close = thread_close,
	.destroy = thread_destroy,
};

int layer_thread_open(struct layer *below, struct layer **out)
{
	struct layer_thread *t = calloc(1, sizeof(*t));
	int e;

	if (!t)
		return err_sys(ENOMEM, "thread layer");
	t->l.ops = &thread_ops;
	t->l.below = below;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (int i = 0; i < NBUF; i++) {
		t->buf[i] = malloc(BUFSZ);
		if (!t->buf[i]) {
			thread_free(t);
			return err_sys(ENOMEM, "thread layer");
		}
	}
	e = pthread_create(&t->th, NULL, drain, t);
	if (e) {
		thread_free(t);
		return err_sys(e, "starting the writer thread");
	}
	*out = &t->l;
	return 0;
}
