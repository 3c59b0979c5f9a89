/* regs.h: a thread's x86_64 CPU state as ptrace reads and loads it: the
 * general registers, the XSAVE area (FPU, SSE, AVX, ...) and, with them,
 * the signal mask. */
#ifndef PFREZ_ARCH_REGS_H
#define PFREZ_ARCH_REGS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "kind.h"

#define ARCH_XSAVE_MAX 65536	/* bytes of XSAVE area a thread may have */

/* Reads stopped thread t->tid's registers, mask and XSAVE area into t
 * (t->xsave allocated). */
int arch_thread_read(struct thread_live *t);

/* Loads them into stopped thread tid: regs (a system call it was
 * interrupted in restarts as the kernel's signal path would), the XSAVE
 * area over the thread's own (same features: the header was checked; a
 * larger area only means other components follow), and the mask. */
int arch_thread_load(pid_t tid, const struct rec_regs *regs, const unsigned char *xsave,
		     uint32_t xsize, uint64_t mask);

/* The registers as text (three a line) and as members of a JSON object. */
void arch_regs_print(FILE *f, const struct rec_regs *regs);
void arch_regs_json(struct json *j, const char *key, const struct rec_regs *regs);

#endif
