/* stream.h: builds the layer chain of a stream around its header.
 *
 * pfrez:  header -> sink, then records -> [compress] -> [encrypt] -> sink
 * pthaw:  header <- source, then source -> [decrypt] -> [decompress] */
#ifndef PFREZ_STREAM_H
#define PFREZ_STREAM_H

#include <stddef.h>

#include "crypt.h"
#include "header.h"
#include "layer.h"

struct stream_cfg {
	int algo, level;
	enum crypt_mode mode;
	const char *keyname;	/* base name of the key file, for the header */
	unsigned char key[CRYPT_KEY_MAX];
	size_t keylen;
};

/* Checks -compress and -encrypt and loads the key, before anything else
 * happens.  Returns 0, 1 with a warning in err_last(), or -errno. */
int stream_cfg_parse(struct stream_cfg *cfg, const char *compress, const char *encrypt);

/* Adds the fields every stream has (arch, kernel, CPU features) to h. */
int stream_header_basics(struct header *h);

/* Adds the layer fields to h, writes it to bottom, and returns the top of
 * the chain in *top.  *top starts as bottom and always names the chain
 * built so far: on failure the caller destroys *top. */
int stream_writer_open(struct layer *bottom, struct stream_cfg *cfg, struct header *h,
		       struct layer **top);

/* Reads and checks the header (magic, version, arch, CPU features), finds
 * the key (keypath, or the header's key name in keydir), and returns the
 * top of the reading chain (as for the writer, *top always names the
 * chain built so far).  warn receives a warning line or "". */
int stream_reader_open(struct layer *bottom, const char *keydir, const char *keypath,
		       struct header *h, struct layer **top, char *warn, size_t warnlen);

/* Whether the stream was written during this boot of this machine (its
 * boot-id field): only then do device and inode numbers compare. */
int stream_same_host(const struct header *h);

#endif
