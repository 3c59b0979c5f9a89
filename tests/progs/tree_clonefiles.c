/* tree_clonefiles [nested|fs|fsonly|vm|siblings]: a child made with
 * clone(CLONE_FILES|SIGCHLD), no thread flags: parent and child share
 * one fd table.  Each round, over two control pipes made before the
 * clone: the parent opens a pipe and names its write end to the child,
 * which writes the round's number into it (an fd the parent opened after
 * the restore, used by the child); the child opens a pipe of its own,
 * writes into it and names its ends to the parent, which reads it (and
 * the other way round); the parent closes all four and the child finds
 * them closed.  kcmp(KCMP_FILES) says the table is one.  The child prints
 * "tree_clonefiles child ok N" each round (a line the harness does not
 * count as a round of the parent's), or FAIL.
 *
 * nested: the root only waits; its forked child does the above, with
 * fds up to 40 open (its table, and so its clone's, above the root's).
 * fs: the child shares the working directory and umask too (CLONE_FS):
 * each round it moves between the starting directory and a directory
 * in it, with umask 022 or 027, and the parent finds itself there.
 * fsonly: the child shares the working directory and umask only
 * (CLONE_FS), and only waits.
 * vm: the child shares the memory (CLONE_VM), not the fd table, and
 * only waits.
 * siblings: two children share one table that their parent left
 * (unshare(CLONE_FILES)): no parent of theirs has it. */
#include <fcntl.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define KIND "tree_clonefiles"
#include "zdtm.h"

/* What the control pipes carry, each way. */
struct msg {
	long round;
	int fd[4];
	char err[64];
};

static char stack[64 * 1024] __attribute__((aligned(16)));
static int p2c[2], c2p[2];
static pid_t kid;
static long round;
static int fs, waiting;
static char dir[2][4096];	/* fs: where round N leaves the two, by N % 2 */

/* fs: what round n of the child leaves shared: directory and umask. */
static mode_t fs_mask(long n)
{
	return n % 2 ? 027 : 022;
}

static int xread(int fd, void *buf, size_t n, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t r;

	/* The other side may be gone: the table keeps both ends of every
	 * pipe open, so no end of file would ever come. */
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return -1;
	while ((r = read(fd, buf, n)) < 0 && errno == EINTR)
		;
	return r == (ssize_t)n ? 0 : -1;
}

static int xwrite(int fd, const void *buf, size_t n)
{
	ssize_t r;

	while ((r = write(fd, buf, n)) < 0 && errno == EINTR)
		;
	return r == (ssize_t)n ? 0 : -1;
}

static int closed(int fd)
{
	return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

/* The child fails: says why, to the parent too. */
static void __attribute__((noreturn)) child_fail(const char *why)
{
	struct msg m = { .round = -1 };

	snprintf(m.err, sizeof(m.err), "%s (%s)", why, strerror(errno));
	say("FAIL " KIND " child: %s\n", m.err);
	xwrite(c2p[1], &m, sizeof(m));
	_exit(1);
}

/* The child's side of a round: the request names the parent's new
 * write end (fd[0]); then the parent's "closed" names what it closed. */
static int child(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct msg m, r = { 0 };
		int q[2];

		if (xread(p2c[0], &m, sizeof(m), -1))
			child_fail("reading the request");
		if (xwrite(m.fd[0], &m.round, sizeof(m.round)))
			child_fail("writing into the parent's new fd");
		if (pipe2(q, O_CLOEXEC))
			child_fail("pipe2");
		r.round = m.round;
		r.fd[0] = q[0];
		r.fd[1] = q[1];
		if (fs) {
			if (chdir(dir[m.round % 2]))
				child_fail("chdir");
			umask(fs_mask(m.round));
		}
		if (xwrite(q[1], &r.round, sizeof(r.round)) || xwrite(c2p[1], &r, sizeof(r)))
			child_fail("writing the reply");
		if (xread(p2c[0], &m, sizeof(m), -1))
			child_fail("reading the closed fds");
		for (int i = 0; i < 4; i++)
			if (!closed(m.fd[i])) {
				errno = 0;
				child_fail(zdtm_why("fd %d, closed by the parent, is open here", m.fd[i]));
			}
		r.fd[0] = r.fd[1] = -1;
		if (xwrite(c2p[1], &r, sizeof(r)))
			child_fail("writing the ack");
		say(KIND " child ok %ld\n", m.round);
	}
}

static const char *setup(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int flags = CLONE_FILES | SIGCHLD;

	closefrom(3);
	if (pipe2(p2c, O_CLOEXEC) || pipe2(c2p, O_CLOEXEC))
		return "pipe2";
	if (!strcmp(mode, "nested")) {
		pid_t p = fork();

		if (p < 0)
			return "fork";
		if (p > 0)
			for (;;)
				pause();
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (int fd = 7; fd <= 40; fd++)
			if (dup2(0, fd) != fd)
				return "dup2";
	} else if (!strcmp(mode, "fs")) {
		fs = 1;
		flags |= CLONE_FS;
		char base[4000];

		if ((mkdir("clonefs.d", 0755) && errno != EEXIST) || !getcwd(base, sizeof(base)))
			return "mkdir clonefs.d";
		snprintf(dir[0], sizeof(dir[0]), "%s", base);
		snprintf(dir[1], sizeof(dir[1]), "%s/clonefs.d", base);
	} else if (!strcmp(mode, "fsonly")) {
		waiting = 1;
		flags = CLONE_FS | SIGCHLD;
	} else if (!strcmp(mode, "vm")) {
		waiting = 1;
		flags = CLONE_VM | SIGCHLD;
	} else if (!strcmp(mode, "siblings")) {
		waiting = 1;
		if (clone(child, stack + sizeof(stack), flags, NULL) < 0)
			return "clone CLONE_FILES";
	} else if (*mode) {
		errno = EINVAL;
		return "usage: tree_clonefiles [nested|fs|fsonly|vm|siblings]";
	}
	kid = clone(child, stack + sizeof(stack), flags, NULL);
	if (kid < 0)
		return "clone CLONE_FILES";
	if (!strcmp(mode, "siblings") && unshare(CLONE_FILES))
		return "unshare CLONE_FILES";
	return NULL;
}

static const char *check(void)
{
	struct msg m = { .round = ++round }, r;
	long got = 0, same = syscall(SYS_kcmp, getpid(), kid, KCMP_FILES, 0, 0);
	int a[2];

	if (waiting)
		return NULL;	/* the children wait for requests that never come */
	if (same != 0)
		return zdtm_why("the child %d does not share the fd table (kcmp: %s)", kid,
				same < 0 ? strerror(errno) : "two tables");
	if (pipe2(a, O_CLOEXEC))
		return "pipe2";
	m.fd[0] = a[1];
	if (xwrite(p2c[1], &m, sizeof(m)))
		return "writing the request";
	if (xread(c2p[0], &r, sizeof(r), 10000))
		return zdtm_why("round %ld: no reply from the child", round);
	if (r.round != round)
		return zdtm_why("round %ld: the child says %ld: %s", round, r.round, r.err);
	if (xread(a[0], &got, sizeof(got), 0) || got != round)
		return zdtm_why("round %ld: the child did not write into fd %d, opened by the parent", round, a[1]);
	if (xread(r.fd[0], &got, sizeof(got), 0) || got != round)
		return zdtm_why("round %ld: fd %d, opened by the child, is not here", round, r.fd[0]);
	if (fs) {
		char cwd[4096], mask[32];

		if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, dir[round % 2]))
			return zdtm_why("round %ld: the child moved to %s, the parent is in %s", round,
					dir[round % 2], cwd);
		if (!zdtm_status("Umask", mask, sizeof(mask)) || strtol(mask, NULL, 8) != fs_mask(round))
			return zdtm_why("round %ld: the child set umask %03o, the parent has %s", round,
					fs_mask(round), mask);
	}
	m.fd[0] = a[0];
	m.fd[1] = a[1];
	m.fd[2] = r.fd[0];
	m.fd[3] = r.fd[1];
	for (int i = 0; i < 4; i++)
		close(m.fd[i]);
	if (xwrite(p2c[1], &m, sizeof(m)))
		return "writing the closed fds";
	if (xread(c2p[0], &r, sizeof(r), 10000))
		return zdtm_why("round %ld: no ack from the child", round);
	if (r.round != round)
		return zdtm_why("round %ld: the child says %ld: %s", round, r.round, r.err);
	return NULL;
}
