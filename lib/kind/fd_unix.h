/* fd_unix.h: what fd_unix.c (a process's unix sockets, both ways) and
 * fd_unix_tree.c (the connections restored across the processes of a
 * tree, or by their names) share: the record, and the calls into pload
 * that make a socket again. */
#ifndef PFREZ_FD_UNIX_H
#define PFREZ_FD_UNIX_H

#include "kind.h"
#include "pload_ctl.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

struct snap;
struct snap_file;

#define UNIX_NAME_MAX	((uint32_t)sizeof(((struct sockaddr_un *)0)->sun_path))

enum unix_state {
	UNIX_PLAIN = 0,		/* not connected: bound to a name or not */
	UNIX_PAIR = 1,		/* connected, the peer is the socket of file peer */
	UNIX_LISTEN = 2,	/* listening (bound to a name) */
	UNIX_WIDOWED = 3,	/* connected, the peer closed its end */
	UNIX_DGRAM_TO = 4,	/* a datagram socket connected to the socket bound
				 * to peer_name (which is not connected back) */
	UNIX_TREE_PAIR = 5,	/* connected, the peer is the socket at fd peer
				 * of process peer_pid of the tree */
	UNIX_CONNECTING = 6,	/* a stream or seqpacket connection not yet
				 * accepted by the listener at fd peer of
				 * process peer_pid (its own or another of the
				 * tree), bound to peer_name; backlog: its
				 * place in the listener's queue */
};

enum unix_opt {
	UNIX_PASSCRED = 1u << 0,
	UNIX_PASSSEC = 1u << 1,
	UNIX_PASSPIDFD = 1u << 2,
	UNIX_ACCEPTED = 1u << 3,	/* a stream or seqpacket end accepted from
					 * the listener its name is (UNIX_PAIR,
					 * UNIX_TREE_PAIR): made again by connecting
					 * to a listener on that name */
};

#define UNIX_SHUT_RD	1u	/* the kernel's RCV_SHUTDOWN */
#define UNIX_SHUT_WR	2u	/* SEND_SHUTDOWN */

struct rec_unix {
	uint32_t file;		/* the id of its REC_FILE (kind FD_UNIX) */
	uint32_t type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint32_t state;		/* enum unix_state */
	uint32_t peer;		/* UNIX_PAIR: the other end's file id;
				 * UNIX_TREE_PAIR: its fd in process peer_pid */
	uint32_t shutdown;	/* UNIX_SHUT_RD | UNIX_SHUT_WR */
	uint32_t backlog;	/* UNIX_LISTEN: listen(2)'s backlog;
				 * UNIX_CONNECTING: its place in the queue */
	uint32_t opts;		/* enum unix_opt */
	int32_t rcvbuf, sndbuf;	/* SO_RCVBUF, SO_SNDBUF as getsockopt reads them */
	int32_t peek_off;	/* SO_PEEK_OFF (-1: off) */
	int32_t rcvlowat;	/* SO_RCVLOWAT */
	int32_t priority;	/* SO_PRIORITY */
	int64_t rcvtimeo[2];	/* SO_RCVTIMEO: s, us */
	int64_t sndtimeo[2];	/* SO_SNDTIMEO */
	uint32_t name_len;	/* bytes of its name (abstract: a leading NUL) */
	uint32_t peer_name_len;	/* UNIX_DGRAM_TO, UNIX_CONNECTING: bytes of the
				 * peer's name; UNIX_TREE_PAIR: of the other
				 * end's when it is UNIX_ACCEPTED */
	uint32_t nmsgs;		/* messages queued for it to receive */
	uint32_t peer_pid;	/* UNIX_TREE_PAIR: the process of the other end */
	uint64_t qbytes;	/* their bytes */
	/* then the name, the peer's name, nmsgs times u32 length + bytes */
} __attribute__((packed));

struct unix_sock {
	struct rec_unix r;
	unsigned char *body;	/* name, peer's name, messages as in the record */
	size_t blen;
	uint64_t ino;		/* pfrez: the socket's inode, the peer's */
	uint64_t peer_ino;
	uint32_t sent;		/* pfrez: its bytes sent and not yet read */
};

struct unix_socks {
	size_t n, cap;
	struct unix_sock *v;
};

/* fd_unix.c */

/* A name of nlen bytes, printable: "@..." for an abstract one. */
const char *unix_name_str(char *buf, size_t len, const void *name, uint32_t nlen);
const struct unix_sock *unix_sock_by_file(const struct unix_socks *us, uint32_t file);

/* A system call in pload: its return value, or -errno. */
static inline long pcall(struct kind_restore *r, long nr, long a0, long a1, long a2, long a3, long a4,
			 const void *data, size_t len)
{
	return pload_call(r->pl, nr, a0, a1, a2, a3, a4, 0, data, len);
}

/* What a call in pload wrote to its scratch area. */
int unix_read_scratch(struct kind_restore *r, void *buf, size_t len);
/* A pair of connected sockets of type in pload: 0 with their fds in sv,
 * or -errno. */
int unix_socketpair(struct kind_restore *r, uint32_t type, int sv[2], int fd);
/* The options of u put on pload's socket t (the process's fd). */
int unix_put_opts(struct kind_restore *r, long t, const struct rec_unix *u, int fd);
/* The messages queued for u sent again from t, its peer. */
int unix_queue_back(struct kind_restore *r, long t, const struct unix_sock *u, int fd);
/* u's shutdown, then its SO_PEEK_OFF (last: after its queue). */
int unix_shut(struct kind_restore *r, long t, const struct rec_unix *u, int fd);
/* bind(2) of t to name, waiting a while for one the original holds. */
int unix_bind(struct kind_restore *r, long t, const unsigned char *name, uint32_t nlen, int fd);

/* fd_unix_tree.c */

/* The end at f of a pair across two processes of the tree: the first of
 * them restored makes both ends, pthaw keeps the other one until the
 * later process takes it over.  pload's fd, or -errno. */
long unix_tree_pair(struct kind_restore *r, const struct snap *s, const struct snap_file *f,
		    const struct unix_sock *u);
/* A connection accepted from a listener on name made again: 0 with
 * sv[0] the accepted end and sv[1] the client, or -errno. */
int unix_accepted_pair(struct kind_restore *r, const struct snap *s, uint32_t type,
		       const unsigned char *name, uint32_t nlen, int fd, int sv[2]);
/* The process's listener of file id file is made; the list's end, with
 * the process. */
int unix_listener_made(uint32_t file);
void unix_listeners_reset(void);
/* connect(2) of pload's t to name, relative to cwd when given. */
long unix_connect_name(struct kind_restore *r, long t, const char *name, uint32_t nlen, const char *cwd);
/* u's connect waits for a later process of the tree (UNIX_DGRAM_TO), or
 * its listener and its turn in that listener's queue (UNIX_CONNECTING). */
int unix_defer_connect(struct kind_restore *r, const struct unix_sock *u, int fd);
/* In r's process, the connects whose time has come. */
int unix_deferred_connect(struct kind_restore *r);

#endif
