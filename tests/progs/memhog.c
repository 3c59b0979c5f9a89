/* memhog: holds memory for the benchmarks, then ticks.
 *	memhog MODE MIB [MAPPED_MIB]
 * MODE random: MIB of random bytes; zero: MIB of pages written with
 * zeros; sparse: MAPPED_MIB mapped, MIB of it touched (random); mixed:
 * MIB of realistic memory, a third each of zero pages, English-like text
 * and random bytes, interleaved page by page.  Prints "ready" once the
 * memory is in place, then "tick N" every 100 ms. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Fill a page with text: words drawn from a small vocabulary with a
 * random number here and there, so it compresses like logs or documents
 * rather than like one repeated string. */
static void fill_text(unsigned char *pg, uint64_t *x)
{
	static const char *const words[] = {
		"the", "of", "and", "to", "in", "a", "is", "that", "for", "it",
		"process", "memory", "page", "snapshot", "restore", "kernel",
		"request", "user", "time", "value", "error", "connection",
		"server", "client", "returned", "with", "from", "this", "was",
		"file", "data", "checkpoint", "while", "before", "after", "not",
	};
	size_t n = 0;

	while (n < 4096) {
		uint64_t r = xorshift(x);
		char w[32];
		int len;

		if (r % 11 == 0)
			len = snprintf(w, sizeof(w), "%u", (unsigned)(r >> 20) % 100000);
		else
			len = snprintf(w, sizeof(w), "%s", words[(r >> 8) % (sizeof(words) / sizeof(words[0]))]);
		w[len++] = r % 13 == 0 ? '\n' : r % 7 == 0 ? ',' : ' ';
		if (n + len > 4096)
			len = 4096 - n;
		memcpy(pg + n, w, len);
		n += len;
	}
}

int main(int argc, char **argv)
{
	size_t mib, mapped;
	unsigned char *p;
	uint64_t x = 88172645463325252ull;

	if (argc < 3) {
		fprintf(stderr, "usage: memhog random|zero|sparse|mixed MIB [MAPPED_MIB]\n");
		return 2;
	}
	mib = strtoul(argv[2], NULL, 10);
	mapped = argc > 3 ? strtoul(argv[3], NULL, 10) : mib;
	p = mmap(NULL, mapped << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (strcmp(argv[1], "zero") == 0) {
		for (size_t i = 0; i < mib << 20; i += 4096)
			memset(p + i, 0, 4096);
		/* memset of zeros may leave the zero page mapped: write, then clear */
		for (size_t i = 0; i < mib << 20; i += 4096) {
			p[i] = 1;
			p[i] = 0;
		}
	} else if (strcmp(argv[1], "mixed") == 0) {
		for (size_t i = 0, pg = 0; i < mib << 20; i += 4096, pg++) {
			if (pg % 3 == 0) {
				p[i] = 1;
				p[i] = 0;
			} else if (pg % 3 == 1) {
				fill_text(p + i, &x);
			} else {
				for (size_t j = 0; j < 4096; j += 8) {
					xorshift(&x);
					memcpy(p + i + j, &x, 8);
				}
			}
		}
	} else {
		for (size_t i = 0; i < mib << 20; i += 8) {
			xorshift(&x);
			memcpy(p + i, &x, 8);
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (long n = 0;; n++) {
		struct timespec ts = { 0, 100000000 };

		printf("tick %ld %u\n", n, p[(n * 4096) % (mib << 20 ? mib << 20 : 1)]);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
}
