/* capture.c: holds a process and reads its state: the thread's
 * registers as found, then every kind of the table (lib/kind/) with calls
 * injected into it, and lets it go on as it was. */
#include "capture.h"
#include "cow.h"
#include "err.h"
#include "crc32c.h"
#include "inject.h"
#include "kind.h"
#include "layer.h"
#include "pages.h"
#include "prefetch.h"
#include "proc.h"
#include "treeshare.h"
#include "watch.h"
#include "arch/x86_64/regs.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The calls pfrez injects must be neither refused nor fatal: seccomp
 * strict mode allows none of them (refused here, before any runs), and
 * filters are suspended while pfrez holds the process
 * (PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN, as reading the filters
 * does; the kernel lifts it when pfrez detaches or dies).  The process
 * is stopped: its mode cannot change under us.  Filters and their
 * suspension are each thread's own: every thread is asked. */
static int hold_seccomp(struct capture *c, pid_t tid)
{
	pid_t pid = c->pid;
	char v[16];

	if (proc_status_field(tid, "Seccomp", v, sizeof(v))) {
		err_clear();	/* a kernel without seccomp */
		return 0;
	}
	if (!strcmp(v, "1"))
		return err_msg(ENOTSUP, "process %d runs in seccomp strict mode: it may make no call but read, write, exit and sigreturn, so it cannot be captured",
			       pid);
	if (!strcmp(v, "2") &&
	    ptrace(PTRACE_SETOPTIONS, tid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP) < 0)
		return err_msg(EPERM, "process %d has seccomp filters: capturing them needs CAP_SYS_ADMIN, and pfrez under no seccomp filter",
			       pid);
	if (!strcmp(v, "2"))
		c->filters_held = 1;
	return 0;
}

static int held(const struct capture *c, pid_t tid)
{
	for (size_t i = 0; i < c->nthreads; i++)
		if (c->threads[i].tid == tid)
			return 1;
	return 0;
}

static int add_thread(struct capture *c, pid_t tid)
{
	struct thread_live *n;

	if (c->nthreads >= SNAP_THREADS_MAX)
		return err_msg(E2BIG, "process %d has more than %d threads", c->pid, SNAP_THREADS_MAX);
	n = realloc(c->threads, (c->nthreads + 1) * sizeof(*n));
	if (!n)
		return err_sys(ENOMEM, "thread list");
	c->threads = n;
	c->threads[c->nthreads++] = (struct thread_live){ .tid = tid };
	return 0;
}

/*
 * Holds every thread.  Those /proc/PID/task lists are seized and
 * interrupted, then waited for; a thread not yet stopped may meanwhile
 * have started another, so the list is read again, until a reading made
 * with every listed thread stopped names no thread not held.  Then none
 * can appear any more: a clone under way when the interrupt came
 * completes before its thread stops, and its new thread is in the list
 * from then on.  A thread that ends before it stops is dropped (it is
 * gone: there is nothing of it to capture), never half-captured.
 */
static int seize_all(struct capture *c)
{
	for (int pass = 0;; pass++) {
		size_t first = c->nthreads, n;
		pid_t *tids;
		int rc = proc_list_tids(c->pid, &tids, &n);

		if (rc)
			return rc;
		for (size_t i = 0; i < n && !rc; i++) {
			if (held(c, tids[i]))
				continue;
			rc = ptrace_seize_thread(tids[i], PTRACE_O_TRACESYSGOOD);
			if (rc == -ESRCH) {	/* ended meanwhile */
				rc = 0;
				continue;
			}
			if (!rc)
				rc = add_thread(c, tids[i]);
			c->attached = 1;
		}
		free(tids);
		if (rc)
			return rc;
		for (size_t i = first; i < c->nthreads;) {
			rc = ptrace_wait_stop(c->threads[i].tid);
			if (rc == -ESRCH && c->threads[i].tid != c->pid) {
				c->threads[i] = c->threads[--c->nthreads];
				continue;
			}
			if (rc == -ESRCH)
				return err_msg(ESRCH, "process %d ended while being attached", c->pid);
			if (rc)
				return rc;
			i++;
		}
		if (c->nthreads == first)
			break;
		if (pass >= 1000)
			return err_msg(EAGAIN, "process %d: its threads come and go faster than pfrez can hold them",
				       c->pid);
	}
	/* The main thread first: the process's own (its tid is the PID). */
	for (size_t i = 0; i < c->nthreads; i++) {
		if (c->threads[i].tid == c->pid) {
			struct thread_live t = c->threads[0];

			c->threads[0] = c->threads[i];
			c->threads[i] = t;
			return 0;
		}
	}
	return err_msg(ENOTSUP, "process %d: its main thread has ended (the process lives on in its other threads): it cannot be restored",
		       c->pid);
}

/* One process: seized, every thread held. */
static int attach_one(struct capture *c, pid_t pid)
{
	struct proc_stat st;
	int rc;

	snap_init(&c->snap);
	c->pid = pid;
	if (pid <= 0)
		return err_msg(EINVAL, "-pid must name a process");
	if (pid == getpid())
		return err_msg(EINVAL, "process %d is pfrez itself", pid);
	rc = proc_stat_read(pid, &st);
	if (rc)
		return err_msg(ESRCH, "process %d: no such process", pid);
	if (st.state == 'Z' || st.state == 'X')
		return err_msg(ESRCH, "process %d is a zombie: nothing left to capture", pid);
	/* A single thread is attached as before: its errors say why. */
	rc = ptrace_seize_stop(pid);
	if (rc)
		return rc;
	c->attached = 1;
	rc = add_thread(c, pid);
	if (!rc)
		rc = seize_all(c);
	for (size_t i = 0; !rc && i < c->nthreads; i++)
		rc = hold_seccomp(c, c->threads[i].tid);
	/* The filters are captured from the main thread and restored to
	 * every thread (SECCOMP_FILTER_FLAG_TSYNC): a thread with others
	 * cannot be restored. */
	for (size_t i = 1; !rc && i < c->nthreads; i++) {
		char m[32] = "", t[32] = "";

		proc_status_field(pid, "Seccomp_filters", m, sizeof(m));
		proc_status_field(c->threads[i].tid, "Seccomp_filters", t, sizeof(t));
		err_clear();
		if (strcmp(m, t))
			rc = err_msg(ENOTSUP, "process %d: thread %d has %s seccomp filters, the main thread %s: threads with filters of their own cannot be restored",
				     pid, c->threads[i].tid, t, m);
	}
	return rc;
}

static int known(const struct capture *c, pid_t pid)
{
	return pstree_find(&c->ptree, (uint32_t)pid) >= 0;
}

/* -tree=false: a process restored without its children would find them
 * gone (wait() failing with ECHILD, pipes without their other ends). */
static int refuse_children(struct capture *c)
{
	char live[256] = "", dead[256] = "";
	pid_t *kids;
	size_t n;
	int rc = pstree_children(c->pid, &kids, &n);

	for (size_t i = 0; !rc && i < n; i++) {
		struct rec_pstree_proc e;
		char *list;

		if (pstree_left_out(c->pid, kids[i]) || pstree_read(kids[i], &e)) {
			err_clear();
			continue;
		}
		list = e.state == PSTREE_ZOMBIE ? dead : live;
		if (strlen(list) < 200)
			snprintf(list + strlen(list), 256 - strlen(list), "%s%d", *list ? " " : "", kids[i]);
	}
	free(kids);
	if (rc)
		return rc;
	if (*live)
		return err_msg(ENOTSUP, "process %d has live children (PIDs %s): with -tree=false it would be restored without them",
			       c->pid, live);
	if (*dead)
		return err_msg(ENOTSUP, "process %d has exited children it has not reaped (PIDs %s): with -tree=false it would be restored without them",
			       c->pid, dead);
	return 0;
}

/* A child found in a held process's list: a zombie is only noted, a
 * live one is held in a capture of its own.  1 when it is gone. */
static int hold_child(struct capture *c, pid_t parent, pid_t pid)
{
	struct rec_pstree_proc e;
	struct capture **n, *sub;
	int rc;

	/* Its state before it is seized: a group stop shows as 'T' only
	 * until a tracer holds it. */
	if (pstree_read(pid, &e)) {
		err_clear();
		return 1;
	}
	e.ppid = (uint32_t)parent;
	if (e.state != PSTREE_ZOMBIE) {
		n = realloc(c->sub, (c->nsub + 1) * sizeof(*n));
		if (!n)
			return err_sys(ENOMEM, "process tree");
		c->sub = n;
		sub = calloc(1, sizeof(*sub));
		if (!sub)
			return err_sys(ENOMEM, "process tree");
		rc = attach_one(sub, pid);
		if (rc && (rc == -ESRCH || !pstree_read(pid, &e))) {
			/* It ended meanwhile: a zombie now (its parent is held
			 * and cannot reap it), or gone for good. */
			capture_release(sub);
			capture_free(sub);
			free(sub);
			err_clear();
			if (pstree_read(pid, &e) || e.state != PSTREE_ZOMBIE) {
				err_clear();
				return 1;
			}
			e.ppid = (uint32_t)parent;
		} else if (rc) {
			capture_release(sub);
			capture_free(sub);
			free(sub);
			return rc;
		} else {
			c->sub[c->nsub++] = sub;
			/* clone(2) with CLONE_FILES: one fd table in both,
			 * which the parent's records describe (pstree.c);
			 * with CLONE_FS, one working directory and umask. */
			if (syscall(SYS_kcmp, parent, pid, KCMP_FILES, 0, 0) == 0)
				e.flags |= PSTREE_FILES_SHARED;
			if (syscall(SYS_kcmp, parent, pid, KCMP_FS, 0, 0) == 0)
				e.flags |= PSTREE_FS_SHARED;
		}
	}
	return pstree_add(&c->ptree, &e);
}

/*
 * Holds the process's descendants: the children of a held process (all
 * its threads stopped) can only be those its lists show, since it forks
 * no more; each is held in turn and its own lists read, parents before
 * children, which is the tree's order.  Then every list is read again,
 * until a reading finds nothing new: the tree is held at one instant,
 * before any state of any process is read.  A child that exits meanwhile
 * is a zombie, its parent being held; pfrez and whoever started it from
 * inside the tree are left out (pstree_left_out).
 */
static int attach_tree(struct capture *c, const struct proc_stat *st)
{
	struct rec_pstree_proc root = { .pid = (uint32_t)c->pid, .ppid = (uint32_t)st->ppid,
					.pgid = (uint32_t)st->pgrp, .sid = (uint32_t)st->session,
					.state = st->state == 'T' ? PSTREE_STOPPED : PSTREE_LIVE };
	int rc;

	pstree_read_comm(c->pid, &root);
	rc = pstree_add(&c->ptree, &root);

	for (int pass = 0; !rc; pass++) {
		size_t before = c->ptree.n;

		for (size_t i = 0; i <= c->nsub && !rc; i++) {
			pid_t pid = i ? c->sub[i - 1]->pid : c->pid;
			pid_t *kids;
			size_t n;

			rc = pstree_children(pid, &kids, &n);
			for (size_t k = 0; !rc && k < n; k++)
				if (!known(c, kids[k]) && !pstree_left_out(c->pid, kids[k]) &&
				    kids[k] != getpid() && (rc = hold_child(c, pid, kids[k])) > 0)
					rc = 0;
			free(kids);
		}
		if (rc)
			return rc;
		if (c->ptree.n == before)
			break;
		if (pass >= 1000)
			return err_msg(EAGAIN, "process %d: its descendants come and go faster than pfrez can hold them",
				       c->pid);
	}
	if (!rc && c->ptree.n == 1)
		pstree_free(&c->ptree);	/* no child: a stream of one process */
	return rc ? rc : pstree_verify(&c->ptree);
}

int capture_attach(struct capture *c, pid_t pid)
{
	struct proc_stat st = { 0 };
	int rc;

	/* The root's state before it is seized, for the tree's table. */
	if (pid > 0 && proc_stat_read(pid, &st))
		err_clear();
	rc = attach_one(c, pid);
	if (rc)
		return rc;
	return c->tree ? attach_tree(c, &st) : refuse_children(c);
}

static int state_one(struct capture *c)
{
	struct kind_capture kc = { .pid = c->pid, .snap = &c->snap, .live = &c->threads[0],
				   .threads = c->threads, .nthreads = c->nthreads,
				   .self_contained = c->self_contained, .halt = c->halt,
				   .max_deleted = c->max_deleted, .lib_fd = c->lib_fd };
	int rc = 0, rc2;

	/* Every thread is held: /proc/locks is read meanwhile (prefetch.h),
	 * taken by the locks kind; mm.c adds /proc/PID/smaps.  Read while
	 * the process ran (capture_read_ahead()), they are there already. */
	kc.pre = c->pre ? c->pre : proc_prefetch_new();
	c->pre = NULL;
	kc.marking = c->use_cow;
	proc_prefetch_add(kc.pre, "/proc/locks");
	for (size_t i = 0; i < c->nthreads && !rc; i++) {
		rc = arch_thread_read(&c->threads[i]);
		if (!rc)
			rc = inject_unwind(c->threads[i].tid, &c->threads[i].regs, &c->threads[i].sigmask);
		if (!rc)
			c->regs_saved++;
	}
	if (!rc)
		rc = kinds_capture(&kc, c->snap.kind, KINDS_FIRST);
	/* What the calls about to run write (their frames below each stack
	 * pointer, the kernel the rseq area on their return) would stop on
	 * copy-on-write's protection (cow_lift()). */
	for (size_t i = 0; !rc && c->cow && i < c->nthreads; i++) {
		const struct thread_live *t = &c->threads[i];

		cow_lift(c->cow, t->regs.rsp > INJECT_STACK_MAX ? t->regs.rsp - INJECT_STACK_MAX : 0, t->regs.rsp);
		if (t->rseq)
			cow_lift(c->cow, t->rseq, t->rseq + 32);
	}
	c->ctx = calloc(c->nthreads, sizeof(*c->ctx));
	if (!rc && !c->ctx)
		rc = err_sys(ENOMEM, "thread list");
	/* Each thread gets its own frame, on its own stack: the calls that
	 * ask for a thread's own state run in that thread. */
	for (size_t i = 0; i < c->nthreads && !rc; i++) {
		struct thread_live *t = &c->threads[i];

		rc = i ? inject_begin_thread(&c->ctx[i], &c->ctx[0], t->tid, &t->regs, t->sigmask,
					     t->xsave, t->xsize)
		       : inject_begin_again(&c->ctx[0], c->has_prepared ? &c->prepared : NULL, c->pid,
					    &t->regs, t->sigmask, t->xsave, t->xsize);
		t->inj = &c->ctx[i];
	}
	if (rc)
		goto out;
	kc.inj = &c->ctx[0];
	/* The kinds may still run calls inside the process (the frames keep
	 * that safe if pfrez dies meanwhile). */
	rc = kinds_capture(&kc, c->snap.kind, KINDS_MAIN);
	/* Then its memory is marked: from here the process may run on
	 * while pfrez reads it.  Anything that prevents it only means the
	 * process stays held until its memory is read, as without -cow.
	 * The KIND_LAST kinds' files are read meanwhile (mm.c starts). */
	if (!rc && c->use_cow &&
	    (rc2 = c->cow ? cow_freeze(c->cow, &c->snap)
			  : cow_begin(&c->cow, c->track ? COW_TRACK : COW_SNAPSHOT, c->pid, &c->ctx[0], &c->snap))) {
		snprintf(c->cow_note, sizeof(c->cow_note), "%s", err_last());
		cow_end(c->cow);
		c->cow = NULL;
		err_clear();
		if (rc2 == -ESRCH)
			rc = rc2;
	}
	if (!rc)
		rc = kinds_capture(&kc, c->snap.kind, KINDS_LAST);
out:
	proc_prefetch_end(kc.pre);
	/* From here on only memory is read: put the threads back as they
	 * will resume.  capture_release() does the same again. */
	for (size_t i = 0; c->ctx && i < c->nthreads; i++) {
		rc2 = inject_finish(&c->ctx[i]);
		if (!rc)
			rc = rc2;
	}
	return rc;
}

/* What the processes share is described by the first that has it
 * (treeshare.h): each is told the tree, and the processes before it. */
static int share_begin(struct capture *c)
{
	pid_t *pids = malloc((c->nsub + 1) * sizeof(*pids));
	int rc;

	if (!pids)
		return err_sys(ENOMEM, "process tree");
	pids[0] = c->pid;
	for (size_t i = 0; i < c->nsub; i++)
		pids[i + 1] = c->sub[i]->pid;
	rc = tshare_capture_begin(pids, c->nsub + 1);
	free(pids);
	return rc;
}

int capture_state(struct capture *c)
{
	int rc = share_begin(c);

	if (!rc)
		rc = state_one(c);
	if (!rc)
		tshare_captured(c->pid, &c->snap);
	for (size_t i = 0; !rc && i < c->nsub; i++) {
		struct capture *sub = c->sub[i];

		sub->self_contained = c->self_contained;
		sub->halt = c->halt;
		sub->max_deleted = c->max_deleted;
		rc = state_one(sub);
		if (!rc)
			tshare_captured(sub->pid, &sub->snap);
	}
	tshare_capture_end();
	return rc;
}

static void threads_free(struct capture *c)
{
	for (size_t i = 0; i < c->nthreads; i++)
		free(c->threads[i].xsave);
	free(c->threads);
	c->threads = NULL;
	c->nthreads = 0;
}

/* Lets go of every thread of a hold in which nothing was read. */
static void unhold(struct capture *c)
{
	for (size_t i = 0; i < c->nthreads; i++)
		ptrace(PTRACE_DETACH, c->threads[i].tid, 0, 0);
	threads_free(c);
	c->attached = 0;
	c->filters_held = 0;
}

/*
 * The two files the hold waits longest for (prefetch.h) are read before
 * it, while the process runs under watch (watch.h): the hold is then as
 * long as marking memory and the calls take, not as the kernel's walk of
 * every page table for smaps, or an RCU grace period for /proc/locks.
 * Not for a process with seccomp filters (they are suspended while pfrez
 * holds it: it would run without them), nor a tree.  Unclean, the texts
 * are dropped, read again while held, and the hold is taken anew (a
 * thread may have come or gone).
 */
int capture_read_ahead(struct capture *c)
{
	char path[64];
	pid_t *tids;
	int rc;

	if (c->nsub || c->ptree.n || !c->nthreads || c->filters_held)
		return 0;
	tids = malloc(c->nthreads * sizeof(*tids));
	c->pre = proc_prefetch_new();
	if (!tids || !c->pre) {
		free(tids);
		proc_prefetch_end(c->pre);
		c->pre = NULL;
		return 0;
	}
	for (size_t i = 0; i < c->nthreads; i++)
		tids[i] = c->threads[i].tid;
	snprintf(path, sizeof(path), "/proc/%d/smaps", c->pid);
	proc_prefetch_add(c->pre, path);
	proc_prefetch_add(c->pre, "/proc/locks");
	rc = watch_run(c->pid, tids, c->nthreads, proc_prefetch_ready, c->pre, &c->ahead);
	free(tids);
	c->read_ahead = 1;
	clock_gettime(CLOCK_MONOTONIC, &c->held_at);
	if (rc == -ESRCH)
		return err_msg(ESRCH, "process %d ended while being captured", c->pid);
	if (rc || c->ahead.clean)
		return rc;
	proc_prefetch_end(c->pre);
	c->pre = NULL;
	unhold(c);
	return capture_attach(c, c->pid);
}

int capture_cow_prepare(struct capture *c, pid_t pid)
{
	struct capture t = { 0 };
	struct inject_ctx ctx;
	int rc = capture_attach(&t, pid), rc2;

	/* Held only for the two calls that make the userfaultfd; every
	 * thread is, so that none opens an fd meanwhile (cow.c predicts
	 * the number it gets). */
	if (!rc)
		rc = arch_thread_read(&t.threads[0]);
	if (!rc)
		rc = inject_unwind(pid, &t.threads[0].regs, &t.threads[0].sigmask);
	/* The kinds read before any call is injected (rseq: a thread held
	 * inside a critical section goes to its abort handler, as the
	 * kernel would send it, since the calls make the kernel forget it). */
	if (!rc) {
		struct kind_capture kc = { .pid = pid, .snap = &t.snap, .live = &t.threads[0],
					   .threads = t.threads, .nthreads = 1 };

		rc = kinds_capture(&kc, t.snap.kind, KINDS_FIRST);
	}
	if (!rc) {
		t.regs_saved = 1;
		rc = inject_begin(&ctx, pid, &t.threads[0].regs, t.threads[0].sigmask, t.threads[0].xsave,
				  t.threads[0].xsize);
		if (!rc) {
			/* The code its calls run from serves the capture's too. */
			c->prepared = ctx;
			c->has_prepared = 1;
			rc = cow_open(&c->cow, COW_SNAPSHOT, pid, &ctx);
			rc2 = inject_finish(&ctx);
			if (!rc)
				rc = rc2;
		}
	}
	capture_release(&t);
	capture_free(&t);
	if (!rc)
		rc = cow_prepare(c->cow);
	if (rc) {
		snprintf(c->cow_note, sizeof(c->cow_note), "%s", err_last());
		cow_end(c->cow);
		c->cow = NULL;
	}
	return rc;
}

static int write_pages_one(struct capture *c, struct rec_writer *w)
{
	struct pages_src src = { .pid = c->pid, .snap = &c->snap, .progress = c->progress,
				 .progress_arg = c->progress_arg, .lazy = c->lazy,
				 .asked = c->asked, .asked_arg = c->asked_arg };
	int rc, rc2;

	if (!c->cow) {
		rc = pages_write(&src, w);
	} else {
		src.cow = c->cow;
		src.part = PAGES_STOPPED;
		rc = pages_write(&src, w);
		if (!rc) {
			capture_release(c);
			clock_gettime(CLOCK_MONOTONIC, &c->resumed);
			/* Only now may the reader set the pace. */
			if (c->hold)
				rc = layer_hold_release(c->hold);
			src.part = PAGES_COW;
		}
		if (!rc)
			rc = pages_write(&src, w);
		rc2 = cow_end(c->cow);
		c->cow = NULL;
		if (!rc)
			rc = rc2;
	}
	c->pages_sent = src.pages_sent;
	c->pages_asked = src.pages_asked;
	c->bytes_sent = src.bytes_sent;
	return rc;
}

int capture_write_pages(struct capture *c, struct rec_writer *w)
{
	return write_pages_one(c, w);
}

/* A tree: the table, then each live process's records after its begin
 * record (lib/kind/pstree.c). */
int capture_write(struct capture *c, struct rec_writer *w)
{
	int rc = 0;

	if (!c->ptree.n) {
		rc = snap_write_meta(&c->snap, w);
		return rc ? rc : write_pages_one(c, w);
	}
	rc = pstree_write(&c->ptree, w);
	for (size_t i = 0; !rc && i <= c->nsub; i++) {
		struct capture *p = i ? c->sub[i - 1] : c;

		p->progress = c->progress;
		p->progress_arg = c->progress_arg;
		rc = pstree_write_begin(w, (uint32_t)p->pid);
		if (!rc)
			rc = snap_write_meta(&p->snap, w);
		if (!rc)
			rc = write_pages_one(p, w);
		if (i) {
			c->pages_sent += p->pages_sent;
			c->bytes_sent += p->bytes_sent;
		}
	}
	return rc;
}

static int hash_one(struct capture *c);

int capture_hash_maps(struct capture *c)
{
	int rc = hash_one(c);

	for (size_t i = 0; !rc && i < c->nsub; i++)
		rc = hash_one(c->sub[i]);
	return rc;
}

static int hash_one(struct capture *c)
{
	unsigned char *buf = malloc(1 << 20);

	if (!buf)
		return err_sys(ENOMEM, "hash");
	for (size_t i = 0; i < c->snap.nvmas; i++) {
		struct rec_vma *v = &c->snap.vmas[i].r;
		uint32_t crc = 0;

		if (v->flags & (VMA_VVAR | VMA_VVAR_VCLOCK | VMA_VSYSCALL))
			continue;
		for (uint64_t a = v->start; a < v->end; a += 1 << 20) {
			size_t n = v->end - a < (1 << 20) ? v->end - a : (1 << 20);
			struct iovec l = { buf, n }, r = { (void *)a, n };

			/* Unreadable parts (guard pages) hash as zeros. */
			if (process_vm_readv(c->pid, &l, 1, &r, 1, 0) != (ssize_t)n)
				memset(buf, 0, n);
			crc = crc32c(crc, buf, n);
		}
		v->content_crc = crc;
	}
	free(buf);
	return 0;
}

/* A process of the tree that was stopped goes back to its group stop
 * once let go (__ptrace_unlink), but only when it next runs: its parent
 * must not see it running meanwhile. */
static void wait_stopped(pid_t pid)
{
	for (int i = 0; i < 2000; i++) {
		struct proc_stat st;

		if (proc_stat_read(pid, &st) || st.state == 'T') {
			err_clear();
			return;
		}
		usleep(1000);
	}
}

void capture_wait_stopped(const struct capture *c)
{
	for (size_t i = 0; i < c->nsub; i++)
		if (capture_was_stopped(c, c->sub[i]->pid))
			wait_stopped(c->sub[i]->pid);
}

int capture_was_stopped(const struct capture *c, pid_t pid)
{
	int k = pstree_find(&c->ptree, (uint32_t)pid);

	return k >= 0 && c->ptree.procs[k].state == PSTREE_STOPPED;
}

void capture_release(struct capture *c)
{
	/* The processes that were stopped go first, and are seen stopped
	 * again before any of the others runs: a parent inside the tree
	 * must not see its stopped child running either. */
	for (size_t i = 0; i < c->nsub; i++)
		if (capture_was_stopped(c, c->sub[i]->pid))
			capture_release(c->sub[i]);
	capture_wait_stopped(c);
	for (size_t i = 0; i < c->nsub; i++)
		if (!capture_was_stopped(c, c->sub[i]->pid))
			capture_release(c->sub[i]);
	capture_settle(c, 0);
	if (!c->attached)
		return;
	for (size_t i = 0; i < c->nthreads; i++) {
		struct thread_live *t = &c->threads[i];
		struct user_regs_struct r = t->regs;

		/* The injected calls took the thread out of the kernel's
		 * signal path, which would have restarted an interrupted
		 * call: do it.  The mask before the registers: if pfrez dies
		 * in between, registers still at the injection frame put the
		 * mask back themselves.  A thread that ran on meanwhile
		 * (inject_batch()) is put back where it is. */
		if (c->ctx && c->ctx[i].ran_on) {
			r = c->ctx[i].regs;
			t->sigmask = c->ctx[i].sigmask;
		}
		if (i < (size_t)c->regs_saved) {
			regs_restart_fixup(&r, 0);
			ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(t->sigmask), &t->sigmask);
			ptrace(PTRACE_SETREGS, t->tid, 0, &r);
		}
		ptrace(PTRACE_DETACH, t->tid, 0, 0);
	}
	c->attached = 0;
}

void capture_settle(struct capture *c, int ended)
{
	for (size_t i = 0; i < c->nsub; i++)
		capture_settle(c->sub[i], ended);
	if (c->settled)
		return;
	c->settled = 1;
	kinds_settle(c->snap.kind, ended);
}

void capture_kill(struct capture *c)
{
	for (size_t i = 0; i < c->nsub; i++)
		capture_kill(c->sub[i]);
	capture_settle(c, 1);
	kill(c->pid, SIGKILL);
	c->attached = 0;
}

void capture_free(struct capture *c)
{
	cow_end(c->cow);
	c->cow = NULL;
	for (size_t i = 0; i < c->nsub; i++) {
		capture_free(c->sub[i]);
		free(c->sub[i]);
	}
	free(c->sub);
	c->sub = NULL;
	c->nsub = 0;
	pstree_free(&c->ptree);
	proc_prefetch_end(c->pre);
	c->pre = NULL;
	threads_free(c);
	free(c->ctx);
	c->ctx = NULL;
	snap_free(&c->snap);
}
