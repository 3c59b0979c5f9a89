/* test_crc32c.c: CRC-32C against its published check values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crc32c.h"

static void check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c(0, "", 0), 0);
}

static void chunked_equals_whole(void **state)
{
	unsigned char buf[4099];
	uint32_t whole, part;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	whole = crc32c(0, buf, sizeof(buf));
	part = crc32c(0, buf, 5);
	part = crc32c(part, buf + 5, 1000);
	part = crc32c(part, buf + 1005, sizeof(buf) - 1005);
	assert_int_equal(whole, part);
	/* 32 zero bytes: RFC 3720 B.4 */
	memset(buf, 0, 32);
	assert_int_equal(crc32c(0, buf, 32), 0x8a9136aau);
	memset(buf, 0xff, 32);
	assert_int_equal(crc32c(0, buf, 32), 0x62a8ab43u);
}

/* Long buffers take the three-stream path: it must agree with the
 * bytewise definition at every length and alignment around its blocks. */
static uint32_t crc_ref(const unsigned char *p, size_t n)
{
	uint32_t c = ~0u;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

static void long_buffers(void **state)
{
	static unsigned char buf[3 * 8192 * 3 + 100];
	static const size_t lens[] = { 24575, 24576, 24577, 49152, 49153, 73000, sizeof(buf) - 7 };

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 2654435761u >> 13);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t off = 0; off < 4; off++)
			assert_int_equal(crc32c(0, buf + off, lens[i]), crc_ref(buf + off, lens[i]));
	/* continuing from a non-zero crc across the fast path */
	assert_int_equal(crc32c(crc32c(0, buf, 5), buf + 5, 60000), crc_ref(buf, 60005));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_value),
		cmocka_unit_test(chunked_equals_whole),
		cmocka_unit_test(long_buffers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
