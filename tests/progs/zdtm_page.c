/* zdtm_page: as CRIU's zdtm test library does, the program keeps its
 * harness state in one MAP_SHARED | MAP_ANONYMOUS page made before
 * anything else (a futex word the harness waits on, a stage, a round
 * count), and a large shared buffer mapped twice (its contents must
 * travel once: shmem.test measures the stream).  Our own program, no
 * code of CRIU's. */
#include <linux/futex.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND "zdtm_page"
#include "zdtm.h"

#define BIG (8u << 20)

struct harness {
	uint32_t futex;		/* 1: the test is up; woken on each change */
	uint32_t stage;
	uint64_t rounds;
	uint32_t sum;		/* of the big buffer */
};

static struct harness *h;
static unsigned char *big, *big2;

static uint32_t sum(const unsigned char *p)
{
	uint32_t s = 0;

	for (size_t i = 0; i < BIG; i += 64)
		s = s * 31 + p[i];
	return s;
}

static const char *setup(int argc, char **argv)
{
	uint64_t x = 88172645463325252ull;

	(void)argc;
	(void)argv;
	h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED || big == MAP_FAILED)
		return "mmap";
	big2 = mremap(big, 0, BIG, MREMAP_MAYMOVE);
	if (big2 == MAP_FAILED)
		return "mremap";
	for (size_t i = 0; i < BIG; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;	/* not compressible */
		memcpy(big + i, &x, 8);
	}
	h->sum = sum(big);
	h->stage = 1;
	__atomic_store_n(&h->futex, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &h->futex, FUTEX_WAKE, 1, NULL, NULL, 0);
	return NULL;
}

static const char *check(void)
{
	if (__atomic_load_n(&h->futex, __ATOMIC_SEQ_CST) != 1 || h->stage != 1)
		return zdtm_why("harness page: futex %u stage %u", h->futex, h->stage);
	h->rounds++;
	if (syscall(SYS_futex, &h->futex, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
		return "FUTEX_WAKE";
	if (sum(big2) != h->sum)
		return "the shared buffer changed";
	big[4096] ^= 1;
	if (big2[4096] != big[4096])
		return "the shared buffer is two";
	big[4096] ^= 1;
	return NULL;
}
