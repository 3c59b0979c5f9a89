/* test_compress.c: every compressor round-trips at chunk edges and at
 * size, refuses truncated and corrupt streams, and writes what other
 * tools read (gzip -d, zstd -d, the snappy framing format's bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <cmocka.h>

#include "compress.h"
#include "crc32c.h"
#include "err.h"
#include "layer.h"
#include "memlayer.h"

#define KIB 1024
#define MIB (1024 * 1024)

static const size_t write_sizes[] = {
	1, 7, 4096, 65535, 65536, 65537, MIB, 3, 300000,
};
static const size_t read_sizes[] = {
	1, 13, 65536, 4096, MIB, 100000, 65535, 2,
};
#define NSIZES(a) (sizeof(a) / sizeof((a)[0]))

/* Compresses data into m, in write_sizes pieces when cut, else at once. */
static void put(int algo, int level, const unsigned char *data, size_t n,
		int cut, struct mem *m)
{
	struct layer *w;
	size_t off = 0, i = 0;

	mem_init(m);
	assert_int_equal(layer_compress_open(&m->l, algo, level, &w), 0);
	while (off < n) {
		size_t k = cut ? write_sizes[i++ % NSIZES(write_sizes)] : n;

		if (k > n - off)
			k = n - off;
		assert_int_equal(layer_write(w, data + off, k), 0);
		off += k;
	}
	assert_int_equal(layer_close(w), 0);
	assert_int_equal(m->closed, 1);
	assert_int_equal(m->destroyed, 0);
}

/* Decompresses all of m, in read_sizes pieces when cut: 0 with the data
 * in *out, or the reader's error (err_last() says what). */
static int get(int algo, struct mem *m, size_t max_read, int cut,
	       unsigned char **out, size_t *outlen)
{
	struct layer *r;
	size_t cap = 64 * KIB, len = 0, i = 0;
	unsigned char *buf = malloc(cap);
	ssize_t got;

	assert_non_null(buf);
	m->pos = 0;
	m->max_read = max_read;
	m->closed = m->destroyed = 0;
	err_clear();
	assert_int_equal(layer_decompress_open(&m->l, algo, &r), 0);
	for (;;) {
		size_t want = cut ? read_sizes[i++ % NSIZES(read_sizes)] : MIB;

		while (cap - len < want) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = layer_read(r, buf + len, want);
		if (got <= 0)
			break;
		assert_true((size_t)got <= want);
		len += (size_t)got;
	}
	if (got < 0) {
		layer_destroy(r);
		assert_int_equal(m->destroyed, 1);
		free(buf);
		return (int)got;
	}
	assert_int_equal(layer_read(r, buf, 1), 0);	/* stays at the end */
	assert_int_equal(layer_close(r), 0);
	assert_int_equal(m->closed, 1);
	*out = buf;
	*outlen = len;
	return 0;
}

static void roundtrip(int algo, int level, const unsigned char *data,
		      size_t n, int cut, size_t max_read)
{
	struct mem m;
	unsigned char *back;
	size_t len;

	put(algo, level, data, n, cut, &m);
	assert_int_equal(get(algo, &m, max_read, cut, &back, &len), 0);
	assert_int_equal(len, n);
	if (n > 0)
		assert_memory_equal(back, data, n);
	free(back);
	free(m.buf);
}

/* Test data, made once: mixed text, random bytes, zeros. */
#define TEXT_SIZE	(3 * MIB)
#define BIG_SIZE	(8 * MIB)
static unsigned char *text, *noise, *zeros;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill_text(unsigned char *p, size_t n)
{
	static const char *const words[] = {
		"checkpoint", "restore", "process", "the", "a", "of", "vma",
		"page", "register", "ptrace", "stream", "0x7f12a000", "\n",
		"mapping", "signal", "fd", "42", "zstd", "snappy", ", ",
	};
	size_t off = 0;

	while (off < n) {
		uint64_t r = next_random();

		if (r % 97 == 0) {
			/* a run of page-like binary: random or zero */
			size_t k = 1 + r % 5000;

			for (size_t i = 0; i < k && off < n; i++)
				p[off++] = (r & 0x100) ? (unsigned char)next_random() : 0;
			continue;
		}
		const char *w = words[r % (sizeof(words) / sizeof(words[0]))];

		for (size_t i = 0; w[i] && off < n; i++)
			p[off++] = (unsigned char)w[i];
		if (off < n)
			p[off++] = ' ';
	}
}

static int setup(void **state)
{
	(void)state;
	text = malloc(TEXT_SIZE);
	noise = malloc(BIG_SIZE);
	zeros = calloc(1, BIG_SIZE);
	if (!text || !noise || !zeros)
		return -1;
	fill_text(text, TEXT_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i += 8) {
		uint64_t r = next_random();

		memcpy(noise + i, &r, 8);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(text);
	free(noise);
	free(zeros);
	return 0;
}

static const int algos[] = {
	COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_FLATE, COMPRESS_SNAPPY, COMPRESS_ZSTD,
};

/* The real compressors, for the checks that "none" cannot pass. */
#define FIRST_REAL 1

static void edges(void **state)
{
	static const size_t sizes[] = {
		0, 1, 64 * KIB - 1, 64 * KIB, 64 * KIB + 1, 128 * KIB + 5,
	};

	(void)state;
	for (size_t a = 0; a < NSIZES(algos); a++) {
		for (size_t s = 0; s < NSIZES(sizes); s++) {
			roundtrip(algos[a], -1, text, sizes[s], 0, 0);
			roundtrip(algos[a], -1, text, sizes[s], 1, 1);
			roundtrip(algos[a], -1, noise, sizes[s], 1, 777);
			roundtrip(algos[a], -1, zeros, sizes[s], 1, 0);
		}
	}
}

static void big(void **state)
{
	(void)state;
	for (size_t a = 0; a < NSIZES(algos); a++) {
		roundtrip(algos[a], -1, text, TEXT_SIZE, 1, 4093);
		roundtrip(algos[a], -1, text, TEXT_SIZE, 0, 0);
		roundtrip(algos[a], -1, noise, BIG_SIZE, 1, 0);
		roundtrip(algos[a], -1, zeros, BIG_SIZE, 1, 65536);
	}
}

static void levels(void **state)
{
	(void)state;
	roundtrip(COMPRESS_GZIP, 0, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_GZIP, 1, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_GZIP, 9, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_FLATE, 1, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_FLATE, 9, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_ZSTD, 1, text, 300 * KIB, 1, 0);
	roundtrip(COMPRESS_ZSTD, 19, text, 300 * KIB, 1, 0);
}

static void expect_error(int algo, struct mem *m, size_t max_read,
			 const char *what)
{
	unsigned char *back;
	size_t len;
	char prefix[32];
	int rc = get(algo, m, max_read, 1, &back, &len);

	if (rc == 0)
		fail_msg("%s: %s not detected", compress_name(algo), what);
	snprintf(prefix, sizeof(prefix), "%s: ", compress_name(algo));
	if (strncmp(err_last(), prefix, strlen(prefix)) != 0)
		fail_msg("%s: message \"%s\" does not name the layer",
			 what, err_last());
	if (strchr(err_last(), '\n'))
		fail_msg("message \"%s\" is not one line", err_last());
}

/* Is cut the end of a snappy chunk?  There the framing format ends
 * validly, and the record layer's end record catches the truncation. */
static int snappy_boundary(const struct mem *m, size_t cut)
{
	size_t off = 0;

	while (off + 4 <= m->len && off < cut)
		off += 4 + (m->buf[off + 1] | (size_t)m->buf[off + 2] << 8 |
			    (size_t)m->buf[off + 3] << 16);
	return off == cut;
}

static void truncate_at(int algo, const struct mem *full, size_t cut)
{
	struct mem m;

	if (algo == COMPRESS_SNAPPY && cut > 0 && snappy_boundary(full, cut))
		return;
	mem_over(&m, full->buf, cut, 0);
	expect_error(algo, &m, cut % 2 ? 100 : 0, "truncation");
	if (!strstr(err_last(), "truncated"))
		fail_msg("cut at %zu of %zu: \"%s\"", cut, full->len, err_last());
	free(m.buf);
}

static void truncation(void **state)
{
	(void)state;
	for (int a = FIRST_REAL; a < (int)NSIZES(algos); a++) {
		struct mem full;

		put(algos[a], -1, NULL, 0, 0, &full);
		for (size_t cut = 0; cut < full.len; cut++)
			truncate_at(algos[a], &full, cut);
		free(full.buf);

		put(algos[a], -1, text, 300 * KIB + 17, 1, &full);
		const size_t len = full.len;
		const size_t cuts[] = {
			0, 1, 2, 5, 9, 11, 17, 100, len / 3, len / 2, len - 100,
			len - 9, len - 8, len - 5, len - 4, len - 2, len - 1,
		};
		for (size_t i = 0; i < NSIZES(cuts); i++)
			truncate_at(algos[a], &full, cuts[i]);
		free(full.buf);
	}
}

/* A flipped byte must be refused, or else change nothing: a copy from a
 * neighbouring offset inside a run of zeros decodes to the same bytes. */
static void flip_at(int algo, const struct mem *full, size_t off,
		    unsigned char mask, const unsigned char *data, size_t n)
{
	struct mem m;
	unsigned char *back;
	size_t len;
	char prefix[32];

	mem_over(&m, full->buf, full->len, 0);
	m.buf[off] ^= mask;
	if (get(algo, &m, 0, 1, &back, &len) == 0) {
		if (len != n || memcmp(back, data, n) != 0)
			fail_msg("%s: flipped byte at %zu of %zu not detected",
				 compress_name(algo), off, m.len);
		free(back);
	} else {
		snprintf(prefix, sizeof(prefix), "%s: ", compress_name(algo));
		if (strncmp(err_last(), prefix, strlen(prefix)) != 0 ||
		    strchr(err_last(), '\n'))
			fail_msg("flip at %zu: message \"%s\"", off, err_last());
	}
	free(m.buf);
}

/* gzip, snappy and zstd carry checksums; raw flate has none. */
static void corruption(void **state)
{
	static const int checked[] = { COMPRESS_GZIP, COMPRESS_SNAPPY, COMPRESS_ZSTD };

	(void)state;
	for (size_t a = 0; a < NSIZES(checked); a++) {
		for (int kind = 0; kind < 2; kind++) {
			struct mem full;

			const unsigned char *data = kind ? noise : text;

			put(checked[a], -1, data, 200 * KIB, 1, &full);
			for (size_t i = 1; i < 16; i++) {
				flip_at(checked[a], &full, full.len * i / 16, 0x01, data, 200 * KIB);
				flip_at(checked[a], &full, full.len * i / 16 + 1, 0x80, data, 200 * KIB);
			}
			for (size_t i = 1; i <= 8; i++)
				flip_at(checked[a], &full, full.len - i, 0x10, data, 200 * KIB);
			for (size_t i = 0; i < 12; i++) {
				/* gzip's MTIME, XFL and OS are unchecked, by RFC 1952. */
				if (checked[a] == COMPRESS_GZIP && i >= 4 && i <= 9)
					continue;
				flip_at(checked[a], &full, i, 0x04, data, 200 * KIB);
			}
			free(full.buf);
		}
	}
}

static void trailing(void **state)
{
	(void)state;
	for (int a = FIRST_REAL; a < (int)NSIZES(algos); a++) {
		struct mem m;

		put(algos[a], -1, text, 1000, 1, &m);
		mem_write(&m.l, "\x02junk", 5);
		expect_error(algos[a], &m, 0, "trailing data");
		free(m.buf);
	}
	for (int a = FIRST_REAL; a < (int)NSIZES(algos); a++) {
		struct mem m;
		struct layer *r;
		unsigned char buf[10];

		/* A reader closed before the end checks there is no more. */
		put(algos[a], -1, text, 1000, 0, &m);
		assert_int_equal(layer_decompress_open(&m.l, algos[a], &r), 0);
		assert_int_equal(layer_read_full(r, buf, sizeof(buf)), 0);
		assert_true(layer_close(r) < 0);
		assert_non_null(strstr(err_last(), "unread data at close"));
		assert_int_equal(m.destroyed, 1);
		free(m.buf);
	}
}

/* destroy() seals nothing and frees everything; a failing layer below
 * makes close() fail and destroys the rest. */
static void destroy_and_failures(void **state)
{
	(void)state;
	for (int a = FIRST_REAL; a < (int)NSIZES(algos); a++) {
		struct mem m;
		struct layer *l;

		mem_init(&m);
		assert_int_equal(layer_compress_open(&m.l, algos[a], -1, &l), 0);
		assert_int_equal(layer_write(l, text, 100 * KIB), 0);
		layer_destroy(l);
		assert_int_equal(m.closed, 0);
		assert_int_equal(m.destroyed, 1);
		free(m.buf);

		mem_init(&m);
		assert_int_equal(layer_compress_open(&m.l, algos[a], -1, &l), 0);
		assert_int_equal(layer_write(l, text, 1000), 0);
		m.fail_write = EIO;
		assert_int_equal(layer_close(l), -EIO);
		assert_string_equal(err_last(), "mem: write failed");
		assert_int_equal(m.closed, 0);
		assert_int_equal(m.destroyed, 1);
		free(m.buf);

		mem_over(&m, "abc", 3, 0);
		assert_int_equal(layer_decompress_open(&m.l, algos[a], &l), 0);
		assert_true(layer_write(l, "x", 1) < 0);
		layer_destroy(l);
		assert_int_equal(m.destroyed, 1);
		free(m.buf);
	}
}

static void none_is_below(void **state)
{
	struct mem m;
	struct layer *l;

	(void)state;
	mem_init(&m);
	assert_int_equal(layer_compress_open(&m.l, COMPRESS_NONE, -1, &l), 0);
	assert_ptr_equal(l, &m.l);
	assert_int_equal(layer_decompress_open(&m.l, COMPRESS_NONE, &l), 0);
	assert_ptr_equal(l, &m.l);
}

static void parse(void **state)
{
	int algo, level;

	(void)state;
	assert_int_equal(compress_parse("zstd:3", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_ZSTD);
	assert_int_equal(level, 3);
	assert_int_equal(compress_parse("gzip:9", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_GZIP);
	assert_int_equal(level, 9);
	assert_int_equal(compress_parse("flate:0", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_FLATE);
	assert_int_equal(level, 0);
	assert_int_equal(compress_parse("snappy", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_SNAPPY);
	assert_int_equal(level, -1);
	assert_int_equal(compress_parse("none", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_NONE);
	assert_int_equal(compress_parse("ZSTD", &algo, &level), 0);
	assert_int_equal(algo, COMPRESS_ZSTD);
	assert_int_equal(level, -1);

	assert_int_equal(compress_parse("lz4", &algo, &level), -EINVAL);
	assert_non_null(strstr(err_last(), "unknown compression \"lz4\""));
	assert_int_equal(compress_parse("", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("gzipx", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("gzip:10", &algo, &level), -EINVAL);
	assert_non_null(strstr(err_last(), "gzip: level 10 out of range 0-9"));
	assert_int_equal(compress_parse("zstd:0", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:20", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:", &algo, &level), -EINVAL);
	assert_non_null(strstr(err_last(), "bad level \"\""));
	assert_int_equal(compress_parse("zstd:-1", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:3x", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:99999999999999999999", &algo, &level), -EINVAL);
	/* strict: no sign, space or base prefix, nothing cut to fit an int */
	assert_int_equal(compress_parse("zstd:+3", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd: 3", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:0x3", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("zstd:4294967299", &algo, &level), -EINVAL);
	assert_int_equal(compress_parse("snappy:1", &algo, &level), -EINVAL);
	assert_non_null(strstr(err_last(), "snappy takes no level"));
	assert_int_equal(compress_parse("none:1", &algo, &level), -EINVAL);

	for (int a = 0; a < COMPRESS_NALGO; a++) {
		assert_int_equal(compress_by_name(compress_name(a), &algo), 0);
		assert_int_equal(algo, a);
	}
	assert_string_equal(compress_name(COMPRESS_GZIP), "gzip");
	assert_string_equal(compress_name(COMPRESS_FLATE), "flate");
	assert_string_equal(compress_name(COMPRESS_SNAPPY), "snappy");
	assert_string_equal(compress_name(COMPRESS_ZSTD), "zstd");
	assert_string_equal(compress_name(COMPRESS_NONE), "none");
	assert_null(compress_name(COMPRESS_NALGO));
	assert_null(compress_name(-1));
	assert_int_equal(compress_by_name("ZSTD", &algo), -EINVAL);
	assert_int_equal(compress_by_name("bzip2", &algo), -EINVAL);
	assert_non_null(strstr(err_last(), "bzip2"));

	struct mem m;
	struct layer *l;

	mem_init(&m);
	assert_int_equal(layer_compress_open(&m.l, COMPRESS_ZSTD, 42, &l), -EINVAL);
	assert_int_equal(layer_compress_open(&m.l, COMPRESS_NALGO, -1, &l), -EINVAL);
	assert_int_equal(layer_decompress_open(&m.l, 99, &l), -EINVAL);
	assert_int_equal(m.closed + m.destroyed, 0);
}

/* Runs "cmd < in > out" through the shell and returns what came out. */
static unsigned char *run_filter(const char *cmd, const unsigned char *in,
				 size_t n, size_t *outlen)
{
	char in_path[] = "/tmp/test_compress_inXXXXXX";
	char out_path[] = "/tmp/test_compress_outXXXXXX";
	char line[512];
	int in_fd = mkstemp(in_path), out_fd = mkstemp(out_path);
	unsigned char *out;
	FILE *f;
	long len;

	assert_true(in_fd >= 0 && out_fd >= 0);
	assert_int_equal(write(in_fd, in, n), (ssize_t)n);
	close(in_fd);
	close(out_fd);
	snprintf(line, sizeof(line), "%s < %s > %s", cmd, in_path, out_path);
	assert_int_equal(system(line), 0);
	f = fopen(out_path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	out = malloc((size_t)len + 1);
	assert_non_null(out);
	assert_int_equal(fread(out, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(in_path);
	unlink(out_path);
	*outlen = (size_t)len;
	return out;
}

static void system_tool(int algo, const char *decompress, const char *compress,
			const unsigned char *data, size_t n)
{
	struct mem m;
	unsigned char *out;
	size_t len;

	put(algo, -1, data, n, 1, &m);
	out = run_filter(decompress, m.buf, m.len, &len);
	assert_int_equal(len, n);
	if (n > 0)
		assert_memory_equal(out, data, n);
	free(out);
	free(m.buf);

	out = run_filter(compress, data, n, &len);
	mem_init(&m);
	m.buf = out;
	m.len = m.cap = len;
	assert_int_equal(get(algo, &m, 1000, 1, &out, &len), 0);
	assert_int_equal(len, n);
	if (n > 0)
		assert_memory_equal(out, data, n);
	free(out);
	free(m.buf);
}

static void gzip_tool(void **state)
{
	(void)state;
	system_tool(COMPRESS_GZIP, "gzip -d", "gzip -c", text, TEXT_SIZE);
	system_tool(COMPRESS_GZIP, "zcat", "gzip -c -1", noise, MIB);
	system_tool(COMPRESS_GZIP, "gzip -dc", "gzip -c", text, 0);
}

static void zstd_tool(void **state)
{
	(void)state;
	if (system("command -v zstd > /dev/null") != 0)
		skip();
	system_tool(COMPRESS_ZSTD, "zstd -dq", "zstd -qc", text, TEXT_SIZE);
	system_tool(COMPRESS_ZSTD, "zstd -dq", "zstd -qc", text, 0);

	/* A frame asking for a 128 MiB window is refused: memory stays bounded. */
	struct mem m;
	unsigned char *out;
	size_t len;

	out = run_filter("zstd -qc -1 --long=27", text, 1000, &len);
	mem_init(&m);
	m.buf = out;
	m.len = m.cap = len;
	assert_int_equal(get(COMPRESS_ZSTD, &m, 0, 1, &out, &len), -EFBIG);
	assert_non_null(strstr(err_last(), "zstd: frame needs a window over 8 MiB"));
	free(m.buf);
}

/* The framing format's masking, written out from its specification. */
static uint32_t masked(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static const unsigned char stream_id[] = {
	0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59,
};

static void snappy_vectors(void **state)
{
	unsigned char want[10 + 8 + 9];
	struct mem m;

	(void)state;
	/* Nine bytes do not shrink: one uncompressed chunk. */
	memcpy(want, stream_id, 10);
	memcpy(want + 10, "\x01\x0d\x00\x00", 4);
	put_le32(want + 14, masked(0xe3069283));	/* CRC-32C("123456789") */
	memcpy(want + 18, "123456789", 9);
	put(COMPRESS_SNAPPY, -1, (const unsigned char *)"123456789", 9, 0, &m);
	assert_int_equal(m.len, sizeof(want));
	assert_memory_equal(m.buf, want, sizeof(want));
	assert_memory_equal(want + 14, "\xe5\xb0\x8a\xc7", 4);
	free(m.buf);

	/* Empty input: the stream identifier alone. */
	put(COMPRESS_SNAPPY, -1, NULL, 0, 0, &m);
	assert_int_equal(m.len, 10);
	assert_memory_equal(m.buf, stream_id, 10);
	free(m.buf);

	/* 64 KiB + 1 zeros: a full compressed chunk, then one byte stored. */
	put(COMPRESS_SNAPPY, -1, zeros, 64 * KIB + 1, 1, &m);
	assert_int_equal(m.buf[10], 0x00);
	size_t len = m.buf[11] | (size_t)m.buf[12] << 8 | (size_t)m.buf[13] << 16;
	uint8_t *last = m.buf + 14 + len;

	assert_true(len < 64 * KIB / 10);
	assert_int_equal(m.len, 14 + len + 4 + 4 + 1);
	assert_memory_equal(last, "\x01\x05\x00\x00", 4);
	put_le32(want, masked(crc32c(0, "", 1)));
	assert_memory_equal(last + 4, want, 4);
	assert_int_equal(last[8], 0);
	free(m.buf);
}

static void snappy_reader(void **state)
{
	/* Hand-made: padding, a skippable chunk, a compressed chunk of 20
	 * 'a' (literal "a", then a copy of 19 at offset 1), a repeated
	 * stream identifier, an uncompressed chunk. */
	unsigned char s[128], *back;
	size_t n = 0, len;
	char twenty[21];
	struct mem m;

	(void)state;
	memset(twenty, 'a', 20);
	twenty[20] = '\0';
	memcpy(s, stream_id, 10);
	n = 10;
	memcpy(s + n, "\xfe\x03\x00\x00\x00\x00\x00", 7);
	n += 7;
	memcpy(s + n, "\x80\x02\x00\x00zz", 6);
	n += 6;
	memcpy(s + n, "\x00\x0a\x00\x00", 4);
	put_le32(s + n + 4, masked(crc32c(0, twenty, 20)));
	memcpy(s + n + 8, "\x14\x00\x61\x4a\x01\x00", 6);
	n += 14;
	memcpy(s + n, stream_id, 10);
	n += 10;
	memcpy(s + n, "\x01\x0d\x00\x00", 4);
	put_le32(s + n + 4, masked(0xe3069283));
	memcpy(s + n + 8, "123456789", 9);
	n += 17;
	mem_over(&m, s, n, 0);
	assert_int_equal(get(COMPRESS_SNAPPY, &m, 3, 1, &back, &len), 0);
	assert_int_equal(len, 29);
	assert_memory_equal(back, "aaaaaaaaaaaaaaaaaaaa123456789", 29);
	free(back);
	free(m.buf);

	/* A reserved unskippable chunk is refused. */
	memcpy(s + 10, "\x02\x01\x00\x00x", 5);
	mem_over(&m, s, 15, 0);
	expect_error(COMPRESS_SNAPPY, &m, 0, "reserved chunk");
	assert_string_equal(err_last(), "snappy: corrupt data: reserved chunk type 0x02");
	free(m.buf);

	/* No stream identifier first. */
	mem_over(&m, "\x01\x05\x00\x00\x00\x00\x00\x00x", 9, 0);
	expect_error(COMPRESS_SNAPPY, &m, 0, "missing identifier");
	assert_non_null(strstr(err_last(), "no stream identifier"));
	free(m.buf);

	/* A wrong checksum. */
	memcpy(s + 10, "\x01\x0d\x00\x00", 4);
	put_le32(s + 14, masked(0xe3069283) ^ 1);
	memcpy(s + 18, "123456789", 9);
	mem_over(&m, s, 27, 0);
	expect_error(COMPRESS_SNAPPY, &m, 0, "bad checksum");
	assert_string_equal(err_last(), "snappy: corrupt data: checksum mismatch");
	free(m.buf);

	/* An uncompressed chunk over 64 KiB. */
	memcpy(s + 10, "\x01\x05\x00\x01", 4);
	mem_over(&m, s, 14, 0);
	mem_write(&m.l, zeros, 64 * KIB + 1);
	expect_error(COMPRESS_SNAPPY, &m, 0, "oversized chunk");
	free(m.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse),
		cmocka_unit_test(none_is_below),
		cmocka_unit_test(edges),
		cmocka_unit_test(big),
		cmocka_unit_test(levels),
		cmocka_unit_test(truncation),
		cmocka_unit_test(corruption),
		cmocka_unit_test(trailing),
		cmocka_unit_test(destroy_and_failures),
		cmocka_unit_test(gzip_tool),
		cmocka_unit_test(zstd_tool),
		cmocka_unit_test(snappy_vectors),
		cmocka_unit_test(snappy_reader),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
