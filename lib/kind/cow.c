/* cow.c: pfrez reads the memory of a process that runs on: copy-on-write
 * capture and dirty tracking for pre-copy, with a userfaultfd (cow.h).
 *
 * Why a userfaultfd and not an injected fork() whose child is a frozen
 * copy (DESIGN.md: "a clone must leave the original exactly as it was",
 * "pfrez must never leave the original harmed if it dies half way"):
 *  - what is left behind.  A forked child is the original's child: its
 *    death is a SIGCHLD to it (or, with no exit signal, a zombie only a
 *    wait() with __WCLONE of the original reaps: pfrez would have to
 *    inject that wait, and a pfrez killed before it leaves the zombie).
 *    Meanwhile it is in the original's process group (Ctrl-C reaches
 *    it), counts against RLIMIT_NPROC and shows in its children.  The
 *    userfaultfd is pfrez's fd: in the process only for two injected
 *    calls (and closed by the process itself if pfrez dies in between,
 *    inject_query_undo); when pfrez closes it or dies, the kernel
 *    unregisters every mapping, drops every protection and wakes every
 *    waiting thread.  Nothing stays: no child, fd, signal or mapping.
 *  - the pause.  fork() copies every page table entry of the process and
 *    takes a reference on every page (tens of ms at 2 GiB); write
 *    protection changes the entries in place and PAGEMAP_SCAN reports
 *    present pages as ranges, a few ms.
 *  - fidelity.  fork() does not copy MADV_DONTFORK memory, zeroes
 *    MADV_WIPEONFORK memory and may fail (overcommit, pid limits);
 *    such memory would have to be read while held anyway, as the
 *    mappings a userfaultfd cannot protect are here.
 * What a userfaultfd cannot do is keep memory the process unmaps or
 * discards while it is read: the kernel tells (UFFD_EVENT_UNMAP, REMOVE,
 * REMAP) and pfrez refuses the capture then (cow_end), never writes a
 * snapshot of two instants.  Memory written behind the page tables
 * (long-term pinned pages: RDMA, io_uring fixed buffers) is not seen by
 * either write protection or soft-dirty tracking. */
#include "cow.h"
#include "err.h"
#include "inject.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* PAGEMAP_SCAN (Linux 6.7) and UFFD_FEATURE_WP_ASYNC (6.7) are newer
 * than the kernel headers of some build hosts. */
#ifndef PAGEMAP_SCAN
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGEMAP_SCAN		_IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED	(1 << 0)
#define PAGE_IS_WRITTEN		(1 << 1)
#define PAGE_IS_FILE		(1 << 2)
#define PAGE_IS_PRESENT		(1 << 3)
#define PAGE_IS_SWAPPED		(1 << 4)
#define PM_SCAN_WP_MATCHING	(1 << 0)
#define PM_SCAN_CHECK_WPASYNC	(1 << 1)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC	(1 << 15)
#endif

#define PAGE	4096ull
#define SAVED_BUCKETS 65536

struct cow_vma {
	size_t idx;			/* in the snap */
	uint64_t start, end;
	struct cow_run *runs;
	size_t nruns, cap;
	uint8_t *sent;			/* COW_TRACK: a bit per page sent */
	uint64_t sent_lo, sent_hi;	/* COW_TRACK: pages [lo, hi) hold the bits set */
	int resend;			/* COW_TRACK: protected pages not all seen */
};

/* COW_SNAPSHOT: a page copied before the process wrote it. */
struct saved {
	struct saved *next;
	uint64_t addr;
	unsigned char data[PAGE];
};

struct cow {
	enum cow_mode mode;
	pid_t pid;
	int uffd, pagemap_fd, wake[2];
	struct cow_vma *v;
	size_t nv;
	size_t *of;			/* per snap mapping: index in v + 1, or 0 */
	size_t nsnap;
	int passes;
	/* COW_SNAPSHOT: the thread serving the write faults */
	pthread_t thread;
	int serving;
	pthread_mutex_t lock;
	uint64_t cursor;		/* pages below were read and released */
	struct saved **saved;		/* SAVED_BUCKETS chains */
	int frozen;			/* the instant is taken (cow_freeze) */
	uint64_t lost;			/* first address lost to the capture */
	const char *lost_how;
	uint64_t *pending;		/* faulting pages not yet released */
	size_t npending, cappending;
	struct cow_run *prep;		/* the mappings cow_prepare() protected */
	size_t nprep, prep_at;
};

/* [start, end) registered for write protection (again is allowed). */
static int register_wp(struct cow *c, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = { .range = { start, end - start }, .mode = UFFDIO_REGISTER_MODE_WP };

	return ioctl(c->uffd, UFFDIO_REGISTER, &reg);
}

/* UFFDIO_WRITEPROTECT fails with EAGAIN while an unmap or discard event
 * is on its way to the reader (mmap_changing): it is tried again once
 * the serving thread has read it. */
static int protect(struct cow *c, uint64_t start, uint64_t len, int on)
{
	struct uffdio_writeprotect wp = { .range = { start, len }, .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };

	for (int i = 0; i < 100000; i++) {
		if (ioctl(c->uffd, UFFDIO_WRITEPROTECT, &wp) == 0)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		sched_yield();
	}
	return -EAGAIN;
}

static int add_run(struct cow_vma *v, uint64_t start, uint64_t end, int zero)
{
	if (v->nruns && v->runs[v->nruns - 1].end == start && v->runs[v->nruns - 1].zero == zero) {
		v->runs[v->nruns - 1].end = end;
		return 0;
	}
	if (v->nruns == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct cow_run *n = realloc(v->runs, cap * sizeof(*n));

		if (!n)
			return err_sys(ENOMEM, "page runs");
		v->runs = n;
		v->cap = cap;
	}
	v->runs[v->nruns++] = (struct cow_run){ start, end, zero };
	return 0;
}

/* PAGEMAP_SCAN over mapping v: the regions whose pages match (all of
 * mask, any of anyof), each passed to fn with its categories (those of
 * ret, mask and anyof; a region holds pages alike in them); flags
 * PM_SCAN_WP_MATCHING protects them again in the same walk (one atomic
 * step per page). */
static int scan(struct cow *c, struct cow_vma *v, uint64_t flags, uint64_t mask, uint64_t anyof,
		uint64_t ret,
		int (*fn)(struct cow_vma *v, uint64_t start, uint64_t end, uint64_t cat, void *arg),
		void *arg)
{
	static _Thread_local struct page_region reg[1024];
	uint64_t a = v->start;

	while (a < v->end) {
		struct pm_scan_arg s = {
			.size = sizeof(s), .flags = flags, .start = a, .end = v->end,
			.vec = (uintptr_t)reg, .vec_len = 1024, .category_mask = mask,
			.category_anyof_mask = anyof, .return_mask = mask | anyof | ret,
		};
		long n = ioctl(c->pagemap_fd, PAGEMAP_SCAN, &s);

		if (n < 0)
			return err_sys(errno, "process %d: PAGEMAP_SCAN at 0x%llx", c->pid, (unsigned long long)a);
		for (long i = 0; i < n; i++) {
			int rc = fn(v, reg[i].start, reg[i].end, reg[i].categories, arg);

			if (rc)
				return rc;
		}
		if (s.walk_end <= a)
			break;
		a = s.walk_end;
	}
	return 0;
}

/* The lowest fd number the held process has free: the one its next new
 * fd gets (nothing else runs in it meanwhile). */
static long lowest_free_fd(pid_t pid)
{
	char path[64];
	long fd = 0;
	struct stat sb;

	for (;; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%ld", pid, fd);
		if (lstat(path, &sb) < 0)
			return errno == ENOENT ? fd : -errno;
	}
}

/* The userfaultfd must be made by the process itself (it is bound to the
 * mm of its maker): one injected call, then pidfd_getfd(2) takes it and
 * an injected close leaves the process's fd table as it was.  Should
 * pfrez die in between, the process closes it itself on its way back
 * through the injection frame (inject_query_undo, given the number the
 * kernel is bound to pick: the lowest free one).  Made without
 * UFFD_USER_MODE_ONLY: a write by the kernel (read(2) into a protected
 * buffer) must wait for pfrez like the process's own, never fail with
 * EFAULT. */
static int take_uffd(struct cow *c, struct inject_ctx *inj, uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	long fd, ret, want = lowest_free_fd(c->pid);
	int pidfd, e = 0, rc;

	if (want < 0)
		return err_sys((int)-want, "process %d: reading its fds", c->pid);
	rc = inject_query_undo(inj, SYS_userfaultfd, (long[6]){ O_CLOEXEC | O_NONBLOCK }, SYS_close,
			       (long[6]){ want }, &fd);
	if (rc)
		return rc;
	if (fd < 0)
		return err_msg(ENOTSUP, "process %d: userfaultfd: %s (vm.unprivileged_userfaultfd is 0 and the process lacks CAP_SYS_PTRACE)",
			       c->pid, strerror((int)-fd));
	if (fd != want) {
		inject_query(inj, SYS_close, (long[6]){ fd }, &ret);
		return err_msg(ENOTSUP, "process %d: its userfaultfd came as fd %ld, not %ld", c->pid, fd, want);
	}
	pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	c->uffd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	if (c->uffd < 0)
		e = errno;
	if (pidfd >= 0)
		close(pidfd);
	rc = inject_query(inj, SYS_close, (long[6]){ fd }, &ret);
	if (rc)
		return rc;
	if (e)
		return err_sys(e, "process %d: taking its userfaultfd", c->pid);
	if (ioctl(c->uffd, UFFDIO_API, &api) < 0)
		return err_msg(ENOTSUP, "process %d: userfaultfd write protection (features 0x%llx): %s", c->pid,
			       (unsigned long long)features, strerror(errno));
	return 0;
}

/* ---- COW_SNAPSHOT: the serving thread ---- */

static struct saved **bucket(struct cow *c, uint64_t addr)
{
	return &c->saved[(addr / PAGE) % SAVED_BUCKETS];
}

static void lose(struct cow *c, uint64_t addr, const char *how)
{
	if (!c->lost_how) {
		c->lost = addr;
		c->lost_how = how;
	}
}

/* Whether [start, end) holds a page noted at the instant and not yet
 * read: discarding it loses what the capture needs. */
static int unread(struct cow *c, uint64_t start, uint64_t end)
{
	if (!c->frozen || end <= c->cursor)
		return 0;
	if (start < c->cursor)
		start = c->cursor;
	for (size_t i = 0; i < c->nv; i++) {
		const struct cow_vma *v = &c->v[i];

		if (v->end <= start || v->start >= end)
			continue;
		for (size_t k = 0; k < v->nruns; k++)
			if (v->runs[k].start < end && v->runs[k].end > start)
				return 1;
	}
	return 0;
}

/* A write fault on a protected page: the process waits in it until the
 * protection is lifted (release()).  The page goes aside first, unless
 * it was read already. */
static void on_fault(struct cow *c, uint64_t addr)
{
	pthread_mutex_lock(&c->lock);
	/* Before the instant (cow_prepare): let the write through. */
	if (c->frozen && addr >= c->cursor) {
		struct saved **b = bucket(c, addr), *s;

		for (s = *b; s && s->addr != addr; s = s->next)
			;
		if (!s && (s = malloc(sizeof(*s)))) {
			struct iovec l = { s->data, PAGE }, r = { (void *)addr, PAGE };

			s->addr = addr;
			if (process_vm_readv(c->pid, &l, 1, &r, 1, 0) != (ssize_t)PAGE) {
				free(s);
				lose(c, addr, "could not be read when it was written");
			} else {
				s->next = *b;
				*b = s;
			}
		} else if (!s) {
			lose(c, addr, "could not be set aside (out of memory)");
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Lifts the protection of a faulting page: 1 done, 0 to try again.
 * Tried once, never in a loop: EAGAIN means an unmap or discard event
 * waits for the reader (mmap_changing), and the reader is this very
 * thread (serve()).  ENOENT: the mapping is gone meanwhile (another
 * thread unmapped it); the waiting thread is woken to fault again and
 * meet what is there now, the unmap event tells the capture. */
static int release(struct cow *c, uint64_t addr)
{
	struct uffdio_writeprotect wp = { .range = { addr, PAGE }, .mode = 0 };
	struct uffdio_range wake = { addr, PAGE };

	if (ioctl(c->uffd, UFFDIO_WRITEPROTECT, &wp) == 0)
		return 1;
	if (errno == EAGAIN)
		return 0;
	if (errno != ENOENT) {
		pthread_mutex_lock(&c->lock);
		lose(c, addr, "was written and could not be released");
		pthread_mutex_unlock(&c->lock);
	}
	(void)ioctl(c->uffd, UFFDIO_WAKE, &wake);
	return 1;
}

/* One thread waits in each: as many as the process has threads. */
static int pend(struct cow *c, uint64_t addr)
{
	if (c->npending == c->cappending) {
		size_t cap = c->cappending ? 2 * c->cappending : 64;
		uint64_t *n = realloc(c->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->pending = n;
		c->cappending = cap;
	}
	c->pending[c->npending++] = addr;
	return 0;
}

static void on_event(struct cow *c, const struct uffd_msg *m)
{
	uint64_t start = 0, end = 0;
	const char *how = NULL;

	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		if (m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) {
			uint64_t addr = m->arg.pagefault.address & ~(PAGE - 1);

			on_fault(c, addr);
			if (!release(c, addr) && pend(c, addr)) {
				pthread_mutex_lock(&c->lock);
				lose(c, addr, "could not be released (out of memory)");
				pthread_mutex_unlock(&c->lock);
			}
		}
		return;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		start = m->arg.remove.start;
		end = m->arg.remove.end;
		how = m->event == UFFD_EVENT_UNMAP ? "was unmapped" : "was discarded (madvise)";
		break;
	case UFFD_EVENT_REMAP:
		start = m->arg.remap.from;
		end = start + m->arg.remap.len;
		how = "was moved (mremap)";
		break;
	default:
		return;
	}
	/* The process goes on with the unmap as soon as this event is read:
	 * if it holds pages not yet read, the capture has lost them. */
	pthread_mutex_lock(&c->lock);
	if (unread(c, start, end))
		lose(c, start, how);
	pthread_mutex_unlock(&c->lock);
}

/* Reads what the kernel reports and releases the faulting pages; a
 * release that must wait for an event not yet read is tried again after
 * the next read (poll for a millisecond, not forever). */
static void *serve(void *arg)
{
	struct cow *c = arg;
	struct uffd_msg m[32];

	for (;;) {
		struct pollfd p[2] = { { c->uffd, POLLIN, 0 }, { c->wake[0], POLLIN, 0 } };
		size_t k = 0;
		ssize_t n;

		if (poll(p, 2, c->npending ? 1 : -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		n = p[0].revents ? read(c->uffd, m, sizeof(m)) : 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			pthread_mutex_lock(&c->lock);
			lose(c, 0, "could not be served (reading the userfaultfd failed)");
			pthread_mutex_unlock(&c->lock);
			break;
		}
		for (size_t i = 0; n > 0 && i < (size_t)n / sizeof(m[0]); i++)
			on_event(c, &m[i]);
		for (size_t i = 0; i < c->npending; i++)
			if (!release(c, c->pending[i]))
				c->pending[k++] = c->pending[i];
		c->npending = k;
	}
	return NULL;
}

/* ---- setting up ---- */

/* The mappings a userfaultfd protects and a process may write: private
 * anonymous memory (heap, stack, anonymous mappings).  File mappings
 * (their changed pages), shared memory and the rest are read while the
 * process is held. */
static int coverable(const struct rec_vma *r)
{
	return !(r->flags & (VMA_SPECIAL | VMA_SHARED | VMA_FILE | VMA_EMBED | VMA_SHMEM)) &&
	       (r->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE);
}

int cow_open(struct cow **cp, enum cow_mode mode, pid_t pid, struct inject_ctx *inj)
{
	struct cow *c = calloc(1, sizeof(*c));
	uint64_t features = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
	char path[64];
	int rc;

	*cp = c;
	if (!c)
		return err_sys(ENOMEM, "copy-on-write");
	c->mode = mode;
	c->pid = pid;
	c->uffd = c->pagemap_fd = c->wake[0] = c->wake[1] = -1;
	pthread_mutex_init(&c->lock, NULL);
	/* Snapshot: unmaps, discards and moves are reported (and wait until
	 * read), to tell a capture that lost pages.  Tracking: the kernel
	 * resolves the faults itself and pfrez only scans. */
	features |= mode == COW_SNAPSHOT
			    ? UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMAP
			    : UFFD_FEATURE_WP_ASYNC;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	c->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->pagemap_fd < 0)
		return err_sys(errno, "%s", path);
	rc = take_uffd(c, inj, features);
	if (rc || mode == COW_TRACK)
		return rc;
	c->saved = calloc(SAVED_BUCKETS, sizeof(*c->saved));
	if (!c->saved || pipe2(c->wake, O_CLOEXEC) < 0)
		return err_sys(errno ? errno : ENOMEM, "copy-on-write");
	rc = pthread_create(&c->thread, NULL, serve, c);
	if (rc)
		return err_sys(rc, "copy-on-write thread");
	c->serving = 1;
	return 0;
}

static int coverable_map(const struct vma *m)
{
	return !m->shared && (m->prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE) &&
	       (!m->path[0] || !strcmp(m->path, "[heap]") || !strcmp(m->path, "[stack]") ||
		!strncmp(m->path, "[anon:", 6));
}

/* Protecting 2 GiB of 4 KiB pages takes the kernel tens of ms (a walk
 * that changes every entry): done here while the process runs, with
 * every write fault simply let through, cow_freeze() only protects again
 * what was written meanwhile, a short walk that changes few entries. */
int cow_prepare(struct cow *c)
{
	struct vma *maps;
	size_t n;
	int rc = maps_read(c->pid, &maps, &n);

	if (rc)
		return rc;
	c->prep = calloc(n + 1, sizeof(*c->prep));
	for (size_t i = 0; c->prep && i < n; i++) {
		if (!coverable_map(&maps[i]) || register_wp(c, maps[i].start, maps[i].end) < 0)
			continue;
		/* Gone meanwhile, or split: cow_freeze() sees to it. */
		if (!protect(c, maps[i].start, maps[i].end - maps[i].start, 1))
			c->prep[c->nprep++] = (struct cow_run){ maps[i].start, maps[i].end, 0 };
	}
	maps_free(maps, n);
	return c->prep ? 0 : err_sys(ENOMEM, "copy-on-write");
}

/* Each page protected here that the held process will write before the
 * instant would stop it, and pfrez with it, on a round trip through the
 * serving thread: under load, milliseconds each. */
void cow_lift(struct cow *c, uint64_t start, uint64_t end)
{
	for (size_t i = 0; c && !c->frozen && i < c->nprep; i++) {
		uint64_t s = start > c->prep[i].start ? start : c->prep[i].start;
		uint64_t e = end < c->prep[i].end ? end : c->prep[i].end;

		s &= ~(PAGE - 1);
		e = (e + PAGE - 1) & ~(PAGE - 1);
		if (s < e)
			protect(c, s, e - s, 0);
	}
}

/* The pages of a mapping present or swapped at the instant are noted;
 * those not protected now (written since cow_prepare(), or never
 * prepared: PAGE_IS_WRITTEN) are protected, in the same walk over the
 * page tables. */
static int freeze_region(struct cow_vma *v, uint64_t start, uint64_t end, uint64_t cat, void *arg)
{
	struct cow *c = arg;
	int rc = add_run(v, start, end, 0);

	if (!rc && (cat & PAGE_IS_WRITTEN))
		rc = protect(c, start, end - start, 1);
	/* Not registered after all: unmapped and mapped again at the same
	 * place since cow_prepare(). */
	if (rc == -ENOENT && register_wp(c, v->start, v->end) == 0)
		rc = protect(c, start, end - start, 1);
	if (rc)
		rc = err_sys(-rc, "process %d: write-protecting 0x%llx", c->pid, (unsigned long long)start);
	return rc;
}

/* Whether cow_prepare() registered exactly [start, end), in order. */
static int prepared(struct cow *c, uint64_t start, uint64_t end)
{
	while (c->prep_at < c->nprep && c->prep[c->prep_at].start < start)
		c->prep_at++;
	return c->prep_at < c->nprep && c->prep[c->prep_at].start == start && c->prep[c->prep_at].end == end;
}

int cow_freeze(struct cow *c, const struct snap *s)
{
	int rc;

	c->prep_at = 0;
	c->of = calloc(s->nvmas + 1, sizeof(*c->of));
	c->v = calloc(s->nvmas + 1, sizeof(*c->v));
	c->nsnap = s->nvmas;
	if (!c->of || !c->v)
		return err_sys(ENOMEM, "copy-on-write");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *r = &s->vmas[i].r;
		struct cow_vma *v = &c->v[c->nv];

		/* Registered already by cow_prepare() as it is now, or now
		 * (which takes the mmap lock for writing: it would wait for
		 * the smaps read beside, prefetch.h); a mapping the process
		 * registered with a userfaultfd of its own (EBUSY), or one
		 * the kernel cannot protect: read while held. */
		if (!coverable(r) || (!prepared(c, r->start, r->end) && register_wp(c, r->start, r->end) < 0))
			continue;
		v->idx = i;
		v->start = r->start;
		v->end = r->end;
		c->of[i] = ++c->nv;
		if (c->mode == COW_TRACK) {
			v->sent = calloc((r->end - r->start) / PAGE / 8 + 1, 1);
			if (!v->sent)
				return err_sys(ENOMEM, "page bitmap");
			continue;
		}
		/* A present page without the protection bit (PAGE_IS_WRITTEN)
		 * is one cow_prepare() did not protect or a write since let
		 * through: protected now, while the process is held. */
		rc = scan(c, v, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_WRITTEN, freeze_region, c);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&c->lock);
	c->frozen = 1;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int cow_begin(struct cow **cp, enum cow_mode mode, pid_t pid, struct inject_ctx *inj,
	      const struct snap *s)
{
	int rc = cow_open(cp, mode, pid, inj);

	return rc ? rc : cow_freeze(*cp, s);
}

int cow_covers(const struct cow *c, size_t i)
{
	return c && i < c->nsnap && c->of[i];
}

int cow_runs(struct cow *c, size_t i, const struct cow_run **runs, size_t *n)
{
	struct cow_vma *v = &c->v[c->of[i] - 1];

	*runs = v->runs;
	*n = v->nruns;
	return 0;
}

int cow_zero_records(const struct cow *c)
{
	return c->mode == COW_TRACK && c->passes > 1;
}

static struct cow_vma *vma_of(struct cow *c, uint64_t addr)
{
	for (size_t i = 0; i < c->nv; i++)
		if (addr >= c->v[i].start && addr < c->v[i].end)
			return &c->v[i];
	return NULL;
}

int cow_read(struct cow *c, uint64_t addr, size_t n, unsigned char *buf)
{
	struct iovec l = { buf, n * PAGE }, r = { (void *)addr, n * PAGE };
	ssize_t got = process_vm_readv(c->pid, &l, 1, &r, 1, 0);
	int rc;

	if (c->mode == COW_TRACK) {
		struct cow_vma *v = vma_of(c, addr);

		if (got != (ssize_t)(n * PAGE))
			return err_sys(errno ? errno : EIO, "process %d: reading memory at 0x%llx", c->pid,
				       (unsigned long long)addr);
		for (size_t k = 0; v && k < n; k++) {
			uint64_t p = (addr - v->start) / PAGE + k;

			v->sent[p / 8] |= (uint8_t)(1u << (p % 8));
			if (v->sent_lo >= v->sent_hi || p < v->sent_lo)
				v->sent_lo = p;
			if (p + 1 > v->sent_hi)
				v->sent_hi = p + 1;
		}
		return 0;
	}
	/* Pages written since the instant were set aside before the write:
	 * those copies replace what was just read. */
	pthread_mutex_lock(&c->lock);
	for (size_t k = 0; k < n; k++) {
		uint64_t a = addr + k * PAGE;
		struct saved **b = bucket(c, a), *s;

		for (; (s = *b); b = &s->next) {
			if (s->addr == a) {
				memcpy(buf + k * PAGE, s->data, PAGE);
				*b = s->next;
				free(s);
				break;
			}
		}
	}
	if (got != (ssize_t)(n * PAGE))
		lose(c, addr, "was unmapped");
	c->cursor = addr + n * PAGE;
	pthread_mutex_unlock(&c->lock);
	/* Read: the process may write these pages freely from now on.  This
	 * fails (ESRCH) once the mm is gone: the process exec'd, and what
	 * was just read may be the new program's. */
	rc = protect(c, addr, n * PAGE, 0);
	if (rc && rc != -ENOENT) {
		pthread_mutex_lock(&c->lock);
		lose(c, addr, rc == -ESRCH ? "is gone (the process exec'd or ended)" : "could not be released");
		pthread_mutex_unlock(&c->lock);
	}
	return 0;
}

/* ---- COW_TRACK ---- */

struct pass_note {
	uint64_t *pages;
	int final;
	uint64_t at;		/* final: where the last region ended */
};

/* Final pass: the pages of [start, end) that are neither present nor
 * swapped now, and were sent in an earlier pass (discarded since:
 * MADV_DONTNEED, a clean MADV_FREE page reclaimed, a mapping replaced
 * or moved away): they read back as zeros now. */
static int note_gone(struct cow_vma *v, uint64_t start, uint64_t end, uint64_t *pages)
{
	uint64_t p = (start - v->start) / PAGE, q = (end - v->start) / PAGE;
	int rc = 0;

	if (p < v->sent_lo)
		p = v->sent_lo;
	if (q > v->sent_hi)
		q = v->sent_hi;
	for (; !rc && p < q; p++) {
		if (!(p % 8) && !v->sent[p / 8]) {
			p += 7;
			continue;
		}
		if (v->sent[p / 8] >> (p % 8) & 1) {
			rc = add_run(v, v->start + p * PAGE, v->start + (p + 1) * PAGE, 1);
			(*pages)++;
		}
	}
	return rc;
}

/* A region of present or swapped pages of a pass's walk, in address
 * order.  Written (not protected: PAGE_IS_WRITTEN): sent; in the final
 * pass so is every page there of a mapping an earlier pass lost track
 * of, and the pages in the gap before it go as gone. */
static int note_region(struct cow_vma *v, uint64_t start, uint64_t end, uint64_t cat, void *arg)
{
	struct pass_note *n = arg;
	int rc = 0;

	if (n->final) {
		rc = note_gone(v, n->at, start, n->pages);
		n->at = end;
	}
	if (!rc && ((cat & PAGE_IS_WRITTEN) || (n->final && v->resend))) {
		*n->pages += (end - start) / PAGE;
		rc = add_run(v, start, end, 0);
	}
	return rc;
}

int cow_pass(struct cow *c, int final, uint64_t *pages)
{
	int rc = 0;

	*pages = 0;
	c->passes++;
	for (size_t i = 0; !rc && i < c->nv; i++) {
		struct cow_vma *v = &c->v[i];
		struct pass_note n = { pages, final, v->start };

		v->nruns = 0;
		/* A mapping the process replaced at the same address (mmap
		 * MAP_FIXED, munmap then mmap, mremap onto it) is a new one,
		 * not registered: registered here (a no-op for one that is),
		 * its pages show as written, those of the old one that are
		 * gone as gone.  Not registered, the walk would fail. */
		(void)register_wp(c, v->start, v->end);
		/* Present or swapped pages only: the kernel reports a page
		 * never touched, or discarded, of a WP_ASYNC range as written
		 * too (WP_UNPOPULATED), and protecting it installs a marker in
		 * a page table it allocates: a pass over 1 GiB never touched
		 * would read 1 GiB of zeros and leave the process 2 MiB of page
		 * tables (a sanitizer's terabytes of shadow: all memory).
		 * Written since the last pass (the first: every one, none
		 * protected yet), and protected again in the same walk: a
		 * write after it shows in the next pass.  The final pass, the
		 * process held, protects nothing (no pass follows) and walks
		 * every page once, written or gone, in address order. */
		if (final)
			rc = scan(c, v, PM_SCAN_CHECK_WPASYNC, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
				  PAGE_IS_WRITTEN, note_region, &n);
		else
			rc = scan(c, v, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN,
				  PAGE_IS_PRESENT | PAGE_IS_SWAPPED, 0, note_region, &n);
		if (!rc && final)
			rc = note_gone(v, n.at, v->end, pages);
		/* Replaced again between the two (EPERM: a mapping not
		 * registered), the walk stopped there, after protecting pages
		 * it did not report: the final pass, the process held, sends
		 * every page of this one. */
		if (rc == -EPERM && !final) {
			err_clear();
			v->resend = 1;
			rc = 0;
		}
		/* Held, it cannot be replaced again: not registered because a
		 * userfaultfd of the process's own took it meanwhile (EBUSY). */
		if (rc == -EPERM && final) {
			err_clear();
			rc = err_msg(EPERM, "process %d: mapping 0x%llx-0x%llx was registered with a userfaultfd of its own during the pre-copy passes: its pages cannot be told apart (migrate it with -precopy=0)",
				     c->pid, (unsigned long long)v->start, (unsigned long long)v->end);
		}
	}
	return rc;
}

int cow_end(struct cow *c)
{
	int rc = 0;

	if (!c)
		return 0;
	if (c->serving) {
		(void)!write(c->wake[1], "", 1);
		pthread_join(c->thread, NULL);
	}
	/* The process's memory is its own again: closing the userfaultfd
	 * unregisters every mapping, drops every protection left and wakes
	 * any thread that waits on one (userfaultfd_release). */
	if (c->uffd >= 0)
		close(c->uffd);
	if (c->mode == COW_SNAPSHOT && c->lost_how)
		rc = err_msg(ESTALE, "process %d: memory at 0x%llx %s during the copy-on-write capture: what was read is not the process at one instant (capture again, or with -cow=false)",
			     c->pid, (unsigned long long)c->lost, c->lost_how);
	for (size_t i = 0; c->saved && i < SAVED_BUCKETS; i++) {
		while (c->saved[i]) {
			struct saved *s = c->saved[i];

			c->saved[i] = s->next;
			free(s);
		}
	}
	for (size_t i = 0; i < c->nv; i++) {
		free(c->v[i].runs);
		free(c->v[i].sent);
	}
	if (c->pagemap_fd >= 0)
		close(c->pagemap_fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	pthread_mutex_destroy(&c->lock);
	free(c->saved);
	free(c->pending);
	free(c->prep);
	free(c->v);
	free(c->of);
	free(c);
	return rc;
}
