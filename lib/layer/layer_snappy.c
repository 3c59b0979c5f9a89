/* layer_snappy.c: the snappy layer, in the snappy framing format (stream
 * identifier, then chunks of at most 64 KiB, each with a masked CRC-32C)
 * over libsnappy's C API. */
#include "compress.h"
#include "crc32c.h"
#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <snappy-c.h>

#define SNAPPY_CHUNK		65536	/* most uncompressed bytes in a chunk */
#define SNAPPY_OUT		(320 * 1024)
#define SNAPPY_IN		(256 * 1024)

#define SNAPPY_COMPRESSED	0x00
#define SNAPPY_UNCOMPRESSED	0x01
#define SNAPPY_PADDING		0xfe
#define SNAPPY_STREAM_ID	0xff

static const unsigned char snappy_stream_id[10] = {
	SNAPPY_STREAM_ID, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y',
};

/* The framing format checksums the data masked, so that a CRC of data
 * that itself holds CRCs stays well distributed. */
static uint32_t layer_snappy_crc(const void *data, size_t n)
{
	uint32_t c = crc32c(0, data, n);

	return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void layer_snappy_put_header(unsigned char *h, int type, size_t len,
				    uint32_t crc)
{
	h[0] = (unsigned char)type;
	h[1] = (unsigned char)len;
	h[2] = (unsigned char)(len >> 8);
	h[3] = (unsigned char)(len >> 16);
	h[4] = (unsigned char)crc;
	h[5] = (unsigned char)(crc >> 8);
	h[6] = (unsigned char)(crc >> 16);
	h[7] = (unsigned char)(crc >> 24);
}

static void layer_snappy_destroy(struct layer *l)
{
	layer_destroy(l->below);
	free(l);
}

/* Writer */

struct layer_snappy_writer {
	struct layer l;
	size_t pending;			/* bytes waiting in chunk */
	size_t out_len;			/* framed bytes waiting in out */
	unsigned char chunk[SNAPPY_CHUNK];
	unsigned char out[SNAPPY_OUT];
};

static int layer_snappy_flush(struct layer_snappy_writer *w)
{
	int rc = 0;

	if (w->out_len > 0)
		rc = layer_write(w->l.below, w->out, w->out_len);
	w->out_len = 0;
	return rc;
}

static int layer_snappy_emit(struct layer_snappy_writer *w,
			     const unsigned char *data, size_t len)
{
	size_t max = snappy_max_compressed_length(len);
	unsigned char *h;
	size_t clen = max;
	int type = SNAPPY_COMPRESSED;

	if (w->out_len + 8 + max > SNAPPY_OUT) {
		int rc = layer_snappy_flush(w);

		if (rc < 0)
			return rc;
	}
	h = w->out + w->out_len;
	if (snappy_compress((const char *)data, len, (char *)h + 8, &clen) != SNAPPY_OK)
		return err_msg(EIO, "snappy: compression failed");
	if (clen >= len) {
		type = SNAPPY_UNCOMPRESSED;
		memcpy(h + 8, data, len);
		clen = len;
	}
	layer_snappy_put_header(h, type, clen + 4, layer_snappy_crc(data, len));
	w->out_len += 8 + clen;
	return 0;
}

static int layer_snappy_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_snappy_writer *w = (struct layer_snappy_writer *)l;
	const unsigned char *p = buf;
	int rc;

	while (n > 0) {
		/* Whole chunks straight from the caller's buffer: no copy. */
		if (w->pending == 0 && n >= SNAPPY_CHUNK) {
			rc = layer_snappy_emit(w, p, SNAPPY_CHUNK);
			if (rc < 0)
				return rc;
			p += SNAPPY_CHUNK;
			n -= SNAPPY_CHUNK;
			continue;
		}
		size_t k = SNAPPY_CHUNK - w->pending;

		if (k > n)
			k = n;
		memcpy(w->chunk + w->pending, p, k);
		w->pending += k;
		p += k;
		n -= k;
		if (w->pending == SNAPPY_CHUNK) {
			w->pending = 0;
			rc = layer_snappy_emit(w, w->chunk, SNAPPY_CHUNK);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static ssize_t layer_snappy_no_read(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "snappy: layer is open for writing");
}

static int layer_snappy_writer_close(struct layer *l)
{
	struct layer_snappy_writer *w = (struct layer_snappy_writer *)l;
	struct layer *below = l->below;
	int rc = 0;

	if (w->pending > 0)
		rc = layer_snappy_emit(w, w->chunk, w->pending);
	if (rc == 0)
		rc = layer_snappy_flush(w);
	free(w);
	if (rc < 0) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static const struct layer_ops layer_snappy_writer_ops = {
	.name = "snappy",
	.write = layer_snappy_write,
	.read = layer_snappy_no_read,
	.close = layer_snappy_writer_close,
	.destroy = layer_snappy_destroy,
};

int layer_snappy_writer(struct layer *below, int level, struct layer **out)
{
	struct layer_snappy_writer *w;

	(void)level;
	if (8 + snappy_max_compressed_length(SNAPPY_CHUNK) + sizeof(snappy_stream_id) > SNAPPY_OUT)
		return err_msg(EINVAL, "snappy: library bound exceeds the output buffer");
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_msg(ENOMEM, "snappy: out of memory");
	w->l.ops = &layer_snappy_writer_ops;
	w->l.below = below;
	memcpy(w->out, snappy_stream_id, sizeof(snappy_stream_id));
	w->out_len = sizeof(snappy_stream_id);
	*out = &w->l;
	return 0;
}

/* Reader */

struct layer_snappy_reader {
	struct layer l;
	int seen_id;			/* the stream identifier came */
	int eof;			/* below returned 0 */
	size_t in_pos, in_len;
	size_t data_pos, data_len;	/* decoded bytes not yet returned */
	unsigned char in[SNAPPY_IN];
	unsigned char data[SNAPPY_CHUNK];
};

/* Makes k bytes available at in + in_pos: 1, 0 when below ends first,
 * or -errno. */
static int layer_snappy_fill(struct layer_snappy_reader *r, size_t k)
{
	while (r->in_len - r->in_pos < k) {
		ssize_t got;

		if (r->in_pos > 0) {
			memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
			r->in_len -= r->in_pos;
			r->in_pos = 0;
		}
		if (r->eof)
			return 0;
		got = layer_read(r->l.below, r->in + r->in_len, SNAPPY_IN - r->in_len);
		if (got < 0)
			return (int)got;
		if (got == 0)
			r->eof = 1;
		r->in_len += (size_t)got;
	}
	return 1;
}

static int layer_snappy_truncated(int rc)
{
	return rc < 0 ? rc : err_msg(EPIPE, "snappy: stream truncated");
}

static int layer_snappy_skip(struct layer_snappy_reader *r, size_t len)
{
	while (len > 0) {
		size_t k = r->in_len - r->in_pos;
		int rc;

		if (k == 0) {
			rc = layer_snappy_fill(r, 1);
			if (rc <= 0)
				return layer_snappy_truncated(rc);
			continue;
		}
		if (k > len)
			k = len;
		r->in_pos += k;
		len -= k;
	}
	return 0;
}

/* Decodes the next data chunk into dst (room for SNAPPY_CHUNK bytes),
 * skipping the others: its length, 0 at the end of the stream, or
 * -errno. */
static ssize_t layer_snappy_next(struct layer_snappy_reader *r, unsigned char *dst)
{
	for (;;) {
		int rc = layer_snappy_fill(r, 4);
		const unsigned char *p;
		size_t len, dlen;
		uint32_t want;
		int type;

		if (rc < 0)
			return rc;
		if (rc == 0) {
			/* Framing has no end marker: a chunk boundary is the end. */
			if (r->in_len == r->in_pos && r->seen_id)
				return 0;
			return layer_snappy_truncated(rc);
		}
		p = r->in + r->in_pos;
		type = p[0];
		len = p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16;
		if (!r->seen_id && type != SNAPPY_STREAM_ID)
			return err_msg(EBADMSG, "snappy: not a framed snappy stream (no stream identifier)");
		if (type >= 0x80 && type <= SNAPPY_PADDING) {
			r->in_pos += 4;
			rc = layer_snappy_skip(r, len);
			if (rc < 0)
				return rc;
			continue;
		}
		if (type > SNAPPY_UNCOMPRESSED && type < 0x80)
			return err_msg(EBADMSG, "snappy: corrupt data: reserved chunk type 0x%02x",
				       type);
		if (type == SNAPPY_STREAM_ID) {
			if (len != 6)
				return err_msg(EBADMSG, "snappy: corrupt data: bad stream identifier");
			rc = layer_snappy_fill(r, 10);
			if (rc <= 0)
				return layer_snappy_truncated(rc);
			p = r->in + r->in_pos;
			if (memcmp(p, snappy_stream_id, 10) != 0)
				return err_msg(EBADMSG, "snappy: corrupt data: bad stream identifier");
			r->seen_id = 1;
			r->in_pos += 10;
			continue;
		}
		if (len < 4 || len > SNAPPY_IN - 4)
			return err_msg(EBADMSG, "snappy: corrupt data: chunk length %zu", len);
		rc = layer_snappy_fill(r, 4 + len);
		if (rc <= 0)
			return layer_snappy_truncated(rc);
		p = r->in + r->in_pos + 4;
		want = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		p += 4;
		len -= 4;
		if (type == SNAPPY_UNCOMPRESSED) {
			if (len > SNAPPY_CHUNK)
				return err_msg(EBADMSG, "snappy: corrupt data: chunk of %zu bytes", len);
			memcpy(dst, p, len);
			dlen = len;
		} else {
			if (snappy_uncompressed_length((const char *)p, len, &dlen) != SNAPPY_OK ||
			    dlen > SNAPPY_CHUNK)
				return err_msg(EBADMSG, "snappy: corrupt data: bad chunk length");
			if (snappy_uncompress((const char *)p, len, (char *)dst, &dlen) != SNAPPY_OK)
				return err_msg(EBADMSG, "snappy: corrupt data: bad compressed chunk");
		}
		if (layer_snappy_crc(dst, dlen) != want)
			return err_msg(EBADMSG, "snappy: corrupt data: checksum mismatch");
		r->in_pos += 8 + len;
		if (dlen > 0)
			return (ssize_t)dlen;
	}
}

static ssize_t layer_snappy_read(struct layer *l, void *buf, size_t n)
{
	struct layer_snappy_reader *r = (struct layer_snappy_reader *)l;
	ssize_t got;

	if (r->data_pos == r->data_len) {
		if (n >= SNAPPY_CHUNK)
			return layer_snappy_next(r, buf);
		got = layer_snappy_next(r, r->data);
		if (got <= 0)
			return got;
		r->data_pos = 0;
		r->data_len = (size_t)got;
	}
	if (n > r->data_len - r->data_pos)
		n = r->data_len - r->data_pos;
	memcpy(buf, r->data + r->data_pos, n);
	r->data_pos += n;
	return (ssize_t)n;
}

static int layer_snappy_no_write(struct layer *l, const void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "snappy: layer is open for reading");
}

static int layer_snappy_reader_close(struct layer *l)
{
	struct layer *below = l->below;
	unsigned char c;
	ssize_t r = layer_snappy_read(l, &c, 1);

	free(l);
	if (r != 0) {
		layer_destroy(below);
		return r < 0 ? (int)r : err_msg(EBADMSG, "snappy: unread data at close");
	}
	return layer_close(below);
}

static const struct layer_ops layer_snappy_reader_ops = {
	.name = "snappy",
	.write = layer_snappy_no_write,
	.read = layer_snappy_read,
	.close = layer_snappy_reader_close,
	.destroy = layer_snappy_destroy,
};

int layer_snappy_reader(struct layer *below, struct layer **out)
{
	struct layer_snappy_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return err_msg(ENOMEM, "snappy: out of memory");
	r->l.ops = &layer_snappy_reader_ops;
	r->l.below = below;
	*out = &r->l;
	return 0;
}
