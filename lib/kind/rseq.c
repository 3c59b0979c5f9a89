/* rseq.c: restartable sequences: each thread's registration (the area,
 * its length and signature), and a thread stopped inside a critical
 * section, which resumes at the section's abort handler as the kernel
 * would have sent it there. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_config {
	uint64_t addr;
	uint32_t len, sig, flags, pad;
};

/* The registrations, one per thread that has one. */
struct rseq_set {
	size_t n;
	struct rec_rseq r[];
};

static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };

	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -EIO;
}

/* One thread's registration, if it has one. */
static int capture_one(struct thread_live *l, struct rseq_set **setp)
{
	struct rseq_config rs = { 0 };
	struct { uint32_t cpu_start, cpu; uint64_t cs; } area;
	struct { uint32_t version, flags; uint64_t start, post_commit, abort; } cs;
	struct rseq_set *set = *setp, *n;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, l->tid, sizeof(rs), &rs) <= 0 || !rs.addr)
		return 0;
	l->rseq = rs.addr;
	n = realloc(set, sizeof(*set) + ((set ? set->n : 0) + 1) * sizeof(set->r[0]));
	if (!n)
		return err_sys(ENOMEM, "rseq");
	if (!set)
		n->n = 0;
	*setp = set = n;
	set->r[set->n++] = (struct rec_rseq){ .tid = (uint32_t)l->tid, .len = rs.len, .addr = rs.addr,
					      .sig = rs.sig, .flags = rs.flags };
	/* Stopped inside an rseq critical section: the kernel would move it
	 * to the abort handler on its way back to user mode; the restored
	 * copy must start there too.  So must the original: the injected
	 * calls return to user mode outside the section, where the kernel
	 * forgets it (clears rseq_cs), and registers put back inside it
	 * would let it commit.  Hence before any call is injected (they
	 * clear rseq_cs), and before the thread kind copies the registers. */
	if (read_remote(l->tid, rs.addr, &area, sizeof(area)) == 0 && area.cs &&
	    read_remote(l->tid, area.cs, &cs, sizeof(cs)) == 0 &&
	    l->regs.rip >= cs.start && l->regs.rip - cs.start < cs.post_commit) {
		l->regs.rip = cs.abort;
	}
	return 0;
}

static int rseq_capture(struct kind_capture *c, void **data)
{
	struct rseq_set *set = NULL;
	int rc = 0;

	for (size_t i = 0; i < c->nthreads && !rc; i++)
		rc = capture_one(&c->threads[i], &set);
	*data = set;
	return rc;
}

static int rseq_write(const void *data, struct rec_writer *w)
{
	const struct rseq_set *set = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < set->n; i++)
		rc = rec_write(w, REC_RSEQ, &set->r[i], sizeof(set->r[i]), NULL, 0);
	return rc;
}

static int rseq_take(void **data, const unsigned char *p, size_t len)
{
	struct rseq_set *set = *data, *n;
	struct rec_rseq r;

	if (len != sizeof(r))
		return err_msg(EBADMSG, "rseq record: %zu bytes, want %zu", len, sizeof(r));
	memcpy(&r, p, sizeof(r));
	if (!r.tid || !r.addr || r.len < 32 || r.len > 4096)
		return err_msg(EBADMSG, "rseq record: malformed");
	if (set && set->n >= SNAP_THREADS_MAX)
		return err_msg(EBADMSG, "rseq record: more than one per thread");
	for (size_t i = 0; set && i < set->n; i++)
		if (set->r[i].tid == r.tid)
			return err_msg(EBADMSG, "rseq record: thread %u twice", r.tid);
	n = realloc(set, sizeof(*set) + ((set ? set->n : 0) + 1) * sizeof(r));
	if (!n)
		return err_sys(ENOMEM, "rseq");
	if (!set)
		n->n = 0;
	n->r[n->n++] = r;
	*data = n;
	return 0;
}

static int rseq_verify(const struct snap *s, const void *data)
{
	const struct rseq_set *set = data;

	for (size_t i = 0; i < set->n; i++) {
		size_t t;

		for (t = 0; t < s->nthreads && s->threads[t].r.tid != set->r[i].tid; t++)
			;
		if (t == s->nthreads)
			return err_msg(EBADMSG, "rseq record: thread %u is not one of the process's", set->r[i].tid);
	}
	return 0;
}

/* With pload parked, the call runs as the process's own thread would
 * make it: the registration is the thread's, so it is made in the thread
 * that has the tid (the main one: the new PID; the others their own). */
static int rseq_restore(struct kind_restore *r, const void *data)
{
	const struct rseq_set *set = data;

	for (size_t i = 0; i < set->n; i++) {
		const struct rec_rseq *q = &set->r[i];
		pid_t tid = pload_tid(r->pl, r->old_pid, q->tid);
		long ret = pload_thread_call(r->pl, tid, SYS_rseq, (long)q->addr, q->len, 0, q->sig, 0, 0,
					     NULL, 0);

		if (ret < 0)
			return err_sys((int)-ret, "registering rseq at 0x%llx", (unsigned long long)q->addr);
	}
	return 0;
}

static void rseq_print(FILE *f, const void *data)
{
	const struct rseq_set *set = data;

	for (size_t i = 0; i < set->n; i++)
		fprintf(f, "rseq: thread %u, 0x%llx, %u bytes\n", set->r[i].tid,
			(unsigned long long)set->r[i].addr, set->r[i].len);
}

static void rseq_print_json(struct json *j, const void *data)
{
	const struct rseq_set *set = data;

	json_array_begin(j, "threads");
	for (size_t i = 0; i < set->n; i++) {
		json_object_begin(j, NULL);
		json_uint(j, "tid", set->r[i].tid);
		json_hex(j, "addr", set->r[i].addr);
		json_uint(j, "len", set->r[i].len);
		json_hex(j, "sig", set->r[i].sig);
		json_uint(j, "flags", set->r[i].flags);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_rseq = {
	.name = "rseq",
	.type = REC_RSEQ,
	.flags = KIND_MANY | KIND_LATE | KIND_FIRST,
	.stages = KIND_AT(KIND_STAGE_LAST),
	.capture = rseq_capture,
	.write = rseq_write,
	.take = rseq_take,
	.verify = rseq_verify,
	.restore = rseq_restore,
	.print = rseq_print,
	.print_json = rseq_print_json,
};
