/* snap.h: a captured process's state (everything but page contents), as
 * pfrez collects it and pthaw receives it, with its record encoding. */
#ifndef PFREZ_SNAP_H
#define PFREZ_SNAP_H

#include <stdio.h>

#include "files.h"
#include "kind.h"
#include "record.h"

/* Bounds on what a stream may make pthaw hold, checked as each record
 * arrives (before the end record verifies the stream): memory in
 * proportion to what a real process has, and linear work.  pfrez checks
 * the same bounds, so that it never writes a stream pthaw refuses. */
#define SNAP_PATH_MAX	4096		/* PATH_MAX: exe, cwd, fd paths, vma names */
#define SNAP_COMM_MAX	64		/* comm is 16 bytes in the kernel */
#define SNAP_NVMAS_MAX	65530		/* vm.max_map_count's default */
#define SNAP_FD_MAX	(1 << 20)	/* fd numbers: fs.nr_open's default */
#define SNAP_PENDING_MAX 1024		/* queued signals */
#define SNAP_THREADS_MAX 65536		/* threads of a process */
#define SNAP_META_MAX	(64u << 20)	/* bytes of records but pages */

struct snap_vma {
	struct rec_vma r;
	char *name;
};

/* A thread (lib/kind/thread.c). */
struct snap_thread {
	struct rec_thread r;
	unsigned char *xsave;		/* r.xsave_size bytes */
};

/* A process's state, as the kinds share it: the fields are those of the
 * kinds other kinds read (KIND_IN_SNAP), each encoded, decoded, restored
 * and printed by its file under lib/kind/; kind[] holds the rest. */
struct snap {
	struct rec_proc proc;		/* task.c */
	char *comm, *exe, *cwd;
	struct rec_creds creds;		/* creds.c */
	uint32_t *groups;		/* creds.ngroups supplementary groups */
	struct rec_mm mm;		/* mm.c */
	unsigned char *auxv;
	struct rec_rlimits rlim;	/* rlimits.c */
	struct rec_signals sig;		/* signals.c */
	struct rec_siginfo *pending;	/* signals queued at the capture */
	size_t npending;
	struct snap_file *files;	/* open file descriptions, by id (files.c) */
	size_t nfiles, files_cap;
	struct rec_fd *fds;		/* the fd table (files.c) */
	size_t nfds, fds_cap;
	unsigned char *fd_used;		/* SNAP_FD_MAX bits: duplicates in O(1) */
	struct snap_vma *vmas;		/* vma.c */
	size_t nvmas, vmas_cap;
	struct snap_thread *threads;	/* thread.c: the main thread first */
	size_t nthreads;
	void *kind[KIND_NR];		/* each kind's state: the snap itself for
					 * KIND_IN_SNAP kinds (snap_init) */
	unsigned nrec[KIND_NR];		/* records taken per kind */
	size_t meta_bytes;		/* of the records taken, for SNAP_META_MAX */
};

/* Before use: zeroes s and points the KIND_IN_SNAP kinds at it. */
void snap_init(struct snap *s);

/* Writes every record but pages and end. */
int snap_write_meta(const struct snap *s, struct rec_writer *w);

/* Takes one record into s, checking it (late: it follows pages records).
 * 1 when no kind knows its type; -EBADMSG on nonsense. */
int snap_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len, int late);

/* Checks that the metadata is complete and consistent: before the pages
 * (final 0) what must come before them, at the end all of it. */
int snap_check(const struct snap *s, int final);

int snap_add_vma(struct snap *s, const struct rec_vma *r, const char *name);
int snap_add_pending(struct snap *s, const struct rec_siginfo *r);
struct snap_thread *snap_add_thread(struct snap *s);

/* Room for element n of a growing array (doubling: n additions are
 * linear).  0 or -ENOMEM. */
int snap_grow(void **arr, size_t *cap, size_t n, size_t size);
/* Frees a growing array and leaves it empty: *arr NULL, *n and *cap
 * (when given) 0.  What its elements hold is the caller's to free. */
void snap_array_reset(void **arr, size_t *n, size_t *cap);

/* A string field of n bytes at *off of a record: within the payload, no
 * NULs.  Allocated, or NULL. */
char *snap_take_str(const unsigned char *p, size_t len, size_t *off, size_t n);

/* One line: a file identity, after what ("fd 3", ...). */
void snap_print_ident(FILE *f, const char *what, const struct rec_ident *id);
/* The same as a JSON object member named key. */
struct json;
void snap_ident_json(struct json *j, const char *key, const struct rec_ident *id);

/* s, escaped for the terminal into buf (names come from the stream). */
const char *snap_esc(char *buf, size_t len, const char *s);

/* The state in readable form: registers, mappings, fds (for -debug). */
void snap_print(FILE *f, const struct snap *s);

/* The same as members of the JSON object j has open: "process", "creds",
 * "mm", "rlimits", "files", "fds", "vmas", "signals", "pending_signals",
 * "threads", "kinds" (pthaw(1)). */
void snap_print_json(struct json *j, const struct snap *s);

void snap_free(struct snap *s);

/* creds.c: whether pthaw already has the process's credentials (then
 * nothing changes them, and no privilege is needed). */
int creds_are_pthaws(const struct snap *s);

#endif
