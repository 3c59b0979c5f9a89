/* memlayer.h: a layer over memory for the unit tests, at the bottom of a
 * chain.  It belongs to the test, so close() and destroy() only count. */
#ifndef PFREZ_MEMLAYER_H
#define PFREZ_MEMLAYER_H

#include <stddef.h>
#include <sys/types.h>

#include "layer.h"

/* Writes append to buf; reads serve it from pos, at most max_read bytes
 * at a time (0: no limit) to mimic short reads. */
struct mem {
	struct layer l;
	unsigned char *buf;
	size_t len, cap, pos, max_read;
	int fail_write;		/* nonzero: write() fails with -fail_write */
	const char *fail_msg;	/* the message it leaves; NULL: "mem: write failed" */
	int closed, destroyed;
};

/* An empty layer. */
void mem_init(struct mem *m);

/* A layer holding a copy of the len bytes at data. */
void mem_over(struct mem *m, const void *data, size_t len, size_t max_read);

int mem_write(struct layer *l, const void *buf, size_t n);

#endif
