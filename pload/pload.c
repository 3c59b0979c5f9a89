/* pload.c: the freestanding loader that becomes the restored process.
 *
 * pload does almost nothing on its own: it moves onto a stack and code
 * that belong to no file, tells pthaw where things are, and then runs the
 * system calls pthaw sends it, one by one, until pthaw parks it and
 * replaces its registers with the snapshot's. */
#include "pload_proto.h"
#include "sys.h"

extern char __pload_start[], __pload_end[];
extern char pload_gadget[];
void pload_run_on(void *stack_top, void (*fn)(void)) __attribute__((noreturn));
void pload_main(unsigned long *sp) __attribute__((noreturn));
long pload_clone_parked(void *args, unsigned long size);

/* The kernel's struct clone_args (clone3). */
struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};

static int req_fd, rep_fd;

/* gcc may emit calls to these even in freestanding code. */
void *memcpy(void *d, const void *s, unsigned long n)
{
	char *dp = d;
	const char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memset(void *d, int c, unsigned long n)
{
	char *dp = d;

	while (n--)
		*dp++ = (char)c;
	return d;
}

static void __attribute__((noreturn)) die(const char *msg, int code)
{
	unsigned long n = 0;

	while (msg[n])
		n++;
	sys3(NR_write, 2, msg, n);
	sys3(NR_exit_group, code, 0, 0);
	__builtin_unreachable();
}

static int parse_fd(const char *s)
{
	int v = 0;

	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 100000)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static int xfer(int nr, int fd, void *buf, unsigned long n)
{
	char *p = buf;

	while (n) {
		long r = sys3(nr, fd, p, n);

		if (r == -EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (unsigned long)r;
	}
	return 0;
}

/* The kernel refuses to change /proc/PID/exe while the old executable is
 * still mapped, and the restored process must not keep pload's file busy
 * either: replace the image with an anonymous copy of itself.  Nothing in
 * the image changes between the copy and the mremap (we run on the
 * separate stack and touch no globals), so execution carries on. */
static void detach_from_file(void)
{
	unsigned long size = (unsigned long)(__pload_end - __pload_start);
	long tmp;

	tmp = sys6(NR_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp < 0 && tmp > -4096)
		die("pload: mmap failed\n", 125);
	memcpy((void *)tmp, __pload_start, size);
	if (sys3(NR_mprotect, tmp, size, PROT_READ | PROT_WRITE | PROT_EXEC) < 0)
		die("pload: mprotect failed\n", 125);
	if (sys6(NR_mremap, tmp, (long)size, (long)size, MREMAP_MAYMOVE | MREMAP_FIXED,
		 (long)__pload_start, 0) != (long)__pload_start)
		die("pload: mremap failed\n", 125);
}

/* Our pipes, or -errno, at the lowest free fds from base up: fcntl
 * F_DUPFD replaces no fd, where dup2 would replace one of the process's,
 * or the pipes of another pload sharing this fd table. */
static long pipes_above(int req, int rep, long base)
{
	long a = sys3(NR_fcntl, req, F_DUPFD, base);
	long b = a < 0 ? a : sys3(NR_fcntl, rep, F_DUPFD, base);

	if (b < 0) {
		if (a >= 0)
			sys3(NR_close, a, 0, 0);
		return b;
	}
	sys3(NR_close, req, 0, 0);
	sys3(NR_close, rep, 0, 0);
	req_fd = (int)a;
	rep_fd = (int)b;
	return 0;
}

/* Every fd above 2 but our pipes: what a child copied of its parent's
 * table (other ploads' pipes, when the parent shares its table). */
static void close_others(void)
{
	int lo = req_fd < rep_fd ? req_fd : rep_fd, hi = req_fd < rep_fd ? rep_fd : req_fd;

	if (lo > 3)
		sys3(NR_close_range, 3, lo - 1, 0);
	if (hi > lo + 1)
		sys3(NR_close_range, lo + 1, hi - 1, 0);
	sys3(NR_close_range, hi + 1, ~0u, 0);
}

/* PLOAD_OP_FORK: a child process, pload as well, talking to pthaw over
 * pipes of its own: at the same fd numbers as ours in a copy of our fd
 * table, or (files_base > 0) in our fd table itself, shared
 * (CLONE_FILES), from files_base up; fs: sharing our working directory
 * and umask (CLONE_FS).  Returns 0 in the child (which has said hello),
 * the child's PID or -errno in the parent, which leaves its ends of the
 * child's pipes at the fds it writes to its scratch area. */
static long fork_child(int pid, long files_base, int fs, const struct pload_hello *hello)
{
	int req[2], rep[2];
	struct clone_args ca = {
		.flags = (files_base > 0 ? CLONE_FILES : 0) | (fs ? CLONE_FS : 0),
		.exit_signal = SIGCHLD,
		.set_tid = pid ? (uint64_t)&pid : 0,
		.set_tid_size = pid ? 1 : 0,
	};
	long ret = sys6(NR_pipe2, (long)req, 0, 0, 0, 0, 0);

	if (ret < 0)
		return ret;
	ret = sys6(NR_pipe2, (long)rep, 0, 0, 0, 0, 0);
	if (ret < 0) {
		sys3(NR_close, req[0], 0, 0);
		sys3(NR_close, req[1], 0, 0);
		return ret;
	}
	/* Without CLONE_VM the child has a copy of everything, this stack
	 * included: it returns from here as fork() would. */
	ret = sys6(NR_clone3, (long)&ca, sizeof(ca), 0, 0, 0, 0);
	if (ret == 0) {
		/* Its parent pload killed (the restore failed), it goes too. */
		sys6(NR_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
		if (files_base > 0) {
			/* One table with the parent: its ends of the pipes
			 * stay (pthaw closes them in the parent), ours go
			 * where no fd of the process will be. */
			if (pipes_above(req[0], rep[1], files_base))
				sys3(NR_exit_group, 127, 0, 0);
		} else {
			sys3(NR_dup2, req[0], req_fd, 0);
			sys3(NR_dup2, rep[1], rep_fd, 0);
			for (int i = 0; i < 2; i++) {
				sys3(NR_close, req[i], 0, 0);
				sys3(NR_close, rep[i], 0, 0);
			}
			close_others();
		}
		if (xfer(NR_write, rep_fd, (void *)hello, sizeof(*hello)))
			sys3(NR_exit_group, 127, 0, 0);
		return 0;
	}
	/* Shared, the child's ends are the child's to move and close. */
	if (ret < 0 || files_base <= 0) {
		sys3(NR_close, req[0], 0, 0);
		sys3(NR_close, rep[1], 0, 0);
	}
	if (ret < 0) {
		sys3(NR_close, req[1], 0, 0);
		sys3(NR_close, rep[0], 0, 0);
		return ret;
	}
	((int *)PLOAD_SCRATCH)[0] = req[1];
	((int *)PLOAD_SCRATCH)[1] = rep[0];
	return ret;
}

/* PLOAD_OP_EXIT: ends as a zombie of the tree ended, with its wait
 * status: killed by its signal (default action, unblocked, no core
 * file) or exiting with its code. */
static void __attribute__((noreturn)) exit_as(unsigned long status)
{
	int sig = (int)(status & 0x7f);

	if (sig) {
		unsigned long none[2] = { 0, 0 }, mask = 1ul << (sig - 1);
		unsigned long act[4] = { 0, 0, 0, 0 };	/* SIG_DFL */

		sys6(NR_setrlimit, RLIMIT_CORE, (long)none, 0, 0, 0, 0);
		sys6(NR_rt_sigaction, sig, (long)act, 0, 8, 0, 0);
		sys6(NR_rt_sigprocmask, SIG_UNBLOCK, (long)&mask, 0, 8, 0, 0);
		sys3(NR_kill, sys3(NR_getpid, 0, 0, 0), sig, 0);
	}
	sys3(NR_exit_group, (long)((status >> 8) & 0xff), 0, 0);
	__builtin_unreachable();
}

static void __attribute__((noreturn)) serve(void)
{
	struct pload_hello hello = {
		.magic = PLOAD_MAGIC,
		.version = PLOAD_VERSION,
		.image_start = (uint64_t)__pload_start,
		.image_end = (uint64_t)__pload_end,
		.scratch = PLOAD_SCRATCH,
		.scratch_size = PLOAD_SCRATCH_SIZE,
		.gadget = (uint64_t)pload_gadget,
	};

	detach_from_file();
	if (xfer(NR_write, rep_fd, &hello, sizeof(hello)))
		sys3(NR_exit_group, 127, 0, 0);
	for (;;) {
		struct pload_req req;
		struct pload_rep rep;

		/* EOF means pthaw is gone: nothing here is worth keeping. */
		if (xfer(NR_read, req_fd, &req, sizeof(req)))
			sys3(NR_exit_group, 127, 0, 0);
		if (req.len > PLOAD_SCRATCH_SIZE ||
		    (req.len && xfer(NR_read, req_fd, (void *)PLOAD_SCRATCH, req.len)))
			sys3(NR_exit_group, 127, 0, 0);
		if (req.nr == PLOAD_OP_PARK) {
			sys3(NR_close, req_fd, 0, 0);
			sys3(NR_close, rep_fd, 0, 0);
			for (;;)
				sys3(NR_pause, 0, 0, 0);
		}
		if (req.nr == PLOAD_OP_FORK) {
			rep.ret = fork_child((int)req.arg[0], (long)req.arg[1], req.arg[2] != 0, &hello);
			if (rep.ret == 0)
				continue;	/* the child: serving pthaw already */
			if (xfer(NR_write, rep_fd, &rep, sizeof(rep)))
				sys3(NR_exit_group, 127, 0, 0);
			continue;
		}
		if (req.nr == PLOAD_OP_EXIT) {
			/* A zombie keeps the name it ended under: ps shows
			 * the process's, not "pload". */
			((char *)&req.arg[1])[15] = '\0';
			if (((char *)&req.arg[1])[0])
				sys3(NR_prctl, PR_SET_NAME, (long)&req.arg[1], 0);
			rep.ret = 0;
			xfer(NR_write, rep_fd, &rep, sizeof(rep));
			exit_as(req.arg[0]);
		}
		if (req.nr == PLOAD_OP_MOVE) {
			/* Its pipes above the fds of the process it becomes. */
			rep.ret = pipes_above(req_fd, rep_fd, (long)req.arg[0]);
			if (xfer(NR_write, rep_fd, &rep, sizeof(rep)))
				sys3(NR_exit_group, 127, 0, 0);
			continue;
		}
		if (req.nr == PLOAD_OP_THREAD) {
			/* A thread of the process: it shares everything a
			 * POSIX thread shares.  Its tid comes with set_tid,
			 * which needs pthaw's privilege: pload has it until
			 * the credentials stage. */
			int tid = (int)req.arg[0];
			struct clone_args ca = {
				.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
					 CLONE_SYSVSEM,
				.set_tid = tid ? (uint64_t)&tid : 0,
				.set_tid_size = tid ? 1 : 0,
			};

			rep.ret = pload_clone_parked(&ca, sizeof(ca));
			if (xfer(NR_write, rep_fd, &rep, sizeof(rep)))
				sys3(NR_exit_group, 127, 0, 0);
			continue;
		}
		rep.ret = sys6((long)req.nr, (long)req.arg[0], (long)req.arg[1], (long)req.arg[2],
			       (long)req.arg[3], (long)req.arg[4], (long)req.arg[5]);
		if (xfer(NR_write, rep_fd, &rep, sizeof(rep)))
			sys3(NR_exit_group, 127, 0, 0);
	}
}

void pload_main(unsigned long *sp)
{
	char **argv = (char **)(sp + 1);
	unsigned long all = ~0ul;
	long stack;

	if (sp[0] != 3 || (req_fd = parse_fd(argv[1])) < 0 || (rep_fd = parse_fd(argv[2])) < 0)
		die("pload: the restore loader of pthaw(1); it is started by pthaw, not by hand\n", 2);
	if ((unsigned long)__pload_start != PLOAD_BASE)
		die("pload: linked at the wrong address\n", 125);
	/* A signal now would run a handler in a half-built process. */
	if (sys6(NR_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0) < 0)
		die("pload: cannot block signals\n", 125);
	stack = sys6(NR_mmap, (long)PLOAD_STACK, (long)PLOAD_STACK_SIZE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (stack != (long)PLOAD_STACK)
		die("pload: cannot map its stack\n", 125);
	if (sys6(NR_mmap, (long)PLOAD_SCRATCH, (long)PLOAD_SCRATCH_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (long)PLOAD_SCRATCH)
		die("pload: cannot map its scratch area\n", 125);
	pload_run_on((void *)(PLOAD_STACK + PLOAD_STACK_SIZE), serve);
}
