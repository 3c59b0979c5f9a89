/* thread.c: the threads of the process and what is each one's own: its
 * tid, registers and extended (FPU, SSE, AVX) state, signal mask,
 * alternate signal stack and clear-tid address.  The registers go back
 * last of all, once pload is gone (KIND_STAGE_REGS).  rseq: rseq.c;
 * queued signals: signals.c. */
#include "kind.h"
#include "arch/x86_64/regs.h"
#include "err.h"
#include "header.h"
#include "inject.h"
#include "json.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* The state the capture read before injecting calls (c->live), and what
 * only the thread can report: asked for by calls injected into it. */
static int thread_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;
	struct snap_thread *t = snap_add_thread(s);
	struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss;
	long scratch = (long)c->inj->scratch, ret;
	int rc;

	if (!t)
		return -ENOMEM;
	t->r.tid = (uint32_t)c->live->tid;
	t->r.blocked = c->live->sigmask;
	memcpy(&t->r.regs, &c->live->regs, sizeof(t->r.regs));
	t->r.xcr0 = hdr_local_xcr0();
	t->r.xsave_size = c->live->xsize;
	t->xsave = malloc(c->live->xsize);
	if (!t->xsave)
		return err_sys(ENOMEM, "xstate");
	memcpy(t->xsave, c->live->xsave, c->live->xsize);
	rc = inject_query(c->inj, SYS_sigaltstack, (long[6]){ 0, scratch }, &ret);
	if (!rc && ret == 0 && !(rc = inject_read_scratch(c->inj, &ss, sizeof(ss)))) {
		t->r.ss_sp = ss.sp;
		t->r.ss_flags = ss.flags;
		t->r.ss_size = ss.size;
	}
	if (!rc)
		rc = inject_query(c->inj, SYS_prctl, (long[6]){ PR_GET_TID_ADDRESS, scratch }, &ret);
	if (!rc && ret == 0)
		rc = inject_read_scratch(c->inj, &t->r.clear_tid, sizeof(t->r.clear_tid));
	return rc;
}

static int thread_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->nthreads; i++)
		rc = rec_write(w, REC_THREAD, &s->threads[i].r, sizeof(s->threads[i].r), s->threads[i].xsave,
			       s->threads[i].r.xsave_size);
	return rc;
}

static int thread_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;
	struct snap_thread *t;
	struct rec_thread r;

	if (len < sizeof(r))
		return err_msg(EBADMSG, "thread record: too short");
	memcpy(&r, p, sizeof(r));
	if (r.xsave_size != len - sizeof(r) || r.xsave_size < 576 || r.xsave_size > ARCH_XSAVE_MAX)
		return err_msg(EBADMSG, "thread record: bad xsave size");
	if (!r.tid || r.flags)
		return err_msg(EBADMSG, "thread record: malformed");
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].r.tid == r.tid)
			return err_msg(EBADMSG, "thread record: thread %u twice", r.tid);
	t = snap_add_thread(s);
	if (!t)
		return -EBADMSG;
	t->r = r;
	t->xsave = malloc(r.xsave_size);
	if (!t->xsave)
		return err_sys(ENOMEM, "xstate");
	memcpy(t->xsave, p + sizeof(r), r.xsave_size);
	return 0;
}

/* As many threads as the proc record says, the first the process's own
 * (its tid is the pid). */
static int thread_verify(const struct snap *s, const void *data)
{
	(void)data;
	if (!s->nthreads)
		return err_msg(EBADMSG, "incomplete snapshot: thread record missing");
	if (s->nthreads != s->proc.nthreads || s->threads[0].r.tid != s->proc.pid)
		return err_msg(EBADMSG, "thread records: %zu, the first for tid %u; the proc record says %u for pid %u",
			       s->nthreads, s->threads[0].r.tid, s->proc.nthreads, s->proc.pid);
	return 0;
}

/* KIND_STAGE_TASK: what pload can set for the thread (the only one yet:
 * the process's own), KIND_STAGE_REGS: its registers, state and mask. */
static int thread_restore(struct kind_restore *r, const void *data)
{
	const struct snap_thread *t = &((const struct snap *)data)->threads[0];
	long ret;

	if (r->stage == KIND_STAGE_REGS)
		return arch_thread_load(r->pid, &t->r.regs, t->xsave, t->r.xsave_size, t->r.blocked);
	if (!(t->r.ss_flags & SS_DISABLE) && t->r.ss_size) {
		struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss = {
			t->r.ss_sp, t->r.ss_flags & ~SS_ONSTACK, 0, t->r.ss_size };

		ret = pload_call(r->pl, SYS_sigaltstack, (long)r->pl->hello.scratch, 0, 0, 0, 0, 0,
				 &ss, sizeof(ss));
		if (ret < 0)
			return err_sys((int)-ret, "restoring the signal stack");
	}
	if (t->r.clear_tid)
		pload_call(r->pl, SYS_set_tid_address, (long)t->r.clear_tid, 0, 0, 0, 0, 0, NULL, 0);
	return 0;
}

static void thread_print(FILE *f, const void *data)
{
	const struct snap *s = data;
	char feat[256];

	for (size_t i = 0; i < s->nthreads; i++) {
		const struct snap_thread *t = &s->threads[i];

		fprintf(f, "Thread %u: signal mask 0x%llx, clear-tid 0x%llx", t->r.tid,
			(unsigned long long)t->r.blocked, (unsigned long long)t->r.clear_tid);
		if (!(t->r.ss_flags & SS_DISABLE) && t->r.ss_size)
			fprintf(f, ", signal stack 0x%llx (%llu bytes)", (unsigned long long)t->r.ss_sp,
				(unsigned long long)t->r.ss_size);
		fprintf(f, "\n");
		arch_regs_print(f, &t->r.regs);
		hdr_xfeature_names(t->r.xcr0, feat, sizeof(feat));
		fprintf(f, "  extended state: %u bytes, features 0x%llx (%s)\n", t->r.xsave_size,
			(unsigned long long)t->r.xcr0, feat);
	}
}

static void thread_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;
	char feat[256];

	json_array_begin(j, "threads");
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct snap_thread *t = &s->threads[i];

		json_object_begin(j, NULL);
		json_uint(j, "tid", t->r.tid);
		json_hex(j, "blocked", t->r.blocked);
		json_object_begin(j, "altstack");
		json_hex(j, "sp", t->r.ss_sp);
		json_uint(j, "size", t->r.ss_size);
		json_int(j, "flags", t->r.ss_flags);
		json_object_end(j);
		json_hex(j, "clear_tid", t->r.clear_tid);
		arch_regs_json(j, "regs", &t->r.regs);
		hdr_xfeature_names(t->r.xcr0, feat, sizeof(feat));
		json_object_begin(j, "xstate");
		json_uint(j, "size", t->r.xsave_size);
		json_hex(j, "features", t->r.xcr0);
		json_str(j, "feature_names", feat);
		json_object_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_thread = {
	.name = "thread",
	.type = REC_THREAD,
	.flags = KIND_MANY | KIND_REQUIRED | KIND_IN_SNAP | KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_TASK) | KIND_AT(KIND_STAGE_REGS),
	.capture = thread_capture,
	.write = thread_write,
	.take = thread_take,
	.verify = thread_verify,
	.restore = thread_restore,
	.print = thread_print,
	.print_json = thread_print_json,
};
