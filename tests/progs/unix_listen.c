/* unix_listen: a stream listener bound to a path (argv[1] ".sock") and a
 * seqpacket listener bound to an abstract name ("@unix_listen.PID"),
 * with a backlog of 5.  Each round connects a new client to each,
 * accepts it, sends a message through the connection both ways, and
 * checks that each listener still has its name and listens. */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define KIND "unix_listen"
#include "zdtm.h"

static struct {
	int type;
	struct sockaddr_un sa;
	socklen_t len;
	int fd;
} ls[2];

static const char *setup(int argc, char **argv)
{
	if (argc < 2)
		return "usage: unix_listen PATH";
	ls[0].type = SOCK_STREAM;
	ls[0].sa.sun_family = AF_UNIX;
	snprintf(ls[0].sa.sun_path, sizeof(ls[0].sa.sun_path), "%s.sock", argv[1]);
	ls[0].len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(ls[0].sa.sun_path) + 1);
	unlink(ls[0].sa.sun_path);
	ls[1].type = SOCK_SEQPACKET;
	ls[1].sa.sun_family = AF_UNIX;
	snprintf(ls[1].sa.sun_path + 1, sizeof(ls[1].sa.sun_path) - 1, "unix_listen.%d", (int)getpid());
	ls[1].len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ls[1].sa.sun_path + 1));
	for (int i = 0; i < 2; i++) {
		ls[i].fd = socket(AF_UNIX, ls[i].type, 0);
		if (ls[i].fd < 0 || bind(ls[i].fd, (struct sockaddr *)&ls[i].sa, ls[i].len) ||
		    listen(ls[i].fd, 5))
			return i ? "the abstract listener" : "the path listener";
	}
	return NULL;
}

static const char *check(void)
{
	for (int i = 0; i < 2; i++) {
		const char *what = i ? "the abstract listener" : "the path listener";
		struct sockaddr_un sa;
		socklen_t l = sizeof(sa);
		int c, a, v = 0;
		char buf[16];

		if (getsockname(ls[i].fd, (struct sockaddr *)&sa, &l) || l != ls[i].len ||
		    memcmp(&sa, &ls[i].sa, l))
			return zdtm_why("%s lost its name", what);
		l = sizeof(v);
		if (getsockopt(ls[i].fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) || !v)
			return zdtm_why("%s does not listen", what);
		c = socket(AF_UNIX, ls[i].type, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&ls[i].sa, ls[i].len))
			return zdtm_why("%s: connect: %s", what, strerror(errno));
		a = accept(ls[i].fd, NULL, NULL);
		if (a < 0)
			return zdtm_why("%s: accept: %s", what, strerror(errno));
		if (send(c, "ping", 4, 0) != 4 || recv(a, buf, sizeof(buf), 0) != 4 || memcmp(buf, "ping", 4) ||
		    send(a, "pong", 4, 0) != 4 || recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
			return zdtm_why("%s: the connection does not carry messages", what);
		close(a);
		close(c);
	}
	return NULL;
}
