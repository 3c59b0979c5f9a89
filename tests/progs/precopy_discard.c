/* precopy_discard: gives back memory that pre-copy has sent, while the
 * passes go on, for precopy.test.
 *	precopy_discard [MIB [SLEEP_US]]
 * MIB of anonymous memory in blocks of 8 pages, swept over again and
 * again (as fast as it can, or SLEEP_US after each 64 blocks), each block
 * by its number modulo 4:
 *	0  kept: filled once, never written again
 *	1  rewritten with the next generation on each sweep
 *	2  filled, then MADV_DONTNEED (zeros), then filled again, ...
 *	3  filled, then MADV_FREE (the old bytes or zeros: the kernel may
 *	   reclaim them at any moment), half of the time a sweep later
 *	   MADV_PAGEOUT (reclaimed now: zeros, where mincore(2) says the
 *	   page is gone), then filled again
 * and besides it, after each 64 blocks, the first 16 blocks of kinds 2
 * and 3 once more (a process that runs at all between a pass and the
 * hold changes some of them), one of 8 small mappings of its
 * own (guard pages around: never merged with another) is replaced, in
 * turn, by a fresh mapping at the same address (mmap MAP_FIXED: zeros,
 * then some pages filled) or by the pages of a source mapping moved onto
 * it (mremap MREMAP_DONTUNMAP: the source reads zeros afterwards);
 * and after each 8 small ones a large mapping, of whole page tables (4
 * MiB at a 2 MiB boundary), is replaced by a fresh one with pages filled
 * in its first half only: its second half has no page table, no page
 * table entry to tell a pass that its pages are gone.
 * Each page's expected contents (zeros, a generation's pattern, or
 * either) are kept aside, and checked before the page is changed: a copy
 * restored from memory that is not the original's at one instant (a page
 * discarded after it was sent, and not sent as zeros) prints "FAIL
 * precopy_discard: ..." within one sweep.  SIGUSR1 checks every page at
 * once and prints PASS or FAIL.  Prints "count N" every 100 ms and
 * "sweep N" after each sweep. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "say.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGE 4096ul
#define WORDS 512
#define BLOCK 8			/* pages */
#define BATCH 64		/* blocks between two small mappings */
#define HOT 16			/* blocks of kinds 2 and 3 changed after each batch */
#define NSMALL 8		/* small mappings, and one source */
#define SMALL 16		/* pages in each */
#define LARGE 1024		/* pages in the large mapping: 4 MiB */
#define HUGE (2ul << 20)	/* what a page table covers */
#define EITHER 0x80000000u	/* st: the pattern or zeros */
#define TRIED 0x40000000u	/* st: MADV_PAGEOUT was tried */
#define GEN_MAX 0x3fffffffu

static unsigned char *big, *small[NSMALL + 1], *large;
static uint64_t nbig;		/* pages in big */
static uint32_t *st;		/* per page: 0 zeros, else generation (| EITHER) */
static volatile sig_atomic_t check_all;
static uint64_t reclaimed;	/* pages MADV_PAGEOUT took */

/* Pages: big's first, then each small mapping's, the source's last. */
static volatile uint64_t *page(uint64_t p)
{
	if (p < nbig)
		return (volatile uint64_t *)(big + p * PAGE);
	p -= nbig;
	if (p >= (NSMALL + 1) * SMALL)
		return (volatile uint64_t *)(large + (p - (NSMALL + 1) * SMALL) * PAGE);
	return (volatile uint64_t *)(small[p / SMALL] + p % SMALL * PAGE);
}

static uint64_t word(uint64_t p, uint32_t gen, int w)
{
	return (p + 1) << 40 | (uint64_t)(gen & GEN_MAX) << 9 | (uint64_t)w;
}

static void fill(uint64_t p, uint32_t gen)
{
	volatile uint64_t *m = page(p);

	for (int w = 0; w < WORDS; w++)
		m[w] = word(p, gen, w);
	st[p] = gen;
}

/* Whether page p holds what st says; *zero tells which it was. */
static int holds(uint64_t p, int *zero, char *why, size_t n)
{
	volatile uint64_t *m = page(p);
	uint32_t want = st[p], gen = want & GEN_MAX;
	int z = 1, pat = gen != 0;

	for (int w = 0; w < WORDS; w++) {
		uint64_t v = m[w];

		z &= v == 0;
		pat &= v == word(p, gen, w);
		if (!z && !pat) {
			snprintf(why, n, "page %llu word %d holds 0x%llx, not %s%s (generation %u)",
				 (unsigned long long)p, w, (unsigned long long)v,
				 want == 0 ? "zeros" : (want & EITHER) ? "zeros or its pattern" : "its pattern",
				 w ? " like the words before it" : "", gen);
			return 0;
		}
	}
	*zero = z;
	if (z && want && !(want & EITHER)) {
		snprintf(why, n, "page %llu reads zeros, not its pattern of generation %u (discarded in the copy, not in the original)",
			 (unsigned long long)p, gen);
		return 0;
	}
	return 1;
}

static void expect(uint64_t p)
{
	char why[256];
	int zero;

	if (!holds(p, &zero, why, sizeof(why))) {
		say("FAIL precopy_discard: %s\n", why);
		exit(1);
	}
}

/* Checks every page: what SIGUSR1 asks. */
static void check_every_page(uint64_t total)
{
	uint64_t zeros = 0, pats = 0, either = 0, either_zero = 0;
	char why[256];
	int zero;

	for (uint64_t p = 0; p < total; p++) {
		if (!holds(p, &zero, why, sizeof(why))) {
			say("FAIL precopy_discard: %s\n", why);
			return;
		}
		if (st[p] & EITHER) {
			either++;
			either_zero += zero;
		} else if (st[p]) {
			pats++;
		} else {
			zeros++;
		}
	}
	say("PASS precopy_discard: %llu pages hold zeros, %llu their pattern, %llu either (%llu of them zeros); %llu reclaimed by MADV_PAGEOUT so far\n",
	    (unsigned long long)zeros, (unsigned long long)pats, (unsigned long long)either,
	    (unsigned long long)either_zero, (unsigned long long)reclaimed);
}

static void on_usr1(int sig)
{
	(void)sig;
	check_all = 1;
}

static void die(const char *what)
{
	say("FAIL precopy_discard: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One block of big, by its kind. */
static void sweep_block(uint64_t b, uint32_t gen, int pageout)
{
	uint64_t p0 = b * BLOCK;
	unsigned char *a = big + p0 * PAGE, vec[BLOCK];

	for (uint64_t p = p0; p < p0 + BLOCK; p++)
		expect(p);
	switch (b % 4) {
	case 0:
		return;
	case 1:
		for (uint64_t p = p0; p < p0 + BLOCK; p++)
			fill(p, gen);
		return;
	case 2:
		if (st[p0] == 0) {
			for (uint64_t p = p0; p < p0 + BLOCK; p++)
				fill(p, gen);
			return;
		}
		if (madvise(a, BLOCK * PAGE, MADV_DONTNEED) < 0)
			die("MADV_DONTNEED");
		for (uint64_t p = p0; p < p0 + BLOCK; p++)
			st[p] = 0;
		return;
	case 3:
		if (!(st[p0] & EITHER) && st[p0]) {
			if (madvise(a, BLOCK * PAGE, MADV_FREE) < 0)
				die("MADV_FREE");
			for (uint64_t p = p0; p < p0 + BLOCK; p++)
				st[p] |= EITHER;
			return;
		}
		/* Reclaimed for sure: a page no longer mapped reads zeros (a
		 * clean MADV_FREE page is dropped, never written to swap).
		 * A sweep after MADV_FREE: the pages have reached the LRU
		 * lists, where reclaim finds them. */
		if (pageout && (st[p0] & EITHER) && !(st[p0] & TRIED)) {
			if (madvise(a, BLOCK * PAGE, MADV_PAGEOUT) < 0 || mincore(a, BLOCK * PAGE, vec) < 0)
				die("MADV_PAGEOUT");
			for (int k = 0; k < BLOCK; k++) {
				st[p0 + k] = (vec[k] & 1) ? st[p0 + k] | TRIED : 0;
				reclaimed += !(vec[k] & 1);
			}
			return;
		}
		for (uint64_t p = p0; p < p0 + BLOCK; p++)
			fill(p, gen);
		return;
	}
}

/* Small mapping i replaced: afresh (zeros, then every third page
 * filled), or by the source's pages (the source reading zeros after). */
static void replace_small(int i, uint32_t gen, int move)
{
	uint64_t p0 = nbig + (uint64_t)i * SMALL, s0 = nbig + (uint64_t)NSMALL * SMALL;

	for (uint64_t p = p0; p < p0 + SMALL; p++)
		expect(p);
	if (!move) {
		if (mmap(small[i], SMALL * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			die("mmap MAP_FIXED");
		for (int k = 0; k < SMALL; k++)
			st[p0 + k] = 0;
		for (int k = 0; k < SMALL; k += 3)
			fill(p0 + k, gen);
		return;
	}
	/* The source: zeros, then every other page filled. */
	for (int k = 0; k < SMALL; k++)
		expect(s0 + k);
	if (madvise(small[NSMALL], SMALL * PAGE, MADV_DONTNEED) < 0)
		die("MADV_DONTNEED");
	for (int k = 0; k < SMALL; k++) {
		st[s0 + k] = 0;
		if (k % 2)
			fill(s0 + k, gen);
	}
	if (mremap(small[NSMALL], SMALL * PAGE, SMALL * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
		   small[i]) == MAP_FAILED)
		die("mremap MREMAP_DONTUNMAP");
	/* The pattern names the page it is in: moved, it is p0's now. */
	for (int k = 0; k < SMALL; k++) {
		st[p0 + k] = 0;
		if (k % 2) {
			for (int w = 0; w < WORDS; w++)
				page(p0 + k)[w] = word(p0 + k, gen, w);
			st[p0 + k] = gen;
		}
		st[s0 + k] = 0;
	}
}

/* The large mapping replaced afresh: unmapped, its page tables go. */
static void replace_large(uint32_t gen)
{
	uint64_t p0 = nbig + (NSMALL + 1) * SMALL;

	for (uint64_t p = p0; p < p0 + LARGE; p++)
		expect(p);
	if (mmap(large, LARGE * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	    MAP_FAILED)
		die("mmap MAP_FIXED");
	for (uint64_t p = p0; p < p0 + LARGE; p++)
		st[p] = 0;
	for (uint64_t k = 0; k < LARGE / 2; k += 7)
		fill(p0 + k, gen);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 16;
	long sleep_us = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	uint64_t nblocks, total, b = 0, beat = 0, next_beat, batch = 0;
	uint32_t gen = 2;
	unsigned char *r;
	size_t rlen;

	nbig = mib * 256 / BLOCK * BLOCK;
	nblocks = nbig / BLOCK;
	total = nbig + (NSMALL + 1) * SMALL + LARGE;
	signal(SIGUSR1, on_usr1);
	st = mmap(NULL, total * sizeof(*st), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* big and the small mappings each between PROT_NONE guard pages:
	 * no mapping of theirs merges with another, before or after one is
	 * replaced. */
	rlen = (nbig + 1 + (NSMALL + 1) * (SMALL + 1)) * PAGE + LARGE * PAGE + 2 * HUGE;
	r = mmap(NULL, rlen + PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (st == MAP_FAILED || r == MAP_FAILED)
		die("mmap");
	big = r + PAGE;
	if (mprotect(big, nbig * PAGE, PROT_READ | PROT_WRITE) < 0)
		die("mprotect");
	for (int i = 0; i <= NSMALL; i++) {
		small[i] = big + (nbig + 1 + (uint64_t)i * (SMALL + 1)) * PAGE;
		if (mmap(small[i], SMALL * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			die("mmap MAP_FIXED");
	}
	large = (unsigned char *)(((uintptr_t)small[NSMALL] + (SMALL + 1) * PAGE + HUGE - 1) & ~(HUGE - 1));
	if (mmap(large, LARGE * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	    MAP_FAILED)
		die("mmap MAP_FIXED");
	/* Generation 1 everywhere: every page is sent by the first pass. */
	for (uint64_t p = 0; p < total; p++)
		fill(p, 1);
	say("ready %llu MiB\n", (unsigned long long)mib);
	next_beat = now_ns();
	for (;;) {
		uint64_t t = now_ns();

		if (t >= next_beat) {
			say("count %llu\n", (unsigned long long)beat++);
			next_beat = t + 100000000;
		}
		if (check_all) {
			check_all = 0;
			check_every_page(total);
		}
		for (int k = 0; k < BATCH; k++) {
			sweep_block(b, gen, (int)(b / 4 % 2));
			if (++b == nblocks) {
				b = 0;
				say("sweep %u\n", gen - 1);
				gen = gen % GEN_MAX + 1;
			}
		}
		/* The first blocks of kinds 2 and 3 are given back and filled
		 * again after every batch too: a few milliseconds of the
		 * process between a pass and the hold change some of them. */
		for (uint64_t h = 0; h < HOT && 4 * h + 3 < nblocks; h++) {
			sweep_block(4 * h + 2, gen, 0);
			sweep_block(4 * h + 3, gen, (int)(h % 2));
		}
		replace_small((int)(batch % NSMALL), gen, (int)(batch / NSMALL % 2));
		if (batch % NSMALL == NSMALL - 1)
			replace_large(gen);
		batch++;
		if (sleep_us > 0) {
			struct timespec ts = { sleep_us / 1000000, sleep_us % 1000000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
}
