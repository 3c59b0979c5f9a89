/* json.c: a small JSON writer: one document, members one a line down to
 * the second level (one mapping, one fd a line), deeper ones inline. */
#include "json.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#define JSON_BREAK_DEPTH 2	/* containers this deep or less: a member a line */

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

static void put_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	putc('"', f);
	while (p < end) {
		size_t k = utf8_len(p, (size_t)(end - p));
		unsigned c = *p;

		if (k == 0) {
			fputs("\\ufffd", f);	/* not UTF-8: shown, not kept */
			p++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else if (k == 2 && c == 0xc2 && p[1] < 0xa0)	/* C1 controls */
			fprintf(f, "\\u%04x", p[1]);
		else if (k == 3 && c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			fprintf(f, "\\u%04x", 0x2000 + p[2] - 0x80);
		else
			fwrite(p, 1, k, f);
		p += k;
	}
	putc('"', f);
}

/* The separator, the line break and the key before a value. */
static void prefix(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->count[j->depth - 1]++)
			putc(',', j->f);
		if (j->depth <= JSON_BREAK_DEPTH)
			fprintf(j->f, "\n%*s", 2 * j->depth, "");
		else if (j->count[j->depth - 1] > 1)
			putc(' ', j->f);
	}
	if (key) {
		put_string(j->f, key, strlen(key));
		fputs(": ", j->f);
	}
}

static void push(struct json *j, const char *key, char c)
{
	assert(j->depth < JSON_DEPTH_MAX);
	prefix(j, key);
	putc(c, j->f);
	j->count[j->depth++] = 0;
}

static void pop(struct json *j, char c)
{
	assert(j->depth > 0);
	j->depth--;
	if (j->count[j->depth] && j->depth + 1 <= JSON_BREAK_DEPTH)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	putc(c, j->f);
}

void json_object_begin(struct json *j, const char *key)
{
	push(j, key, '{');
}

void json_object_end(struct json *j)
{
	pop(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
	push(j, key, '[');
}

void json_array_end(struct json *j)
{
	pop(j, ']');
}

void json_strn(struct json *j, const char *key, const char *s, size_t n)
{
	prefix(j, key);
	put_string(j->f, s, n);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_strn(j, key, s, strlen(s));
}

void json_int(struct json *j, const char *key, long long v)
{
	prefix(j, key);
	fprintf(j->f, "%lld", v);
}

void json_uint(struct json *j, const char *key, unsigned long long v)
{
	prefix(j, key);
	fprintf(j->f, "%llu", v);
}

void json_hex(struct json *j, const char *key, unsigned long long v)
{
	prefix(j, key);
	fprintf(j->f, "\"0x%llx\"", v);
}

void json_bool(struct json *j, const char *key, int v)
{
	prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->f);
}

int json_finish(struct json *j)
{
	assert(j->depth == 0);
	putc('\n', j->f);
	return fflush(j->f) || ferror(j->f) ? -EIO : 0;
}
