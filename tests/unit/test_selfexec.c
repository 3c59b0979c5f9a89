/* test_selfexec.c: the trailer of self-executing snapshots (selfexec.h):
 * found where it is, its offsets checked against the file, and a stream
 * inside read up to the trailer only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layer.h"
#include "selfexec.h"

/* A memfd holding n bytes of head, the trailer e, or nothing after it. */
static int file_with(size_t head, const struct selfexec *e)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	struct layer *l;
	char c = 'x';

	assert_true(fd >= 0);
	for (size_t i = 0; i < head; i++)
		assert_int_equal(write(fd, &c, 1), 1);
	if (e) {
		l = layer_fd_open(fd, 0);
		assert_int_equal(selfexec_write_trailer(l, e), 0);
		assert_int_equal(layer_close(l), 0);
	}
	return fd;
}

static void found(void **state)
{
	struct selfexec w = { .pload_off = 10, .pload_len = 20, .stream_off = 30 }, r;
	int fd = file_with(100, &w);

	(void)state;
	assert_int_equal(selfexec_find(fd, &r), 1);
	assert_int_equal(r.pload_off, 10);
	assert_int_equal(r.pload_len, 20);
	assert_int_equal(r.stream_off, 30);
	assert_int_equal(r.stream_len, 70);
	close(fd);
}

static void absent(void **state)
{
	struct selfexec r;
	int fd = file_with(100, NULL), p[2];

	(void)state;
	assert_int_equal(selfexec_find(fd, &r), 0);
	close(fd);
	fd = file_with(5, NULL);	/* shorter than a trailer */
	assert_int_equal(selfexec_find(fd, &r), 0);
	close(fd);
	assert_int_equal(pipe(p), 0);	/* not a regular file */
	assert_int_equal(selfexec_find(p[0], &r), 0);
	close(p[0]);
	close(p[1]);
}

static void outside(void **state)
{
	const struct selfexec bad[] = {
		{ .pload_off = 0, .pload_len = 20, .stream_off = 20 },		/* no pthaw */
		{ .pload_off = 10, .pload_len = 200, .stream_off = 210 },	/* past the end */
		{ .pload_off = 10, .pload_len = 20, .stream_off = 40 },	/* a gap */
		{ .pload_off = 10, .pload_len = UINT64_MAX, .stream_off = 9 },	/* wraps */
		{ .pload_off = UINT64_MAX, .pload_len = 1, .stream_off = 0 },
	};
	struct selfexec r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = file_with(100, &bad[i]);

		assert_int_equal(selfexec_find(fd, &r), -EBADMSG);
		close(fd);
	}
}

/* The fd layer's read limit: a stream inside stops at the trailer. */
static void read_limit(void **state)
{
	struct selfexec w = { .pload_off = 4, .pload_len = 4, .stream_off = 8 }, r;
	int fd = file_with(12, &w);
	struct layer *l;
	char buf[64];

	(void)state;
	assert_int_equal(selfexec_find(fd, &r), 1);
	assert_int_equal(lseek(fd, (off_t)r.stream_off, SEEK_SET), 8);
	l = layer_fd_open(fd, 0);
	layer_fd_read_limit(l, r.stream_len);
	assert_int_equal(layer_read(l, buf, sizeof(buf)), 4);
	assert_int_equal(layer_read(l, buf, sizeof(buf)), 0);
	layer_destroy(l);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(found),
		cmocka_unit_test(absent),
		cmocka_unit_test(outside),
		cmocka_unit_test(read_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
