/* gen_writer: rewrites its memory in passes while it measures its own
 * pauses, for the copy-on-write, pre-copy and downtime tests.
 *	gen_writer MIB [RATE [BALLAST]]
 * MIB of anonymous memory, every page touched; RATE MiB/s rewritten (0:
 * none, the default; -1: as fast as it can); BALLAST MiB of memory
 * filled once and never written again, mapped below it (a capture reads
 * it first: a reader that stalls then stalls before the rewritten pages).  Pass g stamps the first and
 * last word of every page with g, in address order, and checks before
 * each write that the page still holds g - 1: a copy restored from memory
 * that was not read at one instant (a page ahead of the pass already
 * newer, or one behind it older) finds it within one pass and prints
 * "FAIL gen_writer: ...".  Prints "count N maxgap_us M" every 100 ms
 * (M: its longest pause so far, between two looks at CLOCK_MONOTONIC),
 * "pause US" for each pause over 1 ms, and "gen G" after each pass. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "say.h"

#define PAGE_WORDS 512

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
	long rate = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	uint64_t ballast = argc > 3 ? strtoull(argv[3], NULL, 10) << 20 : 0;
	uint64_t npages = mib * 256, i = 0, gen = 1, written = 0, beat = 0;
	uint64_t start, last, next_beat, maxgap = 0;
	volatile uint64_t *mem;

	mem = mmap(NULL, npages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		say("FAIL gen_writer: mmap of %llu MiB\n", (unsigned long long)mib);
		return 1;
	}
	/* Mapped after mem: the kernel places it below. */
	if (ballast) {
		volatile uint64_t *b = mmap(NULL, ballast, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (b == MAP_FAILED) {
			say("FAIL gen_writer: mmap of the ballast\n");
			return 1;
		}
		for (uint64_t w = 0; w < ballast / 8; w += 8)
			b[w] = w * 2654435761u + 1;
	}
	/* Generation 0 everywhere, every page touched (random-ish words in
	 * between, so that no page is a zero page). */
	for (uint64_t p = 0; p < npages; p++)
		for (int w = 0; w < PAGE_WORDS; w += 64)
			mem[p * PAGE_WORDS + w] = w ? p * 2654435761u + w : 0;
	for (uint64_t p = 0; p < npages; p++)
		mem[p * PAGE_WORDS + PAGE_WORDS - 1] = 0;
	say("ready %llu MiB\n", (unsigned long long)mib);
	start = last = now_ns();
	next_beat = start;
	for (;;) {
		uint64_t t = now_ns(), budget;

		if (t - last > maxgap)
			maxgap = t - last;
		if (t - last > 1000000)
			say("pause %llu\n", (unsigned long long)((t - last) / 1000));
		last = t;
		if (t >= next_beat) {
			say("count %llu maxgap_us %llu\n", (unsigned long long)beat++,
			    (unsigned long long)(maxgap / 1000));
			next_beat += 100000000;
			if (next_beat < t)
				next_beat = t + 100000000;
		}
		if (rate == 0)
			continue;
		budget = rate < 0 ? 64 : (uint64_t)rate * 256 * (t - start) / 1000000000u - written;
		if (budget > 64)
			budget = 64;
		for (uint64_t k = 0; k < budget; k++) {
			volatile uint64_t *pg = mem + i * PAGE_WORDS;

			if (pg[0] != gen - 1 || pg[PAGE_WORDS - 1] != gen - 1) {
				say("FAIL gen_writer: page %llu holds generation %llu/%llu in pass %llu, not %llu\n",
				    (unsigned long long)i, (unsigned long long)pg[0],
				    (unsigned long long)pg[PAGE_WORDS - 1], (unsigned long long)gen,
				    (unsigned long long)(gen - 1));
				return 1;
			}
			pg[0] = gen;
			pg[PAGE_WORDS - 1] = gen;
			written++;
			if (++i == npages) {
				i = 0;
				say("gen %llu\n", (unsigned long long)gen++);
			}
		}
	}
}
