/* test_kind_membarrier.c: the membarrier record (lib/kind/membarrier.c)
 * as pthaw takes it from a stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/membarrier.h>
#include <cmocka.h>

#include "err.h"
#include "kind.h"

extern const struct kind_ops kind_membarrier;

static int take(uint32_t registered, uint32_t pad, size_t len)
{
	uint32_t r[3] = { registered, pad, 0 };
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_membarrier.take(&data, (const unsigned char *)r, len);
	free(data);
	return rc;
}

static void membarrier_records(void **state)
{
	(void)state;
	assert_int_equal(take(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE, 0, 8), 0);
	assert_int_equal(take(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED |
			      MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |
			      MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, 0, 8), 0);
	/* nothing registered writes no record at all */
	assert_int_equal(take(0, 0, 8), -EBADMSG);
	/* a command, not a registration */
	assert_int_equal(take(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 8), -EBADMSG);
	assert_int_equal(take(1u << 31, 0, 8), -EBADMSG);
	assert_int_equal(take(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 1, 8), -EBADMSG);
	assert_non_null(strstr(err_last(), "membarrier record"));
	assert_int_equal(take(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 4), -EBADMSG);
	assert_int_equal(take(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 12), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(membarrier_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
