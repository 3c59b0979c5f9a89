/* regs.c: reading and loading a thread's x86_64 CPU state with ptrace. */
#include "arch/x86_64/regs.h"
#include "err.h"
#include "inject.h"
#include "json.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

_Static_assert(sizeof(struct rec_regs) == sizeof(struct user_regs_struct),
	       "struct rec_regs is the kernel's user_regs_struct");

static const char *const names[] = {
	"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
	"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
	"fs_base", "gs_base", "ds", "es", "fs", "gs",
};
_Static_assert(sizeof(names) / sizeof(names[0]) == sizeof(struct rec_regs) / 8, "a name per register");

int arch_thread_read(struct thread_live *t)
{
	struct iovec iov;

	if (ptrace(PTRACE_GETREGS, t->tid, 0, &t->regs) < 0)
		return err_sys(errno, "thread %d: reading registers", t->tid);
	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(uint64_t), &t->sigmask) < 0)
		return err_sys(errno, "thread %d: reading the signal mask", t->tid);
	t->xsave = calloc(1, ARCH_XSAVE_MAX);
	if (!t->xsave)
		return err_sys(ENOMEM, "xstate");
	iov.iov_base = t->xsave;
	iov.iov_len = ARCH_XSAVE_MAX;
	if (ptrace(PTRACE_GETREGSET, t->tid, NT_X86_XSTATE, &iov) < 0)
		return err_sys(errno, "thread %d: reading the extended (AVX) state", t->tid);
	t->xsize = (uint32_t)iov.iov_len;
	return 0;
}

int arch_thread_load(pid_t tid, const struct rec_regs *regs, const unsigned char *xsave,
		     uint32_t xsize, uint64_t mask)
{
	struct user_regs_struct r;
	unsigned char *xs = calloc(1, ARCH_XSAVE_MAX);
	struct iovec iov = { xs, ARCH_XSAVE_MAX };
	int rc = 0;

	if (!xs)
		return err_sys(ENOMEM, "xstate");
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) < 0) {
		free(xs);
		return err_sys(errno, "ptrace getregset");
	}
	memcpy(xs, xsave, xsize < iov.iov_len ? xsize : iov.iov_len);
	memcpy(&r, regs, sizeof(r));
	regs_restart_fixup(&r, 1);
	if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0)
		rc = err_sys(errno, "loading the registers");
	else if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov) < 0)
		rc = err_sys(errno, "loading the extended (AVX) state");
	else if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &mask) < 0)
		rc = err_sys(errno, "loading the signal mask");
	free(xs);
	return rc;
}

void arch_regs_print(FILE *f, const struct rec_regs *regs)
{
	uint64_t rv[sizeof(*regs) / 8];

	memcpy(rv, regs, sizeof(rv));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		fprintf(f, "  %-8s 0x%016llx%s", names[i], (unsigned long long)rv[i], i % 3 == 2 ? "\n" : "");
}

void arch_regs_json(struct json *j, const char *key, const struct rec_regs *regs)
{
	uint64_t rv[sizeof(*regs) / 8];

	memcpy(rv, regs, sizeof(rv));
	json_object_begin(j, key);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_hex(j, names[i], rv[i]);
	json_object_end(j);
}
