/* test_record.c: records and the text header round-trip, and every kind of
 * damage (flipped bytes, bad lengths, truncation, trailing data, a wrong
 * end record, a bad header line) is refused with a message naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "crc32c.h"
#include "err.h"
#include "header.h"
#include "layer.h"
#include "memlayer.h"
#include "record.h"

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

/* ---- records ---- */

static const struct rec_rseq rseq = { .tid = 100, .len = 32, .addr = 0x7f0012345000ull, .sig = 0x53053053 };

/* A small stream: rseq, a pages record split into head and body, an
 * unknown type, a vma with a name, end.  offs[i] is where record i ends. */
static void small_stream(struct mem *m, size_t *offs, size_t *n)
{
	struct rec_writer w = { &m->l, 0, 0 };
	struct rec_pages pg = { 0x400000, 1, 0 };
	struct rec_vma v = { .start = 0x400000, .end = 0x401000, .prot = 5, .name_len = 6 };
	static unsigned char page[REC_PAGE_SIZE];

	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 7 + 1);
	mem_init(m);
	*n = 0;
	assert_int_equal(rec_write(&w, REC_RSEQ, &rseq, sizeof(rseq), NULL, 0), 0);
	offs[(*n)++] = m->len;
	assert_int_equal(rec_write(&w, REC_PAGES, &pg, sizeof(pg), page, sizeof(page)), 0);
	offs[(*n)++] = m->len;
	assert_int_equal(rec_write(&w, 0x1234, "xyz", 3, NULL, 0), 0);
	offs[(*n)++] = m->len;
	assert_int_equal(rec_write(&w, REC_VMA, &v, sizeof(v), "[heap]", 6), 0);
	offs[(*n)++] = m->len;
	assert_int_equal(rec_write_end(&w), 0);
	offs[(*n)++] = m->len;
	assert_int_equal(w.count, 5);
	assert_int_equal(w.bytes, m->len);
}

static void round_trip(void **state)
{
	static const size_t reads[] = { 0, 1, 3, 7, 4095 };
	struct mem m, in;
	size_t offs[8], n;

	(void)state;
	small_stream(&m, offs, &n);
	/* the wire layout: type, len, payload, crc of all three */
	assert_int_equal(offs[0], 8 + sizeof(rseq) + 4);
	{
		uint32_t t, l, c;

		memcpy(&t, m.buf, 4);
		memcpy(&l, m.buf + 4, 4);
		memcpy(&c, m.buf + 8 + sizeof(rseq), 4);
		assert_int_equal(t, REC_RSEQ);
		assert_int_equal(l, sizeof(rseq));
		assert_memory_equal(m.buf + 8, &rseq, sizeof(rseq));
		assert_int_equal(c, crc32c(0, m.buf, 8 + sizeof(rseq)));
	}
	for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
		struct rec_reader r;
		const unsigned char *p;
		uint32_t type;
		size_t len;

		mem_over(&in, m.buf, m.len, reads[k]);
		assert_int_equal(rec_reader_init(&r, &in.l), 0);
		assert_int_equal(rec_read(&r, &type, &p, &len), 1);
		assert_int_equal(type, REC_RSEQ);
		assert_int_equal(len, sizeof(rseq));
		assert_memory_equal(p, &rseq, sizeof(rseq));
		assert_int_equal(rec_read(&r, &type, &p, &len), 1);
		assert_int_equal(type, REC_PAGES);
		assert_int_equal(len, sizeof(struct rec_pages) + REC_PAGE_SIZE);
		assert_int_equal(p[sizeof(struct rec_pages) + 100], (unsigned char)(100 * 7 + 1));
		assert_int_equal(rec_read(&r, &type, &p, &len), 1);
		assert_int_equal(type, 0x1234);	/* unknown: delivered, the caller skips */
		assert_int_equal(len, 3);
		assert_memory_equal(p, "xyz", 3);
		assert_int_equal(rec_read(&r, &type, &p, &len), 1);
		assert_int_equal(type, REC_VMA);
		assert_memory_equal(p + sizeof(struct rec_vma), "[heap]", 6);
		assert_int_equal(rec_read(&r, &type, &p, &len), 1);
		assert_int_equal(type, REC_END);
		assert_int_equal(rec_read(&r, &type, &p, &len), 0);
		assert_int_equal(rec_read(&r, &type, &p, &len), 0);
		assert_int_equal(r.count, 5);
		assert_int_equal(r.bytes, m.len);
		assert_int_equal(in.pos, in.len);
		rec_reader_free(&r);
		free(in.buf);
	}
	free(m.buf);
}

/* Reads records until the end or an error; returns the last rc, the number
 * of records delivered in *got. */
static int read_all(const void *data, size_t len, size_t max_read, size_t *got,
		    const size_t *offs)
{
	struct rec_reader r;
	struct mem in;
	const unsigned char *p;
	uint32_t type;
	size_t plen;
	int rc;

	mem_over(&in, data, len, max_read);
	assert_int_equal(rec_reader_init(&r, &in.l), 0);
	*got = 0;
	err_clear();
	while ((rc = rec_read(&r, &type, &p, &plen)) == 1) {
		/* never a record that was not wholly in the input */
		if (offs)
			assert_true(offs[*got] <= len);
		(*got)++;
	}
	rec_reader_free(&r);
	free(in.buf);
	return rc;
}

static void flipped_bytes(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x10, 0x80, 0xff };
	struct mem m;
	size_t offs[8], n, got;

	(void)state;
	small_stream(&m, offs, &n);
	/* Every byte of the first record and of the end record. */
	for (size_t i = 0; i < m.len; i++) {
		int in_end = i >= offs[n - 2];

		if (i >= offs[0] && !in_end)
			continue;
		for (size_t k = 0; k < sizeof(masks); k++) {
			size_t rel = in_end ? i - offs[n - 2] : i;
			int rc;

			m.buf[i] ^= masks[k];
			rc = read_all(m.buf, m.len, 0, &got, NULL);
			m.buf[i] ^= masks[k];
			if (rc >= 0)
				fail_msg("byte %zu ^ 0x%02x accepted", i, masks[k]);
			assert_int_equal(got, in_end ? n - 1 : 0);
			if (rel >= 4 && rel < 8) {
				/* a wrong length: too large, or a checksum over
				 * the wrong bytes, or it runs off the end */
				if (!strstr(err_last(), "too large") && !strstr(err_last(), "checksum") &&
				    !strstr(err_last(), "truncated"))
					fail_msg("byte %zu: %s", i, err_last());
			} else {
				assert_int_equal(rc, -EBADMSG);
				has("checksum mismatch");
			}
		}
	}
	free(m.buf);
}

static void bad_lengths(void **state)
{
	struct mem m;
	struct rec_writer w = { &m.l, 0, 0 };
	unsigned char wire[64];
	uint32_t h[2] = { REC_PAGES, REC_MAX_PAYLOAD + 1 }, crc;
	unsigned char *big;
	size_t got;

	(void)state;
	/* over REC_MAX_PAYLOAD: refused before anything is read into memory */
	memcpy(wire, h, 8);
	memset(wire + 8, 0, sizeof(wire) - 8);
	assert_int_equal(read_all(wire, sizeof(wire), 0, &got, NULL), -EBADMSG);
	has("too large");
	h[1] = 0xffffffffu;
	memcpy(wire, h, 8);
	assert_int_equal(read_all(wire, sizeof(wire), 0, &got, NULL), -EBADMSG);
	has("too large");
	/* and the writer refuses to make one */
	mem_init(&m);
	big = calloc(1, REC_MAX_PAYLOAD + 1);
	assert_non_null(big);
	assert_int_equal(rec_write(&w, REC_PAGES, big, 16, big, REC_MAX_PAYLOAD - 15), -EMSGSIZE);
	assert_int_equal(m.len, 0);
	/* exactly REC_MAX_PAYLOAD is fine */
	assert_int_equal(rec_write(&w, 0x99, big, 300, big, REC_MAX_PAYLOAD - 300), 0);
	assert_int_equal(rec_write_end(&w), 0);
	assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), 0);
	assert_int_equal(got, 2);
	free(big);
	free(m.buf);

	/* shorter than the fixed part of its type, with a good checksum */
	for (uint32_t t = REC_PAGES; t <= REC_END; t += REC_END - REC_PAGES) {
		unsigned char pay[4096] = { 0 };

		assert_true(rec_min_len(t) > 0 && rec_min_len(t) <= sizeof(pay));
		mem_init(&m);
		w = (struct rec_writer){ &m.l, 0, 0 };
		assert_int_equal(rec_write(&w, t, pay, rec_min_len(t) - 1, NULL, 0), 0);
		assert_int_equal(rec_write_end(&w), 0);
		assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), -EBADMSG);
		has("too short");
		has(rec_type_name(t));
		assert_int_equal(got, 0);
		free(m.buf);
	}
	/* an end record too short to hold its count */
	memset(wire, 0, sizeof(wire));
	h[0] = REC_END;
	h[1] = 8;
	memcpy(wire, h, 8);
	crc = crc32c(0, wire, 16);
	memcpy(wire + 16, &crc, 4);
	assert_int_equal(read_all(wire, 20, 0, &got, NULL), -EBADMSG);
	has("too short");
	assert_int_equal(rec_min_len(0x4242), 0);
	assert_string_equal(rec_type_name(0x4242), "unknown");
}

static void truncated(void **state)
{
	static const size_t reads[] = { 0, 1, 5 };
	struct mem m;
	size_t offs[8], n, got;

	(void)state;
	small_stream(&m, offs, &n);
	for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++) {
		for (size_t cut = 0; cut < m.len; cut++) {
			int rc = read_all(m.buf, cut, reads[k], &got, offs);
			size_t whole = 0;

			if (rc != -EPIPE)
				fail_msg("cut at %zu: rc %d, %s", cut, rc, err_last());
			has("truncated");
			while (whole < n && offs[whole] <= cut)
				whole++;
			assert_int_equal(got, whole);
			assert_true(got < n);
		}
	}
	free(m.buf);
}

static void after_end(void **state)
{
	struct mem m;
	size_t offs[8], n, got;

	(void)state;
	small_stream(&m, offs, &n);
	assert_int_equal(mem_write(&m.l, "", 1), 0);
	assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), -EBADMSG);
	has("data after the end record");
	assert_int_equal(got, n - 1);
	free(m.buf);
	/* a second, complete end record counts as data after the end too */
	small_stream(&m, offs, &n);
	{
		struct rec_writer w = { &m.l, n, m.len };

		assert_int_equal(rec_write_end(&w), 0);
	}
	assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), -EBADMSG);
	has("data after the end record");
	free(m.buf);
}

static void wrong_end(void **state)
{
	struct mem m;
	struct rec_writer w;
	size_t got;

	(void)state;
	for (int which = 0; which < 4; which++) {
		mem_init(&m);
		w = (struct rec_writer){ &m.l, 0, 0 };
		assert_int_equal(rec_write(&w, REC_RSEQ, &rseq, sizeof(rseq), NULL, 0), 0);
		assert_int_equal(rec_write(&w, REC_RSEQ, &rseq, sizeof(rseq), NULL, 0), 0);
		switch (which) {
		case 0: w.count--; break;
		case 1: w.count++; break;
		case 2: w.bytes--; break;
		case 3: w.bytes += 36; break;
		}
		assert_int_equal(rec_write_end(&w), 0);
		assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), -EBADMSG);
		has("end record:");
		has("announced");
		assert_int_equal(got, 2);
		free(m.buf);
	}
	/* a stream that is nothing but a (correct) end record */
	mem_init(&m);
	w = (struct rec_writer){ &m.l, 0, 0 };
	assert_int_equal(rec_write_end(&w), 0);
	assert_int_equal(read_all(m.buf, m.len, 0, &got, NULL), 0);
	assert_int_equal(got, 1);
	/* and an empty one */
	assert_int_equal(read_all(m.buf, 0, 0, &got, NULL), -EPIPE);
	has("truncated");
	free(m.buf);
}

/* ---- header ---- */

static struct header h, h2;	/* 128 KiB each: not on the stack */

static void sample_header(struct header *x, int major)
{
	hdr_init(x);
	x->major = major;
	assert_int_equal(hdr_set(x, "arch", "x86_64"), 0);
	assert_int_equal(hdr_set(x, "kernel", "%s", "6.8.0-45-generic"), 0);
	assert_int_equal(hdr_set(x, "xsave-features", "0x%llx", 0x2e7ull), 0);
	assert_int_equal(hdr_set(x, "xsave-size", "%u", 2696u), 0);
	assert_int_equal(hdr_set(x, "pid", "%d", 4242), 0);
	assert_int_equal(hdr_set(x, "comm", "%s", "my prog: a"), 0);
	assert_int_equal(hdr_set(x, "compress", "zstd"), 0);
	assert_int_equal(hdr_set(x, "encrypt", "none"), 0);
	assert_int_equal(hdr_format(x), 0);
}

/* Lays out a header around body (the field lines), with a right length
 * and crc line, so that only what the test means to break is broken. */
static size_t make_hdr(char *out, const char *first_fmt, const char *body)
{
	char tmp[HDR_MAX];
	size_t len;
	int n;

	n = snprintf(tmp, sizeof(tmp), first_fmt, (size_t)0);
	len = (size_t)n + strlen(body) + HDR_CRC_LINE + 1;
	n = snprintf(out, HDR_MAX, first_fmt, len);
	n += snprintf(out + n, HDR_MAX - (size_t)n, "%s", body);
	n += snprintf(out + n, HDR_MAX - (size_t)n, "crc: %08x\n\n", crc32c(0, out, (size_t)n));
	assert_int_equal((size_t)n, len);
	return len;
}

static void header_round_trip(void **state)
{
	const char *crcline;
	char want[32];
	struct mem in;

	(void)state;
	sample_header(&h, HDR_MAJOR);
	assert_memory_equal(h.text, "PFREZ-STREAM 2.0 ", 17);
	assert_int_equal(strtoul(h.text + 17, NULL, 10), h.len);
	assert_int_equal(h.text[23], '\n');
	assert_memory_equal(h.text + 24, "arch: x86_64\nkernel: 6.8.0-45-generic\n", 38);
	/* the crc line: CRC32C of every byte before it, then the blank line */
	crcline = h.text + h.len - 1 - HDR_CRC_LINE;
	snprintf(want, sizeof(want), "crc: %08x\n\n", crc32c(0, h.text, (size_t)(crcline - h.text)));
	assert_memory_equal(crcline, want, HDR_CRC_LINE + 1);

	assert_int_equal(hdr_parse(&h2, h.text, h.len), 0);
	assert_int_equal(h2.major, HDR_MAJOR);
	assert_int_equal(h2.minor, 0);
	assert_int_equal(h2.nfields, 8);
	assert_string_equal(hdr_get(&h2, "kernel"), "6.8.0-45-generic");
	assert_string_equal(hdr_get(&h2, "comm"), "my prog: a");
	assert_string_equal(hdr_get(&h2, "xsave-features"), "0x2e7");
	assert_null(hdr_get(&h2, "crc"));
	assert_null(hdr_get(&h2, "salt"));
	assert_memory_equal(h2.text, h.text, h.len);

	/* hdr_read takes exactly the header's bytes, in pieces of any size */
	for (size_t mr = 0; mr < 4; mr++) {
		char *buf = malloc(h.len + 5);

		memcpy(buf, h.text, h.len);
		memcpy(buf + h.len, "DATA!", 5);
		mem_over(&in, buf, h.len + 5, mr);
		assert_int_equal(hdr_read(&h2, &in.l), 0);
		assert_int_equal(in.pos, h.len);
		assert_int_equal(h2.len, h.len);
		assert_string_equal(hdr_get(&h2, "pid"), "4242");
		free(in.buf);
		free(buf);
	}

	/* no fields at all is still a header */
	hdr_init(&h);
	assert_int_equal(hdr_format(&h), 0);
	assert_int_equal(h.len, 24 + HDR_CRC_LINE + 1);
	assert_int_equal(hdr_parse(&h2, h.text, h.len), 0);
	assert_int_equal(h2.nfields, 0);

	/* a minor version this reader does not know is fine */
	h.minor = 7;
	assert_int_equal(hdr_format(&h), 0);
	assert_int_equal(hdr_parse(&h2, h.text, h.len), 0);
	assert_int_equal(h2.minor, 7);

	/* hdr_set refuses what would break the line structure */
	hdr_init(&h);
	assert_int_equal(hdr_set(&h, "Key", "x"), -EINVAL);
	assert_int_equal(hdr_set(&h, "a b", "x"), -EINVAL);
	assert_int_equal(hdr_set(&h, "", "x"), -EINVAL);
	assert_int_equal(hdr_set(&h, "k", "a\nb"), -EINVAL);
	assert_int_equal(hdr_set(&h, "k", "a\tb"), -EINVAL);
	assert_int_equal(h.nfields, 0);
}

static void header_flipped(void **state)
{
	static const unsigned char masks[] = { 0x01, 0x02, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff };

	(void)state;
	sample_header(&h, HDR_MAJOR);
	for (size_t i = 0; i < h.len; i++) {
		for (size_t k = 0; k < sizeof(masks); k++) {
			int rc;

			h.text[i] ^= (char)masks[k];
			err_clear();
			rc = hdr_parse(&h2, h.text, h.len);
			h.text[i] ^= (char)masks[k];
			if (rc >= 0)
				fail_msg("header byte %zu ('%c') ^ 0x%02x accepted", i, h.text[i], masks[k]);
			assert_true(strlen(err_last()) > 0);
		}
	}
}

static void header_bad(void **state)
{
	char text[HDR_MAX];
	char body[HDR_MAX];
	size_t len, n;

	(void)state;
	/* bad magic */
	len = make_hdr(text, "PFREZ-STREAX 2.0 %06zu\n", "arch: x86_64\n");
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("bad magic");
	len = make_hdr(text, "pfrez-stream 1.0 %06zu\n", "arch: x86_64\n");
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("bad magic");
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu extra\n", "arch: x86_64\n");
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	assert_int_equal(hdr_parse(&h, "\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0", 16), -EBADMSG);
	has("bad magic");

	/* an unknown major version: refused as such, whatever follows */
	sample_header(&h2, 3);
	assert_int_equal(hdr_parse(&h, h2.text, h2.len), -EPROTONOSUPPORT);
	has("not supported");
	/* format 1 (pfrez 0.1): refused by name */
	sample_header(&h2, 1);
	assert_int_equal(hdr_parse(&h, h2.text, h2.len), -EPROTONOSUPPORT);
	assert_string_equal(err_last(), "a format 1 snapshot: written by pfrez 0.1; this pthaw reads format 2");
	sample_header(&h2, 0);
	assert_int_equal(hdr_parse(&h, h2.text, h2.len), -EPROTONOSUPPORT);
	has("not supported");

	/* bad length: declared != actual, or too small or large to be one */
	sample_header(&h2, HDR_MAJOR);
	assert_int_equal(hdr_parse(&h, h2.text, h2.len - 1), -EBADMSG);
	has("length");
	memcpy(text, h2.text, h2.len);
	text[h2.len] = '\n';
	assert_int_equal(hdr_parse(&h, text, h2.len + 1), -EBADMSG);
	has("length");
	assert_int_equal(hdr_parse(&h, "\n", 1), -EBADMSG);
	has("bad length");
	assert_int_equal(hdr_parse(&h, text, HDR_MAX), -EBADMSG);
	has("bad length");
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "a: b\n");
	text[22]++;	/* the last digit of the length */
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("length");

	/* the crc line missing or wrong */
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "a: b\n");
	memcpy(text + len - 1 - HDR_CRC_LINE, "crc: 00000000\n", HDR_CRC_LINE);
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("checksum mismatch");
	n = (size_t)snprintf(text, sizeof(text), "PFREZ-STREAM 2.0 %06d\na: b\nc: d\n\n", 35);
	assert_int_equal(n, 35);
	assert_int_equal(hdr_parse(&h, text, n), -EBADMSG);
	has("checksum");

	/* duplicate field */
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "arch: x86_64\npid: 1\narch: x86_64\n");
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("duplicate field arch");

	/* malformed lines */
	{
		static const char *bad_lines[] = {
			"arch x86_64\n", "arch:x86_64\n", "Arch: x86_64\n", ": x\n",
			"ar ch: x\n", "arch: x86\t64\n", "a: b\n\n", "a: b\nc: d\x01\n",
		};

		for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
			len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", bad_lines[i]);
			err_clear();
			if (hdr_parse(&h, text, len) != -EBADMSG)
				fail_msg("line \"%s\" accepted", bad_lines[i]);
			has("malformed line");
		}
	}
	/* a field line running into the crc line */
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "a: b");
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	/* an empty value is a value */
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "a: \n");
	assert_int_equal(hdr_parse(&h, text, len), 0);
	assert_string_equal(hdr_get(&h, "a"), "");

	/* too many fields */
	body[0] = '\0';
	for (int i = 0; i < HDR_NFIELDS; i++)
		sprintf(body + strlen(body), "f%d: %d\n", i, i);
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", body);
	assert_int_equal(hdr_parse(&h, text, len), 0);
	assert_int_equal(h.nfields, HDR_NFIELDS);
	strcat(body, "one: more\n");
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", body);
	assert_int_equal(hdr_parse(&h, text, len), -EBADMSG);
	has("too many fields");
	assert_int_equal(hdr_set(&h, "x", "y"), -E2BIG);
	has("too many fields");

	/* too large to format */
	hdr_init(&h);
	memset(body, 'v', 1000);
	body[1000] = '\0';
	for (int i = 0; i < HDR_NFIELDS; i++)
		assert_int_equal(hdr_set(&h, "k", "%s", body), 0);
	assert_int_equal(hdr_format(&h), 0);	/* 32 KiB fits */
	assert_true(h.len > 32000);
}

/* hdr_parse gets the header in a buffer of exactly its length, with no
 * terminator after it (hdr_read allocates it so): nothing may read past
 * it, whether the header is good or its last line is malformed.  ASan
 * (make SAN=1) catches a read of one byte too many here. */
static void header_exact_buffer(void **state)
{
	static const char *lines[] = {
		"a: b\n",			/* good */
		"bad line\n",			/* malformed, shorter than the quote */
		"x\x1b[2J\n",			/* malformed, control bytes */
	};
	char text[HDR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", lines[i]);
		char *exact = malloc(len);

		assert_non_null(exact);
		memcpy(exact, text, len);
		assert_int_equal(hdr_parse(&h, exact, len), i == 0 ? 0 : -EBADMSG);
		if (i) {
			has("malformed line");
			/* the quote stops at the end of the line */
			if (strstr(err_last(), "crc"))
				fail_msg("message \"%s\" quotes past the line", err_last());
		}
		free(exact);
	}
	/* the numbers of the first line are plain digits: no sign, no space */
	{
		static const char *firsts[] = {
			"PFREZ-STREAM +2.0 %06zu\n", "PFREZ-STREAM 2.0 +%05zu\n",
			"PFREZ-STREAM 2.0  %05zu\n", "PFREZ-STREAM 2.-0 %06zu\n",
			"PFREZ-STREAM 2.0 %07zu\n",
		};

		for (size_t i = 0; i < sizeof(firsts) / sizeof(firsts[0]); i++) {
			size_t len = make_hdr(text, firsts[i], "a: b\n");

			if (hdr_parse(&h, text, len) != -EBADMSG)
				fail_msg("first line \"%s\" accepted", firsts[i]);
		}
	}
}

static void header_read_bad(void **state)
{
	struct mem in;
	char text[HDR_MAX];
	size_t len;

	(void)state;
	sample_header(&h2, HDR_MAJOR);
	for (size_t mr = 0; mr < 2; mr++) {
		for (size_t cut = 0; cut < h2.len; cut++) {
			mem_over(&in, h2.text, cut, mr);
			err_clear();
			if (hdr_read(&h, &in.l) != -EBADMSG)
				fail_msg("cut at %zu accepted: %s", cut, err_last());
			has("truncated");
			free(in.buf);
		}
	}
	mem_over(&in, "PFREZ-STREAX 2.0 000412\nxx", 26, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	has("bad magic");
	free(in.buf);
	mem_over(&in, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03xxxxxxxxxxxxxxxxxxxxx", 32, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	has("bad magic");
	free(in.buf);
	/* a length no header can have */
	mem_over(&in, "PFREZ-STREAM 2.0 000010\n\n\n", 26, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	free(in.buf);
	mem_over(&in, "PFREZ-STREAM 2.0 999999\n\n\n", 26, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	free(in.buf);
	mem_over(&in, "PFREZ-STREAM 2.0 00004x\n\n\n", 26, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	free(in.buf);
	/* an unknown major version, through hdr_read */
	sample_header(&h2, 3);
	mem_over(&in, h2.text, h2.len, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EPROTONOSUPPORT);
	has("not supported");
	free(in.buf);
	/* a declared length past the header's end eats into the payload */
	len = make_hdr(text, "PFREZ-STREAM 2.0 %06zu\n", "a: b\n");
	text[22]++;
	mem_over(&in, text, len + 1, 0);
	assert_int_equal(hdr_read(&h, &in.l), -EBADMSG);
	free(in.buf);
}

/* Names from a stream print as one harmless line (err_escape). */
static void escapes(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain /a b:c", "plain /a b:c" },
		{ "\x1b[31mred\a", "\\x1b[31mred\\x07" },
		{ "a\nb\rc\td\x7f", "a\\x0ab\\x0dc\\x09d\\x7f" },
		{ "back\\slash", "back\\\\slash" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		{ "\xc2\x9b" "2J", "\\xc2\\x9b2J" },		/* C1 CSI as UTF-8 */
		{ "\x9b" "2J", "\\x9b2J" },			/* C1 CSI raw */
		{ "\xff\xc3", "\\xff\\xc3" },		/* invalid, cut sequence */
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },	/* a surrogate */
		{ "\xc0\xaf", "\\xc0\\xaf" },		/* overlong "/" */
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err_escape(out, sizeof(out), cases[i].in, strlen(cases[i].in));
		assert_string_equal(out, cases[i].out);
	}
	/* cut before a whole escape, never inside one */
	assert_int_equal(err_escape(out, 6, "ab\x1b", 3), 2);
	assert_string_equal(out, "ab");
	/* messages go through it too */
	err_msg(EBADMSG, "name \"%s\"", "\x1b]0;owned\a");
	assert_string_equal(err_last(), "name \"\\x1b]0;owned\\x07\"");
	err_wrap(-EBADMSG, "fd %s", "\x1b");
	assert_string_equal(err_last(), "fd \\x1b: name \"\\x1b]0;owned\\x07\"");
}

static void xfeature_names(void **state)
{
	char buf[256];

	(void)state;
	hdr_xfeature_names(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	hdr_xfeature_names(0x7, buf, sizeof(buf));
	assert_string_equal(buf, "x87, SSE, AVX");
	hdr_xfeature_names(0xe0, buf, sizeof(buf));
	assert_string_equal(buf, "AVX-512");
	hdr_xfeature_names(0x20, buf, sizeof(buf));	/* any part of it */
	assert_string_equal(buf, "AVX-512");
	hdr_xfeature_names(0x2e7, buf, sizeof(buf));
	assert_string_equal(buf, "x87, SSE, AVX, AVX-512, PKRU");
	hdr_xfeature_names(0x60000 | 0x18, buf, sizeof(buf));
	assert_string_equal(buf, "MPX, AMX");
	hdr_xfeature_names(1ull << 19, buf, sizeof(buf));
	assert_string_equal(buf, "APX");
	hdr_xfeature_names((1ull << 40) | 4, buf, sizeof(buf));
	assert_string_equal(buf, "AVX, features 0x10000000000");
	hdr_xfeature_names(1ull << 63, buf, sizeof(buf));
	assert_string_equal(buf, "features 0x8000000000000000");
	/* a short buffer is cut, never overrun */
	memset(buf, 'Z', sizeof(buf));
	hdr_xfeature_names(0x2e7 | (1ull << 40), buf, 8);
	assert_string_equal(buf, "x87, SS");
	assert_int_equal(buf[8], 'Z');
}

/* ---- pages given away (rec_write_give) ---- */

/* Two pages of body in a fresh mapping, written as one REC_PAGES through
 * out; returns what rec_write_give returned and leaves the mapping in
 * *body. */
static int give_two_pages(struct layer *out, unsigned char **body)
{
	struct rec_writer w = { out, 0, 0 };
	struct rec_pages pg = { 0x400000, 2, 0 };
	unsigned char *b = mmap(NULL, 2 * REC_PAGE_SIZE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(b != MAP_FAILED);
	for (size_t i = 0; i < 2 * REC_PAGE_SIZE; i++)
		b[i] = (unsigned char)(i * 13 + 5);
	*body = b;
	return rec_write_give(&w, REC_PAGES, &pg, sizeof(pg), b, 2 * REC_PAGE_SIZE);
}

static void read_two_pages(struct layer *in)
{
	struct rec_reader r;
	const unsigned char *p;
	uint32_t type;
	size_t len;

	assert_int_equal(rec_reader_init(&r, in), 0);
	assert_int_equal(rec_read(&r, &type, &p, &len), 1);
	assert_int_equal(type, REC_PAGES);
	assert_int_equal(len, sizeof(struct rec_pages) + 2 * REC_PAGE_SIZE);
	for (size_t i = 0; i < 2 * REC_PAGE_SIZE; i++)
		if (p[sizeof(struct rec_pages) + i] != (unsigned char)(i * 13 + 5))
			fail_msg("byte %zu of the pages differs", i);
	rec_reader_free(&r);
}

/* Into a pipe the pages go by reference (1): the pipe keeps them, and
 * their contents, after the writer mapped fresh zero pages there
 * (MADV_DONTNEED), as pages.c does before it writes into its buffer
 * again.  The record reads back whole, its checksum right. */
static void give_pipe(void **state)
{
	struct layer *out, *in;
	unsigned char *b;
	int fd[2];

	(void)state;
	assert_int_equal(pipe(fd), 0);
	out = layer_fd_open(fd[1], 1);
	in = layer_fd_open(fd[0], 1);
	assert_int_equal(give_two_pages(out, &b), 1);
	assert_int_equal(madvise(b, 2 * REC_PAGE_SIZE, MADV_DONTNEED), 0);
	assert_int_equal(b[5], 0);
	read_two_pages(in);
	munmap(b, 2 * REC_PAGE_SIZE);
	layer_destroy(out);
	layer_destroy(in);
}

/* Anywhere else they are copied (0): a layer without give (memory here,
 * as compression, encryption and the transports' framing) and a regular
 * file. */
static void give_copied(void **state)
{
	char path[] = "/tmp/test_record.XXXXXX";
	struct layer *out, *in;
	struct mem m, back;
	unsigned char *b;
	int fd;

	(void)state;
	mem_init(&m);
	assert_int_equal(give_two_pages(&m.l, &b), 0);
	munmap(b, 2 * REC_PAGE_SIZE);
	mem_over(&back, m.buf, m.len, 0);
	read_two_pages(&back.l);
	free(m.buf);
	free(back.buf);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	out = layer_fd_open(fd, 0);
	assert_int_equal(give_two_pages(out, &b), 0);
	munmap(b, 2 * REC_PAGE_SIZE);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	in = layer_fd_open(fd, 1);
	read_two_pages(in);
	layer_destroy(out);
	layer_destroy(in);
}

/* A pipe nobody reads, its write end non-blocking as pfrez makes it
 * for -write-timeout: giving pages fails with ETIMEDOUT once it is full,
 * as write() does (vmsplice would wait for ever: it ignores O_NONBLOCK).
 * The alarm turns such a wait into a failure. */
static void give_timeout(void **state)
{
	const size_t n = 32 * REC_PAGE_SIZE;	/* more than the 16 pages of a new pipe */
	unsigned char *b = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct layer *out;
	int fd[2];

	(void)state;
	assert_true(b != MAP_FAILED);
	memset(b, 7, n);
	assert_int_equal(pipe(fd), 0);
	assert_int_equal(fcntl(fd[1], F_SETFL, O_NONBLOCK), 0);
	out = layer_fd_open(fd[1], 1);
	layer_fd_write_timeout(out, 50);
	alarm(10);
	assert_int_equal(layer_give(out, b, n), -ETIMEDOUT);
	alarm(0);
	has("took nothing for 50 ms");
	munmap(b, n);
	layer_destroy(out);
	close(fd[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(flipped_bytes),
		cmocka_unit_test(bad_lengths),
		cmocka_unit_test(truncated),
		cmocka_unit_test(after_end),
		cmocka_unit_test(wrong_end),
		cmocka_unit_test(header_round_trip),
		cmocka_unit_test(header_flipped),
		cmocka_unit_test(header_bad),
		cmocka_unit_test(header_exact_buffer),
		cmocka_unit_test(header_read_bad),
		cmocka_unit_test(xfeature_names),
		cmocka_unit_test(escapes),
		cmocka_unit_test(give_pipe),
		cmocka_unit_test(give_copied),
		cmocka_unit_test(give_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
