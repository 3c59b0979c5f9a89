/* test_flags.c: Go- and GNU-style flags, durations, and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "flags.h"

static long pid;
static int halt;
static const char *dest;
static int64_t timeout;

static struct flag_int pid_range = { &pid, 1, 4194304 };

static const struct flag tab[] = {
	{ "pid", FLAG_INT, &pid_range, "PID", "process" },
	{ "halt", FLAG_BOOL, &halt, NULL, "halt" },
	{ "dest", FLAG_STRING, &dest, "DEST", "sink" },
	{ "dial-timeout", FLAG_DURATION, &timeout, "DURATION", "timeout" },
	{ 0 },
};

static int parse(int argc, char **argv, int *rest)
{
	pid = -1;
	halt = 0;
	dest = NULL;
	timeout = 0;
	return flags_parse(tab, argc, argv, rest);
}

static void styles(void **state)
{
	char *a1[] = { "p", "-pid=12", "--halt", "-dest", "x.snap", "--dial-timeout=1m30s", "op" };
	char *a2[] = { "p", "--pid", "7", "-halt=false", "--", "-x" };
	int rest;

	(void)state;
	assert_int_equal(parse(7, a1, &rest), 0);
	assert_int_equal(pid, 12);
	assert_int_equal(halt, 1);
	assert_string_equal(dest, "x.snap");
	assert_int_equal(timeout, 90000);
	assert_int_equal(rest, 6);
	assert_int_equal(parse(6, a2, &rest), 0);
	assert_int_equal(pid, 7);
	assert_int_equal(halt, 0);
	assert_int_equal(rest, 5);
}

static void errors(void **state)
{
	char *bad_int[] = { "p", "-pid=12x" };
	char *unknown[] = { "p", "-bogus" };
	char *missing[] = { "p", "-dest" };
	char *bad_bool[] = { "p", "-halt=maybe" };
	char *help[] = { "p", "--help" };
	int rest;

	(void)state;
	assert_int_equal(parse(2, bad_int, &rest), -22);
	assert_non_null(strstr(err_last(), "want an integer"));
	assert_int_equal(parse(2, unknown, &rest), -22);
	assert_non_null(strstr(err_last(), "unknown flag -bogus"));
	assert_int_equal(parse(2, missing, &rest), -22);
	assert_non_null(strstr(err_last(), "needs a value"));
	assert_int_equal(parse(2, bad_bool, &rest), -22);
	assert_int_equal(parse(2, help, &rest), 1);
}

static void durations(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(flags_duration("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(flags_duration("1.5s", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(flags_duration("1h2m3s", &ms), 0);
	assert_int_equal(ms, 3723000);
	assert_int_equal(flags_duration("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(flags_duration("10", &ms), -22);
	assert_int_equal(flags_duration("s", &ms), -22);
	assert_int_equal(flags_duration("-1s", &ms), -22);
	assert_int_equal(flags_duration("", &ms), -22);
	/* strict: what strtod would take but a duration is not */
	{
		static const char *bad[] = {
			"1e3s", "0x10s", "inf", "infs", "nans", " 5s", "+5s", "5 s", "1.s", ".5s",
			"5s ", "1..5s", "5sx", "0.5", "99999999999999999999s", "25h", "1441m",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			if (flags_duration(bad[i], &ms) != -22)
				fail_msg("duration \"%s\" accepted as %lld ms", bad[i], (long long)ms);
	}
	assert_int_equal(flags_duration("24h", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(flags_duration("0.25s", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(flags_duration("0s", &ms), 0);
	assert_int_equal(ms, 0);
}

/* Integers: digits in the flag's range, or one message naming the flag. */
static void int_ranges(void **state)
{
	static const char *bad[] = {
		"4294967296", "4294967297", "18446744073709551617", "99999999999999999999999",
		"0", "-1", "4194305", "+5", " 5", "5 ", "0x10", "", "1e3", "--5",
	};
	int rest;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char arg[64];
		char *argv[] = { "p", arg };

		snprintf(arg, sizeof(arg), "-pid=%s", bad[i]);
		pid = 77;
		if (parse(2, argv, &rest) != -22)
			fail_msg("-pid=%s accepted as %ld", bad[i], pid);
		assert_int_equal(pid, -1);	/* untouched */
		if (!strstr(err_last(), "flag -pid"))
			fail_msg("message \"%s\" does not name the flag", err_last());
	}
	{
		char *argv[] = { "p", "-pid=4294967296" };

		assert_int_equal(parse(2, argv, &rest), -22);
		assert_string_equal(err_last(),
				    "invalid value \"4294967296\" for flag -pid: want an integer from 1 to 4194304");
	}
	{
		char *argv[] = { "p", "-pid=4194304" };

		assert_int_equal(parse(2, argv, &rest), 0);
		assert_int_equal(pid, 4194304);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(styles),
		cmocka_unit_test(errors),
		cmocka_unit_test(durations),
		cmocka_unit_test(int_ranges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
