/* lazysum: MIB of memory with a checksum, checked again and again: the
 * target of a lazy restore, which starts it with most of its pages still
 * on the way.  It fills its buffer (random words, a zero page in eight,
 * the last 16 MiB never touched), keeps the sum, then prints "count N"
 * after each pass over the whole buffer whose sum matches, "FAIL ..."
 * otherwise.  A page that came back as zeros instead of its contents,
 * or not at all, changes the sum.  With a second argument "huge" the
 * buffer is 2 MiB aligned and asks for huge pages (MADV_HUGEPAGE); with
 * "fork", each pass also forks a child that sums the buffer as well
 * (its copy of the memory must get the missing pages too). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "say.h"

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static uint64_t sum_of(const uint64_t *w, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (s ^ w[i]) * 0x100000001b3ull + i;
	return s;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 256, bytes = (mib + 16) << 20;
	size_t n = (mib << 20) / 8, all = bytes / 8;
	int huge = argc > 2 && !strcmp(argv[2], "huge");
	int forks = argc > 2 && !strcmp(argv[2], "fork");
	uint64_t x = 0x2545f4914f6cdd1dull, want;
	char *m = mmap(NULL, bytes + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *w;

	if (m == MAP_FAILED) {
		say("FAIL mmap\n");
		return 1;
	}
	w = (uint64_t *)(((uintptr_t)m + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
	if (huge && madvise(w, bytes, MADV_HUGEPAGE) < 0) {
		say("FAIL madvise\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		w[i] = (i / 512) % 8 == 7 ? 0 : xorshift(&x);
	want = sum_of(w, all);
	say("ready %llx\n", (unsigned long long)want);
	for (long k = 0;; k++) {
		pid_t c = forks ? fork() : 1;
		uint64_t got;
		int st = 0;

		/* The child sums alone first, so that its copy of the
		 * memory lacks what the parent's lacks (a pass of the
		 * parent's would bring its pages in before). */
		if (c == 0)
			_exit(sum_of(w, all) == want ? 0 : 3);
		if (forks && waitpid(c, &st, 0) != c && errno == ECHILD)
			continue;	/* forked before a capture: not restored with it */
		if (forks && (!WIFEXITED(st) || WEXITSTATUS(st))) {
			say("FAIL the child's sum (status %#x)\n", st);
			continue;
		}
		got = sum_of(w, all);
		if (got != want)
			say("FAIL sum %llx, want %llx\n", (unsigned long long)got, (unsigned long long)want);
		else
			say("count %ld\n", k);
		usleep(20000);
	}
}
