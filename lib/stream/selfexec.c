/* selfexec.c: self-executing snapshots: pthaw and pload before the
 * stream, a trailer after it (selfexec.h). */
#include "selfexec.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_EXEC
#define MFD_EXEC	0x0010U
#endif

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

int selfexec_find(int fd, struct selfexec *e)
{
	unsigned char t[SELFEXEC_TRAILER];
	struct stat st;
	uint64_t size, end;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return err_sys(errno, "fstat");
	if (!S_ISREG(st.st_mode) || st.st_size < SELFEXEC_TRAILER)
		return 0;
	size = (uint64_t)st.st_size;
	n = pread(fd, t, sizeof(t), (off_t)(size - sizeof(t)));
	if (n < 0)
		return err_sys(errno, "reading the end of the file");
	if (n != (ssize_t)sizeof(t) || memcmp(t + 24, SELFEXEC_MAGIC, 8))
		return 0;
	e->pload_off = get_le64(t);
	e->pload_len = get_le64(t + 8);
	e->stream_off = get_le64(t + 16);
	end = size - sizeof(t);
	/* From the file, so checked: each part inside it, in order. */
	if (!e->pload_off || e->pload_off > end || e->pload_len > end - e->pload_off ||
	    e->stream_off != e->pload_off + e->pload_len || e->stream_off > end)
		return err_msg(EBADMSG, "self-executing snapshot: its trailer points outside the file");
	e->stream_len = end - e->stream_off;
	return 1;
}

/* Copies the file path to out; its length in *len. */
static int copy_file(struct layer *out, const char *path, uint64_t *len)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (fd < 0)
		return err_sys(errno, "%s", path);
	*len = 0;
	while (!rc && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = err_sys(errno, "%s", path);
		else
			rc = layer_write(out, buf, (size_t)n);
		*len += n > 0 ? (uint64_t)n : 0;
	}
	close(fd);
	return rc;
}

int selfexec_write_head(struct layer *out, const char *pthaw, const char *pload,
			struct selfexec *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = copy_file(out, pthaw, &e->pload_off);
	if (!rc)
		rc = copy_file(out, pload, &e->pload_len);
	e->stream_off = e->pload_off + e->pload_len;
	return rc;
}

int selfexec_write_trailer(struct layer *out, const struct selfexec *e)
{
	unsigned char t[SELFEXEC_TRAILER];

	put_le64(t, e->pload_off);
	put_le64(t + 8, e->pload_len);
	put_le64(t + 16, e->stream_off);
	memcpy(t + 24, SELFEXEC_MAGIC, 8);
	return layer_write(out, t, sizeof(t));
}

/* pload cannot run from inside the snapshot (an executable is a whole
 * file): a memfd holds a copy.  MFD_EXEC asks for an executable one where
 * vm.memfd_noexec would otherwise refuse it; older kernels do not know
 * the flag (EINVAL) and make every memfd executable. */
int selfexec_loader(int fd, const struct selfexec *e)
{
	char buf[65536];
	uint64_t done = 0;
	int m = memfd_create("pload", MFD_CLOEXEC | MFD_EXEC);

	if (m < 0 && errno == EINVAL)
		m = memfd_create("pload", MFD_CLOEXEC);
	if (m < 0)
		return err_sys(errno, "memfd_create for the loader");
	while (done < e->pload_len) {
		size_t want = e->pload_len - done < sizeof(buf) ? e->pload_len - done : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)(e->pload_off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || write(m, buf, (size_t)n) != n) {
			int err = n == 0 ? EPIPE : errno;

			close(m);
			return err_sys(err, "copying the loader out of the snapshot");
		}
		done += (uint64_t)n;
	}
	/* Above 2, where pload_spawn() expects it. */
	if (m < 3) {
		int h = fcntl(m, F_DUPFD_CLOEXEC, 3);

		close(m);
		if (h < 0)
			return err_sys(errno, "the loader's memfd");
		m = h;
	}
	return m;
}
