/* pidns.c: starts a restored process in a new PID namespace where its old
 * PID is free, with an init of its own there and a /proc that agrees;
 * without privilege, inside a new user namespace that maps only pthaw's
 * own uid and gid.
 *
 * The child must stay pthaw's (pthaw traces it, waits for it, forwards
 * signals to it), but an unprivileged pthaw may neither enter a PID
 * namespace it made (setns asks CAP_SYS_ADMIN in pthaw's own namespace)
 * nor make one itself (unshare of a user namespace wants a single-threaded
 * caller, and pthaw has threads).  So a short-lived helper does it: it
 * enters the new namespaces, forks their init, and clones the child with
 * CLONE_PARENT, which makes it pthaw's child, born inside them with its
 * PID chosen by set_tid (which the helper may ask there: it has every
 * capability in the new user namespace, or root's).  The helper then
 * exits; the init stays as long as anything runs in the namespace, since
 * the kernel kills every process of a PID namespace whose init ends. */
#include "pidns.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* What the helper tells pthaw: the child's PID, or why it failed. */
struct ns_report {
	int err;
	pid_t pid;
	char step[120];		/* what failed */
	char more[120];		/* and a hint */
};

static int cap_effective(int cap)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (int)(eff >> cap & 1);
}

int pidns_privileged(void)
{
	return cap_effective(CAP_CHECKPOINT_RESTORE) || cap_effective(CAP_SYS_ADMIN);
}

/* The number in a /proc/sys file, or -1 when there is none. */
static long sysctl_read(const char *path)
{
	char buf[32];
	long v = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		v = strtol(buf, NULL, 10);
	}
	return v;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n = -1;
	int e;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -(n < 0 ? e : EIO);
}

/* In a process of its own (single-threaded, as unshare wants): a new user
 * namespace where pthaw's euid and egid are themselves, so that the
 * process keeps its ids as the host sees them.  setgroups is denied
 * there first: the kernel lets no one map a gid otherwise. */
static int enter_userns(uid_t uid, gid_t gid, const char **step)
{
	char map[64];
	int rc;

	*step = "creating a user namespace";
	if (unshare(CLONE_NEWUSER) < 0)
		return -errno;
	*step = "writing /proc/self/uid_map";
	snprintf(map, sizeof(map), "%u %u 1\n", uid, uid);
	rc = write_file("/proc/self/uid_map", map);
	if (rc)
		return rc;
	*step = "writing /proc/self/setgroups";
	rc = write_file("/proc/self/setgroups", "deny");
	if (rc)
		return rc;
	*step = "writing /proc/self/gid_map";
	snprintf(map, sizeof(map), "%u %u 1\n", gid, gid);
	return write_file("/proc/self/gid_map", map);
}

/* In the new user namespace the helper has every capability, but the uid
 * it runs as there is its own, not 0, so execve would take them all from
 * pload: as ambient capabilities (inheritable first) they stay.  caps.c
 * sets the process's own sets (none, for a user's process) at the end. */
static int keep_caps_across_exec(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	long last = sysctl_read("/proc/sys/kernel/cap_last_cap");

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	d[0].inheritable = d[0].permitted;
	d[1].inheritable = d[1].permitted;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	for (long cap = 0; cap <= (last > 0 ? last : CAP_LAST_CAP); cap++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	return 0;
}

int pidns_userns_usable(void)
{
	static const char why[] = "pthaw has no privilege to give PIDs back (CAP_CHECKPOINT_RESTORE), and it cannot restore inside a user namespace either";
	const char *step = "";
	long v;
	pid_t pid;
	int st;

	if (sysctl_read("/proc/sys/user/max_user_namespaces") == 0)
		return err_msg(EPERM, "%s: user namespaces are off on this host (sysctl user.max_user_namespaces is 0; an administrator can set it above 0, or run pthaw as root)",
			       why);
	if (sysctl_read("/proc/sys/kernel/unprivileged_userns_clone") == 0)
		return err_msg(EPERM, "%s: unprivileged user namespaces are off on this host (sysctl kernel.unprivileged_userns_clone is 0; an administrator can set it to 1, or run pthaw as root)",
			       why);
	/* The settings may allow it and still something refuse (a limit
	 * reached, a security module): try, in a child of our own. */
	pid = fork();
	if (pid < 0)
		return err_sys(errno, "fork");
	if (pid == 0)
		_exit(-enter_userns(geteuid(), getegid(), &step) & 0xff);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return err_sys(errno, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	v = sysctl_read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	if (!WIFEXITED(st))
		return err_msg(EPERM, "%s: the trial ended by signal %d", why, WTERMSIG(st));
	return err_msg(WEXITSTATUS(st), "%s: %s%s", why, strerror(WEXITSTATUS(st)),
		       v == 1 ? " (AppArmor restricts unprivileged user namespaces: sysctl kernel.apparmor_restrict_unprivileged_userns is 1)"
			      : WEXITSTATUS(st) == ENOSPC ? " (a user.max_user_namespaces limit is reached)" : "");
}

/* Every fd but a and b goes: the init must hold nothing of pthaw's (a
 * pipe end of pthaw's would keep pthaw from seeing the loader die). */
static void keep_only(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;

	if (lo > 0)
		syscall(SYS_close_range, 0, lo - 1, 0);
	if (hi > lo + 1)
		syscall(SYS_close_range, lo + 1, hi - 1, 0);
	syscall(SYS_close_range, hi + 1, ~0u, 0);
}

/* PID 1 of the new namespace.  It mounts a /proc of the namespace (so
 * that /proc/self is the process, as its getpid() says), waits for the
 * helper's word that the process exists, then reaps what is orphaned
 * inside until the process and all it left are gone.  It is not the
 * process's parent (pthaw is) and forwards nothing: signals go to the
 * process itself.  Only raw calls: it is a fork of pthaw. */
static void __attribute__((noreturn)) ns_init(pid_t want, int st, int go)
{
	sigset_t chld;
	int e = 0, sfd, pfd;
	char c;

	keep_only(st, go);
	prctl(PR_SET_NAME, "pthaw-init", 0, 0, 0);
	/* Out of pthaw's session: Ctrl-C on pthaw's terminal is for the
	 * process, not for the namespace's init. */
	setsid();
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		e = errno;
	if (write(st, &e, sizeof(e)) != sizeof(e) || e)
		_exit(0);
	close(st);
	if (read(go, &c, 1) != 1)
		_exit(0);	/* no process came: the namespace ends */
	close(go);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC);
	/* A pidfd tells when the process (not ours to wait for) ends. */
	pfd = (int)syscall(SYS_pidfd_open, want, 0);
	for (;;) {
		struct pollfd p[2] = { { sfd, POLLIN, 0 }, { pfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		pid_t w;

		do
			w = waitpid(-1, NULL, WNOHANG);
		while (w > 0);
		if (w < 0 && errno == ECHILD && pfd < 0)
			_exit(0);
		if (poll(p, pfd < 0 ? 1 : 2, sfd < 0 ? 1000 : -1) < 0)
			continue;
		if (sfd >= 0 && p[0].revents && read(sfd, &si, sizeof(si)) < 0)
			continue;
		if (pfd >= 0 && p[1].revents) {
			close(pfd);
			pfd = -1;
		}
	}
}

static pid_t clone3_with(uint64_t flags, uint64_t exit_signal, pid_t *tid)
{
	struct clone_args a;

	memset(&a, 0, sizeof(a));
	a.flags = flags;
	a.exit_signal = exit_signal;
	if (tid) {
		a.set_tid = (uint64_t)(uintptr_t)tid;
		a.set_tid_size = 1;	/* the innermost namespace's number only */
	}
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

/* The helper is a fork of a pthaw that may have threads: only calls
 * that take no lock (no strerror, no printf) until it exits; pthaw words
 * the message. */
static void __attribute__((noreturn)) helper_fail(int out, int err, const char *step, const char *more)
{
	struct ns_report rep = { .err = err, .pid = -1 };

	strncpy(rep.step, step, sizeof(rep.step) - 1);
	strncpy(rep.more, more, sizeof(rep.more) - 1);
	if (write(out, &rep, sizeof(rep)) < 0)
		_exit(1);
	_exit(1);
}

/* The helper: the namespaces, their init, the child, the report. */
static void __attribute__((noreturn)) helper(pid_t want, int user, void (*start)(void *), void *arg,
					     int out, pid_t pthaw)
{
	struct ns_report rep = { 0 };
	const char *step = "";
	int st[2], go[2], e, rc;
	pid_t init, pid, tid = want;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* pthaw died before that: CLONE_PARENT would hand the child to
	 * whoever adopted us. */
	if (getppid() != pthaw)
		_exit(1);
	if (user && (rc = enter_userns(geteuid(), getegid(), &step)))
		helper_fail(out, -rc, step, "");
	if (user && (rc = keep_caps_across_exec()))
		helper_fail(out, -rc, "raising the ambient capabilities in the user namespace", "");
	if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0)
		helper_fail(out, errno, "creating a PID and a mount namespace", "");
	/* Mounts made inside stay inside: with / shared (systemd makes it
	 * so) the /proc mounted over /proc would show on the host too. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		helper_fail(out, errno, "making the new mount namespace a slave of the host's", "");
	if (pipe2(st, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		helper_fail(out, errno, "pipe", "");
	init = clone3_with(0, SIGCHLD, NULL);
	if (init < 0)
		helper_fail(out, errno, "starting the namespace's init", "");
	if (init == 0)
		ns_init(want, st[1], go[0]);
	close(st[1]);
	close(go[0]);
	if (read(st[0], &e, sizeof(e)) != sizeof(e))
		helper_fail(out, EIO, "starting the namespace's init", "");
	if (e)
		helper_fail(out, e, "mounting a /proc of the new PID namespace",
			    e == EPERM ? " (the host's /proc is not fully visible here, as in some containers)" : "");
	/* CLONE_PARENT: pthaw's child, not the helper's; its exit signal is
	 * then the helper's own (SIGCHLD), and clone3 wants 0 here. */
	pid = clone3_with(CLONE_PARENT, 0, &tid);
	if (pid < 0)
		helper_fail(out, errno, "clone3 with set_tid in the new PID namespace", "");
	if (pid == 0) {
		start(arg);
		_exit(127);
	}
	if (write(go[1], "g", 1) != 1)
		helper_fail(out, EIO, "starting the namespace's init", "");
	rep.pid = pid;
	if (write(out, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	_exit(0);
}

pid_t pidns_spawn(pid_t want, int user, void (*start)(void *arg), void *arg)
{
	struct ns_report rep;
	int up[2], st;
	ssize_t n;
	pid_t h, self = getpid();

	if (want <= 1)
		return err_msg(EINVAL, "PID %d cannot be given back in a new PID namespace: there it is the namespace's init",
			       want);
	if (pipe2(up, O_CLOEXEC) < 0)
		return err_sys(errno, "pipe");
	h = fork();
	if (h < 0) {
		close(up[0]);
		close(up[1]);
		return err_sys(errno, "fork");
	}
	if (h == 0) {
		close(up[0]);
		helper(want, user, start, arg, up[1], self);
	}
	close(up[1]);
	do
		n = read(up[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	close(up[0]);
	while (waitpid(h, &st, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(rep))
		return err_msg(EIO, "the PID namespace helper ended without a word");
	rep.step[sizeof(rep.step) - 1] = rep.more[sizeof(rep.more) - 1] = '\0';
	if (rep.err || rep.pid <= 0)
		return err_msg(rep.err ? rep.err : EIO, "%s: %s: %s%s",
			       user ? "user and PID namespace" : "PID namespace", rep.step,
			       strerror(rep.err ? rep.err : EIO), rep.more);
	return rep.pid;
}
