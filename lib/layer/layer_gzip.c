/* layer_gzip.c: the gzip (RFC 1952) and flate (raw deflate, RFC 1951)
 * layers, over zlib's streaming deflate() and inflate(). */
#define ZLIB_CONST
#include "compress.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

#define GZIP_BUF	(256 * 1024)
/* zlib counts in uInt: hand it at most this much per call. */
#define GZIP_MAX_CALL	(1U << 30)

struct layer_gzip {
	struct layer l;
	z_stream z;
	int end;		/* reader: inflate() saw the end marker */
	int verified;		/* reader: ... and below ended right after it */
	unsigned char buf[GZIP_BUF];
};

static int layer_gzip_init_error(const char *name, int ret)
{
	if (ret == Z_MEM_ERROR)
		return err_msg(ENOMEM, "%s: out of memory", name);
	return err_msg(EINVAL, "%s: zlib refused to start (error %d)", name, ret);
}

/* Writer */

static int layer_gzip_flush(struct layer_gzip *g)
{
	size_t n = GZIP_BUF - g->z.avail_out;
	int rc = 0;

	if (n > 0)
		rc = layer_write(g->l.below, g->buf, n);
	g->z.next_out = g->buf;
	g->z.avail_out = GZIP_BUF;
	return rc;
}

/* Runs deflate() until it took all input (Z_NO_FLUSH) or ended the stream
 * (Z_FINISH), passing each full buffer down. */
static int layer_gzip_deflate(struct layer_gzip *g, int flush)
{
	for (;;) {
		int ret = deflate(&g->z, flush);
		int rc;

		if (ret == Z_STREAM_ERROR)
			return err_msg(EIO, "%s: deflate failed", g->l.ops->name);
		if (ret == Z_STREAM_END)
			return layer_gzip_flush(g);
		if (g->z.avail_out == 0) {
			rc = layer_gzip_flush(g);
			if (rc < 0)
				return rc;
			continue;
		}
		if (flush == Z_NO_FLUSH)
			return 0;
	}
}

static int layer_gzip_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_gzip *g = (struct layer_gzip *)l;
	const unsigned char *p = buf;

	while (n > 0) {
		size_t k = n < GZIP_MAX_CALL ? n : GZIP_MAX_CALL;
		int rc;

		g->z.next_in = p;
		g->z.avail_in = (uInt)k;
		rc = layer_gzip_deflate(g, Z_NO_FLUSH);
		g->z.next_in = NULL;
		g->z.avail_in = 0;
		if (rc < 0)
			return rc;
		p += k;
		n -= k;
	}
	return 0;
}

static ssize_t layer_gzip_no_read(struct layer *l, void *buf, size_t n)
{
	(void)buf;
	(void)n;
	return err_msg(EBADF, "%s: layer is open for writing", l->ops->name);
}

static int layer_gzip_writer_close(struct layer *l)
{
	struct layer_gzip *g = (struct layer_gzip *)l;
	struct layer *below = l->below;
	int rc = layer_gzip_deflate(g, Z_FINISH);

	deflateEnd(&g->z);
	free(g);
	if (rc < 0) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static void layer_gzip_writer_destroy(struct layer *l)
{
	struct layer_gzip *g = (struct layer_gzip *)l;

	deflateEnd(&g->z);
	layer_destroy(l->below);
	free(g);
}

static const struct layer_ops layer_gzip_writer_ops = {
	.name = "gzip",
	.write = layer_gzip_write,
	.read = layer_gzip_no_read,
	.close = layer_gzip_writer_close,
	.destroy = layer_gzip_writer_destroy,
};

static const struct layer_ops layer_flate_writer_ops = {
	.name = "flate",
	.write = layer_gzip_write,
	.read = layer_gzip_no_read,
	.close = layer_gzip_writer_close,
	.destroy = layer_gzip_writer_destroy,
};

static int layer_gzip_open_writer(struct layer *below,
				  const struct layer_ops *ops, int window_bits,
				  int level, struct layer **out)
{
	const char *name = ops->name;
	struct layer_gzip *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return err_msg(ENOMEM, "%s: out of memory", name);
	ret = deflateInit2(&g->z, level, Z_DEFLATED, window_bits, 8,
			   Z_DEFAULT_STRATEGY);
	if (ret != Z_OK) {
		free(g);
		return layer_gzip_init_error(name, ret);
	}
	g->l.ops = ops;
	g->l.below = below;
	g->z.next_out = g->buf;
	g->z.avail_out = GZIP_BUF;
	*out = &g->l;
	return 0;
}

/* 31: a gzip wrapper around a 32 KiB window; -15: raw deflate. */
int layer_gzip_writer(struct layer *below, int level, struct layer **out)
{
	return layer_gzip_open_writer(below, &layer_gzip_writer_ops, 31, level, out);
}

int layer_flate_writer(struct layer *below, int level, struct layer **out)
{
	return layer_gzip_open_writer(below, &layer_flate_writer_ops, -15, level, out);
}

/* Reader */

/* After the end marker only the end of below may come. */
static int layer_gzip_check_end(struct layer_gzip *g)
{
	ssize_t r;

	if (g->verified)
		return 0;
	r = layer_read(g->l.below, g->buf, GZIP_BUF);
	if (r < 0)
		return (int)r;
	if (r > 0)
		return err_msg(EBADMSG, "%s: data after the end of the stream",
			       g->l.ops->name);
	g->verified = 1;
	return 0;
}

static ssize_t layer_gzip_read(struct layer *l, void *buf, size_t n)
{
	struct layer_gzip *g = (struct layer_gzip *)l;

	if (g->end)
		return layer_gzip_check_end(g);
	if (n > GZIP_MAX_CALL)
		n = GZIP_MAX_CALL;
	g->z.next_out = buf;
	g->z.avail_out = (uInt)n;
	for (;;) {
		uInt in_before = g->z.avail_in;
		int ret = inflate(&g->z, Z_NO_FLUSH);
		size_t got = n - g->z.avail_out;
		ssize_t r;

		switch (ret) {
		case Z_STREAM_END:
			g->end = 1;
			if (g->z.avail_in > 0)
				return err_msg(EBADMSG, "%s: data after the end of the stream",
					       g->l.ops->name);
			return got > 0 ? (ssize_t)got : layer_gzip_check_end(g);
		case Z_OK:
		case Z_BUF_ERROR:	/* no progress possible: needs input */
			break;
		case Z_NEED_DICT:
			return err_msg(EBADMSG, "%s: corrupt data: wants a preset dictionary",
				       g->l.ops->name);
		case Z_MEM_ERROR:
			return err_msg(ENOMEM, "%s: out of memory", g->l.ops->name);
		default:
			return err_msg(EBADMSG, "%s: corrupt data: %s", g->l.ops->name,
				       g->z.msg ? g->z.msg : "inflate failed");
		}
		if (got > 0)
			return (ssize_t)got;
		if (g->z.avail_in > 0) {
			if (g->z.avail_in == in_before)
				return err_msg(EBADMSG, "%s: corrupt data: inflate stalled",
					       g->l.ops->name);
			continue;
		}
		r = layer_read(l->below, g->buf, GZIP_BUF);
		if (r < 0)
			return r;
		if (r == 0)
			return err_msg(EPIPE, "%s: stream truncated", g->l.ops->name);
		g->z.next_in = g->buf;
		g->z.avail_in = (uInt)r;
	}
}

static int layer_gzip_no_write(struct layer *l, const void *buf, size_t n)
{
	(void)buf;
	(void)n;
	return err_msg(EBADF, "%s: layer is open for reading", l->ops->name);
}

static int layer_gzip_reader_close(struct layer *l)
{
	struct layer_gzip *g = (struct layer_gzip *)l;
	struct layer *below = l->below;
	unsigned char c;
	ssize_t r = layer_gzip_read(l, &c, 1);
	const char *name = l->ops->name;

	inflateEnd(&g->z);
	free(g);
	if (r != 0) {
		layer_destroy(below);
		return r < 0 ? (int)r : err_msg(EBADMSG, "%s: unread data at close", name);
	}
	return layer_close(below);
}

static void layer_gzip_reader_destroy(struct layer *l)
{
	struct layer_gzip *g = (struct layer_gzip *)l;

	inflateEnd(&g->z);
	layer_destroy(l->below);
	free(g);
}

static const struct layer_ops layer_gzip_reader_ops = {
	.name = "gzip",
	.write = layer_gzip_no_write,
	.read = layer_gzip_read,
	.close = layer_gzip_reader_close,
	.destroy = layer_gzip_reader_destroy,
};

static const struct layer_ops layer_flate_reader_ops = {
	.name = "flate",
	.write = layer_gzip_no_write,
	.read = layer_gzip_read,
	.close = layer_gzip_reader_close,
	.destroy = layer_gzip_reader_destroy,
};

static int layer_gzip_open_reader(struct layer *below,
				  const struct layer_ops *ops, int window_bits,
				  struct layer **out)
{
	const char *name = ops->name;
	struct layer_gzip *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return err_msg(ENOMEM, "%s: out of memory", name);
	ret = inflateInit2(&g->z, window_bits);
	if (ret != Z_OK) {
		free(g);
		return layer_gzip_init_error(name, ret);
	}
	g->l.ops = ops;
	g->l.below = below;
	*out = &g->l;
	return 0;
}

/* 31: gzip only (47 would also take zlib streams, which we never write). */
int layer_gzip_reader(struct layer *below, struct layer **out)
{
	return layer_gzip_open_reader(below, &layer_gzip_reader_ops, 31, out);
}

int layer_flate_reader(struct layer *below, struct layer **out)
{
	return layer_gzip_open_reader(below, &layer_flate_reader_ops, -15, out);
}
