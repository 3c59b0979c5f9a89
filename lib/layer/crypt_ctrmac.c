/* crypt_ctrmac.c: sealing and opening one chunk with AES-CTR, AES-CFB or
 * AES-OFB followed by HMAC-SHA256 (encrypt-then-MAC; crypt.h has the
 * IVs and key derivation). */
#include "crypt_seal.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define CTRMAC_TAG_LEN	32
#define AES_BLOCK	16

struct crypt_ctrmac {
	struct crypt_seal s;
	enum crypt_mode mode;
	int encrypt;
	EVP_CIPHER_CTX *ctx;
	EVP_CIPHER_CTX *ivctx;	/* AES-ECB under KI: IVs for CFB and OFB */
	EVP_MAC *mac;
	EVP_MAC_CTX *macctx;
};

static int crypt_ctrmac_iv(struct crypt_ctrmac *c, uint64_t i, unsigned char iv[AES_BLOCK])
{
	int outl;

	memset(iv, 0, AES_BLOCK);
	for (int b = 0; b < 8; b++)
		iv[7 - b] = (unsigned char)(i >> (8 * b));
	if (c->mode == CRYPT_AES_CTR)
		return 0;
	if (EVP_EncryptUpdate(c->ivctx, iv, &outl, iv, AES_BLOCK) != 1 || outl != AES_BLOCK)
		return crypt_ossl_err("AES: IV");
	return 0;
}

static int crypt_ctrmac_tag(struct crypt_ctrmac *c, const unsigned char *ad,
			    const unsigned char *ct, size_t n, unsigned char *tag)
{
	size_t outl;

	/* A NULL key restarts HMAC with the key already set. */
	if (EVP_MAC_init(c->macctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(c->macctx, ad, CRYPT_AD_LEN) != 1 ||
	    EVP_MAC_update(c->macctx, ct, n) != 1 ||
	    EVP_MAC_final(c->macctx, tag, &outl, CTRMAC_TAG_LEN) != 1 ||
	    outl != CTRMAC_TAG_LEN)
		return crypt_ossl_err("HMAC-SHA256");
	return 0;
}

static int crypt_ctrmac_cipher(struct crypt_ctrmac *c, uint64_t i,
			       const unsigned char *in, unsigned char *out, size_t n)
{
	unsigned char iv[AES_BLOCK];
	int outl, rc;

	rc = crypt_ctrmac_iv(c, i, iv);
	if (rc)
		return rc;
	if (EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, iv, c->encrypt) != 1 ||
	    (n && EVP_CipherUpdate(c->ctx, out, &outl, in, (int)n) != 1))
		return crypt_ossl_err(c->s.name);
	return 0;
}

static int crypt_ctrmac_seal(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
			     const unsigned char *in, unsigned char *out, size_t n,
			     unsigned char *tag)
{
	struct crypt_ctrmac *c = (struct crypt_ctrmac *)s;
	int rc = crypt_ctrmac_cipher(c, i, in, out, n);

	return rc ? rc : crypt_ctrmac_tag(c, ad, out, n, tag);
}

static int crypt_ctrmac_open(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
			     unsigned char *buf, size_t n, const unsigned char *tag)
{
	struct crypt_ctrmac *c = (struct crypt_ctrmac *)s;
	unsigned char want[CTRMAC_TAG_LEN];
	int rc;

	rc = crypt_ctrmac_tag(c, ad, buf, n, want);
	if (rc)
		return rc;
	if (CRYPTO_memcmp(want, tag, CTRMAC_TAG_LEN) != 0)
		return -EBADMSG;
	return crypt_ctrmac_cipher(c, i, buf, buf, n);
}

static void crypt_ctrmac_free(struct crypt_seal *s)
{
	struct crypt_ctrmac *c = (struct crypt_ctrmac *)s;

	EVP_CIPHER_CTX_free(c->ctx);
	EVP_CIPHER_CTX_free(c->ivctx);
	EVP_MAC_CTX_free(c->macctx);
	EVP_MAC_free(c->mac);
	free(c);
}

static const struct crypt_seal_ops crypt_ctrmac_ops = {
	.seal = crypt_ctrmac_seal,
	.open = crypt_ctrmac_open,
	.free = crypt_ctrmac_free,
};

static const EVP_CIPHER *crypt_ctrmac_evp(enum crypt_mode m, size_t keylen)
{
	switch (m) {
	case CRYPT_AES_CTR:
		return keylen == 16 ? EVP_aes_128_ctr() :
		       keylen == 24 ? EVP_aes_192_ctr() : EVP_aes_256_ctr();
	case CRYPT_AES_CFB:
		return keylen == 16 ? EVP_aes_128_cfb128() :
		       keylen == 24 ? EVP_aes_192_cfb128() : EVP_aes_256_cfb128();
	default:
		return keylen == 16 ? EVP_aes_128_ofb() :
		       keylen == 24 ? EVP_aes_192_ofb() : EVP_aes_256_ofb();
	}
}

int crypt_ctrmac_new(enum crypt_mode m, const unsigned char *key, size_t keylen,
		     const unsigned char *salt, int encrypt, struct crypt_seal **out)
{
	const EVP_CIPHER *ecb = keylen == 16 ? EVP_aes_128_ecb() :
				keylen == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
	unsigned char ke[CRYPT_KEY_MAX], ki[CRYPT_KEY_MAX], km[32];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	struct crypt_ctrmac *c;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return err_sys(ENOMEM, "%s", crypt_name(m));
	c->s.ops = &crypt_ctrmac_ops;
	c->s.name = crypt_name(m);
	c->s.taglen = CTRMAC_TAG_LEN;
	c->mode = m;
	c->encrypt = encrypt;
	rc = crypt_subkey(m, "key", key, keylen, salt, ke, keylen);
	if (!rc)
		rc = crypt_subkey(m, "mac", key, keylen, salt, km, sizeof(km));
	if (!rc)
		rc = crypt_subkey(m, "iv", key, keylen, salt, ki, keylen);
	if (rc)
		goto fail;
	c->ctx = EVP_CIPHER_CTX_new();
	c->ivctx = EVP_CIPHER_CTX_new();
	c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	c->macctx = c->mac ? EVP_MAC_CTX_new(c->mac) : NULL;
	if (!c->ctx || !c->ivctx || !c->macctx ||
	    EVP_CipherInit_ex(c->ctx, crypt_ctrmac_evp(m, keylen), NULL, ke, NULL, encrypt) != 1 ||
	    EVP_EncryptInit_ex(c->ivctx, ecb, NULL, ki, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c->ivctx, 0) != 1 ||
	    EVP_MAC_init(c->macctx, km, sizeof(km), params) != 1) {
		rc = crypt_ossl_err(crypt_name(m));
		goto fail;
	}
	*out = &c->s;
	goto out;
fail:
	crypt_ctrmac_free(&c->s);
out:
	OPENSSL_cleanse(ke, sizeof(ke));
	OPENSSL_cleanse(ki, sizeof(ki));
	OPENSSL_cleanse(km, sizeof(km));
	return rc;
}
