/* test_kind_sched.c: the sched record (lib/kind/sched.c) as pthaw takes
 * it from a stream: a good one round-trips to print, nonsense is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sched.h>
#include <cmocka.h>

#include "err.h"
#include "kind.h"

extern const struct kind_ops kind_sched;

/* The record as man/pfrez-stream.5 gives it: 64 bytes, then cpu_words
 * words of the CPU mask (here always room for 17, the length says how
 * many are in the record). */
struct sched_rec {
	uint32_t policy, flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
	int32_t oom_score_adj;
	uint16_t ioprio_class, ioprio_data;
	uint32_t cpu_flags, cpu_words;
	uint64_t cpus[17];
} __attribute__((packed));

#define HEAD offsetof(struct sched_rec, cpus)
#define ALL 1u	/* cpu_flags: every CPU */

static const struct sched_rec good = { .policy = SCHED_BATCH, .nice = 7, .util_max = 1024,
				       .oom_score_adj = 345, .cpu_flags = ALL };

/* The record's length: its mask has cpu_words words. */
static size_t len_of(const struct sched_rec *r)
{
	return HEAD + (r->cpu_words > 17 ? 17 : r->cpu_words) * 8;
}

/* Takes r (len bytes) and prints what was taken into out. */
static int take_print(const struct sched_rec *r, size_t len, char *out, size_t size)
{
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_sched.take(&data, (const unsigned char *)r, len);
	if (!rc) {
		FILE *f = fmemopen(out, size, "w");

		assert_non_null(f);
		kind_sched.print(f, data);
		fclose(f);
		assert_non_null(strstr(out, "oom_score_adj"));
	}
	free(data);
	return rc;
}

static int take(const struct sched_rec *r, size_t len)
{
	char buf[512];

	return take_print(r, len, buf, sizeof(buf));
}

static void sched_good(void **state)
{
	struct sched_rec r = good;

	(void)state;
	assert_int_equal(take(&r, len_of(&r)), 0);
	r = (struct sched_rec){ .policy = SCHED_FIFO, .flags = 1, .priority = 99, .oom_score_adj = -1000,
				.cpu_flags = ALL };
	assert_int_equal(take(&r, len_of(&r)), 0);
	r = (struct sched_rec){ .policy = 6, .runtime = 10, .deadline = 20, .period = 30,
				.cpu_flags = ALL };
	assert_int_equal(take(&r, len_of(&r)), 0);
}

/* The CPU mask and the I/O priority come back as they were sent. */
static void sched_cpus_ioprio(void **state)
{
	struct sched_rec r = good;
	char buf[512];

	(void)state;
	assert_int_equal(take_print(&r, len_of(&r), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "CPUs all, I/O priority none,"));

	r.cpu_flags = 0;
	r.cpu_words = 1;
	r.cpus[0] = 0x1;
	r.ioprio_class = 2;	/* best-effort */
	r.ioprio_data = 6;
	assert_int_equal(take_print(&r, len_of(&r), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "CPUs 0, I/O priority best-effort 6,"));

	/* CPUs 1-3, 64 and 1023: the last word of the 16 the record holds. */
	r.cpu_words = 16;
	r.cpus[0] = 0xe;
	r.cpus[1] = 0x1;
	r.cpus[15] = 1ull << 63;
	r.ioprio_class = 3;	/* idle */
	r.ioprio_data = 0;
	assert_int_equal(take_print(&r, len_of(&r), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "CPUs 1-3,64,1023, I/O priority idle 0,"));

	r = good;
	r.ioprio_class = 1;	/* realtime, level 0 and the highest hint */
	r.ioprio_data = 0x1fff;
	assert_int_equal(take(&r, len_of(&r)), 0);
}

/* The new fields' malformed forms, each refused by name. */
static void sched_cpus_ioprio_malformed(void **state)
{
	static const struct {
		const char *what;
		struct sched_rec r;
	} bad[] = {
		{ "unknown cpu_flags", { .cpu_flags = 2 } },
		{ "unknown cpu_flags", { .cpu_flags = ALL | 0x80000000u } },
		{ "a CPU mask with SCHED_CPUS_ALL", { .cpu_flags = ALL, .cpu_words = 1, .cpus = { 1 } } },
		{ "CPU mask empty", { .cpu_words = 0 } },
		{ "last word zero", { .cpu_words = 1 } },
		{ "last word zero", { .cpu_words = 2, .cpus = { 1, 0 } } },
		{ "more than 16", { .cpu_words = 17, .cpus = { [16] = 1 } } },
		{ "unknown I/O priority class", { .cpu_flags = ALL, .ioprio_class = 4 } },
		{ "unknown I/O priority class", { .cpu_flags = ALL, .ioprio_class = 0xffff } },
		{ "I/O priority data out of range", { .cpu_flags = ALL, .ioprio_class = 2, .ioprio_data = 0x2000 } },
		{ "I/O priority data under class none", { .cpu_flags = ALL, .ioprio_data = 4 } },
	};
	struct sched_rec r = good;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(take(&bad[i].r, len_of(&bad[i].r)), -EBADMSG);
		if (!strstr(err_last(), bad[i].what) || !strstr(err_last(), "sched record"))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err_last(), bad[i].what);
	}
	/* The length must be the mask's: a word more or less, or none. */
	r.cpu_flags = 0;
	r.cpu_words = 2;
	r.cpus[1] = 1;
	assert_int_equal(take(&r, len_of(&r) - 8), -EBADMSG);
	assert_non_null(strstr(err_last(), "2 words of CPU mask"));
	assert_int_equal(take(&r, len_of(&r) + 8), -EBADMSG);
	assert_non_null(strstr(err_last(), "bytes"));
	assert_int_equal(take(&r, len_of(&r) - 1), -EBADMSG);
	r = good;
	assert_int_equal(take(&r, HEAD + 8), -EBADMSG);
	assert_non_null(strstr(err_last(), "bytes"));
}

static void sched_malformed(void **state)
{
	static const struct {
		const char *what;
		struct sched_rec r;
	} bad[] = {
		{ "unknown policy", { .policy = 4 } },
		{ "unknown policy", { .policy = 8 } },
		{ "unknown flags", { .flags = 8 } },
		{ "nice out of range", { .nice = 20 } },
		{ "nice out of range", { .nice = -21 } },
		{ "priority", { .policy = SCHED_FIFO, .priority = 0 } },
		{ "priority", { .policy = SCHED_RR, .priority = 100 } },
		{ "priority", { .policy = SCHED_OTHER, .priority = 1 } },
		{ "deadline parameters without", { .runtime = 1, .deadline = 1 } },
		{ "out of order", { .policy = 6, .runtime = 30, .deadline = 20 } },
		{ "out of order", { .policy = 6, .runtime = 0, .deadline = 20 } },
		{ "out of order", { .policy = 6, .runtime = 1, .deadline = 20, .period = 10 } },
		{ "clamps", { .util_min = 10, .util_max = 5 } },
		{ "clamps", { .util_max = 1025 } },
		{ "oom_score_adj", { .oom_score_adj = 1001 } },
		{ "oom_score_adj", { .oom_score_adj = -1001 } },
	};
	struct sched_rec r = good;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sched_rec b = bad[i].r;

		b.cpu_flags = ALL;	/* the new fields as good */
		assert_int_equal(take(&b, len_of(&b)), -EBADMSG);
		if (!strstr(err_last(), bad[i].what) || !strstr(err_last(), "sched record"))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err_last(), bad[i].what);
	}
	assert_int_equal(take(&r, HEAD - 1), -EBADMSG);
	assert_non_null(strstr(err_last(), "bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sched_good),
		cmocka_unit_test(sched_malformed),
		cmocka_unit_test(sched_cpus_ioprio),
		cmocka_unit_test(sched_cpus_ioprio_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
