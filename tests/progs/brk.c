/* brk: grows the heap every 50 ms with sbrk(64 KiB) and with malloc of a
 * big (mmap) and a small (arena) block, fills each with a pattern, and
 * re-verifies every block so far.  After a restore the program break must
 * be where it was, and still grow.  Prints "brk ok N BRK". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "say.h"

#define STEP	(64 * 1024)
#define BIG	(160 * 1024)	/* above glibc's mmap threshold */
#define SMALL	200
#define MAXN	1000		/* then it stops growing and only verifies */

struct block {
	uint64_t *p;
	size_t words;
};

static struct block blocks[3 * MAXN];
static int nblocks;

static uint64_t pattern(const uint64_t *p, size_t i)
{
	return ((uintptr_t)p + i * 8) * 0x9e3779b97f4a7c15ull;
}

static int add(void *p, size_t bytes)
{
	struct block *b = &blocks[nblocks++];

	b->p = p;
	b->words = bytes / 8;
	for (size_t i = 0; i < b->words; i++)
		b->p[i] = pattern(b->p, i);
	return 0;
}

static int verify(long n)
{
	for (int k = 0; k < nblocks; k++) {
		struct block *b = &blocks[k];

		for (size_t i = 0; i < b->words; i++)
			if (b->p[i] != pattern(b->p, i)) {
				say("FAIL round %ld: block %d at %p word %zu is %#llx\n", n, k,
				    (void *)b->p, i, (unsigned long long)b->p[i]);
				return -1;
			}
	}
	return 0;
}

int main(void)
{
	for (long n = 0;; n++) {
		if (n < MAXN) {
			char *old = sbrk(STEP), *now = sbrk(0);
			void *big = malloc(BIG), *small = malloc(SMALL);

			if (old == (void *)-1) {
				say("FAIL round %ld: sbrk: %s\n", n, strerror(errno));
				return 1;
			}
			if (now != old + STEP) {
				say("FAIL round %ld: sbrk(%d) returned %p but the break is %p\n",
				    n, STEP, (void *)old, (void *)now);
				return 1;
			}
			if (!big || !small) {
				say("FAIL round %ld: malloc\n", n);
				return 1;
			}
			add(old, STEP);
			add(big, BIG);
			add(small, SMALL);
		}
		if (verify(n))
			return 1;
		say("brk ok %ld %p\n", n, sbrk(0));
		msleep(50);
	}
}
