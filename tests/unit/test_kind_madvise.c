/* test_kind_madvise.c: the madvise record (lib/kind/madvise.c) as pthaw
 * takes it from a stream: mappings in order, flags that exist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "err.h"
#include "kind.h"

extern const struct kind_ops kind_madvise;

/* As man/pfrez-stream.5 gives it: a header, then n entries. */
struct ma_entry {
	uint64_t start, end;
	uint32_t flags, pad;
} __attribute__((packed));

struct ma_rec {
	uint32_t n, mm;
	struct ma_entry e[3];
} __attribute__((packed));

#define DC 0x1
#define HG 0x8
#define NH 0x10
#define SR 0x40
#define RR 0x80
#define LO 0x100
#define LF 0x200
#define SL 0x400

static int take(const struct ma_rec *r)
{
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_madvise.take(&data, (const unsigned char *)r, 8 + r->n * sizeof(r->e[0]));
	if (!rc) {
		char buf[1024];
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		assert_non_null(f);
		kind_madvise.print(f, data);
		fclose(f);
		assert_non_null(strstr(buf, "Mapping flags"));
	}
	if (data)
		kind_madvise.free(data);
	return rc;
}

static void madvise_good(void **state)
{
	struct ma_rec r = { 3, 0, { { 0x1000, 0x3000, DC | HG, 0 }, { 0x3000, 0x4000, LO | LF, 0 },
				     { 0x7f0000000000, 0x7f0000001000, SL | SR, 0 } } };

	(void)state;
	assert_int_equal(take(&r), 0);
	r.n = 0;
	r.mm = 3;	/* mlockall(MCL_FUTURE | MCL_ONFAULT) alone */
	assert_int_equal(take(&r), 0);
}

static void madvise_malformed(void **state)
{
	static const struct ma_rec bad[] = {
		{ 0, 0, { { 0 } } },				/* nothing at all */
		{ 0, 2, { { 0 } } },				/* ONFAULT without FUTURE */
		{ 0, 8, { { 0 } } },				/* unknown process-wide flag */
		{ 1, 0, { { 0x1000, 0x1000, DC, 0 } } },		/* empty */
		{ 1, 0, { { 0x2000, 0x1000, DC, 0 } } },		/* backwards */
		{ 1, 0, { { 0x1000, 0x2800, DC, 0 } } },		/* not page-aligned */
		{ 1, 0, { { 0x1000, 0x2000, 0, 0 } } },		/* no flag */
		{ 1, 0, { { 0x1000, 0x2000, 0x800, 0 } } },		/* unknown flag */
		{ 1, 0, { { 0x1000, 0x2000, DC, 1 } } },		/* padding */
		{ 1, 0, { { 0x1000, 0x2000, LF, 0 } } },		/* on fault, not locked */
		{ 1, 0, { { 0x1000, 0x2000, HG | NH, 0 } } },
		{ 1, 0, { { 0x1000, 0x2000, SR | RR, 0 } } },
		{ 2, 0, { { 0x1000, 0x3000, DC, 0 }, { 0x2000, 0x4000, DC, 0 } } },	/* overlap */
		{ 2, 0, { { 0x3000, 0x4000, DC, 0 }, { 0x1000, 0x2000, DC, 0 } } },	/* order */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(take(&bad[i]), -EBADMSG);
		if (!strstr(err_last(), "madvise record"))
			fail_msg("case %zu: \"%s\"", i, err_last());
	}
}

static void madvise_lengths(void **state)
{
	struct ma_rec r = { 1, 0, { { 0x1000, 0x2000, DC, 0 } } };
	void *data = NULL;

	(void)state;
	assert_int_equal(kind_madvise.take(&data, (const unsigned char *)&r, 4), -EBADMSG);
	assert_int_equal(kind_madvise.take(&data, (const unsigned char *)&r, 8), -EBADMSG);
	assert_int_equal(kind_madvise.take(&data, (const unsigned char *)&r, 8 + 24 + 1), -EBADMSG);
	r.n = 65531;	/* past SNAP_NVMAS_MAX */
	assert_int_equal(kind_madvise.take(&data, (const unsigned char *)&r, 8 + 24), -EBADMSG);
	assert_null(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(madvise_good),
		cmocka_unit_test(madvise_malformed),
		cmocka_unit_test(madvise_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
