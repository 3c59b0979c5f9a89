/* test_kind_locks.c: the locks record (lib/kind/locks.c) as
 * man/pfrez-stream.5 lays it out: a good one is taken and printed, every
 * malformed one is refused with EBADMSG and a message naming the kind. */
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
#include "record.h"

/* The wire format, written out here as the man page gives it. */
struct wire_lock {
	int32_t fd;
	uint32_t class, write, sig;
	uint64_t start, end;
} __attribute__((packed));

struct wire {
	uint32_t n, pad;
	struct wire_lock l[4];
} __attribute__((packed));

#define EOF64 UINT64_MAX

static const struct wire good = { 4, 0, {
	{ 3, 1, 1, 0, 0, EOF64 },	/* flock, exclusive */
	{ 4, 2, 1, 0, 100, 199 },	/* POSIX write on bytes 100..199 */
	{ 5, 3, 0, 0, 0, EOF64 },	/* OFD read on the whole file */
	{ 6, 4, 0, 29, 0, EOF64 },	/* read lease, signal SIGIO by number */
} };

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

static int take(const struct wire *w, size_t len)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	int rc;

	err_clear();
	rc = kinds_take(data, nrec, REC_LOCKS, (const unsigned char *)w, len, 0);
	kinds_free(data);
	return rc;
}

static void locks_good(void **state)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(kinds_take(data, nrec, REC_LOCKS, (const unsigned char *)&good, sizeof(good), 0), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	kinds_print(f, data);
	fclose(f);
	assert_non_null(strstr(text, "fd 3: flock write\n"));
	assert_non_null(strstr(text, "fd 4: POSIX write, bytes 100..199\n"));
	assert_non_null(strstr(text, "fd 5: OFD read, bytes 0..EOF\n"));
	assert_non_null(strstr(text, "fd 6: lease read, break signal 29\n"));
	free(text);
	/* One record per process. */
	assert_int_equal(kinds_take(data, nrec, REC_LOCKS, (const unsigned char *)&good, sizeof(good), 0), -EBADMSG);
	has("more than one");
	kinds_free(data);
	/* Fewer locks, in fewer bytes. */
	{
		struct wire w = good;

		w.n = 1;
		assert_int_equal(take(&w, 8 + sizeof(struct wire_lock)), 0);
	}
}

static void locks_bad_lengths(void **state)
{
	struct wire w = good;

	(void)state;
	assert_int_equal(take(&w, 4), -EBADMSG);
	has("locks record");
	assert_int_equal(take(&w, sizeof(w) - 1), -EBADMSG);
	assert_int_equal(take(&w, sizeof(w) - sizeof(struct wire_lock)), -EBADMSG);
	has("bytes for 4 locks");
	w.n = 0;
	assert_int_equal(take(&w, 8), -EBADMSG);
	w.n = 65537;
	assert_int_equal(take(&w, sizeof(w)), -EBADMSG);
	has("65537 locks");
	/* A count that overflows 32-bit arithmetic of the length. */
	w.n = 0x10000001u;
	assert_int_equal(take(&w, sizeof(w)), -EBADMSG);
	w = good;
	w.pad = 1;
	assert_int_equal(take(&w, sizeof(w)), -EBADMSG);
}

/* Each malformed lock, at index 1, refused. */
static void locks_bad_fields(void **state)
{
	static const struct wire_lock bad[] = {
		{ -1, 2, 1, 0, 0, 9 },			/* negative fd */
		{ 1 << 20, 2, 1, 0, 0, 9 },		/* above SNAP_FD_MAX */
		{ 4, 0, 1, 0, 0, EOF64 },		/* no class */
		{ 4, 5, 1, 0, 0, EOF64 },		/* unknown class */
		{ 4, 2, 2, 0, 0, 9 },			/* neither read nor write */
		{ 4, 1, 1, 10, 0, EOF64 },		/* a signal on a flock */
		{ 4, 4, 0, 65, 0, EOF64 },		/* a signal above 64 */
		{ 4, 2, 1, 0, 10, 9 },			/* ends before it starts */
		{ 4, 2, 1, 0, (uint64_t)INT64_MAX + 1, EOF64 },	/* start past off_t */
		{ 4, 3, 1, 0, 0, (uint64_t)INT64_MAX + 1 },	/* end past off_t */
		{ 4, 1, 1, 0, 1, EOF64 },		/* a flock on a range */
		{ 4, 4, 0, 0, 0, 99 },			/* a lease on a range */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wire w = good;

		w.l[1] = bad[i];
		if (take(&w, sizeof(w)) != -EBADMSG)
			fail_msg("malformed lock %zu was taken", i);
		has("locks record: lock 1 is malformed");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(locks_good),
		cmocka_unit_test(locks_bad_lengths),
		cmocka_unit_test(locks_bad_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
