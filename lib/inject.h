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

/* Finds a `syscall` instruction (0f 05) in [start, end) of pid. */
int inject_find_gadget(pid_t pid, uint64_t start, uint64_t end, uint64_t *gadget);

/* Runs nr(a[0..5]) in pid at gadget.  The tracee is left at the system
 * call's exit stop with its registers as the call left them; *ret gets
 * the call's return value.  Callers put back the registers they want. */
int inject_syscall(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		   long nr, const long a[6], long *ret);

/* inject_syscall, then puts back *base. */
int inject_call(pid_t pid, uint64_t gadget, const struct user_regs_struct *base,
		long nr, long a0, long a1, long a2, long a3, long *ret);

/* What the kernel's signal path does to a task stopped inside a system
 * call when no handler runs: restart it.  With lost_restart_block, a call
 * whose restart state lived in the kernel (-ERESTART_RESTARTBLOCK) gets
 * -EINTR instead, since a new process cannot continue it. */
void regs_restart_fixup(struct user_regs_struct *r, int lost_restart_block);

#endif
