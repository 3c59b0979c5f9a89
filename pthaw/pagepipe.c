/* pagepipe.c: a reader thread filling a small ring of record buffers.
 *
 * The ring has NSLOT buffers of REC_MAX_PAYLOAD bytes; pages records use
 * 1 MiB of one, so pthaw's memory stays a few MiB whatever the snapshot
 * size.  The consumer owns one slot at a time and gives it back when it
 * asks for the next record. */
#include "pagepipe.h"
#include "err.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NSLOT 4

struct slot {
	unsigned char *buf;
	uint32_t type;
	size_t len;
	int rc;
	char err[1024];
};

struct page_pipe {
	struct rec_reader *rd;
	unsigned char *rd_buf;	/* rd's own buffer, put back at the end */
	struct slot slot[NSLOT];
	unsigned long long produced, consumed;	/* slots filled / given back */
	int held;		/* the consumer holds slot consumed % NSLOT */
	int stop, done;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
};

static void *reader(void *arg)
{
	struct page_pipe *pp = arg;

	for (;;) {
		struct slot *s;
		const unsigned char *p;
		int rc;

		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&pp->mu);
		while (!pp->stop && pp->produced - pp->consumed == NSLOT)
			pthread_cond_wait(&pp->cv, &pp->mu);
		if (pp->stop) {
			pthread_mutex_unlock(&pp->mu);
			return NULL;
		}
		s = &pp->slot[pp->produced % NSLOT];
		pthread_mutex_unlock(&pp->mu);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);

		pp->rd->buf = s->buf;
		rc = rec_read(pp->rd, &s->type, &p, &s->len);
		s->rc = rc;
		if (rc < 0)
			strncpy(s->err, err_last(), sizeof(s->err) - 1);

		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		pthread_mutex_lock(&pp->mu);
		pp->produced++;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		if (rc <= 0)
			return NULL;
	}
}

int page_pipe_start(struct page_pipe **out, struct rec_reader *rd)
{
	struct page_pipe *pp = calloc(1, sizeof(*pp));
	int e;

	if (!pp)
		return err_sys(ENOMEM, "page pipe");
	pp->rd = rd;
	pp->rd_buf = rd->buf;
	for (int i = 0; i < NSLOT; i++) {
		pp->slot[i].buf = malloc(REC_MAX_PAYLOAD);
		if (!pp->slot[i].buf) {
			page_pipe_stop(pp);
			return err_sys(ENOMEM, "page pipe");
		}
	}
	pthread_mutex_init(&pp->mu, NULL);
	pthread_cond_init(&pp->cv, NULL);
	e = pthread_create(&pp->th, NULL, reader, pp);
	if (e) {
		pp->done = 1;
		page_pipe_stop(pp);
		return err_sys(e, "starting the reader thread");
	}
	*out = pp;
	return 0;
}

int page_pipe_next(struct page_pipe *pp, uint32_t *type, const unsigned char **p, size_t *len)
{
	struct slot *s;

	pthread_mutex_lock(&pp->mu);
	if (pp->held) {
		pp->consumed++;
		pp->held = 0;
		pthread_cond_broadcast(&pp->cv);
	}
	while (pp->produced == pp->consumed)
		pthread_cond_wait(&pp->cv, &pp->mu);
	s = &pp->slot[pp->consumed % NSLOT];
	pp->held = 1;
	pthread_mutex_unlock(&pp->mu);
	if (s->rc < 0)
		return err_msg(-s->rc, "%s", s->err);
	*type = s->type;
	*p = s->buf;
	*len = s->len;
	return s->rc;
}

void page_pipe_stop(struct page_pipe *pp)
{
	if (!pp->done) {
		pthread_mutex_lock(&pp->mu);
		pp->stop = 1;
		pthread_cond_broadcast(&pp->cv);
		pthread_mutex_unlock(&pp->mu);
		/* It may be blocked reading a stream that never ends. */
		pthread_cancel(pp->th);
		pthread_join(pp->th, NULL);
		pthread_mutex_destroy(&pp->mu);
		pthread_cond_destroy(&pp->cv);
	}
	pp->rd->buf = pp->rd_buf;
	for (int i = 0; i < NSLOT; i++)
		free(pp->slot[i].buf);
	free(pp);
}
