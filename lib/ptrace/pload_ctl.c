/* pload_ctl.c: starts pload (with its old PID when free) and drives it
 * over two pipes. */
#include "pload_ctl.h"
#include "err.h"
#include "inject.h"
#include "proc.h"

#include <dirent.h>
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
	int base = o->first_free_fd, a, b, e = -1;
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
	/* pload in a memfd: moved out of the way of the pipes first (it may
	 * sit at base), then kept for execveat at base + 2, close-on-exec (an
	 * ELF file needs its fd only until execveat has opened it). */
	if (o->exec_fd > 2 && (e = fcntl(o->exec_fd, F_DUPFD_CLOEXEC, base + 2)) < 0)
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
	if (o->exec_fd > 2 && e != base + 2 && dup3(e, base + 2, O_CLOEXEC) < 0)
		_exit(127);
	if (base > 3)
		syscall(SYS_close_range, 3, base - 1, 0);
	syscall(SYS_close_range, base + (o->exec_fd > 2 ? 3 : 2), ~0u, 0);
	snprintf(sa, sizeof(sa), "%d", base);
	snprintf(sb, sizeof(sb), "%d", base + 1);
	if (o->exec_fd > 2)
		syscall(SYS_execveat, base + 2, "", argv, envp, AT_EMPTY_PATH);
	else
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

static int log_call(struct pload *p, long nr, const long a[6], const void *data, size_t len,
		    long ret)
{
	struct pload_logged *n = realloc(p->log, (p->nlog + 1) * sizeof(*n)), *l;

	if (!n)
		return err_sys(ENOMEM, "loader call log");
	p->log = n;
	l = &p->log[p->nlog];
	*l = (struct pload_logged){ .nr = nr, .len = len, .ret = ret };
	memcpy(l->a, a, sizeof(l->a));
	if (len) {
		l->data = malloc(len);
		if (!l->data)
			return err_sys(ENOMEM, "loader call log");
		memcpy(l->data, data, len);
	}
	p->nlog++;
	return 0;
}

long pload_call(struct pload *p, long nr, long a0, long a1, long a2, long a3, long a4,
		long a5, const void *data, size_t len)
{
	struct pload_req req = { (uint64_t)nr, { (uint64_t)a0, (uint64_t)a1, (uint64_t)a2,
				 (uint64_t)a3, (uint64_t)a4, (uint64_t)a5 }, len };
	struct pload_rep rep;
	long ret;

	if (len > p->hello.scratch_size)
		return err_msg(E2BIG, "loader request too large");
	if (p->parked) {
		ret = parked_call(p, nr, req.arg, data, len);
	} else {
		if (write_full(p->req_fd, &req, sizeof(req)) < 0 ||
		    (len && write_full(p->req_fd, data, len) < 0) ||
		    read_full(p->rep_fd, &rep, sizeof(rep)) < 0)
			return err_msg(EPIPE, "the loader died during the restore");
		ret = (long)rep.ret;
	}
	if (p->logging && log_call(p, nr, (long[6]){ a0, a1, a2, a3, a4, a5 }, data, len, ret))
		return -ENOMEM;
	return ret;
}

/* In a PID namespace pload sees its new thread's tid in the namespace;
 * pthaw traces it by its tid on the host: the task of pload whose last
 * NSpid is that one. */
static pid_t host_tid(const struct pload *p, pid_t ns_tid)
{
	char path[300], line[256];
	struct dirent *e;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
	d = opendir(path);
	while (d && !found && (e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", p->pid, e->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char *last;

			if (strncmp(line, "NSpid:", 6))
				continue;
			line[strcspn(line, "\n")] = '\0';
			last = strrchr(line, '\t');
			if (last && atoi(last + 1) == ns_tid)
				found = (pid_t)atoi(e->d_name);
			break;
		}
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return found;
}

long pload_thread_new(struct pload *p, pid_t tid, pid_t old)
{
	struct pload_thread *n = realloc(p->threads, (p->nthreads + 1) * sizeof(*n));
	long ret;

	if (!n)
		return err_sys(ENOMEM, "thread list");
	p->threads = n;
	ret = pload_call(p, PLOAD_OP_THREAD, tid, 0, 0, 0, 0, 0, NULL, 0);
	if (ret > 0 && p->self && p->self != p->pid) {
		pid_t h = host_tid(p, (pid_t)ret);

		if (!h)
			return err_msg(ESRCH, "thread %ld of the namespace: not found among pload's tasks", ret);
		ret = h;
	}
	if (ret > 0)
		p->threads[p->nthreads++] = (struct pload_thread){ .tid = (pid_t)ret, .old = old };
	return ret;
}

/* The host PID of pload's child known in its namespace as ns_pid: the
 * one of its children (as /proc lists them) whose last NSpid is that. */
static pid_t host_child(const struct pload *p, pid_t ns_pid)
{
	char path[64], buf[65536], v[256];
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", p->pid, p->pid);
	if (proc_read_file(path, buf, sizeof(buf) - 1, &len))
		return 0;
	buf[len] = '\0';
	for (char *s = buf, *end; *s; s = end) {
		long c = strtol(s, &end, 10);
		char *last;

		if (end == s)
			break;
		if (proc_status_field((pid_t)c, "NSpid", v, sizeof(v)))
			continue;
		last = strrchr(v, '\t') ? strrchr(v, '\t') + 1 : strrchr(v, ' ') ? strrchr(v, ' ') + 1 : v;
		if (atoi(last) == ns_pid)
			return (pid_t)c;
	}
	return 0;
}

static int fork_as(struct pload *p, struct pload *child, pid_t pid, int files_base, int fs)
{
	int fds[2];
	char path[64];
	struct iovec l = { fds, sizeof(fds) }, r = { (void *)(uintptr_t)p->hello.scratch, sizeof(fds) };
	long ret = pload_call(p, PLOAD_OP_FORK, pid, files_base, fs, 0, 0, 0, NULL, 0);

	/* The original tree, just ended (-halt), holds its PIDs until each
	 * is reaped, by its parent or by init once that one is gone. */
	for (int tries = 0; ret == -EEXIST && tries < 60 && p->self == p->pid && pid_is_zombie(pid); tries++) {
		err_clear();
		usleep(50000);
		ret = pload_call(p, PLOAD_OP_FORK, pid, files_base, fs, 0, 0, 0, NULL, 0);
	}
	memset(child, 0, sizeof(*child));
	child->pid = -1;
	child->req_fd = child->rep_fd = -1;
	if (ret == -EEXIST)
		return err_msg(EEXIST, "PID %d is in use here", pid);
	if (ret < 0)
		return err_sys((int)-ret, "making process %d", pid);
	if (process_vm_readv(p->pid, &l, 1, &r, 1, 0) != (ssize_t)sizeof(fds))
		return err_sys(errno ? errno : EIO, "reading the loader's scratch area");
	/* pthaw's ends of the child's pipes, still in the parent pload:
	 * opened through /proc (a pipe opens as a FIFO there), then closed
	 * in the parent, which must not keep them. */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, fds[0]);
	child->req_fd = open(path, O_WRONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", p->pid, fds[1]);
	child->rep_fd = open(path, O_RDONLY | O_CLOEXEC);
	pload_call(p, SYS_close, fds[0], 0, 0, 0, 0, 0, NULL, 0);
	pload_call(p, SYS_close, fds[1], 0, 0, 0, 0, 0, NULL, 0);
	child->self = (pid_t)ret;
	child->pid = p->self != p->pid ? host_child(p, (pid_t)ret) : (pid_t)ret;
	child->got_pid = (pid_t)ret == pid;
	if (child->req_fd < 0 || child->rep_fd < 0 || child->pid <= 0 ||
	    read_full(child->rep_fd, &child->hello, sizeof(child->hello)) < 0 ||
	    child->hello.magic != PLOAD_MAGIC) {
		if (child->pid <= 0 && ret > 0)
			child->pid = -1;
		return err_msg(EPROTO, "process %d: its loader did not start", pid);
	}
	return 0;
}

int pload_fork(struct pload *p, struct pload *child, pid_t pid)
{
	return fork_as(p, child, pid, 0, 0);
}

int pload_fork_sharing(struct pload *p, struct pload *child, pid_t pid, int files_base, int fs)
{
	return fork_as(p, child, pid, files_base > 0 ? files_base : 0, fs);
}

int pload_exit(struct pload *p, uint32_t status, const char comm[16])
{
	long name[2];
	long ret;

	memcpy(name, comm, sizeof(name));
	ret = pload_call(p, PLOAD_OP_EXIT, status, name[0], name[1], 0, 0, 0, NULL, 0);

	if (ret < 0)
		return (int)ret;
	close(p->req_fd);
	close(p->rep_fd);
	p->req_fd = p->rep_fd = -1;
	/* Not pthaw's child: it cannot wait for it, only see it end. */
	for (int i = 0; i < 2000; i++) {
		struct proc_stat st;

		if (proc_stat_read(p->pid, &st) == 0 && st.state == 'Z')
			return 0;
		err_clear();
		usleep(1000);
	}
	return err_msg(ETIMEDOUT, "process %d: it did not end as a zombie", p->pid);
}

int pload_move(struct pload *p, int base)
{
	long ret = pload_call(p, PLOAD_OP_MOVE, base, 0, 0, 0, 0, 0, NULL, 0);

	return ret < 0 ? err_sys((int)-ret, "moving the loader's pipes to fd %d", base) : 0;
}

pid_t pload_tid(const struct pload *p, uint32_t old_main, uint32_t old)
{
	if (old == old_main)
		return p->pid;
	for (size_t i = 0; i < p->nthreads; i++)
		if ((uint32_t)p->threads[i].old == old)
			return p->threads[i].tid;
	return (pid_t)old;
}

static struct pload_thread *find_thread(struct pload *p, pid_t tid)
{
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].tid == tid)
			return &p->threads[i];
	return NULL;
}

int pload_threads_seize(struct pload *p, long opts)
{
	int rc = 0;

	/* All interrupted first, then waited for: they stop together. */
	for (size_t i = 0; i < p->nthreads && !rc; i++) {
		rc = ptrace_seize_thread(p->threads[i].tid, opts);
		p->threads[i].seized = !rc;
	}
	for (size_t i = 0; i < p->nthreads && !rc; i++) {
		rc = ptrace_wait_stop(p->threads[i].tid);
		if (!rc && ptrace(PTRACE_GETREGS, p->threads[i].tid, 0, &p->threads[i].parked_regs) < 0)
			rc = -errno;
	}
	if (rc)
		return err_sys(-rc, "holding the restored process's threads");
	return 0;
}

long pload_thread_call(struct pload *p, pid_t tid, long nr, long a0, long a1, long a2, long a3,
		       long a4, long a5, const void *data, size_t len)
{
	struct pload_thread *t = tid == p->pid ? NULL : find_thread(p, tid);
	struct iovec l = { (void *)(uintptr_t)data, len }, r = { (void *)(uintptr_t)p->hello.scratch, len };
	long a[6] = { a0, a1, a2, a3, a4, a5 };
	long ret;
	int rc;

	if (!t)
		return tid == p->pid ? pload_call(p, nr, a0, a1, a2, a3, a4, a5, data, len)
				     : err_msg(ESRCH, "thread %d is not one of the loader's", tid);
	if (!p->parked || !t->seized)
		return err_msg(EINVAL, "thread %d is not held", tid);
	if (len > p->hello.scratch_size)
		return err_msg(E2BIG, "loader request too large");
	/* The threads share the memory: the scratch area is theirs too. */
	if (len && process_vm_writev(p->pid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return err_sys(errno ? errno : EIO, "writing to the loader's scratch area");
	rc = inject_syscall(tid, p->hello.gadget, &t->parked_regs, nr, a, &ret);
	if (!rc && ptrace(PTRACE_SETREGS, tid, 0, &t->parked_regs) < 0)
		rc = err_sys(errno, "ptrace setregs %d", tid);
	return rc ? rc : ret;
}

int pload_thread_replay(struct pload *p, pid_t tid)
{
	for (size_t i = 0; i < p->nlog; i++) {
		const struct pload_logged *l = &p->log[i];
		long ret = pload_thread_call(p, tid, l->nr, l->a[0], l->a[1], l->a[2], l->a[3], l->a[4],
					     l->a[5], l->data, l->len);

		if (ret < 0 && l->ret >= 0)
			return err_sys((int)-ret, "thread %d: system call %ld, made by the main thread too", tid,
				       l->nr);
	}
	return 0;
}

int pload_threads_release(struct pload *p, int cont)
{
	for (size_t i = 0; i < p->nthreads; i++) {
		if (!p->threads[i].seized)
			continue;
		if (ptrace(cont ? PTRACE_CONT : PTRACE_DETACH, p->threads[i].tid, 0, 0) < 0)
			return err_sys(errno, "starting thread %d of the restored process (ptrace)",
				       p->threads[i].tid);
		p->threads[i].seized = 0;
	}
	return 0;
}

void pload_free(struct pload *p)
{
	for (size_t i = 0; i < p->nlog; i++)
		free(p->log[i].data);
	free(p->log);
	free(p->threads);
	p->log = NULL;
	p->threads = NULL;
	p->nlog = p->nthreads = 0;
	p->logging = 0;
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
		/* Threads held under ptrace report their end to pthaw: reaped
		 * here too (the others need no waiting: ECHILD). */
		for (size_t i = 0; i < p->nthreads; i++)
			while (waitpid(p->threads[i].tid, NULL, __WALL) < 0 && errno == EINTR)
				;
		while (waitpid(p->pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		p->pid = -1;
	}
	pload_free(p);
	if (p->req_fd > 0)
		close(p->req_fd);
	if (p->rep_fd > 0)
		close(p->rep_fd);
	p->req_fd = p->rep_fd = -1;
}
