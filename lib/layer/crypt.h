/* crypt.h: stream encryption (-encrypt=MODE:keypath): mode names, key
 * files, and the authenticated encrypt/decrypt layers.
 *
 * WIRE FORMAT (format v1; the normative text for pfrez-stream(5))
 *
 * Inputs.  K is the raw key from the key file: 16, 24 or 32 bytes, which
 * selects AES-128, AES-192 or AES-256.  S is the per-stream salt: 32
 * random bytes that pfrez draws for every stream and writes, in hex, in
 * the header.  A is the exact header bytes, from the first byte of the
 * magic line through the blank line that ends it.  H = SHA-256(A).
 *
 * Keys.  Every subkey is HKDF-SHA256 (RFC 5869) with IKM = K, salt = S
 * and info = the ASCII string shown (no terminating NUL), where MODE is
 * the canonical mode name as written in the header ("AES-GCM", ...):
 *
 *   AES-GCM:           KE = HKDF(info "pfrez v1 MODE key",   len(K) bytes)
 *                      NB = HKDF(info "pfrez v1 MODE nonce", 12 bytes)
 *   AES-CTR/CFB/OFB:   KE = HKDF(info "pfrez v1 MODE key",   len(K) bytes)
 *                      KM = HKDF(info "pfrez v1 MODE mac",   32 bytes)
 *                      KI = HKDF(info "pfrez v1 MODE iv",    len(K) bytes)
 *
 * Since S is fresh for every stream, so are all subkeys: two streams
 * under the same key file never share a keystream.
 *
 * Payload.  After the header, the payload is a sequence of frames, one
 * per chunk of plaintext, numbered i = 0, 1, 2, ...:
 *
 *   frame_i = W_i (4 bytes, little-endian u32) || C_i || T_i
 *
 *   W_i  bit 31: F, the final flag (1 on the last chunk, 0 on all others);
 *        bits 0-30: L_i, the length of C_i in bytes (= plaintext length).
 *        L_i <= 262144 (CRYPT_CHUNK).  A non-final chunk has L_i >= 1;
 *        the final chunk may be empty, and a stream with no payload bytes
 *        is exactly one empty final chunk.  pfrez writes every non-final
 *        chunk with exactly CRYPT_CHUNK bytes; readers accept any length
 *        in range.
 *   C_i  the ciphertext of the chunk.
 *   T_i  the tag: 16 bytes (AES-GCM) or 32 bytes (AES-CTR/CFB/OFB).
 *
 * The final frame is the last thing in the stream: any byte after it is
 * an error, as is an end of stream before a final frame.
 *
 * Every chunk authenticates the 44 bytes
 *
 *   D_i = H (32) || i (8 bytes, little-endian u64) || W_i (4)
 *
 * so each chunk is bound to the header, to its position and to whether
 * it is the last one: editing the header, flipping any bit, reordering,
 * swapping, duplicating or dropping chunks, truncating the stream, or
 * marking an earlier chunk final all fail authentication or the framing
 * checks above.
 *
 *   AES-GCM:  nonce N_i = NB XOR (4 zero bytes || i as big-endian u64)
 *             (the TLS 1.3 construction); C_i || T_i = AES-GCM(KE, N_i,
 *             aad = D_i, plaintext), 16-byte tag.
 *   AES-CTR:  C_i = AES-CTR(KE, IV_i, plaintext) with the initial 128-bit
 *             big-endian counter block IV_i = i as big-endian u64 || 8
 *             zero bytes.  A chunk spans at most 2^14 blocks, so the
 *             counter never carries into the upper half and no two chunks
 *             share a counter block.
 *   AES-CFB:  C_i = AES-CFB128(KE, IV_i, plaintext),
 *   AES-OFB:  C_i = AES-OFB(KE, IV_i, plaintext), both with the
 *             unpredictable IV_i = AES-ECB(KI, i as big-endian u64 || 8
 *             zero bytes).
 *   CTR/CFB/OFB then MAC (encrypt-then-MAC):
 *             T_i = HMAC-SHA256(KM, D_i || C_i), all 32 bytes.
 *
 * A reader checks T_i before it releases any byte of chunk i (for
 * CTR/CFB/OFB before it even decrypts), so unauthenticated plaintext is
 * never handed on.  A wrong key shows up as an authentication failure
 * of chunk 0, which is indistinguishable from an edited header. */
#ifndef PFREZ_CRYPT_H
#define PFREZ_CRYPT_H

#include <stddef.h>

#include "layer.h"

enum crypt_mode { CRYPT_NONE, CRYPT_AES_CTR, CRYPT_AES_CFB, CRYPT_AES_OFB, CRYPT_AES_GCM };

/* Largest chunk of plaintext in one frame, and the size pfrez writes. */
#define CRYPT_CHUNK	262144u
/* Bytes of W_i in front of every chunk. */
#define CRYPT_FRAME_HDR	4u
#define CRYPT_SALT_LEN	32u
#define CRYPT_KEY_MAX	32u

/* Parses -encrypt's value: "none", or "MODE:keypath" with MODE one of
 * AES-CTR, AES-CFB, AES-OFB, AES-GCM in any case.  *keypath points into
 * spec (NULL for none). */
int crypt_parse(const char *spec, enum crypt_mode *mode, const char **keypath);

/* The canonical name written in the header ("AES-GCM", "none"). */
const char *crypt_name(enum crypt_mode m);

/* The mode a header names (any case), or -EINVAL with a message. */
int crypt_by_name(const char *name, enum crypt_mode *m);

/* Reads a key file holding exactly 16, 24 or 32 raw bytes.  Returns 0, or
 * 1 when the key is good but its file is readable by group or others:
 * err_last() then holds a warning for the caller to print.  Negative
 * errno on failure. */
int crypt_load_key(const char *path, unsigned char key[CRYPT_KEY_MAX], size_t *keylen);

/* pthaw: loads the key named keyname (from the header) from directory
 * keydir.  Names that are empty or contain '/', ".." or control
 * characters are refused.  Returns as crypt_load_key(). */
int crypt_find_key(const char *keydir, const char *keyname,
		   unsigned char key[CRYPT_KEY_MAX], size_t *keylen);

/* Bytes of per-stream salt the header carries for mode m (0 for none). */
size_t crypt_salt_len(enum crypt_mode m);

/* Bytes of tag after each chunk for mode m (0 for none). */
size_t crypt_tag_len(enum crypt_mode m);

/* Fills buf with n bytes from the CSPRNG. */
int crypt_random(unsigned char *buf, size_t n);

/* The -halt hand-over's messages (xport.h): their HMAC-SHA256 key is
 * HKDF-SHA256 with IKM = K, salt = S (the stream's salt) and info
 * "pfrez v1 handover", 32 bytes: fresh for every stream, and a key of
 * its own, used for nothing else. */
#define CRYPT_HMAC_LEN	32u
int crypt_handover_key(const unsigned char *key, size_t keylen,
		       const unsigned char salt[CRYPT_SALT_LEN],
		       unsigned char out[CRYPT_HMAC_LEN]);

/* HMAC-SHA256(key, data) and SHA-256(data) into out (32 bytes). */
int crypt_hmac_sha256(const unsigned char *key, size_t keylen,
		      const void *data, size_t len, unsigned char out[CRYPT_HMAC_LEN]);
int crypt_sha256(const void *data, size_t len, unsigned char out[CRYPT_HMAC_LEN]);

/* 1 when the n bytes at a and b are equal, in time independent of them. */
int crypt_equal(const void *a, const void *b, size_t n);

/* Pushes the encrypting layer on top of below.  salt is the stream's
 * salt (crypt_salt_len(m) bytes, as written in the header), aad the
 * exact header bytes.  For CRYPT_NONE *out is below itself.  On failure
 * below is untouched and still the caller's. */
int layer_encrypt_open(struct layer *below, enum crypt_mode m,
		       const unsigned char *key, size_t keylen,
		       const unsigned char *salt, size_t saltlen,
		       const void *aad, size_t aadlen, struct layer **out);

/* The reading side: same arguments, with salt and aad as read from the
 * header.  Its read() returns only authenticated bytes, and 0 only after
 * the final chunk authenticated and the stream below ended right after
 * it.  Its close() reads and checks whatever is left up to that end. */
int layer_decrypt_open(struct layer *below, enum crypt_mode m,
		       const unsigned char *key, size_t keylen,
		       const unsigned char *salt, size_t saltlen,
		       const void *aad, size_t aadlen, struct layer **out);

#endif
