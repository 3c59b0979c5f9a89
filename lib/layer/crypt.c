/* crypt.c: encryption mode names, key files, randomness and the HKDF
 * subkeys shared by the encrypt/decrypt layers. */
#include "crypt.h"
#include "crypt_seal.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static const char *const crypt_names[] = {
	[CRYPT_NONE] = "none",
	[CRYPT_AES_CTR] = "AES-CTR",
	[CRYPT_AES_CFB] = "AES-CFB",
	[CRYPT_AES_OFB] = "AES-OFB",
	[CRYPT_AES_GCM] = "AES-GCM",
};

#define CRYPT_NMODES (sizeof(crypt_names) / sizeof(crypt_names[0]))

const char *crypt_name(enum crypt_mode m)
{
	if ((size_t)m >= CRYPT_NMODES)
		return "?";
	return crypt_names[m];
}

static int crypt_lookup(const char *name, size_t len, enum crypt_mode *m)
{
	for (size_t i = 0; i < CRYPT_NMODES; i++) {
		if (strlen(crypt_names[i]) == len &&
		    strncasecmp(crypt_names[i], name, len) == 0) {
			*m = (enum crypt_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int crypt_by_name(const char *name, enum crypt_mode *m)
{
	if (crypt_lookup(name, strlen(name), m) < 0)
		return err_msg(EINVAL, "unknown encryption mode '%s' (want none, AES-CTR, AES-CFB, AES-OFB or AES-GCM)",
			       name);
	return 0;
}

int crypt_parse(const char *spec, enum crypt_mode *mode, const char **keypath)
{
	const char *colon = strchr(spec, ':');
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
	enum crypt_mode m;

	if (crypt_lookup(spec, len, &m) < 0)
		return err_msg(EINVAL, "unknown encryption mode '%.*s' (want none, AES-CTR, AES-CFB, AES-OFB or AES-GCM)",
			       (int)len, spec);
	if (m == CRYPT_NONE) {
		if (colon)
			return err_msg(EINVAL, "encryption 'none' takes no key file");
		*mode = m;
		*keypath = NULL;
		return 0;
	}
	if (!colon || colon[1] == '\0')
		return err_msg(EINVAL, "encryption %s needs a key file: %s:path/to/key",
			       crypt_names[m], crypt_names[m]);
	*mode = m;
	*keypath = colon + 1;
	return 0;
}

size_t crypt_salt_len(enum crypt_mode m)
{
	return m == CRYPT_NONE ? 0 : CRYPT_SALT_LEN;
}

size_t crypt_tag_len(enum crypt_mode m)
{
	switch (m) {
	case CRYPT_AES_GCM:
		return 16;
	case CRYPT_AES_CTR:
	case CRYPT_AES_CFB:
	case CRYPT_AES_OFB:
		return 32;
	default:
		return 0;
	}
}

int crypt_random(unsigned char *buf, size_t n)
{
	if (n > (size_t)0x7fffffff)
		return err_msg(EINVAL, "random: %zu bytes is too many", n);
	if (RAND_bytes(buf, (int)n) != 1)
		return crypt_ossl_err("random");
	return 0;
}

int crypt_ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return err_msg(EIO, "%s: libcrypto: %s", what, why ? why : "unknown error");
}

int crypt_load_key(const char *path, unsigned char key[CRYPT_KEY_MAX], size_t *keylen)
{
	/* One byte more than the largest key, to see an over-long file even
	 * when st_size cannot be trusted (/proc, FUSE). */
	unsigned char buf[CRYPT_KEY_MAX + 1];
	struct stat st;
	size_t got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(errno, "key file %s", path);
	if (fstat(fd, &st) < 0) {
		rc = err_sys(errno, "key file %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_msg(EINVAL, "key file %s: not a regular file", path);
		goto out;
	}
	while (got < sizeof(buf)) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = err_sys(errno, "key file %s", path);
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got != 16 && got != 24 && got != 32) {
		rc = err_msg(EINVAL, "key file %s: %s%zu bytes, want exactly 16, 24 or 32 raw bytes (head -c 32 /dev/urandom > key)",
			     path, got > CRYPT_KEY_MAX ? "more than " : "",
			     got > CRYPT_KEY_MAX ? (size_t)CRYPT_KEY_MAX : got);
		goto out;
	}
	memcpy(key, buf, got);
	*keylen = got;
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		err_msg(EACCES, "key file %s is accessible by group or others (chmod 600 it)", path);
		rc = 1;
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

int crypt_find_key(const char *keydir, const char *keyname,
		   unsigned char key[CRYPT_KEY_MAX], size_t *keylen)
{
	char path[4096];
	int n;

	if (!keydir || !*keydir)
		return err_msg(EINVAL, "no key directory to look up key '%s' in", keyname);
	if (!*keyname)
		return err_msg(EINVAL, "stream names an empty key");
	for (const char *p = keyname; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return err_msg(EINVAL, "key name in the stream has a control character: refused");
	}
	if (strchr(keyname, '/') || strstr(keyname, ".."))
		return err_msg(EINVAL, "key name '%s' in the stream contains '/' or '..': refused",
			       keyname);
	n = snprintf(path, sizeof(path), "%s/%s", keydir, keyname);
	if (n < 0 || (size_t)n >= sizeof(path))
		return err_msg(ENAMETOOLONG, "key %s/%s: path too long", keydir, keyname);
	return crypt_load_key(path, key, keylen);
}

int crypt_hkdf(const unsigned char *ikm, size_t ikmlen,
	       const unsigned char *salt, size_t saltlen,
	       const char *info, unsigned char *out, size_t outlen)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikmlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
		OSSL_PARAM_construct_end(),
	};
	int rc = 0;

	if (!kctx || EVP_KDF_derive(kctx, out, outlen, params) != 1)
		rc = crypt_ossl_err("HKDF-SHA256");
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

int crypt_subkey(enum crypt_mode m, const char *purpose,
		 const unsigned char *key, size_t keylen,
		 const unsigned char *salt, unsigned char *out, size_t outlen)
{
	char info[64];

	snprintf(info, sizeof(info), "pfrez v1 %s %s", crypt_name(m), purpose);
	return crypt_hkdf(key, keylen, salt, CRYPT_SALT_LEN, info, out, outlen);
}

int crypt_handover_key(const unsigned char *key, size_t keylen,
		       const unsigned char salt[CRYPT_SALT_LEN],
		       unsigned char out[CRYPT_HMAC_LEN])
{
	return crypt_hkdf(key, keylen, salt, CRYPT_SALT_LEN, "pfrez v1 handover",
			  out, CRYPT_HMAC_LEN);
}

int crypt_hmac_sha256(const unsigned char *key, size_t keylen,
		      const void *data, size_t len, unsigned char out[CRYPT_HMAC_LEN])
{
	size_t outl = 0;

	if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len,
		       out, CRYPT_HMAC_LEN, &outl) || outl != CRYPT_HMAC_LEN)
		return crypt_ossl_err("HMAC-SHA256");
	return 0;
}

int crypt_sha256(const void *data, size_t len, unsigned char out[CRYPT_HMAC_LEN])
{
	size_t outl = 0;

	if (!EVP_Q_digest(NULL, "SHA256", NULL, data, len, out, &outl) ||
	    outl != CRYPT_HMAC_LEN)
		return crypt_ossl_err("SHA-256");
	return 0;
}

int crypt_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
