/* capture.h: freezing a process: attach, read its state, write its pages. */
#ifndef PFREZ_CAPTURE_H
#define PFREZ_CAPTURE_H

#include <sys/types.h>
#include <sys/user.h>
#include <time.h>

#include "inject.h"
#include "proc.h"
#include "record.h"
#include "pstree.h"
#include "snap.h"
#include "watch.h"

struct proc_prefetch;

struct capture {
	pid_t pid;
	int attached;
	int self_contained;		/* embed file-backed pages too */
	int halt;			/* -halt: the original is to end */
	int use_cow;			/* copy-on-write capture (lib/kind/cow.h) */
	int track;			/* with use_cow: track writes (pre-copy) */
	int passes;			/* pre-copy: passes while it ran */
	struct timespec held_at;	/* pre-copy, read ahead: held for the last time */
	struct proc_prefetch *pre;	/* read ahead (capture_read_ahead()), or NULL */
	int filters_held;		/* seccomp filters suspended while held */
	int read_ahead;			/* capture_read_ahead() let it run: */
	struct watch_end ahead;		/* how that went */
	struct cow *cow;		/* set up by capture_state, or NULL */
	char cow_note[256];		/* why it was not, for -progress */
	struct inject_ctx prepared;	/* capture_cow_prepare()'s calls: their code */
	int has_prepared;
	struct timespec resumed;	/* when the process ran on, if before the end */
	struct layer *hold;		/* layer_hold_open(): let go once it runs on */
	uint64_t max_deleted;		/* bytes of deleted files' contents */
	int lib_fd;			/* -lib-fd: the caller's fd to pfrez (> 2), or 0 */
	struct snap snap;
	/* Its threads as found, to put back: the main one first, each
	 * seized (nthreads of them held); ctx: their injection frames. */
	struct thread_live *threads;
	size_t nthreads;
	struct inject_ctx *ctx;
	int regs_saved;			/* threads[0..regs_saved) were read */
	int settled;			/* capture_settle() ran */
	/* The tree (lib/kind/pstree.c): with tree set, capture_attach holds
	 * the process's descendants too, each in a capture of its own in
	 * sub[] (the tree's order, zombies left out), and ptree lists them
	 * all, the root first.  ptree.n == 0: the process alone (no child). */
	int tree;
	struct pstree ptree;
	struct capture **sub;		/* each allocated: its snap points at itself */
	size_t nsub;
	unsigned long long pages_sent, bytes_sent;
	int lazy;			/* -lazy: state first (pages.h) */
	int (*asked)(void *arg, uint64_t *addr);	/* pages pthaw asks for */
	void *asked_arg;
	unsigned long long pages_asked;
	void (*progress)(void *arg, unsigned long long bytes);
	void *progress_arg;
};

/* Checks the process can be captured and stops every thread of it
 * (PTRACE_SEIZE + PTRACE_INTERRUPT, until /proc/PID/task shows no thread
 * not held).  c is set up here: capture_free() may follow any return. */
int capture_attach(struct capture *c, pid_t pid);

/* Before capture_attach(), for a copy-on-write capture: holds the
 * process for a moment to make its userfaultfd, then, while it runs,
 * write-protects its memory (the long part: at the instant, in
 * capture_state(), only what it wrote since is protected again).  On
 * failure (message in c->cow_note) capture_state() does it all. */
int capture_cow_prepare(struct capture *c, pid_t pid);

/* After capture_attach(), for a copy-on-write capture: the files the
 * hold would wait longest for are read while the process runs under
 * watch (watch.h), then every thread is held again: anew, from
 * capture_attach(), if it made a call that could change them (c->ahead
 * says which).  0 when nothing was read ahead too. */
int capture_read_ahead(struct capture *c);

/* Reads everything but page contents into c->snap: the threads' registers
 * first, then every kind of the table (lib/kind/kind.h) in its order.
 * Refuses, with a message naming it, anything that could not be restored
 * faithfully. */
int capture_state(struct capture *c);

/* Writes the REC_PAGES records of every mapping.  With copy-on-write
 * set up, the pages of the mappings it does not cover first, then lets
 * the process go on (capture_release) and writes the rest as they were
 * when it was held. */
int capture_write_pages(struct capture *c, struct rec_writer *w);

/* Writes every record but the end: the process's (snap_write_meta, then
 * its pages), or a tree's (lib/kind/pstree.c). */
int capture_write(struct capture *c, struct rec_writer *w);

/* Adds a content hash to every mapping, for -debug. */
int capture_hash_maps(struct capture *c);

/* Whether process pid of c's tree was in a group stop when held. */
int capture_was_stopped(const struct capture *c, pid_t pid);
/* After its children were let go: those that were stopped are in their
 * group stop again (each goes back to it only once it runs). */
void capture_wait_stopped(const struct capture *c);

/* Puts every thread's registers back and lets the process go on (each
 * process of the tree). */
void capture_release(struct capture *c);

/* Ends the process and every process of its tree (-halt). */
void capture_kill(struct capture *c);

/* Tells the kinds the original's fate (kind_ops.settle): it resumes, or
 * it ends now.  Once; the later calls do nothing. */
void capture_settle(struct capture *c, int ended);

void capture_free(struct capture *c);

#endif
