/* shm_anon: shared anonymous memory (MAP_SHARED | MAP_ANONYMOUS) mapped
 * twice (mremap of old size 0 makes a second mapping of the same pages),
 * the second at an offset: each round writes through one mapping and
 * reads through the other, both ways.  Untouched pages stay zero. */
#include <stdint.h>
#include <sys/mman.h>

#define KIND "shm_anon"
#include "zdtm.h"

#define PG 4096
#define NPG 64

static unsigned char *a, *b;	/* b maps the object from page 8 on */
static uint64_t round_no;

static const char *setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	a = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return "mmap";
	b = mremap(a + 8 * PG, 0, 16 * PG, MREMAP_MAYMOVE);
	if (b == MAP_FAILED)
		return "mremap";
	for (int i = 0; i < 24 * PG; i++)
		a[i] = (unsigned char)(i * 7 + 3);
	return NULL;
}

static const char *check(void)
{
	uint64_t v;

	for (int i = 8 * PG; i < 24 * PG; i++)
		if (a[i] != (unsigned char)(i * 7 + 3) && i != 8 * PG + 100 && i != 8 * PG + 200 &&
		    (i < 8 * PG + 100 || i >= 8 * PG + 108) && (i < 8 * PG + 200 || i >= 8 * PG + 208))
			return zdtm_why("byte %d is %u, was %u", i, a[i], (unsigned char)(i * 7 + 3));
	for (int i = 24 * PG; i < NPG * PG; i += 512)
		if (a[i])
			return zdtm_why("untouched byte %d is %u", i, a[i]);
	if (a == b)
		return "one mapping";
	round_no++;
	v = round_no * 0x9e3779b97f4a7c15ull;
	memcpy(a + 8 * PG + 100, &v, 8);
	if (memcmp(b + 100, &v, 8))
		return "written through the first mapping, not seen through the second";
	v = ~v;
	memcpy(b + 200, &v, 8);
	if (memcmp(a + 8 * PG + 200, &v, 8))
		return "written through the second mapping, not seen through the first";
	return NULL;
}
