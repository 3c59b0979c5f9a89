/* xport.h: transports, the sinks pfrez writes the stream to and the
 * sources pthaw reads it from, and the status reply -halt waits for.
 *
 * Specs (DESIGN.md "Transports"):
 *
 *   pfrez (dest)            pthaw (src)
 *   NULL, "-", "stdout"     NULL, "-", "stdin"
 *   PATH                    PATH
 *   tcp:HOST:PORT (dial)    tcp:PORT, tcp:ADDR:PORT (listen, accept one)
 *   unix:PATH (connect)     unix:PATH (listen, accept one, unlink PATH)
 *   udp:HOST:PORT           udp:PORT, udp:ADDR:PORT (bind)
 *
 * HOST is a name, an IPv4 address or an IPv6 address in brackets
 * ("[::1]:25088"); PORT is numeric.  unix:@NAME is an abstract socket.
 * Anything else is a file path ("./tcp:x" names a file called "tcp:x").
 *
 * A file dest is written to a temporary file in the same directory
 * (".NAME.XXXXXX") and renamed over NAME by xport_commit(), so a capture
 * that fails never leaves a half snapshot under the name.  A path that
 * already exists and is not a regular file (/dev/null, a fifo) is opened
 * as it is.
 *
 * Writes to a socket or pipe whose reader is gone raise SIGPIPE: programs
 * ignore it so that they fail with EPIPE instead.
 *
 * Timeouts are in milliseconds, 0 for none, and apply to sockets:
 * dial_timeout bounds connect() on the dialing side and the wait for the
 * peer (the accept, or udp's first datagram) on the listening side;
 * write_timeout and read_timeout bound how long a single write or read
 * may make no progress.  write_timeout also bounds writes to a pipe or
 * fifo dest (stdout or a path), through a non-blocking descriptor of
 * its own.
 *
 * UDP carries the stream one way in datagrams, each with a 16-byte
 * header (all integers little-endian):
 *
 *   0  4  magic "PFZU"
 *   4  1  version, 1
 *   5  1  flags: bit 0 = last datagram of the stream
 *   6  2  payload length in bytes
 *   8  8  sequence number, from 0, one more in each datagram
 *   16    payload
 *
 * Payloads are at most 1400 bytes (the datagram fits a 1500-byte Ethernet
 * frame without IP fragmentation), or 61440 bytes when the destination
 * is a loopback address.  The reader accepts any size up to 65507.  A
 * gap, a duplicate or a reordering of sequence numbers is an error, never
 * data; the stream ends at the datagram marked last, which the writer
 * sends three times (the reader stops at the first copy it gets, so a
 * lost last datagram does not hang the reader).  The reader takes
 * datagrams from the first sender only.  UDP has no flow control, so
 * the writer paces itself to udp_rate; once the stream has begun, the
 * reader gives up after read_timeout (30 s when 0) without a datagram.
 *
 * The status reply (tcp and unix only), sent by pthaw after the stream
 * and read by pfrez, is one line of at most XPORT_STATUS_MAX bytes:
 *
 *   "PTHAW OK <text>\n"      the restored process is running
 *   "PTHAW FAIL <text>\n"    the restore failed, <text> says why
 *
 * <text> is printable ASCII (other bytes are sent as '?').  The reply is
 * not authenticated. */
#ifndef PFREZ_XPORT_H
#define PFREZ_XPORT_H

#include <stddef.h>
#include <stdint.h>

#include "layer.h"

#define XPORT_STATUS_MAX	1024
/* Bytes per second a udp writer sends at most unless told otherwise. */
#define XPORT_UDP_RATE		(128ull << 20)

struct xport_opts {
	int64_t dial_timeout_ms;
	int64_t write_timeout_ms;
	int64_t read_timeout_ms;
	uint64_t udp_rate;	/* bytes/s; 0 = XPORT_UDP_RATE */
};

enum xport_kind {
	XPORT_STDIO,
	XPORT_FILE,
	XPORT_TCP,
	XPORT_UNIX,
	XPORT_UDP,
};

struct xport {
	int fd;
	int two_way;		/* tcp/unix: a reply can come back */
	/* The bottom layer of the stream, set by a successful open.  It is
	 * the caller's: the chain built on it is closed (layer_close(), then
	 * xport_commit()) or destroyed (layer_destroy(), then xport_abort())
	 * by the caller, before xport_close(), which never touches it. */
	struct layer *layer;
	char desc[128];		/* for messages: "tcp:host:port" */

	/* Private to xport*.c. */
	enum xport_kind kind;
	int listen_fd;		/* between xport_listen() and xport_accept() */
	int own_fd;		/* fd is ours to close (not stdin/stdout) */
	char *path;		/* file: the final name; unix src: to unlink */
	char *tmp;		/* file: the temporary file until commit */
	struct xport_opts o;
};

/* pfrez side: opens the sink spec names.  0 or -errno with the message
 * set; on failure nothing is left open or created. */
int xport_open_dest(const char *spec, const struct xport_opts *o,
		    struct xport *x);

/* pthaw side: opens the source spec names; for tcp and unix, listens and
 * waits for one connection.  Same as xport_listen() + xport_accept(). */
int xport_open_src(const char *spec, const struct xport_opts *o,
		   struct xport *x);

/* The two halves of xport_open_src(), for a caller that wants to say
 * where it listens before it waits (or to listen on port 0).  For specs
 * that do not listen, xport_listen() opens and xport_accept() is a no-op. */
int xport_listen(const char *spec, const struct xport_opts *o,
		 struct xport *x);
int xport_accept(struct xport *x);

/* The local port of a tcp or udp xport (listening or connected), or -1. */
int xport_local_port(const struct xport *x);

/* Makes a written file dest appear under its name: call after the layer
 * chain closed without error.  Flushes files to disk (so -halt knows the
 * stream is safe); 0 or -errno.  A no-op for sockets and pipes. */
int xport_commit(struct xport *x);

/* Gives up: a file dest's temporary file is removed, and x is closed. */
void xport_abort(struct xport *x);

/* pthaw -> pfrez after the stream: ok = 1 "restored process running",
 * ok = 0 and msg says why it failed.  Shuts down the sending side.  0, or
 * -errno; a no-op returning 0 on one-way transports. */
int xport_status_send(struct xport *x, int ok, const char *msg);

/* pfrez: waits up to timeout_ms (0 = forever) for pthaw's reply.  1 when
 * pthaw reports success, 0 when it reports failure (msg holds its
 * text), or -errno with the message set: -ETIMEDOUT, -ECONNRESET when
 * the link dropped without a reply, -EPROTO for a garbled reply,
 * -ENOTCONN on a one-way transport.  msg is filled in every case. */
int xport_status_recv(struct xport *x, int64_t timeout_ms, char *msg,
		      size_t msglen);

/* Closes everything still open.  An uncommitted file dest is removed.
 * Safe after a failed open, twice, and on a zeroed xport (it closes
 * only what an open made).  A child that forks from a process holding
 * an xport closes the fds itself: xport_close() would also remove a
 * unix socket file or temporary file the parent still uses. */
void xport_close(struct xport *x);

#endif
