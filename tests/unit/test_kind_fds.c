/* test_kind_fds.c: the pipe, eventfd, timerfd, signalfd and epoll records
 * as pfrez-stream(5) lays them out: good ones taken and printed, each
 * kind of nonsense refused with a message naming the record, and each
 * record checked against the file records it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <cmocka.h>

#include "err.h"
#include "files.h"
#include "kind.h"
#include "record.h"
#include "snap.h"

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

static int take(uint32_t type, const void *p, size_t len)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	int rc = kinds_take(data, nrec, type, p, len, 0);

	kinds_free(data);
	return rc;
}

/* A pipe record: header, file ids, chunk lengths, bytes. */
static size_t pipe_rec(unsigned char *buf, const struct rec_pipe *h, const uint32_t *files,
		       const uint32_t *chunks, const char *data)
{
	size_t off = sizeof(*h);

	memcpy(buf, h, sizeof(*h));
	memcpy(buf + off, files, 4 * h->nfiles);
	off += 4 * h->nfiles;
	memcpy(buf + off, chunks, 4 * h->nchunks);
	off += 4 * h->nchunks;
	memcpy(buf + off, data, h->data_len);
	return off + h->data_len;
}

static void layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct rec_pipe), 32);
	assert_int_equal(sizeof(struct rec_eventfd), 16);
	assert_int_equal(sizeof(struct rec_timerfd), 72);
	assert_int_equal(offsetof(struct rec_timerfd, it), 24);
	assert_int_equal(offsetof(struct rec_timerfd, now), 56);
	assert_int_equal(sizeof(struct rec_signalfd), 16);
	assert_int_equal(sizeof(struct rec_epoll), 8);
	assert_int_equal(sizeof(struct rec_epoll_entry), 16);
}

static void pipe_records(void **state)
{
	unsigned char buf[256];
	uint32_t files[2] = { 3, 4 }, chunks[3] = { 2, 3, 5 };
	struct rec_pipe h = { .ino = 77, .size = 65536, .flags = PIPE_PACKETS, .nfiles = 2, .nchunks = 3,
			      .data_len = 10 };
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	char out[512] = "";
	size_t n = pipe_rec(buf, &h, files, chunks, "0123456789");
	FILE *f;

	(void)state;
	assert_int_equal(kinds_take(data, nrec, REC_PIPE, buf, n, 0), 0);
	/* Many: one per pipe. */
	assert_int_equal(kinds_take(data, nrec, REC_PIPE, buf, n, 0), 0);
	f = fmemopen(out, sizeof(out) - 1, "w");
	kinds_print(f, data);
	fclose(f);
	assert_non_null(strstr(out, "pipe 77: files 3 4, size 65536, 10 bytes queued in 3 packets\n"));
	kinds_free(data);

	assert_int_equal(take(REC_PIPE, buf, n - 1), -EBADMSG);
	has("pipe record: malformed");
	assert_int_equal(take(REC_PIPE, buf, 31), -EBADMSG);
	has("pipe record: too short");
	chunks[1] = 4;
	n = pipe_rec(buf, &h, files, chunks, "0123456789");
	assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
	has("pipe record: chunks of 11 bytes, 10 queued");
	chunks[1] = 0;
	chunks[2] = 8;
	n = pipe_rec(buf, &h, files, chunks, "0123456789");
	assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
	has("pipe record: an empty chunk");
	chunks[1] = 3;
	chunks[2] = 5;
	{
		struct rec_pipe b = h;

		b.flags = 16;
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		/* An earlier process's pipe of the tree: no bytes here. */
		b.flags = PIPE_TREE;
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b.nchunks = b.data_len = 0;
		n = pipe_rec(buf, &b, files, chunks, "");
		assert_int_equal(take(REC_PIPE, buf, n), 0);
		b.flags = PIPE_TREE | PIPE_OUTSIDE;
		n = pipe_rec(buf, &b, files, chunks, "");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b = h;
		b.size = 9;	/* less than what is queued */
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b = h;
		b.nfiles = 0;
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b = h;
		b.nchunks = 0;	/* bytes in no chunk */
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b = h;
		b.pad = 1;
		n = pipe_rec(buf, &b, files, chunks, "0123456789");
		assert_int_equal(take(REC_PIPE, buf, n), -EBADMSG);
		b = h;
		b.data_len = 0xffffffffu;
		memcpy(buf, &b, sizeof(b));
		assert_int_equal(take(REC_PIPE, buf, sizeof(buf)), -EBADMSG);
	}
}

static void small_records(void **state)
{
	struct rec_eventfd e = { .file = 1, .semaphore = 1, .count = 5 };
	struct rec_timerfd t = { .file = 2, .clock = 1, .settime_flags = 1, .ticks = 3,
				 .it = { 1, 0, 0, 500 }, .now = { 100, 7 } };
	struct rec_signalfd g = { .file = 3, .mask = 1ull << 9 };
	struct {
		struct rec_epoll h;
		struct rec_epoll_entry e[2];
	} __attribute__((packed)) ep = { { 4, 2 }, { { 5, 0x80000001u, 0x1111 }, { 6, 0x40000000u, 7 } } };
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	char out[1024] = "";
	FILE *f;

	(void)state;
	assert_int_equal(kinds_take(data, nrec, REC_EVENTFD, (const void *)&e, sizeof(e), 0), 0);
	assert_int_equal(kinds_take(data, nrec, REC_TIMERFD, (const void *)&t, sizeof(t), 0), 0);
	assert_int_equal(kinds_take(data, nrec, REC_SIGNALFD, (const void *)&g, sizeof(g), 0), 0);
	assert_int_equal(kinds_take(data, nrec, REC_EPOLL, (const void *)&ep, sizeof(ep), 0), 0);
	f = fmemopen(out, sizeof(out) - 1, "w");
	kinds_print(f, data);
	fclose(f);
	assert_non_null(strstr(out, "eventfd: file 1, counter 5, EFD_SEMAPHORE\n"));
	assert_non_null(strstr(out, "timerfd: file 2, CLOCK_MONOTONIC, absolute, left 0.000000500 s, interval 1.000000000 s, 3 expirations unread\n"));
	assert_non_null(strstr(out, "signalfd: file 3, signals 0x200\n"));
	assert_non_null(strstr(out, "epoll: file 4, 2 fds watched\n  fd 5: events 0x80000001 (EPOLLET), data 0x1111\n  fd 6: events 0x40000000 (EPOLLONESHOT), data 0x7\n"));
	kinds_free(data);

	assert_int_equal(take(REC_EVENTFD, &e, sizeof(e) - 1), -EBADMSG);
	has("eventfd record");
	e.semaphore = 2;
	assert_int_equal(take(REC_EVENTFD, &e, sizeof(e)), -EBADMSG);
	e.semaphore = 0;
	e.count = UINT64_MAX;
	assert_int_equal(take(REC_EVENTFD, &e, sizeof(e)), -EBADMSG);

	t.clock = 4;	/* CLOCK_MONOTONIC_RAW: timerfd_create refuses it */
	assert_int_equal(take(REC_TIMERFD, &t, sizeof(t)), -EBADMSG);
	has("timerfd record: bad clock");
	t.clock = 0;
	t.settime_flags = 4;
	assert_int_equal(take(REC_TIMERFD, &t, sizeof(t)), -EBADMSG);
	has("timerfd record: bad flags");
	t.settime_flags = 3;
	t.it[3] = 1000000000;
	assert_int_equal(take(REC_TIMERFD, &t, sizeof(t)), -EBADMSG);
	has("timerfd record: bad time");
	t.it[3] = 0;
	t.now[0] = -1;
	assert_int_equal(take(REC_TIMERFD, &t, sizeof(t)), -EBADMSG);
	t.now[0] = 0;
	assert_int_equal(take(REC_TIMERFD, &t, sizeof(t)), 0);

	g.mask |= 1ull << 8;	/* SIGKILL */
	assert_int_equal(take(REC_SIGNALFD, &g, sizeof(g)), -EBADMSG);
	has("signalfd record: malformed");

	assert_int_equal(take(REC_EPOLL, &ep, sizeof(ep) - 1), -EBADMSG);
	has("epoll record: malformed");
	ep.e[1].tfd = -1;
	assert_int_equal(take(REC_EPOLL, &ep, sizeof(ep)), -EBADMSG);
	has("epoll record: fd -1");
	ep.e[1].tfd = 6;
	ep.h.nentries = 3;
	assert_int_equal(take(REC_EPOLL, &ep, sizeof(ep)), -EBADMSG);
}

/* A snapshot with files 0 (an eventfd at fd 3), 1 (a pipe's read end at
 * fd 4) and the record taken into it, then checked by its kind. */
static int verify_with(uint32_t type, const void *p, size_t len)
{
	struct snap s;
	struct rec_file ev = { .id = 0, .kind = FD_EVENTFD, .flags = O_RDWR };
	struct rec_file pr = { .id = 1, .kind = FD_PIPE, .flags = O_RDONLY };
	int rc;

	snap_init(&s);
	assert_int_equal(files_add(&s, &ev, "anon_inode:[eventfd]"), 0);
	assert_int_equal(files_add(&s, &pr, "pipe:[9]"), 0);
	assert_int_equal(files_add_fd(&s, &(struct rec_fd){ .fd = 3, .file = 0 }), 0);
	assert_int_equal(files_add_fd(&s, &(struct rec_fd){ .fd = 4, .file = 1 }), 0);
	rc = kinds_take(s.kind, s.nrec, type, p, len, 0);
	/* The kind's own check (kinds_verify wants a whole snapshot). */
	for (int i = 0; !rc && i < KIND_NR; i++)
		if (kind_get(i) && kind_get(i)->type == type)
			rc = kind_get(i)->verify(&s, s.kind[i]);
	snap_free(&s);
	return rc;
}

/* The treefile record (lib/kind/fd_tree.c): taken, checked against the
 * file records (kind 17 only, never its own process), printed. */
static int treefile_kind(void)
{
	int i = 0;

	while (i < KIND_NR && (!kind_get(i) || kind_get(i)->type != REC_TREEFILE))
		i++;
	assert_true(i < KIND_NR);
	return i;
}

/* Process 7 with file 0 (kind 17, fd 3) and file 1 (a file, fd 4), the
 * record taken into it and checked; printed into out. */
static int tree_verify(const struct rec_treefile *t, char *out, size_t len)
{
	struct rec_file tf = { .id = 0, .kind = FD_TREE, .flags = O_WRONLY };
	struct rec_file pl = { .id = 1, .kind = FD_FILE, .flags = O_WRONLY };
	int k = treefile_kind(), rc;
	struct snap s;
	FILE *f;

	snap_init(&s);
	s.proc.pid = 7;
	assert_int_equal(files_add(&s, &tf, "/tmp/log"), 0);
	assert_int_equal(files_add(&s, &pl, "/tmp/other"), 0);
	assert_int_equal(files_add_fd(&s, &(struct rec_fd){ .fd = 3, .file = 0 }), 0);
	assert_int_equal(files_add_fd(&s, &(struct rec_fd){ .fd = 4, .file = 1 }), 0);
	rc = kinds_take(s.kind, s.nrec, REC_TREEFILE, (const unsigned char *)t, sizeof(*t), 0);
	if (!rc)
		rc = kind_get(k)->verify(&s, s.kind[k]);
	if (!rc && out) {
		f = fmemopen(out, len - 1, "w");
		kind_get(k)->print(f, s.kind[k]);
		fclose(f);
	}
	snap_free(&s);
	return rc;
}

static void tree_records(void **state)
{
	struct rec_treefile t = { .file = 0, .owner_pid = 42, .owner_file = 3 };
	char out[256] = "";

	(void)state;
	assert_int_equal(sizeof(t), 16);
	assert_int_equal(tree_verify(&t, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "file 0: the open file 3 of process 42 of the tree (inherited)\n"));
	assert_int_equal(take(REC_TREEFILE, &t, sizeof(t) - 1), -EBADMSG);
	has("treefile record: 15 bytes, not 16");
	t.pad = 1;
	assert_int_equal(take(REC_TREEFILE, &t, sizeof(t)), -EBADMSG);
	has("treefile record: malformed");
	t.pad = 0;
	t.owner_pid = 0;
	assert_int_equal(take(REC_TREEFILE, &t, sizeof(t)), -EBADMSG);
	/* Naming a plain file, not the tree file. */
	t.owner_pid = 42;
	t.file = 1;
	assert_int_equal(tree_verify(&t, NULL, 0), -EBADMSG);
	has("treefile record: file 1 is not a tree file");
	/* Taken from its own process. */
	t.file = 0;
	t.owner_pid = 7;
	assert_int_equal(tree_verify(&t, NULL, 0), -EBADMSG);
	has("taken from its own process");
}

static void verified(void **state)
{
	unsigned char buf[64];
	uint32_t file = 1, chunk = 2;
	struct rec_pipe h = { .size = 4096, .nfiles = 1, .nchunks = 1, .data_len = 2 };
	struct rec_eventfd e = { .file = 0 };
	struct {
		struct rec_epoll h;
		struct rec_epoll_entry e;
	} __attribute__((packed)) ep = { { 0, 1 }, { 3, 1, 0 } };

	(void)state;
	assert_int_equal(verify_with(REC_PIPE, buf, pipe_rec(buf, &h, &file, &chunk, "ab")), 0);
	assert_int_equal(verify_with(REC_EVENTFD, &e, sizeof(e)), 0);
	/* A pipe record naming the eventfd. */
	file = 0;
	assert_int_equal(verify_with(REC_PIPE, buf, pipe_rec(buf, &h, &file, &chunk, "ab")), -EBADMSG);
	has("pipe record: file 0 is not one of its pipe's");
	/* A FIFO record for an anonymous pipe's file. */
	file = 1;
	h.flags = PIPE_FIFO;
	assert_int_equal(verify_with(REC_PIPE, buf, pipe_rec(buf, &h, &file, &chunk, "ab")), -EBADMSG);
	/* An eventfd record for the pipe's file. */
	e.file = 1;
	assert_int_equal(verify_with(REC_EVENTFD, &e, sizeof(e)), -EBADMSG);
	has("eventfd record: file 1 is not an eventfd");
	/* An epoll record for a file that is no epoll, watching fd 3. */
	assert_int_equal(verify_with(REC_EPOLL, &ep, sizeof(ep)), -EBADMSG);
	has("epoll record: file 0 is not an epoll");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout),
		cmocka_unit_test(pipe_records),
		cmocka_unit_test(small_records),
		cmocka_unit_test(verified),
		cmocka_unit_test(tree_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
