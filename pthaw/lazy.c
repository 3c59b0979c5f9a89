/* lazy.c: pages placed with userfaultfd (post-copy restore).
 *
 * pload makes the userfaultfd over the private anonymous mappings (an
 * fd is bound to the address space of the process that made it), pthaw
 * takes it with pidfd_getfd and places pages with UFFDIO_COPY, which
 * fills a missing page in one step (no zeroed page first, as a write
 * into fresh memory would need), and leaves a page that is already there
 * alone: once the process runs, a page it changed is never overwritten
 * by an older copy still in the stream.  A page the process touches
 * before it arrived makes it wait in the kernel until UFFDIO_COPY puts
 * it there; the fault thread counts those and, with a way back to pfrez,
 * asks for them first.
 *
 * What the process does to its memory meanwhile comes as events, which
 * make it wait until read: memory it drops (madvise, munmap) must not be
 * filled from the stream afterwards, memory it moves (mremap) is filled
 * at its new address, and a child it forks has a copy of the address
 * space with the same pages missing, served from the same stream. */
#include "lazy.h"
#include "err.h"
#include "pages.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define LAZY_MM_MAX	256	/* address spaces served: the process and its forks */
#define LAZY_EV_MAX	4096	/* dropped or moved ranges kept per address space */

struct lazy_range {
	uint64_t start, end, to;	/* to: where a moved range went (else 0) */
};

struct lazy_mm {
	int uffd;
	int gone;			/* the address space ended */
	struct lazy_range *ev;		/* in the order they happened */
	size_t nev;
};

static const uint64_t FEATURES = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
				 UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;

/* A new address space to serve: the process's (from < 0), or a copy
 * of address space from's, forked. */
static int add_mm(struct lazy *lz, int uffd, long from)
{
	struct lazy_mm *mm;

	if (lz->nmm == LAZY_MM_MAX)
		return err_msg(EMFILE, "lazy restore: more than %d processes forked before the pages arrived",
			       LAZY_MM_MAX);
	/* realloc may move lz->mm, from's element with it: by index. */
	mm = realloc(lz->mm, (lz->nmm + 1) * sizeof(*mm));
	if (!mm)
		return err_sys(ENOMEM, "lazy restore");
	lz->mm = mm;
	mm = &lz->mm[lz->nmm];
	memset(mm, 0, sizeof(*mm));
	mm->uffd = uffd;
	if (from >= 0 && lz->mm[from].nev) {
		mm->ev = malloc(lz->mm[from].nev * sizeof(*mm->ev));
		if (!mm->ev)
			return err_sys(ENOMEM, "lazy restore");
		memcpy(mm->ev, lz->mm[from].ev, lz->mm[from].nev * sizeof(*mm->ev));
		mm->nev = lz->mm[from].nev;
	}
	lz->nmm++;
	return 0;
}

/* The mappings of process pid whose VmFlags say hg (MADV_HUGEPAGE). */
static int find_huge(struct lazy *lz, pid_t pid)
{
	char path[64], line[512];
	unsigned long long a, b, start = 0, end = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return err_sys(errno, "%s", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			start = a;
			end = b;
		} else if (!strncmp(line, "VmFlags:", 8) && strstr(line, " hg")) {
			void *h = realloc(lz->huge, (lz->nhuge + 1) * sizeof(*lz->huge));

			if (!h) {
				fclose(f);
				return err_sys(ENOMEM, "lazy restore");
			}
			lz->huge = h;
			lz->huge[lz->nhuge].start = start;
			lz->huge[lz->nhuge].end = end;
			lz->huge[lz->nhuge].data = calloc((end - start) / (2u << 20) + 2, 1);
			if (!lz->huge[lz->nhuge++].data) {
				fclose(f);
				return err_sys(ENOMEM, "lazy restore");
			}
		}
	}
	fclose(f);
	return 0;
}

static int is_huge(const struct lazy *lz, const struct rec_vma *v)
{
	for (size_t i = 0; i < lz->nhuge; i++)
		if (v->start < lz->huge[i].end && v->end > lz->huge[i].start)
			return 1;
	return 0;
}

int lazy_open(struct lazy *lz, struct pload *pl, const struct snap *s, int lazy_stream)
{
	struct uffdio_api api = { .api = UFFD_API, .features = FEATURES };
	long fd;
	int pidfd, uffd, rc;

	memset(lz, 0, sizeof(*lz));
	lz->snap = s;
	lz->stop_fd = -1;
	lz->pid = pl->pid;
	lz->lazy_stream = lazy_stream;
	pthread_mutex_init(&lz->mu, NULL);
	pthread_cond_init(&lz->cv, NULL);
	rc = find_huge(lz, pl->pid);
	if (rc)
		return rc;
	/* Made by pload: the fd serves the address space of its maker.
	 * Not UFFD_USER_MODE_ONLY: the process's system calls touch its
	 * missing pages too (a read() into its buffer), and must wait for
	 * them as it does. */
	fd = pload_call(pl, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0, NULL, 0);
	if (fd == -EPERM || fd == -ENOSYS) {
		/* Only a lazy stream loses something: said then. */
		if (lazy_stream)
			fprintf(stderr, "pthaw: warning: userfaultfd: %s: all pages are written before the process starts\n",
				strerror((int)-fd));
		return 0;
	}
	if (fd < 0)
		return err_sys((int)-fd, "loader: userfaultfd");
	pidfd = (int)syscall(SYS_pidfd_open, pl->pid, 0);
	uffd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	rc = uffd < 0 ? err_sys(errno, "taking the loader's userfaultfd (pidfd_getfd)") : 0;
	if (pidfd >= 0)
		close(pidfd);
	/* The process's fds come later, at their numbers: pload's copy
	 * must not be among them. */
	pload_call(pl, SYS_close, fd, 0, 0, 0, 0, 0, NULL, 0);
	if (rc)
		return rc;
	if (ioctl(uffd, UFFDIO_API, &api) < 0) {
		rc = errno;
		close(uffd);
		if (lazy_stream)
			fprintf(stderr, "pthaw: warning: userfaultfd lacks the events a lazy restore needs (%s): all pages are written before the process starts\n",
				strerror(rc));
		return 0;
	}
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;
		struct uffdio_register reg = {
			.range = { .start = v->start, .len = v->end - v->start },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (!pages_lazy_vma(v) || (!lazy_stream && is_huge(lz, v)))
			continue;
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
			rc = err_sys(errno, "userfaultfd: registering 0x%llx-0x%llx",
				     (unsigned long long)v->start, (unsigned long long)v->end);
			close(uffd);
			return rc;
		}
	}
	rc = add_mm(lz, uffd, -1);
	if (rc) {
		close(uffd);
		return rc;
	}
	lz->on = 1;
	return 0;
}

/* Where the snapshot's page at addr is now in mm: 0 when the process
 * dropped it (it must stay as the process left it). */
static uint64_t where(const struct lazy_mm *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->nev; i++) {
		const struct lazy_range *e = &mm->ev[i];

		if (addr < e->start || addr >= e->end)
			continue;
		if (!e->to)
			return 0;
		addr = e->to + (addr - e->start);
	}
	return addr;
}

/* Waits (a little) for the fault thread to take in the event that made
 * the kernel refuse with EAGAIN (mmap_changing): the ranges then tell
 * where the page goes. */
static void wait_event(struct lazy *lz, unsigned long long gen)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 5 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (lz->gen == gen && pthread_cond_timedwait(&lz->cv, &lz->mu, &ts) == 0)
		;
}

/* One run of n pages at dst (contiguous in mm): 0, or -errno for this
 * address space only (it ended: its pages no longer matter). */
static int place_run(struct lazy *lz, struct lazy_mm *mm, uint64_t dst, const unsigned char *src,
		     size_t n)
{
	uint64_t done = 0, len = n * REC_PAGE_SIZE;

	while (done < len) {
		long got;
		int rc, e;

		if (src) {
			struct uffdio_copy c = { .dst = dst + done, .src = (uint64_t)(uintptr_t)(src + done),
						 .len = len - done };

			rc = ioctl(mm->uffd, UFFDIO_COPY, &c);
			got = c.copy;
		} else {
			struct uffdio_zeropage z = { .range = { .start = dst + done, .len = len - done } };

			rc = ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z);
			got = z.zeropage;
		}
		if (rc == 0) {
			lz->placed += (len - done) / REC_PAGE_SIZE;
			return 0;
		}
		e = errno;
		if (got > 0) {
			done += (uint64_t)got;
			lz->placed += (uint64_t)got / REC_PAGE_SIZE;
		}
		if (e == EEXIST && !lz->serving) {
			/* Before the start, a later pass over the page wins
			 * (live pre-copy): written over. */
			static const unsigned char zeros[REC_PAGE_SIZE];
			struct iovec l = { (void *)(src ? src + done : zeros), REC_PAGE_SIZE };
			struct iovec r = { (void *)(uintptr_t)(dst + done), REC_PAGE_SIZE };

			if (process_vm_writev(lz->pid, &l, 1, &r, 1, 0) != REC_PAGE_SIZE)
				return err_sys(errno, "writing pages at 0x%llx", (unsigned long long)(dst + done));
			done += REC_PAGE_SIZE;
		} else if (e == EEXIST)
			done += REC_PAGE_SIZE;	/* there already: the process's now */
		else if (e == EAGAIN) {
			/* The process is changing its mappings: once the
			 * event is read, the page's place may differ. */
			unsigned long long gen = lz->gen;

			wait_event(lz, gen);
			return -EAGAIN;
		} else if (e == ENOENT || e == ESRCH || e == EINVAL) {
			/* Unmapped meanwhile (the event may still be on its
			 * way), or the address space ended. */
			if (e == ESRCH)
				mm->gone = 1;
			return 0;
		} else {
			return err_sys(e, "userfaultfd: placing pages at 0x%llx",
				       (unsigned long long)(dst + done));
		}
	}
	return 0;
}

/* The record's pages into one address space, in runs that are still
 * contiguous where they are now. */
static int place(struct lazy *lz, struct lazy_mm *mm, const struct rec_pages *h,
		 const unsigned char *data)
{
	uint32_t i = 0;

	while (i < h->npages) {
		uint64_t at = where(mm, h->addr + (uint64_t)i * REC_PAGE_SIZE);
		uint32_t j = i + 1;
		int rc;

		if (!at) {
			i++;
			continue;
		}
		while (j < h->npages && where(mm, h->addr + (uint64_t)j * REC_PAGE_SIZE) ==
					       at + (uint64_t)(j - i) * REC_PAGE_SIZE)
			j++;
		rc = place_run(lz, mm, at, data ? data + (size_t)i * REC_PAGE_SIZE : NULL, j - i);
		if (rc == -EAGAIN)
			continue;	/* again, with the event taken in */
		if (rc)
			return rc;
		i = j;
	}
	return 0;
}

int lazy_put(struct lazy *lz, const struct rec_pages *h, const unsigned char *data)
{
	const struct snap_vma *v = NULL;
	int rc = 0;

	if (!lz->on)
		return 0;
	for (size_t i = 0; i < lz->snap->nvmas; i++)
		if (h->addr >= lz->snap->vmas[i].r.start && h->addr < lz->snap->vmas[i].r.end)
			v = &lz->snap->vmas[i];
	if (!v || !pages_lazy_vma(&v->r) || (!lz->lazy_stream && is_huge(lz, &v->r)))
		return 0;
	/* Huge-page memory with contents: made huge at the end. */
	for (size_t i = 0; data && !(h->flags & PAGES_ZERO) && i < lz->nhuge; i++)
		if (h->addr >= lz->huge[i].start && h->addr < lz->huge[i].end) {
			uint64_t base = lz->huge[i].start & ~(uint64_t)((2u << 20) - 1);
			uint64_t last = h->addr + (uint64_t)h->npages * REC_PAGE_SIZE - 1;

			if (last >= lz->huge[i].end)
				last = lz->huge[i].end - 1;
			for (uint64_t c = (h->addr - base) >> 21; c <= (last - base) >> 21; c++)
				lz->huge[i].data[c] = 1;
		}
	pthread_mutex_lock(&lz->mu);
	for (size_t i = 0; !rc && i < lz->nmm; i++)
		if (!lz->mm[i].gone)
			rc = place(lz, &lz->mm[i], h, (h->flags & PAGES_ZERO) ? NULL : data);
	if (lz->missing >= h->npages)
		lz->missing -= h->npages;
	else
		lz->missing = 0;
	pthread_mutex_unlock(&lz->mu);
	return rc ? rc : 1;
}

static int add_event(struct lazy_mm *mm, uint64_t start, uint64_t end, uint64_t to)
{
	struct lazy_range *ev;

	if (mm->nev == LAZY_EV_MAX)
		return err_msg(ENOSPC, "lazy restore: more than %d mappings changed before the pages arrived",
			       LAZY_EV_MAX);
	ev = realloc(mm->ev, (mm->nev + 1) * sizeof(*ev));
	if (!ev)
		return err_sys(ENOMEM, "lazy restore");
	mm->ev = ev;
	ev[mm->nev++] = (struct lazy_range){ start, end, to };
	return 0;
}

/* A fault at a page the process dropped itself: a zero page, as the
 * kernel would give it without us. */
static void fault(struct lazy *lz, struct lazy_mm *mm, uint64_t addr)
{
	uint64_t page = addr & ~(uint64_t)(REC_PAGE_SIZE - 1), orig = page;

	for (size_t i = mm->nev; i-- > 0;) {
		const struct lazy_range *e = &mm->ev[i];

		if (!e->to && page >= e->start && page < e->end) {
			struct uffdio_zeropage z = { .range = { .start = page, .len = REC_PAGE_SIZE } };
			struct uffdio_range w = { .start = page, .len = REC_PAGE_SIZE };

			if (ioctl(mm->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno == EEXIST)
				ioctl(mm->uffd, UFFDIO_WAKE, &w);
			return;
		}
		if (e->to && page >= e->to && page < e->to + (e->end - e->start))
			orig = e->start + (page - e->to);
	}
	if (lz->starting) {
		if (!lz->early_fault)
			lz->early_fault = page;
		kill(lz->pid, SIGKILL);
		return;
	}
	lz->faults++;
	if (lz->ask)
		lz->ask(lz->ask_arg, orig);
}

/* One message of address space k. */
static int take(struct lazy *lz, size_t k, const struct uffd_msg *m)
{
	struct lazy_mm *mm = &lz->mm[k];
	int rc = 0;

	switch (m->event) {
	case UFFD_EVENT_PAGEFAULT:
		fault(lz, mm, m->arg.pagefault.address);
		return 0;
	case UFFD_EVENT_FORK:
		rc = add_mm(lz, (int)m->arg.fork.ufd, (long)k);
		if (rc)
			close((int)m->arg.fork.ufd);
		break;
	case UFFD_EVENT_REMAP:
		rc = add_event(mm, m->arg.remap.from, m->arg.remap.from + m->arg.remap.len, m->arg.remap.to);
		break;
	case UFFD_EVENT_REMOVE:
	case UFFD_EVENT_UNMAP:
		rc = add_event(mm, m->arg.remove.start, m->arg.remove.end, 0);
		break;
	}
	lz->gen++;
	pthread_cond_broadcast(&lz->cv);
	return rc;
}

static void *serve(void *arg)
{
	struct lazy *lz = arg;

	for (;;) {
		struct pollfd p[LAZY_MM_MAX + 1];
		size_t n;

		pthread_mutex_lock(&lz->mu);
		n = lz->nmm;
		for (size_t i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = lz->mm[i].gone ? -1 : lz->mm[i].uffd, .events = POLLIN };
		pthread_mutex_unlock(&lz->mu);
		p[n] = (struct pollfd){ .fd = lz->stop_fd, .events = POLLIN };
		if (poll(p, n + 1, -1) < 0)
			continue;
		if (p[n].revents)
			return NULL;
		for (size_t i = 0; i < n; i++) {
			struct uffd_msg m;

			if (p[i].revents & (POLLERR | POLLHUP)) {
				pthread_mutex_lock(&lz->mu);
				lz->mm[i].gone = 1;
				pthread_mutex_unlock(&lz->mu);
				continue;
			}
			if (!(p[i].revents & POLLIN))
				continue;
			while (read(p[i].fd, &m, sizeof(m)) == sizeof(m)) {
				pthread_mutex_lock(&lz->mu);
				/* A failure here (too many forks or
				 * changes) leaves that copy to zero pages:
				 * said, the restore goes on for the rest. */
				if (take(lz, i, &m) < 0)
					fprintf(stderr, "pthaw: %s\n", err_last());
				pthread_mutex_unlock(&lz->mu);
			}
		}
	}
}

int lazy_serve(struct lazy *lz)
{
	int e;

	if (!lz->on)
		return 0;
	lz->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (lz->stop_fd < 0)
		return err_sys(errno, "eventfd");
	e = pthread_create(&lz->th, NULL, serve, lz);
	if (e) {
		close(lz->stop_fd);
		lz->stop_fd = -1;
		return err_sys(e, "starting the page fault thread");
	}
	lz->serving = 1;
	return 0;
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The huge-page mappings were filled in small pages: the kernel makes
 * them huge now (synchronously, as khugepaged would some time later),
 * each 2 MiB that got contents (a range never touched, or only read as
 * zeros, stays as it was).  Best effort: the process runs correctly
 * either way. */
static void collapse(struct lazy *lz)
{
	const uint64_t huge = 2u << 20;
	int pidfd = (int)syscall(SYS_pidfd_open, lz->pid, 0);

	for (size_t i = 0; pidfd >= 0 && i < lz->nhuge; i++) {
		uint64_t base = lz->huge[i].start & ~(huge - 1);

		for (uint64_t a = (lz->huge[i].start + huge - 1) & ~(huge - 1); a + huge <= lz->huge[i].end;
		     a += huge) {
			struct iovec v = { (void *)(uintptr_t)a, huge };

			if (lz->huge[i].data[(a - base) >> 21])
				syscall(SYS_process_madvise, pidfd, &v, 1, MADV_COLLAPSE, 0);
		}
	}
	if (pidfd >= 0)
		close(pidfd);
}

void lazy_close(struct lazy *lz)
{
	if (!lz->snap)
		return;		/* lazy_open never ran */
	if (lz->serving) {
		uint64_t one = 1;

		if (write(lz->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(lz->th);
		pthread_join(lz->th, NULL);
		lz->serving = 0;
	}
	if (lz->stop_fd >= 0)
		close(lz->stop_fd);
	lz->stop_fd = -1;
	/* Closing lets the ranges go and wakes whoever still waits there
	 * (a page never sent): the kernel gives it a zero page. */
	for (size_t i = 0; i < lz->nmm; i++) {
		close(lz->mm[i].uffd);
		free(lz->mm[i].ev);
	}
	if (lz->on && lz->lazy_stream && lz->nhuge)
		collapse(lz);
	for (size_t i = 0; i < lz->nhuge; i++)
		free(lz->huge[i].data);
	free(lz->huge);
	lz->huge = NULL;
	lz->nhuge = 0;
	free(lz->mm);
	lz->mm = NULL;
	lz->nmm = 0;
	pthread_mutex_destroy(&lz->mu);
	pthread_cond_destroy(&lz->cv);
	lz->on = 0;
	lz->snap = NULL;
}

void lazy_let_go(const pid_t *tids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int st, sig = 0;

		if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) < 0)
			continue;
		for (;;) {
			if (waitpid(tids[i], &st, __WALL) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (!WIFSTOPPED(st))
				break;
			/* A signal that came while it ran traced is
			 * delivered now; the interrupt's own stop is not. */
			if ((st >> 16) == 0)
				sig = WSTOPSIG(st);
			ptrace(PTRACE_DETACH, tids[i], 0, sig);
			break;
		}
	}
}
