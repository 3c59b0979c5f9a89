/* fd_fifo: a FIFO made at ARG.fifo, opened three times: read and write
 * (which keeps it from ever seeing EOF), read-only O_NONBLOCK and
 * write-only, with 500 bytes queued.  Each round looks at the bytes
 * without taking them (tee(2) into a pipe of its own) and checks that
 * the fds still are that FIFO, with their modes and flags. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#define KIND "fd_fifo"
#include "zdtm.h"

static int rw, rd, wr;
static char path[4096];
static struct stat st;

static unsigned char byte(long i)
{
	return (unsigned char)(i * 13 + 5);
}

static const char *setup(int argc, char **argv)
{
	unsigned char b[500];

	if (argc < 2) {
		errno = EINVAL;
		return "usage: fd_fifo PATH";
	}
	snprintf(path, sizeof(path), "%s.fifo", argv[1]);
	unlink(path);
	if (mkfifo(path, 0600) || stat(path, &st))
		return "mkfifo";
	rw = open(path, O_RDWR);
	rd = open(path, O_RDONLY | O_NONBLOCK);
	wr = open(path, O_WRONLY);
	if (rw < 0 || rd < 0 || wr < 0)
		return "open";
	for (int i = 0; i < 500; i++)
		b[i] = byte(i);
	return write(wr, b, 500) == 500 ? NULL : "write";
}

static const char *check(void)
{
	unsigned char b[600];
	int q[2], avail = -1, fds[] = { rw, rd, wr }, modes[] = { O_RDWR, O_RDONLY, O_WRONLY };
	struct stat now;
	ssize_t n;

	for (int i = 0; i < 3; i++) {
		if (fstat(fds[i], &now) || now.st_ino != st.st_ino || now.st_dev != st.st_dev)
			return zdtm_why("fd %d is not the FIFO %s", fds[i], path);
		if ((fcntl(fds[i], F_GETFL) & O_ACCMODE) != modes[i])
			return zdtm_why("fd %d: mode %#x", fds[i], fcntl(fds[i], F_GETFL));
	}
	if (!(fcntl(rd, F_GETFL) & O_NONBLOCK) || (fcntl(wr, F_GETFL) & O_NONBLOCK))
		return "flags";
	if (ioctl(rd, FIONREAD, &avail) || avail != 500)
		return zdtm_why("%d bytes queued, not 500", avail);
	if (pipe(q) || tee(rd, q[1], 500, SPLICE_F_NONBLOCK) != 500)
		return zdtm_why("tee: %s", strerror(errno));
	n = read(q[0], b, sizeof(b));
	close(q[0]);
	close(q[1]);
	if (n != 500)
		return "short copy";
	for (int i = 0; i < 500; i++)
		if (b[i] != byte(i))
			return zdtm_why("byte %d is %#x, not %#x", i, b[i], byte(i));
	return NULL;
}
