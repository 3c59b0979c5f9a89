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

/* 8-byte steps with the crc32 instruction over one stream. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw1(uint32_t crc, const unsigned char *p, size_t n)
{
	unsigned long long c = crc;

	while (n && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		n--;
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

/* The instruction has a latency of three cycles but starts one every
 * cycle: three independent streams over a block run three times as fast.
 * The streams' results are joined with shift(r), the register r carried
 * over STRIDE zero bytes, which is linear in r and so is four table
 * lookups. */
#define STRIDE 8192
static uint32_t shift_tab[4][256];

static void shift_init(void)
{
	static const unsigned char zeros[STRIDE];
	uint32_t basis[32];

	for (int i = 0; i < 32; i++)
		basis[i] = crc_hw1(1u << i, zeros, STRIDE);
	for (int k = 0; k < 4; k++)
		for (int b = 0; b < 256; b++) {
			uint32_t v = 0;

			for (int i = 0; i < 8; i++)
				if (b & (1 << i))
					v ^= basis[8 * k + i];
			shift_tab[k][b] = v;
		}
}

static uint32_t shift(uint32_t r)
{
	return shift_tab[0][r & 0xff] ^ shift_tab[1][(r >> 8) & 0xff] ^
	       shift_tab[2][(r >> 16) & 0xff] ^ shift_tab[3][r >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n >= 3 * STRIDE) {
		unsigned long long a = crc, b = 0, c = 0;
		const unsigned char *q = p;

		for (size_t i = 0; i < STRIDE; i += 8) {
			uint64_t x, y, z;

			memcpy(&x, q + i, 8);
			memcpy(&y, q + STRIDE + i, 8);
			memcpy(&z, q + 2 * STRIDE + i, 8);
			a = __builtin_ia32_crc32di(a, x);
			b = __builtin_ia32_crc32di(b, y);
			c = __builtin_ia32_crc32di(c, z);
		}
		crc = shift(shift((uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
		p += 3 * STRIDE;
		n -= 3 * STRIDE;
	}
	return crc_hw1(crc, p, n);
}

static int crc_mode; /* 0 unknown, 1 software, 2 hardware */

uint32_t crc32c(uint32_t crc, const void *buf, size_t n)
{
	if (!crc_mode) {
		unsigned a, b, c, d;

		table_init();
		crc_mode = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) ? 2 : 1;
		if (crc_mode == 2)
			shift_init();
	}
	crc = ~crc;
	crc = crc_mode == 2 ? crc_hw(crc, buf, n) : crc_sw(crc, buf, n);
	return ~crc;
}
