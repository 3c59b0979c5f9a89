/* supervise.c: waits for the restored process, forwards signals, and
 * keeps its PID when the kernel could not give it back.
 *
 * The remapping costs nothing for ordinary system calls: a seccomp filter
 * (installed as the process's last restore step) stops only the calls
 * that return or take a PID, and pthaw, as the tracer, rewrites those.
 * If pthaw dies the process dies with it (PTRACE_O_EXITKILL): without its
 * tracer every trapped call would fail with ENOSYS, and a process getting
 * wrong answers silently is worse than one that is gone. */
#include "supervise.h"
#include "fd_tty.h"
#include "pload_proto.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const int remapped_calls[] = {
	SYS_getpid, SYS_gettid, SYS_getpgid, SYS_getpgrp, SYS_getsid, SYS_setpgid,
	SYS_kill, SYS_tgkill, SYS_tkill, SYS_rt_sigqueueinfo, SYS_rt_tgsigqueueinfo,
	SYS_pidfd_open, SYS_prlimit64, SYS_wait4, SYS_waitid,
	SYS_sched_setaffinity, SYS_sched_getaffinity, SYS_sched_setparam,
	SYS_sched_getparam, SYS_sched_setscheduler, SYS_sched_getscheduler,
	SYS_sched_setattr, SYS_sched_getattr, SYS_sched_rr_get_interval,
	SYS_process_vm_readv, SYS_process_vm_writev, SYS_kcmp,
};
#define NCALLS (sizeof(remapped_calls) / sizeof(remapped_calls[0]))

/* pload's own calls pass: the filter goes in at the start of the
 * restore, while pload still has pthaw's privileges (as root it then
 * needs no no_new_privs), and the calls pload runs for the restore after
 * that (sched_setscheduler, prlimit64 ...) must not stop for a tracer
 * that is not there yet.  Nothing of the restored process runs in that
 * range: its mappings may not overlap it, and pload unmaps it last. */
_Static_assert((PLOAD_BASE & 0xffffffffu) + PLOAD_SPAN <= 0x100000000ull,
	       "pload's range has one upper half");

size_t remap_filter(void *out, size_t max)
{
	struct sock_filter f[NCALLS + 24];
	size_t n = 0;
	size_t ip = offsetof(struct seccomp_data, instruction_pointer);

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)ip + 4);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(PLOAD_BASE >> 32), 0, 4);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)ip);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)PLOAD_BASE, 0, 2);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
					      (uint32_t)(PLOAD_BASE + PLOAD_SPAN), 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* Of the ioctls, only those that carry a process group (tcsetpgrp,
	 * tcgetpgrp): a shell gives its terminal to itself by the PID it
	 * started with. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 5);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCSPGRP, 2, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TIOCGPGRP, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	for (size_t i = 0; i < NCALLS; i++)	/* match: jump to the TRACE at the end */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)remapped_calls[i],
						      (unsigned char)(NCALLS - i), 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	if (n > max)
		return 0;
	memcpy(out, f, n * sizeof(f[0]));
	return n;
}

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t child_group;

/* Signals sent to pthaw go on to the process it restored, or to its
 * process group when it leads one (a tree, as a shell sends a job's
 * signals to the job).  Those the terminal sends (Ctrl-C) reach the
 * whole foreground group, the restored process included, so they are
 * not sent twice. */
static void forward(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (child_pid > 0 && si->si_code != SI_KERNEL)
		kill(child_group ? -child_pid : child_pid, sig);
}

void supervise_group(int on)
{
	child_group = on;
}

static pid_t tgid_of(pid_t tid)
{
	char v[32];

	return proc_status_field(tid, "Tgid", v, sizeof(v)) ? -1 : (pid_t)atoi(v);
}

struct remap {
	pid_t now, old;
};

/* Threads whose tids were taken: each has another now (thread.c), and
 * the process knows it by its old one (glibc keeps it in its struct
 * pthread: pthread_kill() and raise() send with it). */
static struct remap *tids;
static size_t ntids;

int supervise_map_tid(pid_t now, pid_t old)
{
	struct remap *n = realloc(tids, (ntids + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	tids = n;
	tids[ntids++] = (struct remap){ now, old };
	return 0;
}

static unsigned long long map_pid(const struct remap *m, unsigned long long v)
{
	pid_t p = (pid_t)v;

	if (p == m->old)
		return (unsigned long long)(unsigned)m->now;
	if (p == -m->old)
		return (unsigned long long)(unsigned)-m->now;
	for (size_t i = 0; p > 0 && i < ntids; i++)
		if (p == tids[i].old)
			return (unsigned long long)(unsigned)tids[i].now;
	return v;
}

/* The tid a thread of the process knows itself by. */
static pid_t old_tid(const struct remap *m, pid_t tid)
{
	if (tid == m->now)
		return m->old;
	for (size_t i = 0; i < ntids; i++)
		if (tid == tids[i].now)
			return tids[i].old;
	return tid;
}

/* The process asks for a PID: answer without running the call. */
static void answer(struct user_regs_struct *r, long value)
{
	r->orig_rax = (unsigned long long)-1;
	r->rax = (unsigned long long)value;
}

/* tcsetpgrp and tcgetpgrp pass the group through a pointer (rdx): the
 * PID the process knows goes to the terminal as its real one, and the
 * terminal's answer comes back as the PID the process knows.  The word
 * is read and written whole, aligned, so that it never crosses into a
 * page that may not be there. */
static void tty_pgrp_call(const struct remap *m, pid_t tid, struct user_regs_struct *r)
{
	unsigned long addr = r->rdx & ~7ul;
	int shift = (r->rdx & 4) ? 32 : 0;
	char path[64];
	long word;
	pid_t v;
	int fd;

	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, tid, addr, 0);
	if (errno || (r->rdx & 3))
		return;		/* the call fails on its own */
	v = (pid_t)(uint32_t)((unsigned long)word >> shift);
	if ((unsigned)r->rsi == TIOCSPGRP) {
		if (v != m->old)
			return;
		v = m->now;
	} else {
		/* Asked of the terminal behind the process's fd: pthaw's own
		 * (the process is its job), or the call runs as it is. */
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", tid, (int)r->rdi);
		fd = open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return;
		v = tcgetpgrp(fd);
		close(fd);
		if (v < 0)
			return;
		if (v == m->now)
			v = m->old;
	}
	word = (long)(((unsigned long)word & ~(0xffffffffull << shift)) |
		      ((unsigned long)(uint32_t)v << shift));
	if (ptrace(PTRACE_POKEDATA, tid, addr, word) == 0 && (unsigned)r->rsi == TIOCGPGRP)
		answer(r, 0);	/* answered: the call does not run */
}

static void handle_seccomp(const struct remap *m, pid_t tid)
{
	struct user_regs_struct r, before;
	int ours;
	long v;

	if (ptrace(PTRACE_GETREGS, tid, 0, &r) < 0)
		return;
	before = r;
	ours = tid == m->now || tgid_of(tid) == m->now;
	switch ((long)r.orig_rax) {
	case SYS_getpid:
		if (ours)
			answer(&r, m->old);
		break;
	case SYS_gettid:
		if (ours && old_tid(m, tid) != tid)
			answer(&r, old_tid(m, tid));
		break;
	case SYS_getpgrp:
	case SYS_getpgid:
	case SYS_getsid: {
		pid_t who = (long)r.orig_rax == SYS_getpgrp || (pid_t)r.rdi == 0 ? tgid_of(tid)
			    : (pid_t)map_pid(m, r.rdi);

		v = (long)r.orig_rax == SYS_getsid ? getsid(who) : getpgid(who);
		answer(&r, v < 0 ? -errno : v == m->now ? m->old : v);
		break;
	}
	case SYS_ioctl:
		tty_pgrp_call(m, tid, &r);
		break;
	case SYS_waitid:
		if (r.rdi == P_PID)
			r.rsi = map_pid(m, r.rsi);
		break;
	case SYS_setpgid:
	case SYS_tgkill:
	case SYS_rt_tgsigqueueinfo:
	case SYS_kcmp:
		r.rdi = map_pid(m, r.rdi);
		r.rsi = map_pid(m, r.rsi);
		break;
	default:	/* the PID is the first argument */
		r.rdi = map_pid(m, r.rdi);
		break;
	}
	if (memcmp(&r, &before, sizeof(r)) != 0)
		ptrace(PTRACE_SETREGS, tid, 0, &r);
}

static int status_code(int st)
{
	tty_job_end();
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* The restored process, a job on pthaw's terminal (fd_tty.c), stopped
 * (Ctrl-Z): pthaw takes its terminal back and stops as well, so that its
 * own shell sees the job stop; when that shell lets pthaw go on (fg), the
 * job gets the terminal again and goes on too. */
static void job_stopped(pid_t pid, int sig)
{
	if (!tty_job_pgrp())
		return;
	tty_job_stop();
	raise(sig == SIGSTOP ? SIGSTOP : SIGTSTP);
	tty_job_cont();
	kill(-tty_job_pgrp(), SIGCONT);
	tty_job_repaint();
	(void)pid;
}

/* One wait status of a traced task t of process pid: its stop handled
 * (answered, passed on or delivered); 1 when it is pid's end. */
static int traced_event(const struct remap *m, pid_t pid, pid_t t, int st)
{
	int event, sig;

	if (WIFEXITED(st) || WIFSIGNALED(st))
		return t == pid;
	if (!WIFSTOPPED(st))
		return 0;
	event = st >> 16;
	sig = WSTOPSIG(st);
	if (event == PTRACE_EVENT_SECCOMP) {
		handle_seccomp(m, t);
		ptrace(PTRACE_CONT, t, 0, 0);
	} else if (event == PTRACE_EVENT_STOP) {
		/* A group stop (SIGSTOP, Ctrl-Z) stays a stop until
		 * SIGCONT; anything else is a new child's first stop. */
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU) {
			ptrace(PTRACE_LISTEN, t, 0, 0);
			if (t == pid)
				job_stopped(pid, sig);
		} else
			ptrace(PTRACE_CONT, t, 0, 0);
	} else if (event) {
		ptrace(PTRACE_CONT, t, 0, 0);
	} else {
		ptrace(PTRACE_CONT, t, 0, sig);	/* deliver it */
	}
	return 0;
}

/* The process's end, when supervise_poll() saw it first. */
static int early_status = -1;

int supervise(pid_t pid, pid_t old_pid, int remapped)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct remap m = { pid, old_pid };
	struct sigaction sa;
	int st;

	child_pid = pid;
	tty_job_repaint();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (early_status >= 0)
		return status_code(early_status);
	if (!remapped) {
		for (;;) {
			/* WUNTRACED: a job's stop is pthaw's to relay. */
			if (waitpid(pid, &st, tty_job_pgrp() ? WUNTRACED : 0) < 0) {
				if (errno == EINTR)
					continue;
				tty_job_end();
				return fprintf(stderr, "pthaw: waiting for process %d: %s\n", pid, strerror(errno)),
				       PTHAW_EXIT_LOST;
			}
			if (!WIFSTOPPED(st))
				return status_code(st);
			job_stopped(pid, WSTOPSIG(st));
		}
	}
	for (;;) {
		pid_t t = waitpid(-1, &st, __WALL);

		if (t < 0) {
			if (errno == EINTR)
				continue;
			tty_job_end();
			fprintf(stderr, "pthaw: waiting for process %d: %s\n", pid, strerror(errno));
			return PTHAW_EXIT_LOST;
		}
		if (traced_event(&m, pid, t, st))
			return status_code(st);
	}
}

void supervise_poll(pid_t pid, pid_t old_pid)
{
	struct remap m = { pid, old_pid };
	int st;
	pid_t t;

	while (early_status < 0 && (t = waitpid(-1, &st, __WALL | WNOHANG)) > 0)
		if (traced_event(&m, pid, t, st))
			early_status = st;
}
