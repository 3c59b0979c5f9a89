/* pagepipe.h: reads records on a second thread, so that receiving,
 * decrypting, decompressing and checking the next pages overlaps with
 * writing the current ones into the new process. */
#ifndef PTHAW_PAGEPIPE_H
#define PTHAW_PAGEPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct page_pipe;

/* Starts reading from rd (which must not be used until page_pipe_stop). */
int page_pipe_start(struct page_pipe **pp, struct rec_reader *rd);

/* The next record, as rec_read() returns it: 1 with the record (valid
 * until the next call), 0 at the verified end, -errno with the message
 * set in the calling thread. */
int page_pipe_next(struct page_pipe *pp, uint32_t *type, const unsigned char **p, size_t *len);

/* Stops the reader (wherever it is) and frees everything. */
void page_pipe_stop(struct page_pipe *pp);

#endif
