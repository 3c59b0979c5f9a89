/* victim: a process that notices when a capture harms it.  It keeps a
 * known value in ymm14/ymm15 (upper halves included) and in MXCSR, blocks
 * SIGUSR1 and SIGUSR2, sets up an alternate signal stack, and then prints
 * "count N" every 20 ms, checking all of that before each line.  The loop
 * makes raw system calls only, so no library code touches the vector
 * registers.  An interrupted sleep (EINTR) is fine: that is what any
 * signal does.  Prints "FAIL ..." and exits 1 on any change. */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

struct ksigaltstack {
	uint64_t sp;
	int32_t flags, pad;
	uint64_t size;
};

static const uint64_t want[8] = {
	0x0123456789abcdefull, 0xfedcba9876543210ull, 0x5555aaaa5555aaaaull, 0xdeadbeefcafef00dull,
	0x1111222233334444ull, 0x9999888877776666ull, 0x0f0f0f0ff0f0f0f0ull, 0x7777000077770000ull,
};
static const uint32_t want_mxcsr = 0x7f80 | 0x6000;	/* all masked, round toward zero */
static char altstack[65536];

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys4(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

static void out(const char *s, size_t n)
{
	while (n) {
		long w = sys3(SYS_write, 1, (long)s, (long)n);

		if (w == -4)	/* EINTR */
			continue;
		if (w <= 0)
			sys3(SYS_exit_group, 99, 0, 0);
		s += w;
		n -= (size_t)w;
	}
}

static void fail(const char *why)
{
	out("FAIL ", 5);
	out(why, strlen(why));
	out("\n", 1);
	sys3(SYS_exit_group, 1, 0, 0);
}

static __attribute__((target("avx"))) void load_vectors(void)
{
	__asm__ volatile("vmovdqu %0, %%ymm14\n\tvmovdqu %1, %%ymm15\n\tldmxcsr %2"
			 : : "m"(want[0]), "m"(want[4]), "m"(want_mxcsr) : "xmm14", "xmm15");
}

static __attribute__((target("avx"))) void check_vectors(void)
{
	uint64_t got[8];
	uint32_t mxcsr;

	__asm__ volatile("vmovdqu %%ymm14, %0\n\tvmovdqu %%ymm15, %1\n\tstmxcsr %2"
			 : "=m"(got[0]), "=m"(got[4]), "=m"(mxcsr));
	if (memcmp(got, want, sizeof(want)) != 0)
		fail("ymm14/ymm15 changed");
	if (mxcsr != want_mxcsr)
		fail("MXCSR changed");
}

static void check_signals(void)
{
	uint64_t mask = 0, want_mask = 1ull << (SIGUSR1 - 1) | 1ull << (SIGUSR2 - 1);
	struct ksigaltstack ss;

	if (sys4(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&mask, 8) != 0 || mask != want_mask)
		fail("signal mask changed");
	if (sys3(SYS_sigaltstack, 0, (long)&ss, 0) != 0 || ss.sp != (uint64_t)altstack ||
	    ss.size != sizeof(altstack) || ss.flags != 0)
		fail("alternate signal stack changed");
}

static void on_usr(int sig)
{
	(void)sig;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr, .sa_flags = SA_ONSTACK };
	struct ksigaltstack ss = { (uint64_t)altstack, 0, 0, sizeof(altstack) };
	uint64_t mask = 1ull << (SIGUSR1 - 1) | 1ull << (SIGUSR2 - 1);

	sigaction(SIGUSR1, &sa, NULL);
	if (sys3(SYS_sigaltstack, (long)&ss, 0, 0) != 0 ||
	    sys4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8) != 0)
		fail("setup");
	load_vectors();
	for (unsigned long n = 0;; n++) {
		struct timespec ts = { 0, 20 * 1000000L };
		char line[32] = "count ", digits[24];
		size_t len = 6, d = 0;

		check_vectors();
		check_signals();
		for (unsigned long v = n; d == 0 || v; v /= 10)
			digits[d++] = (char)('0' + v % 10);
		while (d)
			line[len++] = digits[--d];
		line[len++] = '\n';
		out(line, len);
		/* Interrupted (EINTR): go on, as after any signal. */
		sys3(SYS_nanosleep, (long)&ts, 0, 0);
	}
}
