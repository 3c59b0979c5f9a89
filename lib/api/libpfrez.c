/* libpfrez.c: a process checkpoints or forks itself.  A child runs pfrez
 * on its parent, so the whole process is captured at one instant while
 * the calling thread waits for pfrez's answer; the copy finds itself
 * returning from that same wait (pfrez_checkpoint(3)). */
#define _GNU_SOURCE
#include "pfrez.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PFREZ_BINDIR
#define PFREZ_BINDIR "/usr/local/bin"
#endif

#define ARGS_MAX 12

struct call {
	char path[PATH_MAX];
	char *argv[ARGS_MAX];
	char args[ARGS_MAX][PATH_MAX + 32];
	int nargs;
};

/* Only the two calls are the library's interface (-fvisibility=hidden). */
#define PFREZ_API __attribute__((visibility("default")))

static int __attribute__((format(printf, 3, 4))) say(struct pfrez_opts *o, int rc, const char *fmt, ...)
{
	va_list ap;

	if (o) {
		va_start(ap, fmt);
		vsnprintf(o->error, sizeof(o->error), fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void add_arg(struct call *c, const char *fmt, const char *v)
{
	snprintf(c->args[c->nargs], sizeof(c->args[0]), fmt, v);
	c->argv[c->nargs] = c->args[c->nargs];
	c->argv[++c->nargs] = NULL;
}

static int usable(const char *path)
{
	return access(path, X_OK) == 0;
}

/* The pfrez beside this library as installed (PREFIX/lib/libpfrez.so:
 * PREFIX/bin/pfrez; Debian's /usr/lib/x86_64-linux-gnu: ../../bin),
 * then the one of the prefix it was built for, then PATH's. */
static int find_pfrez(char *out, size_t len)
{
	const char *rel[] = { "/../bin/pfrez", "/../../bin/pfrez" };
	const char *path = getenv("PATH");
	Dl_info info;

	if (dladdr((void *)find_pfrez, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", info.dli_fname);
		*strrchr(dir, '/') = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(out, len, "%s%s", dir, rel[i]);
			if (usable(out))
				return 0;
		}
	}
	snprintf(out, len, "%s/pfrez", PFREZ_BINDIR);
	if (usable(out))
		return 0;
	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/pfrez", (int)n, n ? path : ".");
		if (usable(out))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/* In the child, from fork() to execve(): async-signal-safe calls only (the
 * caller may have other threads).  It waits for the parent's go, which
 * comes once the parent has let it trace it, and runs pfrez with its
 * stdout and stderr on the socket. */
static void __attribute__((noreturn)) run_pfrez(int sock, struct call *c)
{
	static const char why[] = "pfrez: cannot run it (set pfrez_opts.pfrez)\n";
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	char go;
	int null;

	while (read(sock, &go, 1) < 0 && errno == EINTR)
		;
	/* pfrez waits for the tasks it traces: a SIGCHLD the caller ignores
	 * must not be ignored in it, nor anything blocked. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null = open("/dev/null", O_RDONLY);
	if (null >= 0)
		dup2(null, 0);
	dup2(sock, 1);
	dup2(sock, 2);
	syscall(SYS_close_range, 3, ~0u, 0);
	execv(c->path, c->argv);
	(void)!write(2, why, sizeof(why) - 1);
	_exit(127);
}

/* The snapshot, taken by a pfrez child (fork_copy: pfrez -confirm, which
 * ends once the copy runs).  Returns PFREZ_ORIGINAL, PFREZ_RESTORED or
 * -errno. */
static int snapshot(const char *dest, struct pfrez_opts *o, int fork_copy)
{
	struct call *c = calloc(1, sizeof(*c));
	char msg[sizeof(o->error)], pid[16], fd[16];
	size_t got = 0;
	struct stat sb;
	int sv[2], sock, st, rc;
	pid_t child;
	ssize_t n;

	if (o)
		o->error[0] = '\0';
	if (!c)
		return say(o, -ENOMEM, "out of memory");
	if (o && o->pfrez)
		snprintf(c->path, sizeof(c->path), "%s", o->pfrez);
	else if (find_pfrez(c->path, sizeof(c->path)) < 0) {
		free(c);
		return say(o, -ENOENT, "pfrez not found (beside libpfrez, in %s or on PATH)", PFREZ_BINDIR);
	}
	/* The socket is above 2, where pfrez -lib-fd takes it. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(c);
		return say(o, -errno, "socketpair: %s", strerror(errno));
	}
	sock = sv[0] > 2 ? sv[0] : fcntl(sv[0], F_DUPFD_CLOEXEC, 3);
	if (sock != sv[0])
		close(sv[0]);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(fd, sizeof(fd), "%d", sock);
	add_arg(c, "%s", "pfrez");
	add_arg(c, "-pid=%s", pid);
	add_arg(c, "-lib-fd=%s", fd);
	add_arg(c, "-dest=%s", dest);
	if (fork_copy)
		add_arg(c, "%s", "-confirm");
	if (o && o->compress)
		add_arg(c, "-compress=%s", o->compress);
	if (o && o->encrypt)
		add_arg(c, "-encrypt=%s", o->encrypt);
	if (o && o->self_contained)
		add_arg(c, "%s", "-self-contained");
	if (o && o->timeout_ms > 0) {
		char t[32];

		snprintf(t, sizeof(t), "%dms", o->timeout_ms);
		add_arg(c, "-dial-timeout=%s", t);
	}
	child = sock < 0 ? -1 : fork();
	if (child == 0)
		run_pfrez(sv[1], c);
	rc = -errno;
	close(sv[1]);
	free(c);
	if (child < 0) {
		if (sock >= 0)
			close(sock);
		return say(o, rc, "starting pfrez: %s", strerror(-rc));
	}
	/* Yama's ptrace_scope 1 lets a process trace its descendants only:
	 * pfrez, a child, may trace us once we name it.  EINVAL: no Yama. */
	prctl(PR_SET_PTRACER, child, 0, 0, 0);
	send(sock, "g", 1, MSG_NOSIGNAL);
	/* Here pfrez captures us: this read is what the copy restarts, on
	 * the /dev/null pfrez gave it in place of the socket (-lib-fd). */
	for (;;) {
		char more[256];

		/* What does not fit is read and dropped: pfrez must not block. */
		if (got < sizeof(msg) - 1)
			n = read(sock, msg + got, sizeof(msg) - 1 - got);
		else
			n = read(sock, more, sizeof(more));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < sizeof(msg) - 1)
			got += (size_t)n;
	}
	msg[got] = '\0';
	if (fstat(sock, &sb) == 0 && S_ISCHR(sb.st_mode)) {
		/* The copy: pfrez is not its child, and its /dev/null is its
		 * own to close. */
		close(sock);
		return PFREZ_RESTORED;
	}
	close(sock);
	prctl(PR_SET_PTRACER, 0, 0, 0, 0);
	while ((rc = waitpid(child, &st, 0)) < 0 && errno == EINTR)
		;
	/* A SIGCHLD handler of the program reaped pfrez first: its
	 * silence is its success. */
	if (rc < 0)
		st = got ? 1 << 8 : 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return PFREZ_ORIGINAL;
	/* pfrez's last line says why (warnings may come before it). */
	while (got && msg[got - 1] == '\n')
		msg[--got] = '\0';
	if (strrchr(msg, '\n'))
		memmove(msg, strrchr(msg, '\n') + 1, strlen(strrchr(msg, '\n') + 1) + 1);
	if (!msg[0])
		snprintf(msg, sizeof(msg), "pfrez %s %d", WIFSIGNALED(st) ? "killed by signal" : "exit status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	rc = WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT :
	     WIFEXITED(st) && WEXITSTATUS(st) == 2 ? -EINVAL : -EIO;
	return say(o, rc, "%s", msg);
}

PFREZ_API int pfrez_checkpoint(const char *dest, struct pfrez_opts *opts)
{
	if (!dest || !*dest || !strcmp(dest, "-") || !strcmp(dest, "stdout"))
		return say(opts, -EINVAL, "pfrez_checkpoint: dest must be a file, tcp:HOST:PORT or unix:PATH");
	return snapshot(dest, opts, 0);
}

PFREZ_API int pfrez_fork(const char *dest, struct pfrez_opts *opts)
{
	if (!dest || (strncmp(dest, "tcp:", 4) && strncmp(dest, "unix:", 5)))
		return say(opts, -EINVAL, "pfrez_fork: dest must be tcp:HOST:PORT or unix:PATH (a pthaw listening there)");
	/* Back in the original once pthaw reports the copy running. */
	return snapshot(dest, opts, 1);
}
