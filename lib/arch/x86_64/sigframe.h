/* sigframe.h: the x86_64 rt_sigframe the kernel builds for a signal
 * handler and rt_sigreturn(2) consumes, built by hand so that a process
 * can put its own registers, FPU state and signal mask back on its own;
 * and the instruction sequences injected calls run from. */
#ifndef PFREZ_ARCH_SIGFRAME_H
#define PFREZ_ARCH_SIGFRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

/* `syscall; ret`, and the two rt_sigreturn trampolines libcs and Go use
 * (mov $15,%rax or mov $15,%eax, then syscall). */
extern const unsigned char sigframe_syscall_ret[3];
extern const unsigned char sigframe_restorer_long[9];
extern const unsigned char sigframe_restorer_short[7];

/* Red zone below rsp a signal frame must not touch (System V ABI). */
#define SIGFRAME_REDZONE	128
#define SIGFRAME_SCRATCH_SIZE	128	/* the frame's siginfo */

/* A frame laid out in memory from addr (the frame's lowest address,
 * where rsp points while injected calls run) for len bytes. */
struct sigframe_image {
	uint64_t addr;		/* rsp: pretcode, then the ucontext */
	uint64_t scratch;	/* 128 bytes rt_sigreturn never reads */
	uint64_t fpstate;	/* 64-byte aligned XSAVE area */
	size_t len;
	unsigned char *buf;	/* what to write at addr (malloc'd) */
};

/* Lays out a frame below regs->rsp that rt_sigreturn turns back into
 * regs (give them with the syscall-restart fixup already done), the
 * FPU/AVX state in xsave (as PTRACE_GETREGSET NT_X86_XSTATE gave it,
 * xlen bytes) and the signal mask sigmask; pretcode is the return
 * address the frame starts with.  Fails with a message when the state
 * cannot be expressed in a frame. */
int sigframe_build(const struct user_regs_struct *regs, uint64_t sigmask,
		   const void *xsave, size_t xlen, uint64_t pretcode,
		   struct sigframe_image *img);

void sigframe_free(struct sigframe_image *img);

/* One frame of a chain, SIGFRAME_HEAD_SIZE bytes into buf: rt_sigreturn
 * turns it into regs and sigmask as sigframe_build()'s do, taking the FPU
 * state from the XSAVE area of a frame built by sigframe_build() before
 * (fpstate: its img.fpstate), which it only reads. */
void sigframe_chain(const struct user_regs_struct *regs, uint64_t sigmask, uint64_t fpstate,
		    uint64_t pretcode, void *buf);

/* The bytes at a frame's address sigframe_parse reads. */
#define SIGFRAME_HEAD_SIZE	440

/* Whether head (SIGFRAME_HEAD_SIZE bytes read at a frame's address) is a
 * frame sigframe_build made, whose return address is pretcode: 1 and the
 * registers (those a frame holds; the others left as in *regs) and mask
 * rt_sigreturn would put back, 0 when it is not. */
int sigframe_parse(const void *head, uint64_t pretcode, struct user_regs_struct *regs,
		   uint64_t *sigmask);

#endif
