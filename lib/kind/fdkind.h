/* fdkind.h: the kinds of open file description that are not reopened by
 * a name: pipes, sockets, eventfd, timerfd, epoll, ...  Each is a file
 * lib/kind/fd_NAME.c with one line in fd_kinds[] (fdkind.c).  files.c
 * asks them, at capture, which one an fd is, and at restore, to make a
 * new description of that kind, which it gives to the fds as it does a
 * reopened file.  The state of the object itself (the bytes queued in a
 * pipe, an eventfd's counter, the interest list of an epoll) is the fd
 * kind's own: a line of the table of kinds (kind.h) after KIND_FD, with
 * records that name the file by its id, restored at KIND_STAGE_FILES
 * after the fds (so every fd it refers to exists) or later.  Those
 * records come before the pages (not KIND_LATE): files.c verifies, before
 * any page is read, that each file of an fd kind has them. */
#ifndef PFREZ_FDKIND_H
#define PFREZ_FDKIND_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "record.h"

struct kind_restore;
struct snap;
struct snap_file;

/* What the capture knows of an fd when it asks the fd kinds. */
struct fd_info {
	pid_t pid;
	int fd;
	const char *link;	/* what /proc/PID/fd/FD says it is */
	const struct stat *sb;	/* stat() through /proc/PID/fd/FD */
	const char *fdinfo;	/* the text of /proc/PID/fdinfo/FD */
};

struct fd_kind_ops {
	uint32_t kind;		/* enum rec_file_kind */
	const char *name;	/* "pipe": in -debug output and messages */
	/* 1 when fd is of this kind (r->kind is set by the caller, which
	 * filled r's flags, pos and mode; the kind may add to them), 0 when
	 * it is not, or -errno refusing it with a message naming the fd. */
	int (*claim)(const struct fd_info *d, struct rec_file *r);
	/* Once every record is in: whether file f has what restoring it
	 * needs (its object's record): -EBADMSG naming it if not.  Called
	 * by the fd kind (files.c) for every file of this kind. */
	int (*verify)(const struct snap *s, const struct snap_file *f);
	/* In pload, a new open file description standing for file f, with
	 * f's status flags: pload's fd number, or -errno (message set).
	 * files.c gives it to f's fds, then closes it unless it is one of
	 * them. */
	long (*open)(struct kind_restore *r, const struct snap *s, const struct snap_file *f);
	/* Once every file is opened: closes what open set aside (fd_aside). */
	void (*done)(struct kind_restore *r, const struct snap *s);
};

/* NULL-terminated. */
extern const struct fd_kind_ops *const fd_kinds[];

/* The fd kind of a file record's kind; NULL for the files reopened by
 * name (FD_FILE, FD_DIR, FD_DEV), FD_STDIO and kinds this build lacks. */
const struct fd_kind_ops *fd_kind_of(uint32_t kind);

/* Moves pload's fd t above every fd of the snapshot, where no fd the
 * restore gives out can land on it or replace it (the other end of a
 * pipe, until its own file comes): the new number, or -errno. */
long fd_aside(struct kind_restore *r, const struct snap *s, long t);

/* pthaw -inherit-fd=FD[:PTHAWFD][,...] (fd_pipe.c): the process's fd FD,
 * an end of a pipe whose other end was outside it, becomes a new open
 * file of pthaw's pipe PTHAWFD (FD if not given).  0 or -EINVAL. */
int fd_pipe_inherit(const char *spec);

/* pthaw, after the last process of a tree (fd_unix_tree.c): what waited for
 * a later process (a socket to connect to its name, the other end of a
 * pair) is let go; with check, -EBADMSG when any is left, its process
 * named but not in the tree. */
int fd_unix_tree_end(int check);

#endif
