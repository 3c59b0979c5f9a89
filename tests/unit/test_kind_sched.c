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

/* The record as man/pfrez-stream.5 gives it. */
struct sched_rec {
	uint32_t policy, flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
	int32_t oom_score_adj;
	uint32_t pad;
} __attribute__((packed));

static const struct sched_rec good = { .policy = SCHED_BATCH, .nice = 7, .util_max = 1024,
				       .oom_score_adj = 345 };

static int take(const struct sched_rec *r, size_t len)
{
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_sched.take(&data, (const unsigned char *)r, len);
	if (!rc) {
		char buf[512];
		FILE *f = fmemopen(buf, sizeof(buf), "w");

		assert_non_null(f);
		kind_sched.print(f, data);
		fclose(f);
		assert_non_null(strstr(buf, "oom_score_adj"));
	}
	free(data);
	return rc;
}

static void sched_good(void **state)
{
	struct sched_rec r = good;

	(void)state;
	assert_int_equal(take(&r, sizeof(r)), 0);
	r = (struct sched_rec){ .policy = SCHED_FIFO, .flags = 1, .priority = 99, .oom_score_adj = -1000 };
	assert_int_equal(take(&r, sizeof(r)), 0);
	r = (struct sched_rec){ .policy = 6, .runtime = 10, .deadline = 20, .period = 30 };
	assert_int_equal(take(&r, sizeof(r)), 0);
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
		{ "padding", { .pad = 1 } },
	};
	struct sched_rec r = good;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(take(&bad[i].r, sizeof(bad[i].r)), -EBADMSG);
		if (!strstr(err_last(), bad[i].what) || !strstr(err_last(), "sched record"))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err_last(), bad[i].what);
	}
	assert_int_equal(take(&r, sizeof(r) - 1), -EBADMSG);
	assert_non_null(strstr(err_last(), "bytes"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sched_good),
		cmocka_unit_test(sched_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
