/* treeshare.h: what the processes of a tree share (issue 15).  An open
 * file description, a pipe or a memory object that several processes of
 * a tree hold is one object: the first process of the tree (in its order,
 * parents first) that has it makes it, with its state (offset, queued
 * bytes, contents); the later ones take that very object from it while
 * both are being restored (pidfd_getfd(2) of its fd, or a new open of
 * the pipe or memory object through its /proc links), and carry no state
 * of it in the stream.  This file knows the tree on both sides: pfrez
 * tells it the processes it holds and what it captured of each, pthaw
 * the processes it has made (lib/kind/fd_tree.c, fd_pipe.c and shmem.c
 * ask it). */
#ifndef PFREZ_TREESHARE_H
#define PFREZ_TREESHARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct kind_restore;
struct snap;

/* pfrez: the held processes of the tree, in its order, before any is
 * captured (none: a process alone, nothing is shared). */
int tshare_capture_begin(const pid_t *pids, size_t n);
/* Process pid is captured into s (kept by the caller until the end). */
void tshare_captured(pid_t pid, const struct snap *s);
void tshare_capture_end(void);
/* The i-th process captured before pid (NULL past the last): its snap. */
const struct snap *tshare_captured_nth(pid_t pid, size_t i, pid_t *owner);

/* Whether fd of process pid (stat sb) is an open file description a
 * process captured before it has, not as a reference to another: 1 with
 * that process and its file id, 0, or -errno. */
int tshare_file_owner(pid_t pid, int fd, const struct stat *sb, uint32_t *owner, uint32_t *file);
/* Whether process pid's fd 0, 1 or 2, a terminal, pipe or socket, stays
 * inside the tree rather than becoming pthaw's own (never the root's,
 * which are pthaw's: `pthaw | less` for `prog | less`): the open file
 * description of an earlier process (the root's stdout: pthaw's for
 * both), or a pipe whose other end a process of the tree has (`a | b`).
 * flags: the fd's access mode and status flags. */
int tshare_stdio_inside(pid_t pid, int fd, const struct stat *sb, uint32_t flags);

/* The owner a claim of (pid, fd) found, for the treefile records. */
int tshare_claimed(pid_t pid, int fd, uint32_t *owner, uint32_t *file);

/* Whether process pid shares its parent's fd table (clone(2) with
 * CLONE_FILES, no thread; the parent held before it): then its fds are
 * the parent's, captured and restored there (pstree.h,
 * PSTREE_FILES_SHARED), and it has none of its own. */
int tshare_files_shared(pid_t pid);
/* Refuses by name a process that shares its fd table, or working
 * directory and umask, with its parent outside the captured tree (or a
 * process captured alone): restored, it would have its own. */
int tshare_refuse_outside(pid_t pid);

/* Refuses, naming them, a process that shares its memory or signal
 * handlers with a process captured before it, or its fd table or fs
 * (working directory, root, umask) with one other than its parent
 * (clone(2) without CLONE_THREAD): restored apart, each would have its
 * own. */
int tshare_refuse_shared(pid_t pid);

/* Whether a process of the tree other than pid has the pipe (dev, ino)
 * open for writing (writer) or for reading. */
int tshare_pipe_end(pid_t pid, uint64_t dev, uint64_t ino, int writer);

/* The process of the tree other than pid that has socket inode ino
 * open (at *fd), or 0. */
pid_t tshare_socket_holder(pid_t pid, uint64_t ino, int *fd);

/* pthaw: process old_pid of the snapshot is made (its records taken into
 * s, restored from the mappings on); seen is its PID as the processes of
 * the tree see it. */
int tshare_restore_add(uint32_t old_pid, pid_t seen, const struct snap *s);
void tshare_restore_end(void);
/* The i-th process made (NULL past the last). */
const struct snap *tshare_restored_nth(size_t i, uint32_t *old_pid, pid_t *seen);
const struct snap *tshare_restored(uint32_t old_pid, pid_t *seen);

/* In the process being restored (r's pload): a new fd on the open file
 * description at fd of the process seen (pidfd_getfd(2)), or -errno. */
long tshare_take_fd(struct kind_restore *r, pid_t seen, int fd, const char *what);
/* In r's pload: open("/proc/SEEN/LINK", flags): a new open file
 * description of what that link is (a pipe, a memory object), or -errno. */
long tshare_open_link(struct kind_restore *r, pid_t seen, const char *link, int flags,
		      const char *what);

#endif
