/* xport_int.h: what xport.c, xport_inet.c, xport_unix.c and xport_udp.c
 * share with each other; callers use xport.h. */
#ifndef PFREZ_XPORT_INT_H
#define PFREZ_XPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xport.h"

/* Monotonic clock in milliseconds. */
int64_t xport_now_ms(void);

/* Absolute deadline timeout_ms from now, or 0 (none) when timeout_ms is 0. */
int64_t xport_deadline(int64_t timeout_ms);

/* Polls fd for events until deadline (0 = none): 1 ready, 0 timed out,
 * or -errno with the message set. */
int xport_poll(int fd, short events, int64_t deadline);

/* Sets SO_SNDTIMEO/SO_RCVTIMEO from o (0 leaves them unset). */
int xport_sock_timeouts(int fd, const struct xport_opts *o);

/* 1 when ss is a loopback address (127/8, ::1, IPv4-mapped 127/8). */
int xport_is_loopback(const struct sockaddr_storage *ss);

/* "127.0.0.1:25088", "[::1]:25088" (IPv4-mapped addresses as IPv4). */
void xport_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* Splits the part of spec after "tcp:" or "udp:" (rest) into host and
 * port.  dial: HOST:PORT required, port 1-65535; otherwise PORT or
 * ADDR:PORT, port 0-65535, host "" meaning every address. */
int xport_parse_inet(const char *spec, const char *rest, int dial,
		     char *host, size_t hostlen, char *port, size_t portlen);

/* Resolves host:port and connects a socket of socktype to the first
 * address that answers, within o->dial_timeout_ms.  The socket is
 * blocking, close-on-exec, with o's timeouts.  *peer gets the address. */
int xport_inet_dial(const char *spec, const char *host, const char *port,
		    int socktype, const struct xport_opts *o, int *fdp,
		    struct sockaddr_storage *peer);

/* Binds a socket of socktype to host:port (host "": every IPv6 and IPv4
 * address) and, for SOCK_STREAM, listens (non-blocking, for accept). */
int xport_inet_bind(const char *spec, const char *host, const char *port,
		    int socktype, int *fdp);

int xport_unix_dial(const char *spec, const char *path,
		    const struct xport_opts *o, int *fdp);
/* Listens on path; *made is set when a file was created to unlink. */
int xport_unix_listen(const char *spec, const char *path, int *fdp,
		      int *made);

/* Set up x->fd and x->layer for udp:... (x->desc, x->o already set). */
int xport_udp_open_dest(struct xport *x, const char *spec);
int xport_udp_open_src(struct xport *x, const char *spec);

#endif
