/* counter: prints "count N" every 50 ms from 0 upward, checking on each
 * round that its data, bss and heap still hold what it wrote at start.
 * With an argument LAST it exits with status 3 after "count LAST". */
#include <stdint.h>
#include <stdlib.h>

#include "say.h"

#define HEAP_WORDS (1 << 17)	/* 1 MiB */

static uint64_t data_words[512] = { 1 };	/* .data */
static uint64_t bss_words[8192];		/* .bss */
static long shadow;				/* the count, kept twice */

static uint64_t pattern(uint64_t i, uint64_t salt)
{
	return (i + 1) * 0x9e3779b97f4a7c15ull ^ salt;
}

static int check(const char *what, const uint64_t *w, size_t n, uint64_t salt)
{
	for (size_t i = 0; i < n; i++)
		if (w[i] != pattern(i, salt)) {
			say("FAIL %s word %zu is %#llx, wrote %#llx\n", what, i,
			    (unsigned long long)w[i], (unsigned long long)pattern(i, salt));
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	long last = argc > 1 ? atol(argv[1]) : -1;
	uint64_t *heap = malloc(HEAP_WORDS * sizeof(*heap));

	if (!heap) {
		say("FAIL malloc\n");
		return 1;
	}
	for (size_t i = 0; i < 512; i++)
		data_words[i] = pattern(i, 1);
	for (size_t i = 0; i < 8192; i++)
		bss_words[i] = pattern(i, 2);
	for (size_t i = 0; i < HEAP_WORDS; i++)
		heap[i] = pattern(i, 3);

	for (long n = 0;; n++) {
		if (shadow != n)
			say("FAIL count %ld but shadow %ld\n", n, shadow);
		if (check("data", data_words, 512, 1) || check("bss", bss_words, 8192, 2) ||
		    check("heap", heap, HEAP_WORDS, 3))
			return 1;
		say("count %ld\n", n);
		if (n == last)
			return 3;
		shadow = n + 1;
		msleep(50);
	}
}
