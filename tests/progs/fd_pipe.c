/* fd_pipe: pipes with bytes queued in them, held across the capture.
 *	a	both ends, 3000 bytes queued, blocking
 *	b	both ends, pipe2(O_DIRECT | O_NONBLOCK): packets of 10, 200 and 3000 bytes
 *	c	the read end only, 100 bytes queued and no writer left (EOF after them)
 *	d	the write end only, no reader left (EPIPE)
 *	e	both ends, 1 MiB size, 300000 bytes queued
 * Each round looks at the bytes without taking them (tee(2) into a pipe
 * of its own, closed again): they must still be there, in order, in
 * their packets, with each end's flags and each pipe's size. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>

#define KIND "fd_pipe"
#include "zdtm.h"

#define E_SIZE (1 << 20)
#define E_LEN 300000

static int a[2], b[2], c_r, d_w, e[2];
static const int b_packets[] = { 10, 200, 3000 };
static unsigned char buf[E_SIZE];

static unsigned char byte(int pipe, long i)
{
	return (unsigned char)(pipe * 31 + i * 7 + i / 251);
}

static int fill(int fd, int pipe, long off, long n)
{
	unsigned char *p = malloc(n);
	long w;

	for (long i = 0; i < n; i++)
		p[i] = byte(pipe, off + i);
	w = write(fd, p, n);
	free(p);
	return w == n ? 0 : -1;
}

static const char *setup(int argc, char **argv)
{
	int c[2], d[2];
	long off = 0;

	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN);
	if (pipe(a) || fill(a[1], 'a', 0, 3000))
		return "pipe a";
	if (pipe2(b, O_DIRECT | O_NONBLOCK))
		return "pipe b";
	for (int i = 0; i < 3; off += b_packets[i++])
		if (fill(b[1], 'b', off, b_packets[i]))
			return "pipe b packets";
	if (pipe(c) || fill(c[1], 'c', 0, 100) || close(c[1]))
		return "pipe c";
	c_r = c[0];
	if (pipe(d) || close(d[0]))
		return "pipe d";
	d_w = d[1];
	if (pipe(e) || fcntl(e[1], F_SETPIPE_SZ, E_SIZE) != E_SIZE)
		return "pipe e";
	for (off = 0; off < E_LEN; off += 60000)
		if (fill(e[1], 'e', off, 60000))
			return "pipe e fill";
	return NULL;
}

/* The bytes queued in fd, taken from a copy: each read of the copy one
 * chunk (one packet, in packet mode), lengths into len[]. */
static char why_buf[200];

static const char *peek(int fd, long want, int *len, int *nlen)
{
	int q[2], avail = -1;
	long got = 0;

	if (ioctl(fd, FIONREAD, &avail) || avail != want)
		return snprintf(why_buf, sizeof(why_buf), "%d bytes queued, not %ld", avail, want), why_buf;
	if (pipe2(q, O_NONBLOCK) || fcntl(q[1], F_SETPIPE_SZ, E_SIZE) != E_SIZE)
		return "private pipe";
	if (tee(fd, q[1], want, SPLICE_F_NONBLOCK) != want)
		return "tee";
	*nlen = 0;
	while (got < want) {
		long n = read(q[0], buf + got, sizeof(buf) - got);

		if (n <= 0)
			break;
		if (*nlen < 8)
			len[(*nlen)++] = (int)n;
		got += n;
	}
	close(q[0]);
	close(q[1]);
	return got == want ? NULL : "short copy";
}

static const char *same(int pipe, long n)
{
	for (long i = 0; i < n; i++)
		if (buf[i] != byte(pipe, i))
			return snprintf(why_buf, sizeof(why_buf), "byte %ld is %#x, not %#x", i, buf[i],
					byte(pipe, i)), why_buf;
	return NULL;
}

static const char *check(void)
{
	int len[8], nlen;
	const char *why;
	struct pollfd pf;

	if ((why = peek(a[0], 3000, len, &nlen)) || (why = same('a', 3000)))
		return zdtm_why("pipe a: %s", why);
	if ((fcntl(a[0], F_GETFL) & (O_NONBLOCK | O_DIRECT)) || (fcntl(a[1], F_GETFL) & O_ACCMODE) != O_WRONLY)
		return "pipe a: flags";
	if ((why = peek(b[0], 3210, len, &nlen)) || (why = same('b', 3210)))
		return zdtm_why("pipe b: %s", why);
	if (nlen != 3 || len[0] != 10 || len[1] != 200 || len[2] != 3000)
		return zdtm_why("pipe b: %d packets (%d, %d, ...), not 10, 200, 3000", nlen, len[0], len[1]);
	/* pipe2 gives O_DIRECT to the write end only. */
	if ((fcntl(b[0], F_GETFL) & (O_NONBLOCK | O_DIRECT)) != O_NONBLOCK ||
	    (fcntl(b[1], F_GETFL) & (O_NONBLOCK | O_DIRECT)) != (O_NONBLOCK | O_DIRECT))
		return zdtm_why("pipe b: flags %#x, %#x", fcntl(b[0], F_GETFL), fcntl(b[1], F_GETFL));
	if ((why = peek(c_r, 100, len, &nlen)) || (why = same('c', 100)))
		return zdtm_why("pipe c: %s", why);
	pf = (struct pollfd){ .fd = c_r, .events = POLLIN };
	if (poll(&pf, 1, 0) != 1 || !(pf.revents & POLLHUP))
		return zdtm_why("pipe c: a writer is back (revents %#x)", pf.revents);
	pf = (struct pollfd){ .fd = d_w, .events = POLLOUT };
	if (poll(&pf, 1, 0) != 1 || !(pf.revents & POLLERR))
		return zdtm_why("pipe d: a reader is back (revents %#x)", pf.revents);
	if (write(d_w, "x", 1) != -1 || errno != EPIPE)
		return "pipe d: a write did not fail with EPIPE";
	if (fcntl(e[0], F_GETPIPE_SZ) != E_SIZE)
		return zdtm_why("pipe e: size %d", fcntl(e[0], F_GETPIPE_SZ));
	if ((why = peek(e[0], E_LEN, len, &nlen)) || (why = same('e', E_LEN)))
		return zdtm_why("pipe e: %s", why);
	return NULL;
}
