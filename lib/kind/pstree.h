/* pstree.h: process trees: the processes of a snapshot, their places
 * (parent, process group, session) and states, as one table (lib/kind/pstree.c). */
#ifndef PFREZ_PSTREE_H
#define PFREZ_PSTREE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "record.h"

struct json;

#define PSTREE_MAX	32768	/* processes of a tree */
/* Bytes of records but pages of all the processes of a tree, which pthaw
 * holds until the end (each process's own are bounded by SNAP_META_MAX). */
#define PSTREE_META_MAX	(256u << 20)

/* The tree: procs[0] is the root, every process comes after its parent
 * (the order of creation at the restore and of the processes' records in
 * the stream).  n == 0: a stream of one process, without a tree record. */
struct pstree {
	struct rec_pstree_proc *procs;
	size_t n, cap;
};

int pstree_add(struct pstree *t, const struct rec_pstree_proc *p);
/* Its index in t, or -1. */
int pstree_find(const struct pstree *t, uint32_t pid);
/* The live processes (those with records of their own). */
size_t pstree_live(const struct pstree *t);
void pstree_free(struct pstree *t);

/* Capture (pfrez): the children of every thread of pid
 * (/proc/PID/task/TID/children), allocated in *out. */
int pstree_children(pid_t pid, pid_t **out, size_t *n);
/* pid's place and state from /proc/PID/stat (a zombie's exit_code). */
int pstree_read(pid_t pid, struct rec_pstree_proc *p);
/* Only its name (the root's entry, whose place comes from elsewhere). */
void pstree_read_comm(pid_t pid, struct rec_pstree_proc *p);
/* Whether pid must be left out of root's tree: pfrez itself, and the
 * processes between root and pfrez (pfrez's ancestors below root):
 * whoever started pfrez from inside the tree does not come back with it. */
int pstree_left_out(pid_t root, pid_t pid);

/* The records: REC_PSTREE, and REC_PSTREE_BEGIN before each live
 * process's own records. */
int pstree_write(const struct pstree *t, struct rec_writer *w);
int pstree_write_begin(struct rec_writer *w, uint32_t pid);
/* Decodes REC_PSTREE into an empty t and checks it (pstree_verify). */
int pstree_take(struct pstree *t, const unsigned char *p, size_t len);
int pstree_take_begin(const unsigned char *p, size_t len, uint32_t *pid);

/* The tree can be rebuilt as it was: the root first, each process after
 * its parent, no PID twice, a zombie has no children, and every session
 * and process group can be made again by processes of the tree (man
 * pfrez-stream(5), "pstree").  -EBADMSG or -ENOTSUP naming what is wrong. */
int pstree_verify(const struct pstree *t);

/* How process i gets its place back (pthaw, once every process of the
 * tree is made, parents first): PSTREE_SETSID right after it is made
 * (its children then inherit the session), PSTREE_LEAD right after it is
 * made (setpgid(0, 0)), PSTREE_JOIN once all are made (setpgid(0, pgid));
 * PSTREE_INHERIT: what it inherited from its parent is right. */
enum pstree_place { PSTREE_INHERIT, PSTREE_SETSID, PSTREE_LEAD, PSTREE_JOIN };
enum pstree_place pstree_place(const struct pstree *t, size_t i);

void pstree_print(FILE *f, const struct pstree *t);
/* A "tree" member: an array of {pid, ppid, pgid, sid, state, status}. */
void pstree_print_json(struct json *j, const struct pstree *t);
const char *pstree_state_name(unsigned state);

#endif
