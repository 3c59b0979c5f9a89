/* fd_signalfd: a signalfd for SIGUSR1 and SIGRTMIN+2 (both blocked), and
 * an O_NONBLOCK one for SIGUSR2.  Each round sends itself SIGUSR1 and
 * SIGRTMIN+2 with a value, reads them back through the first one, and
 * checks that the second reads nothing and both masks in fdinfo. */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/signalfd.h>

#define KIND "fd_signalfd"
#include "zdtm.h"

static int sfd, sfd2;
static uint64_t want1, want2;

static const char *setup(int argc, char **argv)
{
	sigset_t m, m2;

	(void)argc, (void)argv;
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGRTMIN + 2);
	sigemptyset(&m2);
	sigaddset(&m2, SIGUSR2);
	want1 = (1ull << (SIGUSR1 - 1)) | (1ull << (SIGRTMIN + 2 - 1));
	want2 = 1ull << (SIGUSR2 - 1);
	if (sigprocmask(SIG_BLOCK, &m, NULL) || sigprocmask(SIG_BLOCK, &m2, NULL))
		return "sigprocmask";
	sfd = signalfd(-1, &m, 0);
	sfd2 = signalfd(-1, &m2, SFD_NONBLOCK);
	return sfd < 0 || sfd2 < 0 ? "signalfd" : NULL;
}

static const char *mask(int fd, uint64_t want)
{
	char name[64], v[64];
	uint64_t got;

	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", fd);
	if (!zdtm_field(name, "sigmask", v, sizeof(v)) || sscanf(v, "%" SCNx64, &got) != 1)
		return "no sigmask in fdinfo";
	return got == want ? NULL : zdtm_why("fd %d: mask %#" PRIx64 ", not %#" PRIx64, fd, got, want);
}

static const char *check(void)
{
	static int round;
	struct signalfd_siginfo si[2];
	union sigval v = { .sival_int = ++round };
	const char *why;
	int got = 0;

	if ((why = mask(sfd, want1)) || (why = mask(sfd2, want2)))
		return why;
	if (kill(getpid(), SIGUSR1) || sigqueue(getpid(), SIGRTMIN + 2, v))
		return "sending";
	while (got < 2) {
		ssize_t n = read(sfd, &si[got], sizeof(si[0]));

		if (n != sizeof(si[0]))
			return zdtm_why("read: %zd", n);
		got++;
	}
	if (si[0].ssi_signo != SIGUSR1 || si[1].ssi_signo != (unsigned)SIGRTMIN + 2 || si[1].ssi_int != round)
		return zdtm_why("read signals %u, %u (value %d)", si[0].ssi_signo, si[1].ssi_signo, si[1].ssi_int);
	if (read(sfd2, &si[0], sizeof(si[0])) != -1 || errno != EAGAIN)
		return "the O_NONBLOCK signalfd did not say EAGAIN";
	return NULL;
}
