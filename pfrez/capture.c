/* capture.c: holds a process and reads its state: the thread's
 * registers as found, then every kind of the table (lib/kind/) with calls
 * injected into it, and lets it go on as it was. */
#include "capture.h"
#include "err.h"
#include "crc32c.h"
#include "inject.h"
#include "kind.h"
#include "pages.h"
#include "arch/x86_64/regs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <unistd.h>

/* The calls pfrez injects must be neither refused nor fatal: seccomp
 * strict mode allows none of them (refused here, before any runs), and
 * filters are suspended while pfrez holds the process
 * (PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN, as reading the filters
 * does; the kernel lifts it when pfrez detaches or dies).  The process
 * is stopped: its mode cannot change under us. */
static int hold_seccomp(pid_t pid)
{
	char v[16];

	if (proc_status_field(pid, "Seccomp", v, sizeof(v))) {
		err_clear();	/* a kernel without seccomp */
		return 0;
	}
	if (!strcmp(v, "1"))
		return err_msg(ENOTSUP, "process %d runs in seccomp strict mode: it may make no call but read, write, exit and sigreturn, so it cannot be captured",
			       pid);
	if (!strcmp(v, "2") &&
	    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP) < 0)
		return err_msg(EPERM, "process %d has seccomp filters: capturing them needs CAP_SYS_ADMIN, and pfrez under no seccomp filter",
			       pid);
	return 0;
}

int capture_attach(struct capture *c, pid_t pid)
{
	struct proc_stat st;
	int n, rc;

	snap_init(&c->snap);
	c->pid = pid;
	c->live.tid = pid;
	if (pid <= 0)
		return err_msg(EINVAL, "-pid must name a process");
	if (pid == getpid())
		return err_msg(EINVAL, "process %d is pfrez itself", pid);
	rc = proc_stat_read(pid, &st);
	if (rc)
		return err_msg(ESRCH, "process %d: no such process", pid);
	if (st.state == 'Z' || st.state == 'X')
		return err_msg(ESRCH, "process %d is a zombie: nothing left to capture", pid);
	n = proc_count_threads(pid);
	if (n < 0)
		return n;
	if (n > 1)
		return err_msg(ENOTSUP, "process %d has %d threads: only single-threaded processes can be captured yet",
			       pid, n);
	rc = ptrace_seize_stop(pid);
	if (rc)
		return rc;
	c->attached = 1;
	rc = hold_seccomp(pid);
	if (rc)
		return rc;
	/* A thread may have been started between the check and the stop. */
	n = proc_count_threads(pid);
	if (n != 1)
		return err_msg(ENOTSUP, "process %d has %d threads: only single-threaded processes can be captured yet",
			       pid, n);
	return 0;
}

int capture_state(struct capture *c)
{
	struct inject_ctx ctx;
	struct kind_capture kc = { .pid = c->pid, .inj = &ctx, .snap = &c->snap, .live = &c->live,
				   .self_contained = c->self_contained, .halt = c->halt };
	int rc, rc2;

	rc = arch_thread_read(&c->live);
	if (rc)
		return rc;
	c->regs_saved = 1;
	kc.inj = NULL;
	rc = kinds_capture(&kc, c->snap.kind, 1);
	kc.inj = &ctx;
	if (!rc)
		rc = inject_begin(&ctx, c->pid, &c->live.regs, c->live.sigmask, c->live.xsave, c->live.xsize);
	if (rc)
		return rc;
	/* The kinds may still run calls inside the process (the frame keeps
	 * that safe if pfrez dies meanwhile). */
	rc = kinds_capture(&kc, c->snap.kind, 0);
	/* From here on only memory is read: put the process back as it will
	 * resume.  capture_release() does the same again. */
	rc2 = inject_finish(&ctx);
	if (!rc)
		rc = rc2;
	return rc;
}

int capture_write_pages(struct capture *c, struct rec_writer *w)
{
	struct pages_src src = { .pid = c->pid, .snap = &c->snap, .progress = c->progress,
				 .progress_arg = c->progress_arg };
	int rc = pages_write(&src, w);

	c->pages_sent = src.pages_sent;
	c->bytes_sent = src.bytes_sent;
	return rc;
}

int capture_hash_maps(struct capture *c)
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

void capture_release(struct capture *c)
{
	struct user_regs_struct r = c->live.regs;

	capture_settle(c, 0);
	if (!c->attached)
		return;
	if (!c->regs_saved) {
		ptrace(PTRACE_DETACH, c->pid, 0, 0);
		c->attached = 0;
		return;
	}
	/* The injected calls took the process out of the kernel's signal
	 * path, which would have restarted an interrupted call: do it.  The
	 * mask before the registers: if pfrez dies in between, registers
	 * still at the injection frame put the mask back themselves. */
	regs_restart_fixup(&r, 0);
	ptrace(PTRACE_SETSIGMASK, c->pid, sizeof(c->live.sigmask), &c->live.sigmask);
	ptrace(PTRACE_SETREGS, c->pid, 0, &r);
	ptrace(PTRACE_DETACH, c->pid, 0, 0);
	c->attached = 0;
}

void capture_settle(struct capture *c, int ended)
{
	if (c->settled)
		return;
	c->settled = 1;
	kinds_settle(c->snap.kind, ended);
}

void capture_kill(struct capture *c)
{
	capture_settle(c, 1);
	kill(c->pid, SIGKILL);
	c->attached = 0;
}

void capture_free(struct capture *c)
{
	free(c->live.xsave);
	snap_free(&c->snap);
}
