/* treeshare.c: the processes of a tree, as the kinds that share objects
 * between them see them (treeshare.h). */
#include "treeshare.h"
#include "err.h"
#include "files.h"
#include "kind.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct tproc {
	pid_t pid;		/* pfrez: its PID; pthaw: as the tree sees it */
	uint32_t old_pid;	/* pthaw: in the snapshot */
	const struct snap *s;	/* NULL until captured */
};

struct claim {
	pid_t pid;
	int fd;
	uint32_t owner, file;
};

static struct tproc *procs;
static size_t nprocs;
static struct claim *claims;
static size_t nclaims;

static int index_of(pid_t pid)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return (int)i;
	return -1;
}

int tshare_capture_begin(const pid_t *pids, size_t n)
{
	tshare_capture_end();
	if (n < 2)
		return 0;
	procs = calloc(n, sizeof(*procs));
	if (!procs)
		return err_sys(ENOMEM, "process tree");
	for (size_t i = 0; i < n; i++)
		procs[i].pid = pids[i];
	nprocs = n;
	return 0;
}

void tshare_captured(pid_t pid, const struct snap *s)
{
	int i = index_of(pid);

	if (i >= 0)
		procs[i].s = s;
}

void tshare_capture_end(void)
{
	snap_array_reset((void **)&procs, &nprocs, NULL);
	snap_array_reset((void **)&claims, &nclaims, NULL);
}

void tshare_restore_end(void)
{
	tshare_capture_end();
}

const struct snap *tshare_captured_nth(pid_t pid, size_t i, pid_t *owner)
{
	int me = index_of(pid);

	if (me < 0 || i >= (size_t)me || !procs[i].s)
		return NULL;
	*owner = procs[i].pid;
	return procs[i].s;
}

/* The file of s that fd of process pid is: same inode, and kcmp says
 * the same struct file. */
static long same_file(pid_t owner, const struct snap *s, pid_t pid, int fd, const struct stat *sb)
{
	for (size_t k = 0; k < s->nfiles; k++) {
		const struct snap_file *f = &s->files[k];
		struct stat osb;
		char path[64];

		if (f->r.kind == FD_TREE || f->first_fd < 0)
			continue;
		if (f->r.kind == FD_STDIO) {
			/* No identity kept for what becomes pthaw's. */
			snprintf(path, sizeof(path), "/proc/%d/fd/%d", owner, f->first_fd);
			if (stat(path, &osb) < 0 || osb.st_dev != sb->st_dev || osb.st_ino != sb->st_ino)
				continue;
		} else if (f->r.ident.dev != sb->st_dev || f->r.ident.ino != sb->st_ino) {
			continue;
		}
		if (syscall(SYS_kcmp, owner, pid, KCMP_FILE, f->first_fd, fd) == 0)
			return (long)k;
	}
	return -1;
}

int tshare_file_owner(pid_t pid, int fd, const struct stat *sb, uint32_t *owner, uint32_t *file)
{
	const struct snap *s;
	struct claim *c;
	pid_t o;
	long k = -1;

	for (size_t i = 0; k < 0 && (s = tshare_captured_nth(pid, i, &o)); i++)
		k = same_file(o, s, pid, fd, sb);
	if (k < 0)
		return 0;
	*owner = (uint32_t)o;
	*file = (uint32_t)k;
	c = realloc(claims, (nclaims + 1) * sizeof(*c));
	if (!c)
		return err_sys(ENOMEM, "process tree");
	claims = c;
	claims[nclaims++] = (struct claim){ pid, fd, *owner, *file };
	return 1;
}

int tshare_claimed(pid_t pid, int fd, uint32_t *owner, uint32_t *file)
{
	for (size_t i = 0; i < nclaims; i++)
		if (claims[i].pid == pid && claims[i].fd == fd) {
			*owner = claims[i].owner;
			*file = claims[i].file;
			return 1;
		}
	return 0;
}

/* Whether process pid has an fd on pipe (dev, ino) open that way. */
static int holds_end(pid_t pid, uint64_t dev, uint64_t ino, int writer)
{
	char path[320], info[512];
	struct dirent *e;
	int found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d))) {
		struct stat sb;
		unsigned flags = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, e->d_name);
		if (stat(path, &sb) < 0 || (uint64_t)sb.st_dev != dev || (uint64_t)sb.st_ino != ino)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, e->d_name);
		f = fopen(path, "re");
		while (f && fgets(info, sizeof(info), f))
			if (sscanf(info, "flags: %o", &flags) == 1)
				break;
		if (f)
			fclose(f);
		found = writer ? (flags & O_ACCMODE) != O_RDONLY : (flags & O_ACCMODE) != O_WRONLY;
	}
	if (d)
		closedir(d);
	return found;
}

int tshare_stdio_inside(pid_t pid, int fd, const struct stat *sb, uint32_t flags)
{
	const struct snap *s;
	pid_t o;

	/* The root's are pthaw's, whatever holds their other ends: pthaw
	 * stands where the root was started (a terminal, a pipeline). */
	if (index_of(pid) <= 0)
		return 0;
	for (size_t i = 0; (s = tshare_captured_nth(pid, i, &o)); i++)
		if (same_file(o, s, pid, fd, sb) >= 0)
			return 1;
	/* A pipe: its other end in a process of the tree. */
	return S_ISFIFO(sb->st_mode) &&
	       tshare_pipe_end(pid, (uint64_t)sb->st_dev, (uint64_t)sb->st_ino, (flags & O_ACCMODE) == O_RDONLY);
}

/* Whether pid shares that (a KCMP_ type) with its parent, held before
 * it. */
static int parents(pid_t pid, int type)
{
	struct proc_stat st;
	int me = index_of(pid), par;

	if (me <= 0 || proc_stat_read(pid, &st)) {
		err_clear();
		return 0;
	}
	par = index_of(st.ppid);
	return par >= 0 && par < me && syscall(SYS_kcmp, st.ppid, pid, type, 0, 0) == 0;
}

int tshare_files_shared(pid_t pid)
{
	return parents(pid, KCMP_FILES);
}

int tshare_refuse_outside(pid_t pid)
{
	struct proc_stat st;

	if (proc_stat_read(pid, &st) || st.ppid <= 0) {
		err_clear();
		return 0;
	}
	if (index_of(st.ppid) >= 0)
		return 0;
	/* kcmp failing (a parent pfrez may not trace) tells nothing. */
	if (syscall(SYS_kcmp, st.ppid, pid, KCMP_FILES, 0, 0) == 0)
		return err_msg(ENOTSUP, "process %d shares its fd table with its parent %d, which is not captured with it (clone(2) with CLONE_FILES): not supported",
			       pid, st.ppid);
	if (syscall(SYS_kcmp, st.ppid, pid, KCMP_FS, 0, 0) == 0)
		return err_msg(ENOTSUP, "process %d shares its working directory and umask with its parent %d, which is not captured with it (clone(2) with CLONE_FS): not supported",
			       pid, st.ppid);
	return 0;
}

int tshare_refuse_shared(pid_t pid)
{
	static const struct {
		int type;
		const char *what, *flag;
	} tab[] = {
		{ KCMP_FILES, "fd table", "CLONE_FILES" },
		{ KCMP_VM, "memory", "CLONE_VM" },
		{ KCMP_FS, "working directory and umask", "CLONE_FS" },
		{ KCMP_SIGHAND, "signal handlers", "CLONE_SIGHAND" },
	};
	int files = parents(pid, KCMP_FILES), fs = parents(pid, KCMP_FS);
	const struct snap *s;
	pid_t o;

	for (size_t i = 0; (s = tshare_captured_nth(pid, i, &o)); i++)
		for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++) {
			/* Its parent's fd table, or working directory and
			 * umask: made again with CLONE_FILES or CLONE_FS
			 * (pload's fork), and every process that shares it
			 * shares it with that parent too. */
			if ((tab[k].type == KCMP_FILES && files) || (tab[k].type == KCMP_FS && fs))
				continue;
			if (syscall(SYS_kcmp, o, pid, tab[k].type, 0, 0) == 0)
				return err_msg(ENOTSUP, "process %d shares its %s with process %d%s (clone(2) with %s, not a thread): not supported",
					       pid, tab[k].what, o,
					       tab[k].type == KCMP_FILES || tab[k].type == KCMP_FS ? ", not with its parent" : "",
					       tab[k].flag);
		}
	return 0;
}

pid_t tshare_socket_holder(pid_t pid, uint64_t ino, int *fd)
{
	char path[320], link[64], want[64];
	struct dirent *e;

	snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)ino);
	for (size_t i = 0; index_of(pid) >= 0 && i < nprocs; i++) {
		DIR *d;
		int found = 0;

		if (procs[i].pid == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", procs[i].pid);
		d = opendir(path);
		while (d && !found && (e = readdir(d))) {
			ssize_t n;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", procs[i].pid, e->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			found = n > 0 && (link[n] = '\0', strcmp(link, want) == 0);
			if (found)
				*fd = atoi(e->d_name);
		}
		if (d)
			closedir(d);
		if (found)
			return procs[i].pid;
	}
	return 0;
}

int tshare_pipe_end(pid_t pid, uint64_t dev, uint64_t ino, int writer)
{
	if (index_of(pid) < 0)
		return 0;
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].pid != pid && holds_end(procs[i].pid, dev, ino, writer))
			return 1;
	return 0;
}

int tshare_restore_add(uint32_t old_pid, pid_t seen, const struct snap *s)
{
	struct tproc *p = realloc(procs, (nprocs + 1) * sizeof(*p));

	if (!p)
		return err_sys(ENOMEM, "process tree");
	procs = p;
	procs[nprocs++] = (struct tproc){ .pid = seen, .old_pid = old_pid, .s = s };
	return 0;
}

const struct snap *tshare_restored_nth(size_t i, uint32_t *old_pid, pid_t *seen)
{
	if (i >= nprocs)
		return NULL;
	*old_pid = procs[i].old_pid;
	*seen = procs[i].pid;
	return procs[i].s;
}

const struct snap *tshare_restored(uint32_t old_pid, pid_t *seen)
{
	for (size_t i = 0; i < nprocs; i++)
		if (procs[i].old_pid == old_pid) {
			*seen = procs[i].pid;
			return procs[i].s;
		}
	return NULL;
}

/*
 * pload, with pthaw's credentials until the credentials stage, may take
 * from another process of the tree what a ptrace attach could: the
 * earlier processes are pthaw's (or their ploads') children, with the
 * same credentials or, once theirs are set, under pthaw's privilege.
 */
long tshare_take_fd(struct kind_restore *r, pid_t seen, int fd, const char *what)
{
	long pidfd = pload_call(r->pl, SYS_pidfd_open, seen, 0, 0, 0, 0, 0, NULL, 0), t;

	if (pidfd < 0)
		return err_sys((int)-pidfd, "%s: pidfd_open of process %d of the tree", what, seen);
	t = pload_call(r->pl, SYS_pidfd_getfd, pidfd, fd, 0, 0, 0, 0, NULL, 0);
	pload_call(r->pl, SYS_close, pidfd, 0, 0, 0, 0, 0, NULL, 0);
	if (t < 0)
		return err_sys((int)-t, "%s: taking fd %d of process %d of the tree (pidfd_getfd)", what, fd,
			       seen);
	return t;
}

static long pcall(struct kind_restore *r, long nr, long a0)
{
	return pload_call(r->pl, nr, a0, 0, 0, 0, 0, 0, NULL, 0);
}

/*
 * pload opens the files of the process with its file system ids
 * (creds.c): a worker of nginx as www-data.  A /proc link of an earlier
 * process of the tree is no path from the stream but one pthaw built,
 * to a process it made: opened with pload's own ids (pthaw's, until
 * the credentials stage), which the access check of another process's
 * fd and map_files links (PTRACE_MODE_READ_FSCREDS) asks for; the
 * process's come back right after.
 */
long tshare_open_link(struct kind_restore *r, pid_t seen, const char *link, int flags,
		      const char *what)
{
	long fsuid = pcall(r, SYS_setfsuid, -1), fsgid = pcall(r, SYS_setfsgid, -1);
	long uid = pcall(r, SYS_getuid, 0), gid = pcall(r, SYS_getgid, 0), t;
	char path[128];
	size_t n = (size_t)snprintf(path, sizeof(path), "/proc/%d/%s", seen, link);

	pcall(r, SYS_setfsgid, gid);
	pcall(r, SYS_setfsuid, uid);
	t = pload_call(r->pl, SYS_openat, AT_FDCWD, (long)r->pl->hello.scratch, flags | O_CLOEXEC, 0, 0, 0,
		       path, n + 1);
	pcall(r, SYS_setfsuid, fsuid);
	pcall(r, SYS_setfsgid, fsgid);
	if (pcall(r, SYS_setfsuid, -1) != fsuid || pcall(r, SYS_setfsgid, -1) != fsgid) {
		if (t >= 0)
			pcall(r, SYS_close, t);
		return err_msg(EPERM, "%s: the loader's file system ids could not be put back", what);
	}
	return t < 0 ? err_sys((int)-t, "%s: opening %s", what, path) : t;
}
