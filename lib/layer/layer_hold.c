/* layer_hold.c: a writer layer that keeps what is written in memory until
 * it is let go, then passes everything through.  pfrez writes the start of
 * a copy-on-write capture (header, state, the pages read while the
 * process is held) through it, so that a slow reader cannot make the
 * process wait: it runs on before a byte has to reach the reader. */
#include "layer.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hold {
	struct layer l;
	unsigned char *buf;
	size_t len, cap;
	int holding;
};

static int hold_write(struct layer *l, const void *p, size_t n)
{
	struct hold *h = (struct hold *)l;

	if (!h->holding)
		return layer_write(l->below, p, n);
	if (h->len + n > h->cap) {
		size_t cap = h->cap ? h->cap : 1 << 20;
		unsigned char *b;

		while (cap < h->len + n)
			cap *= 2;
		b = realloc(h->buf, cap);
		if (!b)
			return err_sys(ENOMEM, "holding %zu bytes of the stream", h->len + n);
		h->buf = b;
		h->cap = cap;
	}
	memcpy(h->buf + h->len, p, n);
	h->len += n;
	return 0;
}

/* Held, pages are copied like any write; let go, they pass on. */
static int hold_give(struct layer *l, void *p, size_t n)
{
	struct hold *h = (struct hold *)l;

	return h->holding ? hold_write(l, p, n) : layer_give(l->below, p, n);
}

int layer_hold_release(struct layer *l)
{
	struct hold *h = (struct hold *)l;
	int rc = 0;

	if (!h->holding)
		return 0;
	h->holding = 0;
	if (h->len)
		rc = layer_write(l->below, h->buf, h->len);
	free(h->buf);
	h->buf = NULL;
	h->len = h->cap = 0;
	return rc;
}

const void *layer_hold_data(struct layer *l, size_t *len)
{
	struct hold *h = (struct hold *)l;

	*len = h->len;
	return h->buf;
}

static int hold_close(struct layer *l)
{
	int rc = layer_hold_release(l), rc2;
	struct layer *below = l->below;

	free(l);
	if (rc) {
		layer_destroy(below);
		return rc;
	}
	rc2 = layer_close(below);
	return rc2;
}

static void hold_destroy(struct layer *l)
{
	struct hold *h = (struct hold *)l;

	layer_destroy(l->below);
	free(h->buf);
	free(h);
}

static const struct layer_ops hold_ops = {
	.name = "hold",
	.write = hold_write,
	.close = hold_close,
	.destroy = hold_destroy,
	.give = hold_give,
};

struct layer *layer_hold_open(struct layer *below)
{
	struct hold *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->l.ops = &hold_ops;
	h->l.below = below;
	h->holding = 1;
	return &h->l;
}
