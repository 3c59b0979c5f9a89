/* json.h: writes one JSON document (RFC 8259) to a FILE, for pfrez
 * -debug -json and pthaw -debug -json.
 *
 * Strings are escaped: ", \ and every control character (U+0000-U+001F,
 * U+007F-U+009F) as \uXXXX or its short form, U+2028 and U+2029 too (a
 * JavaScript reader takes them for line ends); each byte that is not part
 * of well-formed UTF-8 becomes U+FFFD (\ufffd): the output is always
 * valid UTF-8, and such a name is shown, not kept.  Integers are numbers;
 * addresses, masks and other 64-bit quantities go through json_hex as
 * "0x..." strings, which a reader with 53-bit numbers keeps exact.
 *
 * Every call takes a key: the member's name inside an object, NULL for an
 * element of an array (or the document itself). */
#ifndef PFREZ_JSON_H
#define PFREZ_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX	16

struct json {
	FILE *f;
	int depth;
	int count[JSON_DEPTH_MAX];	/* members written at each depth */
};

void json_init(struct json *j, FILE *f);

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

void json_str(struct json *j, const char *key, const char *s);
void json_strn(struct json *j, const char *key, const char *s, size_t n);
void json_int(struct json *j, const char *key, long long v);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_hex(struct json *j, const char *key, unsigned long long v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);

/* Ends the document with a newline: 0, or -EIO when the FILE failed. */
int json_finish(struct json *j);

#endif
