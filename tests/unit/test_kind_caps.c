/* test_kind_caps.c: decoding the caps record (lib/kind/caps.c): a good
 * one is taken, every malformed one refused with EBADMSG naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "err.h"
#include "kind.h"

/* The record's layout, as man/pfrez-stream.5 gives it. */
struct caps_rec {
	uint64_t inh, prm, eff, bnd, amb;
	uint32_t securebits, no_new_privs, last_cap, pad;
};

static int take(const struct caps_rec *k, size_t len)
{
	void *data = NULL;
	int rc;

	err_clear();
	rc = kind_table[KIND_CAPS]->take(&data, (const unsigned char *)k, len);
	free(data);
	return rc;
}

static void refused(const struct caps_rec *k)
{
	assert_int_equal(take(k, sizeof(*k)), -EBADMSG);
	assert_non_null(strstr(err_last(), "caps record"));
}

static void caps_decode(void **state)
{
	/* setpriv --inh-caps=+net_bind_service --ambient-caps=+net_bind_service
	 * --bounding-set=-all,+net_bind_service,+kill, securebits noroot,locked */
	const struct caps_rec good = { 0x400, 0x400, 0x400, 0x420, 0x400, 0x3, 0, 40, 0 };
	struct caps_rec k;

	(void)state;
	assert_int_equal(sizeof(k), 56);
	assert_int_equal(take(&good, sizeof(good)), 0);
	assert_int_equal(take(&good, sizeof(good) - 1), -EBADMSG);
	k = good, k.last_cap = 64;
	refused(&k);
	k = good, k.last_cap = 3;
	refused(&k);
	k = good, k.bnd |= 1ull << 41;		/* above the last capability */
	refused(&k);
	k = good, k.eff = 0x401;		/* effective not permitted */
	refused(&k);
	k = good, k.inh = 0;			/* ambient not inheritable */
	refused(&k);
	k = good, k.securebits = 0x1000;
	refused(&k);
	k = good, k.no_new_privs = 2;
	refused(&k);
	k = good, k.pad = 1;
	refused(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(caps_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
