/* test_kind_tty.c: the tty record (lib/kind/fd_tty.c) as
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
struct wire {
	uint32_t flags, tpgid;
	uint64_t rdev;
	uint32_t iflag, oflag, cflag, lflag, ispeed, ospeed;
	uint8_t line, cc[32], pad[3];
	uint16_t rows, cols, xpixel, ypixel;
} __attribute__((packed));

_Static_assert(sizeof(struct wire) == 84, "the man page's 84 bytes");

/* nano's modes on /dev/pts/3 (136:3), 80x24, in the foreground. */
static const struct wire good = {
	.flags = 1, .tpgid = 4242, .rdev = (136ull << 8) | 3,
	.iflag = 042000, .oflag = 05, .cflag = 0277, .lflag = 0105060,
	.ispeed = 017, .ospeed = 017, .cc = { 3, 034, 0177, 025, 4, 0, 1 },
	.rows = 24, .cols = 80,
};

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
	rc = kinds_take(data, nrec, REC_TTY, (const unsigned char *)w, len, 0);
	kinds_free(data);
	return rc;
}

static void tty_good(void **state)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(kinds_take(data, nrec, REC_TTY, (const unsigned char *)&good, sizeof(good), 0), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	kinds_print(f, data);
	fclose(f);
	assert_non_null(strstr(text, "Terminal: 136:3, 80x24, in its foreground (group 4242)"));
	assert_non_null(strstr(text, "raw (-icanon), -echo\n"));
	free(text);
	/* One terminal per process. */
	assert_int_equal(kinds_take(data, nrec, REC_TTY, (const unsigned char *)&good, sizeof(good), 0), -EBADMSG);
	has("more than one");
	kinds_free(data);
	/* In the background, cooked. */
	{
		struct wire w = good;

		w.flags = 0;
		w.lflag |= 012;
		assert_int_equal(take(&w, sizeof(w)), 0);
	}
}

static void tty_bad(void **state)
{
	struct wire w = good;

	(void)state;
	assert_int_equal(take(&w, sizeof(w) - 1), -EBADMSG);
	has("tty record");
	assert_int_equal(take(&w, 0), -EBADMSG);
	w.flags = 2;
	assert_int_equal(take(&w, sizeof(w)), -EBADMSG);
	has("tty record: malformed");
	w = good;
	w.pad[2] = 1;
	assert_int_equal(take(&w, sizeof(w)), -EBADMSG);
	has("tty record: malformed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tty_good),
		cmocka_unit_test(tty_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
