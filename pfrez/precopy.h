/* precopy.h: live pre-copy for -halt over tcp/unix: memory is sent while
 * the process runs, in passes of the pages written since the pass
 * before, then the process is held for the last ones and its state. */
#ifndef PFREZ_PRECOPY_H
#define PFREZ_PRECOPY_H

#include "capture.h"

struct precopy_opts {
	int max_passes;		/* passes while it runs, at most (>= 1) */
	int progress;		/* each pass on stderr as it ends */
};

/* c is held, its state captured and its memory tracked (c->track and
 * c->cow set by capture_state).  Writes the records that must precede
 * the pages, lets the process run, writes passes of pages, then holds it
 * again, captures it anew into c (the capture c was is freed), checks
 * that nothing but memory and task state changed meanwhile (else
 * -ESTALE naming what did: the stream cannot describe it), and writes
 * the last pages and the task state.  Not the end record.  On return c
 * is the capture of the held process, or one attached to nothing; it
 * owns the tracking (c->cow), ended by capture_free(). */
int precopy_write(struct capture *c, struct rec_writer *w, const struct precopy_opts *o);

/* The name of a kind of state the process has that changes as it runs
 * and travels before the pages (a socket's queue, a timer's time left):
 * pre-copy would find it changed at the end every time, so the process
 * is held throughout instead.  NULL when there is none. */
const char *precopy_unsuited(const struct snap *s);

#endif
