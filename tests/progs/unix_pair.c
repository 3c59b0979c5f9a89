/* unix_pair: socketpairs of each type (stream, dgram, seqpacket) with
 * messages queued both ways, one stream pair shut down for writing one
 * way with its last bytes unread, and options set on the ends (SO_RCVBUF,
 * SO_SNDBUF, SO_PASSCRED, SO_RCVTIMEO, O_NONBLOCK).  Each round reads
 * every queue (message boundaries compared where the type keeps them),
 * sends the same messages back so the next round finds them again, and
 * checks the options, that nothing peeks at an offset (SO_PEEK_OFF off,
 * as a capture must leave it) and that each pair still talks to itself. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>

#define KIND "unix_pair"
#include "zdtm.h"

#define NMSG 3

static const struct {
	int type;
	const char *name;
} types[] = {
	{ SOCK_STREAM, "stream" }, { SOCK_DGRAM, "dgram" }, { SOCK_SEQPACKET, "seqpacket" },
};
#define NTYPES 3

static int sv[NTYPES][2];
static int shut[2];		/* a stream pair: shut[0] shut down for writing */
static int rcvbuf, sndbuf;
static struct timeval rcvtimeo;	/* as the kernel keeps it (in jiffies) */
static const char *const msgs[2][NMSG] = {
	{ "from end 0: first", "from end 0: the second message", "3" },
	{ "from end 1: one", "from end 1: and another, longer one", "from end 1: last" },
};

static const char *setup(int argc, char **argv)
{
	struct timeval tv = { 7, 250000 };
	int one = 1;
	socklen_t l = sizeof(rcvbuf);

	(void)argc, (void)argv;
	for (int t = 0; t < NTYPES; t++) {
		if (socketpair(AF_UNIX, types[t].type, 0, sv[t]))
			return "socketpair";
		for (int e = 0; e < 2; e++)
			for (int i = 0; i < NMSG; i++)
				if (send(sv[t][e], msgs[e][i], strlen(msgs[e][i]), 0) < 0)
					return "send";
	}
	/* Options on the dgram pair's end 0, O_NONBLOCK on the seqpacket
	 * pair's end 1. */
	if (setsockopt(sv[1][0], SOL_SOCKET, SO_RCVBUF, &(int){ 50000 }, sizeof(int)) ||
	    setsockopt(sv[1][0], SOL_SOCKET, SO_SNDBUF, &(int){ 70000 }, sizeof(int)) ||
	    setsockopt(sv[1][0], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    setsockopt(sv[1][0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return "setsockopt";
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_RCVBUF, &rcvbuf, &l) ||
	    getsockopt(sv[1][0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &l))
		return "getsockopt";
	l = sizeof(rcvtimeo);
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_RCVTIMEO, &rcvtimeo, &l) || rcvtimeo.tv_sec != 7)
		return "SO_RCVTIMEO";
	if (fcntl(sv[2][1], F_SETFL, O_NONBLOCK))
		return "O_NONBLOCK";
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, shut) || send(shut[0], "bye", 3, 0) != 3 ||
	    shutdown(shut[0], SHUT_WR))
		return "the shut down pair";
	return NULL;
}

/* Reads what end e of pair t has queued (sent by the other end) and
 * sends it back the same way. */
static const char *queue(int t, int e)
{
	char buf[256], want[256] = "", got[256] = "";
	int from = !e, peek = 0;
	socklen_t l = sizeof(peek);
	ssize_t n;
	int i = 0;

	if (getsockopt(sv[t][e], SOL_SOCKET, SO_PEEK_OFF, &peek, &l) || peek != -1)
		return zdtm_why("%s pair end %d: SO_PEEK_OFF is %d, not off", types[t].name, e, peek);
	for (int k = 0; k < NMSG; k++)
		strcat(want, msgs[from][k]);
	while ((n = recv(sv[t][e], buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = 0;
		if (types[t].type != SOCK_STREAM && (i >= NMSG || strcmp(buf, msgs[from][i])))
			return zdtm_why("%s pair end %d: message %d is \"%s\", not \"%s\"", types[t].name,
					e, i, buf, i < NMSG ? msgs[from][i] : "(none)");
		if (strlen(got) + n >= sizeof(got))
			return zdtm_why("%s pair end %d: too much queued", types[t].name, e);
		strcat(got, buf);
		i++;
	}
	if (n < 0 && errno != EAGAIN)
		return zdtm_why("%s pair end %d: recv: %s", types[t].name, e, strerror(errno));
	if (strcmp(got, want))
		return zdtm_why("%s pair end %d: \"%s\" queued, not \"%s\"", types[t].name, e, got, want);
	for (int k = 0; k < NMSG; k++)
		if (send(sv[t][from], msgs[from][k], strlen(msgs[from][k]), MSG_DONTWAIT) < 0)
			return zdtm_why("%s pair end %d: send back: %s", types[t].name, from, strerror(errno));
	return NULL;
}

static const char *check(void)
{
	int v = 0, fl;
	socklen_t l = sizeof(v);
	struct timeval tv;
	char buf[8];
	const char *why;

	for (int t = 0; t < NTYPES; t++)
		for (int e = 0; e < 2; e++)
			if ((why = queue(t, e)))
				return why;
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_RCVBUF, &v, &l) || v != rcvbuf)
		return zdtm_why("SO_RCVBUF is %d, not %d", v, rcvbuf);
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_SNDBUF, &v, &l) || v != sndbuf)
		return zdtm_why("SO_SNDBUF is %d, not %d", v, sndbuf);
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_PASSCRED, &v, &l) || v != 1)
		return "SO_PASSCRED is off";
	l = sizeof(tv);
	if (getsockopt(sv[1][0], SOL_SOCKET, SO_RCVTIMEO, &tv, &l) || tv.tv_sec != rcvtimeo.tv_sec ||
	    tv.tv_usec != rcvtimeo.tv_usec)
		return zdtm_why("SO_RCVTIMEO is %ld.%06ld s, not %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec,
				(long)rcvtimeo.tv_sec, (long)rcvtimeo.tv_usec);
	fl = fcntl(sv[2][1], F_GETFL);
	if (!(fl & O_NONBLOCK))
		return "the seqpacket pair's end 1 lost O_NONBLOCK";
	if (fcntl(sv[2][0], F_GETFL) & O_NONBLOCK)
		return "the seqpacket pair's end 0 became O_NONBLOCK";
	/* The shut down pair: its last bytes wait, and end 0 cannot send. */
	if (recv(shut[1], buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT) != 3 || memcmp(buf, "bye", 3))
		return "the shut down pair lost its last bytes";
	if (send(shut[0], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != -1 || errno != EPIPE)
		return "the shut down pair's end 0 can send again";
	if (send(shut[1], "y", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1 ||
	    recv(shut[0], buf, sizeof(buf), MSG_DONTWAIT) != 1 || buf[0] != 'y')
		return "the shut down pair's other way does not work";
	return NULL;
}
