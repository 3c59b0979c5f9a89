/* inject.h: ptrace attach, and running a system call inside a stopped
 * process (set registers at a `syscall` instruction, step over it, read
 * the result, put everything back). */
#ifndef PFREZ_INJECT_H
#define PFREZ_INJECT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

/* PTRACE_SEIZE + PTRACE_INTERRUPT, then waits for the stop.  Failures say
 * why (permission, Yama, another tracer, no such process, zombie). */
int ptrace_seize_stop(pid_t pid);

/* The two halves of ptrace_seize_stop, for holding many threads at once:
 * seize and interrupt tid (opts: PTRACE_O_* to set), then wait for its
 * stop.  ptrace_wait_stop returns -ESRCH, with no message, when the
 * thread ended first. */
int ptrace_seize_thread(pid_t tid, long opts);
int ptrace_wait_stop(pid_t tid);

/* Runs nr(a[0..5]) in pid at gadget.  The tracee is left at the system
 * call's exit stop with its registers as the call left them; *ret gets
 * the call's return value.  Callers put back the registers they want. */
int inject_syscall(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		   long nr, const long a[6], long *ret);

/* inject_syscall, then puts back *base. */
int inject_call(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		long nr, long a0, long a1, long a2, long a3, long *ret);

/*
 * Queries that cannot harm the process if pfrez dies at any instant.
 *
 * inject_begin() writes below the red zone of the stopped process (where
 * the kernel would put a signal frame: dead memory by the ABI) an
 * rt_sigframe holding its original registers, FPU state and signal mask,
 * whose return address is an rt_sigreturn trampoline of its own code.
 * Every call then runs with rsp at that frame from a `syscall; ret`
 * sequence found in its code, all signals blocked.  Should pfrez die at
 * any point, the kernel lets the process go: it finishes the (read-only)
 * call, returns into the trampoline, and rt_sigreturn puts back every
 * register, the FPU state and the mask.  No memory is mapped: answers
 * go to the frame's siginfo (ctx->scratch, 128 bytes), which
 * rt_sigreturn never reads.  inject_finish() puts the registers and
 * mask back directly, leaving the process at a syscall-exit stop.
 *
 * A thread in a group stop (SIGSTOP) is not let go to run: should pfrez
 * die, the kernel puts it back in its stop first (__ptrace_unlink), at
 * the frame, until a SIGCONT lets it return through it.  So its calls
 * run with its own signal mask, which it keeps while stopped; a signal
 * that arrives meanwhile is blocked and queued again rather than
 * delivered (it is delivered once the thread is continued, as any
 * signal sent to a stopped process is).
 */
struct inject_ctx {
	pid_t pid;
	uint64_t syscall_ret;		/* `syscall; ret` */
	uint64_t sigreturn;		/* rt_sigreturn trampoline */
	uint64_t frame;			/* rsp while calls run */
	uint64_t scratch;		/* answers, INJECT_SCRATCH_SIZE bytes */
	struct user_regs_struct regs;	/* as found */
	uint64_t sigmask;		/* as found */
	uint64_t blocked;		/* the mask while calls run */
	int group_stop;			/* found in a group stop */
	int armed;			/* registers point at the frame */
	uint64_t fpstate;		/* the frame's XSAVE area */
	int ran_on;			/* inject_batch(): it ran on, regs are where */
};

#define INJECT_SCRATCH_SIZE 128

/* The frames (inject_begin()'s and inject_query()'s, each a signal
 * frame with the thread's XSAVE area) lie within this many bytes below
 * the stack pointer. */
#define INJECT_STACK_MAX (64 << 10)

/* regs and sigmask as found at the stop, xsave as PTRACE_GETREGSET
 * NT_X86_XSTATE gave it.  Refuses (without having changed anything) a
 * process with no `syscall; ret` or rt_sigreturn trampoline in its code
 * or too little stack below rsp. */
int inject_begin(struct inject_ctx *ctx, pid_t pid, const struct user_regs_struct *regs,
		 uint64_t sigmask, const void *xsave, size_t xlen);

/* The same for a process an earlier hold set up (earlier, finished since):
 * the code found then serves again if it is still there (its bytes in
 * an executable mapping), and is searched for anew otherwise. */
int inject_begin_again(struct inject_ctx *ctx, const struct inject_ctx *earlier, pid_t pid,
		       const struct user_regs_struct *regs, uint64_t sigmask, const void *xsave,
		       size_t xlen);

/* The same for another thread tid of the process ctx0 is set up in:
 * the code found there serves every thread (one search, not one per
 * thread); each thread gets its own frame on its own stack. */
int inject_begin_thread(struct inject_ctx *ctx, const struct inject_ctx *ctx0, pid_t tid,
			const struct user_regs_struct *regs, uint64_t sigmask, const void *xsave,
			size_t xlen);

/* A thread a killed pfrez left at its frame (in a group stop it stays
 * there until continued): what the thread would do first when continued,
 * return through the frame, is done now, so that it is captured as it
 * was and the next frame is not built below the old one.  *regs and
 * *sigmask, as read, become the frame's when it is one of ours. */
int inject_unwind(pid_t tid, struct user_regs_struct *regs, uint64_t *sigmask);

/* Runs nr(a[0..5]) inside the process; *ret gets what it returned. */
int inject_query(struct inject_ctx *ctx, long nr, const long a[6], long *ret);

/* inject_query for a call that makes something the process must not
 * keep (an fd): should pfrez die before its next call, the process,
 * let go, first runs undo_nr(undo_a) (close it), then returns through
 * the frame as after any query. */
int inject_query_undo(struct inject_ctx *ctx, long nr, const long a[6], long undo_nr,
		      const long undo_a[6], long *ret);

/* Calls made in one go (inject_batch()), at most INJECT_BATCH_MAX. */
struct inject_call {
	long nr;
	long a[6];
};
#define INJECT_BATCH_MAX 80

/* Where inject_batch() puts out_size bytes of answers in the process:
 * the calls' arguments point there. */
uint64_t inject_batch_out(const struct inject_ctx *ctx, size_t out_size);

/* Runs calls[0..n) inside the process one after another with a single
 * stop, which costs less than n inject_query()s, each two.  out
 * (out_size bytes) is written at inject_batch_out() first and read back
 * after: the calls' return values are not kept, so the caller tells an
 * answer from out's first contents.  -ENOSPC, with no message and
 * nothing changed, when they cannot run so (a thread in a group stop,
 * too little stack, too slow to get through them): then make them one
 * by one.  -EAGAIN with one when
 * the thread ran on meanwhile (ctx->ran_on: its registers and mask now
 * in ctx->regs and ctx->sigmask, to be put back as they are). */
int inject_batch(struct inject_ctx *ctx, const struct inject_call *calls, size_t n, void *out,
		 size_t out_size);

/* Reads len bytes of ctx->scratch (what the last query wrote there). */
int inject_read_scratch(struct inject_ctx *ctx, void *buf, size_t len);

/* Puts back the signal mask, then the registers (restart fixup done). */
int inject_finish(struct inject_ctx *ctx);

/* What the kernel's signal path does to a task stopped inside a system
 * call when no handler runs: restart it.  With lost_restart_block, a call
 * whose restart state lived in the kernel (-ERESTART_RESTARTBLOCK) gets
 * -EINTR instead, since a new process cannot continue it. */
void regs_restart_fixup(struct user_regs_struct *r, int lost_restart_block);

#endif
