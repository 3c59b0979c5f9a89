/* header.c: formats and parses the plain-text stream header. */
#include "header.h"
#include "crc32c.h"
#include "err.h"

#include <cpuid.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hdr_init(struct header *h)
{
	memset(h, 0, sizeof(*h));
	h->major = HDR_MAJOR;
	h->minor = HDR_MINOR;
}

static int key_ok(const char *k, size_t n)
{
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return 0;
	return 1;
}

static int value_ok(const char *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	return 1;
}

/* Copies n bytes of s into the pool as a string. */
static char *pool_add(struct header *h, const char *s, size_t n)
{
	char *p;

	if (h->pool_len + n + 1 > sizeof(h->pool))
		return NULL;
	p = h->pool + h->pool_len;
	memcpy(p, s, n);
	p[n] = '\0';
	h->pool_len += n + 1;
	return p;
}

static int field_add(struct header *h, const char *k, size_t kn, const char *v, size_t vn)
{
	if (h->nfields == HDR_NFIELDS)
		return err_msg(E2BIG, "header: too many fields");
	h->key[h->nfields] = pool_add(h, k, kn);
	h->value[h->nfields] = pool_add(h, v, vn);
	if (!h->key[h->nfields] || !h->value[h->nfields])
		return err_msg(E2BIG, "header: too large");
	h->nfields++;
	return 0;
}

int hdr_set(struct header *h, const char *key, const char *fmt, ...)
{
	char val[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!key_ok(key, strlen(key)) || !value_ok(val, strlen(val)))
		return err_msg(EINVAL, "header field %s: invalid characters", key);
	return field_add(h, key, strlen(key), val, strlen(val));
}

int hdr_format(struct header *h)
{
	size_t body = 0, total;
	int first;
	char *p;

	for (int i = 0; i < h->nfields; i++)
		body += strlen(h->key[i]) + 2 + strlen(h->value[i]) + 1;
	first = snprintf(NULL, 0, "%s %d.%d 000000\n", HDR_MAGIC, h->major, h->minor);
	total = (size_t)first + body + HDR_CRC_LINE + 1;
	if (total >= HDR_MAX)
		return err_msg(E2BIG, "header: %zu bytes is too large", total);
	p = h->text;
	p += sprintf(p, "%s %d.%d %06zu\n", HDR_MAGIC, h->major, h->minor, total);
	for (int i = 0; i < h->nfields; i++)
		p += sprintf(p, "%s: %s\n", h->key[i], h->value[i]);
	/* Unencrypted streams have nothing else guarding the header. */
	p += sprintf(p, "crc: %08x\n", crc32c(0, h->text, (size_t)(p - h->text)));
	*p++ = '\n';
	h->len = total;
	return 0;
}

const char *hdr_get(const struct header *h, const char *key)
{
	for (int i = 0; i < h->nfields; i++)
		if (strcmp(h->key[i], key) == 0)
			return h->value[i];
	return NULL;
}

/* 8 lowercase hex digits; -1 otherwise. */
static int hex8(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 8; i++) {
		const char *d = memchr("0123456789abcdef", p[i], 16);

		if (!d || !p[i])
			return -1;
		*v = *v << 4 | (unsigned)(d - "0123456789abcdef");
	}
	return 0;
}

/* Up to max decimal digits (no sign, no space) at *p, advanced past them. */
static int digits(const char **p, const char *end, int max, size_t *v)
{
	int n = 0;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9' && n < max) {
		*v = *v * 10 + (size_t)(**p - '0');
		(*p)++;
		n++;
	}
	return n && (*p == end || **p < '0' || **p > '9') ? 0 : -1;
}

/* "PFREZ-STREAM MAJOR.MINOR LENGTH\n", each number plain decimal digits
 * (a sign or a space would let a corrupt line through), LENGTH exactly 6
 * digits as hdr_format writes it.  Returns the line's length without the
 * newline, or -1. */
static int first_line(const char *text, size_t len, unsigned *major, unsigned *minor,
		      size_t *declared)
{
	const char *p = text + sizeof(HDR_MAGIC), *end = text + len, *q;
	size_t v;

	if (len < sizeof(HDR_MAGIC) || memcmp(text, HDR_MAGIC " ", sizeof(HDR_MAGIC)) != 0)
		return -1;
	if (digits(&p, end, 3, &v) || p == end || *p++ != '.')
		return -1;
	*major = (unsigned)v;
	if (digits(&p, end, 3, &v) || p == end || *p++ != ' ')
		return -1;
	*minor = (unsigned)v;
	q = p;
	if (digits(&p, end, 6, declared) || p - q != 6 || p == end || *p != '\n')
		return -1;
	return (int)(p - text);
}

int hdr_parse(struct header *h, const char *text, size_t len)
{
	unsigned major, minor;
	size_t declared, pos;
	int n;

	hdr_init(h);
	if (len >= HDR_MAX || len < 2)
		return err_msg(EBADMSG, "header: bad length");
	memcpy(h->text, text, len);
	h->len = len;
	n = first_line(text, len, &major, &minor, &declared);
	if (n < 0)
		return err_msg(EBADMSG, "not a pfrez stream (bad magic)");
	if (major == 1)
		return err_msg(EPROTONOSUPPORT, "a format 1 snapshot: written by pfrez 0.1; this pthaw reads format %d",
			       HDR_MAJOR);
	if (major != HDR_MAJOR)
		return err_msg(EPROTONOSUPPORT, "stream format version %u.%u is not supported (this pthaw reads %d.x)",
			       major, minor, HDR_MAJOR);
	if (declared != len || text[len - 1] != '\n' || text[len - 2] != '\n')
		return err_msg(EBADMSG, "header: length %zu does not match its end (corrupt header)",
			       declared);
	h->major = (int)major;
	h->minor = (int)minor;
	{
		const char *crcline = len >= HDR_CRC_LINE + 1 + (size_t)n ? text + len - 1 - HDR_CRC_LINE : NULL;
		unsigned want;

		/* Exactly 8 lowercase hex digits, read by hand: the text has no
		 * terminator, and sscanf would also take " 123abcd" or
		 * "0123ABCD", letting a flipped byte through. */
		if (!crcline || strncmp(crcline, "crc: ", 5) != 0 ||
		    hex8(crcline + 5, &want) < 0 ||
		    want != crc32c(0, text, (size_t)(crcline - text)))
			return err_msg(EBADMSG, "header: checksum mismatch (corrupt header)");
		len -= HDR_CRC_LINE;	/* the fields end before the crc line */
	}
	pos = (size_t)n + 1;
	while (pos < len - 1) {
		const char *line = text + pos, *nl = memchr(line, '\n', len - pos), *colon;
		size_t ll;

		if (!nl)
			return err_msg(EBADMSG, "header: unterminated line");
		ll = (size_t)(nl - line);
		colon = memmem(line, ll, ": ", 2);
		if (!colon || !key_ok(line, (size_t)(colon - line)) ||
		    !value_ok(colon + 2, (size_t)(nl - colon - 2)))
			return err_msg(EBADMSG, "header: malformed line \"%.*s\"",
				       (int)(ll < 40 ? ll : 40), line);
		for (int i = 0; i < h->nfields; i++)
			if (strlen(h->key[i]) == (size_t)(colon - line) &&
			    memcmp(h->key[i], line, (size_t)(colon - line)) == 0)
				return err_msg(EBADMSG, "header: duplicate field %s", h->key[i]);
		if (field_add(h, line, (size_t)(colon - line), colon + 2, (size_t)(nl - colon - 2)) < 0)
			return err_msg(EBADMSG, "header: too many fields");
		pos = ll + pos + 1;
	}
	return 0;
}

int hdr_read(struct header *h, struct layer *in)
{
	char first[32];
	unsigned major, minor;
	size_t declared;
	char *buf;
	int rc;

	/* "PFREZ-STREAM 2.0 000412\n" is 24 bytes for any 1-digit version. */
	rc = layer_read_full(in, first, 24);
	if (rc)
		return rc == -EPIPE ? err_msg(EBADMSG, "empty or truncated stream (no header)") : rc;
	first[24] = '\0';
	if (memcmp(first, HDR_MAGIC " ", sizeof(HDR_MAGIC)) != 0)
		return err_msg(EBADMSG, "not a pfrez stream (bad magic)");
	if (first_line(first, 24, &major, &minor, &declared) < 0 || declared < 26 ||
	    declared >= HDR_MAX)
		return err_msg(EBADMSG, "bad header line (corrupt stream)");
	buf = malloc(declared);
	if (!buf)
		return err_sys(ENOMEM, "header");
	memcpy(buf, first, 24);
	rc = layer_read_full(in, buf + 24, declared - 24);
	if (rc == -EPIPE)
		rc = err_msg(EBADMSG, "stream truncated inside the header");
	if (!rc)
		rc = hdr_parse(h, buf, declared);
	free(buf);
	return rc;
}

uint64_t hdr_local_xcr0(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 3;
	__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
	return (uint64_t)d << 32 | a;
}

uint32_t hdr_local_xsave_size(void)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d))
		return 512;
	return b;	/* size for the features enabled in XCR0 */
}

void hdr_xfeature_names(uint64_t mask, char *buf, size_t len)
{
	static const struct { uint64_t bits; const char *name; } names[] = {
		{ 1 << 0, "x87" }, { 1 << 1, "SSE" }, { 1 << 2, "AVX" },
		{ 3 << 3, "MPX" }, { 7 << 5, "AVX-512" }, { 1 << 9, "PKRU" },
		{ 3ull << 17, "AMX" }, { 1ull << 19, "APX" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(mask & names[i].bits))
			continue;
		used += (size_t)snprintf(buf + used, len > used ? len - used : 0, "%s%s",
					 used ? ", " : "", names[i].name);
		mask &= ~names[i].bits;
	}
	if (mask && used < len)
		snprintf(buf + used, len - used, "%sfeatures 0x%llx", used ? ", " : "",
			 (unsigned long long)mask);
}
