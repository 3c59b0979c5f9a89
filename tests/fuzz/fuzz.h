/* fuzz.h: the fuzz harness over what pthaw does with a stream before it
 * starts pload, shared by the libFuzzer build, the replay tool and the
 * seed generator. */
#ifndef PFREZ_FUZZ_H
#define PFREZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The fixed test key: seeds are encrypted with it, and the harness finds
 * it by the name the header gives, in a key directory of its own. */
#define FUZZ_KEYNAME	"fuzz.key"
#define FUZZ_KEY	"pfrez fuzz test key, no secret!!"	/* 32 bytes, AES-256 */
#define FUZZ_KEYLEN	32

/* Creates the key directory; 0 or -errno.  Removed at exit. */
int fuzz_setup(void);

/* Runs the input through pthaw's pre-pload path: header, key lookup,
 * decrypt and decompress layers, records, snapshot decode and checks,
 * and the rest of the stream as -debug reads it.  With fixcrc, the input
 * is first rewritten so that its checksums hold (see fuzz_fix_stream).
 * Returns 0 when the whole stream was accepted, else -errno. */
int fuzz_one(const uint8_t *data, size_t size, int fixcrc);

/* Rewrites a plain stream in place so that its checksums hold. */
void fuzz_fix_stream(unsigned char *b, size_t n);

#endif
