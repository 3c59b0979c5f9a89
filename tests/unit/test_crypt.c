/* test_crypt.c: the encrypt/decrypt layers in every mode (round trips,
 * tampering, truncation, wrong keys), key files and mode names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypt.h"
#include "crypt_seal.h"
#include "err.h"
#include "layer.h"
#include "memlayer.h"

#define CHUNK	((size_t)CRYPT_CHUNK)
#define MIB	((size_t)1 << 20)

static const enum crypt_mode modes[] = {
	CRYPT_AES_GCM, CRYPT_AES_CTR, CRYPT_AES_CFB, CRYPT_AES_OFB,
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static unsigned char key[32], salt[CRYPT_SALT_LEN];
/* The key expect_fail() decrypts with. */
static const unsigned char *rd_key = key;
static size_t rd_klen = sizeof(key);
static const char hdr[] = "PFREZ 1 96\nencryption: AES-GCM\nkey: k\nsalt: 00\narch: x86_64\n\n";

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned char *random_bytes(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(next_rand() >> 29);
	return p;
}

/* A write or read size: mostly odd sizes around the chunk size. */
static size_t some_size(void)
{
	static const size_t sizes[] = { 1, 7, 4096, 65537, CRYPT_CHUNK - 1, CRYPT_CHUNK,
					CRYPT_CHUNK + 1, 3 * CRYPT_CHUNK + 5 };

	return sizes[next_rand() % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* Encrypts data into out->buf in writes of wsize bytes (0: varied). */
static void encrypt_to(enum crypt_mode m, const unsigned char *k, size_t klen,
		       const unsigned char *data, size_t n, size_t wsize, struct mem *out)
{
	struct layer *l;
	size_t off = 0;

	mem_init(out);
	assert_int_equal(layer_encrypt_open(&out->l, m, k, klen, salt, sizeof(salt),
					    hdr, strlen(hdr), &l), 0);
	while (off < n) {
		size_t w = wsize ? wsize : some_size();

		if (w > n - off)
			w = n - off;
		assert_int_equal(layer_write(l, data + off, w), 0);
		off += w;
	}
	assert_int_equal(layer_close(l), 0);
	assert_int_equal(out->closed, 1);
	assert_int_equal(out->destroyed, 0);
}

struct got {
	unsigned char *buf;
	size_t len;
	int rc;
};

/* Decrypts stream[0..slen) reading rsize bytes at a time (0: varied),
 * with the layer below answering at most maxread bytes per read.  Checks
 * that a failing read leaves the caller's buffer untouched. */
static struct got decrypt_from(enum crypt_mode m, const unsigned char *k, size_t klen,
			       const void *aad, size_t aadlen,
			       const unsigned char *stream, size_t slen,
			       size_t rsize, size_t maxread)
{
	size_t cap = 4 * CRYPT_CHUNK;
	unsigned char *rbuf = malloc(cap);
	struct got g = { 0 };
	size_t gcap = 0;
	struct layer *l;
	struct mem in;

	assert_non_null(rbuf);
	mem_over(&in, stream, slen, maxread);
	err_clear();
	assert_int_equal(layer_decrypt_open(&in.l, m, k, klen, salt, sizeof(salt),
					    aad, aadlen, &l), 0);
	for (;;) {
		size_t want = rsize ? rsize : some_size();
		ssize_t r;

		if (want > cap)
			want = cap;
		memset(rbuf, 0xa5, want);
		r = layer_read(l, rbuf, want);
		if (r < 0) {
			for (size_t i = 0; i < want; i++)
				assert_int_equal(rbuf[i], 0xa5);
			g.rc = (int)r;
			layer_destroy(l);
			assert_int_equal(in.destroyed, 1);
			break;
		}
		if (r == 0) {
			g.rc = layer_close(l);
			assert_int_equal(in.closed, 1);
			break;
		}
		assert_true((size_t)r <= want);
		if (g.len + (size_t)r > gcap) {
			gcap = (g.len + (size_t)r) * 2;
			g.buf = realloc(g.buf, gcap);
			assert_non_null(g.buf);
		}
		memcpy(g.buf + g.len, rbuf, (size_t)r);
		g.len += (size_t)r;
	}
	free(rbuf);
	free(in.buf);
	return g;
}

static size_t frames_for(size_t n)
{
	return n == 0 ? 1 : (n + CHUNK - 1) / CHUNK;
}

static void round_trip(enum crypt_mode m, const unsigned char *data, size_t n,
		       size_t wsize, size_t rsize, size_t maxread)
{
	struct mem s;
	struct got g;

	encrypt_to(m, key, sizeof(key), data, n, wsize, &s);
	assert_int_equal(s.len, n + frames_for(n) * (CRYPT_FRAME_HDR + crypt_tag_len(m)));
	/* The last frame, and only it, is marked final. */
	assert_int_equal(s.buf[s.len - crypt_tag_len(m) - (n - (frames_for(n) - 1) * CHUNK) - 1] & 0x80,
			 0x80);
	if (n >= 16)
		assert_memory_not_equal(s.buf + CRYPT_FRAME_HDR, data, 16);
	g = decrypt_from(m, key, sizeof(key), hdr, strlen(hdr), s.buf, s.len, rsize, maxread);
	if (g.rc)
		fail_msg("%s, %zu bytes: %s", crypt_name(m), n, err_last());
	assert_int_equal(g.len, n);
	if (n)
		assert_memory_equal(g.buf, data, n);
	free(g.buf);
	free(s.buf);
}

static void round_trips(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, CRYPT_CHUNK - 1, CRYPT_CHUNK,
					CRYPT_CHUNK + 1, 2 * CRYPT_CHUNK, 3 * CRYPT_CHUNK + 17 };
	unsigned char *data = random_bytes(3 * CHUNK + 17);

	(void)state;
	for (size_t i = 0; i < NMODES; i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			round_trip(modes[i], data, sizes[j], 0, 0, 0);
			round_trip(modes[i], data, sizes[j], 1000, 333, 999);
			round_trip(modes[i], data, sizes[j], CHUNK, CHUNK, 0);
		}
	}
	free(data);
}

static void large(void **state)
{
	unsigned char *rnd = random_bytes(8 * MIB);
	unsigned char *zero = calloc(1, 8 * MIB);

	(void)state;
	assert_non_null(zero);
	for (size_t i = 0; i < NMODES; i++) {
		round_trip(modes[i], rnd, 8 * MIB, 0, 0, 0);
		round_trip(modes[i], zero, 8 * MIB, 65536, 0, 4097);
		round_trip(modes[i], rnd, 8 * MIB - 3, 8 * MIB, 8191, 0);
	}
	free(rnd);
	free(zero);
}

/* Tampering.  The stream: chunks 0-3 full, chunk 4 (final) 1000 bytes. */
#define NDATA	(4 * CHUNK + 1000)

static size_t frame_off(enum crypt_mode m, size_t i)
{
	return i * (CRYPT_FRAME_HDR + CHUNK + crypt_tag_len(m));
}

/* Decrypts a tampered stream: it must fail with a message containing
 * want, after returning exactly the first ok_chunks chunks, intact. */
static void expect_fail(enum crypt_mode m, const unsigned char *stream, size_t slen,
			const void *aad, size_t aadlen, const unsigned char *data,
			size_t ok_bytes, const char *want)
{
	static const size_t rs[][2] = { { 0, 0 }, { 4096, 1000 }, { 3 * CRYPT_CHUNK, 0 } };

	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		struct got g = decrypt_from(m, rd_key, rd_klen, aad, aadlen, stream, slen,
					    rs[i][0], rs[i][1]);

		if (g.rc >= 0 || !strstr(err_last(), want) ||
		    strncmp(err_last(), crypt_name(m), strlen(crypt_name(m))))
			fail_msg("%s: want an error with '%s', got rc %d '%s'",
				 crypt_name(m), want, g.rc, err_last());
		assert_int_equal(g.len, ok_bytes);
		if (ok_bytes)
			assert_memory_equal(g.buf, data, ok_bytes);
		free(g.buf);
	}
}

static void tampering(void **state)
{
	unsigned char *data = random_bytes(NDATA);

	(void)state;
	for (size_t i = 0; i < NMODES; i++) {
		enum crypt_mode m = modes[i];
		size_t tl = crypt_tag_len(m), fsz = CRYPT_FRAME_HDR + CHUNK + tl;
		unsigned char *t;
		char aad[sizeof(hdr)];
		struct mem s;

		encrypt_to(m, key, sizeof(key), data, NDATA, 0, &s);
		assert_int_equal(s.len, frame_off(m, 4) + CRYPT_FRAME_HDR + 1000 + tl);
		t = malloc(s.len + fsz + 16);
		assert_non_null(t);

		/* one bit of the header */
		memcpy(aad, hdr, sizeof(hdr));
		aad[14] ^= 0x01;
		expect_fail(m, s.buf, s.len, aad, strlen(hdr), data, 0,
			    "authentication failed for chunk 0 (wrong key or tampered header");
		expect_fail(m, s.buf, s.len, hdr, strlen(hdr) - 1, data, 0,
			    "authentication failed for chunk 0 (wrong key or tampered header");

		/* one bit in the first, a middle and the last chunk */
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 0) + CRYPT_FRAME_HDR + 5] ^= 0x10;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 0,
			    "authentication failed for chunk 0");
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 2) + CRYPT_FRAME_HDR + CHUNK / 2] ^= 0x01;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 2 * CHUNK,
			    "authentication failed for chunk 2 (wrong key or tampered data)");
		memcpy(t, s.buf, s.len);
		t[s.len - 1] ^= 0x80;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 4 * CHUNK,
			    "authentication failed for chunk 4 (wrong key or tampered data)");
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 4) + CRYPT_FRAME_HDR] ^= 0x01;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 4 * CHUNK,
			    "authentication failed for chunk 4");

		/* the final flag: cleared on the last chunk, set on a middle one */
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 4) + 3] &= 0x7f;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 4 * CHUNK,
			    "authentication failed for chunk 4");
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 1) + 3] |= 0x80;
		expect_fail(m, t, frame_off(m, 2), hdr, strlen(hdr), data, CHUNK,
			    "authentication failed for chunk 1");
		/* a length byte of a middle frame */
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 2)] ^= 0x01;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 2 * CHUNK, "chunk 2");
		memcpy(t, s.buf, s.len);
		t[frame_off(m, 1) + 2] ^= 0x40;
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, CHUNK,
			    "chunk 1: bad frame length");

		/* dropping the last chunk, or the last two */
		expect_fail(m, s.buf, frame_off(m, 4), hdr, strlen(hdr), data, 4 * CHUNK,
			    "stream truncated after chunk 3 (no final chunk)");
		expect_fail(m, s.buf, frame_off(m, 3), hdr, strlen(hdr), data, 3 * CHUNK,
			    "stream truncated after chunk 2 (no final chunk)");
		/* ... or everything */
		expect_fail(m, s.buf, 0, hdr, strlen(hdr), data, 0,
			    "stream truncated: no chunk at all");

		/* swapping chunks 1 and 2 */
		memcpy(t, s.buf, s.len);
		memcpy(t + frame_off(m, 1), s.buf + frame_off(m, 2), fsz);
		memcpy(t + frame_off(m, 2), s.buf + frame_off(m, 1), fsz);
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, CHUNK,
			    "authentication failed for chunk 1 (wrong key or tampered data)");
		/* swapping the last two: lengths differ, the tags fail first */
		memcpy(t, s.buf, frame_off(m, 3));
		memcpy(t + frame_off(m, 3), s.buf + frame_off(m, 4), s.len - frame_off(m, 4));
		memcpy(t + frame_off(m, 3) + (s.len - frame_off(m, 4)), s.buf + frame_off(m, 3), fsz);
		expect_fail(m, t, s.len, hdr, strlen(hdr), data, 3 * CHUNK,
			    "authentication failed for chunk 3");
		/* repeating chunk 1 */
		memcpy(t, s.buf, frame_off(m, 2));
		memcpy(t + frame_off(m, 2), s.buf + frame_off(m, 1), s.len - frame_off(m, 1));
		expect_fail(m, t, s.len + fsz, hdr, strlen(hdr), data, 2 * CHUNK,
			    "authentication failed for chunk 2");

		/* truncation inside a chunk, its tag, and a frame header */
		expect_fail(m, s.buf, frame_off(m, 2) + 100, hdr, strlen(hdr), data, 2 * CHUNK,
			    "stream truncated in chunk 2");
		expect_fail(m, s.buf, s.len - 1, hdr, strlen(hdr), data, 4 * CHUNK,
			    "stream truncated in chunk 4");
		expect_fail(m, s.buf, frame_off(m, 3) + 2, hdr, strlen(hdr), data, 3 * CHUNK,
			    "stream truncated in the frame header of chunk 3");

		/* junk after the final chunk: all chunks authenticate, no end */
		memcpy(t, s.buf, s.len);
		memcpy(t + s.len, "junk", 4);
		expect_fail(m, t, s.len + 4, hdr, strlen(hdr), data, NDATA,
			    "unexpected data after the final chunk (chunk 4)");
		expect_fail(m, t, s.len + 1, hdr, strlen(hdr), data, NDATA,
			    "unexpected data after the final chunk (chunk 4)");
		/* a second stream appended */
		memcpy(t, s.buf, frame_off(m, 1));
		memcpy(t + frame_off(m, 1), s.buf + frame_off(m, 4), s.len - frame_off(m, 4));
		expect_fail(m, t, frame_off(m, 1) + s.len - frame_off(m, 4), hdr, strlen(hdr),
			    data, CHUNK, "authentication failed for chunk 1");

		free(t);
		free(s.buf);
	}
	free(data);
}

static void wrong_keys(void **state)
{
	static const size_t klens[] = { 16, 24, 32 };
	unsigned char *data = random_bytes(CHUNK + 10);

	(void)state;
	for (size_t i = 0; i < NMODES; i++) {
		enum crypt_mode m = modes[i];

		for (size_t j = 0; j < 3; j++) {
			size_t kl = klens[j];
			unsigned char k2[32];
			struct mem s;
			struct got g;

			encrypt_to(m, key, kl, data, CHUNK + 10, 0, &s);
			g = decrypt_from(m, key, kl, hdr, strlen(hdr), s.buf, s.len, 0, 0);
			assert_int_equal(g.rc, 0);
			assert_int_equal(g.len, CHUNK + 10);
			free(g.buf);

			memcpy(k2, key, sizeof(k2));
			k2[kl - 1] ^= 0x01;
			rd_key = k2;
			rd_klen = kl;
			expect_fail(m, s.buf, s.len, hdr, strlen(hdr), data, 0,
				    "authentication failed for chunk 0 (wrong key or tampered header");
			rd_key = key;
			rd_klen = sizeof(key);
			/* the same bytes, a different key length */
			g = decrypt_from(m, key, kl == 32 ? 16 : kl + 8, hdr, strlen(hdr),
					 s.buf, s.len, 0, 0);
			assert_true(g.rc == -EBADMSG);
			assert_non_null(strstr(err_last(), "authentication failed for chunk 0"));
			assert_int_equal(g.len, 0);
			free(s.buf);
		}
	}
	free(data);
}

/* expect_fail() reads with the global key: this one with another. */
static void wrong_key_other(void **state)
{
	unsigned char k2[32];
	unsigned char *data = random_bytes(100);

	(void)state;
	memcpy(k2, key, sizeof(k2));
	k2[0] ^= 0x80;
	for (size_t i = 0; i < NMODES; i++) {
		struct mem s;
		struct got g;

		encrypt_to(modes[i], k2, sizeof(k2), data, 100, 0, &s);
		g = decrypt_from(modes[i], key, sizeof(key), hdr, strlen(hdr), s.buf, s.len, 0, 0);
		assert_int_equal(g.rc, -EBADMSG);
		assert_non_null(strstr(err_last(), "authentication failed for chunk 0 (wrong key or tampered header"));
		assert_int_equal(g.len, 0);
		free(g.buf);
		/* the wrong mode */
		g = decrypt_from(modes[(i + 1) % NMODES], key, sizeof(key), hdr, strlen(hdr),
				 s.buf, s.len, 0, 0);
		assert_true(g.rc < 0);
		assert_int_equal(g.len, 0);
		free(g.buf);
		free(s.buf);
	}
	free(data);
}

static void writer_lifecycle(void **state)
{
	unsigned char *data = random_bytes(3 * CHUNK + 5);

	(void)state;
	for (size_t i = 0; i < NMODES; i++) {
		enum crypt_mode m = modes[i];
		struct layer *l;
		struct mem s;

		/* An aborted capture: destroy() writes no final chunk. */
		mem_init(&s);
		assert_int_equal(layer_encrypt_open(&s.l, m, key, 32, salt, sizeof(salt),
						    hdr, strlen(hdr), &l), 0);
		assert_int_equal(layer_write(l, data, 3 * CHUNK + 5), 0);
		layer_destroy(l);
		assert_int_equal(s.destroyed, 1);
		assert_int_equal(s.closed, 0);
		assert_int_equal(s.len, 3 * (CRYPT_FRAME_HDR + CHUNK + crypt_tag_len(m)));
		expect_fail(m, s.buf, s.len, hdr, strlen(hdr), data, 3 * CHUNK,
			    "stream truncated after chunk 2 (no final chunk)");
		free(s.buf);

		/* A failing sink: the error sticks, close() reports it and
		 * frees the chain without sealing. */
		mem_init(&s);
		assert_int_equal(layer_encrypt_open(&s.l, m, key, 32, salt, sizeof(salt),
						    hdr, strlen(hdr), &l), 0);
		s.fail_write = EPIPE;
		s.fail_msg = "mem: write refused";
		assert_int_equal(layer_write(l, data, 2 * CHUNK), -EPIPE);
		assert_non_null(strstr(err_last(), "write refused"));
		assert_int_equal(layer_write(l, data, 10), -EPIPE);
		s.fail_write = 0;
		assert_int_equal(layer_close(l), -EPIPE);
		assert_int_equal(s.destroyed, 1);
		assert_int_equal(s.closed, 0);
		assert_int_equal(s.len, 0);
		free(s.buf);

		/* A reader closed early still checks the rest of the stream. */
		encrypt_to(m, key, 32, data, 3 * CHUNK + 5, 0, &s);
		for (int bad = 0; bad < 2; bad++) {
			unsigned char buf[10];
			struct mem in;

			mem_over(&in, s.buf, s.len, 0);
			if (bad)
				in.buf[in.len - 1] ^= 1;
			assert_int_equal(layer_decrypt_open(&in.l, m, key, 32, salt, sizeof(salt),
							    hdr, strlen(hdr), &l), 0);
			assert_int_equal(layer_read_full(l, buf, sizeof(buf)), 0);
			assert_memory_equal(buf, data, sizeof(buf));
			/* A live stream: chunk 0 opens without waiting for more. */
			assert_int_equal(in.pos, frame_off(m, 1));
			if (bad) {
				assert_int_equal(layer_close(l), -EBADMSG);
				assert_non_null(strstr(err_last(), "authentication failed for chunk 3"));
				assert_int_equal(in.destroyed, 1);
			} else {
				assert_int_equal(layer_close(l), 0);
				assert_int_equal(in.closed, 1);
			}
			free(in.buf);
		}
		/* A read after a failure fails again, without data. */
		{
			unsigned char *buf = malloc(4 * CHUNK);
			struct mem in;
			ssize_t r;

			assert_non_null(buf);
			mem_over(&in, s.buf, s.len - 1, 0);
			assert_int_equal(layer_decrypt_open(&in.l, m, key, 32, salt, sizeof(salt),
							    hdr, strlen(hdr), &l), 0);
			while ((r = layer_read(l, buf, 4 * CHUNK)) > 0)
				;
			assert_int_equal(r, -EPIPE);
			assert_non_null(strstr(err_last(), "stream truncated in chunk 3"));
			assert_int_equal(layer_read(l, buf, 4 * CHUNK), -EPIPE);
			assert_int_equal(layer_close(l), -EPIPE);
			assert_int_equal(in.destroyed, 1);
			free(in.buf);
			free(buf);
		}
		free(s.buf);
	}
	free(data);
}

static void open_args(void **state)
{
	struct layer *l;
	struct mem s;

	(void)state;
	mem_init(&s);
	assert_int_equal(layer_encrypt_open(&s.l, CRYPT_NONE, NULL, 0, NULL, 0, hdr, 3, &l), 0);
	assert_ptr_equal(l, &s.l);
	assert_int_equal(layer_decrypt_open(&s.l, CRYPT_NONE, NULL, 0, NULL, 0, hdr, 3, &l), 0);
	assert_ptr_equal(l, &s.l);
	assert_int_equal(layer_encrypt_open(&s.l, CRYPT_AES_GCM, key, 20, salt, sizeof(salt),
					    hdr, 3, &l), -EINVAL);
	assert_non_null(strstr(err_last(), "AES-GCM: key of 20 bytes"));
	assert_int_equal(layer_decrypt_open(&s.l, CRYPT_AES_CTR, key, 32, salt, 16,
					    hdr, 3, &l), -EINVAL);
	assert_non_null(strstr(err_last(), "AES-CTR: salt of 16 bytes, want 32"));
	/* an empty header is still bound (as SHA-256 of nothing) */
	assert_int_equal(layer_encrypt_open(&s.l, CRYPT_AES_OFB, key, 32, salt, sizeof(salt),
					    NULL, 0, &l), 0);
	assert_int_equal(layer_close(l), 0);
	assert_int_equal(s.destroyed + s.closed, 1);
	free(s.buf);
}

/* The stream format pinned: SHA-256 over the streams made with 16-, 24-
 * and 32-byte keys, then an empty stream with an empty header, as an
 * independent implementation of the text in crypt.h computes them (Python
 * "cryptography"; it agreed on the first try). */
static void known_answer(void **state)
{
	static const char *const want[] = {
		[CRYPT_AES_GCM] = "2f5e646baad22050f507a9270a1ca6e82153821b9a819bfd80f41446190eeb79",
		[CRYPT_AES_CTR] = "be1ad713075921cf6b65a98919661ecae11c07aedc701185589f52a216a3c1ed",
		[CRYPT_AES_CFB] = "b9c9969921ab7dea7e1534739a5a31732869c45d68af552615781cc7ec66dff3",
		[CRYPT_AES_OFB] = "056f2e3282705ce80e936ac1171e05137f08cdba051157686dcbcef4427b3163",
	};
	unsigned char k[32], sl[CRYPT_SALT_LEN], *data;
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t n = CHUNK + 1000;
	char hex[2 * SHA256_DIGEST_LENGTH + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(sl); i++)
		sl[i] = (unsigned char)(0xa0 + i);
	data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 8));
	for (size_t i = 0; i < NMODES; i++) {
		EVP_MD_CTX *sha = EVP_MD_CTX_new();
		struct layer *l;
		struct mem s;

		assert_non_null(sha);
		assert_int_equal(EVP_DigestInit_ex(sha, EVP_sha256(), NULL), 1);
		for (size_t kl = 16; kl <= 32 + 8; kl += 8) {
			int empty = kl > 32;

			mem_init(&s);
			assert_int_equal(layer_encrypt_open(&s.l, modes[i], k, empty ? 32 : kl,
							    sl, sizeof(sl), "hdr\n\n",
							    empty ? 0 : 5, &l), 0);
			if (!empty)
				assert_int_equal(layer_write(l, data, n), 0);
			assert_int_equal(layer_close(l), 0);
			assert_int_equal(EVP_DigestUpdate(sha, s.buf, s.len), 1);
			free(s.buf);
		}
		assert_int_equal(EVP_DigestFinal_ex(sha, md, NULL), 1);
		EVP_MD_CTX_free(sha);
		for (size_t j = 0; j < sizeof(md); j++)
			snprintf(hex + 2 * j, 3, "%02x", md[j]);
		assert_string_equal(hex, want[modes[i]]);
	}
	free(data);
}

static void hkdf_rfc5869(void **state)
{
	/* RFC 5869, A.1 */
	unsigned char ikm[22], salt1[13], info[10], okm[42];
	static const unsigned char want[42] = {
		0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64,
		0xd0, 0x36, 0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c,
		0x5d, 0xb0, 0x2d, 0x56, 0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08,
		0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65,
	};
	char infostr[11];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	for (size_t i = 0; i < sizeof(salt1); i++)
		salt1[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(info); i++)
		info[i] = (unsigned char)(0xf0 + i);
	memcpy(infostr, info, sizeof(info));
	infostr[10] = '\0';
	assert_int_equal(crypt_hkdf(ikm, sizeof(ikm), salt1, sizeof(salt1), infostr,
				    okm, sizeof(okm)), 0);
	assert_memory_equal(okm, want, sizeof(want));
}

static void names(void **state)
{
	const char *path;
	enum crypt_mode m;

	(void)state;
	assert_int_equal(crypt_parse("none", &m, &path), 0);
	assert_int_equal(m, CRYPT_NONE);
	assert_null(path);
	assert_int_equal(crypt_parse("NONE", &m, &path), 0);
	assert_int_equal(crypt_parse("aes-gcm:/etc/k", &m, &path), 0);
	assert_int_equal(m, CRYPT_AES_GCM);
	assert_string_equal(path, "/etc/k");
	assert_int_equal(crypt_parse("AES-CTR:k:x", &m, &path), 0);
	assert_int_equal(m, CRYPT_AES_CTR);
	assert_string_equal(path, "k:x");
	assert_int_equal(crypt_parse("Aes-Cfb:k", &m, &path), 0);
	assert_int_equal(m, CRYPT_AES_CFB);
	assert_int_equal(crypt_parse("AES-OFB:k", &m, &path), 0);
	assert_int_equal(m, CRYPT_AES_OFB);
	assert_int_equal(crypt_parse("AES-GCM", &m, &path), -EINVAL);
	assert_non_null(strstr(err_last(), "AES-GCM needs a key file"));
	assert_int_equal(crypt_parse("AES-GCM:", &m, &path), -EINVAL);
	assert_int_equal(crypt_parse("AES-XTS:k", &m, &path), -EINVAL);
	assert_non_null(strstr(err_last(), "unknown encryption mode 'AES-XTS'"));
	assert_int_equal(crypt_parse("", &m, &path), -EINVAL);
	assert_int_equal(crypt_parse("none:k", &m, &path), -EINVAL);
	assert_int_equal(crypt_parse("AES-GCMX:k", &m, &path), -EINVAL);

	for (size_t i = 0; i < NMODES; i++) {
		assert_int_equal(crypt_by_name(crypt_name(modes[i]), &m), 0);
		assert_int_equal(m, modes[i]);
		assert_int_equal(crypt_salt_len(modes[i]), 32);
	}
	assert_string_equal(crypt_name(CRYPT_AES_GCM), "AES-GCM");
	assert_string_equal(crypt_name(CRYPT_AES_CFB), "AES-CFB");
	assert_string_equal(crypt_name(CRYPT_NONE), "none");
	assert_int_equal(crypt_by_name("none", &m), 0);
	assert_int_equal(m, CRYPT_NONE);
	assert_int_equal(crypt_by_name("aes-ofb", &m), 0);
	assert_int_equal(m, CRYPT_AES_OFB);
	assert_int_equal(crypt_by_name("AES", &m), -EINVAL);
	assert_non_null(strstr(err_last(), "unknown encryption mode 'AES'"));
	assert_int_equal(crypt_salt_len(CRYPT_NONE), 0);
	assert_int_equal(crypt_tag_len(CRYPT_AES_GCM), 16);
	assert_int_equal(crypt_tag_len(CRYPT_AES_CTR), 32);
}

static void randomness(void **state)
{
	unsigned char a[32], b[32];

	(void)state;
	assert_int_equal(crypt_random(a, sizeof(a)), 0);
	assert_int_equal(crypt_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypt_random(a, 0), 0);
}

static char keydir[64];

static void put_file(const char *name, size_t n, mode_t mode)
{
	char path[128];
	unsigned char buf[64];
	int fd;

	memset(buf, 0x42, sizeof(buf));
	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static int load(const char *name, size_t *kl)
{
	unsigned char k[CRYPT_KEY_MAX];
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", keydir, name);
	*kl = 0;
	return crypt_load_key(path, k, kl);
}

static void key_files(void **state)
{
	unsigned char k[CRYPT_KEY_MAX];
	static const char *const all[] = {
		"k16", "k24", "k32", "k15", "k33", "k64", "k0", "open",
	};
	static const char *const bad_names[] = {
		"../k32", "a/b", "..", "x..y", "", "/etc/passwd", "k\n32",
	};
	char path[128];
	size_t kl;

	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/test_crypt.XXXXXX");
	assert_non_null(mkdtemp(keydir));
	put_file("k16", 16, 0600);
	put_file("k24", 24, 0400);
	put_file("k32", 32, 0600);
	put_file("k15", 15, 0600);
	put_file("k33", 33, 0600);
	put_file("k64", 64, 0600);
	put_file("k0", 0, 0600);
	put_file("open", 32, 0644);
	snprintf(path, sizeof(path), "%s/dir", keydir);
	assert_int_equal(mkdir(path, 0700), 0);

	assert_int_equal(load("k16", &kl), 0);
	assert_int_equal(kl, 16);
	assert_int_equal(load("k24", &kl), 0);
	assert_int_equal(kl, 24);
	assert_int_equal(load("k32", &kl), 0);
	assert_int_equal(kl, 32);
	assert_int_equal(load("k15", &kl), -EINVAL);
	assert_non_null(strstr(err_last(), "k15: 15 bytes, want exactly 16, 24 or 32 raw bytes"));
	assert_int_equal(kl, 0);
	assert_int_equal(load("k33", &kl), -EINVAL);
	assert_non_null(strstr(err_last(), "k33: more than 32 bytes, want exactly 16, 24 or 32"));
	assert_int_equal(load("k64", &kl), -EINVAL);
	assert_int_equal(load("k0", &kl), -EINVAL);
	assert_non_null(strstr(err_last(), "k0: 0 bytes"));
	assert_int_equal(load("missing", &kl), -ENOENT);
	assert_non_null(strstr(err_last(), "missing: No such file or directory"));
	assert_int_equal(load("dir", &kl), -EINVAL);
	assert_non_null(strstr(err_last(), "not a regular file"));
	/* usable, but worth a warning */
	assert_int_equal(load("open", &kl), 1);
	assert_int_equal(kl, 32);
	assert_non_null(strstr(err_last(), "accessible by group or others"));

	assert_int_equal(crypt_find_key(keydir, "k24", k, &kl), 0);
	assert_int_equal(kl, 24);
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		err_clear();
		assert_int_equal(crypt_find_key(keydir, bad_names[i], k, &kl), -EINVAL);
		assert_true(strstr(err_last(), "refused") || strstr(err_last(), "empty key"));
	}
	assert_int_equal(crypt_find_key(keydir, "nokey", k, &kl), -ENOENT);
	assert_non_null(strstr(err_last(), "nokey"));
	assert_int_equal(crypt_find_key(keydir, "k15", k, &kl), -EINVAL);
	assert_int_equal(crypt_find_key(NULL, "k32", k, &kl), -EINVAL);
	assert_non_null(strstr(err_last(), "no key directory"));

	/* a loaded key decrypts what it encrypted */
	assert_int_equal(crypt_find_key(keydir, "k16", k, &kl), 0);
	assert_memory_equal(k, "BBBBBBBBBBBBBBBB", 16);

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", keydir, all[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/dir", keydir);
	rmdir(path);
	rmdir(keydir);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)next_rand();
	for (size_t i = 0; i < sizeof(salt); i++)
		salt[i] = (unsigned char)next_rand();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(randomness),
		cmocka_unit_test(hkdf_rfc5869),
		cmocka_unit_test(key_files),
		cmocka_unit_test(open_args),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(large),
		cmocka_unit_test(tampering),
		cmocka_unit_test(wrong_keys),
		cmocka_unit_test(wrong_key_other),
		cmocka_unit_test(writer_lifecycle),
		cmocka_unit_test(known_answer),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
