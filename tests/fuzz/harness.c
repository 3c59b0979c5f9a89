/* harness.c: feeds one input to everything pthaw runs on a stream before
 * it starts pload, as libFuzzer's LLVMFuzzerTestOneInput and for replay.
 *
 * FUZZ_FIXCRC=1 in the environment makes the libFuzzer entry point repair
 * the checksums of each input first, so that mutations get past them. */
#include "fuzz.h"

#include "crc32c.h"
#include "err.h"
#include "header.h"
#include "record.h"
#include "restore.h"
#include "snap.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(FUZZ_KEY) - 1 == FUZZ_KEYLEN, "the test key is 32 bytes");

static char keydir[64];
static FILE *devnull;

static void cleanup(void)
{
	char path[sizeof(keydir) + sizeof(FUZZ_KEYNAME) + 1];

	snprintf(path, sizeof(path), "%s/%s", keydir, FUZZ_KEYNAME);
	unlink(path);
	rmdir(keydir);
}

int fuzz_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[sizeof(keydir) + sizeof(FUZZ_KEYNAME) + 1];
	int fd;

	if (!tmp || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(keydir, sizeof(keydir), "%s/pfrez-fuzz-XXXXXX", tmp);
	if (!mkdtemp(keydir))
		return err_sys(errno, "fuzz: key directory %s", keydir);
	atexit(cleanup);
	snprintf(path, sizeof(path), "%s/%s", keydir, FUZZ_KEYNAME);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, FUZZ_KEY, FUZZ_KEYLEN) != FUZZ_KEYLEN)
		return err_sys(errno, "fuzz: key file %s", path);
	close(fd);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		return err_sys(errno, "fuzz: /dev/null");
	return 0;
}

/* The bottom of the chain: the input, served max_read bytes at a time
 * (0: all asked for), as a pipe or socket would serve it in pieces. */
struct memsrc {
	struct layer l;
	const uint8_t *p;
	size_t len, pos, max_read;
};

static ssize_t memsrc_read(struct layer *l, void *buf, size_t n)
{
	struct memsrc *m = (struct memsrc *)l;
	size_t k = m->len - m->pos;

	if (k > n)
		k = n;
	if (m->max_read && k > m->max_read)
		k = m->max_read;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static int memsrc_write(struct layer *l, const void *buf, size_t n)
{
	(void)l, (void)buf, (void)n;
	return -EBADF;
}

/* The input belongs to the caller: closing or destroying frees nothing. */
static int memsrc_close(struct layer *l)
{
	(void)l;
	return 0;
}

static void memsrc_destroy(struct layer *l)
{
	(void)l;
}

static const struct layer_ops memsrc_ops = {
	.name = "fuzz input",
	.read = memsrc_read,
	.write = memsrc_write,
	.close = memsrc_close,
	.destroy = memsrc_destroy,
};

static int all_digits(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The header's declared length and crc line, each record's CRC32C and
 * the end record's count and total are recomputed; records are only
 * repaired in a plain stream (no compression, no encryption), and the
 * last record's length is cut to what the input holds. */
void fuzz_fix_stream(unsigned char *b, size_t n)
{
	const size_t first = sizeof(HDR_MAGIC " 1.0 000000\n") - 1;
	unsigned char *blank;
	uint64_t count = 0, bytes = 0;
	size_t hlen, pos;
	char num[16];

	if (n < first || memcmp(b, HDR_MAGIC " ", sizeof(HDR_MAGIC)) != 0)
		return;
	blank = memmem(b, n < HDR_MAX ? n : HDR_MAX - 1, "\n\n", 2);
	if (!blank)
		return;
	hlen = (size_t)(blank + 2 - b);
	if (b[first - 1] == '\n' && all_digits(b + first - 7, 6)) {
		snprintf(num, sizeof(num), "%06zu", hlen);
		memcpy(b + first - 7, num, 6);
	}
	if (hlen >= first + HDR_CRC_LINE + 1 &&
	    memcmp(b + hlen - 1 - HDR_CRC_LINE, "crc: ", 5) == 0) {
		snprintf(num, sizeof(num), "%08x", crc32c(0, b, hlen - 1 - HDR_CRC_LINE));
		memcpy(b + hlen - 1 - HDR_CRC_LINE + 5, num, 8);
	}
	if (!memmem(b, hlen, "\ncompress: none\n", 16) || !memmem(b, hlen, "\nencrypt: none\n", 15))
		return;
	for (pos = hlen; n - pos >= 12;) {
		uint32_t type, len, crc;

		memcpy(&type, b + pos, 4);
		memcpy(&len, b + pos + 4, 4);
		if (len > n - pos - 12) {
			len = (uint32_t)(n - pos - 12);
			memcpy(b + pos + 4, &len, 4);
		}
		if (type == REC_END && len >= sizeof(struct rec_end)) {
			struct rec_end e = { count, bytes };

			memcpy(b + pos + 8, &e, sizeof(e));
		}
		crc = crc32c(0, b + pos, 8 + (size_t)len);
		memcpy(b + pos + 8 + len, &crc, 4);
		count++;
		bytes += 12 + (uint64_t)len;
		pos += 12 + (size_t)len;
	}
}

/* The rest of the stream, as pthaw -debug or -check reads it
 * (pthaw/main.c). */
static int read_rest(struct restore *r, uint32_t type, const unsigned char *p, size_t len)
{
	unsigned long long pages = 0;
	int rc = 1;

	if (r->check_only)
		restore_check(r, devnull);
	while (rc == 1) {
		if (type == REC_PAGES) {
			struct rec_pages h;

			memcpy(&h, p, sizeof(h));
			pages += h.npages;
		} else if (type != REC_END) {
			/* task state after the pages */
			rc = restore_take(r, type, p, len, 1);
			if (rc < 0)
				return rc;
		}
		rc = rec_read(r->rd, &type, &p, &len);
	}
	if (rc == 0)
		rc = snap_check(&r->snap, 1);
	if (rc == 0)
		snap_print(devnull, &r->snap);
	fprintf(devnull, "%llu pages\n", pages);
	return rc;
}

int fuzz_one(const uint8_t *data, size_t size, int fixcrc)
{
	static const size_t max_reads[] = { 0, 1, 509 };
	struct memsrc m = { .l.ops = &memsrc_ops, .p = data, .len = size };
	unsigned char *copy = NULL;
	struct layer *top = NULL;
	struct rec_reader rd = { 0 };
	struct restore r;
	struct header *h;
	const unsigned char *p;
	char warn[512];
	uint32_t type;
	size_t len;
	int rc;

	if (fixcrc) {
		copy = malloc(size ? size : 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, size);
		fuzz_fix_stream(copy, size);
		m.p = copy;
	}
	/* Readers must cope with any split of the bytes: vary it; and
	 * take turns at -debug and -check. */
	m.max_read = max_reads[size % 3];
	memset(&r, 0, sizeof(r));
	snap_init(&r.snap);
	r.check_only = size / 3 % 2;
	h = malloc(sizeof(*h));
	rc = h ? 0 : -ENOMEM;
	if (!rc)
		rc = stream_reader_open(&m.l, keydir, NULL, h, &top, warn, sizeof(warn));
	if (!rc)
		r.same_host = stream_same_host(h);
	if (!rc)
		rc = rec_reader_init(&rd, top);
	r.rd = &rd;
	if (!rc)
		rc = restore_read_meta(&r, &type, &p, &len);
	if (!rc)
		rc = read_rest(&r, type, p, len);
	if (top)
		layer_destroy(top);
	rec_reader_free(&rd);
	restore_free(&r);
	free(h);
	free(copy);
	return rc;
}

#ifdef FUZZ_LIBFUZZER
static int fixcrc_mode;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e = getenv("FUZZ_FIXCRC");

	(void)argc, (void)argv;
	fixcrc_mode = e && strcmp(e, "1") == 0;
	if (fuzz_setup() < 0) {
		fprintf(stderr, "%s\n", err_last());
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size, fixcrc_mode);
	return 0;
}
#endif
