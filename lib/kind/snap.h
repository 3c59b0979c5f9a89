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
#define SNAP_META_MAX	(64u << 20)	/* bytes of records before the pages */

struct snap_vma {
	struct rec_vma r;
	char *name;
};

struct snap {
	struct rec_proc proc;
	char *comm, *exe, *cwd;
	struct rec_mm mm;
	unsigned char *auxv;
	struct rec_rlimits rlim;
	int has_rlim;
	struct rec_signals sig;
	int has_sig;
	struct snap_file *files;	/* open file descriptions, by id */
	size_t nfiles, files_cap;
	struct rec_fd *fds;		/* the fd table (lib/kind/files.c) */
	size_t nfds, fds_cap;
	unsigned char *fd_used;		/* SNAP_FD_MAX bits: duplicates in O(1) */
	struct snap_vma *vmas;
	size_t nvmas, vmas_cap;
	struct rec_regs regs;
	int has_regs;
	struct rec_xstate xs;
	unsigned char *xsave;
	struct rec_rseq rseq;
	int has_rseq;
	struct rec_siginfo *pending;	/* signals queued at the capture */
	size_t npending;
	int has_proc, has_mm;
	struct rec_creds creds;
	uint32_t *groups;		/* creds.ngroups supplementary groups */
	int has_creds;
	void *kind[KIND_NR];		/* each kind of the table's own state */
	size_t meta_bytes;		/* of the records taken, for SNAP_META_MAX */
};

/* Writes every record but pages and end. */
int snap_write_meta(const struct snap *s, struct rec_writer *w);

/* Takes one metadata record into s, checking it.  -EBADMSG on nonsense. */
int snap_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len);

/* Checks that the metadata is complete and consistent. */
int snap_check(const struct snap *s);

int snap_add_vma(struct snap *s, const struct rec_vma *r, const char *name);
int snap_add_pending(struct snap *s, const struct rec_siginfo *r);

/* Room for element n of a growing array (doubling: n additions are
 * linear).  0 or -ENOMEM. */
int snap_grow(void **arr, size_t *cap, size_t n, size_t size);

/* A string field of n bytes at *off of a record: within the payload, no
 * NULs.  Allocated, or NULL. */
char *snap_take_str(const unsigned char *p, size_t len, size_t *off, size_t n);

/* One line: a file identity, after what ("fd 3", ...). */
void snap_print_ident(FILE *f, const char *what, const struct rec_ident *id);

/* The state in readable form: registers, mappings, fds (for -debug). */
void snap_print(FILE *f, const struct snap *s);

/* The same as members of the JSON object j has open: "process", "creds",
 * "mm", "rlimits", "signals", "pending_signals", "fds", "vmas", "regs",
 * "xstate", "rseq", "kinds", "unprinted_kinds" (man/pfrez-stream.5). */
struct json;
void snap_print_json(struct json *j, const struct snap *s);

void snap_free(struct snap *s);

#endif
