/* test_kind_seccomp.c: decoding the seccomp record (lib/kind/seccomp.c):
 * a good one is taken, a malformed or unrepeatable one refused with
 * EBADMSG naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "err.h"
#include "kind.h"

static unsigned char rec[8 + 3 * (8 + 2 * 8)];

/* A record of n filters, each "return action": u32 mode, u32 nfilters,
 * then per filter u32 flags, u32 len and len instructions. */
static size_t make(uint32_t n, uint32_t flags, uint32_t action)
{
	struct sock_filter f[2] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, action),
	};
	uint32_t h[2] = { SECCOMP_MODE_FILTER, n }, fh[2] = { flags, 2 };
	size_t off = sizeof(h);

	memcpy(rec, h, sizeof(h));
	for (uint32_t i = 0; i < n; i++) {
		memcpy(rec + off, fh, sizeof(fh));
		memcpy(rec + off + sizeof(fh), f, sizeof(f));
		off += sizeof(fh) + sizeof(f);
	}
	return off;
}

static int take(size_t len)
{
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_table[KIND_SECCOMP]->take(&data, rec, len);
	if (data)
		kind_table[KIND_SECCOMP]->free(data);
	return rc;
}

static void refused(size_t len, const char *what)
{
	assert_int_equal(take(len), -EBADMSG);
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

static void seccomp_decode(void **state)
{
	size_t len;

	(void)state;
	assert_int_equal(take(make(1, 0, SECCOMP_RET_ALLOW)), 0);
	assert_int_equal(take(make(3, SECCOMP_FILTER_FLAG_LOG, SECCOMP_RET_ERRNO | 1)), 0);
	len = make(2, 0, SECCOMP_RET_ALLOW);
	refused(len - 1, "seccomp record");	/* cut */
	refused(8, "8 bytes for 2 filters");	/* filters missing */
	rec[4] = 0;
	refused(8, "1 to 64");			/* no filter */
	len = make(1, 0, SECCOMP_RET_ALLOW);
	rec[0] = 1;				/* strict mode */
	refused(len, "mode 1");
	refused(make(1, SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_RET_ALLOW), "filter 0 malformed");
	refused(make(2, 0, SECCOMP_RET_USER_NOTIF), "USER_NOTIF");
	len = make(1, 0, SECCOMP_RET_ALLOW);
	rec[8 + 4] = 0;				/* no instructions */
	refused(len, "filter 0 malformed");
	len = make(1, 0, SECCOMP_RET_ALLOW);
	rec[8 + 4] = 3;				/* more than there are */
	refused(len, "filter 0 malformed");
	len = make(1, 0, SECCOMP_RET_ALLOW);
	rec[4] = 65;				/* too many */
	refused(len, "1 to 64");
	len = make(1, 0, SECCOMP_RET_ALLOW);
	rec[8 + 8 + 8] = BPF_RET | BPF_A;	/* computed return */
	refused(len, "computed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seccomp_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
