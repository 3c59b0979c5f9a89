/* tree_fds: descriptors of other kinds inherited across fork, each one
 * object in parent and child: an eventfd the child adds to and the
 * parent reads, an epoll instance (watching the eventfd) both hold, a UDP
 * socket bound on loopback (no datagram waits in it: pfrez refuses a
 * queue it cannot carry).  Each round the parent checks with kcmp that
 * the child's fds are its own open file descriptions, that the child's
 * additions arrive through the epoll instance, and the socket's port. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define KIND "tree_fds"
#include "zdtm.h"

static int efd, ep, udp;
static pid_t kid;
static uint64_t got;		/* the child's additions read so far */
static in_port_t port;

static const char *setup(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct epoll_event ev = { .events = EPOLLIN };
	socklen_t len = sizeof(a);

	(void)argc;
	(void)argv;
	closefrom(3);
	efd = eventfd(0, EFD_NONBLOCK);
	ep = epoll_create1(0);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (efd < 0 || ep < 0 || udp < 0)
		return "eventfd, epoll, socket";
	ev.data.fd = efd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		return "epoll_ctl";
	if (bind(udp, (struct sockaddr *)&a, sizeof(a)) || getsockname(udp, (struct sockaddr *)&a, &len) ||
	    connect(udp, (struct sockaddr *)&a, sizeof(a)))
		return "bind the UDP socket";
	port = a.sin_port;
	kid = fork();
	if (kid < 0)
		return "fork";
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			uint64_t one = 1;

			if (write(efd, &one, 8) != 8)
				_exit(1);
			msleep(10);
		}
	}
	return NULL;
}

static const char *check(void)
{
	static const char *const what[] = { "eventfd", "epoll", "UDP socket" };
	int fds[] = { efd, ep, udp };
	struct sockaddr_in a;
	socklen_t len;
	struct epoll_event ev;
	uint64_t v;

	for (int i = 0; i < 3; i++) {
		long same = syscall(SYS_kcmp, getpid(), kid, KCMP_FILE, fds[i], fds[i]);

		if (same != 0)
			return zdtm_why("the child's %s (fd %d) is not the parent's (kcmp: %s)", what[i], fds[i],
					same < 0 ? strerror(errno) : "two files");
	}
	if (epoll_wait(ep, &ev, 1, 1000) != 1 || ev.data.fd != efd)
		return "the epoll instance does not see the child's additions to the eventfd";
	if (read(efd, &v, 8) != 8 || !v)
		return "the eventfd has nothing from the child";
	got += v;
	len = sizeof(a);
	if (getsockname(udp, (struct sockaddr *)&a, &len) || a.sin_port != port)
		return zdtm_why("the UDP socket's port is %u, was %u", ntohs(a.sin_port), ntohs(port));
	return NULL;
}
