/* fd_inotify.c: inotify instances.  /proc/PID/fdinfo/N lists each watch:
 * its descriptor (wd), mask, and the watched inode as a file handle; the
 * handle gives the path back (open_by_handle_at(2)), by which pthaw adds
 * the watch again, with the same wd.  A watched file since removed, and
 * events queued but not read yet, are refused: neither can be made
 * again. */
#include "fdkind.h"
#include "err.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

#define INOTIFY_WATCHES_MAX 65536	/* watches of one instance in a record */
/* wds are given in increasing order (the kernel's cyclic idr): pthaw
 * reaches a wd by adding and removing a watch on a spare inode, one call
 * pair per number skipped; past this wd it refuses. */
#define INOTIFY_WD_MAX 1000000
/* What a watch may carry: the events and the flags the kernel keeps. */
#define INOTIFY_MASK_OK (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK | IN_ONLYDIR | IN_DONT_FOLLOW)

struct rec_inotify {
	uint32_t file;		/* the id of its REC_FILE (kind FD_INOTIFY) */
	uint32_t nwatches;	/* struct rec_inotify_watch + path each, in wd order */
} __attribute__((packed));

struct rec_inotify_watch {
	int32_t wd;
	uint32_t mask;		/* IN_* events and IN_ONESHOT, IN_EXCL_UNLINK */
	uint64_t dev, ino;	/* the watched inode (st_dev, st_ino) */
	uint32_t mode;		/* its st_mode */
	uint32_t path_len;	/* then the path */
} __attribute__((packed));

struct inotify_watch {
	struct rec_inotify_watch r;
	char *path;
};

struct inotify_one {
	uint32_t file;
	uint32_t n;
	struct inotify_watch *w;
};

struct inotifies {
	size_t n, cap;
	struct inotify_one *v;
};

static int inotify_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return strcmp(d->link, "anon_inode:inotify") == 0;
}

static void one_free(struct inotify_one *o)
{
	for (uint32_t i = 0; i < o->n; i++)
		free(o->w[i].path);
	free(o->w);
}

static void inotifies_free(void *data)
{
	struct inotifies *in = data;

	if (!in)
		return;
	for (size_t i = 0; i < in->n; i++)
		one_free(&in->v[i]);
	free(in->v);
	free(in);
}

/* Capture. */

/* An fd on the file system whose (kernel) device is sdev, for
 * open_by_handle_at: the process's mount of it whose root is the file
 * system's root, reached through /proc/PID/root. */
static int mount_fd(pid_t pid, unsigned long sdev)
{
	char path[64], *line = NULL, root[PATH_MAX], mnt[PATH_MAX], full[PATH_MAX + 64];
	unsigned ma, mi;
	size_t cap = 0;
	int fd = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fd < 0 && getline(&line, &cap, f) > 0) {
		/* "36 35 98:0 /root /mount/point opts ..." */
		if (sscanf(line, "%*d %*d %u:%u %4095s %4095s", &ma, &mi, root, mnt) != 4)
			continue;
		if (ma != sdev >> 20 || mi != (sdev & 0xfffff) || strcmp(root, "/"))
			continue;
		/* mountinfo escapes blanks as \040: such a mount point is
		 * skipped rather than unescaped. */
		if (strchr(mnt, '\\'))
			continue;
		snprintf(full, sizeof(full), "/proc/%d/root%s", pid, mnt);
		/* Not O_PATH: open_by_handle_at takes no O_PATH fd. */
		fd = open(full, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			fd = -errno;
	}
	free(line);
	fclose(f);
	return fd;
}

static int hexbytes(const char *s, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* The path of the watched inode, from its file handle. */
static int watch_path(pid_t pid, int fd, const char *line, unsigned long sdev,
		      struct inotify_watch *w)
{
	unsigned bytes;
	int type, mfd, hfd, n;
	const char *h = strstr(line, " f_handle:"), *b = strstr(line, " fhandle-bytes:");
	char link[64], path[PATH_MAX + 32];
	struct file_handle *fh;
	struct stat sb;

	if (!b || !h || sscanf(b, " fhandle-bytes:%x fhandle-type:%x", &bytes, &type) != 2 ||
	    bytes > MAX_HANDLE_SZ)
		return err_msg(ENOTSUP, "process %d: fd %d: inotify watch %d: no file handle in fdinfo (a kernel without CONFIG_FHANDLE?)",
			       pid, fd, w->r.wd);
	fh = calloc(1, sizeof(*fh) + bytes);
	if (!fh)
		return err_sys(ENOMEM, "inotify");
	fh->handle_bytes = bytes;
	fh->handle_type = type;
	if (hexbytes(h + 10, fh->f_handle, bytes)) {
		free(fh);
		return err_msg(EIO, "process %d: fd %d: inotify watch %d: cannot read its file handle", pid, fd, w->r.wd);
	}
	mfd = mount_fd(pid, sdev);
	if (mfd < 0) {
		free(fh);
		return err_sys(-mfd, "process %d: fd %d: inotify watch %d: no mount of its file system (device %lu:%lu)",
			       pid, fd, w->r.wd, sdev >> 20, sdev & 0xfffff);
	}
	/* Needs CAP_DAC_READ_SEARCH: the handle could name any file. */
	hfd = (int)syscall(SYS_open_by_handle_at, mfd, fh, O_PATH | O_CLOEXEC);
	n = errno;
	free(fh);
	close(mfd);
	if (hfd < 0 && n == EPERM)
		return err_msg(EPERM, "process %d: fd %d: inotify watch %d: finding the watched file's path needs CAP_DAC_READ_SEARCH (open_by_handle_at)",
			       pid, fd, w->r.wd);
	if (hfd < 0)
		return err_msg(ENOTSUP, "process %d: fd %d: inotify watch %d on inode %llu: the watched file was removed (%s): cannot be watched again",
			       pid, fd, w->r.wd, (unsigned long long)w->r.ino, n == ESTALE ? "its handle is stale" : strerror(n));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", hfd);
	n = (int)readlink(link, path, sizeof(path) - 1);
	if (n >= 0)
		path[n] = '\0';
	if (n < 0 || fstat(hfd, &sb) < 0) {
		n = errno;
		close(hfd);
		return err_sys(n, "process %d: fd %d: inotify watch %d", pid, fd, w->r.wd);
	}
	close(hfd);
	if (sb.st_nlink == 0 || path[0] != '/' || (n > 10 && strcmp(path + n - 10, " (deleted)") == 0))
		return err_msg(ENOTSUP, "process %d: fd %d: inotify watch %d on %s: the watched file was removed: cannot be watched again",
			       pid, fd, w->r.wd, path);
	/* The path must lead to that inode now, as pthaw will follow it. */
	if (lstat(path, &sb) < 0 || sb.st_ino != w->r.ino || major(sb.st_dev) != sdev >> 20 ||
	    minor(sb.st_dev) != (sdev & 0xfffff))
		return err_msg(ENOTSUP, "process %d: fd %d: inotify watch %d: %s no longer leads to the watched file",
			       pid, fd, w->r.wd, path);
	w->r.dev = sb.st_dev;
	w->r.mode = sb.st_mode;
	w->r.path_len = (uint32_t)n;
	w->path = strdup(path);
	return w->path ? 0 : err_sys(ENOMEM, "inotify");
}

static int by_wd(const void *a, const void *b)
{
	const struct inotify_watch *x = a, *y = b;

	return (x->r.wd > y->r.wd) - (x->r.wd < y->r.wd);
}

static int one_capture(pid_t pid, int pidfd, const struct snap_file *f, struct inotify_one *o)
{
	char path[64], *line = NULL;
	size_t cap = 0, wcap = 0;
	int fd = f->first_fd, rc = 0, s, queued = 0;
	FILE *in;

	o->file = f->r.id;
	/* Events queued and not read yet cannot be put back into a new
	 * instance (nothing queues an event but the kernel): refused, not
	 * dropped, as a program would miss the change they tell of.
	 * FIONREAD through pfrez's own reference (pidfd_getfd) reads the
	 * queue's size without reading it. */
	s = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (s < 0)
		return err_sys(errno, "process %d: fd %d: inotify: pidfd_getfd", pid, fd);
	if (ioctl(s, FIONREAD, &queued) < 0)
		queued = -1;
	close(s);
	if (queued)
		return err_msg(ENOTSUP, "process %d: fd %d: inotify: %d bytes of events are queued unread: cannot be restored (capture again once the process has read them)",
			       pid, fd, queued);
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	in = fopen(path, "re");
	if (!in)
		return err_sys(errno, "%s", path);
	while (!rc && getline(&line, &cap, in) > 0) {
		struct inotify_watch *w;
		unsigned long long ino;
		unsigned long sdev;
		unsigned mask;
		int wd;

		if (strncmp(line, "inotify ", 8))
			continue;
		if (sscanf(line, "inotify wd:%d ino:%llx sdev:%lx mask:%x", &wd, &ino, &sdev, &mask) != 4) {
			rc = err_msg(EIO, "%s: cannot read \"%.*s\"", path, (int)strcspn(line, "\n"), line);
			break;
		}
		if (o->n == INOTIFY_WATCHES_MAX) {
			rc = err_msg(ENOTSUP, "process %d: fd %d: inotify: more than %d watches", pid, fd,
				     INOTIFY_WATCHES_MAX);
			break;
		}
		if (wd <= 0 || wd > INOTIFY_WD_MAX) {
			rc = err_msg(ENOTSUP, "process %d: fd %d: inotify watch %d: a restore can give back wds up to %d only",
				     pid, fd, wd, INOTIFY_WD_MAX);
			break;
		}
		if (snap_grow((void **)&o->w, &wcap, o->n, sizeof(*o->w))) {
			rc = err_sys(ENOMEM, "inotify");
			break;
		}
		w = &o->w[o->n++];
		memset(w, 0, sizeof(*w));
		w->r.wd = wd;
		w->r.mask = mask & INOTIFY_MASK_OK;
		w->r.ino = ino;
		rc = watch_path(pid, fd, line, sdev, w);
	}
	free(line);
	fclose(in);
	if (!rc && o->n)
		qsort(o->w, o->n, sizeof(*o->w), by_wd);
	return rc;
}

static int inotify_capture(struct kind_capture *c, void **data)
{
	struct inotifies *in = NULL;
	int pidfd = -1, rc = 0;

	for (size_t i = 0; !rc && i < c->snap->nfiles; i++) {
		const struct snap_file *f = &c->snap->files[i];

		if (f->r.kind != FD_INOTIFY)
			continue;
		if (!in && !(in = calloc(1, sizeof(*in))))
			return err_sys(ENOMEM, "inotify");
		if (pidfd < 0 && (pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0)) < 0)
			rc = err_sys(errno, "process %d: pidfd_open", c->pid);
		if (!rc && snap_grow((void **)&in->v, &in->cap, in->n, sizeof(*in->v)))
			rc = err_sys(ENOMEM, "inotify");
		if (!rc) {
			memset(&in->v[in->n], 0, sizeof(in->v[0]));
			rc = one_capture(c->pid, pidfd, f, &in->v[in->n++]);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	if (rc) {
		inotifies_free(in);
		return rc;
	}
	*data = in;
	return 0;
}

static int inotify_write(const void *data, struct rec_writer *w)
{
	const struct inotifies *in = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < in->n; i++) {
		const struct inotify_one *o = &in->v[i];
		struct rec_inotify h = { .file = o->file, .nwatches = o->n };
		size_t len = 0, off = 0;
		unsigned char *body;

		for (uint32_t k = 0; k < o->n; k++)
			len += sizeof(o->w[k].r) + o->w[k].r.path_len;
		body = malloc(len ? len : 1);
		if (!body)
			return err_sys(ENOMEM, "inotify");
		for (uint32_t k = 0; k < o->n; k++) {
			memcpy(body + off, &o->w[k].r, sizeof(o->w[k].r));
			memcpy(body + off + sizeof(o->w[k].r), o->w[k].path, o->w[k].r.path_len);
			off += sizeof(o->w[k].r) + o->w[k].r.path_len;
		}
		rc = rec_write(w, REC_INOTIFY, &h, sizeof(h), body, len);
		free(body);
	}
	return rc;
}

static int bad(uint32_t file, const char *why)
{
	return err_msg(EBADMSG, "inotify record (file %u): %s", file, why);
}

static int inotify_take(void **data, const unsigned char *p, size_t len)
{
	struct inotifies *in = *data;
	struct inotify_one o = { 0 };
	struct rec_inotify h;
	size_t off = sizeof(h);
	int rc = 0;

	if (len < sizeof(h))
		return err_msg(EBADMSG, "inotify record: %zu bytes, too short", len);
	memcpy(&h, p, sizeof(h));
	if (h.nwatches > INOTIFY_WATCHES_MAX)
		return bad(h.file, "too many watches");
	o.file = h.file;
	if (h.nwatches && !(o.w = calloc(h.nwatches, sizeof(*o.w))))
		return err_sys(ENOMEM, "inotify");
	for (uint32_t k = 0; !rc && k < h.nwatches; k++) {
		struct inotify_watch *w = &o.w[k];

		if (len - off < sizeof(w->r)) {
			rc = bad(h.file, "watches cut short");
			break;
		}
		memcpy(&w->r, p + off, sizeof(w->r));
		off += sizeof(w->r);
		if (w->r.wd <= 0 || w->r.wd > INOTIFY_WD_MAX || (k && w->r.wd <= o.w[k - 1].r.wd) ||
		    (w->r.mask & ~(uint32_t)INOTIFY_MASK_OK) || !w->r.path_len || w->r.path_len >= SNAP_PATH_MAX) {
			rc = bad(h.file, "a malformed watch");
			break;
		}
		w->path = snap_take_str(p, len, &off, w->r.path_len);
		if (!w->path || w->path[0] != '/')
			rc = bad(h.file, "a malformed path");
		o.n = k + 1;
	}
	if (!rc && off != len)
		rc = bad(h.file, "bytes left over");
	if (!rc && !in && !(in = *data = calloc(1, sizeof(*in))))
		rc = err_sys(ENOMEM, "inotify");
	if (!rc && snap_grow((void **)&in->v, &in->cap, in->n, sizeof(*in->v)))
		rc = err_sys(ENOMEM, "inotify");
	if (rc) {
		one_free(&o);
		return rc;
	}
	in->v[in->n++] = o;
	return 0;
}

static const struct inotify_one *one_by_file(const struct inotifies *in, uint32_t file)
{
	for (size_t i = 0; in && i < in->n; i++)
		if (in->v[i].file == file)
			return &in->v[i];
	return NULL;
}

static int inotify_verify(const struct snap *s, const void *data)
{
	const struct inotifies *in = data;

	for (size_t i = 0; i < in->n; i++) {
		uint32_t f = in->v[i].file;

		if (f >= s->nfiles || s->files[f].r.kind != FD_INOTIFY)
			return bad(f, "not an inotify instance's file");
		if (one_by_file(in, f) != &in->v[i])
			return bad(f, "a second record for one instance");
	}
	return 0;
}

/* Before any page: each watched path leads to a file of the same type
 * (on the same host, to the very inode). */
static int inotify_check(struct kind_check *c, const void *data)
{
	const struct inotifies *in = data;
	char e[4 * SNAP_PATH_MAX + 1];
	int rc = 0;

	for (size_t i = 0; i < in->n; i++) {
		for (uint32_t k = 0; k < in->v[i].n; k++) {
			const struct inotify_watch *w = &in->v[i].w[k];
			struct stat sb;
			int bad_one;

			bad_one = lstat(w->path, &sb) < 0 ? errno : 0;
			if (!bad_one && ((sb.st_mode ^ w->r.mode) & S_IFMT))
				bad_one = ESTALE;
			if (!bad_one && c->same_host && (sb.st_ino != w->r.ino || sb.st_dev != w->r.dev))
				bad_one = ESTALE;
			if (!bad_one)
				continue;
			err_escape(e, sizeof(e), w->path, strlen(w->path));
			rc = kind_problem(c, err_msg(bad_one, "inotify watch %d: %s: %s", w->r.wd, e,
						     bad_one == ESTALE ? "not the file the process watched" :
						     strerror(bad_one)));
			if (!c->out)
				return rc;
		}
	}
	return rc;
}

/* Restore. */

static long pcall(struct kind_restore *r, long nr, long a0, long a1, long a2, const void *data,
		  size_t len)
{
	return pload_call(r->pl, nr, a0, a1, a2, 0, 0, 0, data, len);
}

/* A file no watch is on, for moving the wd counter on. */
static const char *spare_path(const struct inotify_one *o)
{
	static const char *const cand[] = { "/", "/dev/null", "/proc", "/dev" };
	struct stat sb;

	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++) {
		uint32_t k;

		if (lstat(cand[i], &sb) < 0)
			continue;
		for (k = 0; k < o->n && !(o->w[k].r.ino == sb.st_ino && o->w[k].r.dev == sb.st_dev); k++)
			;
		if (k == o->n)
			return cand[i];
	}
	return NULL;
}

/* The kernel gives wds one above the last given (cyclic, never reusing
 * one at once): a watch added and removed on a spare file moves the count
 * on by one.  Each removal queues an IN_IGNORED event, read away at the
 * end; a real event in that moment is read away with them. */
static long inotify_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct inotify_one *o = one_by_file(s->kind[KIND_INOTIFY], f->r.id);
	const char *spare = NULL;
	int fd = f->first_fd, next = 1, skipped = 0;
	long t, ret = 0;
	char buf[4096];

	if (!o)
		return err_msg(EBADMSG, "fd %d: an inotify instance without its inotify record", fd);
	t = pcall(r, SYS_inotify_init1, IN_CLOEXEC | IN_NONBLOCK, 0, 0, NULL, 0);
	if (t < 0)
		return err_sys((int)-t, "fd %d: inotify_init1", fd);
	for (uint32_t k = 0; !ret && k < o->n; k++) {
		const struct inotify_watch *w = &o->w[k];
		char e[4 * SNAP_PATH_MAX + 1];

		while (!ret && next < w->r.wd) {
			if (!spare && !(spare = spare_path(o))) {
				ret = err_msg(ENOENT, "fd %d: inotify: no spare file to give wd %d back with", fd, w->r.wd);
				break;
			}
			ret = pcall(r, SYS_inotify_add_watch, t, (long)r->pl->hello.scratch, IN_ATTRIB,
				    spare, strlen(spare) + 1);
			if (ret >= 0 && ret != next)
				ret = err_msg(EIO, "fd %d: inotify: wd %ld came where %d was expected", fd, ret, next);
			else if (ret >= 0)
				ret = pcall(r, SYS_inotify_rm_watch, t, next, 0, NULL, 0);
			else
				ret = err_sys((int)-ret, "fd %d: inotify: %s", fd, spare);
			next++;
			skipped = 1;
		}
		if (ret)
			break;
		/* IN_MASK_CREATE: a path that leads to an inode watched
		 * already fails instead of changing that watch. */
		ret = pcall(r, SYS_inotify_add_watch, t, (long)r->pl->hello.scratch,
			    w->r.mask | IN_DONT_FOLLOW | IN_MASK_CREATE, w->path, w->r.path_len + 1);
		err_escape(e, sizeof(e), w->path, w->r.path_len);
		if (ret < 0)
			ret = err_sys((int)-ret, "fd %d: inotify watch %d: %s", fd, w->r.wd, e);
		else if (ret != w->r.wd)
			ret = err_msg(EIO, "fd %d: inotify watch %d: %s got wd %ld", fd, w->r.wd, e, ret);
		else
			ret = 0;
		next = w->r.wd + 1;
	}
	while (!ret && skipped && pcall(r, SYS_read, t, (long)r->pl->hello.scratch, sizeof(buf), NULL, 0) > 0)
		;
	if (!ret && !(f->r.flags & O_NONBLOCK)) {
		ret = pcall(r, SYS_fcntl, t, F_SETFL, 0, NULL, 0);
		if (ret < 0)
			ret = err_sys((int)-ret, "fd %d: inotify: F_SETFL", fd);
	}
	if (ret < 0) {
		pcall(r, SYS_close, t, 0, 0, NULL, 0);
		return ret;
	}
	return t;
}

/* Each instance's file has its record (fd_kind_ops.verify), before any
 * page. */
static int inotify_file_verify(const struct snap *s, const struct snap_file *f)
{
	if (!one_by_file(s->kind[KIND_INOTIFY], f->r.id))
		return err_msg(EBADMSG, "file %u: an inotify instance without its inotify record", f->r.id);
	return 0;
}

const struct fd_kind_ops fd_kind_inotify = {
	.kind = FD_INOTIFY,
	.name = "inotify",
	.claim = inotify_claim,
	.verify = inotify_file_verify,
	.open = inotify_open,
};

/* Printing. */

static void inotify_print(FILE *f, const void *data)
{
	const struct inotifies *in = data;
	char e[4 * SNAP_PATH_MAX + 1];

	fprintf(f, "Inotify watches:\n");
	for (size_t i = 0; i < in->n; i++) {
		fprintf(f, "  file %u: %u watches\n", in->v[i].file, in->v[i].n);
		for (uint32_t k = 0; k < in->v[i].n; k++) {
			const struct inotify_watch *w = &in->v[i].w[k];

			err_escape(e, sizeof(e), w->path, w->r.path_len);
			fprintf(f, "    wd %d: \"%s\", mask %#x, inode %llu\n", w->r.wd, e, w->r.mask,
				(unsigned long long)w->r.ino);
		}
	}
}

static void inotify_print_json(struct json *j, const void *data)
{
	const struct inotifies *in = data;

	json_array_begin(j, "instances");
	for (size_t i = 0; i < in->n; i++) {
		json_object_begin(j, NULL);
		json_uint(j, "file", in->v[i].file);
		json_array_begin(j, "watches");
		for (uint32_t k = 0; k < in->v[i].n; k++) {
			const struct inotify_watch *w = &in->v[i].w[k];

			json_object_begin(j, NULL);
			json_int(j, "wd", w->r.wd);
			json_str(j, "path", w->path);
			json_hex(j, "mask", w->r.mask);
			json_uint(j, "ino", w->r.ino);
			json_object_end(j);
		}
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

/* The watches; the fd kind above restores them with the fds
 * (KIND_STAGE_FILES), from these records. */
const struct kind_ops kind_inotify = {
	.name = "inotify",
	.type = REC_INOTIFY,
	.flags = KIND_MANY,
	.capture = inotify_capture,
	.write = inotify_write,
	.take = inotify_take,
	.verify = inotify_verify,
	.check = inotify_check,
	.print = inotify_print,
	.print_json = inotify_print_json,
	.free = inotifies_free,
};
