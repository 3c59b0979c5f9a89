/* test_kind_unix.c: the unix (lib/kind/fd_unix.c) and inotify
 * (lib/kind/fd_inotify.c) records as man/pfrez-stream.5 lays them out: a
 * good one is taken, checked against the file records and printed; every
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
#include "files.h"
#include "kind.h"
#include "record.h"
#include "snap.h"

/* The wire format, written out here as the man page gives it. */
struct wire_unix {
	uint32_t file, type, state, peer, shutdown, backlog, opts;
	int32_t rcvbuf, sndbuf, peek_off, rcvlowat, priority;
	int64_t rcvtimeo[2], sndtimeo[2];
	uint32_t name_len, peer_name_len, nmsgs, pad;
	uint64_t qbytes;
} __attribute__((packed));

struct wire_watch {
	int32_t wd;
	uint32_t mask;
	uint64_t dev, ino;
	uint32_t mode, path_len;
} __attribute__((packed));

static unsigned char buf[4096];

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

/* A pair end of file FILE with peer PEER, name NAME (n bytes), and the
 * messages (NUL-separated in msgs, nm of them); its length. */
static size_t sock(const struct wire_unix *h, const char *name, uint32_t nlen, const char *const *msgs,
		   uint32_t nm)
{
	struct wire_unix w = *h;
	size_t off = sizeof(w);

	w.name_len = nlen;
	w.nmsgs = nm;
	w.qbytes = 0;
	memcpy(buf + off, name, nlen);
	off += nlen;
	for (uint32_t i = 0; i < nm; i++) {
		uint32_t l = (uint32_t)strlen(msgs[i]);

		memcpy(buf + off, &l, 4);
		memcpy(buf + off + 4, msgs[i], l);
		off += 4 + l;
		w.qbytes += l;
	}
	memcpy(buf, &w, sizeof(w));
	return off;
}

static const struct wire_unix pair0 = { .file = 0, .type = 5, .state = 1, .peer = 1, .peek_off = -1,
					.rcvbuf = 212992, .sndbuf = 212992, .rcvlowat = 1 };
static const char *const two[] = { "first", "second message" };

static int take(uint32_t type, size_t len)
{
	void *data[KIND_NR] = { 0 };
	unsigned nrec[KIND_NR] = { 0 };
	int rc;

	err_clear();
	rc = kinds_take(data, nrec, type, buf, len, 0);
	kinds_free(data);
	return rc;
}

/* The kind's own cross-record check (kinds_verify wants every
 * required kind's records too). */
static int vfy(const struct snap *s, int kind)
{
	err_clear();
	return kind_table[kind]->verify(s, s->kind[kind]);
}

/* Two unix sockets as files 0 and 1 (and an inotify instance as 2). */
static void two_files(struct snap *s)
{
	snap_init(s);
	for (uint32_t i = 0; i < 3; i++) {
		struct rec_file f = { .id = i, .kind = i < 2 ? FD_UNIX : FD_INOTIFY };

		assert_int_equal(files_add(s, &f, "socket:[1]"), 0);
		assert_int_equal(files_add_fd(s, &(struct rec_fd){ .fd = 3 + (int)i, .file = i }), 0);
	}
}

static void unix_good(void **state)
{
	struct snap s;
	struct wire_unix b = pair0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	two_files(&s);
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&pair0, "", 0, two, 2), 0), 0);
	b.file = 1, b.peer = 0, b.shutdown = 2, b.opts = 1;
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "\0ab", 3, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	kinds_print(f, s.kind);
	fclose(f);
	assert_non_null(strstr(text, "file 0: seqpacket, pair with file 1, 2 messages (19 bytes) queued\n"));
	assert_non_null(strstr(text, "file 1: seqpacket, pair with file 0, name @ab, shut down for writing, 0 messages"));
	assert_non_null(strstr(text, "passcred"));
	free(text);
	/* A second record for file 0. */
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&pair0, "", 0, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), -EBADMSG);
	has("a second record");
	snap_free(&s);
}

static void unix_bad_peer(void **state)
{
	struct snap s;
	struct wire_unix b = pair0;

	(void)state;
	two_files(&s);
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&pair0, "", 0, NULL, 0), 0), 0);
	b.file = 1, b.peer = 1;		/* paired with itself */
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "", 0, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), -EBADMSG);
	has("unix record (file 0): its peer is not a socket paired with it");
	snap_free(&s);
	two_files(&s);
	b = pair0;
	b.file = 2;			/* the inotify instance */
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "", 0, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), -EBADMSG);
	has("not a unix socket's file");
	snap_free(&s);
}

static void unix_bad_fields(void **state)
{
	struct wire_unix b;
	size_t len;

	(void)state;
	assert_int_equal(take(REC_UNIX, 10), -EBADMSG);
	has("unix record");
	b = pair0, b.type = 3;		/* SOCK_RAW */
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.state = 4;
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.shutdown = 4;
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.rcvtimeo[1] = 1000000;
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.state = 2;		/* listening without a name */
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.state = 0;		/* messages on an unconnected socket */
	assert_int_equal(take(REC_UNIX, sock(&b, "x", 1, two, 2)), -EBADMSG);
	assert_int_equal(take(REC_UNIX, sock(&pair0, "\0", 1, NULL, 0)), -EBADMSG);
	has("empty abstract name");
	assert_int_equal(take(REC_UNIX, sock(&pair0, "a\0b", 3, NULL, 0)), -EBADMSG);
	has("malformed name");
	assert_int_equal(take(REC_UNIX, sock(&pair0, "", 0, two, 2) - 1), -EBADMSG);
	len = sock(&pair0, "", 0, two, 2);
	buf[offsetof(struct wire_unix, qbytes)]++;
	assert_int_equal(take(REC_UNIX, len), -EBADMSG);
	has("disagrees");
	len = sock(&pair0, "", 0, two, 2);
	memset(buf + sizeof(struct wire_unix), 0xff, 4);	/* a message of 4 GiB */
	assert_int_equal(take(REC_UNIX, len), -EBADMSG);
	has("wrong length");
	/* A datagram client of a named socket: the peer's name follows. */
	b = pair0, b.state = 4, b.type = 2, b.peer_name_len = 8;
	memcpy(buf + sizeof(b), "/dev/log", 8);
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 8), 0);
	b.type = 1;			/* a stream one cannot be */
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 8), -EBADMSG);
	b.type = 2;
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 7), -EBADMSG);
	b = pair0, b.state = 4, b.type = 2;	/* connected to a name it lacks */
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	has("peer name");
	b = pair0, b.pad = 1;
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	b = pair0, b.name_len = 109;
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 109), -EBADMSG);
}

/* The end accept(2) made (opts bit 3): a named stream or seqpacket pair
 * end; a tree pair's unnamed client carries the accepted end's name. */
static void unix_accepted(void **state)
{
	struct snap s;
	struct wire_unix b = pair0;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	two_files(&s);
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&pair0, "", 0, NULL, 0), 0), 0);
	b.file = 1, b.peer = 0, b.opts = 8;
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "srv.sock", 8, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	kinds_print(f, s.kind);
	fclose(f);
	assert_non_null(strstr(text, "name srv.sock"));
	assert_non_null(strstr(text, "accepted from its name"));
	free(text);
	snap_free(&s);
	/* Both ends accepted. */
	two_files(&s);
	b = pair0, b.opts = 8;
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "a", 1, NULL, 0), 0), 0);
	b.file = 1, b.peer = 0;
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_UNIX, buf, sock(&b, "a", 1, NULL, 0), 0), 0);
	assert_int_equal(vfy(&s, KIND_UNIX), -EBADMSG);
	has("both ends of a connection accepted");
	snap_free(&s);
	b = pair0, b.opts = 8;		/* without a name */
	assert_int_equal(take(REC_UNIX, sock(&b, "", 0, NULL, 0)), -EBADMSG);
	has("accepted, but");
	b.type = 2;			/* a datagram one */
	assert_int_equal(take(REC_UNIX, sock(&b, "a", 1, NULL, 0)), -EBADMSG);
	b = pair0, b.opts = 8, b.state = 0;
	assert_int_equal(take(REC_UNIX, sock(&b, "a", 1, NULL, 0)), -EBADMSG);
	/* A tree pair's client: the other end's name follows its own. */
	b = pair0, b.state = 5, b.type = 1, b.pad = 7, b.peer = 4, b.peer_name_len = 8;
	memcpy(buf + sizeof(b), "srv.sock", 8);
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 8), 0);
	b.type = 2;			/* not for a datagram pair */
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 8), -EBADMSG);
	b.type = 1, b.state = 1, b.pad = 0;	/* nor a pair inside the process */
	memcpy(buf, &b, sizeof(b));
	assert_int_equal(take(REC_UNIX, sizeof(b) + 8), -EBADMSG);
	has("peer name");
}

/* An inotify record of file 2 with watches (wd, path). */
static size_t watches(uint32_t file, const int32_t *wd, const char *const *path, uint32_t n)
{
	size_t off = 8;

	memcpy(buf, &file, 4);
	memcpy(buf + 4, &n, 4);
	for (uint32_t i = 0; i < n; i++) {
		struct wire_watch w = { .wd = wd[i], .mask = 0x100, .ino = 5, .mode = 040755,
					.path_len = (uint32_t)strlen(path[i]) };

		memcpy(buf + off, &w, sizeof(w));
		memcpy(buf + off + sizeof(w), path[i], w.path_len);
		off += sizeof(w) + w.path_len;
	}
	return off;
}

static void inotify_records(void **state)
{
	static const char *const paths[] = { "/tmp", "/etc/passwd" };
	static const char *const relative[] = { "/tmp", "etc" };
	struct snap s;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	two_files(&s);
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_INOTIFY, buf,
				    watches(2, (int32_t[]){ 1, 4 }, paths, 2), 0), 0);
	assert_int_equal(vfy(&s, KIND_INOTIFY), 0);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	kinds_print(f, s.kind);
	fclose(f);
	assert_non_null(strstr(text, "    wd 4: \"/etc/passwd\", mask 0x100, inode 5\n"));
	free(text);
	snap_free(&s);
	two_files(&s);
	assert_int_equal(kinds_take(s.kind, s.nrec, REC_INOTIFY, buf, watches(1, (int32_t[]){ 1 }, paths, 1), 0), 0);
	assert_int_equal(vfy(&s, KIND_INOTIFY), -EBADMSG);
	has("not an inotify instance's file");
	snap_free(&s);
	assert_int_equal(take(REC_INOTIFY, watches(2, (int32_t[]){ 4, 1 }, paths, 2)), -EBADMSG);
	has("inotify record (file 2): a malformed watch");
	assert_int_equal(take(REC_INOTIFY, watches(2, (int32_t[]){ 0, 1 }, paths, 2)), -EBADMSG);
	assert_int_equal(take(REC_INOTIFY, watches(2, (int32_t[]){ 1, 2 }, relative, 2)), -EBADMSG);
	has("malformed path");
	assert_int_equal(take(REC_INOTIFY, watches(2, (int32_t[]){ 1, 2 }, paths, 2) - 1), -EBADMSG);
	assert_int_equal(take(REC_INOTIFY, watches(2, (int32_t[]){ 1, 2 }, paths, 2) + 1), -EBADMSG);
	assert_int_equal(take(REC_INOTIFY, 4), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unix_good),
		cmocka_unit_test(unix_bad_peer),
		cmocka_unit_test(unix_bad_fields),
		cmocka_unit_test(unix_accepted),
		cmocka_unit_test(inotify_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
