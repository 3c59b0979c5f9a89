/* layer.h: the one interface every stream layer and transport speaks.
 *
 * pfrez:  records -> [compress] -> [encrypt] -> sink
 * pthaw:  source -> [decrypt] -> [decompress] -> records
 *
 * Each layer wraps the one below it.  A writer's close() seals its part of
 * the stream (final frame, last-chunk mark) and then closes the layer
 * below; a reader's read() returns 0 only at an end of stream it verified
 * (a truncated stream is an error, never a quiet 0).  destroy() frees the
 * whole chain without sealing anything: the path for failures, so that an
 * aborted capture can never look complete to the reader. */
#ifndef PFREZ_LAYER_H
#define PFREZ_LAYER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct layer;

struct layer_ops {
	const char *name;
	/* Writes all n bytes: 0 or -errno. */
	int (*write)(struct layer *l, const void *buf, size_t n);
	/* Reads up to n (> 0) bytes: count, 0 at a verified end, or -errno. */
	ssize_t (*read)(struct layer *l, void *buf, size_t n);
	/* Seals (writer) or checks the end (reader), frees l, closes below. */
	int (*close)(struct layer *l);
	/* Frees l and everything below it, sealing nothing. */
	void (*destroy)(struct layer *l);
	/* Optional: writes n bytes at page-aligned buf, whole pages that
	 * the caller gives away: it never writes them again (it maps fresh
	 * pages there first), so the layer may keep a reference instead of
	 * a copy.  1 when it did, 0 when it copied them, or -errno.  NULL:
	 * write() copies them. */
	int (*give)(struct layer *l, void *buf, size_t n);
};

struct layer {
	const struct layer_ops *ops;
	struct layer *below;
};

static inline int layer_write(struct layer *l, const void *buf, size_t n)
{
	return l->ops->write(l, buf, n);
}

static inline int layer_give(struct layer *l, void *buf, size_t n)
{
	return l->ops->give ? l->ops->give(l, buf, n) : l->ops->write(l, buf, n);
}

static inline ssize_t layer_read(struct layer *l, void *buf, size_t n)
{
	return l->ops->read(l, buf, n);
}

static inline int layer_close(struct layer *l)
{
	return l->ops->close(l);
}

static inline void layer_destroy(struct layer *l)
{
	if (l)
		l->ops->destroy(l);
}

/* Reads exactly n bytes.  0 on success, -EPIPE with a "truncated" message
 * when the stream ends first, or the error of the layer. */
int layer_read_full(struct layer *l, void *buf, size_t n);

/* The plain file-descriptor layer at the bottom of a chain (stdin/stdout,
 * files, connected sockets).  close_fd says whether close() closes fd;
 * when it does not and the fd is a socket, a writer's close() shuts down
 * the sending side so the peer sees the end while replies can still come
 * back (-halt uses that). */
struct layer *layer_fd_open(int fd, int close_fd);

/* For an fd opened O_NONBLOCK: a write waits at most ms (> 0) for the
 * reader to take something, then fails with ETIMEDOUT. */
void layer_fd_write_timeout(struct layer *l, int64_t ms);

/* Reads end (return 0) after n more bytes: a stream inside a larger file
 * (selfexec.h). */
void layer_fd_read_limit(struct layer *l, unsigned long long n);

/* pthaw's input pipe (layer_spool.c): reads pass through below until
 * layer_spool_input() is called; from then on a thread reads the rest
 * of the input into an unlinked temporary file ($TMPDIR, else /tmp) and
 * reads come from there.  One input at a time. */
struct layer *layer_spool_open(struct layer *below);
/* Starts spooling the input, if there is one to spool: 1, 0 if there is
 * none, or -errno. */
int layer_spool_input(void);
/* 1 once the spooled input has been read to its end (or failed), or
 * when nothing is spooled; 0 while the thread reads on. */
int layer_spool_ended(void);

/* Optional per-layer byte counting for -progress: the fd layer counts the
 * bytes it moved; 0 for other layers. */
unsigned long long layer_fd_bytes(const struct layer *l);

/* A writer layer over below that keeps everything written in memory
 * until layer_hold_release() writes it out, then passes writes through
 * (layer_hold.c).  NULL when out of memory. */
struct layer *layer_hold_open(struct layer *below);
int layer_hold_release(struct layer *l);
/* What it holds (below NULL: a memory sink, freed with layer_destroy). */
const void *layer_hold_data(struct layer *l, size_t *len);

#endif
