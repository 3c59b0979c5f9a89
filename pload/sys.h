/* sys.h: raw x86_64 system calls for the freestanding pload; each returns
 * the kernel's value (-errno on failure), there is no errno. */
#ifndef PLOAD_SYS_H
#define PLOAD_SYS_H

#define NR_read		0
#define NR_write	1
#define NR_close	3
#define NR_mmap		9
#define NR_mprotect	10
#define NR_rt_sigprocmask 14
#define NR_mremap	25
#define NR_pause	34
#define NR_exit_group	231
#define NR_rt_sigaction	13
#define NR_dup2		33
#define NR_getpid	39
#define NR_kill		62
#define NR_prctl	157
#define NR_setrlimit	160
#define NR_pipe2	293
#define NR_clone3	435
#define NR_close_range	436
#define NR_fcntl	72
#define F_DUPFD		0

#define PROT_READ	1
#define PROT_WRITE	2
#define PROT_EXEC	4
#define MAP_PRIVATE	0x02
#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE	1
#define MREMAP_FIXED	2
#define SIG_SETMASK	2
#define SIG_UNBLOCK	1
#define SIGKILL		9
#define SIGCHLD		17
#define PR_SET_PDEATHSIG 1
#define PR_SET_NAME	15
#define RLIMIT_CORE	4
#define CLONE_VM	0x100
#define CLONE_FS	0x200
#define CLONE_FILES	0x400
#define CLONE_SIGHAND	0x800
#define CLONE_THREAD	0x10000
#define CLONE_SYSVSEM	0x40000
#define EINTR		4

static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

#endif
