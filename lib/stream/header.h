/* header.h: the plain-text stream header, readable with `head`.
 *
 *	PFREZ-STREAM 2.0 000412\n	magic, version, header length in bytes
 *	key: value\n			...
 *	crc: 0123abcd\n			CRC32C of every byte before this line
 *	\n				end of header
 *
 * The length counts every byte from the magic to the blank line. */
#ifndef PFREZ_HEADER_H
#define PFREZ_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "layer.h"

#define HDR_MAGIC	"PFREZ-STREAM"
/* Format 2: the table of kinds, and unknown records are refused
 * unless optional.  Format 1 (pfrez 0.1) is refused by name. */
#define HDR_MAJOR	2
#define HDR_MINOR	0
#define HDR_MAX		65536
#define HDR_NFIELDS	32
#define HDR_CRC_LINE	14	/* "crc: 0123abcd\n", the last line before the blank */

struct header {
	int major, minor;
	int nfields;
	char *key[HDR_NFIELDS];
	char *value[HDR_NFIELDS];
	char text[HDR_MAX];	/* the exact bytes, for authentication */
	size_t len;
	char pool[HDR_MAX];	/* key and value strings */
	size_t pool_len;
};

void hdr_init(struct header *h);

/* Adds a field; keys are [a-z0-9-]+, values printable without newline. */
int hdr_set(struct header *h, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Lays out h->text and h->len from the fields. */
int hdr_format(struct header *h);

/* Reads and parses a header from in, reading exactly its bytes. */
int hdr_read(struct header *h, struct layer *in);

/* Parses text (len bytes, the whole header). */
int hdr_parse(struct header *h, const char *text, size_t len);

/* The value of key, or NULL. */
const char *hdr_get(const struct header *h, const char *key);

/* This machine's XSAVE feature mask (XCR0) and user XSAVE area size. */
uint64_t hdr_local_xcr0(void);
uint32_t hdr_local_xsave_size(void);

/* Names of the XSAVE features in mask, e.g. "AVX-512, AMX". */
void hdr_xfeature_names(uint64_t mask, char *buf, size_t len);

#endif
