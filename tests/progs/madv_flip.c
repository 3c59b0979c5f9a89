/* madv_flip: flips MADV_DONTFORK on a whole mapping as fast as it can
 * (no split: /proc/PID/maps stays the same, only the VmFlags of smaps
 * change), and keeps in that mapping a word saying what it set.  For a
 * capture that reads the flags at one moment and the memory at another.
 *	madv_flip
 * Iteration g stores 2g, sets the flag to g's (dc when g is odd), then
 * stores 2g + 1.  With the word odd, 2g + 1, the flag is g's until the
 * next iteration stores 2g + 2; each iteration checks that, from
 * /proc/self/smaps, first thing: a copy restored from flags read at
 * another moment than its memory prints "FAIL madv_flip: ...".  Prints
 * "count N" every 100 ms. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "say.h"

#define LEN (4 * 4096)

/* Whether the VmFlags of the mapping at p show dc; -1 if not found.
 * One read of the whole file: a capture between two calls finds either
 * the fd not yet read (the copy reads its own smaps) or the text read
 * (the flags at the instant), never half of each. */
static int dontfork(const void *p)
{
	static char buf[1 << 20];
	char want[32], *at, *fl;
	ssize_t n = 0, k;
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (n < (ssize_t)sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += k;
	close(fd);
	buf[n] = 0;
	snprintf(want, sizeof(want), "\n%lx-", (unsigned long)p);
	at = strstr(buf, want);
	fl = at ? strstr(at, "\nVmFlags:") : NULL;
	if (!fl)
		return -1;
	fl[strcspn(fl + 1, "\n") + 1] = 0;
	return strstr(fl, " dc") != NULL;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

int main(void)
{
	/* Guard pages around it: no neighbour to merge with when its
	 * flags change. */
	unsigned char *g0 = mmap(NULL, LEN + 2 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t *word;
	uint64_t beat = 0, next = 0;

	if (g0 == MAP_FAILED ||
	    mmap(g0 + 4096, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED) {
		say("FAIL madv_flip: mmap\n");
		return 1;
	}
	word = (volatile uint64_t *)(g0 + 4096);
	memset(g0 + 4096, 1, LEN);	/* present pages: copy-on-write covers them */
	*word = 1;			/* 2 * 0 + 1: iteration 0, flag clear */
	for (uint64_t g = 1;; g++) {
		uint64_t w = *word, t = now_ms();
		int want = (int)((w / 2) & 1), dc = dontfork((const void *)word);

		if (w % 2 != 1 || dc != want) {
			say("FAIL madv_flip: word %llu: the flag should be %s, smaps says %d\n",
			    (unsigned long long)w, want ? "set" : "clear", dc);
			return 1;
		}
		if (t >= next) {
			say("count %llu\n", (unsigned long long)beat++);
			next = t + 100;
		}
		*word = 2 * g;
		if (madvise(g0 + 4096, LEN, g & 1 ? MADV_DONTFORK : MADV_DOFORK) < 0) {
			say("FAIL madv_flip: madvise\n");
			return 1;
		}
		*word = 2 * g + 1;
	}
}
