/* signals.c: what signals are to the process: the action of each signal
 * and the interval timers (the signals kind), and the signals queued but
 * not delivered at the capture, for the process or for one of its
 * threads (the siginfo kind).  A thread's mask and alternate stack are
 * the thread's own: thread.c. */
#include "kind.h"
#include "err.h"
#include "inject.h"
#include "json.h"
#include "pload_ctl.h"
#include "snap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

/* ---- the signals kind: actions and interval timers ---- */

/* Not written by the call: the kernel's answers are never all ones (a
 * handler address of ~0 is not canonical, a timer's microseconds never
 * over a million). */
static int answered(const uint64_t *v)
{
	return v[0] != ~0ull || v[1] != ~0ull || v[2] != ~0ull || v[3] != ~0ull;
}

/* Only the process can report them: asked for by calls injected into it,
 * the 62 actions and 3 timers in one go (inject_batch()), one stop of the
 * process rather than 65 pairs (the longest part of the hold otherwise);
 * one by one through the scratch area when they cannot be. */
static int signals_capture(struct kind_capture *c, void **data)
{
	struct rec_signals *sig = &((struct snap *)*data)->sig;
	struct inject_call calls[65];
	uint64_t out[65][4];
	uint64_t at = inject_batch_out(c->inj, sizeof(out));
	size_t n = 0;
	long ret;
	int rc;

	for (int i = 1; i <= 64; i++) {
		if (i == SIGKILL || i == SIGSTOP)
			continue;
		calls[n] = (struct inject_call){ SYS_rt_sigaction, { i, 0, (long)(at + n * 32), 8 } };
		n++;
	}
	for (int w = 0; w < 3; w++, n++)
		calls[n] = (struct inject_call){ SYS_getitimer, { w, (long)(at + n * 32) } };
	memset(out, 0xff, sizeof(out));
	rc = inject_batch(c->inj, calls, n, out, sizeof(out));
	if (rc == -ENOSPC) {
		rc = 0;
		for (size_t k = 0; !rc && k < n; k++) {
			/* The answer's address: rt_sigaction's third, getitimer's second. */
			calls[k].a[calls[k].nr == SYS_rt_sigaction ? 2 : 1] = (long)c->inj->scratch;
			rc = inject_query(c->inj, calls[k].nr, calls[k].a, &ret);
			if (!rc && ret == 0)
				rc = inject_read_scratch(c->inj, out[k], sizeof(out[k]));
		}
	}
	if (rc)
		return rc;
	n = 0;
	for (int i = 1; i <= 64; i++) {
		if (i == SIGKILL || i == SIGSTOP)
			continue;
		if (answered(out[n]))
			memcpy(&sig->act[i - 1], out[n], sizeof(sig->act[0]));
		n++;
	}
	for (int w = 0; w < 3; w++, n++)
		if (answered(out[n]))
			memcpy(sig->itimer[w], out[n], sizeof(sig->itimer[w]));
	return 0;
}

static int signals_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;

	return rec_write(w, REC_SIGNALS, &s->sig, sizeof(s->sig), NULL, 0);
}

static int signals_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;

	if (len != sizeof(s->sig))
		return err_msg(EBADMSG, "signals record: %zu bytes, want %zu", len, sizeof(s->sig));
	memcpy(&s->sig, p, sizeof(s->sig));
	return 0;
}

static int signals_restore(struct kind_restore *r, const void *data)
{
	const struct rec_signals *sg = &((const struct snap *)data)->sig;
	long ret;

	for (int i = 1; i <= 64; i++) {
		const struct rec_sigaction *a = &sg->act[i - 1];

		if (i == SIGKILL || i == SIGSTOP || (!a->handler && !a->flags && !a->mask))
			continue;
		ret = pload_call(r->pl, SYS_rt_sigaction, i, (long)r->pl->hello.scratch, 0, 8, 0, 0,
				 a, sizeof(*a));
		if (ret < 0)
			return err_sys((int)-ret, "signal %d: restoring its action", i);
	}
	for (int w = 0; w < 3; w++) {
		uint64_t it[4] = { sg->itimer[w][0], sg->itimer[w][1], sg->itimer[w][2], sg->itimer[w][3] };

		/* ITIMER_REAL that fired while the process was stopped: its
		 * SIGALRM is pending (queued again by the siginfo kind), and
		 * the kernel restarts the timer only when that signal is
		 * taken, so getitimer said value 0 with the interval still
		 * set.  It is armed: the next expiry comes at most one interval
		 * after the signal is taken, so it starts again with one
		 * interval. */
		if (!(it[2] | it[3]) && (it[0] | it[1])) {
			it[2] = it[0];
			it[3] = it[1];
		}
		if (!(it[2] | it[3]))
			continue;
		ret = pload_call(r->pl, SYS_setitimer, w, (long)r->pl->hello.scratch, 0, 0, 0, 0,
				 it, sizeof(it));
		if (ret < 0)
			return err_sys((int)-ret, "restoring interval timer %d", w);
	}
	return 0;
}

static void signals_print(FILE *f, const void *data)
{
	const struct rec_signals *sg = &((const struct snap *)data)->sig;
	int n = 0;

	fprintf(f, "Signal actions:");
	for (int i = 0; i < 64; i++)
		if (sg->act[i].handler)
			fprintf(f, "%s %d -> %s", n++ ? "," : "", i + 1,
				sg->act[i].handler == 1 ? "ignored" : "handler");
	fprintf(f, "%s\n", n ? "" : " all default");
	for (int w = 0; w < 3; w++)
		if (sg->itimer[w][2] | sg->itimer[w][3] | sg->itimer[w][0] | sg->itimer[w][1])
			fprintf(f, "Interval timer %s: value %llu.%06llu s, interval %llu.%06llu s\n",
				w == 0 ? "real" : w == 1 ? "virtual" : "prof",
				(unsigned long long)sg->itimer[w][2], (unsigned long long)sg->itimer[w][3],
				(unsigned long long)sg->itimer[w][0], (unsigned long long)sg->itimer[w][1]);
}

static void signals_print_json(struct json *j, const void *data)
{
	static const char *timers[3] = { "real", "virtual", "prof" };
	const struct rec_signals *g = &((const struct snap *)data)->sig;

	json_object_begin(j, "signals");
	json_array_begin(j, "actions");
	for (int i = 0; i < 64; i++) {
		const struct rec_sigaction *a = &g->act[i];

		if (!a->handler && !a->flags && !a->mask)
			continue;
		json_object_begin(j, NULL);
		json_int(j, "signal", i + 1);
		if (a->handler <= 1)
			json_str(j, "handler", a->handler ? "ignore" : "default");
		else
			json_hex(j, "handler", a->handler);
		json_hex(j, "flags", a->flags);
		json_hex(j, "restorer", a->restorer);
		json_hex(j, "mask", a->mask);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_begin(j, "itimers");
	for (int i = 0; i < 3; i++) {
		json_object_begin(j, timers[i]);
		json_uint(j, "interval_sec", g->itimer[i][0]);
		json_uint(j, "interval_usec", g->itimer[i][1]);
		json_uint(j, "value_sec", g->itimer[i][2]);
		json_uint(j, "value_usec", g->itimer[i][3]);
		json_object_end(j);
	}
	json_object_end(j);
	json_object_end(j);
}

const struct kind_ops kind_signals = {
	.name = "signals",
	.type = REC_SIGNALS,
	.flags = KIND_REQUIRED | KIND_IN_SNAP | KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_TASK),
	.capture = signals_capture,
	.write = signals_write,
	.take = signals_take,
	.restore = signals_restore,
	.print = signals_print,
	.print_json = signals_print_json,
};

/* ---- the siginfo kind: queued signals ---- */

/* Signals queued but not delivered (blocked ones, mostly): the copy must
 * find them pending too, for the process or for the same thread. */
static int siginfo_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;

	/* The process's queue once, then each thread's own. */
	for (size_t k = 0; k <= c->nthreads; k++) {
		int shared = k == 0;
		pid_t tid = shared ? c->pid : c->threads[k - 1].tid;
		struct __ptrace_peeksiginfo_args a = { 0, shared ? PTRACE_PEEKSIGINFO_SHARED : 0, 32 };
		siginfo_t si[32];

		for (;;) {
			long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);

			if (n < 0)
				return err_sys(errno, "process %d: reading pending signals of thread %d", c->pid,
					       tid);
			for (long i = 0; i < n; i++) {
				struct rec_siginfo r = { .shared = (uint32_t)shared,
							 .tid = shared ? 0 : (uint32_t)tid };
				int rc;

				if (si[i].si_signo == SIGKILL || si[i].si_signo == SIGSTOP)
					continue;
				memcpy(r.info, &si[i], sizeof(r.info));
				rc = snap_add_pending(s, &r);
				if (rc)
					return rc;
			}
			if (n < a.nr)
				break;
			a.off += (uint64_t)n;
		}
	}
	return 0;
}

static int siginfo_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < s->npending; i++)
		rc = rec_write(w, REC_SIGINFO, &s->pending[i], sizeof(s->pending[i]), NULL, 0);
	return rc;
}

static int siginfo_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_siginfo si;
	int32_t signo;
	int rc;

	if (len != sizeof(si))
		return err_msg(EBADMSG, "siginfo record: %zu bytes, want %zu", len, sizeof(si));
	memcpy(&si, p, sizeof(si));
	memcpy(&signo, si.info, sizeof(signo));
	if (si.shared > 1 || (si.shared && si.tid) || (!si.shared && !si.tid) || signo < 1 ||
	    signo > 64 || signo == SIGKILL || signo == SIGSTOP)
		return err_msg(EBADMSG, "siginfo record: malformed");
	rc = snap_add_pending(*data, &si);
	return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "siginfo record") : rc;
}

static int siginfo_verify(const struct snap *s, const void *data)
{
	(void)data;
	for (size_t i = 0; i < s->npending; i++) {
		size_t t;

		if (s->pending[i].shared)
			continue;
		for (t = 0; t < s->nthreads && s->threads[t].r.tid != s->pending[i].tid; t++)
			;
		if (t == s->nthreads)
			return err_msg(EBADMSG, "siginfo record: thread %u is not one of the process's",
				       s->pending[i].tid);
	}
	return 0;
}

/* Queued with every signal blocked in pload and its threads, they wait
 * for each thread's own mask, set with its registers (thread.c).  A
 * thread's signal goes to the thread that now has its tid (made at the
 * files stage; the main thread's is the new PID).  The kernel lets only
 * the target thread itself queue a signal that looks sent by kill() or
 * tgkill() (si_code >= 0 or SI_TKILL): the main thread's and the
 * process's are queued by pload at the task stage, the other threads'
 * by each thread, at the last stage, when pthaw can inject into it. */
static int siginfo_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;

	for (size_t i = 0; i < s->npending; i++) {
		const struct rec_siginfo *q = &s->pending[i];
		pid_t tid = q->shared ? r->pid : pload_tid(r->pl, r->old_pid, q->tid);
		int32_t signo;
		long ret;

		if ((r->stage == KIND_STAGE_LAST) != (tid != r->pid))
			continue;
		memcpy(&signo, q->info, sizeof(signo));
		ret = q->shared ? pload_call(r->pl, SYS_rt_sigqueueinfo, r->self_pid, signo,
					     (long)r->pl->hello.scratch, 0, 0, 0, q->info, sizeof(q->info))
				: pload_thread_call(r->pl, tid, SYS_rt_tgsigqueueinfo, r->self_pid,
						    /* in a PID namespace pload sees the old tids */
						    r->self_pid != r->pid ? (pid_t)q->tid : tid, signo,
						    (long)r->pl->hello.scratch, 0, 0, q->info, sizeof(q->info));
		if (ret < 0)
			return err_sys((int)-ret, "queueing pending signal %d", signo);
	}
	return 0;
}

static void siginfo_print(FILE *f, const void *data)
{
	const struct snap *s = data;

	for (size_t i = 0; i < s->npending; i++) {
		int32_t signo;

		memcpy(&signo, s->pending[i].info, sizeof(signo));
		if (s->pending[i].shared)
			fprintf(f, "Pending signal: %d (process)\n", signo);
		else
			fprintf(f, "Pending signal: %d (thread %u)\n", signo, s->pending[i].tid);
	}
}

static void siginfo_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

	json_array_begin(j, "pending_signals");
	for (size_t i = 0; i < s->npending; i++) {
		int32_t si[3];	/* si_signo, si_errno, si_code */

		memcpy(si, s->pending[i].info, sizeof(si));
		json_object_begin(j, NULL);
		json_int(j, "signal", si[0]);
		json_str(j, "scope", s->pending[i].shared ? "process" : "thread");
		if (!s->pending[i].shared)
			json_uint(j, "tid", s->pending[i].tid);
		json_int(j, "code", si[2]);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_siginfo = {
	.name = "siginfo",
	.type = REC_SIGINFO,
	.flags = KIND_MANY | KIND_IN_SNAP | KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_TASK) | KIND_AT(KIND_STAGE_LAST),
	.capture = siginfo_capture,
	.write = siginfo_write,
	.take = siginfo_take,
	.verify = siginfo_verify,
	.restore = siginfo_restore,
	.print = siginfo_print,
	.print_json = siginfo_print_json,
};
