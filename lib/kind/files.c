/* files.c: the fd table and its open file descriptions: captured from
 * /proc (sharing found with kcmp), encoded, decoded and checked, restored
 * through pload, printed. */
#include "files.h"
#include "err.h"
#include "fdkind.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "proc.h"
#include "reopen.h"
#include "snap.h"
#include "treeshare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

void file_ident(struct rec_ident *id, const struct stat *sb)
{
	memset(id, 0, sizeof(*id));
	id->dev = sb->st_dev;
	id->ino = sb->st_ino;
	id->mode = sb->st_mode;
	if (S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode))
		id->rdev = sb->st_rdev;
	if (S_ISREG(sb->st_mode)) {
		id->size = (uint64_t)sb->st_size;
		id->mtime_sec = sb->st_mtim.tv_sec;
		id->mtime_nsec = (uint32_t)sb->st_mtim.tv_nsec;
	}
}

/* pthaw reopens what the process holds by its name, following no symbolic
 * link: that name must lead, here and now, to the very file the process
 * holds, or the snapshot could not be restored (and with -halt the
 * process would be lost). */
int files_by_name(uint32_t kind)
{
	return kind == FD_FILE || kind == FD_DIR || kind == FD_DEV;
}

int file_reopenable(pid_t pid, const char *what, const char *path, const struct stat *held)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	struct stat sb;
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	int e = errno;

	if (fd < 0)
		return err_msg(ENOTSUP, "process %d: %s (%s): %s, so a restore could not reopen it",
			       pid, what, path,
			       e == ELOOP ? "a symbolic link is on its path" :
			       e == ENOENT ? "its name leads nowhere (another mount namespace?)" : strerror(e));
	if (fstat((int)fd, &sb) < 0)
		e = errno;
	close((int)fd);
	if (sb.st_dev != held->st_dev || sb.st_ino != held->st_ino)
		return err_msg(ENOTSUP, "process %d: %s (%s): its name leads to another file (another mount namespace?), so a restore could not reopen it",
			       pid, what, path);
	return 0;
}

int files_add(struct snap *s, const struct rec_file *r, const char *path)
{
	struct snap_file *f;

	if (r->id != s->nfiles)
		return err_msg(EBADMSG, "file %u: ids out of order (%zu expected)", r->id, s->nfiles);
	if (s->nfiles >= SNAP_FD_MAX)
		return err_msg(E2BIG, "more than %d open files", SNAP_FD_MAX);
	if (strlen(path) >= SNAP_PATH_MAX)
		return err_msg(ENAMETOOLONG, "file %u: path longer than %d bytes", r->id, SNAP_PATH_MAX - 1);
	if (snap_grow((void **)&s->files, &s->files_cap, s->nfiles, sizeof(*f)))
		return err_sys(ENOMEM, "file list");
	f = s->files + s->nfiles;
	f->r = *r;
	f->r.path_len = (uint32_t)strlen(path);
	f->nrefs = 0;
	f->first_fd = -1;
	f->path = strdup(path);
	if (!f->path)
		return err_sys(ENOMEM, "file list");
	s->nfiles++;
	return 0;
}

int files_add_fd(struct snap *s, const struct rec_fd *r)
{
	if (r->fd < 0 || r->fd >= SNAP_FD_MAX)
		return err_msg(EMFILE, "fd %d is out of range (0-%d)", r->fd, SNAP_FD_MAX - 1);
	if (r->file >= s->nfiles)
		return err_msg(EBADMSG, "fd %d: refers to file %u, not described before it", r->fd, r->file);
	/* pthaw gives the copy its own stdio in place of a terminal, pipe or
	 * socket, and has only 0, 1 and 2 to give; a terminal's may be dup'd
	 * higher too (bash's fd 255 is its stderr's). */
	if (s->files[r->file].r.kind == FD_STDIO && r->fd > 2 && !S_ISCHR(s->files[r->file].r.mode))
		return err_msg(EBADMSG, "fd %d: a standard stream's file above fd 2", r->fd);
	if (!s->fd_used && !(s->fd_used = calloc(SNAP_FD_MAX / 8, 1)))
		return err_sys(ENOMEM, "fd list");
	if (s->fd_used[r->fd / 8] & (1u << (r->fd % 8)))
		return err_msg(EBADMSG, "fd %d appears twice", r->fd);
	if (snap_grow((void **)&s->fds, &s->fds_cap, s->nfds, sizeof(*s->fds)))
		return err_sys(ENOMEM, "fd list");
	s->fds[s->nfds++] = (struct rec_fd){ .fd = r->fd, .file = r->file, .cloexec = !!r->cloexec };
	if (!s->files[r->file].nrefs++ || r->fd < s->files[r->file].first_fd)
		s->files[r->file].first_fd = r->fd;
	s->fd_used[r->fd / 8] |= (unsigned char)(1u << (r->fd % 8));
	return 0;
}

/* Capture.  Each fd is first looked at alone (what it is, whether a
 * restore can reopen it), then the fds that share one open file
 * description are found: only fds on one inode can, and among those
 * kcmp(KCMP_FILE) says which are the same struct file in the kernel. */
struct fd_seen {
	int fd;
	uint32_t cloexec;
	struct stat sb;
	struct rec_file r;
	char *path;
	size_t group;		/* fds of one description have one group */
};

static int refuse_fd(pid_t pid, int fd, const char *link, const char *why)
{
	return err_msg(ENOTSUP, "process %d: fd %d (%s): %s", pid, fd, link, why);
}

static int is_terminal(const struct stat *sb)
{
	unsigned maj = major(sb->st_rdev);

	return maj == 136 || maj == 4 || (maj == 5 && minor(sb->st_rdev) <= 2);
}

/* A path under /proc/PID: the number, or 0 for any other path. */
static long proc_pid_of(const char *path)
{
	const char *p = path + 6;
	char *end;
	long v;

	if (strncmp(path, "/proc/", 6) != 0 || *p < '1' || *p > '9')
		return 0;
	v = strtol(p, &end, 10);
	return *end == '/' || *end == '\0' || strcmp(end, " (deleted)") == 0 ? v : 0;
}

static int is_pseudo_fs(const char *held)
{
	struct statfs f;

	return statfs(held, &f) == 0 && (f.f_type == PROC_SUPER_MAGIC || f.f_type == SYSFS_MAGIC);
}

static int stdio_like(const struct stat *sb)
{
	return S_ISFIFO(sb->st_mode) || S_ISSOCK(sb->st_mode) ||
	       (S_ISCHR(sb->st_mode) && is_terminal(sb));
}

/* The kinds files.c restores itself: 0 with r->kind set, or a refusal. */
static int builtin_kind(pid_t pid, int fd, const char *link, const struct stat *sb,
			struct rec_file *r)
{
	if (strncmp(link, "anon_inode:", 11) == 0)
		return refuse_fd(pid, fd, link, "this kind of descriptor is not supported yet");
	if (stdio_like(sb)) {
		if (fd > 2)
			return refuse_fd(pid, fd, link, S_ISFIFO(sb->st_mode) ? "pipes are supported only as stdin/stdout/stderr" :
					 S_ISSOCK(sb->st_mode) ? "sockets are supported only as stdin/stdout/stderr" :
					 "terminals are supported only as stdin/stdout/stderr");
		r->kind = FD_STDIO;
	} else if (S_ISREG(sb->st_mode)) {
		size_t n = strlen(link);

		if (link[0] != '/' || strncmp(link, "/memfd:", 7) == 0)
			return refuse_fd(pid, fd, link, "memfd and anonymous files are not supported yet");
		if (sb->st_nlink == 0 || (n > 10 && strcmp(link + n - 10, " (deleted)") == 0))
			return refuse_fd(pid, fd, link, "the file was deleted; it cannot be reopened");
		r->kind = FD_FILE;
	} else if (S_ISDIR(sb->st_mode)) {
		if (sb->st_nlink == 0)
			return refuse_fd(pid, fd, link, "the directory was removed; it cannot be reopened");
		r->kind = FD_DIR;
	} else if (S_ISCHR(sb->st_mode) && major(sb->st_rdev) == 1) {
		if (sb->st_nlink == 0)
			return refuse_fd(pid, fd, link, "the device node was deleted; it cannot be reopened");
		r->kind = FD_DEV;	/* null, zero, full, random, urandom */
	} else {
		return refuse_fd(pid, fd, link, "this kind of descriptor is not supported yet");
	}
	return 0;
}

/* Whether one of the fd kinds (fdkind.h) takes the fd: 1 with r->kind
 * set, 0, or its refusal. */
static int claim_fd(pid_t pid, int fd, const char *link, const struct stat *sb, const char *info,
		    struct rec_file *r)
{
	struct fd_info i = { .pid = pid, .fd = fd, .link = link, .sb = sb, .fdinfo = info };

	for (int k = 0; fd_kinds[k]; k++) {
		int rc = fd_kinds[k]->claim(&i, r);

		if (rc < 0)
			return rc;
		if (rc) {
			r->kind = fd_kinds[k]->kind;
			return 1;
		}
	}
	return 0;
}

/* pfrez -lib-fd (libpfrez, pfrez_checkpoint(3)): the socket the calling
 * process waits on for pfrez's answer.  Its peer is pfrez, which the copy
 * will not have: the copy gets /dev/null at that number instead, where
 * the interrupted read() restarts, sees an end of file at once, and the
 * library tells by fstat() that it runs in the copy. */
static int lib_fd;
static pid_t lib_pid;

static int see_lib_fd(int fd, struct fd_seen *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->cloexec = 1;
	if (stat("/dev/null", &d->sb) < 0)
		return err_sys(errno, "-lib-fd: /dev/null");
	d->r.flags = O_RDWR;
	d->r.mode = d->sb.st_mode;
	d->r.kind = FD_DEV;
	file_ident(&d->r.ident, &d->sb);
	d->path = strdup("/dev/null");
	return d->path ? 0 : err_sys(ENOMEM, "fd list");
}

/* 0 with *d filled, 1 when the fd was closed meanwhile, or -errno. */
static int see_fd(pid_t pid, int fd, struct fd_seen *d)
{
	char path[96], link[4096], info[4096];
	struct rec_file *r = &d->r;
	uint64_t pos;
	uint32_t fl;
	long owner;
	int rc;

	if (lib_fd > 2 && fd == lib_fd && pid == lib_pid)
		return see_lib_fd(fd, d);
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	rc = proc_readlink(path, link, sizeof(link));
	if (rc)
		return rc == -ENOENT ? 1 : rc;
	if (stat(path, &d->sb) < 0)
		return err_sys(errno, "process %d: fd %d", pid, fd);
	snprintf(path, sizeof(path), "fdinfo/%d", fd);
	rc = proc_read_text(pid, path, info, sizeof(info));
	if (!rc)
		rc = proc_fdinfo_parse(info, &pos, &fl);
	if (rc)
		return rc;
	/* fdinfo shows the fd's FD_CLOEXEC among the file's flags. */
	d->cloexec = !!(fl & O_CLOEXEC);
	r->flags = fl & ~(uint32_t)O_CLOEXEC;
	r->pos = pos;
	r->mode = d->sb.st_mode;
	/* A terminal, pipe or socket at 0, 1 or 2 becomes pthaw's own
	 * (builtin_kind), unless it stays inside the tree (treeshare.h);
	 * anything else may be one of the fd kinds. */
	rc = 0;
	if (fd > 2 || !stdio_like(&d->sb) || tshare_stdio_inside(pid, fd, &d->sb, fl))
		rc = claim_fd(pid, fd, link, &d->sb, info, r);
	if (rc == 0)
		rc = builtin_kind(pid, fd, link, &d->sb, r);
	if (rc < 0)
		return rc;
	if (r->kind != FD_STDIO) {
		file_ident(&r->ident, &d->sb);
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
		if (is_pseudo_fs(path))
			r->file_flags |= FDF_PSEUDO;
		/* The process's own /proc directory is the copy's in the
		 * restore; another process's is not there to be reopened. */
		owner = proc_pid_of(link);
		if (owner && owner == pid)
			r->file_flags |= FDF_PROC_SELF;
		else if (owner)
			return refuse_fd(pid, fd, link, "it belongs to another process, which a restore cannot reopen");
	}
	d->path = strdup(link);
	return d->path ? 0 : err_sys(ENOMEM, "fd list");
}

struct kcmp_ctx {
	pid_t pid;
	int err;		/* errno of a kcmp that failed */
};

/* kcmp(KCMP_FILE) orders the files of the kernel (0 same, 1 less, 2
 * greater): sorting by inode, then by it, puts the fds of one open file
 * description next to each other in O(n log n) comparisons. */
static int seen_cmp(const void *pa, const void *pb, void *arg)
{
	const struct fd_seen *a = pa, *b = pb;
	struct kcmp_ctx *k = arg;
	long rc;

	if (a->sb.st_dev != b->sb.st_dev)
		return a->sb.st_dev < b->sb.st_dev ? -1 : 1;
	if (a->sb.st_ino != b->sb.st_ino)
		return a->sb.st_ino < b->sb.st_ino ? -1 : 1;
	if (a->fd == b->fd)
		return 0;
	rc = syscall(SYS_kcmp, k->pid, k->pid, KCMP_FILE, a->fd, b->fd);
	if (rc == 0)
		return 0;
	if (rc == 1 || rc == 2)
		return rc == 1 ? -1 : 1;
	if (!k->err)
		k->err = rc < 0 ? errno : EINVAL;
	return a->fd - b->fd;
}

static int seen_fd_cmp(const void *a, const void *b)
{
	return ((const struct fd_seen *)a)->fd - ((const struct fd_seen *)b)->fd;
}

static int read_fds(pid_t pid, struct fd_seen **seen, size_t *n, size_t *cap)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int rc = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return err_sys(errno, "%s", path);
	while (!rc && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n >= SNAP_FD_MAX)
			rc = err_msg(E2BIG, "process %d: more than %d fds", pid, SNAP_FD_MAX);
		else if (snap_grow((void **)seen, cap, *n, sizeof(**seen)))
			rc = err_sys(ENOMEM, "fd list");
		else
			rc = see_fd(pid, atoi(e->d_name), *seen + *n);
		if (rc == 0)
			(*n)++;
		else if (rc == 1)
			rc = 0;		/* closed meanwhile */
	}
	closedir(dir);
	return rc;
}

/* Which fds share one open file description: a group number each. */
static int group_fds(pid_t pid, struct fd_seen *seen, size_t n)
{
	struct kcmp_ctx k = { .pid = pid };
	size_t g = 0;

	if (!n)
		return 0;
	qsort_r(seen, n, sizeof(*seen), seen_cmp, &k);
	for (size_t i = 0; !k.err && i < n; i++) {
		if (i && seen_cmp(&seen[i - 1], &seen[i], &k) != 0)
			g++;
		seen[i].group = g;
	}
	if (k.err)
		return err_msg(ENOTSUP, "process %d: kcmp: %s, so which fds share an open file cannot be told",
			       pid, strerror(k.err));
	return 0;
}

int files_capture(pid_t pid, struct snap *s)
{
	struct fd_seen *seen = NULL;
	size_t n = 0, cap = 0;
	uint32_t *id_of = NULL;	/* group -> file id, UINT32_MAX until given */
	int rc;

	rc = read_fds(pid, &seen, &n, &cap);
	if (!rc)
		rc = group_fds(pid, seen, n);
	if (!rc && n && !(id_of = malloc(n * sizeof(*id_of))))
		rc = err_sys(ENOMEM, "fd list");
	if (!rc && n) {
		memset(id_of, 0xff, n * sizeof(*id_of));
		/* Ids in the order of the lowest fd of each file. */
		qsort(seen, n, sizeof(*seen), seen_fd_cmp);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		struct fd_seen *d = &seen[i];
		char what[32];

		if (id_of[d->group] == UINT32_MAX) {
			id_of[d->group] = d->r.id = (uint32_t)s->nfiles;
			snprintf(what, sizeof(what), "fd %d", d->fd);
			if (files_by_name(d->r.kind) && !(d->r.file_flags & FDF_PROC_SELF))
				rc = file_reopenable(pid, what, d->path, &d->sb);
			if (!rc)
				rc = files_add(s, &d->r, d->path);
		}
		if (!rc)
			rc = files_add_fd(s, &(struct rec_fd){ .fd = d->fd, .file = id_of[d->group],
							       .cloexec = d->cloexec });
	}
	for (size_t i = 0; i < n; i++)
		free(seen[i].path);
	free(seen);
	free(id_of);
	return rc;
}

int files_has_fd(const struct snap *s, int fd)
{
	return s->fd_used && fd >= 0 && fd < SNAP_FD_MAX && (s->fd_used[fd / 8] & (1u << (fd % 8)));
}

static long pcall(struct pload *pl, long nr, long a0, long a1, long a2)
{
	return pload_call(pl, nr, a0, a1, a2, 0, 0, 0, NULL, 0);
}

/* The safe reopen (reopen.c), as the process, in pload. */
static long open_file(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	char what[32], path[4200];
	struct reopen o;

	reopen_file(s, f, r->pl->self, what, sizeof(what), path, sizeof(path), &o);
	return reopen(r->pl, r->same_host, &o);
}

/* Gives fd d->fd the open file at t (pload's), with its own FD_CLOEXEC:
 * dup3 sets it on the new fd, F_SETFD on t itself. */
static int give_fd(struct pload *pl, long t, const struct rec_fd *d, const char *path)
{
	long ret;

	if (t == d->fd)
		ret = pcall(pl, SYS_fcntl, t, F_SETFD, d->cloexec ? FD_CLOEXEC : 0);
	else
		ret = pcall(pl, SYS_dup3, t, d->fd, d->cloexec ? O_CLOEXEC : 0);
	if (ret < 0)
		return err_sys((int)-ret, "fd %d: %s", d->fd, path);
	return 0;
}

/* The copy gets pthaw's own terminal, pipe or socket at 0, 1 and 2 (pload
 * inherited them).  fds that shared one in the original share one in the
 * copy too: the lowest output among them (pthaw's stdout for `2>&1 |`),
 * dup'd to the others.  fd 0 keeps pthaw's stdin (or what pload_ctl.c put
 * there when stdin carries the stream): it is read, and a description
 * pthaw opened for writing cannot be. */
static int restore_stdio(struct pload *pl, const struct snap_file *f, const struct rec_fd *const *fds)
{
	long give = -1;
	int rc = 0;

	for (size_t i = 0; i < f->nrefs; i++)
		if (fds[i]->fd > 0 && fds[i]->fd <= 2 && (give < 0 || fds[i]->fd < give))
			give = fds[i]->fd;
	/* A terminal's fds above 2 are its stdout's (stderr's), or its
	 * stdin's when it had only that among 0-2. */
	for (size_t i = 0; !rc && i < f->nrefs; i++)
		rc = give_fd(pl, fds[i]->fd == 0 || give < 0 ? 0 : give, fds[i], f->path);
	return rc;
}

/* Each open file description is opened once (offset and status flags set
 * once: they are the description's) and dup'd to every fd that refers to
 * it.  The opened fd is closed before the next file is opened, unless it
 * is one of the file's own: an open lands on the lowest free number,
 * which is never one given out before, and dup3 replaces only the file's
 * own fds. */
static int files_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;
	struct pload *pl = r->pl;
	const struct rec_fd **by = NULL;	/* the fds, grouped by file */
	size_t *at = NULL;			/* file i's fds start at by[at[i]] */
	int rc = 0;

	/* Its pload shares its parent's fd table, which holds the parent's
	 * fds by now: nothing to give, and nothing of it to close. */
	if (r->files_shared)
		return 0;
	/* pload inherited pthaw's 0, 1 and 2: the process had them closed. */
	for (int fd = 0; fd <= 2; fd++)
		if (!files_has_fd(s, fd))
			pcall(pl, SYS_close, fd, 0, 0);
	if (!s->nfds)
		return 0;
	by = calloc(s->nfds, sizeof(*by));
	at = calloc(s->nfiles + 1, sizeof(*at));
	if (!by || !at) {
		free(by);
		free(at);
		return err_sys(ENOMEM, "fd list");
	}
	for (size_t i = 0; i < s->nfiles; i++)
		at[i + 1] = at[i] + s->files[i].nrefs;
	for (size_t i = 0; i < s->nfds; i++)
		by[at[s->fds[i].file]++] = &s->fds[i];
	for (size_t i = 0; i < s->nfiles; i++)
		at[i] -= s->files[i].nrefs;
	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		const struct snap_file *f = &s->files[i];
		const struct rec_fd *const *fds = by + at[i];
		int keep = 0;
		long t, ret;

		if (f->r.kind == FD_STDIO) {
			rc = restore_stdio(pl, f, fds);
			continue;
		}
		t = files_by_name(f->r.kind) ? open_file(r, s, f) : fd_kind_of(f->r.kind)->open(r, s, f);
		if (t < 0) {
			rc = (int)t;
			break;
		}
		/* A directory's position is where the next getdents goes on
		 * (a cookie of its file system, which lseek takes back). */
		if ((f->r.kind == FD_FILE || f->r.kind == FD_DIR) && f->r.pos) {
			ret = pcall(pl, SYS_lseek, t, (long)f->r.pos, SEEK_SET);
			if (ret < 0)
				rc = err_sys((int)-ret, "fd %d: %s: seek", f->first_fd, f->path);
		}
		for (size_t j = 0; !rc && j < f->nrefs; j++) {
			keep |= fds[j]->fd == t;
			rc = give_fd(pl, t, fds[j], f->path);
		}
		if (!keep)
			pcall(pl, SYS_close, t, 0, 0);
	}
	for (int k = 0; fd_kinds[k]; k++)
		if (fd_kinds[k]->done)
			fd_kinds[k]->done(r, s);
	free(by);
	free(at);
	return rc;
}

static int bad(uint32_t type, const char *why)
{
	return err_msg(EBADMSG, "%s record: %s", rec_type_name(type), why);
}

int files_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len)
{
	struct rec_file r;
	struct rec_fd d;
	size_t off;
	char *path;
	int rc;

	if (type == REC_FD) {
		if (len != sizeof(d))
			return bad(type, "malformed");
		memcpy(&d, p, sizeof(d));
		if (d.cloexec > 1 || d.pad)
			return bad(type, "malformed");
		rc = files_add_fd(s, &d);
		return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "fd record") : rc;
	}
	if (type != REC_FILE)
		return 1;
	if (len < sizeof(r))
		return bad(type, "too short");
	memcpy(&r, p, sizeof(r));
	off = sizeof(r);
	if (r.path_len >= SNAP_PATH_MAX)
		return bad(type, "path too long");
	path = snap_take_str(p, len, &off, r.path_len);
	if (!path || off != len || (r.file_flags & ~(uint32_t)(FDF_PROC_SELF | FDF_PSEUDO)))
		return free(path), bad(type, "malformed");
	/* The restore puts the copy's PID in place of the original's. */
	if ((r.file_flags & FDF_PROC_SELF) && !proc_pid_of(path))
		return free(path), bad(type, "a file of the process's own /proc directory not under /proc/PID");
	if (!files_by_name(r.kind) && r.kind != FD_STDIO && !fd_kind_of(r.kind)) {
		free(path);
		return err_msg(EBADMSG, "file %u: %s%s, which this pthaw cannot restore", r.id,
			       r.kind >= FD_FILE && r.kind <= FD_KIND_MAX ? "a " : "an unknown kind of file ",
			       files_kind_name(r.kind));
	}
	rc = files_add(s, &r, path);
	free(path);
	return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "file record") : rc;
}

int files_check(const struct snap *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct fd_kind_ops *k = fd_kind_of(s->files[i].r.kind);
		int rc;

		if (!s->files[i].nrefs)
			return err_msg(EBADMSG, "file %zu: no fd refers to it", i);
		if (k && k->verify && (rc = k->verify(s, &s->files[i])))
			return rc;
	}
	return 0;
}

const char *files_kind_name(uint32_t k)
{
	static const char *const name[FD_KIND_MAX + 1] = {
		[FD_FILE] = "file", [FD_DIR] = "directory", [FD_DEV] = "device",
		[FD_STDIO] = "stdio", [FD_PIPE] = "pipe", [FD_FIFO] = "fifo",
		[FD_UNIX] = "unix socket", [FD_EVENTFD] = "eventfd", [FD_TIMERFD] = "timerfd",
		[FD_SIGNALFD] = "signalfd", [FD_EPOLL] = "epoll", [FD_INOTIFY] = "inotify",
		[FD_MEMFD] = "memfd", [FD_DELETED] = "deleted file", [FD_TTY] = "terminal",
		[FD_INET] = "inet socket", [FD_TREE] = "tree file",
	};

	return k <= FD_KIND_MAX && name[k] ? name[k] : "?";
}

static void files_print(FILE *f, const void *data)
{
	const struct snap *s = data;
	static char e[4 * SNAP_PATH_MAX + 1];

	fprintf(f, "Open files:\n");
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct snap_file *o = &s->files[i];

		err_escape(e, sizeof(e), o->path, strlen(o->path));
		fprintf(f, "  file %zu: %s \"%s\", flags 0%o, offset %llu%s%s\n", i, files_kind_name(o->r.kind),
			e, o->r.flags, (unsigned long long)o->r.pos,
			o->r.file_flags & FDF_PROC_SELF ? ", names the process itself in /proc" : "",
			o->r.kind == FD_STDIO ? ", becomes pthaw's own stdin/stdout/stderr" : "");
		if (files_by_name(o->r.kind))
			snap_print_ident(f, "    identity", &o->r.ident);
	}
	fprintf(f, "File descriptors:\n");
	for (size_t i = 0; i < s->nfds; i++)
		fprintf(f, "  fd %d: file %u%s\n", s->fds[i].fd, s->fds[i].file,
			s->fds[i].cloexec ? ", cloexec" : "");
}

void files_free(struct snap *s)
{
	for (size_t i = 0; i < s->nfiles; i++)
		free(s->files[i].path);
	free(s->files);
	free(s->fds);
	free(s->fd_used);
	s->files = NULL;
	s->fds = NULL;
	s->fd_used = NULL;
	s->nfiles = s->nfds = s->files_cap = s->fds_cap = 0;
}

static int files_verify(const struct snap *s, const void *data)
{
	(void)data;
	return files_check(s);
}

static int file_capture(struct kind_capture *c, void **data)
{
	int rc;

	(void)data;
	lib_fd = c->lib_fd;
	lib_pid = c->pid;
	/* Its parent's fd table, which the parent's records describe: a
	 * second description would restore every file twice. */
	if (tshare_files_shared(c->pid))
		return 0;
	rc = tshare_refuse_outside(c->pid);
	return rc ? rc : files_capture(c->pid, c->snap);
}

static int file_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->nfiles; i++)
		rc = rec_write(w, REC_FILE, &s->files[i].r, sizeof(s->files[i].r), s->files[i].path,
			       s->files[i].r.path_len);
	return rc;
}

static int fd_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->nfds; i++)
		rc = rec_write(w, REC_FD, &s->fds[i], sizeof(s->fds[i]), NULL, 0);
	return rc;
}

static int file_take(void **data, const unsigned char *p, size_t len)
{
	return files_take(*data, REC_FILE, p, len);
}

static int fd_take(void **data, const unsigned char *p, size_t len)
{
	return files_take(*data, REC_FD, p, len);
}

/* Before any page: each file is opened (O_PATH, nothing read or written)
 * as the restore will open it, with the process's file credentials
 * (pthaw sets them around the checks). */
static int file_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;
	char what[32], path[4200];
	int rc = 0;

	for (size_t i = 0; i < s->nfiles; i++) {
		struct reopen o;

		if (!files_by_name(s->files[i].r.kind))
			continue;
		reopen_file(s, &s->files[i], getpid(), what, sizeof(what), path, sizeof(path), &o);
		if (reopen(NULL, c->same_host, &o)) {
			rc = kind_problem(c, -ESTALE);
			if (!c->out)
				return rc;
		}
	}
	return rc;
}

static void file_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

	/* Each open file description once; fds refer to it by id. */
	json_array_begin(j, "files");
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct rec_file *f = &s->files[i].r;

		json_object_begin(j, NULL);
		json_uint(j, "id", f->id);
		json_str(j, "kind", files_kind_name(f->kind));
		json_str(j, "path", s->files[i].path);
		json_uint(j, "flags", f->flags);
		json_uint(j, "pos", f->pos);
		json_uint(j, "mode", f->mode);
		json_bool(j, "proc_self", (f->file_flags & FDF_PROC_SELF) != 0);
		json_bool(j, "pseudo", (f->file_flags & FDF_PSEUDO) != 0);
		if (files_by_name(f->kind))
			snap_ident_json(j, "ident", &f->ident);
		json_object_end(j);
	}
	json_array_end(j);
}

static void fd_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

	json_array_begin(j, "fds");
	for (size_t i = 0; i < s->nfds; i++) {
		const struct rec_fd *d = &s->fds[i];
		const struct snap_file *f = &s->files[d->file];

		json_object_begin(j, NULL);
		json_int(j, "fd", d->fd);
		json_uint(j, "file", d->file);
		json_str(j, "kind", files_kind_name(f->r.kind));
		json_str(j, "path", f->path);
		json_bool(j, "cloexec", d->cloexec != 0);
		json_uint(j, "flags", f->r.flags);
		json_uint(j, "pos", f->r.pos);
		json_object_end(j);
	}
	json_array_end(j);
}

/* The open file descriptions, captured with the fd table (the fd kind),
 * which refers to them and restores both. */
const struct kind_ops kind_file = {
	.name = "file",
	.type = REC_FILE,
	.flags = KIND_MANY | KIND_IN_SNAP,
	.capture = file_capture,
	.write = file_write,
	.take = file_take,
	.check = file_check,
	.print_json = file_print_json,
};

const struct kind_ops kind_fd = {
	.name = "fd",
	.type = REC_FD,
	.flags = KIND_MANY | KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_FILES),
	.write = fd_write,
	.take = fd_take,
	.verify = files_verify,
	.restore = files_restore,
	.print = files_print,
	.print_json = fd_print_json,
};
