/* reopen.c: opening the files a snapshot names (fds, mappings, the
 * working directory, the executable) as the restored process would, and
 * only if each is the file that was open. */
#include "reopen.h"
#include "err.h"
#include "files.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Why the file found (sb) is not the one recorded, or NULL.  Device and
 * inode numbers mean something only on the same boot of the same machine
 * (by_inode); size and mtime only where nothing may have written the file
 * since the capture (content). */
static const char *ident_differs(const struct rec_ident *want, const struct stat *sb,
				 int by_inode, int content, int procfs)
{
	if ((sb->st_mode & S_IFMT) != (want->mode & S_IFMT))
		return "file type changed";
	/* Each mount of /proc has a device number of its own (a restore in a
	 * PID namespace mounts one: pidns.c), while an entry's inode number
	 * is the same in all of them. */
	if (by_inode && ((sb->st_dev != want->dev && !procfs) || sb->st_ino != want->ino))
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

/* Opens o->path the way the restored process would: with its credentials
 * (creds.c set them in pload; pthaw -check sets them in pthaw) and
 * following no symbolic link on any component, so that a name replaced by
 * a link since the capture leads nowhere.  The first open is O_PATH: it
 * pins the inode without opening it (no side effect of a device, no wait
 * on a FIFO planted there), and the file is checked to be the one that was
 * open before it is reopened, through its /proc/self/fd entry, with the
 * process's flags. */
static int is_procfs(const char *path, int fd)
{
	struct statfs f;

	return (path ? statfs(path, &f) : fstatfs(fd, &f)) == 0 && f.f_type == PROC_SUPER_MAGIC;
}

long reopen(struct pload *pl, int same_host, const struct reopen *o)
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
	if (pl) {
		memcpy(buf, &how, sizeof(how));
		memcpy(buf + sizeof(how), o->path, n + 1);
		t = pload_call(pl, SYS_openat2, AT_FDCWD, (long)(pl->hello.scratch + sizeof(how)),
			       (long)pl->hello.scratch, sizeof(how), 0, 0, buf, sizeof(how) + n + 1);
		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%ld", pl->pid, t);
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
	if (!rc && (why = ident_differs(o->id, &sb, o->by_inode && same_host, o->content,
					 strncmp(o->path, "/proc/", 6) == 0 && is_procfs(pl ? fdpath : NULL, (int)t))))
		rc = err_msg(ESTALE, "%s: %s is not the file that was open (%s)", o->what, o->path, why);
	if (!pl) {
		close((int)t);
		return rc;
	}
	if (rc || (o->flags & O_PATH)) {
		if (rc)
			pload_call(pl, SYS_close, t, 0, 0, 0, 0, 0, NULL, 0);
		return rc ? rc : t;
	}
	/* The magic link opens the pinned inode itself, not a name. */
	n = (size_t)snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%ld", t);
	fd = pload_call(pl, SYS_openat, AT_FDCWD, (long)pl->hello.scratch,
			o->flags & ~(O_PATH | O_NOFOLLOW | O_CREAT | O_TRUNC | O_EXCL), 0, 0, 0,
			fdpath, n + 1);
	pload_call(pl, SYS_close, t, 0, 0, 0, 0, 0, NULL, 0);
	if (fd < 0)
		return err_sys((int)-fd, "%s: %s", o->what, o->path);
	return fd;
}

/* A mapped file: its pages come from it, so its contents must be as they
 * were (mappings carry no inode numbers). */
void reopen_vma(const struct snap_vma *v, struct rec_ident *id, struct reopen *o)
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

/* What must be as recorded: the
 * inode always (on the same host), the contents of a file the process
 * only reads (nothing of its own may have written it since).  Messages
 * name it by its lowest fd. */
void reopen_file(const struct snap *s, const struct snap_file *f, pid_t pid, char *what,
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
