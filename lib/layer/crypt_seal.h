/* crypt_seal.h: inside the encryption layers: sealing and opening one
 * chunk (crypt_gcm.c, crypt_ctrmac.c) for the framing in layer_crypt.c,
 * and the key derivation they share.  See crypt.h for the wire format. */
#ifndef PFREZ_CRYPT_SEAL_H
#define PFREZ_CRYPT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "crypt.h"

/* D_i: H || le64(i) || le32(W_i). */
#define CRYPT_AD_LEN	44u
#define CRYPT_TAG_MAX	32u

struct crypt_seal;

struct crypt_seal_ops {
	/* Encrypts n bytes of in to out (out may be in) as chunk i with
	 * authenticated data ad, and writes the tag. */
	int (*seal)(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
		    const unsigned char *in, unsigned char *out, size_t n,
		    unsigned char *tag);
	/* Checks the tag and decrypts buf in place.  -EBADMSG, with no
	 * message set, when the tag does not match; buf then holds nothing
	 * that may be used. */
	int (*open)(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
		    unsigned char *buf, size_t n, const unsigned char *tag);
	void (*free)(struct crypt_seal *s);
};

struct crypt_seal {
	const struct crypt_seal_ops *ops;
	const char *name;
	size_t taglen;
};

int crypt_gcm_new(enum crypt_mode m, const unsigned char *key, size_t keylen,
		  const unsigned char *salt, int encrypt, struct crypt_seal **out);
int crypt_ctrmac_new(enum crypt_mode m, const unsigned char *key, size_t keylen,
		     const unsigned char *salt, int encrypt, struct crypt_seal **out);

/* HKDF-SHA256(ikm, salt, info) -> out[outlen]. */
int crypt_hkdf(const unsigned char *ikm, size_t ikmlen,
	       const unsigned char *salt, size_t saltlen,
	       const char *info, unsigned char *out, size_t outlen);

/* Derives "pfrez v1 <mode name> <purpose>" from key and salt. */
int crypt_subkey(enum crypt_mode m, const char *purpose,
		 const unsigned char *key, size_t keylen,
		 const unsigned char *salt, unsigned char *out, size_t outlen);

/* Records "what: libcrypto: <reason>" for a failed libcrypto call, empties
 * libcrypto's error queue and returns -EIO. */
int crypt_ossl_err(const char *what);

#endif
