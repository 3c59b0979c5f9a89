/* periodic.c: pfrez -every (periodic.h).  Each snapshot is one ordinary
 * capture in a child of pfrez, so that a failure of one (the process
 * ending half way, a full disk) leaves the schedule and the snapshots
 * already made as they were; the file transport makes each appear under
 * its name only once it is complete and on disk. */
#include "periodic.h"
#include "ckptdir.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The highest number in dir (0: none), and with keep > 0, removes the
 * snapshots older than the newest keep. */
static unsigned long scan(const char *dir, long keep)
{
	unsigned long *num, top;
	long n = ckpt_list(dir, &num);

	if (n < 0) {
		err_clear();	/* checked before the schedule; gone meanwhile */
		return 0;
	}
	top = n ? num[0] : 0;
	for (long i = keep; keep > 0 && i < n; i++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/" CKPT_NAME, dir, num[i]);
		unlink(path);
	}
	free(num);
	return top;
}

/* The temporary files a pfrez killed while it wrote left behind
 * (.ckpt-NNNNNN.pfrez.XXXXXX): never a snapshot, and only pfrez writes
 * in the directory. */
static void remove_stale(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	char path[4200];

	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, ".ckpt-", 6) || !strstr(e->d_name, ".pfrez."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
}

/* SIGTERM, SIGINT or SIGHUP to the schedule: passed on to the capture
 * under way (which lets the process go, as any pfrez stopped half way),
 * and the schedule ends once that capture has.  Killing the schedule
 * alone must not leave a capture running behind it: pfrez-run's last
 * checkpoint would meet it tracing the process (CI's Slurm test). */
static volatile sig_atomic_t stop_sig;
static volatile pid_t capturing;

static void on_stop(int sig)
{
	stop_sig = sig;
	if (capturing > 0)
		kill(capturing, sig);
}

static const int stop_sigs[] = { SIGTERM, SIGINT, SIGHUP };

static void stop_handlers(void (*fn)(int), sigset_t *set)
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(stop_sigs) / sizeof(stop_sigs[0]); i++) {
		sigaction(stop_sigs[i], &sa, NULL);
		sigaddset(set, stop_sigs[i]);
	}
}

/* Waits up to ms for the process to end: 1 when it has. */
static int ended_within(int pidfd, int64_t ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms > 86400000 ? 86400000 : (int)ms);
	while (r < 0 && errno == EINTR && !stop_sig);
	return r > 0;
}

int periodic_run(const struct periodic_opts *o, const char **dest)
{
	static char path[4200];
	struct stat sb;
	unsigned long seq;
	sigset_t stops, old;
	int pidfd;

	if (stat(o->dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "pfrez: -every needs -dest=DIR, a directory that exists (%s: %s)\n", o->dir,
			stat(o->dir, &sb) < 0 ? strerror(errno) : "not a directory");
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, o->pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "pfrez: process %d: %s\n", o->pid, strerror(errno));
		return 1;
	}
	remove_stale(o->dir);
	stop_handlers(on_stop, &stops);
	for (seq = scan(o->dir, 0) + 1; !stop_sig; seq++) {
		struct timespec t0, t1;
		int64_t spent;
		pid_t child;
		int st;

		snprintf(path, sizeof(path), "%s/" CKPT_NAME, o->dir, seq);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* Blocked across the fork: a stop signal finds the capture's
		 * pid in place, or comes before the fork. */
		sigprocmask(SIG_BLOCK, &stops, &old);
		if (stop_sig) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			break;
		}
		child = fork();
		if (child < 0) {
			sigprocmask(SIG_SETMASK, &old, NULL);
			fprintf(stderr, "pfrez: fork: %s\n", strerror(errno));
			close(pidfd);
			return 1;
		}
		if (child == 0) {
			/* The capture is an ordinary pfrez: its own
			 * handling of these signals (main.c). */
			stop_handlers(SIG_DFL, &stops);
			sigprocmask(SIG_SETMASK, &old, NULL);
			close(pidfd);
			*dest = path;
			return -1;
		}
		capturing = child;
		sigprocmask(SIG_SETMASK, &old, NULL);
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
		capturing = 0;
		if (stop_sig)
			break;
		if (ended_within(pidfd, 0)) {
			/* It ended: what the child may have written of it is
			 * a snapshot of a process that was alive then. */
			close(pidfd);
			if (o->progress)
				fprintf(stderr, "pfrez: process %d ended; the snapshots are in %s\n", o->pid, o->dir);
			return 0;
		}
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			scan(o->dir, o->keep);
			if (o->progress)
				fprintf(stderr, "pfrez: %s written\n", path);
		} else {
			/* The child said why; the schedule goes on, the
			 * snapshots made before are kept. */
			fprintf(stderr, "pfrez: %s was not taken; next try in %lld ms\n", path,
				(long long)o->every_ms);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ended_within(pidfd, spent < o->every_ms ? o->every_ms - spent : 0)) {
			close(pidfd);
			if (o->progress)
				fprintf(stderr, "pfrez: process %d ended; the snapshots are in %s\n", o->pid, o->dir);
			return 0;
		}
	}
	close(pidfd);
	if (o->progress)
		fprintf(stderr, "pfrez: stopped by signal %d; the snapshots are in %s\n", (int)stop_sig, o->dir);
	return 128 + stop_sig;
}
