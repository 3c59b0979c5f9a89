/* reopen.h: opening a file a snapshot names, as the restored process
 * would and only if it is the file that was open (lib/kind/ kinds that
 * reopen files by path: fds, mappings, the working directory, the
 * executable). */
#ifndef PFREZ_REOPEN_H
#define PFREZ_REOPEN_H

#include <stddef.h>
#include <sys/types.h>

#include "record.h"

struct pload;
struct snap;
struct snap_file;
struct snap_vma;

struct reopen {
	const char *what;		/* "fd 3", "working directory", ... */
	const char *path;
	const struct rec_ident *id;
	int flags;			/* how the process had it open; O_PATH: keep the path fd */
	int by_inode, content;		/* what must be as recorded (see reopen.c) */
};

/* Opens o->path in pload (pl) with the credentials pload has (the
 * process's fs ids and groups: creds.c), following no symbolic link, and
 * checks it is the file recorded: the fd in pload, or -errno with the
 * message set.  With pl NULL (pthaw -check), opens it in pthaw, checks
 * it, closes it and returns 0 or -errno.  same_host: dev and ino compare. */
long reopen(struct pload *pl, int same_host, const struct reopen *o);

/* What reopening a mapped file means (id is filled in for o). */
void reopen_vma(const struct snap_vma *v, struct rec_ident *id, struct reopen *o);

/* What reopening open file f means: a path under /proc/OLDPID names the
 * copy's own directory, pid's; what, path are o's buffers. */
void reopen_file(const struct snap *s, const struct snap_file *f, pid_t pid, char *what,
		 size_t wlen, char *path, size_t plen, struct reopen *o);

#endif
