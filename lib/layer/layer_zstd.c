/* layer_zstd.c: the zstd layer: one zstd frame with a content checksum,
 * over libzstd's streaming API. */
#include "compress.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZSTD_LAYER_BUF		(256 * 1024)
/* Levels up to 19 use at most an 8 MiB window; refusing larger frames
 * keeps the reader's memory bounded whatever the stream says. */
#define ZSTD_LAYER_WINDOW_LOG	23

struct layer_zstd {
	struct layer l;
	ZSTD_CCtx *cctx;	/* writer */
	ZSTD_DCtx *dctx;	/* reader */
	ZSTD_inBuffer in;	/* reader: what is left of buf */
	int end;		/* reader: a frame ended exactly here */
	int verified;		/* reader: ... and below ended right after it */
	unsigned char buf[ZSTD_LAYER_BUF];
};

static void layer_zstd_free(struct layer_zstd *z)
{
	ZSTD_freeCCtx(z->cctx);
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

static void layer_zstd_destroy(struct layer *l)
{
	layer_destroy(l->below);
	layer_zstd_free((struct layer_zstd *)l);
}

/* Writer */

/* Feeds in to the compressor, passing each full buffer down; with
 * ZSTD_e_end, until the frame is complete. */
static int layer_zstd_compress(struct layer_zstd *z, ZSTD_inBuffer *in,
			       ZSTD_EndDirective mode)
{
	for (;;) {
		ZSTD_outBuffer out = { z->buf, ZSTD_LAYER_BUF, 0 };
		size_t left = ZSTD_compressStream2(z->cctx, &out, in, mode);
		int rc;

		if (ZSTD_isError(left))
			return err_msg(EIO, "zstd: compression failed: %s",
				       ZSTD_getErrorName(left));
		if (out.pos > 0) {
			rc = layer_write(z->l.below, z->buf, out.pos);
			if (rc < 0)
				return rc;
		}
		if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
			return 0;
	}
}

static int layer_zstd_write(struct layer *l, const void *buf, size_t n)
{
	ZSTD_inBuffer in = { buf, n, 0 };

	return layer_zstd_compress((struct layer_zstd *)l, &in, ZSTD_e_continue);
}

static ssize_t layer_zstd_no_read(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "zstd: layer is open for writing");
}

static int layer_zstd_writer_close(struct layer *l)
{
	struct layer *below = l->below;
	ZSTD_inBuffer in = { NULL, 0, 0 };
	int rc = layer_zstd_compress((struct layer_zstd *)l, &in, ZSTD_e_end);

	layer_zstd_free((struct layer_zstd *)l);
	if (rc < 0) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static const struct layer_ops layer_zstd_writer_ops = {
	.name = "zstd",
	.write = layer_zstd_write,
	.read = layer_zstd_no_read,
	.close = layer_zstd_writer_close,
	.destroy = layer_zstd_destroy,
};

int layer_zstd_writer(struct layer *below, int level, struct layer **out)
{
	struct layer_zstd *z = calloc(1, sizeof(*z));
	size_t ret;

	if (!z)
		return err_msg(ENOMEM, "zstd: out of memory");
	z->cctx = ZSTD_createCCtx();
	if (!z->cctx) {
		layer_zstd_free(z);
		return err_msg(ENOMEM, "zstd: out of memory");
	}
	ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(ret))
		ret = ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(ret)) {
		layer_zstd_free(z);
		return err_msg(EINVAL, "zstd: level %d: %s", level, ZSTD_getErrorName(ret));
	}
	z->l.ops = &layer_zstd_writer_ops;
	z->l.below = below;
	*out = &z->l;
	return 0;
}

/* Reader */

/* After the frame only the end of below may come. */
static int layer_zstd_check_end(struct layer_zstd *z)
{
	ssize_t r;

	if (z->verified)
		return 0;
	r = layer_read(z->l.below, z->buf, ZSTD_LAYER_BUF);
	if (r < 0)
		return (int)r;
	if (r > 0)
		return err_msg(EBADMSG, "zstd: data after the end of the stream");
	z->verified = 1;
	return 0;
}

static ssize_t layer_zstd_read(struct layer *l, void *buf, size_t n)
{
	struct layer_zstd *z = (struct layer_zstd *)l;
	ZSTD_outBuffer out = { buf, n, 0 };

	if (z->end)
		return layer_zstd_check_end(z);
	for (;;) {
		size_t in_before = z->in.pos;
		size_t hint = ZSTD_decompressStream(z->dctx, &out, &z->in);
		ssize_t r;

		if (ZSTD_getErrorCode(hint) == ZSTD_error_frameParameter_windowTooLarge)
			return err_msg(EFBIG, "zstd: frame needs a window over %d MiB (levels above 19 are refused)",
				       1 << (ZSTD_LAYER_WINDOW_LOG - 20));
		if (ZSTD_isError(hint))
			return err_msg(EBADMSG, "zstd: corrupt data: %s",
				       ZSTD_getErrorName(hint));
		/* 0: the frame is decoded, checked and fully flushed. */
		if (hint == 0) {
			z->end = 1;
			if (z->in.pos < z->in.size)
				return err_msg(EBADMSG, "zstd: data after the end of the stream");
			return out.pos > 0 ? (ssize_t)out.pos : layer_zstd_check_end(z);
		}
		if (out.pos > 0)
			return (ssize_t)out.pos;
		if (z->in.pos < z->in.size) {
			if (z->in.pos == in_before)
				return err_msg(EBADMSG, "zstd: corrupt data: decoder stalled");
			continue;
		}
		r = layer_read(l->below, z->buf, ZSTD_LAYER_BUF);
		if (r < 0)
			return r;
		if (r == 0)
			return err_msg(EPIPE, "zstd: stream truncated");
		z->in.src = z->buf;
		z->in.size = (size_t)r;
		z->in.pos = 0;
	}
}

static int layer_zstd_no_write(struct layer *l, const void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "zstd: layer is open for reading");
}

static int layer_zstd_reader_close(struct layer *l)
{
	struct layer *below = l->below;
	unsigned char c;
	ssize_t r = layer_zstd_read(l, &c, 1);

	layer_zstd_free((struct layer_zstd *)l);
	if (r != 0) {
		layer_destroy(below);
		return r < 0 ? (int)r : err_msg(EBADMSG, "zstd: unread data at close");
	}
	return layer_close(below);
}

static const struct layer_ops layer_zstd_reader_ops = {
	.name = "zstd",
	.write = layer_zstd_no_write,
	.read = layer_zstd_read,
	.close = layer_zstd_reader_close,
	.destroy = layer_zstd_destroy,
};

int layer_zstd_reader(struct layer *below, struct layer **out)
{
	struct layer_zstd *z = calloc(1, sizeof(*z));
	size_t ret;

	if (!z)
		return err_msg(ENOMEM, "zstd: out of memory");
	z->dctx = ZSTD_createDCtx();
	if (!z->dctx) {
		layer_zstd_free(z);
		return err_msg(ENOMEM, "zstd: out of memory");
	}
	ret = ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, ZSTD_LAYER_WINDOW_LOG);
	if (ZSTD_isError(ret)) {
		layer_zstd_free(z);
		return err_msg(EINVAL, "zstd: %s", ZSTD_getErrorName(ret));
	}
	z->l.ops = &layer_zstd_reader_ops;
	z->l.below = below;
	*out = &z->l;
	return 0;
}
