/* watch.c: a held process let run under watch for a moment (watch.h). */
#include "watch.h"
#include "err.h"

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

/*
 * The calls that leave what the watch reads as it was: none makes,
 * moves, unmaps or flags a mapping (the VmFlags of smaps), none makes a
 * thread or an fd table, none execs, none takes a POSIX lock for another
 * fd table than its own (the only locks /proc/locks is read for).  close
 * and dup2 may let a lock go, which the locks kind reads again for.
 * madvise is on it for the advice that frees or fetches pages only: what
 * malloc calls as it runs.  Any other call ends the moment unclean:
 * those listed with calm 0 (mmap, mprotect, brk, ioctl, prctl, clone,
 * exit...) only to be named in -progress.
 */
static const struct {
	long nr;
	const char *name;
	int calm;	/* 0: named for messages only, the usual ends of a moment */
} calls[] = {
#define C(x) { SYS_##x, #x, 1 }
#define L(x) { SYS_##x, #x, 0 }
	C(read), C(write), C(readv), C(writev), C(pread64), C(pwrite64), C(preadv), C(pwritev),
	C(preadv2), C(pwritev2), C(lseek), C(close), C(close_range), C(dup), C(dup2), C(dup3),
	C(pipe2), C(fcntl), C(fsync), C(fdatasync), C(ftruncate), C(sendfile), C(splice), C(tee),
	C(copy_file_range), C(open), C(openat), C(stat), C(fstat), C(lstat), C(newfstatat), C(statx),
	C(access), C(faccessat), C(faccessat2), C(readlink), C(readlinkat), C(getdents64),
	C(getcwd), C(futex), C(futex_waitv), C(nanosleep), C(clock_nanosleep), C(clock_gettime),
	C(clock_getres), C(gettimeofday), C(time), C(sched_yield), C(restart_syscall), C(poll),
	C(ppoll), C(select), C(pselect6), C(epoll_wait), C(epoll_pwait), C(epoll_pwait2),
	C(epoll_ctl), C(socket), C(connect), C(accept), C(accept4), C(bind), C(listen),
	C(shutdown), C(getsockname), C(getpeername), C(getsockopt), C(setsockopt), C(sendto),
	C(recvfrom), C(sendmsg), C(recvmsg), C(sendmmsg), C(recvmmsg), C(getpid), C(gettid),
	C(getppid), C(getuid), C(geteuid), C(getgid), C(getegid), C(getpgrp), C(getsid),
	C(rt_sigprocmask), C(rt_sigreturn), C(rt_sigaction), C(rt_sigtimedwait), C(sigaltstack),
	C(rt_sigpending), C(kill), C(tgkill), C(tkill), C(getrandom), C(wait4), C(waitid),
	C(getrusage), C(times), C(sysinfo), C(uname), C(getpriority), C(sched_getaffinity),
	C(getitimer), C(setitimer), C(alarm), C(timer_settime), C(timer_gettime),
	C(timerfd_settime), C(timerfd_gettime), C(eventfd2), C(membarrier),
	L(mmap), L(munmap), L(mremap), L(mprotect), L(madvise), L(brk), L(mlock), L(mlock2),
	L(munlock), L(mlockall), L(munlockall), L(ioctl), L(prctl), L(clone), L(clone3), L(fork),
	L(vfork), L(execve), L(execveat), L(exit), L(exit_group), L(unshare), L(shmat), L(shmdt),
#undef C
#undef L
};

static int calm_call(const struct __ptrace_syscall_info *si)
{
	long nr = (long)si->entry.nr;

	if (si->arch != AUDIT_ARCH_X86_64)	/* int $0x80: other numbers */
		return 0;
	if (nr == SYS_madvise) {
		switch ((int)si->entry.args[2]) {
		case MADV_DONTNEED: case MADV_FREE: case MADV_WILLNEED: case MADV_COLD:
		case MADV_PAGEOUT: case MADV_POPULATE_READ: case MADV_POPULATE_WRITE:
			return 1;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (calls[i].nr == nr)
			return calls[i].calm;
	return 0;
}

const char *watch_call_name(long nr, char *buf, size_t size)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (calls[i].nr == nr)
			return calls[i].name;
	snprintf(buf, size, "system call %ld", nr);
	return buf;
}

enum { RUNNING, HELD, GONE };

struct watched {
	pid_t tid;
	int state;
	int interrupted;	/* PTRACE_INTERRUPT sent */
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

static void unclean(struct watch_end *e, pid_t tid, long nr)
{
	if (e->clean) {
		e->clean = 0;
		e->tid = tid;
		e->nr = nr;
	}
}

/* A thread gone on (ESRCH: killed meanwhile, which waitpid will tell).
 * Any stop clears a PTRACE_INTERRUPT not yet acted on (the kernel's
 * ptrace_stop): one sent is sent again before the thread goes on. */
static int resume(struct watched *w, int sig)
{
	if (w->interrupted && ptrace(PTRACE_INTERRUPT, w->tid, 0, 0) < 0 && errno != ESRCH)
		return err_sys(errno, "thread %d: PTRACE_INTERRUPT", w->tid);
	if (ptrace(PTRACE_SYSCALL, w->tid, 0, sig) < 0 && errno != ESRCH)
		return err_sys(errno, "thread %d: resuming it", w->tid);
	return 0;
}

/* One wait status of a watched thread. */
static int step(struct watched *w, int st, struct watch_end *e)
{
	int sig = WSTOPSIG(st), ev = st >> 16;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		w->state = GONE;
		unclean(e, w->tid, -1);
		return 0;
	}
	if (!WIFSTOPPED(st))
		return 0;
	if (sig == (SIGTRAP | 0x80)) {
		struct __ptrace_syscall_info si;

		if (ptrace(PTRACE_GET_SYSCALL_INFO, w->tid, sizeof(si), &si) < 0) {
			if (errno != ESRCH)
				return err_sys(errno, "thread %d: PTRACE_GET_SYSCALL_INFO", w->tid);
			return 0;
		}
		if (si.op == PTRACE_SYSCALL_INFO_ENTRY && !calm_call(&si))
			unclean(e, w->tid, (long)si.entry.nr);
		return resume(w, 0);
	}
	if (ev == PTRACE_EVENT_STOP) {
		/* PTRACE_INTERRUPT's stop, or a group stop (it stays in it:
		 * let go later, the kernel stops it again). */
		if (!w->interrupted || sig != SIGTRAP)
			unclean(e, w->tid, -1);
		w->state = HELD;
		return 0;
	}
	if (ev)
		return resume(w, 0);
	return resume(w, sig);	/* a signal: delivered as it would be */
}

/* Every wait status there is now; 1 when there was one. */
static int poll_all(struct watched *w, size_t n, struct watch_end *e, int *rc)
{
	int any = 0;

	for (size_t i = 0; i < n && !*rc; i++) {
		int st;
		pid_t r;

		if (w[i].state != RUNNING)
			continue;
		r = waitpid(w[i].tid, &st, __WALL | WNOHANG);
		if (r < 0 && errno == ECHILD) {
			w[i].state = GONE;
			unclean(e, w[i].tid, -1);
		} else if (r < 0 && errno != EINTR) {
			*rc = err_sys(errno, "waiting for thread %d", w[i].tid);
		} else if (r == w[i].tid) {
			*rc = step(&w[i], st, e);
			any = 1;
		}
	}
	return any;
}

static size_t count(const struct watched *w, size_t n, int state)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += w[i].state == state;
	return k;
}

/* Every wait status there is now, or a nap when there has been none
 * for a while: a call stops twice (entry and exit, microseconds apart)
 * and calls come in bursts, each stop waiting for pfrez to let it go on.
 * So pfrez looks again at once for 200 us after a stop, then naps 20 us
 * at a time (its timer slack made 1 ns meanwhile, watch_run()). */
static void poll_or_nap(struct watched *w, size_t n, struct watch_end *e, int *rc,
			struct timespec *last)
{
	struct timespec t = { 0, 20000 };

	if (poll_all(w, n, e, rc))
		clock_gettime(CLOCK_MONOTONIC, last);
	else if (ms_since(last) > 0.2)
		nanosleep(&t, NULL);
}

int watch_run(pid_t pid, const pid_t *tids, size_t n, int (*done)(void *arg), void *arg,
	      struct watch_end *e)
{
	struct watched *w = calloc(n ? n : 1, sizeof(*w));
	struct timespec t0, last = { 0, 0 };
	int slack = prctl(PR_GET_TIMERSLACK), rc = 0;

	*e = (struct watch_end){ .clean = 1 };
	if (!w)
		return err_sys(ENOMEM, "watch");
	for (size_t i = 0; i < n; i++) {
		siginfo_t si;

		w[i] = (struct watched){ .tid = tids[i], .state = HELD };
		/* A group stop shows as the stop signal, PTRACE_INTERRUPT's
		 * as SIGTRAP (the kernel's do_jobctl_trap). */
		if (ptrace(PTRACE_GETSIGINFO, tids[i], 0, &si) < 0 || si.si_signo != SIGTRAP)
			unclean(e, tids[i], -1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, 1);
	for (size_t i = 0; e->clean && i < n && !rc; i++) {
		w[i].state = RUNNING;
		rc = resume(&w[i], 0);
	}
	/* Until the reading is done, or the moment is spoilt anyway. */
	while (!rc && e->clean && count(w, n, RUNNING) && !done(arg) && ms_since(&t0) < 1000)
		poll_or_nap(w, n, e, &rc, &last);
	if (!rc && e->clean && count(w, n, RUNNING) && !done(arg))
		unclean(e, pid, -2);	/* the reading took too long: read while held */
	/* Held again: a call entered meanwhile still counts.  The interrupt
	 * is asked again now and then, and a thread that will not stop
	 * within seconds fails the capture (pfrez lets it go). */
	for (int tries = 0; !rc && count(w, n, RUNNING); tries++) {
		struct timespec t1;

		for (size_t i = 0; !rc && i < n; i++) {
			if (w[i].state != RUNNING)
				continue;
			w[i].interrupted = 1;
			if (ptrace(PTRACE_INTERRUPT, w[i].tid, 0, 0) < 0 && errno != ESRCH)
				rc = err_sys(errno, "thread %d: PTRACE_INTERRUPT", w[i].tid);
		}
		if (tries == 50)
			rc = err_msg(EIO, "process %d: a thread would not stop again", pid);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		while (!rc && count(w, n, RUNNING) && ms_since(&t1) < 100)
			poll_or_nap(w, n, e, &rc, &last);
	}
	e->ms = ms_since(&t0);
	if (slack > 0)
		prctl(PR_SET_TIMERSLACK, slack);
	for (size_t i = 0; !rc && i < n; i++)
		if (w[i].tid == pid && w[i].state == GONE)
			rc = -ESRCH;
	free(w);
	return rc;
}
