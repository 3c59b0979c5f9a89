/* test_xport.c: transports (files, tcp over IPv4/IPv6/names, unix, udp),
 * timeouts, the -halt status reply, spec errors, and the progress meter.
 * Network traffic stays on loopback (127.0.0.1, ::1) and unix sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "header.h"
#include "layer.h"
#include "progress.h"
#include "xport.h"

#define MIB		(1u << 20)
#define RUNNING		"restored process running"

static char dir[64];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Byte i of a test stream: depends on the position, so a lost, repeated
 * or reordered piece shows. */
static unsigned char pat(size_t i)
{
	return (unsigned char)((i * 7) ^ (i >> 11) ^ (i >> 19));
}

static void fill(unsigned char *buf, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pat(off + i);
}

static int write_pattern(struct layer *l, size_t total)
{
	static unsigned char buf[200000];
	size_t off = 0;

	while (off < total) {
		/* Uneven pieces, so that datagram and buffer edges move. */
		size_t n = 1 + (off * 31 + 4093) % sizeof(buf);
		int rc;

		if (n > total - off)
			n = total - off;
		fill(buf, off, n);
		rc = layer_write(l, buf, n);
		if (rc)
			return rc;
		off += n;
	}
	return 0;
}

/* Reads to the end and checks every byte: the count read, or -errno. */
static long long read_pattern(struct layer *l)
{
	static unsigned char buf[65536 + 17];
	long long off = 0;

	for (;;) {
		ssize_t n = layer_read(l, buf, sizeof(buf));

		if (n < 0)
			return n;
		if (n == 0)
			return off;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat((size_t)off + (size_t)i))
				return -EILSEQ;
		off += n;
	}
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/test_xport.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static void mksub(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
	assert_int_equal(mkdir(out, 0700), 0);
}

static void file_dest_commit(void **state)
{
	struct xport_opts o = { 0 };
	char sub[128], path[160];
	struct xport x;
	struct layer *l;
	struct stat st;

	(void)state;
	mksub(sub, sizeof(sub), "commit");
	snprintf(path, sizeof(path), "%s/a.snap", sub);
	assert_int_equal(xport_open_dest(path, &o, &x), 0);
	assert_int_equal(x.two_way, 0);
	l = x.layer;
	x.layer = NULL;
	assert_int_equal(write_pattern(l, 3 * MIB + 5), 0);
	/* Being written: only the hidden temporary file exists. */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(layer_close(l), 0);
	assert_int_equal(xport_commit(&x), 0);
	xport_close(&x);
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3 * MIB + 5);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(xport_open_src(path, &o, &x), 0);
	assert_int_equal(read_pattern(x.layer), 3 * MIB + 5);
	assert_int_equal(layer_close(x.layer), 0);
	xport_close(&x);
}

static void file_dest_abort(void **state)
{
	struct xport_opts o = { 0 };
	char sub[128], path[160], buf[8] = { 0 };
	struct xport x;
	struct layer *l;
	int fd;

	(void)state;
	mksub(sub, sizeof(sub), "abort");
	snprintf(path, sizeof(path), "%s/b.snap", sub);
	/* A failed capture leaves an earlier snapshot alone. */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	assert_int_equal(xport_open_dest(path, &o, &x), 0);
	l = x.layer;
	x.layer = NULL;
	assert_int_equal(write_pattern(l, MIB), 0);
	assert_int_equal(count_entries(sub), 2);
	layer_destroy(l);
	xport_abort(&x);
	xport_close(&x);
	assert_int_equal(count_entries(sub), 1);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	close(fd);
	assert_string_equal(buf, "old");

	/* Closing without a commit is an abort too. */
	snprintf(path, sizeof(path), "%s/c.snap", sub);
	assert_int_equal(xport_open_dest(path, &o, &x), 0);
	layer_destroy(x.layer);
	xport_close(&x);
	assert_int_equal(count_entries(sub), 1);
}

static void file_dest_special(void **state)
{
	struct xport_opts o = { 0 };
	struct xport x;
	struct stat st;
	char sub[128], path[160];

	(void)state;
	/* /dev/null is written, not replaced by a file. */
	assert_int_equal(xport_open_dest("/dev/null", &o, &x), 0);
	assert_int_equal(layer_write(x.layer, "abc", 3), 0);
	assert_int_equal(layer_close(x.layer), 0);
	assert_int_equal(xport_commit(&x), 0);
	xport_close(&x);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));

	/* A symlink planted at the destination, and at the names a temporary
	 * file could be guessed to have, is never written through: the
	 * snapshot replaces the link, the file it points to stays as it was. */
	mksub(sub, sizeof(sub), "link");
	{
		static const char *const planted[] = { ".l.snap.XXXXXX", ".l.snap.tmp", "l.snap.tmp", "l.snap~" };
		char victim[200], p2[200], buf[16] = "";
		int fd;

		snprintf(victim, sizeof(victim), "%s/victim", sub);
		fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_int_equal(write(fd, "secret", 6), 6);
		close(fd);
		snprintf(path, sizeof(path), "%s/l.snap", sub);
		assert_int_equal(symlink(victim, path), 0);
		for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
			snprintf(p2, sizeof(p2), "%s/%s", sub, planted[i]);
			assert_int_equal(symlink(victim, p2), 0);
		}
		assert_int_equal(xport_open_dest(path, &o, &x), 0);
		assert_int_equal(layer_write(x.layer, "abc", 3), 0);
		assert_int_equal(layer_close(x.layer), 0);
		assert_int_equal(xport_commit(&x), 0);
		xport_close(&x);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(st.st_size, 3);
		assert_int_equal(st.st_mode & 07777, 0600);
		fd = open(victim, O_RDONLY);
		assert_int_equal(read(fd, buf, sizeof(buf)), 6);
		close(fd);
		assert_string_equal(buf, "secret");
		for (size_t i = 0; i < sizeof(planted) / sizeof(planted[0]); i++) {
			snprintf(p2, sizeof(p2), "%s/%s", sub, planted[i]);
			assert_int_equal(lstat(p2, &st), 0);
			assert_true(S_ISLNK(st.st_mode));
		}
	}

	assert_int_equal(xport_open_dest(dir, &o, &x), -EISDIR);
	assert_non_null(strstr(err_last(), "is a directory"));
	assert_int_equal(xport_open_dest("/nonexistent-dir/x.snap", &o, &x), -ENOENT);
	assert_non_null(strstr(err_last(), "/nonexistent-dir/x.snap: cannot create"));
	assert_int_equal(xport_open_src("/nonexistent-dir/x.snap", &o, &x), -ENOENT);
	assert_string_equal(err_last(), "/nonexistent-dir/x.snap: No such file or directory");
	xport_close(&x);
}

static void stdio_pipes(void **state)
{
	struct xport_opts o = { 0 };
	int p[2], saved;
	struct xport x;
	long sz;

	(void)state;
	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	saved = dup(1);
	dup2(p[1], 1);
	xport_open_dest("-", &o, &x);
	sz = fcntl(1, F_GETPIPE_SZ);
	if (x.layer)
		layer_destroy(x.layer);
	xport_close(&x);
	dup2(saved, 1);
	close(saved);
	close(p[0]);
	close(p[1]);
	assert_int_equal(x.kind, XPORT_STDIO);
	assert_string_equal(x.desc, "stdout");
	assert_int_equal(sz, MIB);

	assert_int_equal(xport_listen(NULL, &o, &x), 0);
	assert_string_equal(x.desc, "stdin");
	assert_int_equal(xport_accept(&x), 0);
	assert_int_equal(x.fd, 0);
	layer_destroy(x.layer);
	xport_close(&x);
	/* stdin is not ours to close, nor is fd 0 of a zeroed xport. */
	assert_true(fcntl(0, F_GETFD) >= 0);
	memset(&x, 0, sizeof(x));
	xport_close(&x);
	assert_true(fcntl(0, F_GETFD) >= 0);
}

/* The pfrez side of a round trip, in a child: writes total bytes to
 * spec and, when want_status, waits for the reader's verdict.  Exits 0
 * when everything went as expected. */
static void writer_child(const char *spec, size_t total, int want_status)
{
	/* A reader checking every byte under the sanitizers, perhaps with
	 * an unprivileged receive buffer, keeps up with this udp rate. */
	struct xport_opts o = { .dial_timeout_ms = 5000, .write_timeout_ms = 10000,
				.udp_rate = 32 * MIB };
	struct xport_handover ho;
	struct xport x;
	struct layer *l;
	char msg[XPORT_HO_TEXT_MAX + 1];
	int rc;

	rc = xport_open_dest(spec, &o, &x);
	if (!rc && want_status)
		rc = xport_frame_dest(&x);
	if (rc)
		goto fail;
	l = x.layer;
	x.layer = NULL;
	rc = write_pattern(l, total);
	if (rc) {
		layer_destroy(l);
		goto fail;
	}
	rc = layer_close(l);
	if (!rc)
		rc = xport_commit(&x);
	if (!rc && want_status) {
		xport_handover_init(&ho, 1, NULL, NULL, 0);
		rc = xport_handover_recv(&x, &ho, xport_deadline(10000), msg, sizeof(msg));
		if (rc != XPORT_HO_READY || strcmp(msg, RUNNING)) {
			fprintf(stderr, "writer: status %d \"%s\"\n", rc, msg);
			_exit(3);
		}
		rc = 0;
	}
	if (rc)
		goto fail;
	xport_close(&x);
	_exit(0);
fail:
	fprintf(stderr, "writer: %s: %s\n", spec, err_last());
	_exit(2);
}

/* Listens on listen_spec, has a child dial dest (a format taking the
 * port), reads and checks total bytes, sends "ok". */
static void roundtrip(const char *listen_spec, const char *dest, size_t total)
{
	struct xport_opts o = { .dial_timeout_ms = 10000, .read_timeout_ms = 10000 };
	char spec[160];
	struct xport x;
	int status, port;
	long long got;
	pid_t pid;

	assert_int_equal(xport_listen(listen_spec, &o, &x), 0);
	port = xport_local_port(&x);
	assert_true(port > 0 || !strncmp(listen_spec, "unix:", 5));
	snprintf(spec, sizeof(spec), dest, port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Not xport_close(): it would unlink the parent's socket. */
		close(x.listen_fd);
		close(x.fd);
		writer_child(spec, total, x.two_way);
	}
	if (xport_accept(&x)) {
		fprintf(stderr, "reader: %s\n", err_last());
		fail();
	}
	got = read_pattern(x.layer);
	if (got < 0)
		fprintf(stderr, "reader: %s\n", err_last());
	assert_int_equal(got, (long long)total);
	assert_int_equal(layer_close(x.layer), 0);
	assert_int_equal(x.framed, x.two_way);
	if (x.two_way) {
		struct xport_handover ho;

		xport_handover_init(&ho, 0, NULL, NULL, 0);
		assert_int_equal(xport_handover_send(&x, &ho, XPORT_HO_READY, RUNNING, 0), 0);
	}
	xport_close(&x);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void tcp_ipv4(void **state)
{
	(void)state;
	roundtrip("tcp:127.0.0.1:0", "tcp:127.0.0.1:%d", 8 * MIB + 3);
}

static void tcp_ipv6(void **state)
{
	(void)state;
	roundtrip("tcp:[::1]:0", "tcp:[::1]:%d", 8 * MIB + 3);
}

static void tcp_name(void **state)
{
	(void)state;
	/* The wildcard listener takes IPv4 and IPv6, whatever localhost is. */
	roundtrip("tcp:0", "tcp:localhost:%d", 4 * MIB);
	roundtrip("tcp:localhost:0", "tcp:localhost:%d", 4 * MIB);
}

static void unix_roundtrip(void **state)
{
	char spec[128], path[100];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	roundtrip(spec, spec, 8 * MIB);
	/* The socket file is gone once the connection is accepted. */
	assert_int_equal(lstat(path, &st), -1);
	snprintf(spec, sizeof(spec), "unix:@pfrez-test-xport-%d", (int)getpid());
	roundtrip(spec, spec, MIB);
}

static void udp_roundtrip(void **state)
{
	(void)state;
	roundtrip("udp:127.0.0.1:0", "udp:127.0.0.1:%d", 8 * MIB + 1);
	roundtrip("udp:[::1]:0", "udp:[::1]:%d", 4 * MIB + 1);
	roundtrip("udp:0", "udp:localhost:%d", 2 * MIB);
	/* An empty stream is one empty last datagram. */
	roundtrip("udp:127.0.0.1:0", "udp:127.0.0.1:%d", 0);
}

/* A connected pair in one process: d the pfrez side, s the pthaw side. */
static void pair(struct xport *d, struct xport *s, const char *listen_spec,
		 const char *fmt)
{
	struct xport_opts o = { .dial_timeout_ms = 2000, .read_timeout_ms = 2000 };
	char spec[128];

	assert_int_equal(xport_listen(listen_spec, &o, s), 0);
	snprintf(spec, sizeof(spec), fmt, xport_local_port(s));
	assert_int_equal(xport_open_dest(spec, &o, d), 0);
	assert_int_equal(xport_accept(s), 0);
	assert_int_equal(d->two_way, 1);
	assert_int_equal(s->two_way, 1);
}

/* d sends "hello" and ends its stream; s reads it to the end. */
static void small_stream(struct xport *d, struct xport *s)
{
	char buf[16];

	assert_int_equal(layer_write(d->layer, "hello", 5), 0);
	assert_int_equal(layer_close(d->layer), 0);
	d->layer = NULL;
	assert_int_equal(layer_read_full(s->layer, buf, 5), 0);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(layer_read(s->layer, buf, sizeof(buf)), 0);
	assert_int_equal(layer_close(s->layer), 0);
	s->layer = NULL;
}

/* d sends "hello" framed, as pfrez does with a hand-over; s reads it to
 * its end frame, and the link stays open both ways. */
static void framed_stream(struct xport *d, struct xport *s)
{
	assert_int_equal(xport_frame_dest(d), 0);
	small_stream(d, s);
	assert_int_equal(s->framed, 1);
}

static void ho_pair(struct xport_handover *w, struct xport_handover *r,
		    const struct header *h, const unsigned char *key)
{
	assert_int_equal(xport_handover_init(w, 1, h, key, 32), 0);
	assert_int_equal(xport_handover_init(r, 0, h, key, 32), 0);
}

/* A header with a salt, as an encrypted stream has. */
static void keyed_header(struct header *h)
{
	hdr_init(h);
	assert_int_equal(hdr_set(h, "encrypt", "AES-GCM"), 0);
	assert_int_equal(hdr_set(h, "salt", "%064x", 7), 0);
	assert_int_equal(hdr_format(h), 0);
}

/* Reads one raw line from fd (what the peer put on the wire). */
static size_t raw_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len - 1 && read(fd, buf + n, 1) == 1)
		if (buf[n++] == '\n')
			break;
	buf[n] = '\0';
	return n;
}

static void ho_plain(void **state)
{
	struct xport_handover w, r;
	struct xport d, s;
	char text[XPORT_HO_TEXT_MAX + 1];

	(void)state;
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, NULL, NULL);
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_READY, "held\nstopped", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_READY);
	assert_string_equal(text, "held?stopped");
	assert_int_equal(xport_handover_send(&d, &w, XPORT_HO_COMMIT, NULL, 0), 0);
	assert_int_equal(xport_handover_recv(&s, &r, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_COMMIT);
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_DONE, RUNNING, 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_DONE);
	assert_string_equal(text, RUNNING);
	/* A side never sends the other side's messages. */
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_COMMIT, NULL, 0), -EINVAL);
	xport_close(&s);
	xport_close(&d);

	snprintf(text, sizeof(text), "unix:%s/ho.sock", dir);
	pair(&d, &s, text, text);
	framed_stream(&d, &s);
	ho_pair(&w, &r, NULL, NULL);
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_FAIL, "no room", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_FAIL);
	assert_string_equal(text, "no room");
	xport_close(&s);
	xport_close(&d);
}

static void ho_keyed(void **state)
{
	static struct header h, h2;
	unsigned char key[32] = { 1 }, other[32] = { 2 };
	struct xport_handover w, r, forger;
	struct xport d, s;
	char text[XPORT_HO_TEXT_MAX + 1], line[XPORT_HO_LINE_MAX + 1];

	(void)state;
	keyed_header(&h);
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_READY, "held", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_READY);
	assert_int_equal(w.authentic, 1);
	xport_close(&s);
	xport_close(&d);

	/* pfrez's COMMIT reflected back to it, in sequence: the direction
	 * is in the tag. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_send(&d, &w, XPORT_HO_COMMIT, "", 0), 0);
	raw_line(s.fd, line, sizeof(line));
	assert_non_null(strstr(line, "pfrez-handover COMMIT 0 "));
	assert_int_equal(write(s.fd, line, strlen(line)), (ssize_t)strlen(line));
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	assert_non_null(strstr(err_last(), "fails authentication"));
	xport_close(&s);
	xport_close(&d);

	/* Another key; no tag at all; a replay; another stream. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_init(&forger, 0, &h, other, 32), 0);
	assert_int_equal(xport_handover_send(&s, &forger, XPORT_HO_READY, "", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	assert_non_null(strstr(err_last(), "READY message fails authentication"));
	xport_close(&s);
	xport_close(&d);

	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_init(&forger, 0, NULL, NULL, 0), 0);
	assert_int_equal(xport_handover_send(&s, &forger, XPORT_HO_READY, "", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	assert_non_null(strstr(err_last(), "not authenticated"));
	xport_close(&s);
	xport_close(&d);

	/* The same READY twice: the second is out of sequence. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_READY, "", 0), 0);
	r.next_out = 0;
	assert_int_equal(xport_handover_send(&s, &r, XPORT_HO_READY, "", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_READY);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	assert_non_null(strstr(err_last(), "out of sequence"));
	xport_close(&s);
	xport_close(&d);

	/* A message of another stream (other salt and header). */
	hdr_init(&h2);
	assert_int_equal(hdr_set(&h2, "salt", "%064x", 8), 0);
	assert_int_equal(hdr_format(&h2), 0);
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_init(&forger, 0, &h2, key, 32), 0);
	assert_int_equal(xport_handover_send(&s, &forger, XPORT_HO_DONE, "", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	xport_close(&s);
	xport_close(&d);

	/* An unsigned FAIL comes through, marked as such. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	ho_pair(&w, &r, &h, key);
	assert_int_equal(xport_handover_init(&forger, 0, NULL, NULL, 0), 0);
	assert_int_equal(xport_handover_send(&s, &forger, XPORT_HO_FAIL, "refused", 0), 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 XPORT_HO_FAIL);
	assert_int_equal(w.authentic, 0);
	xport_close(&s);
	xport_close(&d);
}

static void ho_timeout(void **state)
{
	struct xport_handover w;
	struct xport d, s;
	char text[128];
	int64_t t;

	(void)state;
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	xport_handover_init(&w, 1, NULL, NULL, 0);
	t = now_ms();
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(300), text, sizeof(text)),
			 -ETIMEDOUT);
	t = now_ms() - t;
	assert_true(t >= 290 && t < 3000);
	xport_close(&s);
	xport_close(&d);
}

static void ho_link_dropped(void **state)
{
	struct xport_handover w;
	struct xport d, s;
	char text[128];

	(void)state;
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	xport_close(&s);
	xport_handover_init(&w, 1, NULL, NULL, 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -ECONNRESET);
	assert_non_null(strstr(err_last(), "closed"));
	xport_close(&d);

	/* Garbage is not a message. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	assert_int_equal(write(s.fd, "HTTP/1.0 200 OK\n", 16), 16);
	xport_handover_init(&w, 1, NULL, NULL, 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -EBADMSG);
	assert_non_null(strstr(err_last(), "garbled"));
	xport_close(&s);
	xport_close(&d);

	/* Half a message, then the end. */
	pair(&d, &s, "tcp:127.0.0.1:0", "tcp:127.0.0.1:%d");
	framed_stream(&d, &s);
	assert_int_equal(write(s.fd, "pfrez-handover DO", 17), 17);
	xport_close(&s);
	xport_handover_init(&w, 1, NULL, NULL, 0);
	assert_int_equal(xport_handover_recv(&d, &w, xport_deadline(2000), text, sizeof(text)),
			 -ECONNRESET);
	assert_non_null(strstr(err_last(), "in the middle of a message"));
	xport_close(&d);
}

static void ho_one_way(void **state)
{
	struct xport_opts o = { 0 };
	struct xport_handover w;
	char path[128], text[128];
	struct xport x;

	(void)state;
	snprintf(path, sizeof(path), "%s/oneway.snap", dir);
	assert_int_equal(xport_open_dest(path, &o, &x), 0);
	assert_int_equal(xport_frame_dest(&x), -EINVAL);
	xport_handover_init(&w, 1, NULL, NULL, 0);
	assert_int_equal(xport_handover_recv(&x, &w, xport_deadline(100), text, sizeof(text)),
			 -ENOTCONN);
	layer_destroy(x.layer);
	xport_close(&x);
}

static void dial_refused(void **state)
{
	struct xport_opts o = { .dial_timeout_ms = 5000 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char spec[64];
	struct xport x;
	int fd, rc;
	int64_t t;

	(void)state;
	/* Bound but not listening: connections to it are refused. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	t = now_ms();
	rc = xport_open_dest(spec, &o, &x);
	t = now_ms() - t;
	assert_int_equal(rc, -ECONNREFUSED);
	assert_true(t < 1000);
	assert_non_null(strcasestr(err_last(), "connection refused"));
	assert_non_null(strstr(err_last(), spec));
	assert_int_equal(x.fd, -1);
	xport_close(&x);

	{
		char us[128];

		snprintf(us, sizeof(us), "unix:%s/nobody", dir);
		assert_int_equal(xport_open_dest(us, &o, &x), -ENOENT);
	}
	close(fd);
}

/* Loopback answers at once, so the timeout is tested against a listener
 * whose accept queue is full: Linux drops further SYNs until it drains. */
static void dial_timeout(void **state)
{
	struct xport_opts o = { .dial_timeout_ms = 300 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct xport held[8];
	int fd, n, rc = 0;
	char spec[64];
	int64_t t = 0;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 0), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", ntohs(sa.sin_port));
	for (n = 0; n < 8; n++) {
		t = now_ms();
		rc = xport_open_dest(spec, &o, &held[n]);
		t = now_ms() - t;
		if (rc)
			break;
		layer_destroy(held[n].layer);
	}
	for (int i = 0; i < n; i++)
		xport_close(&held[i]);
	close(fd);
	if (n == 8)
		skip();	/* the kernel queued them all: nothing to time out */
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(t >= 290 && t < 3000);
	assert_non_null(strstr(err_last(), "timed out after 300 ms"));
}

static void accept_and_io_timeouts(void **state)
{
	struct xport_opts o = { .dial_timeout_ms = 200, .read_timeout_ms = 200,
				.write_timeout_ms = 200 };
	unsigned char buf[65536] = { 0 };
	struct xport d, s;
	int64_t t;
	int rc;

	(void)state;
	t = now_ms();
	assert_int_equal(xport_open_src("tcp:127.0.0.1:0", &o, &s), -ETIMEDOUT);
	assert_true(now_ms() - t >= 190);
	assert_non_null(strstr(err_last(), "no connection within 200 ms"));
	xport_close(&s);

	/* The reader never reads: the writer gives up. */
	assert_int_equal(xport_listen("tcp:127.0.0.1:0", &o, &s), 0);
	{
		char spec[64];

		snprintf(spec, sizeof(spec), "tcp:127.0.0.1:%d", xport_local_port(&s));
		assert_int_equal(xport_open_dest(spec, &o, &d), 0);
	}
	assert_int_equal(xport_accept(&s), 0);
	t = now_ms();
	for (int i = 0; i < 64 * 1024 && !(rc = layer_write(d.layer, buf, sizeof(buf))); i++)
		;
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(now_ms() - t < 10000);
	assert_non_null(strstr(err_last(), "timed out"));

	/* The writer never writes: the reader gives up. */
	t = now_ms();
	assert_int_equal(layer_read(d.layer, buf, sizeof(buf)), -ETIMEDOUT);
	assert_true(now_ms() - t >= 190);
	layer_destroy(d.layer);
	layer_destroy(s.layer);
	xport_close(&d);
	xport_close(&s);
}

static void unix_stale_and_busy(void **state)
{
	struct xport_opts o = { 0 };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char spec[128];
	struct xport a, b;
	int fd;

	(void)state;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", dir);
	snprintf(spec, sizeof(spec), "unix:%s", sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	/* Left behind by a dead listener: taken over. */
	assert_int_equal(xport_listen(spec, &o, &a), 0);
	/* Somebody listens: refused. */
	assert_int_equal(xport_listen(spec, &o, &b), -EADDRINUSE);
	assert_non_null(strstr(err_last(), "Address already in use"));
	xport_close(&b);
	xport_close(&a);
	assert_int_equal(access(sa.sun_path, F_OK), -1);
}

/* Crafted datagrams, in the format xport.h documents. */
static void send_dgram(int fd, const char *magic, uint64_t seq, int last,
		       const char *payload, int lie)
{
	unsigned char d[64] = { 0 };
	size_t n = strlen(payload);

	memcpy(d, magic, 4);
	d[4] = 1;
	d[5] = last ? 1 : 0;
	d[6] = (unsigned char)(n + (size_t)lie);
	d[7] = 0;
	for (int i = 0; i < 8; i++)
		d[8 + i] = (unsigned char)(seq >> (8 * i));
	memcpy(d + 16, payload, n);
	assert_int_equal(send(fd, d, 16 + n, 0), (ssize_t)(16 + n));
}

struct udp_case {
	const char *name;
	int seqs[6];		/* -1 ends; 100 + n: seq n marked last */
	const char *magic;
	int lie;		/* added to the payload length field */
	int other;		/* index sent from a second socket, or -1 */
	const char *want;	/* data read before the end or error */
	int rc;			/* final read result */
	const char *msg;
};

static const struct udp_case udp_cases[] = {
	{ "clean", { 0, 1, 102, -1 }, "PFZU", 0, -1, "d0d1d2", 0, NULL },
	{ "loss", { 0, 1, 3, -1 }, "PFZU", 0, -1, "d0d1", -EPROTO,
	  "datagram 2 lost or reordered (got 3)" },
	{ "duplicate", { 0, 1, 1, -1 }, "PFZU", 0, -1, "d0d1", -EPROTO,
	  "datagram 1 duplicated or reordered (expected 2)" },
	{ "reorder", { 0, 2, 1, -1 }, "PFZU", 0, -1, "d0", -EPROTO,
	  "datagram 1 lost or reordered (got 2)" },
	{ "magic", { 0, -1 }, "HTTP", 0, -1, "", -EPROTO, "not a pfrez datagram" },
	{ "length", { 0, -1 }, "PFZU", 1, -1, "", -EPROTO, "says it carries 3" },
	{ "cut short", { 0, 1, -1 }, "PFZU", 0, -1, "d0d1", -ETIMEDOUT,
	  "no datagram for 300 ms after datagram 1: stream cut short" },
	{ "other sender", { 0, 0, 1, 102, -1 }, "PFZU", 0, 1, "d0d1d2", 0, NULL },
	{ "after last", { 0, 101, 2, -1 }, "PFZU", 0, -1, "d0d1", 0, NULL },
};

static void udp_checks(void **state)
{
	struct xport_opts o = { .read_timeout_ms = 300, .dial_timeout_ms = 2000 };
	struct sockaddr_in sa = { .sin_family = AF_INET };

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (size_t c = 0; c < sizeof(udp_cases) / sizeof(udp_cases[0]); c++) {
		const struct udp_case *u = &udp_cases[c];
		char got[64] = { 0 }, pl[8];
		struct xport x;
		size_t n = 0;
		ssize_t r;
		int a, b;

		assert_int_equal(xport_listen("udp:127.0.0.1:0", &o, &x), 0);
		assert_int_equal(x.two_way, 0);
		sa.sin_port = htons((uint16_t)xport_local_port(&x));
		a = socket(AF_INET, SOCK_DGRAM, 0);
		b = socket(AF_INET, SOCK_DGRAM, 0);
		assert_int_equal(connect(a, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(connect(b, (struct sockaddr *)&sa, sizeof(sa)), 0);
		for (int i = 0; u->seqs[i] >= 0; i++) {
			int seq = u->seqs[i] % 100;

			snprintf(pl, sizeof(pl), "d%d", seq);
			send_dgram(i == u->other ? b : a, u->magic, (uint64_t)seq,
				   u->seqs[i] >= 100, pl, u->lie);
		}
		while ((r = layer_read(x.layer, got + n, 1)) > 0)
			n += (size_t)r;
		if (u->rc != (int)r || strcmp(got, u->want))
			fprintf(stderr, "case %s: %zd \"%s\": %s\n", u->name, r,
				got, err_last());
		assert_int_equal(r, u->rc);
		assert_string_equal(got, u->want);
		if (u->msg) {
			assert_non_null(strstr(err_last(), u->msg));
			assert_non_null(strstr(err_last(), "udp:127.0.0.1:"));
			/* A failed stream stays failed. */
			err_clear();
			assert_int_equal(layer_read(x.layer, got, 1), u->rc);
			assert_non_null(strstr(err_last(), u->msg));
		} else {
			assert_int_equal(layer_read(x.layer, got, 1), 0);
		}
		layer_close(x.layer);
		xport_close(&x);
		close(a);
		close(b);
	}
}

static void udp_nobody_listening(void **state)
{
	struct xport_opts o = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	static unsigned char buf[1 << 20];
	char spec[64];
	struct xport x;
	int fd, rc = 0;

	(void)state;
	/* A port that was just free, so that ICMP says nobody listens. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	snprintf(spec, sizeof(spec), "udp:127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(xport_open_dest(spec, &o, &x), 0);
	for (int i = 0; i < 8 && !rc; i++)
		rc = layer_write(x.layer, buf, sizeof(buf));
	if (!rc)
		rc = layer_close(x.layer);
	else
		layer_destroy(x.layer);
	xport_close(&x);
	assert_int_equal(rc, -ECONNREFUSED);
	assert_non_null(strstr(err_last(), "nobody is listening"));
}

static void spec_errors(void **state)
{
	static const struct {
		int src;
		const char *spec;
		const char *msg;
	} t[] = {
		{ 0, "tcp:", "tcp:: missing address (want tcp:HOST:PORT)" },
		{ 0, "tcp:host:notaport", "tcp:host:notaport: bad port \"notaport\" (want 1-65535)" },
		{ 0, "tcp:host:0", "tcp:host:0: bad port \"0\" (want 1-65535)" },
		{ 0, "tcp:host:65536", "tcp:host:65536: bad port \"65536\" (want 1-65535)" },
		{ 0, "tcp:host:", "tcp:host:: bad port \"\" (want 1-65535)" },
		{ 0, "tcp:25088", "tcp:25088: missing host (want tcp:HOST:PORT)" },
		{ 0, "tcp::25088", "tcp::25088: empty host (want tcp:HOST:PORT)" },
		{ 0, "tcp:::1:25088", "tcp:::1:25088: an IPv6 address needs brackets ([::1]:PORT)" },
		{ 0, "tcp:[::1", "tcp:[::1: want [IPV6-ADDRESS]:PORT" },
		{ 0, "tcp:[::1]25088", "tcp:[::1]25088: want [IPV6-ADDRESS]:PORT" },
		{ 0, "udp:", "udp:: missing address (want udp:HOST:PORT)" },
		{ 0, "udp:host:x1", "udp:host:x1: bad port \"x1\" (want 1-65535)" },
		{ 0, "unix:", "unix:: missing path (want unix:PATH)" },
		{ 1, "tcp:", "tcp:: missing address (want tcp:PORT or tcp:ADDR:PORT)" },
		{ 1, "tcp:host:notaport", "tcp:host:notaport: bad port \"notaport\" (want 0-65535)" },
		{ 1, "tcp:-1", "tcp:-1: bad port \"-1\" (want 0-65535)" },
		{ 1, "udp:", "udp:: missing address (want udp:PORT or udp:ADDR:PORT)" },
		{ 1, "udp:99999", "udp:99999: bad port \"99999\" (want 0-65535)" },
		{ 1, "unix:", "unix:: missing path (want unix:PATH)" },
	};
	struct xport_opts o = { 0 };
	char longpath[200];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct xport x;
		int rc = t[i].src ? xport_open_src(t[i].spec, &o, &x) :
				    xport_open_dest(t[i].spec, &o, &x);

		assert_int_equal(rc, -EINVAL);
		assert_string_equal(err_last(), t[i].msg);
		assert_null(strchr(err_last(), '\n'));
		assert_int_equal(x.fd, -1);
		assert_null(x.layer);
		xport_close(&x);
	}
	memset(longpath, 'a', sizeof(longpath));
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof(longpath) - 1] = '\0';
	{
		struct xport x;

		assert_int_equal(xport_open_dest(longpath, &o, &x), -ENAMETOOLONG);
		assert_non_null(strstr(err_last(), "socket path too long (at most 107 bytes)"));
	}
}

/* Runs fn with stderr going to a file; returns what it printed. */
static char *capture_stderr(void (*fn)(void))
{
	char path[128], *out = calloc(1, 4096);
	int fd, saved;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	saved = dup(2);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_true(pread(fd, out, 4095, 0) >= 0);
	close(fd);
	return out;
}

static void meter_forced(void)
{
	struct progress p;

	progress_init(&p, "pfrez: sent", 1);
	for (int i = 1; i <= 100; i++)
		progress_update(&p, (unsigned long long)i * 1363149);
	usleep(1100000);
	progress_update(&p, 200ull * MIB);
	progress_done(&p);
}

static void meter_quiet(void)
{
	struct progress p;

	progress_init(&p, "pfrez: sent", 0);
	progress_update(&p, MIB);
	progress_done(&p);
}

static void meter_tty(void)
{
	struct progress p;

	progress_init(&p, "pthaw: received", 0);
	for (int i = 1; i <= 6; i++) {
		usleep(130000);
		progress_update(&p, (unsigned long long)i * MIB);
	}
	progress_done(&p);
}

/* On a terminal: rewritten in place, at most 4 times a second. */
static void progress_terminal(void **state)
{
	char buf[4096] = { 0 }, *s;
	int m, t, saved, n = 0, lines = 0;
	ssize_t r;

	(void)state;
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		skip();
	t = open(ptsname(m), O_RDWR | O_NOCTTY);
	assert_true(t >= 0);
	saved = dup(2);
	dup2(t, 2);
	meter_tty();
	dup2(saved, 2);
	close(saved);
	close(t);
	while (n < (int)sizeof(buf) - 1 &&
	       (r = read(m, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += (int)r;
	close(m);
	for (s = buf; (s = strstr(s, "\rpthaw: received ")); s++)
		lines++;
	/* 6 updates 130 ms apart: every other one shows, then the last. */
	assert_true(lines >= 3 && lines <= 5);
	assert_non_null(strstr(buf, "pthaw: received 6.0 MiB, "));
	assert_non_null(strstr(buf, "\033[K"));
	/* One line, ended only at the end. */
	assert_int_equal(strchr(buf, '\n') - buf, n - 1);
}

static void progress_lines(void **state)
{
	char *out, *second;
	double rate, secs;

	(void)state;
	/* Not a terminal: -progress prints whole lines, at most one a second. */
	out = capture_stderr(meter_forced);
	assert_non_null(strstr(out, "pfrez: sent 200.0 MiB, "));
	assert_null(strchr(out, '\r'));
	second = strchr(out, '\n');
	assert_non_null(second);
	second++;
	/* One line at the 1.1 s update, then the final one. */
	assert_int_equal(sscanf(second, "pfrez: sent 200.0 MiB, %lf MiB/s, %lf s\n",
				&rate, &secs), 2);
	assert_true(secs >= 1.0 && secs < 5.0);
	assert_true(rate > 30 && rate < 200);
	assert_non_null(strchr(second, '\n'));
	assert_string_equal(strchr(second, '\n'), "\n");
	free(out);

	out = capture_stderr(meter_quiet);
	assert_string_equal(out, "");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_dest_commit),
		cmocka_unit_test(file_dest_abort),
		cmocka_unit_test(file_dest_special),
		cmocka_unit_test(stdio_pipes),
		cmocka_unit_test(tcp_ipv4),
		cmocka_unit_test(tcp_ipv6),
		cmocka_unit_test(tcp_name),
		cmocka_unit_test(unix_roundtrip),
		cmocka_unit_test(udp_roundtrip),
		cmocka_unit_test(ho_plain),
		cmocka_unit_test(ho_keyed),
		cmocka_unit_test(ho_timeout),
		cmocka_unit_test(ho_link_dropped),
		cmocka_unit_test(ho_one_way),
		cmocka_unit_test(dial_refused),
		cmocka_unit_test(dial_timeout),
		cmocka_unit_test(accept_and_io_timeouts),
		cmocka_unit_test(unix_stale_and_busy),
		cmocka_unit_test(udp_checks),
		cmocka_unit_test(udp_nobody_listening),
		cmocka_unit_test(spec_errors),
		cmocka_unit_test(progress_lines),
		cmocka_unit_test(progress_terminal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
