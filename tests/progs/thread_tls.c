/* thread_tls: NTHREADS threads, each counting in its own thread-local
 * storage and in its own AVX registers.  Each step a thread loads its own
 * vectors into ymm8-ymm15 and, inside one asm block that never spills
 * them, adds ymm15 to ymm8-ymm14 many times, sleeps 5 ms with a raw
 * nanosleep, and adds again; then it checks the sums, its __thread
 * values and its fs_base.  A capture lands inside the computation or the
 * sleep of every thread, with the values only in that thread's registers.
 * The main thread checks that every thread keeps stepping. */
#include <asm/prctl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>

#define KIND "thread_tls"
#include "zdtm.h"

#define NTHREADS 4

struct vstate {
	uint64_t y[8][4];	/* ymm8..ymm15; ymm15 is the increment */
};

static __thread uint64_t t_magic;
static __thread long t_steps;
static __thread uint64_t t_words[16];

static volatile long steps[NTHREADS];
static const char *volatile broken;

static void step(struct vstate *s, const struct timespec *ts, unsigned long n)
{
	asm volatile("vmovdqu 0(%[s]), %%ymm8\n\t"
		     "vmovdqu 32(%[s]), %%ymm9\n\t"
		     "vmovdqu 64(%[s]), %%ymm10\n\t"
		     "vmovdqu 96(%[s]), %%ymm11\n\t"
		     "vmovdqu 128(%[s]), %%ymm12\n\t"
		     "vmovdqu 160(%[s]), %%ymm13\n\t"
		     "vmovdqu 192(%[s]), %%ymm14\n\t"
		     "vmovdqu 224(%[s]), %%ymm15\n\t"
		     "mov %[n], %%r8\n"
		     "1:\n\t"
		     "vpaddq %%ymm15, %%ymm8, %%ymm8\n\t"
		     "vpaddq %%ymm15, %%ymm9, %%ymm9\n\t"
		     "vpaddq %%ymm15, %%ymm10, %%ymm10\n\t"
		     "vpaddq %%ymm15, %%ymm11, %%ymm11\n\t"
		     "vpaddq %%ymm15, %%ymm12, %%ymm12\n\t"
		     "vpaddq %%ymm15, %%ymm13, %%ymm13\n\t"
		     "vpaddq %%ymm15, %%ymm14, %%ymm14\n\t"
		     "dec %%r8\n\t"
		     "jnz 1b\n\t"
		     "mov $35, %%eax\n\t"
		     "mov %[ts], %%rdi\n\t"
		     "xor %%esi, %%esi\n\t"
		     "syscall\n\t"
		     "mov %[n], %%r8\n"
		     "2:\n\t"
		     "vpaddq %%ymm15, %%ymm8, %%ymm8\n\t"
		     "vpaddq %%ymm15, %%ymm9, %%ymm9\n\t"
		     "vpaddq %%ymm15, %%ymm10, %%ymm10\n\t"
		     "vpaddq %%ymm15, %%ymm11, %%ymm11\n\t"
		     "vpaddq %%ymm15, %%ymm12, %%ymm12\n\t"
		     "vpaddq %%ymm15, %%ymm13, %%ymm13\n\t"
		     "vpaddq %%ymm15, %%ymm14, %%ymm14\n\t"
		     "dec %%r8\n\t"
		     "jnz 2b\n\t"
		     "vmovdqu %%ymm8, 0(%[s])\n\t"
		     "vmovdqu %%ymm9, 32(%[s])\n\t"
		     "vmovdqu %%ymm10, 64(%[s])\n\t"
		     "vmovdqu %%ymm11, 96(%[s])\n\t"
		     "vmovdqu %%ymm12, 128(%[s])\n\t"
		     "vmovdqu %%ymm13, 160(%[s])\n\t"
		     "vmovdqu %%ymm14, 192(%[s])\n\t"
		     "vzeroupper\n\t"
		     : : [s] "r"(s), [ts] "r"(ts), [n] "r"(n)
		     : "rax", "rcx", "rsi", "rdi", "r8", "r11", "memory", "cc", "xmm8", "xmm9",
		       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

static uint64_t fs_base(void)
{
	uint64_t fs = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	return fs;
}

static void *worker(void *arg)
{
	long me = (long)arg;
	const struct timespec ts = { 0, 5 * 1000000L };
	const unsigned long iters = 200000;
	struct vstate s, want;
	uint64_t fs = fs_base();

	t_magic = 0x7e1a5c0ffee10000ull + (uint64_t)me;
	for (int i = 0; i < 16; i++)
		t_words[i] = t_magic * (uint64_t)(i + 1);
	for (int r = 0; r < 8; r++)
		for (int i = 0; i < 4; i++)
			s.y[r][i] = (0x0123456789abcdefull ^ ((uint64_t)me << 40)) * (uint64_t)(r * 4 + i + 1) |
				    (r == 7);
	want = s;
	for (;;) {
		for (int r = 0; r < 7; r++)
			for (int i = 0; i < 4; i++)
				want.y[r][i] += 2 * iters * want.y[7][i];
		step(&s, &ts, iters);
		for (int r = 0; r < 7; r++)
			for (int i = 0; i < 4; i++)
				if (s.y[r][i] != want.y[r][i])
					broken = zdtm_why("thread %ld step %ld: ymm%d qword %d is %#llx, expected %#llx",
							  me, t_steps, r + 8, i, (unsigned long long)s.y[r][i],
							  (unsigned long long)want.y[r][i]);
		if (fs_base() != fs || t_magic != 0x7e1a5c0ffee10000ull + (uint64_t)me)
			broken = zdtm_why("thread %ld: fs_base %#llx (was %#llx), TLS magic %#llx", me,
					  (unsigned long long)fs_base(), (unsigned long long)fs,
					  (unsigned long long)t_magic);
		for (int i = 0; i < 16; i++)
			if (t_words[i] != t_magic * (uint64_t)(i + 1))
				broken = zdtm_why("thread %ld: TLS word %d changed", me, i);
		if (t_steps != steps[me])
			broken = zdtm_why("thread %ld: TLS counts %ld steps, the shared count %ld", me,
					  t_steps, steps[me]);
		t_steps++;
		steps[me] = t_steps;
	}
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	pthread_t t;

	(void)argc, (void)argv;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		return "this CPU has no AVX2";
	for (long i = 0; i < NTHREADS; i++)
		if (pthread_create(&t, NULL, worker, (void *)i))
			return "pthread_create";
	return NULL;
}

/* Every thread steps on: none is lost, stuck, or wrong. */
static const char *check(void)
{
	static long last[NTHREADS], stuck[NTHREADS];

	if (broken)
		return broken;
	for (int i = 0; i < NTHREADS; i++) {
		if (steps[i] == last[i] && ++stuck[i] > 60)
			return zdtm_why("thread %d stopped stepping at %ld", i, steps[i]);
		if (steps[i] != last[i])
			stuck[i] = 0;
		last[i] = steps[i];
	}
	return NULL;
}
