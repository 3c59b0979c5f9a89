/* cow.h: reading a process's memory while it runs.  A userfaultfd made in
 * the process (by an injected call) and taken into pfrez serves two uses:
 *
 *  COW_SNAPSHOT: copy-on-write capture.  While the process is held, its
 *  anonymous private mappings are write-protected and the pages to send
 *  noted; then it runs on, and a page it is about to write is copied by
 *  pfrez first.  cow_read() gives the memory as it was at that instant.
 *
 *  COW_TRACK: dirty tracking for live pre-copy.  The same mappings are
 *  write-protected with UFFD_FEATURE_WP_ASYNC (the kernel lifts the
 *  protection itself on a write and nobody waits); cow_pass() collects
 *  with PAGEMAP_SCAN the pages written since the pass before and
 *  protects them again.
 *
 * The userfaultfd is pfrez's only: closing it (cow_end(), or pfrez's
 * death) makes the kernel unregister every mapping, drop every
 * protection and wake any thread waiting on one.  Mappings a userfaultfd
 * cannot protect (file mappings, shared memory, the process's own
 * userfaultfd registrations) are not covered: pfrez reads them while the
 * process is held (pages.c, PAGES_STOPPED). */
#ifndef PFREZ_COW_H
#define PFREZ_COW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct inject_ctx;
struct snap;
struct cow;

enum cow_mode { COW_SNAPSHOT, COW_TRACK };

/* A run of pages of one mapping to send in this pass; zero: they are no
 * longer there (discarded since they were sent): send them as zeros. */
struct cow_run {
	uint64_t start, end;
	int zero;
};

/* Sets it up in the held process pid, whose mappings are s's; inj runs
 * calls in it.  -ENOTSUP (message set) when this kernel or this process
 * allows no userfaultfd: the caller reads memory while it is held. */
int cow_begin(struct cow **cp, enum cow_mode mode, pid_t pid, struct inject_ctx *inj,
	      const struct snap *s);

/* cow_begin in steps, for a COW_SNAPSHOT whose instant comes later:
 * cow_open() in the held process (inj) makes the userfaultfd;
 * cow_prepare(), while the process runs, registers and protects its
 * anonymous memory (the long part), letting every write through; then
 * cow_freeze(), the process held again with its mappings s, protects
 * what was written meanwhile and takes the instant. */
int cow_open(struct cow **cp, enum cow_mode mode, pid_t pid, struct inject_ctx *inj);
int cow_prepare(struct cow *c);
int cow_freeze(struct cow *c, const struct snap *s);

/* Before cow_freeze(): lifts the protection cow_prepare() set on
 * [start, end), memory the held process is about to write (the frames
 * of injected calls, what the kernel writes on their return);
 * cow_freeze() protects it again, as anything written meanwhile. */
void cow_lift(struct cow *c, uint64_t start, uint64_t end);

/* Whether mapping i of the snap is read through the userfaultfd. */
int cow_covers(const struct cow *c, size_t i);

/* The runs of mapping i to send in this pass (COW_SNAPSHOT: the pages
 * present or swapped at the instant; COW_TRACK: those cow_pass() found).
 * Owned by c, valid until the next pass. */
int cow_runs(struct cow *c, size_t i, const struct cow_run **runs, size_t *n);

/* COW_SNAPSHOT: n pages at addr as they were at the instant, ascending
 * from one call to the next; the process may write them from then on.
 * COW_TRACK: the pages as they are now. */
int cow_read(struct cow *c, uint64_t addr, size_t n, unsigned char *buf);

/* COW_TRACK: finds the pages written since the last pass (the first:
 * every page) and protects them again; final: the process is held, also
 * list the pages sent before that are gone now.  *pages: how many. */
int cow_pass(struct cow *c, int final, uint64_t *pages);

/* Whether the pass sends zero pages as records (a page sent before may
 * be zero now). */
int cow_zero_records(const struct cow *c);

/* Lets go of the process's memory.  COW_SNAPSHOT: -ESTALE (message set)
 * when the process unmapped, discarded or moved memory not yet read, or
 * exec'd, while it was being read: what was read is not one instant. */
int cow_end(struct cow *c);

#endif
