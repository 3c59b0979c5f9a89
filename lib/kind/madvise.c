/* madvise.c: what madvise(2), mlock(2) and mseal(2) set on the mappings
 * (the VmFlags of /proc/PID/smaps: dc wf dd hg nh mg sr rr lo lf sl), and
 * the process-wide settings that set them on every new mapping:
 * mlockall(MCL_FUTURE) and KSM's PR_SET_MEMORY_MERGE.  pload sets them
 * again on the same ranges once the mappings are in place. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "inject.h"
#include "pload_ctl.h"
#include "prefetch.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#define PR_GET_MEMORY_MERGE 68
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

/* Per mapping: one bit per VmFlags word this kind restores. */
enum {
	MA_DONTFORK = 1u << 0,		/* dc: MADV_DONTFORK */
	MA_WIPEONFORK = 1u << 1,	/* wf: MADV_WIPEONFORK */
	MA_DONTDUMP = 1u << 2,		/* dd: MADV_DONTDUMP */
	MA_HUGEPAGE = 1u << 3,		/* hg: MADV_HUGEPAGE */
	MA_NOHUGEPAGE = 1u << 4,	/* nh: MADV_NOHUGEPAGE */
	MA_MERGEABLE = 1u << 5,		/* mg: MADV_MERGEABLE */
	MA_SEQUENTIAL = 1u << 6,	/* sr: MADV_SEQUENTIAL */
	MA_RANDOM = 1u << 7,		/* rr: MADV_RANDOM */
	MA_LOCKED = 1u << 8,		/* lo: mlock */
	MA_LOCKONFAULT = 1u << 9,	/* lf: mlock2 MLOCK_ONFAULT (with lo) */
	MA_SEALED = 1u << 10,		/* sl: mseal */
	MA_ALL = (1u << 11) - 1,
};

/* Process-wide. */
enum {
	MA_MM_LOCK_FUTURE = 1u << 0,	/* mlockall(MCL_FUTURE) */
	MA_MM_LOCK_ONFAULT = 1u << 1,	/* ... | MCL_ONFAULT */
	MA_MM_MERGE_ANY = 1u << 2,	/* prctl(PR_SET_MEMORY_MERGE, 1) */
	MA_MM_ALL = (1u << 3) - 1,
};

static const struct {
	char word[3];
	uint32_t bit;
	int advice;		/* -1: not a madvise */
	const char *name;
} ma_words[] = {
	{ "dc", MA_DONTFORK, MADV_DONTFORK, "MADV_DONTFORK" },
	{ "wf", MA_WIPEONFORK, MADV_WIPEONFORK, "MADV_WIPEONFORK" },
	{ "dd", MA_DONTDUMP, MADV_DONTDUMP, "MADV_DONTDUMP" },
	{ "hg", MA_HUGEPAGE, MADV_HUGEPAGE, "MADV_HUGEPAGE" },
	{ "nh", MA_NOHUGEPAGE, MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE" },
	{ "mg", MA_MERGEABLE, MADV_MERGEABLE, "MADV_MERGEABLE" },
	{ "sr", MA_SEQUENTIAL, MADV_SEQUENTIAL, "MADV_SEQUENTIAL" },
	{ "rr", MA_RANDOM, MADV_RANDOM, "MADV_RANDOM" },
	{ "lo", MA_LOCKED, -1, "mlock" },
	{ "lf", MA_LOCKONFAULT, -1, "MLOCK_ONFAULT" },
	{ "sl", MA_SEALED, -1, "mseal" },
};
#define MA_NWORDS (sizeof(ma_words) / sizeof(ma_words[0]))

struct rec_madvise {
	uint32_t n;		/* entries that follow, at most SNAP_NVMAS_MAX */
	uint32_t mm;		/* MA_MM_* */
} __attribute__((packed));

struct rec_madvise_vma {
	uint64_t start, end;	/* one mapping, page-aligned; in address order */
	uint32_t flags;		/* MA_*, not 0 */
	uint32_t pad;
} __attribute__((packed));

struct madvise_state {
	struct rec_madvise h;
	struct rec_madvise_vma *v;
	size_t cap;
	const struct snap *snap;	/* capture only */
	pid_t pid;
	uint64_t probe;			/* capture only: the probe mapping */
	uint32_t probe_flags;
};

static uint32_t ma_parse(const char *vmflags)
{
	uint32_t bits = 0;

	for (const char *p = vmflags; *p; p++) {
		if (*p == ' ')
			continue;
		for (size_t i = 0; i < MA_NWORDS; i++)
			if (p[0] == ma_words[i].word[0] && p[1] == ma_words[i].word[1] &&
			    (p[2] == ' ' || !p[2]))
				bits |= ma_words[i].bit;
		p += strcspn(p, " ") - 1;
	}
	return bits;
}

static const struct snap_vma *snap_vma_at(const struct snap *s, uint64_t start)
{
	size_t lo = 0, hi = s->nvmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->vmas[mid].r.start == start)
			return &s->vmas[mid];
		if (s->vmas[mid].r.start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int ma_add(void *arg, uint64_t start, uint64_t end, const char *vmflags)
{
	struct madvise_state *m = arg;
	uint32_t bits = ma_parse(vmflags);
	const struct snap_vma *v;

	if (m->probe) {
		if (start == m->probe)
			m->probe_flags = bits | 0x80000000u;	/* seen */
		return 0;
	}
	if (!bits)
		return 0;
	v = snap_vma_at(m->snap, start);
	if (!v || v->r.end != end)
		return err_msg(EAGAIN, "process %d: mapping 0x%llx-0x%llx of smaps is not in maps", m->pid,
			       (unsigned long long)start, (unsigned long long)end);
	/* The kernel's own mappings come back as the kernel makes them. */
	if (v->r.flags & VMA_SPECIAL)
		return 0;
	if (m->h.n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		void *p = realloc(m->v, cap * sizeof(*m->v));

		if (!p)
			return err_sys(ENOMEM, "madvise");
		m->v = p;
		m->cap = cap;
	}
	m->v[m->h.n++] = (struct rec_madvise_vma){ start, end, bits, 0 };
	return 0;
}

/* mlockall(MCL_FUTURE) leaves no trace but in the mappings made after it:
 * one page is mapped inside the process, its VmFlags read from smaps, and
 * it is unmapped.  A shared anonymous page, which the kernel never merges
 * with a neighbour.  Should pfrez die before unmapping it, the process
 * keeps one inaccessible page more: so this is done only for a process
 * that has locked mappings, the only kind likely to have called
 * mlockall. */
static int probe_map(struct kind_capture *c, struct madvise_state *m)
{
	long ret;
	int rc = inject_query(c->inj, SYS_mmap,
			      (long[6]){ 0, 4096, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0 }, &ret);

	if (rc)
		return rc;
	if (ret == -EAGAIN)	/* only a locked mapping meets RLIMIT_MEMLOCK */
		return err_msg(ENOTSUP, "process %d: mlockall(MCL_FUTURE) at its RLIMIT_MEMLOCK: whether MCL_ONFAULT is set cannot be seen",
			       c->pid);
	if (ret < 0 && ret > -4096)
		return err_sys((int)-ret, "process %d: probing for mlockall(MCL_FUTURE) (mmap)", c->pid);
	m->probe = (uint64_t)ret;
	return 0;
}

static int probe_unmap(struct kind_capture *c, struct madvise_state *m)
{
	long ret = 0;
	int rc = inject_query(c->inj, SYS_munmap, (long[6]){ (long)m->probe, 4096 }, &ret);

	if (!rc && ret < 0)
		rc = err_sys((int)-ret, "process %d: unmapping the probe page", c->pid);
	if (!rc && !m->probe_flags)
		rc = err_msg(EAGAIN, "process %d: the probe page is not in its smaps", c->pid);
	if (m->probe_flags & MA_LOCKED)
		m->h.mm |= MA_MM_LOCK_FUTURE;
	if (m->probe_flags & MA_LOCKONFAULT)
		m->h.mm |= MA_MM_LOCK_ONFAULT;
	return rc;
}

static void madvise_free(void *data)
{
	struct madvise_state *m = data;

	if (m)
		free(m->v);
	free(m);
}

/* Read ahead while the process is held (mm.c), or now (asked again:
 * read anew, prefetch.h). */
static int smaps_take(struct kind_capture *c, struct madvise_state *m)
{
	char path[64];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/smaps", c->pid);
	f = proc_prefetch_open(c->pre, path);
	if (!f)
		return err_sys(errno, "%s", path);
	rc = smaps_parse(f, ma_add, m);
	fclose(f);
	return rc;
}

static int madvise_capture(struct kind_capture *c, void **data)
{
	struct madvise_state *m = calloc(1, sizeof(*m));
	int locked = 0, rc, rc2;
	long ret;

	if (!m)
		return err_sys(ENOMEM, "madvise");
	m->snap = c->snap;
	m->pid = c->pid;
	rc = smaps_take(c, m);
	/* Read before the hold (capture_read_ahead()), a mapping of smaps
	 * that maps no longer shows as it was is a stack grown since: read
	 * again, now. */
	if (rc == -EAGAIN) {
		err_clear();
		m->h.n = 0;
		rc = smaps_take(c, m);
	}
	for (size_t i = 0; !rc && i < m->h.n; i++)
		locked |= !!(m->v[i].flags & MA_LOCKED);
	if (!rc && locked && !(rc = probe_map(c, m))) {
		rc = smaps_take(c, m);
		rc2 = probe_unmap(c, m);
		rc = rc ? rc : rc2;
		m->probe = 0;
	}
	/* EINVAL: a kernel before 6.4 or without KSM. */
	if (!rc && !(rc = inject_query(c->inj, SYS_prctl, (long[6]){ PR_GET_MEMORY_MERGE }, &ret)) &&
	    ret == 1)
		m->h.mm |= MA_MM_MERGE_ANY;
	if (rc || (!m->h.n && !m->h.mm)) {
		madvise_free(m);
		return rc;
	}
	*data = m;
	return 0;
}

static int madvise_write(const void *data, struct rec_writer *w)
{
	const struct madvise_state *m = data;

	return rec_write(w, REC_MADVISE, &m->h, sizeof(m->h), m->v, m->h.n * sizeof(*m->v));
}

static int madvise_take(void **data, const unsigned char *p, size_t len)
{
	struct madvise_state *m;
	struct rec_madvise h;
	uint64_t prev = 0;

	if (len < sizeof(h))
		return err_msg(EBADMSG, "madvise record: %zu bytes, too short", len);
	memcpy(&h, p, sizeof(h));
	if (h.n > SNAP_NVMAS_MAX || len != sizeof(h) + h.n * sizeof(struct rec_madvise_vma))
		return err_msg(EBADMSG, "madvise record: %u mappings in %zu bytes", h.n, len);
	if ((h.mm & ~(uint32_t)MA_MM_ALL) ||
	    ((h.mm & MA_MM_LOCK_ONFAULT) && !(h.mm & MA_MM_LOCK_FUTURE)) || (!h.n && !h.mm))
		return err_msg(EBADMSG, "madvise record: process-wide flags 0x%x malformed", h.mm);
	m = calloc(1, sizeof(*m));
	if (!m || !(m->v = malloc(h.n * sizeof(*m->v) + 1))) {
		madvise_free(m);
		return err_sys(ENOMEM, "madvise");
	}
	m->h = h;
	memcpy(m->v, p + sizeof(h), h.n * sizeof(*m->v));
	for (uint32_t i = 0; i < h.n; i++) {
		const struct rec_madvise_vma *v = &m->v[i];
		uint32_t f = v->flags;

		if (v->start < prev || v->start >= v->end || (v->start | v->end) % REC_PAGE_SIZE ||
		    !f || (f & ~(uint32_t)MA_ALL) || v->pad ||
		    ((f & MA_LOCKONFAULT) && !(f & MA_LOCKED)) ||
		    (f & (MA_HUGEPAGE | MA_NOHUGEPAGE)) == (MA_HUGEPAGE | MA_NOHUGEPAGE) ||
		    (f & (MA_SEQUENTIAL | MA_RANDOM)) == (MA_SEQUENTIAL | MA_RANDOM)) {
			int rc = err_msg(EBADMSG, "madvise record: mapping %u (0x%llx-0x%llx, flags 0x%x) malformed",
					 i, (unsigned long long)v->start, (unsigned long long)v->end, f);

			madvise_free(m);
			return rc;
		}
		prev = v->end;
	}
	*data = m;
	return 0;
}

static int ma_call(struct kind_restore *r, long nr, const struct rec_madvise_vma *v, long arg,
		   const char *what)
{
	long ret = pload_call(r->pl, nr, (long)v->start, (long)(v->end - v->start), arg, 0, 0, 0,
			      NULL, 0);

	if (ret >= 0)
		return 0;
	if (nr == SYS_mlock2 && (ret == -ENOMEM || ret == -EAGAIN || ret == -EPERM))
		return err_msg(ENOMEM, "mapping 0x%llx-0x%llx was locked in memory (mlock): pthaw's RLIMIT_MEMLOCK does not allow it (CAP_IPC_LOCK does)",
			       (unsigned long long)v->start, (unsigned long long)v->end);
	if (nr == SYS_mseal && ret == -ENOSYS)
		return err_msg(ENOSYS, "mapping 0x%llx-0x%llx was sealed: this kernel has no mseal (Linux 6.10)",
			       (unsigned long long)v->start, (unsigned long long)v->end);
	if (nr == SYS_madvise && arg == MADV_MERGEABLE && ret == -EINVAL)
		return err_msg(EINVAL, "mapping 0x%llx-0x%llx was KSM-mergeable: this kernel has no KSM",
			       (unsigned long long)v->start, (unsigned long long)v->end);
	return err_sys((int)-ret, "mapping 0x%llx-0x%llx: restoring %s", (unsigned long long)v->start,
		       (unsigned long long)v->end, what);
}

static const struct rec_madvise_vma *entry_at(const struct madvise_state *m, uint64_t start)
{
	size_t lo = 0, hi = m->h.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->v[mid].start == start)
			return &m->v[mid];
		if (m->v[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* With KSM merging every mapping, the ones the process had taken out
 * (MADV_UNMERGEABLE) are taken out again. */
static int unmerge_others(struct kind_restore *r, const struct madvise_state *m)
{
	for (size_t i = 0; i < r->snap->nvmas; i++) {
		const struct rec_vma *sv = &r->snap->vmas[i].r;
		const struct rec_madvise_vma *e = entry_at(m, sv->start);
		struct rec_madvise_vma v = { sv->start, sv->end, 0, 0 };
		int rc;

		if ((sv->flags & VMA_SPECIAL) || (e && (e->flags & MA_MERGEABLE)))
			continue;
		rc = ma_call(r, SYS_madvise, &v, MADV_UNMERGEABLE, "MADV_UNMERGEABLE");
		if (rc)
			return rc;
	}
	return 0;
}

/* Once the mappings are in place: the madvise flags first, then the
 * locks (mlock faults the pages in: they are all there by now), the seals
 * last (a sealed mapping refuses some madvise). */
static int madvise_restore(struct kind_restore *r, const void *data)
{
	const struct madvise_state *m = data;
	long ret;
	int rc = 0;

	/* Before the pages too, huge pages only: memory filled where the
	 * process wanted huge pages comes in huge pages, as it had them
	 * (THP "madvise" mode), instead of waiting for khugepaged. */
	if (r->stage == KIND_STAGE_SPACE) {
		for (uint32_t i = 0; !rc && i < m->h.n; i++)
			for (size_t j = 0; !rc && j < MA_NWORDS; j++)
				if ((m->v[i].flags & ma_words[j].bit & (MA_HUGEPAGE | MA_NOHUGEPAGE)) &&
				    ma_words[j].advice >= 0)
					rc = ma_call(r, SYS_madvise, &m->v[i], ma_words[j].advice,
						     ma_words[j].name);
		return rc;
	}
	if (m->h.mm & MA_MM_MERGE_ANY) {
		ret = pload_call(r->pl, SYS_prctl, PR_SET_MEMORY_MERGE, 1, 0, 0, 0, 0, NULL, 0);
		if (ret == -EPERM)
			return err_msg(EPERM, "the process had KSM merge every mapping (PR_SET_MEMORY_MERGE): that needs CAP_SYS_RESOURCE, which pthaw lacks");
		if (ret < 0)
			return err_sys((int)-ret, "restoring PR_SET_MEMORY_MERGE (a kernel with KSM, 6.4 or later)");
		rc = unmerge_others(r, m);
	}
	for (uint32_t i = 0; !rc && i < m->h.n; i++)
		for (size_t j = 0; !rc && j < MA_NWORDS; j++)
			if ((m->v[i].flags & ma_words[j].bit) && ma_words[j].advice >= 0)
				rc = ma_call(r, SYS_madvise, &m->v[i], ma_words[j].advice, ma_words[j].name);
	for (uint32_t i = 0; !rc && i < m->h.n; i++)
		if (m->v[i].flags & MA_LOCKED)
			rc = ma_call(r, SYS_mlock2, &m->v[i],
				     m->v[i].flags & MA_LOCKONFAULT ? MLOCK_ONFAULT : 0, "mlock");
	if (!rc && (m->h.mm & MA_MM_LOCK_FUTURE)) {
		ret = pload_call(r->pl, SYS_mlockall,
				 MCL_FUTURE | (m->h.mm & MA_MM_LOCK_ONFAULT ? MCL_ONFAULT : 0), 0, 0, 0, 0, 0,
				 NULL, 0);
		if (ret < 0)
			rc = err_sys((int)-ret, "restoring mlockall(MCL_FUTURE)");
	}
	for (uint32_t i = 0; !rc && i < m->h.n; i++)
		if (m->v[i].flags & MA_SEALED)
			rc = ma_call(r, SYS_mseal, &m->v[i], 0, "mseal");
	return rc;
}

static void madvise_print(FILE *f, const void *data)
{
	const struct madvise_state *m = data;

	fprintf(f, "Mapping flags: %u mappings%s%s%s\n", m->h.n,
		m->h.mm & MA_MM_LOCK_FUTURE ? ", mlockall(MCL_FUTURE" : "",
		m->h.mm & MA_MM_LOCK_FUTURE ? (m->h.mm & MA_MM_LOCK_ONFAULT ? "|MCL_ONFAULT)" : ")") : "",
		m->h.mm & MA_MM_MERGE_ANY ? ", KSM merge-any" : "");
	for (uint32_t i = 0; i < m->h.n; i++) {
		fprintf(f, "  %llx-%llx", (unsigned long long)m->v[i].start,
			(unsigned long long)m->v[i].end);
		for (size_t j = 0; j < MA_NWORDS; j++)
			if (m->v[i].flags & ma_words[j].bit)
				fprintf(f, " %s", ma_words[j].word);
		fprintf(f, "\n");
	}
}

static void madvise_print_json(struct json *j, const void *data)
{
	const struct madvise_state *m = data;

	json_array_begin(j, "mm");
	if (m->h.mm & MA_MM_LOCK_FUTURE)
		json_str(j, NULL, "MCL_FUTURE");
	if (m->h.mm & MA_MM_LOCK_ONFAULT)
		json_str(j, NULL, "MCL_ONFAULT");
	if (m->h.mm & MA_MM_MERGE_ANY)
		json_str(j, NULL, "PR_SET_MEMORY_MERGE");
	json_array_end(j);
	json_array_begin(j, "vmas");
	for (uint32_t i = 0; i < m->h.n; i++) {
		json_object_begin(j, NULL);
		json_hex(j, "start", m->v[i].start);
		json_hex(j, "end", m->v[i].end);
		json_array_begin(j, "flags");
		for (size_t k = 0; k < MA_NWORDS; k++)
			if (m->v[i].flags & ma_words[k].bit)
				json_str(j, NULL, ma_words[k].name);
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_madvise = {
	.name = "madvise",
	.type = REC_MADVISE,
	.flags = KIND_LATE | KIND_LAST,
	.stages = KIND_AT(KIND_STAGE_SPACE) | KIND_AT(KIND_STAGE_MM),
	.capture = madvise_capture,
	.write = madvise_write,
	.take = madvise_take,
	.restore = madvise_restore,
	.print = madvise_print,
	.print_json = madvise_print_json,
	.free = madvise_free,
};
