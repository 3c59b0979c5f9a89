/* kind.h: the table of kinds of process state.  Each kind lives in one
 * file under lib/kind/ and owns its state in both directions: capture
 * (from /proc, ptrace or calls injected into the held process), encode to
 * its records, decode and check, what restoring it needs from this host,
 * restore (through pload), and print as text and as JSON.  pfrez and
 * pthaw only call the loops below, in their order of things. */
#ifndef PFREZ_KIND_H
#define PFREZ_KIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/user.h>

#include "record.h"

struct inject_ctx;
struct json;
struct pload;
struct proc_prefetch;
struct snap;

/* One line of the table per record type; the order of the lines is the
 * order of capture, of the records in the stream and of restore within a
 * stage.  Kinds that others read come first. */
enum kind_id {
	KIND_TASK,		/* the process: pid, session, names, cwd, umask */
	KIND_CREDS,		/* uids, gids, supplementary groups */
	KIND_MM,		/* the mm fields and auxiliary vector */
	KIND_FILE,		/* open file descriptions */
	KIND_FD,		/* the fd table: fds referring to them */
	KIND_TREEFILE,		/* files an earlier process of the tree has */
	KIND_INET,		/* TCP and UDP sockets (fd_inet.c) */
	KIND_TTY,		/* the terminal: modes, size, foreground */
	KIND_UNIX,		/* unix sockets: pairs, names, queued messages */
	KIND_INOTIFY,		/* inotify watches */
	KIND_RLIMITS,		/* resource limits (after the fds: RLIMIT_NOFILE) */
	KIND_VDSO,		/* the kernel's vdso and vvar, moved into place */
	KIND_SHMEM,		/* memory objects: shared memory, memfds, deleted
				 * files (before the mappings that map them) */
	KIND_VMA,		/* memory mappings */
	KIND_SIGNALS,		/* signal dispositions, interval timers */
	KIND_SIGINFO,		/* queued signals */
	KIND_THREAD,		/* threads: registers, xstate, mask, altstack */
	KIND_RSEQ,		/* rseq registrations (may move a thread's rip) */
	KIND_PRCTL,		/* prctl attributes and personality */
	KIND_CAPS,		/* capabilities, securebits, no_new_privs */
	KIND_SCHED,		/* scheduling policy, nice, oom_score_adj */
	KIND_MEMBARRIER,	/* membarrier registrations */
	KIND_MADVISE,		/* madvise flags of the mappings */
	KIND_TIMERS,		/* POSIX timers */
	KIND_LOCKS,		/* flock, POSIX and OFD locks, leases */
	KIND_PIPE,		/* pipes and FIFOs: queued bytes, size */
	KIND_EVENTFD,		/* eventfd counters */
	KIND_TIMERFD,		/* timerfd clocks, times, unread expirations */
	KIND_SIGNALFD,		/* signalfd masks */
	KIND_EPOLL,		/* epoll interest lists (after their targets) */
	KIND_SECCOMP,		/* seccomp filters: restored last */
	KIND_NR
};

/* When a kind is restored (DESIGN.md, "Restore"), in this order; a kind
 * may act at several stages (KIND_AT(a) | KIND_AT(b)). */
enum kind_stage {
	KIND_STAGE_SPACE,	/* pload's address space is cleared: the vdso
				 * moves, mappings are made, files are opened
				 * as the process from here on */
	KIND_STAGE_MM,		/* the pages are in (the end record verified) */
	KIND_STAGE_FILES,	/* the fd table */
	KIND_STAGE_TASK,	/* signal handlers, timers, per-thread state */
	KIND_STAGE_CREDS,	/* uids, gids, groups, capabilities */
	KIND_STAGE_LAST,	/* pload is parked, pload_call() injects:
				 * rseq, seccomp filters */
	KIND_STAGE_REGS,	/* pload is gone, the task stopped under
				 * ptrace: registers and masks, last */
	KIND_STAGE_NR
};
#define KIND_AT(stage)	(1u << (stage))

enum kind_flag {
	KIND_MANY = 1u << 0,	 /* its record may come many times (one per
				  * file, fd, mapping, thread, signal) */
	KIND_REQUIRED = 1u << 1, /* a snapshot without its record is incomplete */
	KIND_LATE = 1u << 2,	 /* its records may follow pages records (task
				  * state sent after a pass of pages) */
	KIND_IN_SNAP = 1u << 3,	 /* its state is in struct snap's own fields,
				  * which other kinds read: its data is the
				  * snap (snap_init), never freed by the loops */
	KIND_FIRST = 1u << 4,	 /* captured before any call is injected (the
				  * calls would change what it reads) */
	KIND_LAST = 1u << 5,	 /* captured last, once copy-on-write has
				  * marked the memory (cow_freeze): a slow
				  * read ahead (prefetch.h) runs beside that */
};

/* kinds_capture()'s phases, in the order the capture runs them. */
enum kind_phase { KINDS_FIRST, KINDS_MAIN, KINDS_LAST };

/* The state of a thread that the capture reads before injecting calls
 * into it (they change it) and puts back when it lets the thread go. */
struct thread_live {
	pid_t tid;
	struct user_regs_struct regs;
	uint64_t sigmask;
	unsigned char *xsave;	/* the XSAVE area, xsize bytes */
	uint32_t xsize;
	struct inject_ctx *inj;	/* calls run in this thread (NULL before) */
	uint64_t rseq;		/* its rseq area (the rseq kind), 0 for none */
};

/* What a kind's capture may use: the process is held (seized, stopped)
 * and inj runs system calls inside it (lib/ptrace/inject.h); for the
 * KIND_FIRST kinds inj is NULL: no call has run yet. */
struct kind_capture {
	pid_t pid;
	struct inject_ctx *inj;
	struct snap *snap;		/* what the kinds before this one captured */
	struct thread_live *live;	/* its main thread, as it will resume */
	struct thread_live *threads;	/* every thread, the main one first */
	size_t nthreads;
	int self_contained;		/* pfrez -self-contained: embed file pages */
	int halt;			/* pfrez -halt: the original is to end */
	uint64_t max_deleted;		/* pfrez -max-deleted: bytes of deleted files */
	int lib_fd;			/* pfrez -lib-fd: > 2, or 0 for none (files.c) */
	struct proc_prefetch *pre;	/* /proc files read ahead (prefetch.h), or NULL */
	int marking;			/* copy-on-write marks memory in this hold
					 * (KINDS_LAST runs beside its walk) */
};

/* What pthaw checks before it reads a page: whether this host and this
 * pthaw can restore the kind exactly (privileges, files, the kernel). */
struct kind_check {
	const struct snap *snap;
	int same_host;		/* the stream's boot-id is this boot's */
	int take_sockets;	/* pthaw -take-sockets (fd_inet.c) */
	/* pthaw -check: report each problem on out and go on (the loop
	 * counts them); otherwise the first problem refuses the stream. */
	FILE *out;
	int problems;
	/* pthaw restores without privilege, in a user namespace mapping
	 * only its own uid and gid (pidns.h): what needs more is refused. */
	int userns;
	int in_tree;		/* a process of a tree but its root (pthaw's
				 * own fds, -inherit-fd, are the root's) */
};

/* What a kind's restore may use: pload, which is becoming the process
 * (pload_call() runs a system call inside it). */
struct kind_restore {
	struct pload *pl;
	pid_t pid;			/* the new process's real PID */
	pid_t self_pid;			/* its PID as it sees itself: in a new PID
					 * namespace, old_pid (for calls pload makes) */
	uint32_t old_pid;		/* its PID in the snapshot */
	int detach;			/* pthaw -detach: pthaw leaves at once */
	int same_host;			/* the stream's boot-id is this boot's */
	int remapped;			/* pthaw answers its PID (and tid) calls */
	int take_sockets;		/* pthaw -take-sockets (fd_inet.c) */
	int tree;			/* a process of a tree: its session and group
					 * were made with the tree (task_lead) */
	int files_shared;		/* its fd table is its parent's (CLONE_FILES),
					 * restored there: it has no fds of its own */
	enum kind_stage stage;		/* the stage being restored */
	const struct snap *snap;
	unsigned char *added_write;	/* per mapping: PROT_WRITE added for filling */
};

struct kind_ops {
	const char *name;
	uint32_t type;		/* its record type (REC_OPTIONAL bit: may be
				 * skipped); 0: it has no record of its own */
	unsigned flags;		/* enum kind_flag */
	unsigned stages;	/* KIND_AT() of the stages it restores at */
	/* Fills *data (allocated by the kind) or refuses by name. */
	int (*capture)(struct kind_capture *c, void **data);
	int (*write)(const void *data, struct rec_writer *w);
	/* Decodes and checks one record into *data; -EBADMSG when it is
	 * malformed (the message names the kind and what is wrong). */
	int (*take)(void **data, const unsigned char *p, size_t len);
	/* Checks the kind's records against each other and the rest of the
	 * snapshot once the metadata is in. */
	int (*verify)(const struct snap *s, const void *data);
	/* What restoring it needs from this host (kind_check). */
	int (*check)(struct kind_check *c, const void *data);
	int (*restore)(struct kind_restore *r, const void *data);
	void (*print)(FILE *f, const void *data);
	/* Writes the kind's fields as members of the JSON object j has
	 * open: an object named after the kind, or (KIND_IN_SNAP) the
	 * kind's own top-level members (pfrez -debug -json, pthaw -debug -json). */
	void (*print_json)(struct json *j, const void *data);
	void (*free)(void *data);
	/* pfrez, once the original's fate is known: it resumes (ended 0),
	 * or -halt ends it now (1).  What the capture left held for the
	 * move (fd_inet.c: connections kept silent) is let go or kept. */
	void (*settle)(void *data, int ended);
};

/* task.c: makes the process lead its session or process group again as
 * it did, or leaves it in pthaw's (the root of a tree: before its
 * children are made, which inherit them). */
int task_lead(struct kind_restore *r);

/* A NULL line is a kind not built yet: the loops skip it. */
extern const struct kind_ops *const kind_table[KIND_NR];
/* Line i as the loops see it: NULL for a kind left out of this build
 * (make kind-drop) too. */
const struct kind_ops *kind_get(int i);

/* The loops, each over the table in order.  data is struct snap's
 * per-kind slots (void *[KIND_NR]); a kind with nothing captured has
 * NULL there and is skipped by write, restore and print. */
/* The KIND_FIRST kinds, the KIND_LAST ones, or (KINDS_MAIN) the others. */
int kinds_capture(struct kind_capture *c, void **data, enum kind_phase phase);
int kinds_write(void *const *data, struct rec_writer *w);
/* Only the kinds whose records may follow pages (late 1: KIND_LATE), or
 * only the others: a live pre-copy sends the first at its end. */
int kinds_write_part(void *const *data, struct rec_writer *w, int late);
/* 1 when no kind has this record type (the caller decides about unknown
 * records), else what the kind's take returned.  nrec counts the records
 * of each kind; late: the record follows pages records. */
int kinds_take(void **data, unsigned *nrec, uint32_t type, const unsigned char *p, size_t len,
	       int late);
/* Every required kind has its records, each kind's agree with the rest;
 * before the pages (final 0), of the kinds whose records may not come
 * later only. */
int kinds_verify(const struct snap *s, void *const *data, const unsigned *nrec, int final);
/* 0 when every kind can be restored here; else, with c->out, the number
 * of problems reported, or the first problem's -errno. */
int kinds_check(struct kind_check *c, void *const *data);
/* For a check: the problem rc (its message set) is reported and counted
 * with c->out, and returned. */
int kind_problem(struct kind_check *c, int rc);
int kinds_restore(struct kind_restore *r, void *const *data, enum kind_stage stage);
void kinds_print(FILE *f, void *const *data);
/* KIND_IN_SNAP kinds' members, then "kinds": an object with a member per
 * other kind that has data. */
void kinds_print_json(struct json *j, void *const *data);
void kinds_free(void **data);
void kinds_settle(void *const *data, int ended);

#endif
