/* locks.c: the file locks a process holds, held again by the copy: flock
 * locks, POSIX record locks (fcntl F_SETLK), open file description locks
 * (F_OFD_SETLK) and leases (F_SETLEASE).  The kernel lists them in
 * /proc/PID/fdinfo/N; the copy takes them again on its reopened fds. */
#include "files.h"
#include "kind.h"
#include "err.h"
#include "json.h"
#include "inject.h"
#include "layer.h"
#include "pload_ctl.h"
#include "prefetch.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Locks in one record: a bound for pthaw's memory, far above what a
 * process holds (each costs the kernel a struct file_lock). */
#define LOCKS_MAX	65536
/* The end of a lock that runs to the end of the file, whatever its size. */
#define LOCK_EOF	UINT64_MAX
/* How long pthaw waits for another holder to let go of a lock: after
 * `pfrez -halt | pthaw` the original still holds its locks until pfrez
 * has flushed the stream and ended it, which is a matter of moments. */
#define LOCKS_WAIT_MS	5000

enum lock_class {
	LOCK_FLOCK = 1,		/* flock(2): of the open file description */
	LOCK_POSIX = 2,		/* F_SETLK: of the process, on the file */
	LOCK_OFD = 3,		/* F_OFD_SETLK: of the open file description */
	LOCK_LEASE = 4,		/* F_SETLEASE: of the open file description */
};

struct rec_lock {
	int32_t fd;		/* a FD_FILE fd of the snapshot */
	uint32_t class;		/* enum lock_class */
	uint32_t write;		/* 1 exclusive (WRITE), 0 shared (READ) */
	uint32_t sig;		/* leases: F_GETSIG, 0 for SIGIO */
	uint64_t start;		/* POSIX, OFD: first byte; else 0 */
	uint64_t end;		/* POSIX, OFD: last byte or LOCK_EOF; else LOCK_EOF */
} __attribute__((packed));

struct rec_locks {
	uint32_t n;
	uint32_t pad;
	/* then n struct rec_lock */
} __attribute__((packed));

/* Which file a lock is on, as fdinfo and /proc/locks name it (pfrez
 * only: dedup and the /proc/locks check). */
struct lock_file {
	unsigned maj, min;
	unsigned long ino;
};

struct locks {
	uint32_t n, cap;
	struct rec_lock *v;
	struct lock_file *file;		/* capture only */
};

static const char *const class_names[] = {
	[LOCK_FLOCK] = "flock", [LOCK_POSIX] = "POSIX", [LOCK_OFD] = "OFD", [LOCK_LEASE] = "lease",
};

/* One "lock:" line of fdinfo, as /proc/locks prints it. */
struct lock_line {
	struct rec_lock r;
	int pid;
	struct lock_file file;
	char what[16], mode[16];	/* FLOCK ADVISORY, LEASE ACTIVE, ... */
};

static int locks_add(struct locks *l, const struct lock_line *k)
{
	if (l->n == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 8;
		struct rec_lock *v = realloc(l->v, cap * sizeof(*v));
		struct lock_file *file = v ? realloc(l->file, cap * sizeof(*file)) : NULL;

		if (v)
			l->v = v;
		if (!file)
			return err_sys(ENOMEM, "locks");
		l->file = file;
		l->cap = cap;
	}
	l->file[l->n] = k->file;
	l->v[l->n++] = k->r;
	return 0;
}

/* "1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 100 199" (after "lock:\t");
 * an OFD lock's pid is -1, a flock's or lease's range is "0 EOF". */
static int parse_line(const char *s, struct lock_line *k)
{
	char type[16], end[24];
	long long start;

	memset(k, 0, sizeof(*k));
	if (strstr(s, "->") ||
	    sscanf(s, "%*d: %15s %15s %15s %d %x:%x:%lu %lld %23s", k->what, k->mode, type, &k->pid,
		   &k->file.maj, &k->file.min, &k->file.ino, &start, end) != 9 || start < 0)
		return -1;
	if (!strcmp(type, "WRITE"))
		k->r.write = 1;
	else if (strcmp(type, "READ"))
		return -1;
	k->r.start = (uint64_t)start;
	if (!strcmp(end, "EOF"))
		k->r.end = LOCK_EOF;
	else if (sscanf(end, "%llu", (unsigned long long *)&k->r.end) != 1 || k->r.end < k->r.start)
		return -1;
	if (!strcmp(k->what, "FLOCK"))
		k->r.class = LOCK_FLOCK;
	else if (!strcmp(k->what, "POSIX"))
		k->r.class = LOCK_POSIX;
	else if (!strcmp(k->what, "OFDLCK"))
		k->r.class = LOCK_OFD;
	else if (!strcmp(k->what, "LEASE"))
		k->r.class = LOCK_LEASE;
	return 0;
}

static int same_lock(const struct locks *l, uint32_t i, const struct lock_line *k)
{
	const struct rec_lock *a = &l->v[i];

	return a->class == k->r.class && a->write == k->r.write && a->start == k->r.start &&
	       a->end == k->r.end && l->file[i].ino == k->file.ino &&
	       l->file[i].maj == k->file.maj && l->file[i].min == k->file.min;
}

/* An fd of the table with what its open file description is. */
struct fd_ref {
	struct { int32_t fd; uint32_t kind; } r;
	const char *path;
	uint32_t file;		/* its open file description's id */
};

static const struct fd_ref *fd_ref_at(const struct snap *s, size_t i, struct fd_ref *f)
{
	const struct snap_file *o = &s->files[s->fds[i].file];

	f->r.fd = s->fds[i].fd;
	f->r.kind = o->r.kind;
	f->path = o->path;
	f->file = s->fds[i].file;
	return f;
}

static const struct fd_ref *snap_fd_of(const struct snap *s, int fd, struct fd_ref *buf)
{
	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].fd == fd)
			return fd_ref_at(s, i, buf);
	return NULL;
}

/* Whether k (on fd f) was recorded already: the kernel lists a lock on
 * every fd of the open file description it was taken through, so fds
 * that share one (dup) list it each.  files.c found which fds share one
 * (kcmp) when it captured the fd table: same file id, same description. */
static int seen_before(struct kind_capture *c, const struct locks *l, const struct fd_ref *f,
		       const struct lock_line *k)
{
	for (uint32_t i = 0; i < l->n; i++) {
		struct fd_ref o;

		if (same_lock(l, i, k) && snap_fd_of(c->snap, l->v[i].fd, &o) && o.file == f->file)
			return 1;
	}
	return 0;
}

static int refuse(struct kind_capture *c, const struct fd_ref *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct kind_capture *c, const struct fd_ref *f, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return err_msg(ENOTSUP, "process %d: fd %d (%s): %s", c->pid, f->r.fd, f->path, why);
}

/* What cannot be taken again exactly is refused by name. */
static int check_line(struct kind_capture *c, const struct fd_ref *f, const struct lock_line *k)
{
	if (!k->r.class)
		return refuse(c, f, "it holds a lock of a kind pthaw cannot take again (%s)", k->what);
	if (!strcmp(k->mode, "MANDATORY"))
		return refuse(c, f, "its %s lock is mandatory, which cannot be restored", class_names[k->r.class]);
	if (k->r.class == LOCK_LEASE && strcmp(k->mode, "ACTIVE"))
		return refuse(c, f, "its lease is being broken (%s): a break in progress cannot be restored",
			      k->mode);
	if (f->r.kind != FD_FILE)
		return refuse(c, f, "it holds a %s lock, but only the locks of a regular file reopened by path can be restored",
			      class_names[k->r.class]);
	if (k->r.class == LOCK_POSIX && k->pid != c->pid)
		return refuse(c, f, "its POSIX lock belongs to process %d, which shares the fd table: not supported yet",
			      k->pid);
	if ((k->r.class == LOCK_FLOCK || k->r.class == LOCK_LEASE) && k->pid != c->pid)
		return refuse(c, f, "its %s was taken by process %d, which may share the open file description: not supported yet",
			      k->r.class == LOCK_FLOCK ? "flock lock" : "lease", k->pid);
	return 0;
}

static int fd_locks(struct kind_capture *c, struct locks *l, const struct fd_ref *f)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *in;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", c->pid, f->r.fd);
	in = fopen(path, "re");
	if (!in)
		return err_sys(errno, "%s", path);
	while (!rc && getline(&line, &cap, in) > 0) {
		struct lock_line k;
		long sig = 0;

		if (strncmp(line, "lock:", 5))
			continue;
		if (parse_line(line + 5, &k) < 0) {
			rc = err_msg(EINVAL, "%s: cannot read \"%.*s\"", path, (int)strcspn(line, "\n"), line);
			break;
		}
		rc = check_line(c, f, &k);
		if (!rc)
			rc = seen_before(c, l, f, &k);
		if (rc) {
			rc = rc > 0 ? 0 : rc;
			continue;
		}
		if (k.r.class == LOCK_LEASE) {
			/* Who is told when the lease breaks: the signal lives in
			 * the open file description, not in fdinfo. */
			rc = inject_query(c->inj, SYS_fcntl, (long[6]){ f->r.fd, F_GETSIG }, &sig);
			if (!rc && (sig < 0 || sig > 64))
				rc = err_msg(EIO, "process %d: fd %d: F_GETSIG returned %ld", c->pid, f->r.fd, sig);
			k.r.sig = (uint32_t)sig;
		}
		k.r.fd = f->r.fd;
		if (!rc && l->n == LOCKS_MAX)
			rc = err_msg(ENOTSUP, "process %d: more than %d file locks", c->pid, LOCKS_MAX);
		if (!rc)
			rc = locks_add(l, &k);
	}
	free(line);
	fclose(in);
	return rc;
}

/* fdinfo lists a POSIX lock on the fds of the open file description it
 * was taken through, when its owner is this process's fd table.  One
 * with this pid that no fd listed (taken before the table was unshared,
 * or with an fd since given to another table) is found in /proc/locks,
 * and refused: the copy has nothing to take it through.  Not again: 1
 * for one found, which the caller looks for again. */
static int posix_unlisted(struct kind_capture *c, const struct locks *l, int again)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *in = proc_prefetch_open(c->pre, "/proc/locks");
	int rc = 0;

	if (!in)
		return err_sys(errno, "/proc/locks");
	while (!rc && getline(&line, &cap, in) > 0) {
		struct lock_line k;
		uint32_t i;

		if (parse_line(line, &k) < 0 || k.r.class != LOCK_POSIX || k.pid != c->pid)
			continue;
		for (i = 0; i < l->n && !same_lock(l, i, &k); i++)
			;
		if (i == l->n && !again)
			rc = 1;
		else if (i == l->n)
			rc = err_msg(ENOTSUP, "process %d: it holds a POSIX lock on file %02x:%02x:%lu through no fd of its own: cannot be restored",
				     c->pid, k.file.maj, k.file.min, k.file.ino);
	}
	free(line);
	fclose(in);
	return rc;
}

static void locks_free(void *data)
{
	struct locks *l = data;

	free(l->v);
	free(l->file);
	free(l);
}

static int locks_capture(struct kind_capture *c, void **data)
{
	struct locks *l = calloc(1, sizeof(*l));
	int rc = 0;

	if (!l)
		return err_sys(ENOMEM, "locks");
	for (size_t i = 0; !rc && i < c->snap->nfds; i++) {
		struct fd_ref fr;

		rc = fd_locks(c, l, fd_ref_at(c->snap, i, &fr));
	}
	/* Read before the hold (capture_read_ahead()), /proc/locks may still
	 * show a lock the process has let go of since (close): a lock no fd
	 * lists is looked for again in /proc/locks as it is now. */
	if (!rc && (rc = posix_unlisted(c, l, 0)) > 0)
		rc = posix_unlisted(c, l, 1);
	if (rc || !l->n) {
		locks_free(l);
		return rc;
	}
	*data = l;
	return 0;
}

static int locks_write(const void *data, struct rec_writer *w)
{
	const struct locks *l = data;
	struct rec_locks h = { .n = l->n };

	return rec_write(w, REC_LOCKS, &h, sizeof(h), l->v, l->n * sizeof(*l->v));
}

static int lock_check(const struct rec_lock *k)
{
	if (k->fd < 0 || k->fd >= SNAP_FD_MAX || k->class < LOCK_FLOCK || k->class > LOCK_LEASE ||
	    k->write > 1 || k->sig > 64 || (k->sig && k->class != LOCK_LEASE))
		return -1;
	if (k->class == LOCK_POSIX || k->class == LOCK_OFD)
		return k->start > INT64_MAX || k->end < k->start ||
		       (k->end != LOCK_EOF && k->end > INT64_MAX) ? -1 : 0;
	return k->start == 0 && k->end == LOCK_EOF ? 0 : -1;
}

static int locks_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_locks h;
	struct locks *l;

	if (len < sizeof(h))
		return err_msg(EBADMSG, "locks record: %zu bytes, too short", len);
	memcpy(&h, p, sizeof(h));
	if (h.pad || h.n == 0 || h.n > LOCKS_MAX)
		return err_msg(EBADMSG, "locks record: %u locks (1 to %d)", h.n, LOCKS_MAX);
	if (len != sizeof(h) + (size_t)h.n * sizeof(struct rec_lock))
		return err_msg(EBADMSG, "locks record: %zu bytes for %u locks", len, h.n);
	l = calloc(1, sizeof(*l));
	if (!l || !(l->v = malloc(h.n * sizeof(*l->v)))) {
		free(l);
		return err_sys(ENOMEM, "locks");
	}
	memcpy(l->v, p + sizeof(h), h.n * sizeof(*l->v));
	l->n = l->cap = h.n;
	for (uint32_t i = 0; i < l->n; i++) {
		if (lock_check(&l->v[i])) {
			free(l->v);
			free(l);
			return err_msg(EBADMSG, "locks record: lock %u is malformed", i);
		}
	}
	*data = l;
	return 0;
}

static long lock_take(struct kind_restore *r, const struct rec_lock *k)
{
	struct flock fl = {
		.l_type = k->write ? F_WRLCK : F_RDLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)k->start,
		/* 0 runs to the end of the file, as the file grows. */
		.l_len = k->end == LOCK_EOF ? 0 : (off_t)(k->end - k->start + 1),
	};
	long ret;

	switch (k->class) {
	case LOCK_FLOCK:
		return pload_call(r->pl, SYS_flock, k->fd, (k->write ? LOCK_EX : LOCK_SH) | LOCK_NB,
				  0, 0, 0, 0, NULL, 0);
	case LOCK_POSIX:
	case LOCK_OFD:
		return pload_call(r->pl, SYS_fcntl, k->fd, k->class == LOCK_OFD ? F_OFD_SETLK : F_SETLK,
				  (long)r->pl->hello.scratch, 0, 0, 0, &fl, sizeof(fl));
	default:
		/* The signal first: F_SETLEASE makes the process the file's
		 * owner for it, and a break is told with this signal. */
		ret = pload_call(r->pl, SYS_fcntl, k->fd, F_SETSIG, k->sig, 0, 0, 0, NULL, 0);
		if (ret < 0)
			return ret;
		/* A lease needs the file's owner or CAP_LEASE: pload still
		 * has pthaw's credentials, the process's come later. */
		return pload_call(r->pl, SYS_fcntl, k->fd, F_SETLEASE, k->write ? F_WRLCK : F_RDLCK,
				  0, 0, 0, NULL, 0);
	}
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* At KIND_STAGE_FILES: every fd is reopened at its number.  A lock another
 * process holds is waited for, a few seconds at most: after
 * `pfrez -halt | pthaw` that is the original, about to be ended.  A copy
 * of a process that goes on running can never take them: refused. */
static int locks_restore(struct kind_restore *r, const void *data)
{
	const struct locks *l = data;
	struct timespec t0;
	int waiting = 0;

	for (uint32_t i = 0; i < l->n; i++) {
		const struct rec_lock *k = &l->v[i];
		struct fd_ref fr;
		const struct fd_ref *f = snap_fd_of(r->snap, k->fd, &fr);
		long ret, delay = 10;

		if (!f || f->r.kind != FD_FILE)
			return err_msg(EBADMSG, "locks record: fd %d is not a file of the snapshot", k->fd);
		while ((ret = lock_take(r, k)) == -EAGAIN) {
			if (!waiting) {
				/* From a pipe, the rest of the stream is read
				 * ahead (layer_spool.c), for pfrez to finish
				 * it and end the original: the seconds count
				 * from its end. */
				if ((ret = layer_spool_input()) < 0)
					return (int)ret;
				clock_gettime(CLOCK_MONOTONIC, &t0);
				waiting = 1;
			}
			if (!layer_spool_ended())
				clock_gettime(CLOCK_MONOTONIC, &t0);
			if (elapsed_ms(&t0) >= LOCKS_WAIT_MS)
				break;
			nanosleep(&(struct timespec){ 0, delay * 1000000 }, NULL);
			delay = delay < 200 ? delay * 2 : delay;
		}
		if (ret == -EAGAIN)
			return err_msg(EAGAIN, "%s lock on fd %d (%s) is held by another process (waited %d s): a copy cannot take the locks of a process that still runs",
				       class_names[k->class], k->fd, f->path, LOCKS_WAIT_MS / 1000);
		if (ret < 0)
			return err_sys((int)-ret, "taking the %s lock on fd %d (%s) again",
				       class_names[k->class], k->fd, f->path);
	}
	return 0;
}

static void locks_print(FILE *f, const void *data)
{
	const struct locks *l = data;

	fprintf(f, "File locks:\n");
	for (uint32_t i = 0; i < l->n; i++) {
		const struct rec_lock *k = &l->v[i];

		fprintf(f, "  fd %d: %s %s", k->fd, class_names[k->class], k->write ? "write" : "read");
		if (k->class == LOCK_POSIX || k->class == LOCK_OFD) {
			fprintf(f, ", bytes %llu..", (unsigned long long)k->start);
			if (k->end == LOCK_EOF)
				fprintf(f, "EOF");
			else
				fprintf(f, "%llu", (unsigned long long)k->end);
		}
		if (k->class == LOCK_LEASE)
			fprintf(f, ", break signal %u", k->sig);
		fprintf(f, "\n");
	}
}

static void locks_print_json(struct json *j, const void *data)
{
	const struct locks *l = data;

	json_array_begin(j, "locks");
	for (uint32_t i = 0; i < l->n; i++) {
		const struct rec_lock *k = &l->v[i];

		json_object_begin(j, NULL);
		json_int(j, "fd", k->fd);
		json_str(j, "class", class_names[k->class]);
		json_str(j, "type", k->write ? "write" : "read");
		if (k->class == LOCK_POSIX || k->class == LOCK_OFD) {
			json_uint(j, "start", k->start);
			if (k->end == LOCK_EOF)
				json_str(j, "end", "EOF");
			else
				json_uint(j, "end", k->end);
		}
		if (k->class == LOCK_LEASE)
			json_uint(j, "break_signal", k->sig);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_locks = {
	.name = "locks",
	.type = REC_LOCKS,
	.flags = KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_FILES),
	.capture = locks_capture,
	.write = locks_write,
	.take = locks_take,
	.restore = locks_restore,
	.print = locks_print,
	.print_json = locks_print_json,
	.free = locks_free,
};
