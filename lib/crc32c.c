/* crc32c.c: CRC-32C with the SSE4.2 instruction, and a table fallback. */
#include "crc32c.h"

#include <cpuid.h>
#include <string.h>

#define POLY 0x82f63b78u

static uint32_t crc_table[256];

static void table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* 8-byte steps with the crc32 instruction: several GB/s, far above what a
 * pipe carries, so no interleaving of independent streams is needed. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t n)
{
	unsigned long long c = crc;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
	}
	while (n >= 32) {
		uint64_t a, b, d, e;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&d, p + 16, 8);
		memcpy(&e, p + 24, 8);
		c = __builtin_ia32_crc32di(c, a);
		c = __builtin_ia32_crc32di(c, b);
		c = __builtin_ia32_crc32di(c, d);
		c = __builtin_ia32_crc32di(c, e);
		p += 32;
		n -= 32;
	}
	while (n >= 8) {
		uint64_t a;

		memcpy(&a, p, 8);
		c = __builtin_ia32_crc32di(c, a);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

static int crc_mode; /* 0 unknown, 1 software, 2 hardware */

uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (!crc_mode) {
		unsigned a, b, c, d;

		table_init();
		crc_mode = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 2 : 1;
	}
	crc = ~crc;
	crc = crc_mode == 2 ? crc_hw(crc, buf, n) : crc_sw(crc, buf, n);
	return ~crc;
}
