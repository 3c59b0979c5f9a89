/* selfexec.h: self-executing snapshots (pfrez -exec): a file that is
 * pthaw's executable, then pload's, then an ordinary stream, then a
 * trailer saying where each is (man/pfrez-stream.5, "Self-executing
 * snapshots").  Run, the pthaw at its start restores the stream inside
 * it with the pload inside it; pthaw -src=FILE reads the stream too.
 *
 * The trailer, the file's last SELFEXEC_TRAILER bytes, little-endian:
 *
 *   0  8  offset of pload's image (the end of pthaw's)
 *   8  8  length of pload's image
 *  16  8  offset of the stream, which runs up to the trailer
 *  24  8  magic "PFZEXEC1"
 */
#ifndef PFREZ_SELFEXEC_H
#define PFREZ_SELFEXEC_H

#include "layer.h"

#include <stdint.h>

#define SELFEXEC_TRAILER	32
#define SELFEXEC_MAGIC		"PFZEXEC1"

struct selfexec {
	uint64_t pload_off, pload_len;
	uint64_t stream_off, stream_len;
};

/* Whether the regular file fd is a self-executing snapshot: 1 with *e
 * filled (its offsets checked against the file's size), 0 when it is not
 * one (or not a regular file), -errno on a failing read. */
int selfexec_find(int fd, struct selfexec *e);

/* Writes the executables pthaw and pload (paths) to out, the start of
 * a self-executing snapshot; e gets their offsets. */
int selfexec_write_head(struct layer *out, const char *pthaw, const char *pload,
			struct selfexec *e);

/* Writes the trailer, after the stream. */
int selfexec_write_trailer(struct layer *out, const struct selfexec *e);

/* A memfd holding the pload image of the snapshot fd (close-on-exec,
 * executable), or -errno. */
int selfexec_loader(int fd, const struct selfexec *e);

#endif
