/* crypt_gcm.c: sealing and opening one chunk with AES-GCM (crypt.h has
 * the nonce and key derivation). */
#include "crypt_seal.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define GCM_NONCE_LEN	12
#define GCM_TAG_LEN	16

struct crypt_gcm {
	struct crypt_seal s;
	EVP_CIPHER_CTX *ctx;
	unsigned char nonce_base[GCM_NONCE_LEN];
};

static void crypt_gcm_nonce(const struct crypt_gcm *g, uint64_t i,
			    unsigned char nonce[GCM_NONCE_LEN])
{
	memcpy(nonce, g->nonce_base, GCM_NONCE_LEN);
	for (int b = 0; b < 8; b++)
		nonce[GCM_NONCE_LEN - 1 - b] ^= (unsigned char)(i >> (8 * b));
}

static int crypt_gcm_seal(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
			  const unsigned char *in, unsigned char *out, size_t n,
			  unsigned char *tag)
{
	struct crypt_gcm *g = (struct crypt_gcm *)s;
	unsigned char nonce[GCM_NONCE_LEN];
	int outl;

	crypt_gcm_nonce(g, i, nonce);
	if (EVP_EncryptInit_ex(g->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(g->ctx, NULL, &outl, ad, CRYPT_AD_LEN) != 1 ||
	    (n && EVP_EncryptUpdate(g->ctx, out, &outl, in, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(g->ctx, out + n, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		return crypt_ossl_err("AES-GCM: seal");
	return 0;
}

static int crypt_gcm_open(struct crypt_seal *s, uint64_t i, const unsigned char *ad,
			  unsigned char *buf, size_t n, const unsigned char *tag)
{
	struct crypt_gcm *g = (struct crypt_gcm *)s;
	unsigned char nonce[GCM_NONCE_LEN];
	int outl;

	crypt_gcm_nonce(g, i, nonce);
	if (EVP_DecryptInit_ex(g->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(g->ctx, NULL, &outl, ad, CRYPT_AD_LEN) != 1 ||
	    (n && EVP_DecryptUpdate(g->ctx, buf, &outl, buf, (int)n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, (void *)tag) != 1)
		return crypt_ossl_err("AES-GCM: open");
	if (EVP_DecryptFinal_ex(g->ctx, buf + n, &outl) != 1)
		return -EBADMSG;
	return 0;
}

static void crypt_gcm_free(struct crypt_seal *s)
{
	struct crypt_gcm *g = (struct crypt_gcm *)s;

	EVP_CIPHER_CTX_free(g->ctx);
	OPENSSL_clear_free(g, sizeof(*g));
}

static const struct crypt_seal_ops crypt_gcm_ops = {
	.seal = crypt_gcm_seal,
	.open = crypt_gcm_open,
	.free = crypt_gcm_free,
};

int crypt_gcm_new(enum crypt_mode m, const unsigned char *key, size_t keylen,
		  const unsigned char *salt, int encrypt, struct crypt_seal **out)
{
	const EVP_CIPHER *cipher = keylen == 16 ? EVP_aes_128_gcm() :
				   keylen == 24 ? EVP_aes_192_gcm() : EVP_aes_256_gcm();
	unsigned char ke[CRYPT_KEY_MAX];
	struct crypt_gcm *g;
	int rc;

	g = calloc(1, sizeof(*g));
	if (!g)
		return err_sys(ENOMEM, "AES-GCM");
	g->s.ops = &crypt_gcm_ops;
	g->s.name = crypt_name(m);
	g->s.taglen = GCM_TAG_LEN;
	rc = crypt_subkey(m, "key", key, keylen, salt, ke, keylen);
	if (!rc)
		rc = crypt_subkey(m, "nonce", key, keylen, salt, g->nonce_base, GCM_NONCE_LEN);
	if (rc)
		goto fail;
	g->ctx = EVP_CIPHER_CTX_new();
	/* Key once here; each chunk then only sets its nonce. */
	if (!g->ctx ||
	    EVP_CipherInit_ex(g->ctx, cipher, NULL, NULL, NULL, encrypt) != 1 ||
	    EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(g->ctx, NULL, NULL, ke, NULL, encrypt) != 1) {
		rc = crypt_ossl_err("AES-GCM: setup");
		goto fail;
	}
	OPENSSL_cleanse(ke, sizeof(ke));
	*out = &g->s;
	return 0;
fail:
	OPENSSL_cleanse(ke, sizeof(ke));
	crypt_gcm_free(&g->s);
	return rc;
}
