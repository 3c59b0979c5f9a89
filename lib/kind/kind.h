/* kind.h: the table of kinds of process state.  Each kind lives in one
 * file under lib/kind/ and owns its state in both directions: capture
 * (from /proc, ptrace or calls injected into the held process), encode to
 * its record, decode and check, restore (through pload), and print.
 * pfrez and pthaw only call the loops below, in their order of things. */
#ifndef PFREZ_KIND_H
#define PFREZ_KIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "record.h"

struct inject_ctx;
struct json;
struct pload;
struct snap;

/* One line of the table per kind; the order of the lines is the order of
 * capture, of the records in the stream and of restore within a stage. */
enum kind_id {
	KIND_PRCTL,		/* prctl attributes and personality */
	KIND_CAPS,		/* capabilities, securebits, no_new_privs */
	KIND_SCHED,		/* scheduling policy, nice, oom_score_adj */
	KIND_MEMBARRIER,	/* membarrier registrations */
	KIND_MADVISE,		/* madvise flags of the mappings */
	KIND_TIMERS,		/* POSIX timers */
	KIND_LOCKS,		/* flock, POSIX and OFD locks, leases */
	KIND_SECCOMP,		/* seccomp filters: restored last */
	KIND_NR
};

/* When a kind is restored (DESIGN.md, "Restore"): each stage runs after
 * what pthaw itself restores at that point. */
enum kind_stage {
	KIND_STAGE_MM,		/* mappings, pages and the mm fields are in place */
	KIND_STAGE_FILES,	/* the fd table is in place */
	KIND_STAGE_TASK,	/* signal handlers, mask and timers are in place */
	KIND_STAGE_CREDS,	/* uids, gids and groups are the process's */
	KIND_STAGE_LAST,	/* just before the registers: seccomp filters;
				 * pload is parked, pload_call() injects */
};

/* What a kind's capture may use: the process is held (seized, stopped)
 * and ctx runs system calls inside it (lib/ptrace/inject.h). */
struct kind_capture {
	pid_t pid;
	struct inject_ctx *inj;
	const struct snap *snap;	/* what was captured before the kinds */
};

/* What a kind's restore may use: pload, which is becoming the process
 * (pload_call() runs a system call inside it). */
struct kind_restore {
	struct pload *pl;
	pid_t pid;			/* the new process's real PID */
	uint32_t old_pid;		/* its PID in the snapshot */
	int detach;			/* pthaw -detach: pthaw leaves at once */
	const struct snap *snap;
};

struct kind_ops {
	const char *name;
	uint32_t type;		/* its record type (REC_OPTIONAL bit: may be skipped) */
	enum kind_stage stage;
	/* Fills *data (allocated by the kind) or refuses by name. */
	int (*capture)(struct kind_capture *c, void **data);
	int (*write)(const void *data, struct rec_writer *w);
	/* Decodes and checks one record into *data; -EBADMSG when it is
	 * malformed (the message names the kind and what is wrong). */
	int (*take)(void **data, const unsigned char *p, size_t len);
	int (*restore)(struct kind_restore *r, const void *data);
	void (*print)(FILE *f, const void *data);
	void (*free)(void *data);
	/* Writes the kind's fields as members of the JSON object j has
	 * open (pfrez -debug -json, pthaw -debug -json). */
	void (*print_json)(struct json *j, const void *data);
};

/* A NULL line is a kind not built yet: the loops skip it. */
extern const struct kind_ops *const kind_table[KIND_NR];

/* The loops, each over the table in order.  data is struct snap's
 * per-kind slots (void *[KIND_NR]); a kind with nothing captured has
 * NULL there and is skipped by write, restore and print. */
int kinds_capture(struct kind_capture *c, void **data);
int kinds_write(void *const *data, struct rec_writer *w);
/* 1 when no kind has this record type (the caller decides about unknown
 * records), else what the kind's take returned. */
int kinds_take(void **data, uint32_t type, const unsigned char *p, size_t len);
int kinds_restore(struct kind_restore *r, void *const *data, enum kind_stage stage);
void kinds_print(FILE *f, void *const *data);
/* "kinds": an object with a member per kind that has data, and
 * "unprinted_kinds": the names of those with data but no print_json yet. */
void kinds_print_json(struct json *j, void *const *data);
void kinds_free(void **data);

#endif
