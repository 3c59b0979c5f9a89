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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_value),
		cmocka_unit_test(chunked_equals_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
