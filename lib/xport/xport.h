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
 * The -halt hand-over (tcp and unix only; man/pfrez-stream.5 is the
 * normative text).  pfrez asks for it with the header field "handover"
 * and frames the stream, so that the link stays open both ways after it:
 *
 *   "PFREZ-FRAMES 1\n"      15 bytes, before the stream
 *   le32 L, then L bytes     1 <= L <= XPORT_FRAME_MAX, repeated
 *   le32 0                   the stream ends here
 *
 * A reader of a tcp or unix source sees whether the first bytes are this
 * preamble and unframes; otherwise the stream is read as it comes.  After
 * the stream, each side sends one-line messages:
 *
 *   "pfrez-handover TYPE SEQ TAG TEXT\n"
 *
 *   TYPE  READY, DONE, FAIL, PAGE (pthaw -> pfrez); COMMIT, ABORT (pfrez -> pthaw)
 *   SEQ   decimal, from 0 in each direction, one more per message
 *   TAG   "-" on a plain stream; on an encrypted one, the lowercase hex of
 *         HMAC-SHA256(KH, SHA-256(header) || DIR || le64(SEQ) || TYPE ||
 *         " " || TEXT), DIR "R" from pthaw, "W" from pfrez, KH as
 *         crypt_handover_key() derives it
 *   TEXT  printable ASCII (others are sent as '?'), at most
 *         XPORT_HO_TEXT_MAX bytes, may be empty
 *
 * PAGE (TEXT: an address in lowercase hex, no 0x) may come while the
 * stream is still being written, from a lazy restore (pfrez -lazy): the
 * process waits for that page, and pfrez sends it next.
 *
 * A line that does not parse, has the wrong SEQ or DIR, lacks a tag when
 * one is due, or whose tag does not verify, is refused (-EBADMSG). */
#ifndef PFREZ_XPORT_H
#define PFREZ_XPORT_H

#include <stddef.h>
#include <stdint.h>

#include "layer.h"

#define XPORT_STATUS_MAX	1024
#define XPORT_HO_TEXT_MAX	400
#define XPORT_HO_LINE_MAX	(XPORT_HO_TEXT_MAX + 128)
#define XPORT_FRAME_MAX		(1u << 20)
/* Bytes per second a udp writer sends at most unless told otherwise. */
#define XPORT_UDP_RATE		(128ull << 20)

struct xport_opts {
	int64_t dial_timeout_ms;
	int64_t write_timeout_ms;
	int64_t read_timeout_ms;
	uint64_t udp_rate;	/* bytes/s; 0 = XPORT_UDP_RATE */
	/* pthaw without a key: refuse a tcp or udp peer that is not on a
	 * loopback address (the -insecure flag clears it). */
	int local_only;
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
	int framed;		/* the stream came framed (a hand-over) */

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

/* pfrez: frames what is written from now on (call before the header)
 * and keeps the link open after it.  tcp and unix only. */
int xport_frame_dest(struct xport *x);

enum xport_ho {
	XPORT_HO_READY,		/* pthaw: the copy is built and held stopped */
	XPORT_HO_COMMIT,	/* pfrez: the original is held; start the copy */
	XPORT_HO_ABORT,		/* pfrez: discard the copy */
	XPORT_HO_DONE,		/* pthaw: the copy runs */
	XPORT_HO_FAIL,		/* pthaw: no copy runs; TEXT says why */
	XPORT_HO_PAGE,		/* pthaw, during a lazy restore: send this page first */
};

struct header;

struct xport_handover {
	int writer;		/* 1 on pfrez's side */
	int keyed;		/* messages carry and need a tag */
	int authentic;		/* the last message received carried a good tag */
	unsigned char mac_key[32];
	unsigned char hdr_hash[32];
	uint64_t next_out, next_in;
	char buf[XPORT_HO_LINE_MAX];
	size_t have;
};

/* Sets up one side of the hand-over of the stream whose header is h
 * (NULL before there is one).  key (keylen bytes) is the stream's key
 * when it is encrypted (the salt is read from h), NULL for plain
 * messages. */
int xport_handover_init(struct xport_handover *ho, int writer,
			const struct header *h,
			const unsigned char *key, size_t keylen);

/* Sends one message, text may be NULL; deadline as xport_deadline()
 * makes it (0 = none).  0 once the whole line was handed to the kernel,
 * or -errno. */
int xport_handover_send(struct xport *x, struct xport_handover *ho,
			enum xport_ho type, const char *text, int64_t deadline);

/* Waits until deadline for the next message: its type (>= 0) with its
 * text in text, or -errno with the message set: -ETIMEDOUT, -ECONNRESET
 * (the link closed or broke), -EBADMSG (garbled, out of sequence, or
 * not authenticated), -EPROTO (a message that may not come from that
 * side).  One exception: on a keyed link, a FAIL without a tag is
 * returned with ho->authentic = 0 (a reader that could not check the
 * stream cannot sign; before COMMIT any FAIL ends the hand-over anyway,
 * after it only an authentic one may). */
int xport_handover_recv(struct xport *x, struct xport_handover *ho,
			int64_t deadline, char *text, size_t textlen);

/* The name of a message type ("READY"). */
const char *xport_ho_name(enum xport_ho type);

/* Absolute deadline timeout_ms from now (0 when timeout_ms is 0). */
int64_t xport_deadline(int64_t timeout_ms);

/* Closes everything still open.  An uncommitted file dest is removed.
 * Safe after a failed open, twice, and on a zeroed xport (it closes
 * only what an open made).  A child that forks from a process holding
 * an xport closes the fds itself: xport_close() would also remove a
 * unix socket file or temporary file the parent still uses. */
void xport_close(struct xport *x);

#endif
