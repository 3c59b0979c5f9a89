/* compress.h: the compression layers of the stream (-compress=ALGO[:LEVEL])
 * and the table that names them in the stream header.
 *
 * A writer's close() ends the compressor's stream (gzip trailer, final
 * deflate block, zstd frame end, last snappy chunk) and then closes the
 * layer below.  A reader's read() returns 0 only after the compressor's own
 * end marker and then the end of the layer below (snappy framing has no
 * end marker: there, below must end at a chunk boundary); its close()
 * checks that no data follows.  Truncation is -EPIPE ("zstd: stream
 * truncated"), corrupt data -EBADMSG ("zstd: corrupt data: ...").  Writers
 * cannot read nor readers write.  A close() that fails destroys below
 * instead of closing it; the open functions leave below untouched when
 * they fail. */
#ifndef PFREZ_COMPRESS_H
#define PFREZ_COMPRESS_H

#include "layer.h"

enum compress_algo {
	COMPRESS_NONE,
	COMPRESS_GZIP,
	COMPRESS_FLATE,
	COMPRESS_SNAPPY,
	COMPRESS_ZSTD,
	COMPRESS_NALGO,
};

/* The default level of an algorithm, in every level argument below. */
#define COMPRESS_LEVEL_DEFAULT (-1)

/* Parses "none", "gzip", "flate", "snappy" or "zstd" (any case), with an
 * optional ":LEVEL" (gzip and flate 0-9, zstd 1-19).  *level is -1 when no
 * level is given.  0 or -EINVAL with a message. */
int compress_parse(const char *spec, int *algo, int *level);

/* The canonical name written in the stream header ("zstd"), or NULL. */
const char *compress_name(int algo);

/* The algorithm a header names, exactly as compress_name() spells it.
 * 0 or -EINVAL with a message. */
int compress_by_name(const char *name, int *algo);

/* Opens a compressing writer over below; *out is below itself for
 * COMPRESS_NONE.  0 or a negative errno with a message. */
int layer_compress_open(struct layer *below, int algo, int level,
			struct layer **out);

/* Opens a decompressing reader over below; *out is below itself for
 * COMPRESS_NONE.  0 or a negative errno with a message. */
int layer_decompress_open(struct layer *below, int algo, struct layer **out);

/* The compressors, for compress.c's table: gzip is RFC 1952, flate raw
 * deflate (RFC 1951).  level is already checked and never -1 (snappy has
 * none and ignores it). */
int layer_gzip_writer(struct layer *below, int level, struct layer **out);
int layer_gzip_reader(struct layer *below, struct layer **out);
int layer_flate_writer(struct layer *below, int level, struct layer **out);
int layer_flate_reader(struct layer *below, struct layer **out);
int layer_snappy_writer(struct layer *below, int level, struct layer **out);
int layer_snappy_reader(struct layer *below, struct layer **out);
int layer_zstd_writer(struct layer *below, int level, struct layer **out);
int layer_zstd_reader(struct layer *below, struct layer **out);

#endif
