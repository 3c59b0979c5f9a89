/* test_json.c: the JSON writer's escaping and layout (lib/json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* One string value alone as a document, as written. */
static char *one(const char *s, size_t n)
{
	static char out[4096];
	FILE *f = fmemopen(out, sizeof(out), "w");
	struct json j;

	assert_non_null(f);
	json_init(&j, f);
	json_strn(&j, NULL, s, n);
	assert_int_equal(json_finish(&j), 0);
	fclose(f);
	return out;
}

#define STR(lit) one(lit, sizeof(lit) - 1)

static void escapes(void **state)
{
	(void)state;
	assert_string_equal(STR("plain"), "\"plain\"\n");
	assert_string_equal(STR("a\"b\\c/"), "\"a\\\"b\\\\c/\"\n");
	assert_string_equal(STR("\n\t\r"), "\"\\n\\t\\r\"\n");
	/* Every other control character, DEL, and a NUL inside. */
	assert_string_equal(STR("\x01\x1b[31m\x1f\x7f"), "\"\\u0001\\u001b[31m\\u001f\\u007f\"\n");
	assert_string_equal(STR("a\0b"), "\"a\\u0000b\"\n");
	assert_string_equal(STR("\b\f"), "\"\\u0008\\u000c\"\n");
}

static void utf8(void **state)
{
	(void)state;
	/* Well-formed: kept as it is, 2, 3 and 4 bytes. */
	assert_string_equal(STR("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
			    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"\n");
	/* C1 controls (U+0080-U+009F) and the JavaScript line ends. */
	assert_string_equal(STR("\xc2\x9b" "x\xc2\x80"), "\"\\u009bx\\u0080\"\n");
	assert_string_equal(STR("\xe2\x80\xa8\xe2\x80\xa9"), "\"\\u2028\\u2029\"\n");
	/* Not UTF-8: each byte becomes U+FFFD. */
	assert_string_equal(STR("\xff"), "\"\\ufffd\"\n");
	assert_string_equal(STR("a\x80" "b"), "\"a\\ufffdb\"\n");
	assert_string_equal(STR("\xc0\xaf"), "\"\\ufffd\\ufffd\"\n");		/* overlong '/' */
	assert_string_equal(STR("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"\n");	/* overlong */
	assert_string_equal(STR("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"\n");	/* surrogate */
	assert_string_equal(STR("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"\n");/* > U+10FFFF */
	assert_string_equal(STR("\xe2\x82"), "\"\\ufffd\\ufffd\"\n");		/* cut short */
	assert_string_equal(STR("\xc3"), "\"\\ufffd\"\n");
}

static void layout(void **state)
{
	char out[1024];
	FILE *f = fmemopen(out, sizeof(out), "w");
	struct json j;

	(void)state;
	assert_non_null(f);
	json_init(&j, f);
	json_object_begin(&j, NULL);
	json_int(&j, "pid", -5);
	json_uint(&j, "big", 18446744073709551615ull);
	json_hex(&j, "addr", 0x7ffff7dd1000ull);
	json_array_begin(&j, "vmas");
	json_object_begin(&j, NULL);
	json_bool(&j, "a", 1);
	json_null(&j, "b");
	json_str(&j, "k\"", "v");
	json_object_end(&j);
	json_array_end(&j);
	json_array_begin(&j, "empty");
	json_array_end(&j);
	json_object_end(&j);
	assert_int_equal(json_finish(&j), 0);
	fclose(f);
	assert_string_equal(out,
		"{\n"
		"  \"pid\": -5,\n"
		"  \"big\": 18446744073709551615,\n"
		"  \"addr\": \"0x7ffff7dd1000\",\n"
		"  \"vmas\": [\n"
		"    {\"a\": true, \"b\": null, \"k\\\"\": \"v\"}\n"
		"  ],\n"
		"  \"empty\": []\n"
		"}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes),
		cmocka_unit_test(utf8),
		cmocka_unit_test(layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
