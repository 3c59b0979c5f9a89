/* avx_tls: state a capture taken mid-computation must keep.  Each step
 * loads known vectors into ymm8-ymm15 (and zmm16-zmm23 when the CPU has
 * AVX-512) and, inside one asm block that never spills them, adds ymm15 to
 * ymm8-ymm14 millions of times, sleeps 20 ms with a raw nanosleep syscall,
 * and adds again; then it checks the sums.  A capture therefore lands
 * inside the computation or inside the syscall with the values only in
 * registers (upper halves included).  Between steps it checks __thread
 * variables, fs_base, a double computation and the x87/SSE rounding mode
 * it set.  Prints "avx ok N"; "FAIL ..." on any mismatch. */
#include <asm/prctl.h>
#include <fenv.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#include "say.h"

struct vstate {
	uint64_t y[8][4];	/* ymm8..ymm15; ymm15 is the increment */
	uint64_t z[8][8];	/* zmm16..zmm23; zmm23 is the increment */
} __attribute__((aligned(64)));

static __thread uint64_t t_magic = 0x7e1a5c0ffee12345ull;
static __thread long t_steps;
static __thread uint64_t t_words[64];
static __thread double t_seed = 1.5;

#define Y_ADDS \
	"vpaddq %%ymm15, %%ymm8, %%ymm8\n\t"	\
	"vpaddq %%ymm15, %%ymm9, %%ymm9\n\t"	\
	"vpaddq %%ymm15, %%ymm10, %%ymm10\n\t"	\
	"vpaddq %%ymm15, %%ymm11, %%ymm11\n\t"	\
	"vpaddq %%ymm15, %%ymm12, %%ymm12\n\t"	\
	"vpaddq %%ymm15, %%ymm13, %%ymm13\n\t"	\
	"vpaddq %%ymm15, %%ymm14, %%ymm14\n\t"
#define Z_ADDS \
	"vpaddq %%zmm23, %%zmm16, %%zmm16\n\t"	\
	"vpaddq %%zmm23, %%zmm17, %%zmm17\n\t"	\
	"vpaddq %%zmm23, %%zmm18, %%zmm18\n\t"	\
	"vpaddq %%zmm23, %%zmm19, %%zmm19\n\t"	\
	"vpaddq %%zmm23, %%zmm20, %%zmm20\n\t"	\
	"vpaddq %%zmm23, %%zmm21, %%zmm21\n\t"	\
	"vpaddq %%zmm23, %%zmm22, %%zmm22\n\t"
#define Y_MOVES(op, a, b) \
	op " " a "0(%[s])" b "%%ymm8\n\t"	\
	op " " a "32(%[s])" b "%%ymm9\n\t"	\
	op " " a "64(%[s])" b "%%ymm10\n\t"	\
	op " " a "96(%[s])" b "%%ymm11\n\t"	\
	op " " a "128(%[s])" b "%%ymm12\n\t"	\
	op " " a "160(%[s])" b "%%ymm13\n\t"	\
	op " " a "192(%[s])" b "%%ymm14\n\t"	\
	op " " a "224(%[s])" b "%%ymm15\n\t"
#define Y_LOAD	Y_MOVES("vmovdqu", "", ", ")
#define Z_LOAD \
	"vmovdqu64 256(%[s]), %%zmm16\n\t"	\
	"vmovdqu64 320(%[s]), %%zmm17\n\t"	\
	"vmovdqu64 384(%[s]), %%zmm18\n\t"	\
	"vmovdqu64 448(%[s]), %%zmm19\n\t"	\
	"vmovdqu64 512(%[s]), %%zmm20\n\t"	\
	"vmovdqu64 576(%[s]), %%zmm21\n\t"	\
	"vmovdqu64 640(%[s]), %%zmm22\n\t"	\
	"vmovdqu64 704(%[s]), %%zmm23\n\t"
#define Y_STORE \
	"vmovdqu %%ymm8, 0(%[s])\n\t"		\
	"vmovdqu %%ymm9, 32(%[s])\n\t"		\
	"vmovdqu %%ymm10, 64(%[s])\n\t"		\
	"vmovdqu %%ymm11, 96(%[s])\n\t"		\
	"vmovdqu %%ymm12, 128(%[s])\n\t"	\
	"vmovdqu %%ymm13, 160(%[s])\n\t"	\
	"vmovdqu %%ymm14, 192(%[s])\n\t"	\
	"vmovdqu %%ymm15, 224(%[s])\n\t"
#define Z_STORE \
	"vmovdqu64 %%zmm16, 256(%[s])\n\t"	\
	"vmovdqu64 %%zmm17, 320(%[s])\n\t"	\
	"vmovdqu64 %%zmm18, 384(%[s])\n\t"	\
	"vmovdqu64 %%zmm19, 448(%[s])\n\t"	\
	"vmovdqu64 %%zmm20, 512(%[s])\n\t"	\
	"vmovdqu64 %%zmm21, 576(%[s])\n\t"	\
	"vmovdqu64 %%zmm22, 640(%[s])\n\t"	\
	"vmovdqu64 %%zmm23, 704(%[s])\n\t"
/* The sleep is a raw syscall so no libc code touches the registers. */
#define SLEEP \
	"mov $35, %%eax\n\t"			\
	"mov %[ts], %%rdi\n\t"			\
	"xor %%esi, %%esi\n\t"			\
	"syscall\n\t"
#define LOOP(label, adds) \
	"mov %[n], %%r8\n"			\
	label ":\n\t"				\
	adds					\
	"dec %%r8\n\t"				\
	"jnz " label "b\n\t"
#define CLOBBERS "rax", "rcx", "rsi", "rdi", "r8", "r11", "memory", "cc", \
	"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

static void step_avx2(struct vstate *s, const struct timespec *ts, unsigned long n)
{
	asm volatile(Y_LOAD LOOP("1", Y_ADDS) SLEEP LOOP("2", Y_ADDS) Y_STORE "vzeroupper\n\t"
		     : : [s] "r"(s), [ts] "r"(ts), [n] "r"(n) : CLOBBERS);
}

__attribute__((target("avx512f")))
static void step_avx512(struct vstate *s, const struct timespec *ts, unsigned long n)
{
	asm volatile(Y_LOAD Z_LOAD LOOP("1", Y_ADDS Z_ADDS) SLEEP LOOP("2", Y_ADDS Z_ADDS)
		     Y_STORE Z_STORE "vzeroupper\n\t"
		     : : [s] "r"(s), [ts] "r"(ts), [n] "r"(n)
		     : CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
		       "xmm22", "xmm23");
}

/* A dependent chain of double operations the compiler keeps in xmm
 * registers: captured mid-loop, it still gives the same bits. */
static double dwork(double seed, long iters)
{
	double a = seed, b = 1.0;

	for (long i = 0; i < iters; i++) {
		a = a * 1.0000001 + b;
		b = b * 0.9999999 + 1e-9 * a;
	}
	return a + b;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t fs_base(void)
{
	uint64_t fs = 0;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
	return fs;
}

static unsigned mxcsr(void)
{
	unsigned m;

	asm volatile("stmxcsr %0" : "=m"(m));
	return m & ~0x3fu;	/* without the sticky exception flags */
}

static unsigned short x87cw(void)
{
	unsigned short cw;

	asm volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

int main(void)
{
	static struct vstate s, want;
	void (*step)(struct vstate *, const struct timespec *, unsigned long);
	const struct timespec zero = { 0, 0 }, ts = { 0, 20 * 1000000L };
	int avx512;
	unsigned long iters;
	long diters;
	double t, dref;
	uint64_t fs;
	unsigned csr;
	unsigned short cw;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		say("FAIL this CPU has no AVX2\n");
		return 1;
	}
	avx512 = __builtin_cpu_supports("avx512f");
	step = avx512 ? step_avx512 : step_avx2;

	if (fesetround(FE_UPWARD)) {
		say("FAIL fesetround\n");
		return 1;
	}
	csr = mxcsr();
	cw = x87cw();
	fs = fs_base();
	for (int i = 0; i < 64; i++)
		t_words[i] = t_magic ^ (uint64_t)i * 0x100000001ull;

	for (int r = 0; r < 8; r++)
		for (int i = 0; i < 8; i++) {
			uint64_t v = 0x0123456789abcdefull * (uint64_t)(r * 8 + i + 1);

			if (i < 4)
				s.y[r][i] = r == 7 ? v | 1 : v;
			s.z[r][i] = r == 7 ? v | 1 : ~v;
		}

	/* Calibrate: each busy loop ~15 ms, the double loop ~10 ms. */
	t = now_ms();
	step(&s, &zero, 1000000);
	t = now_ms() - t;
	iters = t > 0.01 ? (unsigned long)(1000000 * 30 / t) : 10000000;
	t = now_ms();
	dref = dwork(t_seed, 1000000);
	t = now_ms() - t;
	diters = t > 0.01 ? (long)(1000000 * 10 / t) : 10000000;
	dref = dwork(t_seed, diters);
	want = s;
	say("avx ready avx512 %s iters %lu\n", avx512 ? "yes" : "no", iters);

	for (long n = 0;; n++) {
		double d;

		for (int r = 0; r < 7; r++)
			for (int i = 0; i < 8; i++) {
				if (i < 4)
					want.y[r][i] += 2 * iters * want.y[7][i];
				if (avx512)
					want.z[r][i] += 2 * iters * want.z[7][i];
			}
		step(&s, &ts, iters);
		for (int r = 0; r < 8; r++)
			for (int i = 0; i < 4; i++)
				if (s.y[r][i] != want.y[r][i]) {
					say("FAIL step %ld: ymm%d qword %d is %#llx, expected %#llx\n",
					    n, r + 8, i, (unsigned long long)s.y[r][i],
					    (unsigned long long)want.y[r][i]);
					return 1;
				}
		if (avx512 && memcmp(s.z, want.z, sizeof(s.z))) {
			say("FAIL step %ld: zmm16-zmm23 lost their values\n", n);
			return 1;
		}

		d = dwork(t_seed, diters);
		if (memcmp(&d, &dref, sizeof(d))) {
			say("FAIL step %ld: double computation gave %a, expected %a\n", n, d, dref);
			return 1;
		}
		if (mxcsr() != csr || x87cw() != cw) {
			say("FAIL step %ld: MXCSR %#x x87 CW %#x, set %#x and %#x\n", n,
			    mxcsr(), x87cw(), csr, cw);
			return 1;
		}
		if (fs_base() != fs || t_magic != 0x7e1a5c0ffee12345ull || t_steps != n) {
			say("FAIL step %ld: fs_base %#llx (was %#llx), TLS magic %#llx, steps %ld\n",
			    n, (unsigned long long)fs_base(), (unsigned long long)fs,
			    (unsigned long long)t_magic, t_steps);
			return 1;
		}
		for (int i = 0; i < 64; i++)
			if (t_words[i] != (t_magic ^ (uint64_t)i * 0x100000001ull)) {
				say("FAIL step %ld: TLS word %d changed\n", n, i);
				return 1;
			}
		t_steps++;
		say("avx ok %ld\n", n);
	}
}
