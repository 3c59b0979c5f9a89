/* thread.c: the threads of the process and what is each one's own: its
 * tid, registers and extended (FPU, SSE, AVX) state, signal mask,
 * alternate signal stack, clear-tid address, robust futex list and name.  The registers go back
 * last of all, once pload is gone (KIND_STAGE_REGS).  rseq: rseq.c;
 * queued signals: signals.c. */
#include "kind.h"
#include "arch/x86_64/regs.h"
#include "err.h"
#include "header.h"
#include "inject.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One thread: the state the capture read before injecting calls (t),
 * what only the thread can report (asked for by calls injected into it),
 * and what pfrez can read from outside (robust list, name). */
static int capture_one(struct kind_capture *c, struct thread_live *l, struct snap_thread *t)
{
	struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss;
	long scratch = (long)l->inj->scratch, ret;
	uint64_t head = 0;
	size_t hlen = 0;
	char name[64], buf[64];
	int rc;

	t->r.tid = (uint32_t)l->tid;
	t->r.blocked = l->sigmask;
	memcpy(&t->r.regs, &l->regs, sizeof(t->r.regs));
	t->r.xcr0 = hdr_local_xcr0();
	t->r.xsave_size = l->xsize;
	t->xsave = malloc(l->xsize);
	if (!t->xsave)
		return err_sys(ENOMEM, "xstate");
	memcpy(t->xsave, l->xsave, l->xsize);
	/* The kernel answers for any thread pfrez may trace. */
	if (syscall(SYS_get_robust_list, l->tid, &head, &hlen) == 0 && head) {
		t->r.robust_list = head;
		t->r.robust_len = hlen;
	}
	snprintf(name, sizeof(name), "task/%d/comm", l->tid);
	rc = proc_read_text(c->pid, name, buf, sizeof(buf));
	if (rc)
		return rc;
	buf[strcspn(buf, "\n")] = '\0';
	buf[sizeof(t->r.comm) - 1] = '\0';	/* comm is 15 bytes at most */
	memcpy(t->r.comm, buf, strlen(buf));
	rc = inject_query(l->inj, SYS_sigaltstack, (long[6]){ 0, scratch }, &ret);
	if (!rc && ret == 0 && !(rc = inject_read_scratch(l->inj, &ss, sizeof(ss)))) {
		t->r.ss_sp = ss.sp;
		t->r.ss_flags = ss.flags;
		t->r.ss_size = ss.size;
	}
	if (!rc)
		rc = inject_query(l->inj, SYS_prctl, (long[6]){ PR_GET_TID_ADDRESS, scratch }, &ret);
	if (!rc && ret == 0)
		rc = inject_read_scratch(l->inj, &t->r.clear_tid, sizeof(t->r.clear_tid));
	return rc;
}

static int thread_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;
	int rc = 0;

	for (size_t i = 0; i < c->nthreads && !rc; i++) {
		struct snap_thread *t = snap_add_thread(s);

		rc = t ? capture_one(c, &c->threads[i], t) : -ENOMEM;
	}
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
	if (!r.tid || r.flags || r.comm[sizeof(r.comm) - 1] || (r.robust_len && r.robust_len != 24) ||
	    (!r.robust_list) != (!r.robust_len))
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

/* The calls that give a thread its own kernel state, made in it: pload's
 * main thread through pload, the others by injection, once parked. */
static int own_state(struct kind_restore *r, const struct snap_thread *t, pid_t tid)
{
	long scratch = (long)r->pl->hello.scratch, ret;

	if (!(t->r.ss_flags & SS_DISABLE) && t->r.ss_size) {
		struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss = {
			t->r.ss_sp, t->r.ss_flags & ~SS_ONSTACK, 0, t->r.ss_size };

		ret = pload_thread_call(r->pl, tid, SYS_sigaltstack, scratch, 0, 0, 0, 0, 0, &ss,
					sizeof(ss));
		if (ret < 0)
			return err_sys((int)-ret, "thread %u: restoring its signal stack", t->r.tid);
	}
	if (t->r.clear_tid)
		pload_thread_call(r->pl, tid, SYS_set_tid_address, (long)t->r.clear_tid, 0, 0, 0, 0, 0,
				  NULL, 0);
	if (t->r.robust_list) {
		ret = pload_thread_call(r->pl, tid, SYS_set_robust_list, (long)t->r.robust_list,
					(long)t->r.robust_len, 0, 0, 0, 0, NULL, 0);
		if (ret < 0)
			return err_sys((int)-ret, "thread %u: restoring its robust futex list", t->r.tid);
	}
	/* The main thread's name is the process's (task.c). */
	if (tid != r->pid && t->r.comm[0])
		pload_thread_call(r->pl, tid, SYS_prctl, PR_SET_NAME, scratch, 0, 0, 0, 0, t->r.comm,
				  strlen(t->r.comm) + 1);
	return 0;
}

/*
 * Threads are made by pload itself (PLOAD_OP_THREAD), one clone3 with
 * set_tid per thread, at the files stage: late enough to share the
 * finished address space and fd table, early enough that pload still has
 * pthaw's privilege to choose tids, and before the queued signals, timers
 * and rseq registrations that name a thread.  They wait in pload until
 * the last stage, when pthaw holds them under ptrace and injects their
 * own state: the credential calls the main thread made (credentials are
 * per thread in the kernel: pload_ctl.h, logging), then their signal
 * stack, clear-tid, robust list and name.  The registers of every thread
 * go in last, once pload is unmapped, and restore_release() lets them
 * all go from the same stop.  (Injecting clone3 into the parked main
 * thread instead would come after the credentials were dropped: no
 * set_tid then.)
 */
static int thread_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;
	int rc = 0;

	switch (r->stage) {
	case KIND_STAGE_FILES:
		/* A tid that cannot be had (taken here, or no privilege to
		 * choose it) is remapped with the PID: the thread gets any
		 * tid, and pthaw answers for it (supervise.c). */
		for (size_t i = 1; i < s->nthreads; i++) {
			uint32_t tid = s->threads[i].r.tid;
			long ret = pload_thread_new(r->pl, (pid_t)tid, (pid_t)tid);

			if ((ret == -EEXIST || ret == -EPERM) && r->remapped)
				ret = pload_thread_new(r->pl, 0, (pid_t)tid);
			if (ret == -EEXIST)
				return err_msg(EBUSY, "thread %u: its tid is in use on this host, so the thread cannot have it back (-remap=never)",
					       tid);
			if (ret == -EPERM)
				return err_msg(EPERM, "thread %u: giving a thread its tid back needs CAP_CHECKPOINT_RESTORE or root (-remap=never)",
					       tid);
			if (ret < 0)
				return err_sys((int)-ret, "thread %u: creating it", tid);
		}
		return 0;
	case KIND_STAGE_TASK:
		return own_state(r, &s->threads[0], r->pid);
	case KIND_STAGE_LAST:
		for (size_t i = 1; i < s->nthreads && !rc; i++) {
			pid_t tid = pload_tid(r->pl, r->old_pid, s->threads[i].r.tid);

			rc = pload_thread_replay(r->pl, tid);
			if (!rc)
				rc = own_state(r, &s->threads[i], tid);
		}
		return rc;
	case KIND_STAGE_REGS:
		for (size_t i = 0; i < s->nthreads && !rc; i++) {
			const struct snap_thread *t = &s->threads[i];

			rc = arch_thread_load(pload_tid(r->pl, r->old_pid, t->r.tid), &t->r.regs, t->xsave, t->r.xsave_size,
					      t->r.blocked);
		}
		return rc;
	default:
		return 0;
	}
}

static void thread_print(FILE *f, const void *data)
{
	const struct snap *s = data;
	char feat[256];

	for (size_t i = 0; i < s->nthreads; i++) {
		const struct snap_thread *t = &s->threads[i];

		char name[4 * sizeof(t->r.comm) + 1];

		fprintf(f, "Thread %u (%s): signal mask 0x%llx, clear-tid 0x%llx", t->r.tid,
			snap_esc(name, sizeof(name), t->r.comm), (unsigned long long)t->r.blocked,
			(unsigned long long)t->r.clear_tid);
		if (t->r.robust_list)
			fprintf(f, ", robust list 0x%llx", (unsigned long long)t->r.robust_list);
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
		json_str(j, "comm", t->r.comm);
		json_hex(j, "blocked", t->r.blocked);
		json_hex(j, "robust_list", t->r.robust_list);
		json_uint(j, "robust_len", t->r.robust_len);
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
	.stages = KIND_AT(KIND_STAGE_FILES) | KIND_AT(KIND_STAGE_TASK) | KIND_AT(KIND_STAGE_LAST) |
		  KIND_AT(KIND_STAGE_REGS),
	.capture = thread_capture,
	.write = thread_write,
	.take = thread_take,
	.verify = thread_verify,
	.restore = thread_restore,
	.print = thread_print,
	.print_json = thread_print_json,
};
