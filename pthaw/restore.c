/* restore.c: rebuilds a snapshot's process inside pload.
 *
 * Order matters: pload's own leftovers go first, the vdso and vvar pages
 * move to where the program expects them, the mappings are laid out
 * writable, the pages stream in, and only once the end record verified
 * does anything else of the process come back (files, signals, mm
 * fields); the registers come last. */
#include "restore.h"
#include "crc32c.h"
#include "err.h"
#include "inject.h"
#include "pagepipe.h"
#include "proc.h"
#include "supervise.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/prctl.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#define PCALL(r, nr, a0, a1, a2, a3, a4, a5) \
	pload_call(&(r)->pl, nr, (long)(a0), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), NULL, 0)

static int overlaps_pload(uint64_t start, uint64_t end)
{
	return start < PLOAD_BASE + PLOAD_SPAN && end > PLOAD_BASE;
}

static int check_files(const struct snap *s)
{
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct snap_vma *v = &s->vmas[i];
		struct stat sb;

		if (!(v->r.flags & VMA_FILE) || (v->r.flags & VMA_EMBED))
			continue;
		if (stat(v->name, &sb) < 0)
			return err_sys(errno, "%s (mapped by the process; capture with -self-contained to carry it)",
				       v->name);
		if ((uint64_t)sb.st_size != v->r.file_size || sb.st_mtim.tv_sec != v->r.mtime_sec ||
		    (uint32_t)sb.st_mtim.tv_nsec != v->r.mtime_nsec)
			return err_msg(ESTALE, "%s changed since the snapshot was taken (size or mtime differ); capture with -self-contained",
				       v->name);
	}
	return 0;
}

int restore_read_meta(struct restore *r, uint32_t *type, const unsigned char **p, size_t *len)
{
	struct snap *s = &r->snap;
	int rc;

	for (;;) {
		rc = rec_read(r->rd, type, p, len);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return err_msg(EBADMSG, "stream ended early");
		if (*type == REC_PAGES || *type == REC_END)
			break;
		rc = snap_take(s, *type, *p, *len);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			rc = rec_unknown(*type);
			if (rc < 0)
				return rc;
			fprintf(stderr, "pthaw: warning: skipping unknown optional record type 0x%x\n", *type);
		}
	}
	rc = snap_check(s);
	if (rc)
		return rc;
	if (r->check_only)
		return 0;	/* restore_check() reports every problem */
	for (size_t i = 0; i < s->nvmas; i++)
		if (overlaps_pload(s->vmas[i].r.start, s->vmas[i].r.end))
			return err_msg(EADDRINUSE, "the snapshot has a mapping at 0x%llx-0x%llx, inside the range pload needs (0x%llx-0x%llx): cannot restore it",
				       (unsigned long long)s->vmas[i].r.start, (unsigned long long)s->vmas[i].r.end,
				       PLOAD_BASE, PLOAD_BASE + PLOAD_SPAN);
	return check_files(s);
}

struct special {
	uint64_t start, end;
	uint32_t kind;
};

static uint32_t special_kind(const char *name)
{
	if (strcmp(name, "[vdso]") == 0)
		return VMA_VDSO;
	if (strcmp(name, "[vvar]") == 0)
		return VMA_VVAR;
	if (strcmp(name, "[vvar_vclock]") == 0)
		return VMA_VVAR_VCLOCK;
	if (strcmp(name, "[vsyscall]") == 0)
		return VMA_VSYSCALL;
	return 0;
}

/* The vdso the snapshot's code calls into must be the one this kernel
 * provides: pthaw's own, byte for byte. */
static int check_vdso(const struct snap_vma *v)
{
	struct vma *m;
	size_t n;
	int rc = maps_read(getpid(), &m, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].path, "[vdso]") != 0)
			continue;
		if (m[i].end - m[i].start != v->r.end - v->r.start ||
		    crc32c(0, (const void *)m[i].start, m[i].end - m[i].start) != v->r.content_crc)
			rc = err_msg(ENOEXEC, "the snapshot was taken under another kernel (its vdso differs from this one's): not supported yet");
		maps_free(m, n);
		return rc;
	}
	maps_free(m, n);
	return err_msg(ENOEXEC, "this system has no vdso");
}

/* Clears pload's address space down to its own range, and moves the
 * kernel's special mappings to where the snapshot had them. */
static int prepare_space(struct restore *r)
{
	struct special sp[8];
	size_t nsp = 0, n;
	struct vma *m;
	uint64_t low = ~0ull;
	long ret;
	int rc = maps_read(r->pl.pid, &m, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t kind = special_kind(m[i].path);

		if (overlaps_pload(m[i].start, m[i].end) || kind == VMA_VSYSCALL)
			continue;
		if (kind) {
			if (nsp < 8)
				sp[nsp++] = (struct special){ m[i].start, m[i].end, kind };
			if (m[i].start < low)
				low = m[i].start;
			continue;
		}
		ret = PCALL(r, SYS_munmap, m[i].start, m[i].end - m[i].start, 0, 0, 0, 0);
		if (ret < 0)
			rc = err_sys((int)-ret, "loader: munmap 0x%llx", (unsigned long long)m[i].start);
	}
	maps_free(m, n);
	if (rc)
		return rc;
	/* Park first: a target address may be where another special is. */
	for (size_t i = 0; i < nsp; i++) {
		uint64_t to = PLOAD_PARK + (sp[i].start - low);

		ret = PCALL(r, SYS_mremap, sp[i].start, sp[i].end - sp[i].start, sp[i].end - sp[i].start,
			    MREMAP_MAYMOVE | MREMAP_FIXED, to, 0);
		if (ret != (long)to)
			return err_sys((int)-ret, "loader: moving its vdso/vvar aside");
		sp[i].end = to + (sp[i].end - sp[i].start);
		sp[i].start = to;
	}
	for (size_t i = 0; i < r->snap.nvmas; i++) {
		const struct snap_vma *v = &r->snap.vmas[i];
		uint32_t kind = v->r.flags & (VMA_VDSO | VMA_VVAR | VMA_VVAR_VCLOCK);
		size_t j;

		if (!kind)
			continue;
		if (kind == VMA_VDSO && (rc = check_vdso(v)))
			return rc;
		for (j = 0; j < nsp && sp[j].kind != kind; j++)
			;
		if (j == nsp || sp[j].end - sp[j].start != v->r.end - v->r.start)
			return err_msg(ENOEXEC, "the snapshot's %s does not match this kernel's: taken under another kernel?",
				       v->name);
		ret = PCALL(r, SYS_mremap, sp[j].start, sp[j].end - sp[j].start, sp[j].end - sp[j].start,
			    MREMAP_MAYMOVE | MREMAP_FIXED, v->r.start, 0);
		if (ret != (long)v->r.start)
			return err_sys((int)-ret, "loader: moving %s to 0x%llx", v->name,
				       (unsigned long long)v->r.start);
		sp[j].kind = 0;
	}
	/* Specials the snapshot did not have (another kernel's layout)
	 * would be left in pload's range and vanish with it. */
	return 0;
}

/* ---- reopening files as the process would, and checking them ---- */

/* Why the file found (sb) is not the one recorded, or NULL.  Device and
 * inode numbers mean something only on the same boot of the same machine
 * (by_inode); size and mtime only where nothing may have written the file
 * since the capture (content). */
static const char *ident_differs(const struct rec_ident *want, const struct stat *sb,
				 int by_inode, int content)
{
	if ((sb->st_mode & S_IFMT) != (want->mode & S_IFMT))
		return "file type changed";
	if (by_inode && (sb->st_dev != want->dev || sb->st_ino != want->ino))
		return "inode changed";
	if ((S_ISCHR(want->mode) || S_ISBLK(want->mode)) && sb->st_rdev != want->rdev)
		return "device number changed";
	if (content && (uint64_t)sb->st_size != want->size)
		return "size changed";
	if (content && (sb->st_mtim.tv_sec != want->mtime_sec ||
			(uint32_t)sb->st_mtim.tv_nsec != want->mtime_nsec))
		return "modification time changed";
	return NULL;
}

struct reopen {
	const char *what;		/* "fd 3", "working directory", ... */
	const char *path;
	const struct rec_ident *id;
	int flags;			/* how the process had it open; O_PATH: keep the path fd */
	int by_inode, content;		/* what must be as recorded (ident_differs) */
};

/* Opens o->path the way the restored process would: with its credentials
 * (as_process() set them in pload, check_as_process() in pthaw) and
 * following no symbolic link on any component, so that a name replaced by
 * a link since the capture leads nowhere.  The first open is O_PATH: it
 * pins the inode without opening it (no side effect of a device, no wait
 * on a FIFO planted there), and the file is checked to be the one that was
 * open before it is reopened, through its /proc/self/fd entry, with the
 * process's flags.  In pload, returns the fd there; for -check (in_pload
 * 0), opens in pthaw and returns 0.  -errno with the message set. */
static long reopen(struct restore *r, const struct reopen *o, int in_pload)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (o->flags & O_DIRECTORY),
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	unsigned char buf[sizeof(how) + 4096];
	size_t n = strlen(o->path);
	char fdpath[64];
	const char *why;
	struct stat sb;
	long t, fd;
	int rc = 0;

	if (n >= sizeof(buf) - sizeof(how))
		return err_msg(ENAMETOOLONG, "%s: %s: name too long", o->what, o->path);
	if (in_pload) {
		memcpy(buf, &how, sizeof(how));
		memcpy(buf + sizeof(how), o->path, n + 1);
		t = pload_call(&r->pl, SYS_openat2, AT_FDCWD, (long)(r->pl.hello.scratch + sizeof(how)),
			       (long)r->pl.hello.scratch, sizeof(how), 0, 0, buf, sizeof(how) + n + 1);
		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%ld", r->pl.pid, t);
		if (t >= 0 && stat(fdpath, &sb) < 0)
			rc = err_sys(errno, "%s: %s: stat", o->what, o->path);
	} else {
		t = syscall(SYS_openat2, AT_FDCWD, o->path, &how, sizeof(how));
		if (t < 0)
			t = -errno;
		else if (fstat((int)t, &sb) < 0)
			rc = err_sys(errno, "%s: %s: stat", o->what, o->path);
	}
	if (t == -ELOOP)
		return err_msg(ELOOP, "%s: %s is not the file that was open (a symbolic link is on its path)",
			       o->what, o->path);
	if (t < 0)
		return err_sys((int)-t, "%s: %s", o->what, o->path);
	if (!rc && (why = ident_differs(o->id, &sb, o->by_inode && r->same_host, o->content)))
		rc = err_msg(ESTALE, "%s: %s is not the file that was open (%s)", o->what, o->path, why);
	if (!in_pload) {
		close((int)t);
		return rc;
	}
	if (rc || (o->flags & O_PATH)) {
		if (rc)
			PCALL(r, SYS_close, t, 0, 0, 0, 0, 0);
		return rc ? rc : t;
	}
	/* The magic link opens the pinned inode itself, not a name. */
	n = (size_t)snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%ld", t);
	fd = pload_call(&r->pl, SYS_openat, AT_FDCWD, (long)r->pl.hello.scratch,
			o->flags & ~(O_PATH | O_NOFOLLOW | O_CREAT | O_TRUNC | O_EXCL), 0, 0, 0,
			fdpath, n + 1);
	PCALL(r, SYS_close, t, 0, 0, 0, 0, 0);
	if (fd < 0)
		return err_sys((int)-fd, "%s: %s", o->what, o->path);
	return fd;
}

static int same_groups(const struct snap *s)
{
	gid_t g[256];
	int n = getgroups(256, g);

	if (n < 0 || (uint32_t)n != s->creds.ngroups)
		return 0;
	for (int i = 0; i < n; i++)
		if (g[i] != s->groups[i])
			return 0;
	return 1;
}

/* Whether pthaw (and so pload, its child) already has the process's
 * credentials: then nothing needs changing, and no privilege either. */
static int has_process_creds(const struct snap *s)
{
	const struct rec_creds *c = &s->creds;
	uid_t u[3];
	gid_t g[3];

	getresuid(&u[0], &u[1], &u[2]);
	getresgid(&g[0], &g[1], &g[2]);
	return u[0] == c->uid && u[1] == c->euid && u[2] == c->suid && u[1] == c->fsuid &&
	       g[0] == c->gid && g[1] == c->egid && g[2] == c->sgid && g[1] == c->fsgid &&
	       same_groups(s);
}

static int needs_root(const struct snap *s)
{
	return err_msg(EPERM, "the process ran as uid %u gid %u: restoring it needs root (or pthaw running with exactly those credentials)",
		       s->creds.uid, s->creds.gid);
}

/* From here on pload opens files with the process's credentials: its
 * groups, and its fsuid/fsgid, which are what the kernel checks on path
 * lookup and open (a non-zero fsuid also takes root's file capabilities,
 * CAP_DAC_OVERRIDE and the like, out of the effective set, while the
 * other capabilities pthaw still needs stay).  restore_creds() makes them
 * the whole of the process's credentials at the end. */
static int as_process(struct restore *r)
{
	const struct snap *s = &r->snap;
	long ret;

	if (has_process_creds(s))
		return 0;
	ret = pload_call(&r->pl, SYS_setgroups, s->creds.ngroups, (long)r->pl.hello.scratch, 0, 0, 0, 0,
			 s->groups, s->creds.ngroups * sizeof(*s->groups));
	if (ret == -EPERM)
		return needs_root(s);
	if (ret < 0)
		return err_sys((int)-ret, "loader: setgroups");
	/* setfsuid and setfsgid answer with the old value, never an error:
	 * asking again with -1 (no change) tells whether it took. */
	PCALL(r, SYS_setfsgid, s->creds.fsgid, 0, 0, 0, 0, 0);
	PCALL(r, SYS_setfsuid, s->creds.fsuid, 0, 0, 0, 0, 0);
	if (PCALL(r, SYS_setfsgid, -1, 0, 0, 0, 0, 0) != s->creds.fsgid ||
	    PCALL(r, SYS_setfsuid, -1, 0, 0, 0, 0, 0) != s->creds.fsuid)
		return needs_root(s);
	return 0;
}

/* The process's credentials, last of all that needs pthaw's privileges
 * (limits, the memory layout fields) and before the seccomp filters.
 * Groups first, gids next: both need CAP_SETGID, which setresuid away
 * from root takes.  With a caps record, setresuid must take nothing:
 * lib/kind/caps.c sets the exact capability sets next, and needs
 * cap_setpcap for the bounding set and securebits.  SECBIT_NO_SETUID_FIXUP
 * keeps the kernel from clearing them on the uid change (caps.c then sets
 * the process's own securebits); if pthaw cannot set it, the sets are
 * what setresuid leaves and caps.c refuses what it cannot give. */
static int restore_creds(struct restore *r)
{
	const struct rec_creds *c = &r->snap.creds;
	long ret, bits;

	if (has_process_creds(&r->snap))
		return 0;
	bits = r->snap.kind[KIND_CAPS] ? PCALL(r, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0) : -1;
	if (bits >= 0)
		PCALL(r, SYS_prctl, PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0, 0, 0, 0);
	ret = PCALL(r, SYS_setresgid, c->gid, c->egid, c->sgid, 0, 0, 0);
	if (!ret)
		PCALL(r, SYS_setfsgid, c->fsgid, 0, 0, 0, 0, 0);
	if (!ret)
		ret = PCALL(r, SYS_setresuid, c->uid, c->euid, c->suid, 0, 0, 0);
	if (!ret)
		PCALL(r, SYS_setfsuid, c->fsuid, 0, 0, 0, 0, 0);
	if (ret == -EPERM)
		return needs_root(&r->snap);
	if (ret < 0)
		return err_sys((int)-ret, "loader: restoring the credentials");
	if (PCALL(r, SYS_setfsgid, -1, 0, 0, 0, 0, 0) != c->fsgid ||
	    PCALL(r, SYS_setfsuid, -1, 0, 0, 0, 0, 0) != c->fsuid)
		return err_msg(EPERM, "loader: fsuid %u / fsgid %u could not be restored", c->fsuid, c->fsgid);
	/* Changing the effective ids made the process non-dumpable: its owner
	 * could no longer read its /proc files or debug it.  Its owner could
	 * before, unless it ran with mixed ids (setuid), which stays so. */
	if (c->uid == c->euid && c->euid == c->suid && c->gid == c->egid && c->egid == c->sgid)
		PCALL(r, SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0, 0);
	return 0;
}

/* A mapped file: its pages come from it, so its contents must be as they
 * were (mappings carry no inode numbers). */
static void vma_reopen(const struct snap_vma *v, struct rec_ident *id, struct reopen *o)
{
	memset(id, 0, sizeof(*id));
	id->mode = S_IFREG;
	id->size = v->r.file_size;
	id->mtime_sec = v->r.mtime_sec;
	id->mtime_nsec = v->r.mtime_nsec;
	*o = (struct reopen){ "mapped file", v->name, id, O_RDONLY | O_CLOEXEC, 0, 1 };
}

static int written_by_process(const struct snap *s, const struct rec_ident *id)
{
	for (size_t i = 0; i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_FILE && s->files[i].r.ident.dev == id->dev &&
		    s->files[i].r.ident.ino == id->ino && (s->files[i].r.flags & O_ACCMODE) != O_RDONLY)
			return 1;
	return 0;
}

/* What reopening open file f means: its path (a path under /proc/OLDPID
 * names the copy's own directory, pid), and what must be as recorded: the
 * inode always (on the same host), the contents of a file the process
 * only reads (nothing of its own may have written it since).  Messages
 * name it by its lowest fd. */
static void file_reopen(const struct snap *s, const struct snap_file *f, pid_t pid, char *what,
			size_t wlen, char *path, size_t plen, struct reopen *o)
{
	const struct rec_file *d = &f->r;
	int flags = (int)d->flags & ~(O_CREAT | O_TRUNC | O_EXCL);

	snprintf(what, wlen, "fd %d", f->first_fd);
	if (d->file_flags & FDF_PROC_SELF)
		snprintf(path, plen, "/proc/%d%s", (int)pid, f->path + 6 + strspn(f->path + 6, "0123456789"));
	else
		snprintf(path, plen, "%s", f->path);
	if (d->kind == FD_DIR)
		flags |= O_DIRECTORY;
	*o = (struct reopen){ what, path, &d->ident, flags | O_NOCTTY, !(d->file_flags & FDF_PROC_SELF), 0 };
	o->content = d->kind == FD_FILE && !(d->file_flags & (FDF_PROC_SELF | FDF_PSEUDO)) &&
		     (d->flags & O_ACCMODE) == O_RDONLY && !written_by_process(s, &d->ident);
}

static int map_vmas(struct restore *r)
{
	struct snap *s = &r->snap;

	r->added_write = calloc(s->nvmas ? s->nvmas : 1, 1);
	if (!r->added_write)
		return err_sys(ENOMEM, "vma list");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct snap_vma *v = &s->vmas[i];
		uint32_t fl = v->r.flags, prot = v->r.prot;
		uint64_t len = v->r.end - v->r.start;
		long ret, fd = -1;
		int mflags = MAP_FIXED;

		if (fl & VMA_SPECIAL)
			continue;
		if (!(fl & VMA_SHARED) && !(prot & PROT_WRITE)) {
			prot |= PROT_WRITE;	/* to fill it; taken back at the end */
			r->added_write[i] = 1;
		}
		if ((fl & VMA_FILE) && !(fl & VMA_EMBED)) {
			struct rec_ident id;
			struct reopen o;

			vma_reopen(v, &id, &o);
			fd = reopen(r, &o, 1);
			if (fd < 0)
				return (int)fd;
			mflags |= (fl & VMA_SHARED) ? MAP_SHARED : MAP_PRIVATE;
		} else {
			mflags |= MAP_PRIVATE | MAP_ANONYMOUS;
			if (fl & VMA_STACK)
				mflags |= MAP_GROWSDOWN;
		}
		ret = PCALL(r, SYS_mmap, v->r.start, len, prot, mflags, fd, fd >= 0 ? v->r.pgoff : 0);
		if (fd >= 0)
			PCALL(r, SYS_close, fd, 0, 0, 0, 0, 0);
		if (ret != (long)v->r.start)
			return err_sys(ret < 0 ? (int)-ret : EFAULT, "loader: mapping %s at 0x%llx",
				       v->name[0] ? v->name : "anonymous memory", (unsigned long long)v->r.start);
	}
	return 0;
}

static const struct snap_vma *find_vma(const struct snap *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nvmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < s->vmas[mid].r.start)
			hi = mid;
		else if (addr >= s->vmas[mid].r.end)
			lo = mid + 1;
		else
			return &s->vmas[mid];
	}
	return NULL;
}

static int put_pages(struct restore *r, const unsigned char *p, size_t len)
{
	static const unsigned char zeros[REC_PAGE_SIZE];
	struct rec_pages h;
	const struct snap_vma *v;
	uint64_t bytes;

	memcpy(&h, p, sizeof(h));
	bytes = (uint64_t)h.npages * REC_PAGE_SIZE;
	if (h.npages == 0 || h.npages > REC_PAGES_MAX || h.addr % REC_PAGE_SIZE ||
	    (h.flags & ~(uint32_t)PAGES_ZERO) ||
	    len != sizeof(h) + ((h.flags & PAGES_ZERO) ? 0 : bytes))
		return err_msg(EBADMSG, "pages record: malformed");
	v = find_vma(&r->snap, h.addr);
	if (!v || h.addr + bytes > v->r.end || (v->r.flags & (VMA_SPECIAL | VMA_SHARED)))
		return err_msg(EBADMSG, "pages record: 0x%llx is outside the snapshot's private mappings",
			       (unsigned long long)h.addr);
	if (h.flags & PAGES_ZERO) {
		for (uint32_t i = 0; i < h.npages; i++) {
			struct iovec l = { (void *)zeros, REC_PAGE_SIZE };
			struct iovec rv = { (void *)(h.addr + i * REC_PAGE_SIZE), REC_PAGE_SIZE };

			if (process_vm_writev(r->pl.pid, &l, 1, &rv, 1, 0) != REC_PAGE_SIZE)
				return err_sys(errno, "writing pages at 0x%llx", (unsigned long long)h.addr);
		}
	} else {
		struct iovec l = { (void *)(p + sizeof(h)), bytes }, rv = { (void *)h.addr, bytes };

		if (process_vm_writev(r->pl.pid, &l, 1, &rv, 1, 0) != (ssize_t)bytes)
			return err_sys(errno, "writing pages at 0x%llx", (unsigned long long)h.addr);
	}
	r->pages += h.npages;
	return 0;
}

static int stream_pages(struct restore *r, uint32_t type, const unsigned char *p, size_t len)
{
	struct page_pipe *pp = NULL;
	int rc = 0, ended = 0;

	/* The first record came with the metadata, in the reader's buffer. */
	for (;;) {
		if (type == REC_END) {
			ended = 1;
		} else if (type == REC_PAGES) {
			rc = put_pages(r, p, len);
			if (rc)
				break;
		} else if (rec_min_len(type)) {
			rc = err_msg(EBADMSG, "%s record after the pages", rec_type_name(type));
			break;
		} else if ((rc = rec_unknown(type)) < 0) {
			break;
		} else {
			fprintf(stderr, "pthaw: warning: skipping unknown optional record type 0x%x\n", type);
		}
		if (r->progress)
			r->progress(r->progress_arg, r->rd->bytes);
		if (!pp && (rc = page_pipe_start(&pp, r->rd)))
			break;
		/* After the end record, this read confirms the layers' own end
		 * (authentication, frames) and returns 0. */
		rc = page_pipe_next(pp, &type, &p, &len);
		if (rc <= 0)
			break;
	}
	if (pp)
		page_pipe_stop(pp);
	if (rc == 0 && !ended)
		rc = err_msg(EBADMSG, "stream ended early");
	return rc < 0 ? rc : 0;
}

static int restore_protections(struct restore *r)
{
	for (size_t i = 0; i < r->snap.nvmas; i++) {
		const struct rec_vma *v = &r->snap.vmas[i].r;
		long ret;

		if (!r->added_write[i])
			continue;
		ret = PCALL(r, SYS_mprotect, v->start, v->end - v->start, v->prot, 0, 0, 0);
		if (ret < 0)
			return err_sys((int)-ret, "loader: mprotect 0x%llx", (unsigned long long)v->start);
	}
	return 0;
}

static int restore_mm(struct restore *r)
{
	const struct snap *s = &r->snap;
	struct prctl_mm_map map;
	unsigned char buf[sizeof(map) + 4096];
	long exe_fd, ret;

	/* The executable must be the same file, or /proc/PID/exe would lie;
	 * its pages may have travelled (-self-contained): a missing or other
	 * file only leaves /proc/PID/exe unset. */
	exe_fd = reopen(r, &(struct reopen){ "executable", s->exe, &s->proc.exe, O_RDONLY | O_CLOEXEC, 1, 1 }, 1);
	if (exe_fd < 0)
		fprintf(stderr, "pthaw: warning: %s; /proc/PID/exe will not name it\n", err_last());
	memset(&map, 0, sizeof(map));
	map.start_code = s->mm.start_code;
	map.end_code = s->mm.end_code;
	map.start_data = s->mm.start_data;
	map.end_data = s->mm.end_data;
	map.start_brk = s->mm.start_brk;
	map.brk = s->mm.brk;
	map.start_stack = s->mm.start_stack;
	map.arg_start = s->mm.arg_start;
	map.arg_end = s->mm.arg_end;
	map.env_start = s->mm.env_start;
	map.env_end = s->mm.env_end;
	map.auxv = (__u64 *)(uintptr_t)(r->pl.hello.scratch + sizeof(map));
	map.auxv_size = s->mm.auxv_len;
	map.exe_fd = exe_fd >= 0 ? (uint32_t)exe_fd : (uint32_t)-1;
	memcpy(buf, &map, sizeof(map));
	memcpy(buf + sizeof(map), s->auxv, s->mm.auxv_len);
	ret = pload_call(&r->pl, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)r->pl.hello.scratch,
			 sizeof(map), 0, 0, buf, sizeof(map) + s->mm.auxv_len);
	if (exe_fd >= 0)
		PCALL(r, SYS_close, exe_fd, 0, 0, 0, 0, 0);
	if (ret < 0)
		return err_sys((int)-ret, "loader: restoring the memory layout fields (prctl PR_SET_MM_MAP)");
	pload_call(&r->pl, SYS_prctl, PR_SET_NAME, (long)r->pl.hello.scratch, 0, 0, 0, 0,
		   s->comm, strlen(s->comm) + 1);
	return 0;
}

static int restore_proc(struct restore *r)
{
	const struct snap *s = &r->snap;
	long ret;

	ret = reopen(r, &(struct reopen){ "working directory", s->cwd, &s->proc.cwd,
					  O_PATH | O_DIRECTORY | O_CLOEXEC, 1, 0 }, 1);
	if (ret < 0)
		return (int)ret;
	ret = PCALL(r, SYS_fchdir, ret, 0, 0, 0, 0, 0) ?: PCALL(r, SYS_close, ret, 0, 0, 0, 0, 0);
	if (ret < 0)
		return err_sys((int)-ret, "working directory %s", s->cwd);
	PCALL(r, SYS_umask, s->proc.umask, 0, 0, 0, 0, 0);
	return 0;
}

/* After the fds: the process's own RLIMIT_NOFILE may be below what pload
 * needed to place them (fit_fds raised it). */
static int restore_rlimits(struct restore *r)
{
	const struct snap *s = &r->snap;
	long ret;

	for (int i = 0; s->has_rlim && i < REC_NLIMITS; i++) {
		uint64_t lim[2] = { s->rlim.cur[i], s->rlim.max[i] };

		ret = pload_call(&r->pl, SYS_prlimit64, 0, i, (long)r->pl.hello.scratch, 0, 0, 0,
				 lim, sizeof(lim));
		if (ret < 0)
			fprintf(stderr, "pthaw: warning: resource limit %d: %s\n", i, strerror((int)-ret));
	}
	return 0;
}

/* files_restore's way to open a file: the safe reopen, as the process. */
static long open_file(void *arg, const struct snap_file *f)
{
	struct restore *r = arg;
	char what[32], path[4200];
	struct reopen o;

	file_reopen(&r->snap, f, r->pl.pid, what, sizeof(what), path, sizeof(path), &o);
	return reopen(r, &o, 1);
}

static int restore_signals(struct restore *r)
{
	const struct rec_signals *sg = &r->snap.sig;
	long ret;

	for (int i = 1; i <= 64; i++) {
		const struct rec_sigaction *a = &sg->act[i - 1];

		if (i == SIGKILL || i == SIGSTOP || (!a->handler && !a->flags && !a->mask))
			continue;
		ret = pload_call(&r->pl, SYS_rt_sigaction, i, (long)r->pl.hello.scratch, 0, 8, 0, 0,
				 a, sizeof(*a));
		if (ret < 0)
			return err_sys((int)-ret, "signal %d: restoring its action", i);
	}
	if (!(sg->ss_flags & SS_DISABLE) && sg->ss_size) {
		struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss = {
			sg->ss_sp, sg->ss_flags & ~SS_ONSTACK, 0, sg->ss_size };

		ret = pload_call(&r->pl, SYS_sigaltstack, (long)r->pl.hello.scratch, 0, 0, 0, 0, 0,
				 &ss, sizeof(ss));
		if (ret < 0)
			return err_sys((int)-ret, "restoring the signal stack");
	}
	for (int w = 0; w < 3; w++) {
		uint64_t it[4] = { sg->itimer[w][0], sg->itimer[w][1], sg->itimer[w][2], sg->itimer[w][3] };

		/* ITIMER_REAL that fired while the process was stopped: its
		 * SIGALRM is pending (queued again below), and the kernel
		 * restarts the timer only when that signal is taken, so
		 * getitimer said value 0 with the interval still set.  It is
		 * armed: the next expiry comes at most one interval after the
		 * signal is taken, so it starts again with one interval. */
		if (!(it[2] | it[3]) && (it[0] | it[1])) {
			it[2] = it[0];
			it[3] = it[1];
		}
		if (!(it[2] | it[3]))
			continue;
		ret = pload_call(&r->pl, SYS_setitimer, w, (long)r->pl.hello.scratch, 0, 0, 0, 0,
				 it, sizeof(it));
		if (ret < 0)
			return err_sys((int)-ret, "restoring interval timer %d", w);
	}
	if (sg->clear_tid)
		PCALL(r, SYS_set_tid_address, sg->clear_tid, 0, 0, 0, 0, 0);
	/* Queued now, with every signal blocked in pload, they wait for the
	 * process's own mask, set with its registers. */
	for (size_t i = 0; i < r->snap.npending; i++) {
		const struct rec_siginfo *q = &r->snap.pending[i];
		int32_t signo;

		memcpy(&signo, q->info, sizeof(signo));
		ret = q->shared ? pload_call(&r->pl, SYS_rt_sigqueueinfo, r->pl.pid, signo,
					     (long)r->pl.hello.scratch, 0, 0, 0, q->info, sizeof(q->info))
				: pload_call(&r->pl, SYS_rt_tgsigqueueinfo, r->pl.pid, r->pl.pid, signo,
					     (long)r->pl.hello.scratch, 0, 0, q->info, sizeof(q->info));
		if (ret < 0)
			return err_sys((int)-ret, "queueing pending signal %d", signo);
	}
	return 0;
}

/* The remapping filter goes in first, from inside the process (a filter
 * applies to the process that installs it), while pload still has
 * pthaw's capabilities: with CAP_SYS_ADMIN the kernel needs no
 * no_new_privs for it, so a pthaw run as root adds none.  Without it, no
 * filter goes in unless no_new_privs is set: then the remapped process
 * has it too (pthaw(1), -remap).  It lets pload's own calls through
 * (supervise.c), so the rest of the restore runs as without it. */
static int install_filter(struct restore *r)
{
	struct sock_filter f[64];
	struct sock_fprog prog;
	unsigned char buf[sizeof(prog) + sizeof(f)];
	long ret;

	prog.len = (unsigned short)remap_filter(f, 64);
	prog.filter = (struct sock_filter *)(uintptr_t)(r->pl.hello.scratch + sizeof(prog));
	memcpy(buf, &prog, sizeof(prog));
	memcpy(buf + sizeof(prog), f, prog.len * sizeof(f[0]));
	ret = pload_call(&r->pl, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)r->pl.hello.scratch,
			 0, 0, 0, buf, sizeof(prog) + prog.len * sizeof(f[0]));
	if (ret == -EACCES) {
		PCALL(r, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0);
		ret = pload_call(&r->pl, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)r->pl.hello.scratch,
				 0, 0, 0, buf, sizeof(prog) + prog.len * sizeof(f[0]));
	}
	if (ret < 0)
		return err_sys((int)-ret, "installing the PID remapping filter");
	return 0;
}

/* The last steps, under ptrace: register rseq as the process's own
 * thread, restore the kinds of the last stage (seccomp filters) by
 * injection, unmap pload, and at that call's exit load the registers.
 * The filters go in here, with pload parked, so that of pload's own
 * calls only the munmap runs under them (not its pipe reads and writes,
 * nor the close and pause of the park); with CAP_SYS_ADMIN pthaw even
 * suspends them for it (PTRACE_O_SUSPEND_SECCOMP, dropped again before
 * the process runs).  The filters may still forbid the seccomp() that
 * installs the next one, as they did the process's own. */
static int hand_over(struct restore *r, struct kind_restore *kr)
{
	const struct snap *s = &r->snap;
	struct user_regs_struct base, regs;
	unsigned char *xs;
	struct iovec iov;
	long a[6] = { (long)PLOAD_BASE, (long)PLOAD_SPAN, 0, 0, 0, 0 };
	long ret, opts;
	int rc;

	rc = pload_park(&r->pl);
	if (!rc)
		rc = ptrace_seize_stop(r->pl.pid);
	if (rc)
		return rc;
	opts = PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL |
	       (r->remapped ? PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
				PTRACE_O_TRACECLONE : 0);
	if (ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts | PTRACE_O_SUSPEND_SECCOMP) < 0)
		ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts);
	if (ptrace(PTRACE_GETREGS, r->pl.pid, 0, &base) < 0)
		return err_sys(errno, "ptrace getregs");
	if (s->has_rseq) {
		rc = inject_call(r->pl.pid, r->pl.hello.gadget, &base, SYS_rseq, (long)s->rseq.addr,
				 s->rseq.len, 0, s->rseq.sig, &ret);
		if (!rc && ret < 0)
			rc = err_sys((int)-ret, "registering rseq at 0x%llx", (unsigned long long)s->rseq.addr);
		if (rc)
			return rc;
	}
	r->pl.parked = 1;
	r->pl.parked_regs = base;
	rc = kinds_restore(kr, s->kind, KIND_STAGE_LAST);
	if (rc)
		return rc;
	xs = calloc(1, 65536);
	if (!xs)
		return err_sys(ENOMEM, "xstate");
	iov.iov_base = xs;
	iov.iov_len = 65536;
	if (ptrace(PTRACE_GETREGSET, r->pl.pid, NT_X86_XSTATE, &iov) < 0) {
		free(xs);
		return err_sys(errno, "ptrace getregset");
	}
	/* Same CPU features were checked from the header; a different
	 * area size only means other components follow ours. */
	memcpy(xs, s->xsave, s->xs.size < iov.iov_len ? s->xs.size : iov.iov_len);
	rc = inject_syscall(r->pl.pid, r->pl.hello.gadget, &base, SYS_munmap, a, &ret);
	if (!rc && ret < 0)
		rc = err_sys((int)-ret, "unmapping the loader%s",
			     s->kind[KIND_SECCOMP] ? " (the process's seccomp filters may forbid munmap)" : "");
	if (!rc && ptrace(PTRACE_SETOPTIONS, r->pl.pid, 0, opts) < 0)
		rc = err_sys(errno, "ptrace setoptions");
	if (rc) {
		free(xs);
		return rc;
	}
	/* From here the process has no code of pload's left. */
	memcpy(&regs, &s->regs, sizeof(regs));
	regs_restart_fixup(&regs, 1);
	if (ptrace(PTRACE_SETREGS, r->pl.pid, 0, &regs) < 0)
		rc = err_sys(errno, "loading the registers");
	else if (ptrace(PTRACE_SETREGSET, r->pl.pid, NT_X86_XSTATE, &iov) < 0)
		rc = err_sys(errno, "loading the extended (AVX) state");
	else if (ptrace(PTRACE_SETSIGMASK, r->pl.pid, sizeof(uint64_t), &(uint64_t){ s->sig.blocked }) < 0)
		rc = err_sys(errno, "loading the signal mask");
	free(xs);
	if (rc)
		return rc;
	/* Held for a -halt hand-over: it stays in this ptrace stop, which
	 * only pthaw can end, and PTRACE_O_EXITKILL kills it if pthaw dies
	 * before pfrez committed. */
	if (r->hold)
		return 0;
	return restore_release(r);
}

int restore_release(struct restore *r)
{
	/* A remapped process stays traced: pthaw answers its PID calls. */
	if (ptrace(r->remapped ? PTRACE_CONT : PTRACE_DETACH, r->pl.pid, 0, 0) < 0) {
		int rc = err_sys(errno, "starting the restored process (ptrace)");

		pload_kill(&r->pl);
		return rc;
	}
	return 0;
}

void restore_discard(struct restore *r)
{
	pload_kill(&r->pl);
}

/* pload inherits pthaw's RLIMIT_NOFILE, and its control pipes go just
 * above the highest fd of the snapshot (pload_ctl.c), so that limit must
 * let top (the highest number pload uses) exist: raise the soft limit up
 * to the hard one, and as root the hard one too (the kernel caps it at
 * fs.nr_open).  The process's own limits come back after its fds. */
static int fit_fds(int max, int top)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)top + 1;
	unsigned long long nr_open = 0;
	FILE *f;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return err_sys(errno, "getrlimit RLIMIT_NOFILE");
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		struct rlimit up = { need, rl.rlim_max };

		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
			up.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return 0;
		f = fopen("/proc/sys/fs/nr_open", "r");
		if (f && fscanf(f, "%llu", &nr_open) != 1)
			nr_open = 0;
		if (f)
			fclose(f);
		if (nr_open && need > nr_open)
			return err_msg(EMFILE, "fd %d is above fs.nr_open %llu of this host (with the %d pthaw needs above it)",
				       max, nr_open, top - max);
		if (max >= (int)rl.rlim_max)
			return err_msg(EMFILE, "fd %d is above the hard limit RLIMIT_NOFILE %llu of pthaw",
				       max, (unsigned long long)rl.rlim_max);
		return err_msg(EMFILE, "fd %d leaves no room under the hard limit RLIMIT_NOFILE %llu of pthaw for the %d it needs above it",
			       max, (unsigned long long)rl.rlim_max, top - max);
	}
	return 0;
}

static int max_fd(const struct snap *s)
{
	int m = 2;

	for (size_t i = 0; i < s->nfds; i++)
		if (s->fds[i].fd > m)
			m = s->fds[i].fd;
	return m;
}

pid_t restore_run(struct restore *r, uint32_t type, const unsigned char *p, size_t len)
{
	struct pload_spawn_opts o = {
		.path = r->loader,
		.want_pid = r->remap == REMAP_ALWAYS ? 0 : (pid_t)r->snap.proc.pid,
		.first_free_fd = max_fd(&r->snap) + 1,
		.stdin_is_stream = r->stdin_is_stream && files_has_fd(&r->snap, 0),
	};
	struct kind_restore kr;
	int rc;

	r->old_pid = r->snap.proc.pid;
	/* pload_ctl.c's child dups its pipes from first_free_fd + 2 up. */
	rc = fit_fds(o.first_free_fd - 1, o.first_free_fd + 3);
	if (!rc)
		rc = pload_spawn(&r->pl, &o);
	if (rc)
		return rc;
	r->remapped = !r->pl.got_pid;
	kr = (struct kind_restore){ .pl = &r->pl, .pid = r->pl.pid, .old_pid = r->old_pid,
				      .detach = r->detach, .snap = &r->snap };
	if (r->remapped && (r->remap == REMAP_NEVER || r->detach)) {
		pload_kill(&r->pl);
		return err_msg(EBUSY, "PID %u is in use, so the restored process cannot keep it%s",
			       r->old_pid, r->detach ? " without pthaw (drop -detach)" : " (-remap=never)");
	}
	rc = r->remapped ? install_filter(r) : 0;
	if (!rc)
		rc = prepare_space(r);
	if (!rc)
		rc = as_process(r);
	if (!rc)
		rc = map_vmas(r);
	if (!rc)
		rc = stream_pages(r, type, p, len);
	if (!rc)
		rc = restore_protections(r);
	if (!rc)
		rc = restore_mm(r);
	if (!rc)
		rc = kinds_restore(&kr, r->snap.kind, KIND_STAGE_MM);
	if (!rc)
		rc = restore_proc(r);
	if (!rc)
		rc = files_restore(&r->pl, &r->snap, open_file, r);
	if (!rc)
		rc = restore_rlimits(r);
	if (!rc)
		rc = kinds_restore(&kr, r->snap.kind, KIND_STAGE_FILES);
	if (!rc)
		rc = restore_signals(r);
	if (!rc)
		rc = PCALL(r, SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0, 0) < 0 ? -EPIPE : 0;
	if (!rc)
		rc = kinds_restore(&kr, r->snap.kind, KIND_STAGE_TASK);
	if (!rc)
		rc = restore_creds(r);
	if (!rc)
		rc = kinds_restore(&kr, r->snap.kind, KIND_STAGE_CREDS);
	if (!rc)
		rc = hand_over(r, &kr);
	if (rc) {
		pload_kill(&r->pl);
		return rc;
	}
	return r->pl.pid;
}

static void problem(FILE *out, int *n)
{
	fprintf(out, "%s\n", err_last());
	err_clear();
	(*n)++;
}

/* The checks restore_run makes on its way, made in pthaw: what it would
 * open is opened (O_PATH, nothing read or written) with the process's
 * file credentials, set for this thread only by the raw system calls
 * (glibc's setgroups would change every thread) and put back at the
 * end. */
int restore_check(struct restore *r, FILE *out)
{
	const struct snap *s = &r->snap;
	gid_t groups[256];
	int ngroups = getgroups(256, groups), n = 0, switched = 0;
	char what[32], path[4200];

	for (size_t i = 0; i < s->nvmas; i++)
		if ((s->vmas[i].r.flags & VMA_VDSO) && check_vdso(&s->vmas[i]))
			problem(out, &n);
	if (!has_process_creds(s)) {
		if (geteuid() != 0) {
			needs_root(s);
			problem(out, &n);
		} else if (ngroups >= 0 &&
			   syscall(SYS_setgroups, s->creds.ngroups, s->groups) == 0) {
			syscall(SYS_setfsgid, s->creds.fsgid);
			syscall(SYS_setfsuid, s->creds.fsuid);
			switched = 1;
		}
	}
	for (size_t i = 0; i < s->nvmas; i++) {
		struct rec_ident id;
		struct reopen o;

		if (!(s->vmas[i].r.flags & VMA_FILE) || (s->vmas[i].r.flags & VMA_EMBED))
			continue;
		vma_reopen(&s->vmas[i], &id, &o);
		if (reopen(r, &o, 0))
			problem(out, &n);
	}
	if (reopen(r, &(struct reopen){ "executable", s->exe, &s->proc.exe, O_RDONLY, 1, 1 }, 0)) {
		fprintf(out, "warning: %s; /proc/PID/exe will not name it\n", err_last());
		err_clear();
	}
	if (reopen(r, &(struct reopen){ "working directory", s->cwd, &s->proc.cwd, O_DIRECTORY, 1, 0 }, 0))
		problem(out, &n);
	for (size_t i = 0; i < s->nfiles; i++) {
		struct reopen o;

		if (s->files[i].r.kind == FD_STDIO)
			continue;
		file_reopen(s, &s->files[i], getpid(), what, sizeof(what), path, sizeof(path), &o);
		if (reopen(r, &o, 0))
			problem(out, &n);
	}
	if (switched) {
		syscall(SYS_setfsuid, geteuid());
		syscall(SYS_setfsgid, getegid());
		syscall(SYS_setgroups, ngroups, groups);
	}
	return n;
}

void restore_free(struct restore *r)
{
	free(r->added_write);
	snap_free(&r->snap);
}
