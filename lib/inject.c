/* inject.c: ptrace attach and system-call injection. */
#include "inject.h"
#include "err.h"
#include "proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERESTARTSYS		512
#define ERESTARTNOINTR		513
#define ERESTARTNOHAND		514
#define ERESTART_RESTARTBLOCK	516

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
	if (e == EPERM) {
		FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
		int scope = 0;

		if (f) {
			if (fscanf(f, "%d", &scope) != 1)
				scope = 0;
			fclose(f);
		}
		if (scope > 0 && geteuid() != 0)
			return err_msg(EPERM, "cannot trace process %d: Yama ptrace_scope is %d; run as root or give pfrez cap_sys_ptrace", pid, scope);
		return err_msg(EPERM, "cannot trace process %d: permission denied (root or cap_sys_ptrace needed)", pid);
	}
	return err_sys(e, "cannot trace process %d", pid);
}

int ptrace_seize_stop(pid_t pid)
{
	int st;

	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) < 0)
		return attach_error(pid, errno);
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return attach_error(pid, errno);
	for (;;) {
		if (waitpid(pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(errno, "waiting for process %d to stop", pid);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return err_msg(ESRCH, "process %d ended while being attached", pid);
		if (!WIFSTOPPED(st))
			continue;
		if (st >> 16 == PTRACE_EVENT_STOP)
			return 0;
		/* A signal arrived first: let it be delivered later, and
		 * wait for our own stop. */
		if (ptrace(PTRACE_CONT, pid, 0, WSTOPSIG(st)) < 0)
			return err_sys(errno, "process %d", pid);
	}
}

int inject_find_gadget(pid_t pid, uint64_t start, uint64_t end, uint64_t *gadget)
{
	size_t len = (size_t)(end - start);
	unsigned char *buf;
	struct iovec l, r;

	if (len > (1 << 20))
		len = 1 << 20;
	buf = malloc(len);
	if (!buf)
		return err_sys(ENOMEM, "gadget");
	l.iov_base = buf;
	l.iov_len = len;
	r.iov_base = (void *)start;
	r.iov_len = len;
	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)len) {
		free(buf);
		return err_sys(errno, "reading the vdso of process %d", pid);
	}
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == 0x0f && buf[i + 1] == 0x05) {
			*gadget = start + i;
			free(buf);
			return 0;
		}
	}
	free(buf);
	return err_msg(ENOENT, "no syscall instruction found in the vdso of process %d", pid);
}

static int wait_syscall_stop(pid_t pid)
{
	int st;

	for (;;) {
		if (waitpid(pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return err_sys(errno, "waitpid %d", pid);
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return err_msg(ESRCH, "process %d died during a system call injection", pid);
		if (WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80))
			return 0;
		/* Signals are blocked during injection; anything else is a
		 * stop we did not ask for: go on without delivering it. */
		if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
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
	if (wait_syscall_stop(pid))		/* entry */
		return -ESRCH;
	if (ptrace(PTRACE_SYSCALL, pid, 0, 0) < 0)
		return err_sys(errno, "ptrace syscall %d", pid);
	if (wait_syscall_stop(pid))		/* exit */
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
