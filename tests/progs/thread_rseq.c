/* thread_rseq: a second thread loops inside a restartable sequence on
 * its own glibc rseq area (each thread has one): a critical section that
 * spins ~1 ms, then commits by storing value + 1.  A capture stopping it
 * inside a section must bring it back at the section's abort handler, in
 * the original and in the copy, with its registration (its own, not the
 * main thread's) in place.  As rseq_abort.c, for a thread other than the
 * main one. */
#include <pthread.h>
#include <stdint.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>

#define KIND "thread_rseq"
#include "zdtm.h"

#define SPINS 3000000L
#define HELD_NS 50000000LL

static __thread struct rseq *area;
static volatile uint64_t value, commits, aborts, rounds;
static volatile long long held_commit_ns;
static const char *volatile broken;
static unsigned area_len;

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

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

static int registered(unsigned len)
{
	return syscall(SYS_rseq, area, len, 0, RSEQ_SIG) < 0 && errno == EBUSY;
}

static void *worker(void *arg)
{
	char *tp;

	(void)arg;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	area = (struct rseq *)(tp + __rseq_offset);
	area_len = registered(__rseq_size) ? __rseq_size : registered(32) ? 32 : 0;
	if (!area_len) {
		broken = "the thread has no rseq registration";
		return NULL;
	}
	for (;;) {
		uint64_t before = value;
		long long t0 = now_ns(), took;
		int aborted = section();

		took = now_ns() - t0;
		if (aborted) {
			aborts++;
			if (value != before)
				broken = "an aborted section had committed";
		} else {
			commits++;
			if (value != before + 1)
				broken = "a commit did not add exactly one";
			if (took > HELD_NS)
				held_commit_ns = took;
		}
		if ((commits + aborts) % 64 == 0) {
			errno = 0;
			if (!registered(area_len))
				broken = "the thread is no longer registered for rseq";
			rounds++;
		}
	}
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	pthread_t t;

	(void)argc, (void)argv;
	if (__rseq_size == 0) {
		errno = ENOSYS;
		return "glibc did not register rseq";
	}
	if (pthread_create(&t, NULL, worker, NULL))
		return "pthread_create";
	return NULL;
}

static const char *check(void)
{
	static uint64_t last, stuck;

	if (broken)
		return zdtm_why("%s (value %llu, %llu commits, %llu aborts)", broken,
				(unsigned long long)value, (unsigned long long)commits,
				(unsigned long long)aborts);
	if (held_commit_ns)
		return zdtm_why("a section held up %lld ms committed instead of aborting",
				held_commit_ns / 1000000);
	{
		/* value goes up in the section, commits just after it */
		uint64_t c = commits, v = value, c2 = commits;

		if (v < c || v > c2 + 1)
			return zdtm_why("value %llu after %llu commits", (unsigned long long)v,
					(unsigned long long)c);
	}
	if (commits + aborts == last && ++stuck > 60)
		return "the rseq thread stopped";
	if (commits + aborts != last)
		stuck = 0;
	last = commits + aborts;
	return NULL;
}
