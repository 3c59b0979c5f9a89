/* err.c: keeps the last error message for main() to print. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

/* The length of the well-formed UTF-8 sequence at p (at most n bytes) that
 * is not a C1 control (U+0080..U+009F, which some terminals obey like
 * ESC), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, lo = p[0] == 0xc2 ? 0xa0 : 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

size_t err_escape(char *out, size_t outlen, const char *in, size_t inlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	for (size_t i = 0; i < inlen && o + 1 < outlen;) {
		size_t u = p[i] >= 0x80 ? utf8_len(p + i, inlen - i) : 0;
		char tmp[5];
		size_t n;

		if (u) {
			memcpy(tmp, p + i, u);
			n = u;
		} else if (p[i] < 0x20 || p[i] >= 0x7f) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", p[i]);
			u = 1;
		} else if (p[i] == '\\') {
			memcpy(tmp, "\\\\", 2);
			n = 2;
			u = 1;
		} else {
			tmp[0] = (char)p[i];
			n = u = 1;
		}
		if (o + n >= outlen)
			break;	/* cut before a whole escape, never inside */
		memcpy(out + o, tmp, n);
		o += n;
		i += u;
	}
	if (outlen)
		out[o] = '\0';
	return o;
}

static void err_vset(int errnum, int with_errno, const char *fmt, va_list ap)
{
	char raw[sizeof(err_buf)];
	int n = vsnprintf(raw, sizeof(raw), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(raw))
		n = sizeof(raw) - 1;
	/* Messages quote paths and names from streams and other hosts. */
	n = (int)err_escape(err_buf, sizeof(err_buf), raw, (size_t)n);
	if (with_errno && (size_t)n < sizeof(err_buf))
		snprintf(err_buf + n, sizeof(err_buf) - (size_t)n, ": %s",
			 strerror(errnum));
}

int err_sys(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(errnum, 1, fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_msg(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(errnum, 0, fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_wrap(int rc, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err_buf)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(old, sizeof(old), fmt, ap);
	va_end(ap);
	err_escape(prefix, sizeof(prefix), old, strlen(old));
	memcpy(old, err_buf, sizeof(old));
	/* Truncating a long message is fine: it is for a human. */
	snprintf(err_buf, sizeof(err_buf), "%s: %.*s", prefix, (int)strnlen(old, sizeof(old) - 1), old);
	return rc;
}

const char *err_last(void)
{
	return err_buf;
}

void err_clear(void)
{
	err_buf[0] = '\0';
}
