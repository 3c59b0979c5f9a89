/* test_prefetch.c: a file read ahead is given once, as it was when its
 * thread read it; asked again (or never read ahead) it is read anew. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "prefetch.h"

static char path[64];

static void put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The whole of f, NUL-terminated, in buf. */
static const char *text_of(FILE *f, char *buf, size_t len)
{
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_prefetch.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void once_then_anew(void **state)
{
	struct proc_prefetch *pp = proc_prefetch_new();
	char buf[64];

	(void)state;
	put("first\n");
	proc_prefetch_add(pp, path);
	/* The thread has read it long before this. */
	usleep(300000);
	put("second\n");
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "first\n");
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "second\n");
	proc_prefetch_end(pp);
}

static void empty_and_missing(void **state)
{
	struct proc_prefetch *pp = proc_prefetch_new();
	char buf[64], gone[80];

	(void)state;
	put("");
	snprintf(gone, sizeof(gone), "%s.gone", path);
	proc_prefetch_add(pp, path);
	proc_prefetch_add(pp, gone);
	/* An empty file reads as empty, not as an error. */
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "");
	/* A file the thread could not read: opened directly, and the error
	 * is fopen's. */
	errno = 0;
	assert_null(proc_prefetch_open(pp, gone));
	assert_int_equal(errno, ENOENT);
	proc_prefetch_end(pp);
}

/* Not read ahead, or no set at all: the file itself. */
static void not_added(void **state)
{
	struct proc_prefetch *pp = proc_prefetch_new();
	char buf[64];

	(void)state;
	put("direct\n");
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "direct\n");
	assert_string_equal(text_of(proc_prefetch_open(NULL, path), buf, sizeof(buf)), "direct\n");
	proc_prefetch_add(NULL, path);
	proc_prefetch_end(NULL);
	proc_prefetch_end(pp);
}

/* Added again while read ahead and not yet taken: the text of the
 * first read (read before the hold by capture_read_ahead(), asked for
 * again by mm.c in the hold), not a second read. */
static void added_twice(void **state)
{
	struct proc_prefetch *pp = proc_prefetch_new();
	char buf[64];

	(void)state;
	put("before\n");
	proc_prefetch_add(pp, path);
	while (!proc_prefetch_ready(pp))
		usleep(1000);
	put("after\n");
	proc_prefetch_add(pp, path);
	assert_true(proc_prefetch_ready(pp));
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "before\n");
	/* Taken: added again, it is read again. */
	proc_prefetch_add(pp, path);
	assert_string_equal(text_of(proc_prefetch_open(pp, path), buf, sizeof(buf)), "after\n");
	proc_prefetch_end(pp);
}

/* Ready once every thread has read its file; an empty set (or none) is. */
static void ready(void **state)
{
	struct proc_prefetch *pp = proc_prefetch_new();
	char gone[80];
	int tries = 0;

	(void)state;
	assert_true(proc_prefetch_ready(pp));
	assert_true(proc_prefetch_ready(NULL));
	snprintf(gone, sizeof(gone), "%s.gone", path);
	put("x\n");
	proc_prefetch_add(pp, path);
	proc_prefetch_add(pp, gone);
	while (!proc_prefetch_ready(pp) && tries++ < 5000)
		usleep(1000);
	assert_true(proc_prefetch_ready(pp));
	proc_prefetch_end(pp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(once_then_anew, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(not_added, setup, teardown),
		cmocka_unit_test_setup_teardown(added_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(ready, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
