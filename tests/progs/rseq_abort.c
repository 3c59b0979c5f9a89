/* rseq_abort: loops inside a restartable sequence on glibc's registered
 * rseq area (found by __rseq_offset): a critical section that spins
 * ~1 ms, then commits by storing value + 1.  The kernel must send a
 * section that is preempted, signalled or stopped to its abort handler
 * instead of letting it commit.  Each round (40 ms of sections, 10 ms of
 * sleep) checks that every commit counted exactly once, an abort never
 * committed, no section that was held up over 50 ms committed (a capture
 * that lands in a section must come back at its abort handler), and that
 * the thread is still registered (rseq(2) with the same area says EBUSY).
 * A section held up and aborted is reported on its own line. */
#include <stdint.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>

#define KIND "rseq_abort"
#define ZDTM_ROUND
#include "zdtm.h"

#define SPINS 3000000L
#define HELD_NS 50000000LL

static struct rseq *area;
static unsigned area_len;
static volatile uint64_t value;
static uint64_t commits, aborts;
static long long held_commit_ns;
static const char *broken;

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One critical section: 0 if it committed, 1 if it was aborted.  The
 * descriptor goes into __rseq_cs; the abort handler is preceded by the
 * signature the kernel checks (in a ud1 instruction, as librseq does). */
static int section(void)
{
	__asm__ goto(".pushsection __rseq_cs, \"aw\"\n\t"
		     ".balign 32\n"
		     "3:\t.long 0, 0\n\t"
		     ".quad 1f, 2f - 1f, 4f\n\t"
		     ".popsection\n\t"
		     "leaq 3b(%%rip), %%rax\n\t"
		     "movq %%rax, %[cs]\n"
		     "1:\tmovq %[val], %%rax\n\t"
		     "movq %[spins], %%rcx\n"
		     "5:\tdecq %%rcx\n\t"
		     "jnz 5b\n\t"
		     "incq %%rax\n\t"
		     "movq %%rax, %[val]\n"
		     "2:\n\t"
		     ".pushsection __rseq_failure, \"ax\"\n\t"
		     ".byte 0x0f, 0xb9, 0x3d\n\t"
		     ".long %c[sig]\n"
		     "4:\tjmp %l[abort]\n\t"
		     ".popsection"
		     :
		     : [cs] "m"(area->rseq_cs), [val] "m"(value), [spins] "r"(SPINS),
		       [sig] "i"(RSEQ_SIG)
		     : "rax", "rcx", "memory", "cc"
		     : abort);
	return 0;
abort:
	return 1;
}

/* Registering the same area again says EBUSY while it is registered; an
 * unregistered thread is registered by the call (and is then no proof). */
static int registered(unsigned len)
{
	return syscall(SYS_rseq, area, len, 0, RSEQ_SIG) < 0 && errno == EBUSY;
}

static const char *setup(int argc, char **argv)
{
	char *tp;

	(void)argc, (void)argv;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	area = (struct rseq *)(tp + __rseq_offset);
	/* glibc registers sizeof(struct rseq) = 32; newer ones export a
	 * smaller __rseq_size: whichever the kernel says EBUSY to. */
	if (__rseq_size == 0) {
		errno = ENOSYS;
		return "glibc did not register rseq";
	}
	if (registered(__rseq_size))
		area_len = __rseq_size;
	else if (registered(32))
		area_len = 32;
	else
		return "the thread's rseq registration";
	return NULL;
}

static void between_rounds(void)
{
	long long end = now_ns() + 40000000LL;

	while (!broken && now_ns() < end) {
		uint64_t before = value;
		long long t0 = now_ns(), took;
		int aborted = section();

		took = now_ns() - t0;
		if (aborted) {
			aborts++;
			if (value != before)
				broken = "an aborted section had committed";
			if (took > HELD_NS)
				say("rseq_abort: a section held up %lld ms came back at its abort handler\n",
				    took / 1000000);
		} else {
			commits++;
			if (value != before + 1)
				broken = "a commit did not add exactly one";
			if (took > HELD_NS)
				held_commit_ns = took;
		}
	}
	msleep(10);
}

static const char *check(void)
{
	if (broken)
		return zdtm_why("%s (value %llu, %llu commits, %llu aborts)", broken,
				(unsigned long long)value, (unsigned long long)commits,
				(unsigned long long)aborts);
	if (value != commits)
		return zdtm_why("value %llu after %llu commits", (unsigned long long)value,
				(unsigned long long)commits);
	if (held_commit_ns)
		return zdtm_why("a section held up %lld ms committed instead of aborting",
				held_commit_ns / 1000000);
	errno = 0;
	if (!registered(area_len))
		return zdtm_why("the thread is no longer registered for rseq (rseq(2) %s)",
				errno ? strerror(errno) : "registered it anew");
	return NULL;
}
