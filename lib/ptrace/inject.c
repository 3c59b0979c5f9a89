/* inject.c: ptrace attach and system-call injection. */
#include "inject.h"
#include "why.h"
#include "arch/x86_64/sigframe.h"
#include "err.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

/* inject_batch(): frames of a chain, 16-byte apart; how long the thread
 * waits after the last call before it returns on its own (what a pfrez
 * killed meanwhile costs it), and how long pfrez waits for it to get
 * there before it stops it wherever it is. */
#define BATCH_STRIDE		((SIGFRAME_HEAD_SIZE + 15) & ~15)
#define BATCH_TIMEOUT_MS	250
#define BATCH_WAIT_MS		100

static int attach_error(pid_t pid, int e)
{
	char tracer[32] = "0", state[64] = "";

	if (e == ESRCH)
		return err_msg(ESRCH, "process %d: no such process", pid);
	proc_status_field(pid, "TracerPid", tracer, sizeof(tracer));
	proc_status_field(pid, "State", state, sizeof(state));
	err_clear();
	if (state[0] == 'Z')
		return err_msg(ESRCH, "process %d is a zombie: nothing left to capture", pid);
	if (strcmp(tracer, "0") != 0)
		return err_msg(EBUSY, "process %d is already traced by process %s", pid, tracer);
	if (e == EPERM)
		return ptrace_denied(pid);	/* why.c names the knob */
	return err_sys(e, "cannot trace process %d", pid);
}

/* Whether tid is gone or on its way out (dead, a zombie, or PF_EXITING
 * in the flags of /proc/TID/stat): the kernel refuses to trace such a
 * thread with EPERM, as it would a process pfrez may not trace. */
static int exiting(pid_t tid)
{
	struct proc_stat st;
	int rc = proc_stat_read(tid, &st);

	if (rc) {
		err_clear();
		return rc == -ENOENT || rc == -ESRCH;
	}
	return st.state == 'Z' || st.state == 'X' || (st.flags & 0x4);
}

int ptrace_seize_thread(pid_t tid, long opts)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, opts) < 0)
		return errno == ESRCH || (errno == EPERM && exiting(tid)) ? -ESRCH : attach_error(tid, errno);
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0)
		return errno == ESRCH ? -ESRCH : attach_error(tid, errno);
	return 0;
}

/* Until PTRACE_INTERRUPT's stop; -ESRCH without a message when the
 * thread ended first.  Another stop first (a signal's) goes on with its
 * signal when deliver, without it otherwise, and the interrupt is asked
 * again: any stop clears one not yet acted on (the kernel's ptrace_stop). */
static int wait_interrupt_stop(pid_t tid, int deliver)
{
	int st;

	for (;;) {
		if (waitpid(tid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return -ESRCH;
			return err_sys(errno, "waiting for thread %d to stop", tid);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return -ESRCH;
		if (!WIFSTOPPED(st))
			continue;
		if (st >> 16 == PTRACE_EVENT_STOP)
			return 0;
		if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 ||
		    ptrace(PTRACE_CONT, tid, 0, deliver ? WSTOPSIG(st) : 0) < 0)
			return errno == ESRCH ? -ESRCH : err_sys(errno, "thread %d", tid);
	}
}

/* A signal that arrives first is delivered. */
int ptrace_wait_stop(pid_t tid)
{
	return wait_interrupt_stop(tid, 1);
}

int ptrace_seize_stop(pid_t pid)
{
	int rc = ptrace_seize_thread(pid, PTRACE_O_TRACESYSGOOD);

	if (rc == -ESRCH)
		return attach_error(pid, ESRCH);
	if (!rc)
		rc = ptrace_wait_stop(pid);
	if (rc == -ESRCH)
		return err_msg(ESRCH, "process %d ended while being attached", pid);
	return rc;
}

/*
 * A signal that stops a thread in a group stop while its calls run (they
 * run with its own mask): it must neither be delivered now nor lost.  It
 * is blocked, then handed back, and the kernel queues a blocked signal
 * again (ptrace_signal); should pfrez die before, the thread, let go at
 * this stop, does the same.  SIGSTOP cannot be blocked: it stops the
 * process, as it would have.
 */
static int keep_signal(struct inject_ctx *ctx, int sig)
{
	uint64_t bit = 1ull << (sig - 1);

	if (sig == SIGSTOP || (ctx->blocked & bit))
		return sig;
	ctx->blocked |= bit;
	if (ptrace(PTRACE_SETSIGMASK, ctx->pid, sizeof(ctx->blocked), &ctx->blocked) < 0)
		return err_sys(errno, "process %d: blocking signal %d", ctx->pid, sig);
	return sig;
}

/* A call's stop comes within microseconds: pfrez asks for it this many
 * times before it sleeps, which spares a wakeup of pfrez from another
 * CPU (tens of microseconds on a VM) for each stop. */
#define STOP_SPIN 200

/* ctx: the calls of a query (NULL: inject_syscall's). */
static int wait_syscall_stop(pid_t pid, struct inject_ctx *ctx)
{
	int st, sig;

	for (;;) {
		pid_t r = 0;

		for (int spin = 0; spin < STOP_SPIN && !r; spin++)
			r = waitpid(pid, &st, __WALL | WNOHANG);
		if (!r)
			r = waitpid(pid, &st, __WALL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(errno, "waitpid %d", pid);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return err_msg(ESRCH, "process %d died during a system call injection", pid);
		if (WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80))
			return 0;
		/* Signals are blocked during injection; anything else is a
		 * stop we did not ask for: go on without delivering it.  But
		 * a thread in a group stop has its own mask: a signal
		 * delivery stop (no event) is a signal to keep. */
		sig = 0;
		if (ctx && ctx->group_stop && WIFSTOPPED(st) && (st >> 16) == 0 &&
		    WSTOPSIG(st) > 0 && WSTOPSIG(st) <= 64) {
			sig = keep_signal(ctx, WSTOPSIG(st));
			if (sig < 0)
				return sig;
		}
		if (ptrace(PTRACE_SYSCALL, pid, 0, sig) < 0)
			return err_sys(errno, "ptrace syscall %d", pid);
	}
}

int inject_syscall(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		   long nr, const long a[6], long *ret)
{
	struct user_regs_struct r = *base;

	r.rax = (unsigned long long)nr;
	/* orig_rax = -1 keeps the kernel's restart logic away from regs
	 * that no longer belong to the interrupted call. */
	r.orig_rax = (unsigned long long)-1;
	r.rdi = (unsigned long long)a[0];
	r.rsi = (unsigned long long)a[1];
	r.rdx = (unsigned long long)a[2];
	r.r10 = (unsigned long long)a[3];
	r.r8 = (unsigned long long)a[4];
	r.r9 = (unsigned long long)a[5];
	r.rip = gadget;
	if (ptrace(PTRACE_SETREGS, pid, 0, &r) < 0)
		return err_sys(errno, "ptrace setregs %d", pid);
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
		return err_sys(errno, "ptrace syscall %d", pid);
	if (wait_syscall_stop(pid, NULL))	/* entry */
		return -ESRCH;
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
		return err_sys(errno, "ptrace syscall %d", pid);
	if (wait_syscall_stop(pid, NULL))	/* exit */
		return -ESRCH;
	if (ptrace(PTRACE_GETREGS, pid, 0, &r) < 0)
		return err_sys(errno, "ptrace getregs %d", pid);
	*ret = (long)r.rax;
	return 0;
}

int inject_call(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		long nr, long a0, long a1, long a2, long a3, long *ret)
{
	long a[6] = { a0, a1, a2, a3, 0, 0 };
	int rc = inject_syscall(pid, gadget, base, nr, a, ret);

	if (rc)
		return rc;
	if (ptrace(PTRACE_SETREGS, pid, 0, base) < 0)
		return err_sys(errno, "ptrace setregs %d", pid);
	return 0;
}

/* The address in the process of p, found in buf read from a; 0 for none. */
static uint64_t at(uint64_t a, const unsigned char *buf, const void *p)
{
	return p ? a + (uint64_t)((const unsigned char *)p - buf) : 0;
}

/* Looks for `syscall; ret` and an rt_sigreturn trampoline in the readable
 * executable mappings of pid: the vdso first (every process has one,
 * though recent ones lack both sequences), then its own code and
 * libraries (libc's and Go's sigreturn trampolines). */
static int find_code(pid_t pid, const struct vma *maps, size_t n, uint64_t *sc, uint64_t *sr)
{
	const size_t chunk = 1 << 20, overlap = sizeof(sigframe_restorer_long) - 1;
	unsigned char *buf = malloc(chunk);
	int pass;

	if (!buf)
		return err_sys(ENOMEM, "gadget search");
	*sc = *sr = 0;
	for (pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n && !(*sc && *sr); i++) {
			const struct vma *v = &maps[i];
			int vdso = strcmp(v->path, "[vdso]") == 0;

			if (vdso != (pass == 0) || !(v->prot & PROT_EXEC) || !(v->prot & PROT_READ) ||
			    strcmp(v->path, "[vsyscall]") == 0)
				continue;
			for (uint64_t a = v->start; a < v->end && !(*sc && *sr); a += chunk - overlap) {
				size_t len = v->end - a < chunk ? (size_t)(v->end - a) : chunk;
				struct iovec l = { buf, len }, r = { (void *)a, len };

				/* Unreadable code (gone meanwhile, or guarded) is
				 * just not searched. */
				if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)len)
					break;
				/* The first of each in address order; memmem, not
				 * a compare at every byte: this runs while the
				 * process is held (a libc's code is MiBs). */
				if (!*sc)
					*sc = at(a, buf, memmem(buf, len, sigframe_syscall_ret,
								sizeof(sigframe_syscall_ret)));
				if (!*sr) {
					uint64_t l = at(a, buf, memmem(buf, len, sigframe_restorer_long,
								      sizeof(sigframe_restorer_long)));
					uint64_t s = at(a, buf, memmem(buf, len, sigframe_restorer_short,
								      sizeof(sigframe_restorer_short)));

					*sr = !l || (s && s < l) ? s : l;
				}
				if (len < chunk)
					break;
			}
		}
	}
	free(buf);
	if (!*sc)
		return err_msg(ENOTSUP, "process %d: no `syscall; ret` instruction sequence in its code: cannot query it safely", pid);
	if (!*sr)
		return err_msg(ENOTSUP, "process %d: no rt_sigreturn trampoline in its code: cannot query it safely", pid);
	return 0;
}

/* Whether the code an earlier hold found is still there: each address in
 * a readable executable mapping of maps, and its bytes the same. */
static int code_still(pid_t pid, const struct vma *maps, size_t n, uint64_t sc, uint64_t sr)
{
	unsigned char b[sizeof(sigframe_restorer_long)];
	struct iovec l = { b, sizeof(b) }, r;
	int ok = 0;

	for (size_t i = 0; i < n; i++)
		if ((maps[i].prot & (PROT_EXEC | PROT_READ)) == (PROT_EXEC | PROT_READ))
			ok += (sc >= maps[i].start && sc + sizeof(sigframe_syscall_ret) <= maps[i].end) +
			      (sr >= maps[i].start && sr + sizeof(sigframe_restorer_short) <= maps[i].end);
	if (ok != 2)
		return 0;
	r = (struct iovec){ (void *)sc, sizeof(sigframe_syscall_ret) };
	l.iov_len = r.iov_len;
	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)r.iov_len ||
	    memcmp(b, sigframe_syscall_ret, r.iov_len))
		return 0;
	/* Either trampoline (find_code() takes the first of the two). */
	r = (struct iovec){ (void *)sr, sizeof(sigframe_restorer_short) };
	l.iov_len = r.iov_len;
	if (process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)r.iov_len &&
	    !memcmp(b, sigframe_restorer_short, r.iov_len))
		return 1;
	r.iov_len = l.iov_len = sizeof(sigframe_restorer_long);
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)r.iov_len &&
	       !memcmp(b, sigframe_restorer_long, r.iov_len);
}

/* The frame must lie in one writable mapping: writing it must not need
 * the stack to grow (remote writes no longer grow it), nor touch
 * anything but memory below the stack pointer. */
static int check_stack(pid_t pid, const struct vma *maps, size_t n, const struct sigframe_image *img)
{
	for (size_t i = 0; i < n; i++)
		if (maps[i].start <= img->addr && img->addr + img->len <= maps[i].end &&
		    (maps[i].prot & PROT_WRITE))
			return 0;
	return err_msg(ENOSPC, "process %d: not enough stack below rsp to capture safely", pid);
}

static int set_regs(pid_t pid, const struct user_regs_struct *r)
{
	if (ptrace(PTRACE_SETREGS, pid, 0, r) < 0)
		return err_sys(errno, "process %d: setting registers", pid);
	return 0;
}

/* Registers that run nr(a) from the frame. */
static void call_regs(const struct inject_ctx *ctx, long nr, const long a[6], struct user_regs_struct *r)
{
	*r = ctx->regs;
	r->rax = (unsigned long long)nr;
	/* orig_rax = -1 keeps the kernel's restart logic away from regs
	 * that no longer belong to the interrupted call. */
	r->orig_rax = (unsigned long long)-1;
	r->rdi = (unsigned long long)a[0];
	r->rsi = (unsigned long long)a[1];
	r->rdx = (unsigned long long)a[2];
	r->r10 = (unsigned long long)a[3];
	r->r8 = (unsigned long long)a[4];
	r->r9 = (unsigned long long)a[5];
	r->rip = ctx->syscall_ret;
	r->rsp = ctx->frame;
}

/* Whether tid, held at the stop PTRACE_INTERRUPT gave, is in a group
 * stop: the kernel reports that stop of a seized thread with the signal
 * that stopped its process, SIGTRAP when none did (do_jobctl_trap).  When
 * it cannot tell (its last stop is another: inject_unwind ran a call),
 * the answer is yes: a running thread is as safe queried that way. */
static int in_group_stop(pid_t tid)
{
	siginfo_t si;

	if (ptrace(PTRACE_GETSIGINFO, tid, 0, &si) < 0)
		return 1;
	return si.si_signo != SIGTRAP || si.si_code != (SIGTRAP | PTRACE_EVENT_STOP << 8);
}

static int begin(struct inject_ctx *ctx, const struct inject_ctx *ctx0, const struct inject_ctx *earlier,
		 pid_t pid, const struct user_regs_struct *regs, uint64_t sigmask, const void *xsave,
		 size_t xlen)
{
	static const long idle[6];
	struct user_regs_struct resume = *regs, r;
	struct sigframe_image img;
	char feat[128] = "";
	uint64_t all = ~0ull;
	struct vma *maps = NULL;
	size_t n = 0;
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->pid = pid;
	ctx->regs = *regs;
	ctx->sigmask = ctx->blocked = sigmask;
	ctx->group_stop = in_group_stop(pid);
	/* With a CET shadow stack, the `ret` into the trampoline and the
	 * frame (which has no shadow-stack token) would kill the process
	 * instead of restoring it. */
	if (proc_status_field(pid, "x86_Thread_features", feat, sizeof(feat)) == 0 &&
	    strstr(feat, "shstk"))
		return err_msg(ENOTSUP, "process %d uses a shadow stack: cannot query it safely", pid);
	err_clear();
	rc = maps_read(pid, &maps, &n);
	if (!rc && !ctx0 && earlier && code_still(pid, maps, n, earlier->syscall_ret, earlier->sigreturn))
		ctx0 = earlier;
	if (!rc && ctx0) {
		ctx->syscall_ret = ctx0->syscall_ret;
		ctx->sigreturn = ctx0->sigreturn;
	} else if (!rc) {
		rc = find_code(pid, maps, n, &ctx->syscall_ret, &ctx->sigreturn);
	}
	/* rt_sigreturn leaves the restart block at "no restart": a call
	 * the stop interrupted returns EINTR then, as after any signal. */
	regs_restart_fixup(&resume, 1);
	if (!rc)
		rc = sigframe_build(&resume, sigmask, xsave, xlen, ctx->sigreturn, &img);
	if (!rc) {
		rc = check_stack(pid, maps, n, &img);
		if (!rc) {
			struct iovec l = { img.buf, img.len }, rv = { (void *)img.addr, img.len };

			if (process_vm_writev(pid, &l, 1, &rv, 1, 0) != (ssize_t)img.len)
				rc = err_sys(errno ? errno : EIO, "process %d: writing a signal frame at 0x%llx",
					     pid, (unsigned long long)img.addr);
		}
		ctx->frame = img.addr;
		ctx->scratch = img.scratch;
		ctx->fpstate = img.fpstate;
		sigframe_free(&img);
	}
	maps_free(maps, n);
	if (rc)
		return rc;
	/*
	 * Order matters, for a pfrez that dies between two steps: first the
	 * registers go to the frame (running an idle getpid() if let go),
	 * and only then are all signals blocked, so that at no moment can
	 * the process run its own code with registers or a mask not its own.
	 * Blocked signals stay pending instead of stopping the calls; the
	 * frame holds the mask that rt_sigreturn or inject_finish() restores.
	 * Not in a group stop: there, a pfrez that dies leaves the thread
	 * stopped with the mask it is given here until it is continued.
	 */
	call_regs(ctx, SYS_getpid, idle, &r);
	rc = set_regs(pid, &r);
	if (rc)
		return rc;
	ctx->armed = 1;
	if (ctx->group_stop)
		return 0;
	ctx->blocked = all;
	if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(all), &all) < 0)
		return err_sys(errno, "process %d: blocking signals", pid);
	return 0;
}

int inject_begin(struct inject_ctx *ctx, pid_t pid, const struct user_regs_struct *regs,
		 uint64_t sigmask, const void *xsave, size_t xlen)
{
	return begin(ctx, NULL, NULL, pid, regs, sigmask, xsave, xlen);
}

int inject_begin_again(struct inject_ctx *ctx, const struct inject_ctx *earlier, pid_t pid,
		       const struct user_regs_struct *regs, uint64_t sigmask, const void *xsave,
		       size_t xlen)
{
	return begin(ctx, NULL, earlier, pid, regs, sigmask, xsave, xlen);
}

int inject_begin_thread(struct inject_ctx *ctx, const struct inject_ctx *ctx0, pid_t tid,
			const struct user_regs_struct *regs, uint64_t sigmask, const void *xsave,
			size_t xlen)
{
	return begin(ctx, ctx0, NULL, tid, regs, sigmask, xsave, xlen);
}

static int run_query(struct inject_ctx *ctx, struct user_regs_struct *r, long *ret);

static int peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };

	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len;
}

/*
 * A frame left behind is recognised by all of: the thread at a `syscall;
 * ret` (at the `syscall`: a call set up but not made; or at the `ret`:
 * the last call made), the address that `ret` pops an rt_sigreturn
 * trampoline, and the frame there one of ours (sigframe_parse).  A call
 * not made yet is made first, as the thread would (it may be the undo of
 * inject_query_undo), its signals kept as during any query.  Returning
 * through the frame restores registers and mask only: its FPU state is
 * the thread's own still, since the thread has run no code of its own
 * since (which would have begun with that `ret`).  The mask first:
 * killed in between, the thread still returns through the frame, which
 * puts back the same mask.
 */
int inject_unwind(pid_t tid, struct user_regs_struct *regs, uint64_t *sigmask)
{
	for (int depth = 0; depth < 64; depth++) {
		unsigned char code[sizeof(sigframe_syscall_ret)], tramp[sizeof(sigframe_restorer_long)];
		unsigned char head[SIGFRAME_HEAD_SIZE];
		struct user_regs_struct r = *regs;
		uint64_t pretcode, mask;
		int at_call;

		if (!peek(tid, regs->rip, code, sizeof(code)))
			return 0;
		at_call = !memcmp(code, sigframe_syscall_ret, sizeof(code));
		if (!at_call && (regs->rip < 2 || !peek(tid, regs->rip - 2, code, sizeof(code)) ||
				 memcmp(code, sigframe_syscall_ret, sizeof(code))))
			return 0;
		if (!peek(tid, regs->rsp, head, sizeof(head)))
			return 0;
		memcpy(&pretcode, head, sizeof(pretcode));
		if (!peek(tid, pretcode, tramp, sizeof(sigframe_restorer_short)) ||
		    (memcmp(tramp, sigframe_restorer_short, sizeof(sigframe_restorer_short)) &&
		     (!peek(tid, pretcode, tramp, sizeof(tramp)) ||
		      memcmp(tramp, sigframe_restorer_long, sizeof(tramp)))) ||
		    !sigframe_parse(head, pretcode, &r, &mask))
			return 0;
		if (at_call) {
			struct inject_ctx ctx = { .pid = tid, .blocked = *sigmask, .group_stop = 1 };
			struct user_regs_struct now = *regs;
			long ret;
			int rc = run_query(&ctx, &now, &ret);

			if (rc)
				return rc;
			*regs = now;	/* at the `ret` now, the same frame */
			continue;
		}
		if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask) < 0)
			return err_sys(errno, "thread %d: putting back the signal mask a frame left holds", tid);
		if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
			return err_sys(errno, "thread %d: putting back the registers a frame left holds", tid);
		*regs = r;
		*sigmask = mask;
	}
	return 0;
}

/* Runs the call set up in r to its exit stop: its result in *ret.  Let go
 * from there, the thread would `ret` into the trampoline and restore
 * itself. */
static int run_query(struct inject_ctx *ctx, struct user_regs_struct *r, long *ret)
{
	int rc = set_regs(ctx->pid, r);

	if (rc)
		return rc;
	if (ptrace(PTRACE_SYSCALL, ctx->pid, 0, 0) < 0)
		return err_sys(errno, "ptrace syscall %d", ctx->pid);
	if (wait_syscall_stop(ctx->pid, ctx))	/* entry */
		return -ESRCH;
	if (ptrace(PTRACE_SYSCALL, ctx->pid, 0, 0) < 0)
		return err_sys(errno, "ptrace syscall %d", ctx->pid);
	if (wait_syscall_stop(ctx->pid, ctx))	/* exit */
		return -ESRCH;
	if (ptrace(PTRACE_GETREGS, ctx->pid, 0, r) < 0)
		return err_sys(errno, "ptrace getregs %d", ctx->pid);
	*ret = (long)r->rax;
	return 0;
}

int inject_query(struct inject_ctx *ctx, long nr, const long a[6], long *ret)
{
	struct user_regs_struct r;

	call_regs(ctx, nr, a, &r);
	return run_query(ctx, &r, ret);
}

int inject_query_undo(struct inject_ctx *ctx, long nr, const long a[6], long undo_nr,
		      const long undo_a[6], long *ret)
{
	struct user_regs_struct u = ctx->regs, r;
	struct sigframe_image img = { 0 };
	size_t xcap = 1 << 16;
	unsigned char *xs = malloc(xcap);
	struct iovec iov = { xs, xcap };
	struct vma *maps = NULL;
	size_t n = 0;
	int rc;

	if (!xs)
		return err_sys(ENOMEM, "injection frame");
	/* A second frame below the first: rt_sigreturn into it runs undo_nr
	 * from `syscall; ret`, whose ret goes on into the first frame.  The
	 * FPU state is the thread's as it is now (the calls leave it alone),
	 * the first frame restores it again anyway. */
	if (ptrace(PTRACE_GETREGSET, ctx->pid, NT_X86_XSTATE, &iov) < 0) {
		free(xs);
		return err_sys(errno, "process %d: reading its extended state", ctx->pid);
	}
	u.rax = (unsigned long long)undo_nr;
	u.orig_rax = (unsigned long long)-1;
	u.rdi = (unsigned long long)undo_a[0];
	u.rsi = (unsigned long long)undo_a[1];
	u.rdx = (unsigned long long)undo_a[2];
	u.r10 = (unsigned long long)undo_a[3];
	u.r8 = (unsigned long long)undo_a[4];
	u.r9 = (unsigned long long)undo_a[5];
	u.rip = ctx->syscall_ret;
	u.rsp = ctx->frame;
	rc = sigframe_build(&u, ~0ull, xs, iov.iov_len, ctx->sigreturn, &img);
	free(xs);
	if (!rc)
		rc = maps_read(ctx->pid, &maps, &n);
	if (!rc)
		rc = check_stack(ctx->pid, maps, n, &img);
	maps_free(maps, n);
	if (!rc) {
		struct iovec l = { img.buf, img.len }, rv = { (void *)img.addr, img.len };

		if (process_vm_writev(ctx->pid, &l, 1, &rv, 1, 0) != (ssize_t)img.len)
			rc = err_sys(errno ? errno : EIO, "process %d: writing a signal frame at 0x%llx",
				     ctx->pid, (unsigned long long)img.addr);
	}
	sigframe_free(&img);
	if (rc)
		return rc;
	call_regs(ctx, nr, a, &r);
	r.rsp = img.addr;
	return run_query(ctx, &r, ret);
}

/* Just below the frame. */
uint64_t inject_batch_out(const struct inject_ctx *ctx, size_t out_size)
{
	return (ctx->frame - out_size) & ~15ull;
}

/* Whether the thread sits in the batch's last call: /proc/TID/syscall
 * names a call only while the thread is blocked in it. */
static int in_last_call(pid_t tid, uint64_t ts)
{
	char path[64], buf[256];
	unsigned long long nr, a0, a1, a2;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	ok = fgets(buf, sizeof(buf), f) && sscanf(buf, "%llu %llx %llx %llx", &nr, &a0, &a1, &a2) == 4 &&
	     nr == SYS_ppoll && a2 == ts;
	fclose(f);
	return ok;
}

/*
 * The calls run one after another with no stop between them: each but
 * the first is a frame (sigframe_chain()) whose registers make that call
 * from `syscall; ret` with the next frame at rsp, so that the `ret` of
 * one call goes to the trampoline, whose rt_sigreturn starts the next.
 * The FPU state of every frame is the thread's, in the first frame's
 * XSAVE area.  After the last, the thread waits in ppoll() for pfrez to
 * hold it again (PTRACE_INTERRUPT, once /proc/TID/syscall shows it
 * there): a stop of ptrace's own, where a trap would be a forced SIGTRAP
 * that, should pfrez die, kills the process.  Should pfrez die, the
 * calls go on (they only read), ppoll times out, and its `ret` returns
 * through the first frame, as after any query.  Each stop costs two
 * wakeups of the thread and of pfrez, from one CPU to another: on a VM,
 * up to a hundred microseconds for each call made alone.
 */
int inject_batch(struct inject_ctx *ctx, const struct inject_call *calls, size_t n, void *out,
		 size_t out_size)
{
	uint64_t out_addr = inject_batch_out(ctx, out_size), ts = out_addr - 16, low, first;
	struct user_regs_struct r;
	struct timespec t0, t;
	struct vma *maps = NULL;
	size_t nmaps = 0, len;
	unsigned char *buf;
	int rc = 0, there = 0;

	if (ctx->group_stop || !n || n > INJECT_BATCH_MAX)
		return -ENOSPC;
	/* Frames at 8 mod 16, as the kernel puts them: rsp + 8 is aligned
	 * once `ret` has popped the return address. */
	first = ((ts - SIGFRAME_HEAD_SIZE) & ~15ull) - 8;
	low = first - (n - 1) * BATCH_STRIDE;
	if (low < ctx->regs.rsp - INJECT_STACK_MAX)
		return -ENOSPC;
	if (maps_read(ctx->pid, &maps, &nmaps)) {
		err_clear();
		return -ENOSPC;
	}
	for (size_t i = 0; i < nmaps && !there; i++)
		there = maps[i].start <= low && ctx->frame <= maps[i].end && (maps[i].prot & PROT_WRITE);
	maps_free(maps, nmaps);
	len = (size_t)(out_addr + out_size - low);
	if (!there || !(buf = calloc(1, len)))
		return -ENOSPC;
	/* Frame k (from `first` down) starts call k + 1; the last, ppoll. */
	for (size_t k = 0; k < n; k++) {
		long a[6] = { 0, 0, (long)ts, 0, 8, 0 };

		if (k + 1 < n)
			call_regs(ctx, calls[k + 1].nr, calls[k + 1].a, &r);
		else
			call_regs(ctx, SYS_ppoll, a, &r);
		r.rsp = k + 1 < n ? first - (k + 1) * BATCH_STRIDE : ctx->frame;
		sigframe_chain(&r, ctx->blocked, ctx->fpstate, ctx->sigreturn,
			       buf + (first - k * BATCH_STRIDE - low));
	}
	memcpy(buf + (ts - low), &(struct timespec){ 0, BATCH_TIMEOUT_MS * 1000000L }, sizeof(struct timespec));
	memcpy(buf + (out_addr - low), out, out_size);
	{
		struct iovec l = { buf, len }, rv = { (void *)low, len };

		if (process_vm_writev(ctx->pid, &l, 1, &rv, 1, 0) != (ssize_t)len)
			rc = err_sys(errno ? errno : EIO, "process %d: writing %zu call frames at 0x%llx",
				     ctx->pid, n, (unsigned long long)low);
	}
	free(buf);
	call_regs(ctx, calls[0].nr, calls[0].a, &r);
	r.rsp = first;
	if (!rc)
		rc = set_regs(ctx->pid, &r);
	if (!rc && ptrace(PTRACE_CONT, ctx->pid, 0, 0) < 0)
		rc = err_sys(errno, "ptrace cont %d", ctx->pid);
	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		int st;
		pid_t w = waitpid(ctx->pid, &st, __WALL | WNOHANG);

		if (w == ctx->pid && (WIFEXITED(st) || WIFSIGNALED(st)))
			return err_msg(ESRCH, "process %d died during a system call injection", ctx->pid);
		if (w == ctx->pid && ptrace(PTRACE_CONT, ctx->pid, 0, 0) < 0)
			return err_sys(errno, "ptrace cont %d", ctx->pid);
		if (in_last_call(ctx->pid, ts))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < BATCH_WAIT_MS);
	if (ptrace(PTRACE_INTERRUPT, ctx->pid, 0, 0) < 0)
		return err_sys(errno, "ptrace interrupt %d", ctx->pid);
	/* A signal's stop first is not delivered (all are blocked meanwhile
	 * but SIGKILL and SIGSTOP: as wait_syscall_stop() does). */
	rc = wait_interrupt_stop(ctx->pid, 0);
	if (rc == -ESRCH)
		return err_msg(ESRCH, "process %d died during a system call injection", ctx->pid);
	if (!rc && ptrace(PTRACE_GETREGS, ctx->pid, 0, &r) < 0)
		rc = err_sys(errno, "ptrace getregs %d", ctx->pid);
	if (rc)
		return rc;
	/* Anywhere in the chain but past its first frame, it is still
	 * pfrez's to set; returned through that frame, it ran on (pfrez was
	 * held up for longer than the timeout). */
	if (r.rsp < low || r.rsp > ctx->frame + 8) {
		uint64_t mask = 0;

		ptrace(PTRACE_GETSIGMASK, ctx->pid, sizeof(mask), &mask);
		ctx->regs = r;
		ctx->sigmask = mask;
		ctx->ran_on = 1;
		return err_msg(EAGAIN, "process %d ran on during its capture: pfrez was held up for over %d ms",
			       ctx->pid, BATCH_TIMEOUT_MS);
	}
	/* Stopped short, inside the chain (slow to get through it): the
	 * calls are made one by one instead. */
	if (r.rip != ctx->syscall_ret + 2 || r.orig_rax != SYS_ppoll || r.rsp != ctx->frame)
		return -ENOSPC;
	{
		struct iovec l = { out, out_size }, rv = { (void *)out_addr, out_size };

		if (process_vm_readv(ctx->pid, &l, 1, &rv, 1, 0) != (ssize_t)out_size)
			return err_sys(errno ? errno : EIO, "process %d: reading answers at 0x%llx", ctx->pid,
				       (unsigned long long)out_addr);
	}
	return 0;
}

int inject_read_scratch(struct inject_ctx *ctx, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)ctx->scratch, len };

	if (len > INJECT_SCRATCH_SIZE)
		return err_msg(EINVAL, "scratch read of %zu bytes", len);
	if (process_vm_readv(ctx->pid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return err_sys(errno ? errno : EIO, "process %d: reading answers at 0x%llx", ctx->pid,
			       (unsigned long long)ctx->scratch);
	return 0;
}

int inject_finish(struct inject_ctx *ctx)
{
	struct user_regs_struct r = ctx->regs;
	int rc;

	if (!ctx->armed)
		return 0;
	/* The mask first: until the registers are back too, the process,
	 * if let go, still returns through the frame. */
	if (ptrace(PTRACE_SETSIGMASK, ctx->pid, sizeof(ctx->sigmask), &ctx->sigmask) < 0)
		return err_sys(errno, "process %d: putting its signal mask back", ctx->pid);
	/* The calls took the process out of the kernel's signal path, which
	 * would have restarted an interrupted call: do it here. */
	regs_restart_fixup(&r, 0);
	rc = set_regs(ctx->pid, &r);
	if (rc)
		return rc;
	ctx->armed = 0;
	return 0;
}

void regs_restart_fixup(struct user_regs_struct *r, int lost_restart_block)
{
	if ((long)r->orig_rax < 0)
		return;
	switch (-(long)r->rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		if (lost_restart_block) {
			r->rax = (unsigned long long)-EINTR;
		} else {
			r->rax = SYS_restart_syscall;
			r->rip -= 2;
		}
		break;
	}
	r->orig_rax = (unsigned long long)-1;
}
