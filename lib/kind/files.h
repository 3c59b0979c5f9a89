/* files.h: the fd table and the open file descriptions it refers to.
 * pfrez finds which fds share one description (kcmp, not paths), the
 * stream carries each description once (REC_FILE) and each fd as a
 * reference to one (REC_FD); pthaw opens each description once and dups
 * it to its fds (the safe reopen of a file by its name is reopen.c's,
 * shared with the executable, the working directory and the mapped
 * files).  The kinds "file" and "fd" of the table (kind.h) are here. */
#ifndef PFREZ_FILES_H
#define PFREZ_FILES_H

#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "record.h"

struct pload;
struct snap;

/* An open file description: its record, its path, and the fds of the
 * table that refer to it (at least one in a complete snapshot). */
struct snap_file {
	struct rec_file r;
	char *path;
	size_t nrefs;
	int32_t first_fd;	/* its lowest fd: names it in messages */
};

/* Reads the fd table of process pid (held) into s: one file per open
 * file description, one fd entry per fd.  Refuses, naming the fd, what a
 * restore could not reopen as it was. */
int files_capture(pid_t pid, struct snap *s);

/* Adds file r->id, which must be the next id (s->nfiles). */
int files_add(struct snap *s, const struct rec_file *r, const char *path);
/* Adds fd r->fd, a reference to a file added before. */
int files_add_fd(struct snap *s, const struct rec_fd *r);

/* Takes one REC_FILE or REC_FD record, checking it (-EBADMSG on
 * nonsense); 1 when the type is neither. */
int files_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len);

/* Every file is referred to by an fd. */
int files_check(const struct snap *s);

/* Whether the process had fd open. */
int files_has_fd(const struct snap *s, int fd);

/* Whether a file record's kind is reopened by its name (a file, a
 * directory, a device): the others are pthaw's stdio or fd kinds'. */
int files_by_name(uint32_t kind);

/* "file", "directory", "pipe", ...: what a file record is, for printing. */
const char *files_kind_name(uint32_t k);

void files_free(struct snap *s);

/* What a file held by its name is (for the process's executable and
 * working directory too), and whether that name leads, here and now, to
 * that very file: pthaw reopens it by that name.  what names it in the
 * message ("fd 3", "working directory"). */
void file_ident(struct rec_ident *id, const struct stat *sb);
int file_reopenable(pid_t pid, const char *what, const char *path, const struct stat *held);

#endif
