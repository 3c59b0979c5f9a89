/* layer_crypt.c: the encrypt and decrypt layers: cut the payload into
 * chunks, frame them and check the frames (crypt.h has the format; the
 * sealing itself is in crypt_gcm.c and crypt_ctrmac.c). */
#include "crypt.h"
#include "crypt_seal.h"
#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#define FINAL_BIT	0x80000000u

struct layer_crypt {
	struct layer l;
	struct crypt_seal *s;
	unsigned char hdr_hash[SHA256_DIGEST_LENGTH];
	uint64_t counter;	/* number of the next chunk */
	unsigned char *frame;	/* writing: W || chunk || tag; reading: chunk || tag */
	size_t framecap;
	int rc;			/* sticky error */

	/* writing: plaintext bytes waiting at frame + CRYPT_FRAME_HDR */
	size_t fill;

	/* reading: authenticated plaintext at frame[pos..len) */
	size_t pos, len;
	int final_seen;		/* the final chunk authenticated */
	int done;		/* ... and the stream below ended after it */
};

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (unsigned char)(v >> (8 * b));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void layer_crypt_ad(const struct layer_crypt *c, uint32_t w,
			   unsigned char ad[CRYPT_AD_LEN])
{
	memcpy(ad, c->hdr_hash, sizeof(c->hdr_hash));
	for (int b = 0; b < 8; b++)
		ad[32 + b] = (unsigned char)(c->counter >> (8 * b));
	put_le32(ad + 40, w);
}

static void layer_crypt_free(struct layer_crypt *c)
{
	if (c->s)
		c->s->ops->free(c->s);
	if (c->frame)
		OPENSSL_clear_free(c->frame, c->framecap);
	free(c);
}

/* The encrypt or decrypt layer over below (ops says which); with
 * CRYPT_NONE there is no layer and *out is below itself. */
static int layer_crypt_open(const struct layer_ops *ops, struct layer *below,
			    enum crypt_mode m, const unsigned char *key, size_t keylen,
			    const unsigned char *salt, size_t saltlen,
			    const void *aad, size_t aadlen, int encrypt,
			    struct layer **out)
{
	struct layer_crypt *c;
	int rc;

	if (m == CRYPT_NONE) {
		*out = below;
		return 0;
	}
	if (keylen != 16 && keylen != 24 && keylen != 32)
		return err_msg(EINVAL, "%s: key of %zu bytes, want 16, 24 or 32",
			       crypt_name(m), keylen);
	if (saltlen != crypt_salt_len(m))
		return err_msg(EINVAL, "%s: salt of %zu bytes, want %zu",
			       crypt_name(m), saltlen, crypt_salt_len(m));
	c = calloc(1, sizeof(*c));
	if (!c)
		return err_sys(ENOMEM, "%s", crypt_name(m));
	c->l.ops = ops;
	c->l.below = below;
	if (m == CRYPT_AES_GCM)
		rc = crypt_gcm_new(m, key, keylen, salt, encrypt, &c->s);
	else
		rc = crypt_ctrmac_new(m, key, keylen, salt, encrypt, &c->s);
	if (rc)
		goto fail;
	c->framecap = CRYPT_FRAME_HDR + CRYPT_CHUNK + c->s->taglen;
	c->frame = malloc(c->framecap);
	if (!c->frame) {
		rc = err_sys(ENOMEM, "%s", crypt_name(m));
		goto fail;
	}
	SHA256(aad, aadlen, c->hdr_hash);
	*out = &c->l;
	return 0;
fail:
	layer_crypt_free(c);
	return rc;
}

/* Writing */

/* Seals n bytes at in (which may be the frame's own chunk area) as the
 * next chunk and writes the frame below. */
static int layer_crypt_emit(struct layer_crypt *c, const unsigned char *in,
			    size_t n, int final)
{
	uint32_t w = (uint32_t)n | (final ? FINAL_BIT : 0);
	unsigned char ad[CRYPT_AD_LEN];
	unsigned char *chunk = c->frame + CRYPT_FRAME_HDR;
	int rc;

	if (c->counter == UINT64_MAX)
		return err_msg(EFBIG, "%s: too many chunks", c->s->name);
	put_le32(c->frame, w);
	layer_crypt_ad(c, w, ad);
	rc = c->s->ops->seal(c->s, c->counter, ad, in, chunk, n, chunk + n);
	if (rc)
		return rc;
	rc = layer_write(c->l.below, c->frame, CRYPT_FRAME_HDR + n + c->s->taglen);
	if (rc)
		return rc;
	c->counter++;
	return 0;
}

static int layer_crypt_write(struct layer *l, const void *buf, size_t n)
{
	struct layer_crypt *c = (struct layer_crypt *)l;
	const unsigned char *p = buf;

	/* The message of the first failure is still the one to print. */
	if (c->rc)
		return c->rc;
	while (n > 0) {
		size_t take;

		/* A full chunk is sealed only once more data comes, since
		 * the last chunk must carry the final flag. */
		if (c->fill == CRYPT_CHUNK) {
			c->rc = layer_crypt_emit(c, c->frame + CRYPT_FRAME_HDR, CRYPT_CHUNK, 0);
			if (c->rc)
				return c->rc;
			c->fill = 0;
		}
		if (c->fill == 0 && n > CRYPT_CHUNK) {
			/* Not the last chunk: seal straight from the caller. */
			c->rc = layer_crypt_emit(c, p, CRYPT_CHUNK, 0);
			if (c->rc)
				return c->rc;
			p += CRYPT_CHUNK;
			n -= CRYPT_CHUNK;
			continue;
		}
		take = CRYPT_CHUNK - c->fill;
		if (take > n)
			take = n;
		memcpy(c->frame + CRYPT_FRAME_HDR + c->fill, p, take);
		c->fill += take;
		p += take;
		n -= take;
	}
	return 0;
}

static void layer_crypt_destroy(struct layer *l)
{
	struct layer_crypt *c = (struct layer_crypt *)l;
	struct layer *below = l->below;

	layer_crypt_free(c);
	layer_destroy(below);
}

static int layer_crypt_wclose(struct layer *l)
{
	struct layer_crypt *c = (struct layer_crypt *)l;
	struct layer *below = l->below;
	int rc = c->rc;

	if (!rc)
		rc = layer_crypt_emit(c, c->frame + CRYPT_FRAME_HDR, c->fill, 1);
	layer_crypt_free(c);
	if (rc) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static ssize_t layer_crypt_noread(struct layer *l, void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "encrypt layer: not for reading");
}

static const struct layer_ops layer_encrypt_ops = {
	.name = "encrypt",
	.write = layer_crypt_write,
	.read = layer_crypt_noread,
	.close = layer_crypt_wclose,
	.destroy = layer_crypt_destroy,
};

int layer_encrypt_open(struct layer *below, enum crypt_mode m,
		       const unsigned char *key, size_t keylen,
		       const unsigned char *salt, size_t saltlen,
		       const void *aad, size_t aadlen, struct layer **out)
{
	return layer_crypt_open(&layer_encrypt_ops, below, m, key, keylen, salt,
				saltlen, aad, aadlen, 1, out);
}

/* Reading */

/* Reads up to n bytes, stopping early only at the end of the stream. */
static ssize_t layer_crypt_read_upto(struct layer *below, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = layer_read(below, p + got, n - got);

		if (r < 0)
			return r;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Reads, checks and opens the next frame into frame[0..len). */
static int layer_crypt_next(struct layer_crypt *c)
{
	const char *name = c->s->name;
	unsigned char ad[CRYPT_AD_LEN], wbuf[CRYPT_FRAME_HDR];
	size_t n, taglen = c->s->taglen;
	ssize_t got;
	uint32_t w;
	int final, rc;

	got = layer_crypt_read_upto(c->l.below, wbuf, sizeof(wbuf));
	if (got < 0)
		return (int)got;
	if (got == 0 && c->counter == 0)
		return err_msg(EPIPE, "%s: stream truncated: no chunk at all", name);
	if (got == 0)
		return err_msg(EPIPE, "%s: stream truncated after chunk %llu (no final chunk)",
			       name, (unsigned long long)c->counter - 1);
	if ((size_t)got < sizeof(wbuf))
		return err_msg(EPIPE, "%s: stream truncated in the frame header of chunk %llu",
			       name, (unsigned long long)c->counter);
	w = get_le32(wbuf);
	final = !!(w & FINAL_BIT);
	n = w & ~FINAL_BIT;
	if (n > CRYPT_CHUNK || (n == 0 && !final))
		return err_msg(EBADMSG, "%s: chunk %llu: bad frame length %zu (corrupt stream)",
			       name, (unsigned long long)c->counter, n);

	got = layer_crypt_read_upto(c->l.below, c->frame, n + taglen);
	if (got < 0)
		return (int)got;
	if ((size_t)got < n + taglen)
		return err_msg(EPIPE, "%s: stream truncated in chunk %llu",
			       name, (unsigned long long)c->counter);

	layer_crypt_ad(c, w, ad);
	rc = c->s->ops->open(c->s, c->counter, ad, c->frame, n, c->frame + n);
	if (rc == -EBADMSG) {
		OPENSSL_cleanse(c->frame, n);
		/* Chunk 0 is the first place a wrong key shows. */
		if (c->counter == 0)
			return err_msg(EBADMSG, "%s: authentication failed for chunk 0 (wrong key or tampered header or data)",
				       name);
		return err_msg(EBADMSG, "%s: authentication failed for chunk %llu (wrong key or tampered data)",
			       name, (unsigned long long)c->counter);
	}
	if (rc)
		return rc;
	c->counter++;
	c->pos = 0;
	c->len = n;
	c->final_seen = final;
	return 0;
}

/* After the final chunk: the stream below must end here. */
static int layer_crypt_check_end(struct layer_crypt *c)
{
	unsigned char extra;
	ssize_t got;

	got = layer_crypt_read_upto(c->l.below, &extra, 1);
	if (got < 0)
		return (int)got;
	if (got > 0)
		return err_msg(EBADMSG, "%s: unexpected data after the final chunk (chunk %llu)",
			       c->s->name, (unsigned long long)c->counter - 1);
	c->done = 1;
	return 0;
}

static ssize_t layer_crypt_read(struct layer *l, void *buf, size_t n)
{
	struct layer_crypt *c = (struct layer_crypt *)l;

	if (c->rc)
		return c->rc;
	while (c->pos == c->len) {
		if (c->done)
			return 0;
		c->rc = c->final_seen ? layer_crypt_check_end(c) : layer_crypt_next(c);
		if (c->rc)
			return c->rc;
	}
	if (n > c->len - c->pos)
		n = c->len - c->pos;
	memcpy(buf, c->frame + c->pos, n);
	c->pos += n;
	return (ssize_t)n;
}

static int layer_crypt_rclose(struct layer *l)
{
	struct layer_crypt *c = (struct layer_crypt *)l;
	struct layer *below = l->below;
	int rc = c->rc;

	/* Closing early still checks the rest up to a verified end. */
	while (!rc && !c->done) {
		c->pos = c->len;
		rc = c->final_seen ? layer_crypt_check_end(c) : layer_crypt_next(c);
	}
	layer_crypt_free(c);
	if (rc) {
		layer_destroy(below);
		return rc;
	}
	return layer_close(below);
}

static int layer_crypt_nowrite(struct layer *l, const void *buf, size_t n)
{
	(void)l;
	(void)buf;
	(void)n;
	return err_msg(EBADF, "decrypt layer: not for writing");
}

static const struct layer_ops layer_decrypt_ops = {
	.name = "decrypt",
	.write = layer_crypt_nowrite,
	.read = layer_crypt_read,
	.close = layer_crypt_rclose,
	.destroy = layer_crypt_destroy,
};

int layer_decrypt_open(struct layer *below, enum crypt_mode m,
		       const unsigned char *key, size_t keylen,
		       const unsigned char *salt, size_t saltlen,
		       const void *aad, size_t aadlen, struct layer **out)
{
	return layer_crypt_open(&layer_decrypt_ops, below, m, key, keylen, salt,
				saltlen, aad, aadlen, 0, out);
}
