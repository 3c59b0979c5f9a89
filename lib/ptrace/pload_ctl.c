/* pload_ctl.c: starts pload (with its old PID when free) and drives it
 * over two pipes. */
#include "pload_ctl.h"
#include "err.h"
#include "inject.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t clone_child(pid_t want)
{
	struct clone_args args;
	pid_t tid = want;

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	if (want > 0) {
		args.set_tid = (uint64_t)(uintptr_t)&tid;
		args.set_tid_size = 1;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* In the child: only async-signal-safe calls from here to execve. */
static void __attribute__((noreturn)) child(const struct pload_spawn_opts *o, int req_r, int rep_w)
{
	int base = o->first_free_fd, a, b;
	char sa[16], sb[16];
	char *argv[] = { "pload", sa, sb, NULL };
	char *envp[] = { NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* pthaw died before that: we are an orphan.  In a new PID namespace
	 * getppid() says 0 (pthaw is outside); there the helper that made us
	 * holds our request pipe and dies with pthaw, and pload ends at that
	 * pipe's end. */
	if (o->ns == PLOAD_NS_NONE && getppid() == 1)
		_exit(127);
	a = fcntl(req_r, F_DUPFD, base + 2);
	b = fcntl(rep_w, F_DUPFD, base + 2);
	if (a < 0 || b < 0 || dup2(a, base) < 0 || dup2(b, base + 1) < 0)
		_exit(127);
	if (o->stdin_is_stream) {
		int t = open("/dev/tty", O_RDWR | O_NOCTTY);

		if (t < 0)
			t = open("/dev/null", O_RDONLY);
		if (t >= 0 && t != 0) {
			dup2(t, 0);
			close(t);
		}
	}
	if (base > 3)
		syscall(SYS_close_range, 3, base - 1, 0);
	syscall(SYS_close_range, base + 2, ~0u, 0);
	snprintf(sa, sizeof(sa), "%d", base);
	snprintf(sb, sizeof(sb), "%d", base + 1);
	execve(o->path, argv, envp);
	_exit(126);
}

static int read_full(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A process killed by -halt keeps its PID until its parent reaps it,
 * which can take a while when that parent is init. */
static int pid_is_zombie(pid_t pid)
{
	struct proc_stat st;
	int rc = proc_stat_read(pid, &st);

	if (rc)
		return rc == -ENOENT;	/* gone between the tries: try again */
	return st.state == 'Z' || st.state == 'X';
}

static pid_t clone_with_pid(pid_t want)
{
	for (int tries = 0;; tries++) {
		pid_t pid = clone_child(want);

		if (pid >= 0 || errno != EEXIST || tries >= 60 || !pid_is_zombie(want))
			return pid;
		usleep(50000);
	}
}

struct child_args {
	const struct pload_spawn_opts *o;
	int req_r, rep_w;
};

static void start_child(void *arg)
{
	struct child_args *a = arg;

	child(a->o, a->req_r, a->rep_w);
}

int pload_spawn(struct pload *p, const struct pload_spawn_opts *o)
{
	struct child_args ca;
	int req[2], rep[2], rc;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	if (access(o->path, X_OK) < 0)
		return err_sys(errno, "loader %s", o->path);
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return err_sys(errno, "pipe");
	ca = (struct child_args){ o, req[0], rep[1] };
	if (o->ns != PLOAD_NS_NONE) {
		/* In the new namespace its PID is free: always given back. */
		p->pid = rc = pidns_spawn(o->want_pid, o->ns == PLOAD_NS_USER, start_child, &ca);
		p->self = o->want_pid;
		p->got_pid = 1;
	} else {
		p->pid = o->want_pid > 0 ? clone_with_pid(o->want_pid) : -1;
		if (p->pid >= 0)
			p->got_pid = 1;
		else
			p->pid = clone_child(0);
		rc = p->pid < 0 ? err_sys(errno, "starting the loader") : 0;
		p->self = p->pid;
	}
	if (p->pid < 0) {
		p->pid = -1;
		close(req[0]); close(req[1]); close(rep[0]); close(rep[1]);
		return rc;
	}
	if (p->pid == 0)
		child(o, req[0], rep[1]);
	close(req[0]);
	close(rep[1]);
	p->req_fd = req[1];
	p->rep_fd = rep[0];
	if (read_full(p->rep_fd, &p->hello, sizeof(p->hello)) < 0 ||
	    p->hello.magic != PLOAD_MAGIC || p->hello.version != PLOAD_VERSION) {
		pload_kill(p);
		return err_msg(EPROTO, "the loader %s did not start (is it pload, of this version?)", o->path);
	}
	return 0;
}

static long parked_call(struct pload *p, long nr, const uint64_t *arg, const void *data, size_t len)
{
	struct iovec l = { (void *)(uintptr_t)data, len }, r = { (void *)(uintptr_t)p->hello.scratch, len };
	long a[6] = { (long)arg[0], (long)arg[1], (long)arg[2], (long)arg[3], (long)arg[4], (long)arg[5] };
	long ret;
	int rc;

	if (len && process_vm_writev(p->pid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return err_sys(errno ? errno : EIO, "writing to the loader's scratch area");
	rc = inject_syscall(p->pid, p->hello.gadget, &p->parked_regs, nr, a, &ret);
	if (!rc && ptrace(PTRACE_SETREGS, p->pid, 0, &p->parked_regs) < 0)
		rc = err_sys(errno, "ptrace setregs %d", p->pid);
	return rc ? rc : ret;
}

long pload_call(struct pload *p, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, const void *data, size_t len)
{
	struct pload_req req = { (uint64_t)nr, { (uint64_t)a0, (uint64_t)a1, (uint64_t)a2,
				 (uint64_t)a3, (uint64_t)a4, (uint64_t)a5 }, len };
	struct pload_rep rep;

	if (len > p->hello.scratch_size)
		return err_msg(E2BIG, "loader request too large");
	if (p->parked)
		return parked_call(p, nr, req.arg, data, len);
	if (write_full(p->req_fd, &req, sizeof(req)) < 0 ||
	    (len && write_full(p->req_fd, data, len) < 0) ||
	    read_full(p->rep_fd, &rep, sizeof(rep)) < 0)
		return err_msg(EPIPE, "the loader died during the restore");
	return (long)rep.ret;
}

int pload_park(struct pload *p)
{
	struct pload_req req = { .nr = PLOAD_OP_PARK };
	char c;

	if (write_full(p->req_fd, &req, sizeof(req)) < 0)
		return err_msg(EPIPE, "the loader died during the restore");
	/* pload closes its ends before it waits: EOF says it is there. */
	while (read(p->rep_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(p->req_fd);
	close(p->rep_fd);
	p->req_fd = p->rep_fd = -1;
	return 0;
}

void pload_kill(struct pload *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		p->pid = -1;
	}
	if (p->req_fd > 0)
		close(p->req_fd);
	if (p->rep_fd > 0)
		close(p->rep_fd);
	p->req_fd = p->rep_fd = -1;
}
