/* restore.h: rebuilding a process from a snapshot inside pload. */
#ifndef PTHAW_RESTORE_H
#define PTHAW_RESTORE_H

#include <stdio.h>
#include <sys/types.h>

#include "lazy.h"
#include "pload_ctl.h"
#include "pstree.h"
#include "record.h"
#include "snap.h"

enum remap_mode { REMAP_AUTO, REMAP_ALWAYS, REMAP_NEVER };

struct restore {
	enum remap_mode remap;
	int detach;		/* the process must run without pthaw */
	int hold;		/* -halt hand-over: built, kept stopped */
	int remapped;		/* out: pthaw must answer its PID calls */
	uint32_t old_pid;	/* out: its PID in the snapshot */
	struct snap snap;
	/* A tree (lib/kind/pstree.c): the table, and a struct restore per
	 * process other than the root (sub[i] for tree entry i; sub[0]
	 * NULL), each with its own snap and pload; cur is the one whose
	 * records are being taken.  tree.n == 0: one process. */
	struct pstree tree;
	struct restore **sub;
	struct restore *cur;
	int cur_idx;		/* cur's tree entry */
	int in_tree;		/* a process of a tree but its root */
	int paged;		/* its pages records began */
	int fd_base;		/* the root pload's pipes' fds (the tree's) */
	size_t tree_meta;	/* bytes of all its processes' records but pages */
	struct rec_reader *rd;
	const char *loader;
	int loader_fd;		/* > 2: loader is this memfd (self-executing snapshot) */
	int stdin_is_stream;
	int same_host;		/* the stream's boot-id is this boot's: dev/ino compare */
	int take_sockets;	/* -take-sockets: listening sockets from the original */
	int check_only;		/* -check, -debug: restore nothing (restore_check() reports) */
	enum pload_ns ns;	/* restore in a new PID (and user) namespace */
	struct pload pl;
	unsigned char *added_write;	/* per vma: PROT_WRITE added for filling */
	unsigned long long pages;
	void (*progress)(void *arg, unsigned long long bytes);
	void *progress_arg;
	/* Pages placed with userfaultfd (lazy.h); a stream of pfrez -lazy
	 * starts the process at its REC_LAZY record (started set), and
	 * restore_run returns once the rest arrived. */
	struct lazy lz;
	int started;
	int (*ask)(void *arg, uint64_t addr);	/* -halt link: ask pfrez for a page */
	void *ask_arg;
	int verbose;		/* -progress: say when it starts */
	int lazy_stream;	/* the header says a lazy record comes */
};

/* Takes one record other than pages and end into r->snap (late: it came
 * after pages records); an unknown one is skipped with a warning when it
 * is optional.  0, or -errno with the message set. */
int restore_take(struct restore *r, uint32_t type, const unsigned char *p, size_t len, int late);

/* A tree: its last process's records were the last (the end record
 * came), each process complete and the one its entry names.  0 for one
 * process. */
int restore_tree_done(struct restore *r);

/* A pages record came, for the process whose records are being taken. */
void restore_pages_seen(struct restore *r);

/* Reads the metadata records up to the first pages (or end) record and
 * checks that this machine can restore them.  *type/payload/len hold the
 * record that stopped the scan. */
int restore_read_meta(struct restore *r, uint32_t *type, const unsigned char **p, size_t *len);

/* Builds the process: starts pload, lays out memory, streams the pages
 * (starting with the record restore_read_meta stopped at), and, once the
 * end record verified, restores the rest and hands over the registers.
 * Returns the running process's PID, or -errno with nothing left running. */
pid_t restore_run(struct restore *r, uint32_t type, const unsigned char *p, size_t len);

/* With r->hold, restore_run() leaves the process stopped under pthaw's
 * ptrace (killed with pthaw if it dies): release lets it run, discard
 * kills it.  0 or -errno (the process then killed). */
int restore_release(struct restore *r);
void restore_discard(struct restore *r);

/* pthaw -check: everything restore_run would need from this host (the
 * vdso, mapped files, the files, cwd and executable it reopens, as the
 * process, and the privileges for its credentials), one line per problem
 * on out.  Returns the number of problems. */
int restore_check(struct restore *r, FILE *out);

void restore_free(struct restore *r);

#endif
