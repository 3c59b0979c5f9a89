/* pages.c: the memory contents.  pfrez chooses the pages a snapshot needs
 * (with /proc/PID/pagemap) and writes them as REC_PAGES records; pthaw
 * writes each into the mapping made for it (vma.c) as it arrives.
 *
 * Pages never touched are not sent: they read back as zeros.  Anonymous
 * pages that hold only zeros are not sent either.  In a private file
 * mapping, pages still shared with the page cache come back from the file
 * on restore; only the ones the process changed (now anonymous) travel,
 * zero ones as a data-less record. */
#include "pages.h"
#include "cow.h"
#include "err.h"
#include "proc.h"
#include "shmem.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14, newer than some build hosts' headers */
#endif

#define PAGES_BUF (2 * REC_PAGES_MAX)	/* pages read at once: 2 MiB, one huge page */

#define PM_BATCH 32768	/* pagemap entries read at once: 128 MiB of memory */

#define ASK_PAGES 16	/* pages sent for one address pthaw asks for */

struct page_out {
	struct pages_src *c;
	struct rec_writer *w;
	unsigned char *buf;	/* PAGES_BUF pages, huge-page aligned */
	unsigned char *ask_buf;	/* ASK_PAGES pages */
	int zero_records;	/* file mappings: send zero pages as records */
	int cow;		/* read through c->cow (cow.h) */
	int give;		/* emit() gives buf's pages away (rec_write_give) */
	int given;		/* and the stream kept some: buf needs fresh pages */
};

static const struct snap_vma *find_vma(const struct snap *s, uint64_t addr);
static int serve_asked(struct page_out *o);

static int page_is_zero(const unsigned char *p)
{
	const uint64_t *q = (const uint64_t *)p;
	uint64_t acc = 0;

	/* Random data fails at the first word; zeros need the whole page. */
	if (q[0] | q[511])
		return 0;
	for (int i = 0; i < 512; i += 8)
		acc |= q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7];
	return acc == 0;
}

static int read_pages(struct pages_src *c, uint64_t addr, size_t n, unsigned char *buf, int cow)
{
	struct iovec l = { buf, n * REC_PAGE_SIZE }, r = { (void *)addr, n * REC_PAGE_SIZE };
	ssize_t got = cow ? 0 : process_vm_readv(c->pid, &l, 1, &r, 1, 0);
	size_t want = n * REC_PAGE_SIZE;

	if (cow)
		return cow_read(c->cow, addr, n, buf);

	if (got == (ssize_t)want)
		return 0;
	/* Pages the process cannot read itself (PROT_NONE after use):
	 * /proc/PID/mem reads them as a debugger would. */
	if (c->mem_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", c->pid);
		c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->mem_fd < 0)
			return err_sys(errno, "%s", path);
	}
	if (pread(c->mem_fd, buf, want, (off_t)addr) != (ssize_t)want)
		return err_sys(errno ? errno : EIO, "process %d: reading memory at 0x%llx", c->pid,
			       (unsigned long long)addr);
	return 0;
}

static int emit(struct page_out *o, uint64_t addr, size_t n, const unsigned char *data, int zero)
{
	struct rec_pages h = { .addr = addr, .npages = (uint32_t)n, .flags = zero ? PAGES_ZERO : 0 };
	int rc;

	if (o->give && !zero) {
		rc = rec_write_give(o->w, REC_PAGES, &h, sizeof(h), (void *)data, n * REC_PAGE_SIZE);
		o->given |= rc == 1;
		rc = rc < 0 ? rc : 0;
	} else {
		rc = rec_write(o->w, REC_PAGES, &h, sizeof(h), zero ? NULL : data,
			       zero ? 0 : n * REC_PAGE_SIZE);
	}
	if (rc)
		return rc;
	o->c->pages_sent += zero ? 0 : n;
	o->c->zero_sent += zero ? n : 0;
	o->c->bytes_sent = o->w->bytes;
	if (o->c->progress)
		o->c->progress(o->c->progress_arg, o->w->bytes);
	return 0;
}

/* Writes n pages read into buf from addr, split around zero pages, at
 * most REC_PAGES_MAX a record. */
static int emit_split(struct page_out *o, uint64_t addr, size_t n, const unsigned char *buf,
		      int zero_records)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		int zero = page_is_zero(buf + i * REC_PAGE_SIZE);
		size_t j = i + 1;

		while (j < n && j - i < REC_PAGES_MAX && page_is_zero(buf + j * REC_PAGE_SIZE) == zero)
			j++;
		if (!zero || zero_records) {
			rc = emit(o, addr + i * REC_PAGE_SIZE, j - i, buf + i * REC_PAGE_SIZE, zero);
			if (rc)
				return rc;
		}
		i = j;
	}
	return 0;
}

/* The stream kept pages of buf by reference (a pipe, layer.h): they are
 * the reader's now, and buf gets fresh ones before anything writes to
 * it.  MADV_DONTNEED unmaps ours (the pipe's references keep them and
 * their contents alive); MADV_POPULATE_WRITE maps new ones in one call
 * (one huge page where THP allows) instead of a fault per page inside
 * the next process_vm_readv.  A kernel without it (before 5.14) faults
 * them in as it reads. */
static int renew_buf(struct page_out *o)
{
	o->given = 0;
	if (madvise(o->buf, PAGES_BUF * REC_PAGE_SIZE, MADV_DONTNEED) < 0)
		return err_sys(errno, "page buffer: MADV_DONTNEED");
	madvise(o->buf, PAGES_BUF * REC_PAGE_SIZE, MADV_POPULATE_WRITE);
	return 0;
}

/* Reads a run of wanted pages and writes it, split around zero pages.
 * A read of at least a record's worth gives its pages away: a new huge
 * page for buf costs less than copying a MiB into the pipe. */
static int send_run(struct page_out *o, uint64_t addr, size_t n)
{
	while (n) {
		size_t chunk = n < PAGES_BUF ? n : PAGES_BUF;
		int rc = read_pages(o->c, addr, chunk, o->buf, o->cow);

		o->give = chunk >= REC_PAGES_MAX;
		if (!rc)
			rc = emit_split(o, addr, chunk, o->buf, o->zero_records);
		o->give = 0;
		if (!rc && o->given)
			rc = renew_buf(o);
		if (!rc && o->c->asked)
			rc = serve_asked(o);
		if (rc)
			return rc;
		addr += chunk * REC_PAGE_SIZE;
		n -= chunk;
	}
	return 0;
}

int pages_lazy_vma(const struct rec_vma *v)
{
	return !(v->flags & (VMA_SPECIAL | VMA_SHARED)) &&
	       (!(v->flags & VMA_FILE) || (v->flags & VMA_EMBED));
}

/* The pages pthaw waits for go out before the rest: ASK_PAGES from the
 * address, within its mapping, zero ones as records too (pthaw must
 * hear about every page it asked for; a page it has already is ignored
 * there).  The process is stopped (-halt): its memory is as captured. */
static int serve_asked(struct page_out *o)
{
	uint64_t addr;
	int rc;

	while ((rc = o->c->asked(o->c->asked_arg, &addr)) == 1) {
		const struct snap_vma *v = find_vma(o->c->snap, addr);
		size_t n;

		addr &= ~(uint64_t)(REC_PAGE_SIZE - 1);
		if (!v || !pages_lazy_vma(&v->r))
			continue;	/* not a page pthaw can wait for: ignored */
		n = (v->r.end - addr) / REC_PAGE_SIZE;
		if (n > ASK_PAGES)
			n = ASK_PAGES;
		rc = read_pages(o->c, addr, n, o->ask_buf, 0);
		if (!rc)
			rc = emit_split(o, addr, n, o->ask_buf, 1);
		if (rc)
			return rc;
		o->c->pages_asked += n;
	}
	return rc;
}

static int wanted(uint64_t pm, uint32_t flags)
{
	if (flags & VMA_EMBED)
		return 1;
	if (flags & VMA_FILE)
		return (pm & PM_SWAPPED) || ((pm & PM_PRESENT) && !(pm & PM_FILE));
	return (pm & (PM_PRESENT | PM_SWAPPED)) != 0;
}

static int late_vma(const struct pages_src *c, const struct rec_vma *v);

static int send_vma(struct page_out *o, const struct rec_vma *v, uint64_t *pm)
{
	uint64_t addr = v->start;

	/* Zero pages as records in file mappings (the file has other
	 * contents there) and after REC_LAZY (a process waiting for one
	 * goes on at once, and the count REC_LAZY gave comes true). */
	o->zero_records = (v->flags & VMA_FILE) || late_vma(o->c, v);
	while (addr < v->end) {
		size_t n = (v->end - addr) / REC_PAGE_SIZE, i = 0;
		int rc;

		if (n > PM_BATCH)
			n = PM_BATCH;
		if (!(v->flags & VMA_EMBED)) {
			rc = pagemap_read(o->c->pagemap_fd, addr, n, pm);
			if (rc)
				return rc;
		}
		while (i < n) {
			size_t j;

			if (!wanted(pm[i], v->flags)) {
				i++;
				continue;
			}
			for (j = i + 1; j < n && wanted(pm[j], v->flags); j++)
				;
			rc = send_run(o, addr + i * REC_PAGE_SIZE, j - i);
			if (rc)
				return rc;
			i = j;
		}
		addr += n * REC_PAGE_SIZE;
	}
	return 0;
}

/* -lazy: the mappings sent after REC_LAZY. */
static int late_vma(const struct pages_src *c, const struct rec_vma *v)
{
	return c->lazy && pages_lazy_vma(v) && !(v->flags & VMA_STACK);
}

#define WS_PAGES 16	/* working set: pages each side of a thread's sp and fs_base */

/* -lazy: the pages a thread touches first, sent before REC_LAZY: its
 * stack top and its thread block (glibc keeps the rseq area there, which
 * the kernel reads when pthaw registers it, before the process runs and
 * while nothing else is read from the stream).  Zero ones as records, so
 * that pthaw has them. */
static int send_working_set(struct page_out *o)
{
	const struct snap *s = o->c->snap;

	for (size_t t = 0; t < s->nthreads; t++) {
		const uint64_t at[2] = { s->threads[t].r.regs.rsp, s->threads[t].r.regs.fs_base };

		for (int k = 0; k < 2; k++) {
			uint64_t page = at[k] & ~(uint64_t)(REC_PAGE_SIZE - 1);
			const struct snap_vma *v = find_vma(s, page);
			uint64_t lo, hi;
			int rc;

			if (!v || !late_vma(o->c, &v->r))
				continue;
			lo = page - v->r.start > WS_PAGES * REC_PAGE_SIZE ? page - WS_PAGES * REC_PAGE_SIZE : v->r.start;
			hi = v->r.end - page > WS_PAGES * REC_PAGE_SIZE ? page + WS_PAGES * REC_PAGE_SIZE : v->r.end;
			rc = read_pages(o->c, lo, (hi - lo) / REC_PAGE_SIZE, o->buf, 0);
			if (!rc)
				rc = emit_split(o, lo, (hi - lo) / REC_PAGE_SIZE, o->buf, 1);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The pages the late mappings will send, for REC_LAZY. */
static int count_late(struct page_out *o, uint64_t *pm, uint64_t *count)
{
	*count = 0;
	for (size_t i = 0; i < o->c->snap->nvmas; i++) {
		const struct rec_vma *v = &o->c->snap->vmas[i].r;

		if (!late_vma(o->c, v))
			continue;
		for (uint64_t addr = v->start; addr < v->end;) {
			size_t n = (v->end - addr) / REC_PAGE_SIZE;
			int rc;

			if (n > PM_BATCH)
				n = PM_BATCH;
			if (v->flags & VMA_EMBED) {
				*count += n;
			} else {
				rc = pagemap_read(o->c->pagemap_fd, addr, n, pm);
				if (rc)
					return rc;
				for (size_t j = 0; j < n; j++)
					*count += wanted(pm[j], v->flags);
			}
			addr += n * REC_PAGE_SIZE;
		}
	}
	return 0;
}

/* A mapping read through c->cow: the runs it gives for this pass. */
static int send_cow_vma(struct page_out *o, size_t i)
{
	const struct cow_run *runs;
	size_t n;
	int rc = cow_runs(o->c->cow, i, &runs, &n);

	o->cow = 1;
	o->zero_records = cow_zero_records(o->c->cow);
	for (size_t k = 0; !rc && k < n; k++) {
		uint64_t a = runs[k].start;

		while (!rc && a < runs[k].end) {
			size_t np = (runs[k].end - a) / REC_PAGE_SIZE;

			if (np > PAGES_BUF)
				np = PAGES_BUF;
			if (runs[k].zero && np > REC_PAGES_MAX)
				np = REC_PAGES_MAX;
			rc = runs[k].zero ? emit(o, a, np, NULL, 1) : send_run(o, a, np);
			a += np * REC_PAGE_SIZE;
		}
	}
	o->cow = 0;
	return rc;
}

/* PAGES_BUF pages on a huge-page boundary, marked MADV_HUGEPAGE (THP's
 * "madvise" mode too): one huge page backs it, so that renewing it after
 * its pages were given away is one allocation, not 512. */
static unsigned char *buf_alloc(void)
{
	const size_t len = PAGES_BUF * REC_PAGE_SIZE;
	unsigned char *p = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (unsigned char *)(((uintptr_t)p + len - 1) & ~(uintptr_t)(len - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + len < p + 2 * len)
		munmap(a + len, (size_t)(p + 2 * len - (a + len)));
	madvise(a, len, MADV_HUGEPAGE);
	return a;
}

int pages_write(struct pages_src *c, struct rec_writer *w)
{
	struct page_out o = { .c = c, .w = w };
	uint64_t *pm = NULL;
	char path[64];
	int rc = 0;

	c->mem_fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", c->pid);
	c->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->pagemap_fd < 0)
		return err_sys(errno, "%s", path);
	o.buf = buf_alloc();
	o.ask_buf = aligned_alloc(4096, ASK_PAGES * REC_PAGE_SIZE);
	pm = calloc(PM_BATCH, sizeof(*pm));
	if (!o.buf || !o.ask_buf || !pm)
		rc = err_sys(ENOMEM, "page buffer");
	for (size_t i = 0; !rc && i < c->snap->nvmas; i++) {
		const struct rec_vma *v = &c->snap->vmas[i].r;
		int cow = cow_covers(c->cow, i);

		if ((v->flags & (VMA_SPECIAL | VMA_SHARED)) || late_vma(c, v) ||
		    (c->part == PAGES_STOPPED && cow) || (c->part == PAGES_COW && !cow))
			continue;
		rc = cow ? send_cow_vma(&o, i) : send_vma(&o, v, pm);
	}
	/* Memory objects' contents, once each however often mapped: shared
	 * with other processes, never copy-on-write. */
	if (!rc && c->part != PAGES_COW) {
		struct shmem_out so = { .progress = c->progress, .progress_arg = c->progress_arg };

		rc = shmem_write_data(c->snap, w, &so);
		c->pages_sent += so.pages;
		c->bytes_sent = w->bytes;
	}
	if (!rc && c->lazy) {
		struct rec_lazy l;
		uint64_t late = 0;

		rc = send_working_set(&o);
		if (!rc)
			rc = count_late(&o, pm, &late);
		l.pages = late;
		if (!rc)
			rc = rec_write(w, REC_LAZY, &l, sizeof(l), NULL, 0);
		for (size_t i = 0; !rc && i < c->snap->nvmas; i++)
			if (late_vma(c, &c->snap->vmas[i].r))
				rc = send_vma(&o, &c->snap->vmas[i].r, pm);
	}
	if (o.buf)
		munmap(o.buf, PAGES_BUF * REC_PAGE_SIZE);
	free(o.ask_buf);
	free(pm);
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	close(c->pagemap_fd);
	c->mem_fd = c->pagemap_fd = -1;
	return rc;
}

/* ---- restore ---- */

static const struct snap_vma *find_vma(const struct snap *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nvmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < s->vmas[mid].r.start)
			hi = mid;
		else if (addr >= s->vmas[mid].r.end)
			lo = mid + 1;
		else
			return &s->vmas[mid];
	}
	return NULL;
}

int pages_decode(const struct snap *s, const unsigned char *p, size_t len, struct rec_pages *hp,
		 const struct snap_vma **vp)
{
	struct rec_pages h;
	const struct snap_vma *v;
	uint64_t bytes;

	memcpy(&h, p, sizeof(h));
	bytes = (uint64_t)h.npages * REC_PAGE_SIZE;
	if (h.npages == 0 || h.npages > REC_PAGES_MAX || h.addr % REC_PAGE_SIZE ||
	    (h.flags & ~(uint32_t)PAGES_ZERO) ||
	    len != sizeof(h) + ((h.flags & PAGES_ZERO) ? 0 : bytes))
		return err_msg(EBADMSG, "pages record: malformed");
	v = find_vma(s, h.addr);
	if (!v || h.addr + bytes > v->r.end || (v->r.flags & (VMA_SPECIAL | VMA_SHARED)))
		return err_msg(EBADMSG, "pages record: 0x%llx is outside the snapshot's private mappings",
			       (unsigned long long)h.addr);
	*hp = h;
	*vp = v;
	return 0;
}

int pages_put(pid_t pid, const struct snap *s, const unsigned char *p, size_t len,
	      unsigned long long *pages)
{
	static const unsigned char zeros[REC_PAGE_SIZE];
	struct rec_pages h;
	const struct snap_vma *v;
	uint64_t bytes;
	int rc = pages_decode(s, p, len, &h, &v);

	if (rc)
		return rc;
	bytes = (uint64_t)h.npages * REC_PAGE_SIZE;
	if (h.flags & PAGES_ZERO) {
		for (uint32_t i = 0; i < h.npages; i++) {
			struct iovec l = { (void *)zeros, REC_PAGE_SIZE };
			struct iovec rv = { (void *)(h.addr + i * REC_PAGE_SIZE), REC_PAGE_SIZE };

			if (process_vm_writev(pid, &l, 1, &rv, 1, 0) != REC_PAGE_SIZE)
				return err_sys(errno, "writing pages at 0x%llx", (unsigned long long)h.addr);
		}
	} else {
		struct iovec l = { (void *)(p + sizeof(h)), bytes }, rv = { (void *)h.addr, bytes };

		if (process_vm_writev(pid, &l, 1, &rv, 1, 0) != (ssize_t)bytes)
			return err_sys(errno, "writing pages at 0x%llx", (unsigned long long)h.addr);
	}
	*pages += h.npages;
	return 0;
}
