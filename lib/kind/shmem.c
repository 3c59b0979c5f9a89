/* shmem.c: memory objects, the things several mappings and fds may share
 * whose state is their contents: shared anonymous memory (MAP_SHARED |
 * MAP_ANONYMOUS, /dev/zero), memfds, files unlinked while still open or
 * mapped, and files mapped shared and writable (POSIX shared memory in
 * /dev/shm, semaphores, any regular file).  Each is one REC_SHMEM record
 * that its mappings (VMA_SHMEM) and its fds (FD_MEMFD, FD_DELETED, by
 * inode) refer to, and its contents travel once, as REC_FILEDATA records
 * after the pages, however many times it is mapped.  A file mapped shared
 * is its own state: it is reopened by its name, checked to be the same
 * file, and its dirty pages are already in it. */
#include "shmem.h"
#include "err.h"
#include "fdkind.h"
#include "files.h"
#include "json.h"
#include "kind.h"
#include "layer.h"
#include "pload_ctl.h"
#include "proc.h"
#include "reopen.h"
#include "snap.h"
#include "treeshare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif
#define SHMEM_SEALS	0x3fu		/* F_SEAL_SEAL ... F_SEAL_EXEC */
#define SHMEM_MAX	(1u << 20)	/* objects: one per mapping or fd at most */
#define SHMEM_SIZE_MAX	(1ull << 46)	/* 64 TiB: beyond any real object */
#define MEMFD_NAME_MAX	249		/* the kernel's MFD_NAME_MAX_LEN */
#define SYSV_WAIT_MS	3000		/* for -halt's original to end */

struct shm_obj {
	struct rec_shmem r;
	char *name;
	int fd;		/* pfrez: its own fd, to read the contents; -1 */
	long pl_fd;	/* pthaw: pload's fd on it, set aside; -1 */
	struct rec_shm_sysv sv;	/* SHMEM_SYSV */
	long sv_new;	/* pthaw: the SysV segment's shmid here; -1 */
};

struct shmem_set {
	struct shm_obj *o;
	size_t n, cap;
};

static const char *const kind_names[SHMEM_KIND_MAX + 1] = {
	[SHMEM_ANON] = "anon", [SHMEM_MEMFD] = "memfd", [SHMEM_FILE] = "file",
	[SHMEM_DELETED] = "deleted", [SHMEM_TREE] = "tree", [SHMEM_SYSV] = "sysv",
};

static struct shmem_set *set_of(const struct snap *s)
{
	return kind_get(KIND_SHMEM) ? s->kind[KIND_SHMEM] : NULL;
}

long shmem_find(const struct snap *s, uint64_t dev, uint64_t ino)
{
	const struct shmem_set *set = set_of(s);

	for (size_t i = 0; set && i < set->n; i++)
		if (set->o[i].r.ident.dev == dev && set->o[i].r.ident.ino == ino)
			return (long)i;
	return -1;
}

static struct shm_obj *obj_add(struct shmem_set *set, const struct rec_shmem *r, const char *name)
{
	struct shm_obj *o;

	if (set->n >= SHMEM_MAX || snap_grow((void **)&set->o, &set->cap, set->n, sizeof(*set->o)))
		return NULL;
	o = &set->o[set->n];
	memset(o, 0, sizeof(*o));
	o->r = *r;
	o->r.id = (uint32_t)set->n;
	o->r.name_len = (uint32_t)strlen(name);
	o->name = strdup(name);
	o->fd = -1;
	o->pl_fd = -1;
	o->sv_new = -1;
	if (!o->name)
		return NULL;
	set->n++;
	return o;
}

/* ---- capture ---- */

struct shm_capture {
	struct kind_capture *c;
	struct shmem_set *set;
	uint64_t deleted_bytes;
};

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Opens the object at path (/proc/PID/fd/N or /proc/PID/map_files/...)
 * to read it: reading changes nothing of it (a hole stays a hole:
 * tmpfs reads zeros there without allocating), and O_NOATIME where we
 * may (the owner or root) leaves even its access time. */
static int open_object(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? err_sys(errno, "%s", path) : fd;
}

/* A name in the directory of path that is the file sb (sem_open(3)
 * makes its semaphore under a temporary name, maps it, links it at its
 * own name and unlinks the first: the mapping shows the first,
 * "(deleted)"): 0 with path changed to it, or -ENOENT. */
static int other_name(char *path, const struct stat *sb)
{
	char *slash = strrchr(path, '/');
	struct dirent *e;
	struct stat cur;
	int rc = -ENOENT;
	DIR *d;

	if (!slash)
		return rc;
	*slash = '\0';
	d = opendir(slash == path ? "/" : path);
	*slash = '/';
	while (d && rc && (e = readdir(d))) {
		if (fstatat(dirfd(d), e->d_name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
		    cur.st_dev == sb->st_dev && cur.st_ino == sb->st_ino &&
		    strlen(e->d_name) < SNAP_PATH_MAX - (size_t)(slash - path) - 1) {
			strcpy(slash + 1, e->d_name);
			rc = 0;
		}
	}
	if (d)
		closedir(d);
	return rc;
}

/* Whether a process of the tree captured before pid has the object sb
 * as its own (MAP_SHARED memory inherited across fork, a memfd or a
 * deleted file held by both). */
static int tree_has(pid_t pid, const struct stat *sb)
{
	const struct snap *o;
	pid_t owner;
	long id;

	for (size_t i = 0; (o = tshare_captured_nth(pid, i, &owner)); i++)
		if ((id = shmem_find(o, sb->st_dev, sb->st_ino)) >= 0 &&
		    set_of(o)->o[id].r.kind != SHMEM_TREE)
			return 1;
	return 0;
}

/* The SysV segment shmid as /proc/sysvipc/shm lists it (the IPC
 * namespace of pfrez: the caller checked it is the process's), or
 * -errno naming it.  A segment locked in memory (SHM_LOCK) would come
 * back unlocked: refused. */
static int sysv_read(pid_t pid, uint64_t shmid, struct rec_shm_sysv *sv)
{
	FILE *f = fopen("/proc/sysvipc/shm", "re");
	char line[512];
	int rc = -ENOENT;

	if (!f)
		return err_sys(errno, "/proc/sysvipc/shm");
	while (rc == -ENOENT && fgets(line, sizeof(line), f)) {
		int key, id;
		unsigned mode, uid, gid;
		unsigned long long size;

		/* key shmid perms size cpid lpid nattch uid gid ... */
		if (sscanf(line, "%d %d %o %llu %*d %*d %*u %u %u", &key, &id, &mode, &size, &uid,
			   &gid) != 6 || (uint64_t)id != shmid)
			continue;
		*sv = (struct rec_shm_sysv){ .key = key, .shmid = id, .uid = uid, .gid = gid,
					     .mode = mode & (0777 | SHM_DEST) };
		rc = 0;
		if (mode & SHM_LOCKED)
			rc = err_msg(ENOTSUP, "process %d: SysV shared memory segment %d (key 0x%08x) is locked in memory (SHM_LOCK): not supported",
				     pid, id, (unsigned)key);
	}
	fclose(f);
	if (rc == -ENOENT)
		err_msg(ENOENT, "process %d: SysV shared memory segment %llu is not in /proc/sysvipc/shm",
			pid, (unsigned long long)shmid);
	return rc;
}

/* Whether pid is in pfrez's IPC namespace: /proc/sysvipc and shmat
 * see only that one. */
static int same_ipcns(pid_t pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/ipc", pid);
	if (stat(path, &a) < 0 || stat("/proc/self/ns/ipc", &b) < 0)
		return err_sys(errno, "process %d: its IPC namespace", pid);
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return err_msg(ENOTSUP, "process %d: SysV shared memory in another IPC namespace than pfrez's: not supported",
			       pid);
	return 0;
}

/* Adds the object that path (what the process holds: link) is, of kind k,
 * unless it is there already. */
static int capture_object(struct shm_capture *sc, const char *path, const char *link,
			  uint32_t k)
{
	struct rec_shmem r = { .kind = k };
	struct rec_shm_sysv sv = { 0 };
	char name[SNAP_PATH_MAX];
	struct shm_obj *o;
	struct stat sb;
	int fd = -1;

	if (stat(path, &sb) < 0)
		return err_sys(errno, "process %d: %s", sc->c->pid, link);
	if (shmem_find(sc->c->snap, sb.st_dev, sb.st_ino) >= 0)
		return 0;
	if (!S_ISREG(sb.st_mode))
		return err_msg(ENOTSUP, "process %d: %s is not a regular file", sc->c->pid, link);
	file_ident(&r.ident, &sb);
	r.size = (uint64_t)sb.st_size;
	r.mode = sb.st_mode;
	/* One object for the whole tree: made and filled where first seen. */
	if (k != SHMEM_FILE && tree_has(sc->c->pid, &sb)) {
		r.kind = SHMEM_TREE;
		return obj_add(sc->set, &r, link) ? 0 : err_sys(ENOMEM, "memory objects");
	}
	snprintf(name, sizeof(name), "%s", link);
	if (k == SHMEM_MEMFD) {
		/* "/memfd:NAME (deleted)" */
		memmove(name, name + 7, strlen(name + 7) + 1);
		if (has_suffix(name, " (deleted)"))
			name[strlen(name) - 10] = '\0';
	} else if (k == SHMEM_DELETED) {
		if (has_suffix(name, " (deleted)"))
			name[strlen(name) - 10] = '\0';
		if (sb.st_nlink > 0) {
			/* Unlinked from that name but linked at another: the
			 * file is still the state, under that name. */
			if (other_name(name, &sb))
				return err_msg(ENOTSUP, "process %d: %s was unlinked from that name but is still linked elsewhere, not in its directory: not supported",
					       sc->c->pid, link);
			k = r.kind = SHMEM_FILE;
		} else {
			sc->deleted_bytes += r.size;
		}
	}
	if (k == SHMEM_DELETED) {
		if (sc->deleted_bytes > sc->c->max_deleted)
			return err_msg(EFBIG, "process %d: deleted file %s (%llu bytes) would take the deleted files' contents beyond -max-deleted=%llu MiB",
				       sc->c->pid, name, (unsigned long long)r.size,
				       (unsigned long long)(sc->c->max_deleted >> 20));
	} else if (k == SHMEM_ANON) {
		name[0] = '\0';
	} else if (k == SHMEM_SYSV) {
		int rc = same_ipcns(sc->c->pid);

		if (!rc)
			rc = sysv_read(sc->c->pid, sb.st_ino, &sv);
		if (rc)
			return rc;
		name[0] = '\0';
	}
	if (k != SHMEM_FILE) {
		struct statfs fs;

		fd = open_object(path);
		if (fd < 0)
			return fd;
		/* A new memfd or O_TMPFILE file would not be on hugetlbfs. */
		if (fstatfs(fd, &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC) {
			close(fd);
			return err_msg(ENOTSUP, "process %d: %s is on hugetlbfs (huge pages): not supported",
				       sc->c->pid, link);
		}
		if (k == SHMEM_MEMFD) {
			int seals = fcntl(fd, F_GET_SEALS);

			if (seals < 0) {
				close(fd);
				return err_sys(errno, "process %d: %s: F_GET_SEALS", sc->c->pid, link);
			}
			r.seals = (uint32_t)seals & SHMEM_SEALS;
		}
	}
	o = obj_add(sc->set, &r, name);
	if (!o) {
		if (fd >= 0)
			close(fd);
		return err_sys(ENOMEM, "memory objects");
	}
	o->fd = fd;
	o->sv = sv;
	return 0;
}

/* The shared mappings that are memory objects; vma.c keeps the rest
 * (read-only shared mappings of files that are still there) and refuses
 * what is neither. */
static int capture_maps(struct shm_capture *sc)
{
	pid_t pid = sc->c->pid;
	struct vma *maps;
	size_t n;
	int rc = maps_read(pid, &maps, &n);

	for (size_t i = 0; !rc && i < n; i++) {
		const struct vma *v = &maps[i];
		const char *p = v->path;
		char mf[128];
		struct stat sb;
		uint32_t k;

		if (!v->shared || p[0] != '/')
			continue;
		if (strncmp(p, "/anon_hugepage", 14) == 0) {
			rc = err_msg(ENOTSUP, "process %d: shared huge page mapping at 0x%llx is not supported",
				     pid, (unsigned long long)v->start);
			break;
		}
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		if (stat(mf, &sb) < 0) {
			rc = err_sys(errno, "process %d: mapping %s", pid, p);
			break;
		}
		if (!S_ISREG(sb.st_mode))
			continue;	/* a device: vma.c refuses it */
		/* The kernel backs MAP_SHARED | MAP_ANONYMOUS and shared
		 * mappings of /dev/zero alike with an unlinked shmem file it
		 * names "/dev/zero". */
		if (strcmp(p, "/dev/zero (deleted)") == 0)
			k = SHMEM_ANON;
		else if (strncmp(p, "/SYSV", 5) == 0 &&
			 (v->pgoff || v->end - v->start < (uint64_t)sb.st_size ||
			  v->end - v->start >= (uint64_t)sb.st_size + REC_PAGE_SIZE)) {
			/* shmat attaches a whole segment: a part of one
			 * (mprotect, munmap of a piece) could not come back. */
			rc = err_msg(ENOTSUP, "process %d: SysV shared memory segment %llu is mapped only in part at 0x%llx: not supported",
				     pid, (unsigned long long)v->inode, (unsigned long long)v->start);
			break;
		} else if (strncmp(p, "/SYSV", 5) == 0)
			k = SHMEM_SYSV;
		else if (strncmp(p, "/memfd:", 7) == 0)
			k = SHMEM_MEMFD;
		else if (has_suffix(p, " (deleted)") || sb.st_nlink == 0)
			k = SHMEM_DELETED;
		else if (v->prot & PROT_WRITE)
			k = SHMEM_FILE;
		else if (shmem_find(sc->c->snap, sb.st_dev, sb.st_ino) < 0)
			continue;	/* read-only: vma.c maps the file */
		else
			k = SHMEM_FILE;	/* already an object */
		rc = capture_object(sc, mf, p, k);
	}
	maps_free(maps, n);
	return rc;
}

static void shmem_free(void *data)
{
	struct shmem_set *set = data;

	for (size_t i = 0; set && i < set->n; i++) {
		if (set->o[i].fd >= 0)
			close(set->o[i].fd);
		free(set->o[i].name);
	}
	if (set)
		free(set->o);
	free(set);
}

/* The fds first (a memfd's fd names it even when it is also mapped),
 * then the mappings. */
static int shmem_capture(struct kind_capture *c, void **data)
{
	struct shm_capture sc = { .c = c };
	const struct snap *s = c->snap;
	int rc = 0;

	sc.set = calloc(1, sizeof(*sc.set));
	if (!sc.set)
		return err_sys(ENOMEM, "memory objects");
	/* shmem_find() looks here while the capture goes on. */
	c->snap->kind[KIND_SHMEM] = sc.set;
	for (size_t i = 0; !rc && i < s->nfiles; i++) {
		const struct snap_file *f = &s->files[i];
		char path[64];

		if (f->r.kind != FD_MEMFD && f->r.kind != FD_DELETED)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, f->first_fd);
		rc = capture_object(&sc, path, f->path,
				    f->r.kind == FD_MEMFD ? SHMEM_MEMFD : SHMEM_DELETED);
	}
	if (!rc)
		rc = capture_maps(&sc);
	if (rc || !sc.set->n) {
		shmem_free(sc.set);
		sc.set = NULL;
	}
	c->snap->kind[KIND_SHMEM] = NULL;
	*data = sc.set;
	return rc;
}

static int shmem_write(const void *data, struct rec_writer *w)
{
	const struct shmem_set *set = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < set->n; i++) {
		const struct shm_obj *o = &set->o[i];

		/* A segment's own state follows its empty name. */
		if (o->r.kind == SHMEM_SYSV)
			rc = rec_write(w, REC_SHMEM, &o->r, sizeof(o->r), &o->sv, sizeof(o->sv));
		else
			rc = rec_write(w, REC_SHMEM, &o->r, sizeof(o->r), o->name, o->r.name_len);
	}
	return rc;
}

static int page_is_zero(const unsigned char *p)
{
	for (size_t i = 0; i < REC_PAGE_SIZE; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The data of one object between its holes (SEEK_DATA), without its
 * zero pages, in records of at most REC_PAGES_MAX pages. */
static int write_object(const struct shm_obj *o, struct rec_writer *w, unsigned char *buf,
			struct shmem_out *out)
{
	uint64_t size = o->r.size, off = 0;

	while (off < size) {
		off_t data = lseek(o->fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			return err_sys(errno, "memory object %u: SEEK_DATA", o->r.id);
		hole = lseek(o->fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)size;
		off = (uint64_t)data & ~(uint64_t)(REC_PAGE_SIZE - 1);
		while (off < (uint64_t)hole && off < size) {
			size_t want = REC_PAGES_MAX * REC_PAGE_SIZE, got = 0, i = 0;
			ssize_t n;

			if (want > size - off)
				want = size - off;
			while (got < want) {
				n = pread(o->fd, buf + got, want - got, (off_t)(off + got));
				if (n < 0)
					return err_sys(errno, "memory object %u: reading at %llu", o->r.id,
						       (unsigned long long)(off + got));
				if (n == 0)
					break;	/* shrunk meanwhile: zeros */
				got += (size_t)n;
			}
			memset(buf + got, 0, REC_PAGES_MAX * REC_PAGE_SIZE - got);
			while (i * REC_PAGE_SIZE < want) {
				size_t j = i;
				struct rec_filedata h = { .id = o->r.id, .offset = off + i * REC_PAGE_SIZE };
				int rc;

				if (page_is_zero(buf + i * REC_PAGE_SIZE)) {
					i++;
					continue;
				}
				while (j * REC_PAGE_SIZE < want && !page_is_zero(buf + j * REC_PAGE_SIZE))
					j++;
				h.len = (uint32_t)((j * REC_PAGE_SIZE < want ? j * REC_PAGE_SIZE : want) -
						   i * REC_PAGE_SIZE);
				rc = rec_write(w, REC_FILEDATA, &h, sizeof(h), buf + i * REC_PAGE_SIZE, h.len);
				if (rc)
					return rc;
				out->pages += (h.len + REC_PAGE_SIZE - 1) / REC_PAGE_SIZE;
				if (out->progress)
					out->progress(out->progress_arg, w->bytes);
				i = j;
			}
			off += want;
		}
		off = (uint64_t)hole;
	}
	return 0;
}

int shmem_write_data(const struct snap *s, struct rec_writer *w, struct shmem_out *out)
{
	const struct shmem_set *set = set_of(s);
	unsigned char *buf;
	int rc = 0;

	if (!set)
		return 0;
	buf = malloc(REC_PAGES_MAX * REC_PAGE_SIZE);
	if (!buf)
		return err_sys(ENOMEM, "memory objects");
	for (size_t i = 0; !rc && i < set->n; i++)
		if (set->o[i].fd >= 0)
			rc = write_object(&set->o[i], w, buf, out);
	free(buf);
	return rc;
}

/* ---- decode and check ---- */

static int shmem_take(void **data, const unsigned char *p, size_t len)
{
	struct shmem_set *set = *data;
	struct rec_shmem r;
	struct rec_shm_sysv sv = { 0 };
	size_t off = sizeof(r);
	struct shm_obj *o;
	char *name;

	if (len < sizeof(r))
		return err_msg(EBADMSG, "shmem record: too short");
	memcpy(&r, p, sizeof(r));
	if (!set) {
		set = calloc(1, sizeof(*set));
		if (!set)
			return err_sys(ENOMEM, "memory objects");
		*data = set;
	}
	if (r.id != set->n || set->n >= SHMEM_MAX)
		return err_msg(EBADMSG, "shmem record: id %u out of order", r.id);
	if (r.kind < SHMEM_ANON || r.kind > SHMEM_KIND_MAX || r.pad || r.size > SHMEM_SIZE_MAX ||
	    (r.seals & ~SHMEM_SEALS) || (r.seals && r.kind != SHMEM_MEMFD) || r.name_len >= SNAP_PATH_MAX ||
	    (r.kind == SHMEM_MEMFD && r.name_len > MEMFD_NAME_MAX))
		return err_msg(EBADMSG, "shmem record %u: malformed", r.id);
	name = snap_take_str(p, len, &off, r.name_len);
	if (name && r.kind == SHMEM_SYSV && !r.name_len && len - off == sizeof(sv)) {
		memcpy(&sv, p + off, sizeof(sv));
		off = len;
		if (sv.shmid < 0 || sv.pad || (sv.mode & ~(0777u | SHM_DEST)) || !r.size ||
		    (uint64_t)sv.shmid != r.ident.ino)
			off = 0;
	} else if (r.kind == SHMEM_SYSV) {
		off = 0;
	}
	if (!name || off != len ||
	    ((r.kind == SHMEM_FILE || r.kind == SHMEM_DELETED) && name[0] != '/')) {
		free(name);
		return err_msg(EBADMSG, "shmem record %u: malformed", r.id);
	}
	o = obj_add(set, &r, name);
	free(name);
	if (!o)
		return err_sys(ENOMEM, "memory objects");
	o->sv = sv;
	return 0;
}

int shmem_refs_check(const struct snap *s)
{
	const struct shmem_set *set = set_of(s);

	for (size_t i = 0; i < s->nvmas; i++)
		if ((s->vmas[i].r.flags & VMA_SHMEM) && (!set || s->vmas[i].r.shmem >= set->n))
			return err_msg(EBADMSG, "vma record 0x%llx: memory object %u is not in the snapshot",
				       (unsigned long long)s->vmas[i].r.start, s->vmas[i].r.shmem);
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct rec_file *f = &s->files[i].r;

		if ((f->kind == FD_MEMFD || f->kind == FD_DELETED) &&
		    shmem_find(s, f->ident.dev, f->ident.ino) < 0)
			return err_msg(EBADMSG, "file %u: a %s with no memory object", f->id,
				       files_kind_name(f->kind));
	}
	return 0;
}

static int shmem_verify(const struct snap *s, const void *data)
{
	(void)data;
	return shmem_refs_check(s);
}

static void obj_what(char *buf, size_t len, const struct shm_obj *o)
{
	snprintf(buf, len, "%s %s", o->r.kind == SHMEM_FILE ? "shared mapping of" : "deleted file",
		 o->name);
}

static void obj_reopen(const struct shm_obj *o, char *what, size_t wlen, int same_host,
		       struct reopen *ro)
{
	obj_what(what, wlen, o);
	/* The process writes it through its mapping: its contents are its
	 * own; on this host the inode says it is the same file, elsewhere
	 * its size and mtime as when it was captured. */
	*ro = (struct reopen){ what, o->name, &o->r.ident, O_RDWR | O_CLOEXEC, 1, !same_host };
}

/* Whether the segment's key (1) or id (2) is taken here, or neither
 * (0).  The segment is made again with both: one here that has either
 * (the original, on this host) would be taken for it.  A few seconds
 * are waited first: after `pfrez -halt | pthaw`, pfrez is ending the
 * original, whose segment goes with it, once it has written the whole
 * stream: from a pipe, pthaw reads the rest of it ahead into a file
 * meanwhile (layer_spool.c), and the seconds count from its end. */
static int sysv_taken(const struct shm_obj *o)
{
	struct shmid_ds ds;
	int taken = 0, spooling = 0;

	for (int ms = 0; ms <= SYSV_WAIT_MS; ms += 50) {
		if (o->sv.key != IPC_PRIVATE && shmget(o->sv.key, 0, 0) >= 0)
			taken = 1;
		else if (shmctl(o->sv.shmid, IPC_STAT, &ds) >= 0 || errno != EINVAL)
			taken = 2;
		else
			return 0;
		if (!spooling && (spooling = layer_spool_input()) < 0)
			return spooling;
		if (!layer_spool_ended())
			ms = 0;
		usleep(50000);
	}
	return taken;
}

/* Before any page: a file mapped shared is there and is the one mapped;
 * a deleted file's directory is there to make its unlinked copy in. */
static int shmem_check(struct kind_check *c, const void *data)
{
	const struct shmem_set *set = data;
	int rc = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct shm_obj *o = &set->o[i];
		char what[SNAP_PATH_MAX + 32], dir[SNAP_PATH_MAX];
		struct reopen ro;
		struct stat sb;
		char *slash;

		if (o->r.kind == SHMEM_SYSV) {
			int taken = sysv_taken(o);

			if (taken < 0)
				rc = kind_problem(c, taken);
			else if (taken == 1)
				rc = kind_problem(c, err_msg(EEXIST, "SysV shared memory segment %d: its key 0x%08x is taken here (the original still runs?)",
							     o->sv.shmid, (unsigned)o->sv.key));
			else if (taken == 2)
				rc = kind_problem(c, err_msg(EEXIST, "SysV shared memory segment %d (key 0x%08x): its id is taken here (the original still runs?)",
							     o->sv.shmid, (unsigned)o->sv.key));
		} else if (o->r.kind == SHMEM_FILE) {
			obj_reopen(o, what, sizeof(what), c->same_host, &ro);
			if (reopen(NULL, c->same_host, &ro))
				rc = kind_problem(c, -ESTALE);
		} else if (o->r.kind == SHMEM_DELETED) {
			snprintf(dir, sizeof(dir), "%s", o->name);
			slash = strrchr(dir, '/');
			if (slash)
				*(slash == dir ? slash + 1 : slash) = '\0';
			if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
				rc = kind_problem(c, err_msg(ENOENT, "deleted file %s: its directory %s is gone: cannot make the unlinked copy there",
							     o->name, dir));
		}
		if (rc && !c->out)
			return rc;
	}
	return rc;
}

/* ---- restore ---- */

#define PCALL(pl, nr, a0, a1, a2, a3) \
	pload_call(pl, nr, (long)(a0), (long)(a1), (long)(a2), (long)(a3), 0, 0, NULL, 0)

/* A new, unlinked file in the deleted file's directory, as the process
 * would make it (its credentials, no symbolic link followed). */
static long make_deleted(struct kind_restore *r, const struct shm_obj *o)
{
	struct open_how how = {
		.flags = O_TMPFILE | O_RDWR | O_CLOEXEC,
		.mode = 0600,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	unsigned char buf[sizeof(how) + SNAP_PATH_MAX];
	char *dir = (char *)buf + sizeof(how), *slash;
	long t;

	memcpy(buf, &how, sizeof(how));
	snprintf(dir, SNAP_PATH_MAX, "%s", o->name);
	slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	t = pload_call(r->pl, SYS_openat2, AT_FDCWD, (long)(r->pl->hello.scratch + sizeof(how)),
		       (long)r->pl->hello.scratch, sizeof(how), 0, 0, buf, sizeof(how) + strlen(dir) + 1);
	if (t < 0)
		return err_sys((int)-t, "deleted file %s: making an unlinked file in %s (O_TMPFILE)",
			       o->name, dir);
	return t;
}

/* Shared anonymous memory as the kernel makes it: a MAP_SHARED |
 * MAP_ANONYMOUS mapping of the object's size, whose unlinked shmem file
 * ("/dev/zero") is opened through /proc/self/map_files (which needs
 * CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN) before the mapping goes: its
 * mappings then show as the original's did.  -errno when it cannot. */
static long make_anon(struct kind_restore *r, const struct shm_obj *o)
{
	long len = (long)o->r.size, a, t;
	char path[96];
	size_t n;

	if (!len || o->r.size % REC_PAGE_SIZE)
		return -EINVAL;
	a = pload_call(r->pl, SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		       0, NULL, 0);
	if (a < 0 && a > -4096)
		return a;
	n = (size_t)snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", a, a + len);
	t = pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, O_RDWR | O_CLOEXEC, 0,
		       0, 0, path, n + 1);
	PCALL(r->pl, SYS_munmap, a, len, 0, 0);
	return t;
}

/* A SysV segment with the original's key and, where pload may set
 * /proc/sys/kernel/shm_next_id (CAP_SYS_ADMIN over the IPC namespace),
 * its id; its owner and mode; and an fd on it (its shmem file, through
 * a passing attach's /proc/self/map_files) to fill it with. */
static long make_sysv(struct kind_restore *r, struct shm_obj *o)
{
	static const char next[] = "/proc/sys/kernel/shm_next_id";
	struct shmid_ds ds = { 0 };
	char id[24], path[96];
	long fd, t, a, ret;
	size_t n;

	fd = pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, O_WRONLY | O_CLOEXEC, 0,
			0, 0, next, sizeof(next));
	if (fd >= 0) {
		n = (size_t)snprintf(id, sizeof(id), "%d", o->sv.shmid);
		pload_call(r->pl, SYS_write, fd, (long)r->pl->hello.scratch, (long)n, 0, 0, 0, id, n);
	}
	t = PCALL(r->pl, SYS_shmget, o->sv.key, o->r.size, IPC_CREAT | IPC_EXCL | 0600, 0);
	if (fd >= 0) {
		/* The kernel forgets it once used; not if shmget failed. */
		if (t < 0)
			pload_call(r->pl, SYS_write, fd, (long)r->pl->hello.scratch, 2, 0, 0, 0, "-1", 2);
		PCALL(r->pl, SYS_close, fd, 0, 0, 0);
	}
	if (t < 0)
		return err_sys((int)-t, "SysV shared memory segment %d (key 0x%08x): shmget", o->sv.shmid,
			       (unsigned)o->sv.key);
	o->sv_new = t;
	ds.shm_perm.uid = o->sv.uid;
	ds.shm_perm.gid = o->sv.gid;
	ds.shm_perm.mode = (unsigned short)(o->sv.mode & 0777);
	ret = pload_call(r->pl, SYS_shmctl, t, IPC_SET, (long)r->pl->hello.scratch, 0, 0, 0, &ds,
			 sizeof(ds));
	if (ret < 0) {
		PCALL(r->pl, SYS_shmctl, t, IPC_RMID, 0, 0);
		return err_sys((int)-ret, "SysV shared memory segment %d: IPC_SET owner %u:%u mode %o",
			       o->sv.shmid, o->sv.uid, o->sv.gid, o->sv.mode & 0777);
	}
	a = PCALL(r->pl, SYS_shmat, t, 0, 0, 0);
	if (a < 0 && a > -4096) {
		PCALL(r->pl, SYS_shmctl, t, IPC_RMID, 0, 0);
		return err_sys((int)-a, "SysV shared memory segment %d: shmat", o->sv.shmid);
	}
	n = (size_t)snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", a,
			     a + (long)((o->r.size + REC_PAGE_SIZE - 1) & ~(uint64_t)(REC_PAGE_SIZE - 1)));
	fd = pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, O_RDWR | O_CLOEXEC, 0, 0,
			0, path, n + 1);
	PCALL(r->pl, SYS_shmdt, a, 0, 0, 0);
	if (fd < 0) {
		PCALL(r->pl, SYS_shmctl, t, IPC_RMID, 0, 0);
		return err_sys((int)-fd, "SysV shared memory segment %d: opening it", o->sv.shmid);
	}
	return fd;
}

long shmem_sysv_id(const struct snap *s, uint32_t id, int *dest)
{
	const struct shmem_set *set = set_of(s), *oset;
	const struct snap *os;
	const struct shm_obj *o;
	uint32_t old;
	pid_t seen;
	long k;

	if (!set || id >= set->n)
		return err_msg(EBADMSG, "memory object %u: not in the snapshot", id);
	o = &set->o[id];
	/* Made by an earlier process of the tree: the id it got there. */
	for (size_t i = 0; o->r.kind == SHMEM_TREE && (os = tshare_restored_nth(i, &old, &seen)) &&
			   os != s; i++)
		if ((k = shmem_find(os, o->r.ident.dev, o->r.ident.ino)) >= 0 &&
		    (oset = set_of(os))->o[k].r.kind == SHMEM_SYSV)
			o = &oset->o[k];
	if (o->r.kind != SHMEM_SYSV)
		return -ENODATA;
	if (o->sv_new < 0)
		return err_msg(EBADMSG, "SysV shared memory segment %d: not made", o->sv.shmid);
	*dest = !!(o->sv.mode & SHM_DEST);
	return o->sv_new;
}

/* An object an earlier process of the tree made (SHMEM_TREE): the very
 * one, opened through that process's fd of it or one of its mappings
 * (/proc/PID/map_files: CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, which
 * make_anon needs too). */
static long tree_object(struct kind_restore *r, const struct shm_obj *o)
{
	const struct snap *os;
	char link[96], what[64];
	uint32_t old;
	pid_t seen;
	long id, t = -ENOENT;

	snprintf(what, sizeof(what), "memory object %u (of the tree)", o->r.id);
	for (size_t i = 0; (os = tshare_restored_nth(i, &old, &seen)) && os != r->snap; i++) {
		if ((id = shmem_find(os, o->r.ident.dev, o->r.ident.ino)) < 0 ||
		    set_of(os)->o[id].r.kind == SHMEM_TREE)
			continue;
		link[0] = '\0';
		for (size_t k = 0; !link[0] && k < os->nfiles; k++) {
			const struct rec_file *f = &os->files[k].r;

			if ((f->kind == FD_MEMFD || f->kind == FD_DELETED) && f->ident.dev == o->r.ident.dev &&
			    f->ident.ino == o->r.ident.ino)
				snprintf(link, sizeof(link), "fd/%d", os->files[k].first_fd);
		}
		for (size_t k = 0; !link[0] && k < os->nvmas; k++)
			if ((os->vmas[k].r.flags & VMA_SHMEM) && os->vmas[k].r.shmem == (uint32_t)id)
				snprintf(link, sizeof(link), "map_files/%llx-%llx",
					 (unsigned long long)os->vmas[k].r.start,
					 (unsigned long long)os->vmas[k].r.end);
		if (!link[0])
			return err_msg(EBADMSG, "%s: process %u has it, but neither maps it nor holds it",
				       what, old);
		t = tshare_open_link(r, seen, link, O_RDWR, what);
		if (t == -EACCES)
			t = tshare_open_link(r, seen, link, O_RDONLY, what);
		return t;
	}
	return err_msg(EBADMSG, "%s: no earlier process of the tree has it", what);
}

static long make_object(struct kind_restore *r, const struct shm_obj *o)
{
	char what[SNAP_PATH_MAX + 32];
	const char *name = o->r.kind == SHMEM_ANON ? "shmem" : o->name;
	struct reopen ro;
	long t, ret;

	switch (o->r.kind) {
	case SHMEM_FILE:
		obj_reopen(o, what, sizeof(what), r->same_host, &ro);
		t = reopen(r->pl, r->same_host, &ro);
		/* Held only for reading (an fd of a file unlinked from one
		 * name, linked at another), mapped shared read-only at most. */
		if (t == -EACCES || t == -EROFS) {
			ro.flags = O_RDONLY | O_CLOEXEC;
			t = reopen(r->pl, r->same_host, &ro);
		}
		return t;
	case SHMEM_TREE:
		return tree_object(r, o);
	case SHMEM_SYSV:
		return make_sysv(r, (struct shm_obj *)o);
	case SHMEM_DELETED:
		t = make_deleted(r, o);
		break;
	case SHMEM_ANON:
		t = make_anon(r, o);
		if (t >= 0)
			return t;
		/* fall through */
	default:
		/* Otherwise shared anonymous memory becomes a memfd: the same
		 * shmem, only named differently in /proc/PID/maps. */
		t = pload_call(r->pl, SYS_memfd_create, (long)r->pl->hello.scratch,
			       MFD_CLOEXEC | (o->r.kind == SHMEM_MEMFD ? MFD_ALLOW_SEALING : 0), 0, 0,
			       0, 0, name, strlen(name) + 1);
		if (t < 0)
			return err_sys((int)-t, "memory object %u: memfd_create", o->r.id);
	}
	if (t < 0)
		return t;
	ret = PCALL(r->pl, SYS_ftruncate, t, o->r.size, 0, 0);
	if (ret < 0) {
		PCALL(r->pl, SYS_close, t, 0, 0, 0);
		return err_sys((int)-ret, "memory object %u: ftruncate to %llu bytes", o->r.id,
			       (unsigned long long)o->r.size);
	}
	return t;
}

static int restore_space(struct kind_restore *r, struct shmem_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct shm_obj *o = &set->o[i];
		long t = make_object(r, o);

		if (t >= 0)
			t = fd_aside(r, r->snap, t);
		if (t < 0)
			return (int)t;
		o->pl_fd = t;
	}
	return 0;
}

static int shmem_restore(struct kind_restore *r, const void *data)
{
	const struct shmem_set *cset = data;
	struct shmem_set *set = (struct shmem_set *)cset;	/* its fds */
	long ret;

	if (r->stage == KIND_STAGE_SPACE)
		return restore_space(r, set);
	for (size_t i = 0; i < set->n; i++) {
		struct shm_obj *o = &set->o[i];

		if (o->pl_fd < 0)
			continue;
		/* A memfd's mode before its seals: F_SEAL_EXEC forbids
		 * changing its exec bits (MFD_NOEXEC_SEAL made it 0666). */
		if (r->stage == KIND_STAGE_MM && o->r.kind == SHMEM_MEMFD) {
			ret = PCALL(r->pl, SYS_fchmod, o->pl_fd, o->r.mode & 07777, 0, 0);
			if (ret < 0)
				return err_sys((int)-ret, "memfd %s: fchmod %o", o->name, o->r.mode & 07777);
		}
		/* Once the contents are in: the seals (F_SEAL_WRITE needs no
		 * writable shared mapping: shmem_map_fd made the read-only
		 * ones from a read-only fd). */
		if (r->stage == KIND_STAGE_MM && o->r.seals) {
			ret = PCALL(r->pl, SYS_fcntl, o->pl_fd, F_ADD_SEALS, o->r.seals, 0);
			if (ret < 0)
				return err_sys((int)-ret, "memfd %s: F_ADD_SEALS 0x%x", o->name, o->r.seals);
		}
		/* Once its fds are made: a deleted file's mode (the process
		 * may not have been able to reopen it with it), and pload's
		 * own fd goes. */
		if (r->stage == KIND_STAGE_TASK) {
			if (o->r.kind == SHMEM_DELETED) {
				ret = PCALL(r->pl, SYS_fchmod, o->pl_fd, o->r.mode & 07777, 0, 0);
				if (ret < 0)
					return err_sys((int)-ret, "memory object %s: fchmod %o", o->name,
						       o->r.mode & 07777);
			}
			PCALL(r->pl, SYS_close, o->pl_fd, 0, 0, 0);
			o->pl_fd = -1;
		}
	}
	return 0;
}

static const struct shm_obj *restored(const struct snap *s, uint32_t id)
{
	const struct shmem_set *set = set_of(s);

	if (!set || id >= set->n)
		return err_msg(EBADMSG, "memory object %u: not in the snapshot", id), NULL;
	if (set->o[id].pl_fd < 0)
		return err_msg(EBADMSG, "memory object %u: not made", id), NULL;
	return &set->o[id];
}

static long reopen_self(struct kind_restore *r, long fd, int flags)
{
	char path[64];
	size_t n = (size_t)snprintf(path, sizeof(path), "/proc/self/fd/%ld", fd);

	return pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, flags, 0, 0, 0,
			  path, n + 1);
}

long shmem_map_fd(struct kind_restore *r, const struct snap *s, uint32_t id, uint32_t prot)
{
	const struct shm_obj *o = restored(s, id);
	long t;

	if (!o)
		return -EBADMSG;
	/* A mapping made from an fd open for writing may become writable:
	 * the kernel counts it as one, and refuses F_SEAL_WRITE while it
	 * is there.  The process's read-only mappings of a write-sealed
	 * memfd could not become writable either. */
	if (!(prot & PROT_WRITE) && (o->r.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		t = reopen_self(r, o->pl_fd, O_RDONLY | O_CLOEXEC);
	else
		t = PCALL(r->pl, SYS_fcntl, o->pl_fd, F_DUPFD_CLOEXEC, 0, 0);
	return t < 0 ? err_sys((int)-t, "memory object %u (%s)", id, o->name) : t;
}

long shmem_open_file(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	long id = shmem_find(s, f->r.ident.dev, f->r.ident.ino), t, ret;
	const struct shm_obj *o = id >= 0 ? restored(s, (uint32_t)id) : NULL;

	if (!o)
		return err_msg(EBADMSG, "fd %d: %s: no memory object for it", f->first_fd, f->path);
	/* The magic link opens the object itself: a new open file
	 * description with the process's flags. */
	/* An O_TMPFILE's flags say how it was made (O_TMPFILE holds
	 * O_DIRECTORY): not how to open it. */
	t = reopen_self(r, o->pl_fd, (int)(f->r.flags & ~(uint32_t)(O_CREAT | O_TRUNC | O_EXCL | O_TMPFILE |
								   O_DIRECTORY | O_NOFOLLOW | O_PATH)) | O_CLOEXEC);
	if (t < 0)
		return err_sys((int)-t, "fd %d: reopening %s", f->first_fd, f->path);
	if (f->r.pos) {
		ret = PCALL(r->pl, SYS_lseek, t, f->r.pos, SEEK_SET, 0);
		if (ret < 0) {
			PCALL(r->pl, SYS_close, t, 0, 0, 0);
			return err_sys((int)-ret, "fd %d: %s: seek", f->first_fd, f->path);
		}
	}
	return t;
}

int shmem_data_put(struct pload *pl, const struct snap *s, const unsigned char *p, size_t len)
{
	const struct shmem_set *set = set_of(s);
	const struct shm_obj *o;
	struct rec_filedata h;
	long ret;

	if (len < sizeof(h))
		return err_msg(EBADMSG, "filedata record: too short");
	memcpy(&h, p, sizeof(h));
	if (!set || h.id >= set->n)
		return err_msg(EBADMSG, "filedata record: memory object %u is not in the snapshot", h.id);
	o = &set->o[h.id];
	if (o->r.kind == SHMEM_FILE || o->r.kind == SHMEM_TREE || !h.len || h.len > REC_PAGES_MAX * REC_PAGE_SIZE ||
	    len != sizeof(h) + h.len || h.offset % REC_PAGE_SIZE || h.offset > o->r.size ||
	    h.len > o->r.size - h.offset)
		return err_msg(EBADMSG, "filedata record: malformed or outside memory object %u", h.id);
	if (!pl)
		return 0;
	if (o->pl_fd < 0)
		return err_msg(EBADMSG, "filedata record: memory object %u not made", h.id);
	ret = pload_call(pl, SYS_pwrite64, o->pl_fd, (long)pl->hello.scratch, h.len, (long)h.offset, 0, 0,
			 p + sizeof(h), h.len);
	if (ret != (long)h.len)
		return err_sys(ret < 0 ? (int)-ret : EIO, "memory object %u: writing %u bytes at %llu", h.id,
			       h.len, (unsigned long long)h.offset);
	return 0;
}

/* ---- print ---- */

static void shmem_print(FILE *f, const void *data)
{
	static char e[4 * SNAP_PATH_MAX + 1];
	const struct shmem_set *set = data;

	fprintf(f, "Memory objects:\n");
	for (size_t i = 0; i < set->n; i++) {
		const struct shm_obj *o = &set->o[i];

		fprintf(f, "  %3u %-7s size %llu mode %04o seals 0x%x inode %llu %s\n", o->r.id,
			kind_names[o->r.kind], (unsigned long long)o->r.size, o->r.mode & 07777,
			o->r.seals, (unsigned long long)o->r.ident.ino, snap_esc(e, sizeof(e), o->name));
		if (o->r.kind == SHMEM_SYSV)
			fprintf(f, "      key 0x%08x shmid %d owner %u:%u mode %04o%s\n", (unsigned)o->sv.key,
				o->sv.shmid, o->sv.uid, o->sv.gid, o->sv.mode & 0777,
				o->sv.mode & SHM_DEST ? " marked for deletion" : "");
	}
}

static void shmem_print_json(struct json *j, const void *data)
{
	const struct shmem_set *set = data;

	json_array_begin(j, "objects");
	for (size_t i = 0; i < set->n; i++) {
		const struct shm_obj *o = &set->o[i];

		json_object_begin(j, NULL);
		json_uint(j, "id", o->r.id);
		json_str(j, "kind", kind_names[o->r.kind]);
		json_uint(j, "size", o->r.size);
		json_uint(j, "mode", o->r.mode & 07777);
		json_hex(j, "seals", o->r.seals);
		json_str(j, "name", o->name);
		snap_ident_json(j, "ident", &o->r.ident);
		if (o->r.kind == SHMEM_SYSV) {
			json_object_begin(j, "sysv");
			json_hex(j, "key", (uint32_t)o->sv.key);
			json_int(j, "shmid", o->sv.shmid);
			json_uint(j, "uid", o->sv.uid);
			json_uint(j, "gid", o->sv.gid);
			json_uint(j, "mode", o->sv.mode & 0777);
			json_bool(j, "removed", !!(o->sv.mode & SHM_DEST));
			json_object_end(j);
		}
		json_object_end(j);
	}
	json_array_end(j);
}

/* pfrez: when -halt ends the original, its SysV segments go with it
 * (marked for deletion: gone once its processes are, their key free at
 * once), as when it ends itself: the copy makes them again. */
static void shmem_settle(void *data, int ended)
{
	const struct shmem_set *set = data;
	struct shmid_ds ds;

	for (size_t i = 0; ended && set && i < set->n; i++) {
		const struct shm_obj *o = &set->o[i];

		if (o->r.kind == SHMEM_SYSV && !(o->sv.mode & SHM_DEST) &&
		    shmctl(o->sv.shmid, IPC_STAT, &ds) == 0 && ds.shm_perm.__key == o->sv.key)
			shmctl(o->sv.shmid, IPC_RMID, NULL);
	}
}

const struct kind_ops kind_shmem = {
	.name = "shmem",
	.type = REC_SHMEM,
	.flags = KIND_MANY,
	.stages = KIND_AT(KIND_STAGE_SPACE) | KIND_AT(KIND_STAGE_MM) | KIND_AT(KIND_STAGE_TASK),
	.capture = shmem_capture,
	.write = shmem_write,
	.take = shmem_take,
	.verify = shmem_verify,
	.check = shmem_check,
	.restore = shmem_restore,
	.print = shmem_print,
	.print_json = shmem_print_json,
	.free = shmem_free,
	.settle = shmem_settle,
};
