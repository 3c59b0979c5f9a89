/* test_kind_timers.c: the timers record (POSIX timers) as pfrez-stream(5)
 * lays it out: a good one taken and printed, each kind of nonsense
 * refused with a message naming the record. */
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

/* The 64-byte entry of pfrez-stream(5), written out field by field. */
struct entry {
	int32_t id, clock, notify, signo;
	uint64_t value;
	int32_t overrun;
	uint32_t tid;
	int64_t it[4];
} __attribute__((packed));

static struct entry good[2] = {
	{ 0, 1, 0, 35, 0x5eed, 0, 0, { 0, 20000000, 0, 7000000 } },
	{ 3, -6, 4, 14, 0, 2, 1234, { 0, 0, 999, 999999999 } },
};

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

static int take(const void *p, size_t len)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	int rc = kinds_take(data, nrec, REC_TIMERS, p, len, 0);

	kinds_free(data);
	return rc;
}

static void layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct entry), 64);
	assert_int_equal(offsetof(struct entry, value), 16);
	assert_int_equal(offsetof(struct entry, it), 32);
}

static void taken_and_printed(void **state)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	char out[1024] = "";
	FILE *f;

	(void)state;
	assert_int_equal(kinds_take(data, nrec, REC_TIMERS, (const void *)good, sizeof(good), 0), 0);
	assert_non_null(data[KIND_TIMERS]);
	/* One record per kind. */
	assert_int_equal(kinds_take(data, nrec, REC_TIMERS, (const void *)good, sizeof(good), 0), -EBADMSG);
	has("timers record: more than one");
	f = fmemopen(out, sizeof(out) - 1, "w");
	kinds_print(f, data);
	fclose(f);
	assert_non_null(strstr(out, "POSIX timer 0: CLOCK_MONOTONIC, notify signal, signal 35, value 0x5eed, left 0.007000000 s, interval 0.020000000 s"));
	assert_non_null(strstr(out, "POSIX timer 3: the process's CPU clock, notify signal to thread 1234"));
	kinds_free(data);
}

static void sizes_refused(void **state)
{
	struct entry *many = calloc(4097, sizeof(*many));

	(void)state;
	assert_non_null(many);
	assert_int_equal(take(good, 0), -EBADMSG);
	has("timers record");
	assert_int_equal(take(good, sizeof(good) - 1), -EBADMSG);
	assert_int_equal(take(good, 65), -EBADMSG);
	for (int i = 0; i < 4097; i++) {
		many[i].id = i;
		many[i].notify = 1;
	}
	assert_int_equal(take(many, 4096 * sizeof(*many)), 0);
	assert_int_equal(take(many, 4097 * sizeof(*many)), -EBADMSG);
	has("not 1 to 4096 timers");
	free(many);
}

/* Each change makes the otherwise good record malformed. */
static void fields_refused(void **state)
{
	static const struct {
		const char *what;
		size_t off;
		int64_t v;
		int size;
	} bad[] = {
		{ "ids not increasing", offsetof(struct entry, id) + 64, 0, 4 },
		{ "ids not increasing", offsetof(struct entry, id), -1, 4 },
		{ "clock", offsetof(struct entry, clock), 4, 4 },		/* MONOTONIC_RAW */
		{ "clock", offsetof(struct entry, clock), 12, 4 },
		{ "clock", offsetof(struct entry, clock), -99438, 4 },	/* process 12429's */
		{ "clock", offsetof(struct entry, clock), -5, 4 },		/* a dynamic clock */
		{ "notification", offsetof(struct entry, notify), 3, 4 },
		{ "notification", offsetof(struct entry, notify), 5, 4 },
		{ "signal", offsetof(struct entry, signo), 0, 4 },
		{ "signal", offsetof(struct entry, signo), 65, 4 },
		{ "overrun", offsetof(struct entry, overrun), -1, 4 },
		{ "target thread", offsetof(struct entry, tid), 1, 4 },	/* not SIGEV_THREAD_ID */
		{ "target thread", offsetof(struct entry, tid) + 64, 0, 4 },	/* SIGEV_THREAD_ID */
		{ "time", offsetof(struct entry, it), -1, 8 },
		{ "time", offsetof(struct entry, it) + 8, 1000000000, 8 },
		{ "time", offsetof(struct entry, it) + 16, INT64_MAX / 1000000000 + 1, 8 },
		{ "time", offsetof(struct entry, it) + 24, -1, 8 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char r[sizeof(good)];
		int32_t v32 = (int32_t)bad[i].v;

		memcpy(r, good, sizeof(r));
		memcpy(r + bad[i].off, bad[i].size == 4 ? (void *)&v32 : (void *)&bad[i].v, bad[i].size);
		if (take(r, sizeof(r)) != -EBADMSG)
			fail_msg("case %zu (%s) was taken", i, bad[i].what);
		has(bad[i].what);
	}
	/* SIGEV_NONE may carry any signal number, as the kernel keeps it. */
	{
		struct entry e = { .notify = 1, .signo = 999 };

		assert_int_equal(take(&e, sizeof(e)), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout),
		cmocka_unit_test(taken_and_printed),
		cmocka_unit_test(sizes_refused),
		cmocka_unit_test(fields_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
