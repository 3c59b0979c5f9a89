/* pfrez: freezes a running process into a snapshot stream. */
#include "capture.h"
#include "pstree.h"
#include "periodic.h"
#include "precopy.h"
#include "cow.h"
#include "err.h"
#include "flags.h"
#include "json.h"
#include "progress.h"
#include "selfexec.h"
#include "stream.h"
#include "xport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long opt_pid = -1;
static const char *opt_dest;
static const char *opt_compress;
static const char *opt_encrypt;
static int opt_halt, opt_debug, opt_json, opt_progress, opt_version, opt_self_contained, opt_exec;
static int opt_confirm, opt_lazy;
static int opt_tree = 1;
static int opt_cow = 1;
/* -halt over tcp/unix: passes of memory sent while it runs. */
static long opt_precopy = 8;
static struct flag_int precopy_range = { &opt_precopy, 0, 1000 };
/* A reader that stops keeps the original stopped until a write gives up:
 * 60 s of no progress is far beyond any live link's stall. */
/* Deleted files' contents travel in the stream: bounded, in MiB. */
static long opt_max_deleted = 64;
static struct flag_int max_deleted_range = { &opt_max_deleted, 0, 1L << 30 };
static int64_t opt_dial_timeout, opt_write_timeout = 60000, opt_halt_timeout = 60000;
static int64_t opt_every;
static long opt_keep = 3;
static struct flag_int keep_range = { &opt_keep, 0, 1000000 };
/* libpfrez's socket in the process (its parent): see files.c. */
static long opt_lib_fd;
static struct flag_int lib_fd_range = { &opt_lib_fd, 3, 1 << 20 };

/* 4194304 is PID_MAX_LIMIT, the most pid_max can be on 64-bit. */
static struct flag_int pid_range = { &opt_pid, 1, 4194304 };

static const struct flag flags[] = {
	{ "pid", FLAG_INT, &pid_range, "PID", "process to freeze (required)" },
	{ "dest", FLAG_STRING, &opt_dest, "DEST", "where the snapshot goes: stdout (default), FILE, tcp:HOST:PORT, unix:PATH, udp:HOST:PORT" },
	{ "halt", FLAG_BOOL, &opt_halt, NULL, "end the process once the snapshot is safe (migration)" },
	{ "confirm", FLAG_BOOL, &opt_confirm, NULL, "over tcp/unix: exit 0 only once pthaw reports the copy running (a clone told apart from a failed one)" },
	{ "tree", FLAG_BOOL, &opt_tree, NULL, "capture the process's descendants too (default true)" },
	{ "compress", FLAG_STRING, &opt_compress, "MODE", "none (default), gzip, flate, snappy or zstd, with an optional :LEVEL" },
	{ "encrypt", FLAG_STRING, &opt_encrypt, "MODE:KEY", "none (default), AES-CTR, AES-CFB, AES-OFB or AES-GCM, with a key file of 16, 24 or 32 bytes" },
	{ "lazy", FLAG_BOOL, &opt_lazy, NULL, "send the state before the pages: pthaw starts the process before they all arrived" },
	{ "cow", FLAG_BOOL, &opt_cow, NULL, "without -halt: copy-on-write capture, the process runs on while its memory is read (default true; false: held throughout)" },
	{ "precopy", FLAG_INT, &precopy_range, "N", "with -halt over tcp/unix: send memory while the process runs, in at most N passes, then hold it for the rest (default 8; 0: held throughout)" },
	{ "self-contained", FLAG_BOOL, &opt_self_contained, NULL, "also embed pages of mapped files (for a host without the same files)" },
	{ "exec", FLAG_BOOL, &opt_exec, NULL, "write a self-executing snapshot, pthaw and pload included: ./FILE restores it (implies -self-contained)" },
	{ "max-deleted", FLAG_INT, &max_deleted_range, "MIB", "carry at most MIB MiB of deleted files still open or mapped (default 64)" },
	{ "dial-timeout", FLAG_DURATION, &opt_dial_timeout, "DURATION", "give up connecting after DURATION (e.g. 5s; default: none)" },
	{ "write-timeout", FLAG_DURATION, &opt_write_timeout, "DURATION", "give up when a write makes no progress for DURATION (default 60s; 0: never)" },
	{ "halt-timeout", FLAG_DURATION, &opt_halt_timeout, "DURATION", "with -halt or -confirm over tcp/unix: bound the whole hand-over, writing included (default 60s; 0: none)" },
	{ "every", FLAG_DURATION, &opt_every, "DURATION", "a snapshot into the directory -dest names every DURATION while the process runs" },
	{ "keep", FLAG_INT, &keep_range, "K", "with -every: keep the newest K snapshots (default 3; 0: all)" },
	{ "lib-fd", FLAG_INT, &lib_fd_range, "FD", "started by libpfrez in the process it captures, its parent: FD is the library's socket to pfrez, /dev/null in the snapshot" },
	{ "progress", FLAG_BOOL, &opt_progress, NULL, "show bytes, rate and time on stderr" },
	{ "debug", FLAG_BOOL, &opt_debug, NULL, "print the captured state instead of writing a snapshot" },
	{ "json", FLAG_BOOL, &opt_json, NULL, "with -debug: print the state as one JSON document" },
	{ "version", FLAG_BOOL, &opt_version, NULL, "print the version and exit" },
	{ 0 },
};

static const char *usage = "pfrez -pid=PID [-dest=DEST] [-halt] [-compress=MODE] [-encrypt=MODE:KEY] [flags]";

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int fail(const char *what)
{
	if (what)
		fprintf(stderr, "pfrez: %s: %s\n", what, err_last());
	else
		fprintf(stderr, "pfrez: %s\n", err_last());
	return 1;
}

/* Nothing reaches the destination: a file is not left behind. */
static void drop_dest(struct xport *x)
{
	layer_destroy(x->layer);
	x->layer = NULL;
	xport_abort(x);
}

/* -exec: the pthaw and the pload to carry, this pfrez's own: beside it
 * (the build tree, or PREFIX/bin), pload also in ../libexec/pfrez and in
 * the compiled-in directory, where pthaw looks for it. */
static int exec_parts(char *pthaw, char *pload, size_t len)
{
	char dir[PATH_MAX - 64];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	char *slash;

	if (n <= 0)
		return err_sys(errno, "-exec: /proc/self/exe");
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	snprintf(pthaw, len, "%s/pthaw", dir);
	if (access(pthaw, R_OK | X_OK) < 0)
		return err_sys(errno, "-exec: the pthaw to carry, %s", pthaw);
	snprintf(pload, len, "%s/pload", dir);
	if (access(pload, R_OK | X_OK) == 0)
		return 0;
	snprintf(pload, len, "%s/../libexec/pfrez/pload", dir);
	if (access(pload, R_OK | X_OK) == 0)
		return 0;
	snprintf(pload, len, "%s/pload", PFREZ_LIBEXEC);
	if (access(pload, R_OK | X_OK) == 0)
		return 0;
	return err_sys(errno, "-exec: the pload to carry: none beside pfrez, in ../libexec/pfrez or in %s",
		       PFREZ_LIBEXEC);
}

/* -exec: pthaw and pload first.  The trailer's offsets count from the
 * first byte pfrez writes, which must be the file's first. */
static int exec_begin(struct xport *x, struct selfexec *e)
{
	char pthaw[PATH_MAX], pload[PATH_MAX];
	struct stat st;
	int rc = exec_parts(pthaw, pload, sizeof(pthaw));

	/* O_APPEND (>>) writes at the end whatever the offset says. */
	if (!rc && fstat(x->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (lseek(x->fd, 0, SEEK_CUR) > 0 || ((fcntl(x->fd, F_GETFL) & O_APPEND) && st.st_size > 0)))
		rc = err_msg(EINVAL, "-exec: %s is not at the start of the file (appending with >>?): it would not run",
			     x->desc);
	if (!rc)
		rc = selfexec_write_head(x->layer, pthaw, pload, e);
	return rc;
}

/* -exec: the trailer after the stream, and a regular file made
 * executable where it is readable (pfrez -exec > job.run; ./job.run). */
static int exec_end(struct xport *x, const struct selfexec *e)
{
	struct layer *l = layer_fd_open(x->fd, 0);
	struct stat st;
	mode_t m;
	int rc;

	if (!l)
		return err_msg(ENOMEM, "%s: out of memory", x->desc);
	/* A pipe dest is non-blocking with a write timeout (xport.c). */
	if (fcntl(x->fd, F_GETFL) & O_NONBLOCK)
		layer_fd_write_timeout(l, opt_write_timeout ? opt_write_timeout : 60000);
	rc = selfexec_write_trailer(l, e);
	if (rc) {
		layer_destroy(l);
		return err_msg(-rc, "%s: %s", x->desc, err_last());
	}
	rc = layer_close(l);
	if (!rc && fstat(x->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		m = st.st_mode & 07777;
		m |= S_IXUSR | (m & S_IRGRP ? S_IXGRP : 0) | (m & S_IROTH ? S_IXOTH : 0);
		if (fchmod(x->fd, m) < 0)
			rc = err_sys(errno, "%s: making it executable", x->desc);
	}
	return rc;
}

/* -progress: whether smaps and /proc/locks were read while it ran. */
static void print_read_ahead(const struct watch_end *e)
{
	char b[32];

	if (e->clean)
		fprintf(stderr, "pfrez: smaps and /proc/locks read in the %.1f ms it ran before its hold\n", e->ms);
	else if (e->nr >= 0)
		fprintf(stderr, "pfrez: smaps and /proc/locks read while held: thread %d called %s meanwhile, which could change them\n",
			e->tid, watch_call_name(e->nr, b, sizeof(b)));
	else if (e->nr == -1)
		fprintf(stderr, "pfrez: smaps and /proc/locks read while held: a thread ended or stopped meanwhile\n");
	else
		fprintf(stderr, "pfrez: smaps and /proc/locks read while held: reading them while it ran took over a second\n");
}

/* -debug -json: the captured state as one document (no pages: pfrez
 * -debug reads none): the root's members, and for a tree "tree" and the
 * other processes' in "processes". */
static int print_json(const struct capture *c)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_str(&j, "pfrez", PFREZ_VERSION);
	snap_print_json(&j, &c->snap);
	if (c->ptree.n) {
		pstree_print_json(&j, &c->ptree);
		json_array_begin(&j, "processes");
		for (size_t i = 0; i < c->nsub; i++) {
			json_object_begin(&j, NULL);
			snap_print_json(&j, &c->sub[i]->snap);
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	json_object_end(&j);
	return json_finish(&j) ? err_sys(EIO, "stdout") : 0;
}

static void on_progress(void *arg, unsigned long long bytes)
{
	progress_update(arg, bytes);
}

/* The -halt hand-over over tcp/unix (man pfrez, "Migration"). */
#define EXIT_UNDECIDED	3

static volatile sig_atomic_t halt_sig;
static int halt_fd = -1;

/* Ctrl-C, SIGTERM, SIGHUP, SIGQUIT or the -halt-timeout alarm before the
 * commit: the hand-over fails.  Shutting the socket down wakes whatever
 * waits on it, in any thread (a blocked write fails, a poll sees the end);
 * main then resumes the original. */
static void on_halt_signal(int sig)
{
	if (!halt_sig)
		halt_sig = sig;
	if (halt_fd >= 0)
		shutdown(halt_fd, SHUT_RDWR);
}

static void halt_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGALRM);
}

static void halt_catch(int fd, int64_t timeout_ms)
{
	struct sigaction sa = { .sa_handler = on_halt_signal };
	struct itimerval it = { 0 };
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM };

	halt_fd = fd;
	halt_signals(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	it.it_value.tv_sec = timeout_ms / 1000;
	it.it_value.tv_usec = (timeout_ms % 1000) * 1000;
	if (timeout_ms > 0)
		setitimer(ITIMER_REAL, &it, NULL);
}

/* Why the hand-over failed, when a signal or the alarm ended it. */
static const char *halt_why(char *buf, size_t len, int64_t timeout_ms)
{
	if (halt_sig == SIGALRM)
		snprintf(buf, len, "no hand-over within -halt-timeout (%lld ms)",
			 (long long)timeout_ms);
	else
		snprintf(buf, len, "interrupted by SIG%s", sigabbrev_np(halt_sig) ?
			 sigabbrev_np(halt_sig) : "?");
	return buf;
}

/* Puts the original in a group stop (a real stop) while pfrez still
 * traces it: if pfrez dies now, the kernel's detach leaves a task of a
 * stopped group in TASK_STOPPED (__ptrace_unlink), where only SIGCONT
 * moves it, instead of letting it run beside a copy that may start.
 * The SIGSTOP goes through the signal path as for any process: signals
 * pending before it are delivered first, as the kernel would. */
static int hold_stopped_one(struct capture *c)
{
	int st;

	if (kill(c->pid, SIGSTOP) < 0)
		return err_sys(errno, "process %d: stopping it", c->pid);
	/* Every thread takes part in the group stop: each is let go and
	 * waited for until it reports it. */
	for (size_t i = 0; i < c->nthreads; i++) {
		pid_t tid = c->threads[i].tid;

		if (ptrace(PTRACE_CONT, tid, 0, 0) < 0)
			return err_sys(errno, "process %d: stopping it", c->pid);
		for (;;) {
			if (waitpid(tid, &st, __WALL) < 0) {
				if (errno == EINTR)
					continue;
				return err_sys(errno, "process %d: waiting for it to stop", c->pid);
			}
			if (WIFEXITED(st) || WIFSIGNALED(st)) {
				if (tid != c->pid)
					break;
				c->attached = 0;
				return err_msg(ESRCH, "process %d ended while it was being stopped", c->pid);
			}
			if (!WIFSTOPPED(st))
				continue;
			/* A seized task reports its group stop as
			 * PTRACE_EVENT_STOP with the stop signal (SIGTRAP
			 * would be an interrupt). */
			if ((st >> 16) == PTRACE_EVENT_STOP && WSTOPSIG(st) != SIGTRAP)
				break;
			ptrace(PTRACE_CONT, tid, 0, (st >> 16) ? 0 : WSTOPSIG(st));
		}
	}
	return 0;
}

/* A tree: every process, but those already stopped, which stay so
 * (stopping and resuming them would let them run). */
static int hold_stopped(struct capture *c)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < c->nsub; i++)
		if (!capture_was_stopped(c, c->sub[i]->pid))
			rc = hold_stopped_one(c->sub[i]);
	return rc || capture_was_stopped(c, c->pid) ? rc : hold_stopped_one(c);
}

/* Ends the group stop, then lets go: SIGCONT first, so that a pfrez that
 * dies in between leaves it running, not stopped. */
static void resume_one(struct capture *c, int cont)
{
	capture_settle(c, 0);
	if (cont)
		kill(c->pid, SIGCONT);
	for (size_t i = 0; i < c->nthreads; i++)
		ptrace(PTRACE_DETACH, c->threads[i].tid, 0, 0);
	c->attached = 0;
}

/* Those that were stopped first, and the others only once these are in
 * their group stop again: no parent may see one running (tree_stopped
 * checks). */
static void resume_held(struct capture *c)
{
	for (size_t i = 0; i < c->nsub; i++)
		if (capture_was_stopped(c, c->sub[i]->pid))
			resume_one(c->sub[i], 0);
	capture_wait_stopped(c);
	for (size_t i = 0; i < c->nsub; i++)
		if (!capture_was_stopped(c, c->sub[i]->pid))
			resume_one(c->sub[i], 1);
	resume_one(c, !capture_was_stopped(c, c->pid));
}

/* The undecided case: detached during its group stop, the process stays
 * in TASK_STOPPED, for the user to resume or kill. */
static void leave_stopped(struct capture *c)
{
	for (size_t i = 0; i < c->nsub; i++)
		leave_stopped(c->sub[i]);
	for (size_t i = 0; i < c->nthreads; i++)
		ptrace(PTRACE_DETACH, c->threads[i].tid, 0, 0);
	c->attached = 0;
}

/* SIGKILL, and its death seen: as its tracer pfrez collects it first,
 * then the kernel reports it to its real parent, killed by SIGKILL. */
static void end_original(struct capture *c)
{
	int st;

	for (size_t i = 0; i < c->nsub; i++)
		end_original(c->sub[i]);
	capture_settle(c, 1);
	kill(c->pid, SIGKILL);
	while (c->attached) {
		if (waitpid(c->pid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
	}
	c->attached = 0;
}

/* -lazy -halt over tcp/unix: the pages the restored process waits for,
 * as pthaw asks (PAGE messages), read between records without waiting. */
struct asked {
	struct xport *x;
	struct xport_handover *ho;
};

static int page_asked(void *arg, uint64_t *addr)
{
	struct asked *a = arg;
	char text[XPORT_HO_TEXT_MAX + 1], *end;
	struct pollfd p = { .fd = a->x->fd, .events = POLLIN };
	int m;

	if (!a->ho->have && poll(&p, 1, 0) <= 0)
		return 0;
	m = xport_handover_recv(a->x, a->ho, xport_deadline(5000), text, sizeof(text));
	if (m < 0)
		return m;
	if (m != XPORT_HO_PAGE)
		return err_msg(EPROTO, "%s: %s while the stream is written", a->x->desc, xport_ho_name(m));
	errno = 0;
	*addr = strtoull(text, &end, 16);
	if (errno || end == text || *end)
		return err_msg(EBADMSG, "%s: PAGE \"%s\" is not an address", a->x->desc, text);
	return 1;
}

static int write_snapshot(struct capture *c, struct xport *x, struct stream_cfg *cfg,
			  struct xport_handover *ho)
{
	struct header h;
	struct layer *top = x->layer;
	struct rec_writer w;
	char created[32], esc_comm[4 * SNAP_COMM_MAX + 1];
	time_t now = time(NULL);
	int rc;

	hdr_init(&h);
	/* A header value is one printable line; comm can be anything. */
	err_escape(esc_comm, sizeof(esc_comm), c->snap.comm ? c->snap.comm : "",
		   c->snap.comm ? strlen(c->snap.comm) : 0);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	rc = stream_header_basics(&h);
	if (!rc)
		rc = hdr_set(&h, "pid", "%d", c->pid);
	if (!rc)
		rc = hdr_set(&h, "comm", "%s", esc_comm);
	if (!rc)
		rc = hdr_set(&h, "created", "%s", created);
	if (!rc)
		rc = hdr_set(&h, "pfrez", "%s", PFREZ_VERSION);
	if (!rc && ho)
		rc = hdr_set(&h, "handover", "1");
	if (!rc && c->lazy)
		rc = hdr_set(&h, "lazy", "1");
	/* Copy-on-write: everything up to the moment the process runs on
	 * stays in memory, out of a slow reader's reach (capture.c). */
	if (!rc && c->cow && !c->track) {
		c->hold = layer_hold_open(x->layer);
		if (!c->hold)
			rc = err_sys(ENOMEM, "stream buffer");
		else
			x->layer = c->hold;
	}
	if (!rc)
		rc = stream_writer_open(x->layer, cfg, &h, &top);
	if (!rc && ho)
		rc = xport_handover_init(ho, 1, &h, cfg->mode == CRYPT_NONE ? NULL : cfg->key,
					 cfg->keylen);
	w.out = top;
	w.count = w.bytes = 0;
	struct asked asked = { .x = x, .ho = ho };

	if (ho && c->lazy) {
		c->asked = page_asked;
		c->asked_arg = &asked;
	}
	if (!rc && c->track && c->cow) {
		struct precopy_opts po = { .max_passes = (int)opt_precopy, .progress = opt_progress };

		rc = precopy_write(c, &w, &po);
	} else if (!rc) {
		rc = capture_write(c, &w);
	}
	c->asked = NULL;
	if (!rc)
		rc = rec_write_end(&w);
	if (rc) {
		layer_destroy(top);
		return rc;
	}
	return layer_close(top);
}

/* Why a hand-over message m (text: its words) is not the one wanted:
 * a signal or timeout, pthaw's failure, another message, or the link. */
static const char *ho_why(char *why, size_t len, const struct xport *x,
			  const struct xport_handover *ho, int m, const char *text, const char *wanted)
{
	if (halt_sig)
		halt_why(why, len, opt_halt_timeout);
	else if (m == XPORT_HO_FAIL)
		snprintf(why, len, "restore on %s failed: %s%s", x->desc, text,
			 ho->keyed && !ho->authentic ? " (answer not authenticated)" : "");
	else if (m >= 0)
		snprintf(why, len, "%s: %s instead of %s", x->desc, xport_ho_name(m), wanted);
	else
		snprintf(why, len, "%s", err_last());
	return why;
}

/* Hand-over failed before the commit: pthaw discards its copy (it is
 * told so when the link still works), the original goes on. */
static int halt_abort(struct capture *c, struct xport *x, struct xport_handover *ho,
		      int held, const char *reason)
{
	char why[1024];

	/* reason may be err_last(), which letting the processes go clears. */
	snprintf(why, sizeof(why), "%s", reason);
	xport_handover_send(x, ho, XPORT_HO_ABORT, why, xport_deadline(1000));
	if (held)
		resume_held(c);
	else
		capture_release(c);
	fprintf(stderr, "pfrez: %s; the original process %d was resumed\n", why, c->pid);
	return 1;
}

/* The stream is written; the original is in a ptrace stop.  Two phases:
 * pthaw builds the copy and holds it (READY), pfrez holds the original in
 * a real stop and says COMMIT, pthaw starts the copy (DONE), pfrez ends
 * the original.  Before COMMIT every failure resumes the original; after
 * it, only DONE or an authentic FAIL decides, and anything else leaves
 * the original stopped (the one undecided window). */
static int halt_handover(struct capture *c, struct xport *x, struct xport_handover *ho,
			 int64_t deadline)
{
	char text[XPORT_HO_TEXT_MAX + 1], why[1024];
	sigset_t block;
	int m, rc;

	rc = hold_stopped(c);
	if (rc && !c->attached) {
		xport_handover_send(x, ho, XPORT_HO_ABORT, "the original ended", xport_deadline(1000));
		fprintf(stderr, "pfrez: %s during the hand-over; pthaw discards the copy\n", err_last());
		return 1;
	}
	if (rc)
		return halt_abort(c, x, ho, 0, err_last());
	/* Pages a lazy restore asked for while the last ones were on the
	 * way: it has them all now. */
	do
		m = xport_handover_recv(x, ho, deadline, text, sizeof(text));
	while (m == XPORT_HO_PAGE);
	if (m != XPORT_HO_READY) {
		return halt_abort(c, x, ho, 1, ho_why(why, sizeof(why), x, ho, m, text, "READY"));
	}
	/* The decision.  From here no signal and no alarm may change it:
	 * they stay blocked, and only the deadline bounds the wait. */
	halt_signals(&block);
	sigprocmask(SIG_BLOCK, &block, NULL);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	if (halt_sig)
		return halt_abort(c, x, ho, 1, halt_why(why, sizeof(why), opt_halt_timeout));
	rc = xport_handover_send(x, ho, XPORT_HO_COMMIT, "the original is held stopped", deadline);
	/* Not all of COMMIT reached the kernel: pthaw cannot have it. */
	if (rc)
		return halt_abort(c, x, ho, 1, err_last());
	m = xport_handover_recv(x, ho, deadline, text, sizeof(text));
	if (m == XPORT_HO_DONE) {
		end_original(c);
		return 0;
	}
	if (m == XPORT_HO_FAIL && (!ho->keyed || ho->authentic)) {
		resume_held(c);
		fprintf(stderr, "pfrez: restore on %s failed after the commit: %s; the original process %d was resumed\n",
			x->desc, text, c->pid);
		return 1;
	}
	snprintf(why, sizeof(why), "%s", m >= 0 ? xport_ho_name(m) : err_last());
	leave_stopped(c);
	fprintf(stderr, "pfrez: outcome undecided: %s after COMMIT; the original process %d is kept stopped; if the copy on %s is not running, resume the original with kill -CONT %d, otherwise kill it with kill -KILL %d\n",
		why, c->pid, x->desc, c->pid, c->pid);
	return EXIT_UNDECIDED;
}

/* -confirm without -halt: a clone whose start is reported.  The original
 * is not handed over, so it goes on at once; the same READY, COMMIT and
 * DONE as for -halt then only say whether the copy runs (pfrez_fork(3)
 * returns in the original once it does). */
static int confirm_copy(struct capture *c, struct xport *x, struct xport_handover *ho,
			int64_t deadline)
{
	char text[XPORT_HO_TEXT_MAX + 1], why[1024];
	int m, committed = 0;

	capture_release(c);
	m = xport_handover_recv(x, ho, deadline, text, sizeof(text));
	if (m == XPORT_HO_READY) {
		committed = !xport_handover_send(x, ho, XPORT_HO_COMMIT, "the original goes on too",
						 deadline);
		m = committed ? xport_handover_recv(x, ho, deadline, text, sizeof(text)) : -1;
		if (m == XPORT_HO_DONE)
			return 0;
	}
	ho_why(why, sizeof(why), x, ho, m, text, committed ? "DONE" : "READY");
	if (committed && m != XPORT_HO_FAIL) {
		fprintf(stderr, "pfrez: outcome undecided: %s after COMMIT; the copy on %s may be running\n",
			why, x->desc);
		return EXIT_UNDECIDED;
	}
	if (!committed)
		xport_handover_send(x, ho, XPORT_HO_ABORT, why, xport_deadline(1000));
	fprintf(stderr, "pfrez: %s; no copy runs, the original process %d goes on\n", why, c->pid);
	return 1;
}

int main(int argc, char **argv)
{
	struct xport_opts xo = { 0 };
	struct capture c = { 0 };
	struct xport x = { .fd = -1 };
	struct stream_cfg cfg;
	struct progress prog;
	struct timespec stopped;
	struct xport_handover ho;
	struct selfexec selfexec;
	sigset_t fatal, oldmask;
	char msg[XPORT_HO_TEXT_MAX + 1];
	int64_t deadline = 0;
	int rest, rc, handover;

	rc = flags_parse(flags, argc, argv, &rest);
	if (rc == 1) {
		flags_usage(stdout, usage, flags);
		return 0;
	}
	if (rc < 0 || rest != argc) {
		fprintf(stderr, "pfrez: %s\n", rc < 0 ? err_last() : "unexpected argument (flags only; see -h)");
		return 2;
	}
	if (opt_version) {
		printf("pfrez %s\n", PFREZ_VERSION);
		return 0;
	}
	if (opt_pid <= 0) {
		fprintf(stderr, "pfrez: -pid=PID is required (see -h)\n");
		return 2;
	}
	if (opt_json && !opt_debug) {
		fprintf(stderr, "pfrez: -json goes with -debug\n");
		return 2;
	}
	if (opt_confirm && (opt_debug || opt_every || !opt_dest ||
			    (strncmp(opt_dest, "tcp:", 4) && strncmp(opt_dest, "unix:", 5)))) {
		fprintf(stderr, "pfrez: -confirm goes with -dest=tcp:HOST:PORT or unix:PATH, where pthaw answers\n");
		return 2;
	}
	if (opt_exec && (opt_every || opt_debug || (opt_dest && (!strncmp(opt_dest, "tcp:", 4) ||
				!strncmp(opt_dest, "unix:", 5) || !strncmp(opt_dest, "udp:", 4))))) {
		fprintf(stderr, "pfrez: -exec writes a file (-dest=FILE or stdout), not with -every or -debug\n");
		return 2;
	}
	if (opt_lib_fd && opt_pid != getppid()) {
		fprintf(stderr, "pfrez: -lib-fd goes with -pid naming pfrez's parent, the process libpfrez runs in\n");
		return 2;
	}
	if (opt_every && (opt_halt || opt_debug || !opt_dest)) {
		fprintf(stderr, "pfrez: -every goes with -dest=DIR, and not with -halt or -debug\n");
		return 2;
	}
	if (opt_every) {
		struct periodic_opts po = { .pid = (pid_t)opt_pid, .dir = opt_dest, .every_ms = opt_every,
					    .keep = opt_keep, .progress = opt_progress };

		rc = periodic_run(&po, &opt_dest);
		if (rc >= 0)
			return rc;
	}
	/* Binary on a terminal helps nobody and can upset it, and a user
	 * who forgot -dest wants to be told before the process is touched. */
	if (!opt_debug && (!opt_dest || !strcmp(opt_dest, "-") || !strcmp(opt_dest, "stdout")) &&
	    isatty(1)) {
		fprintf(stderr, "pfrez: refusing to write a snapshot to a terminal; use -dest=FILE or a pipe\n");
		return 2;
	}
	rc = stream_cfg_parse(&cfg, opt_compress, opt_encrypt);
	if (rc < 0) {
		fprintf(stderr, "pfrez: %s\n", err_last());
		return 2;
	}
	if (rc == 1)
		fprintf(stderr, "pfrez: warning: %s\n", err_last());
	/* A reader that went away must be an error we can act on (resume
	 * the original), not a signal that ends pfrez. */
	signal(SIGPIPE, SIG_IGN);
	xo.dial_timeout_ms = opt_dial_timeout;
	xo.write_timeout_ms = opt_write_timeout;
	if (!opt_debug && xport_open_dest(opt_dest, &xo, &x) < 0)
		return fail(NULL);
	if (opt_exec && exec_begin(&x, &selfexec) < 0) {
		drop_dest(&x);
		return fail(NULL);
	}
	handover = !opt_debug && (opt_halt || opt_confirm) && x.two_way;
	if (handover && (xport_frame_dest(&x) < 0 ||
			 xport_handover_init(&ho, 1, NULL, NULL, 0) < 0)) {
		drop_dest(&x);
		return fail(NULL);
	}

	/* While system calls run inside the process its registers are not
	 * its own: a Ctrl-C now waits until they are put back. */
	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigaddset(&fatal, SIGQUIT);
	sigprocmask(SIG_BLOCK, &fatal, &oldmask);
	if (handover)
		halt_catch(x.fd, 0);
	/* Copy-on-write and pre-copy read one process's memory while it
	 * runs: not a tree's (all of it is held until all is read, so that
	 * it is captured at one instant), nor -lazy's (held to the end). */
	if (opt_cow && !opt_halt && !opt_debug && !opt_lazy && capture_cow_prepare(&c, (pid_t)opt_pid))
		err_clear();
	clock_gettime(CLOCK_MONOTONIC, &stopped);
	c.tree = opt_tree;
	rc = capture_attach(&c, (pid_t)opt_pid);
	if (!rc && c.cow && !opt_lazy)
		rc = capture_read_ahead(&c);
	if (c.read_ahead)
		stopped = c.held_at;
	/* A tree's processes are held until all are restored: none can
	 * start before its pages (pthaw(1), Lazy restore). */
	if (!rc && opt_lazy && c.ptree.n)
		rc = err_msg(ENOTSUP, "-lazy: process %ld has children, and a process tree is restored whole, not lazily (drop -lazy)",
			     opt_pid);
	if (!rc) {
		c.self_contained = opt_self_contained || opt_exec;
		c.lazy = opt_lazy;
		c.halt = opt_halt && !opt_debug;
		c.use_cow = !c.ptree.n && !opt_lazy &&
			    ((opt_cow && !opt_halt && !opt_debug) || (handover && opt_halt && opt_precopy > 0));
		if (!c.use_cow && c.cow) {
			cow_end(c.cow);
			c.cow = NULL;
		}
		c.track = handover && opt_halt;	/* pre-copy: a -halt, not a -confirm clone */
		c.max_deleted = (uint64_t)opt_max_deleted << 20;
		c.lib_fd = (int)opt_lib_fd;
		rc = capture_state(&c);
	}
	if (!rc && handover && opt_halt && opt_precopy > 0) {
		const char *why = c.cow ? precopy_unsuited(&c.snap) : NULL;

		if (why) {
			cow_end(c.cow);
			c.cow = NULL;
		}
		if (opt_progress && !c.cow)
			fprintf(stderr, "pfrez: no pre-copy, the process is held throughout: %s%s%s\n",
				why ? "it has " : c.cow_note, why ? why : "",
				why ? " state, which changes as it runs and goes before the pages" : "");
	}
	if (rc) {
		char why[1024];

		/* Letting the processes go reads /proc again, and clears
		 * what its misses recorded: the reason is kept first. */
		snprintf(why, sizeof(why), "%s", err_last());
		capture_release(&c);
		capture_free(&c);
		if (!opt_debug)
			drop_dest(&x);
		fprintf(stderr, "pfrez: %s\n", why[0] ? why : "capture failed (no reason recorded)");
		return 1;
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (opt_debug) {
		char why[1024] = "";

		capture_hash_maps(&c);
		if (opt_json) {
			rc = print_json(&c);
		} else {
			pstree_print(stdout, &c.ptree);
			snap_print(stdout, &c.snap);
			for (size_t i = 0; i < c.nsub; i++) {
				printf("\n");
				snap_print(stdout, &c.sub[i]->snap);
			}
		}
		if (rc)		/* kept: letting go clears it */
			snprintf(why, sizeof(why), "%s", err_last());
		capture_release(&c);
		capture_free(&c);
		if (rc)
			fprintf(stderr, "pfrez: %s\n", why);
		return rc ? 1 : 0;
	}
	progress_init(&prog, "pfrez: sent", opt_progress);
	c.progress = on_progress;
	c.progress_arg = &prog;
	/* -halt-timeout runs from here: writes, READY, COMMIT, DONE. */
	if (handover) {
		deadline = xport_deadline(opt_halt_timeout);
		halt_catch(x.fd, opt_halt_timeout);
	}
	rc = write_snapshot(&c, &x, &cfg, handover ? &ho : NULL);
	x.layer = NULL;		/* closed or destroyed with the chain */
	if (!rc && opt_exec)
		rc = exec_end(&x, &selfexec);
	if (!rc)
		rc = xport_commit(&x);
	progress_done(&prog);
	if (opt_progress && c.pages_asked)
		fprintf(stderr, "pfrez: %llu pages sent first at pthaw's request (lazy restore)\n",
			c.pages_asked);
	if (rc) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", err_last());
		capture_release(&c);
		capture_free(&c);
		/* pthaw may have stopped reading because it refused the
		 * stream: its reply says why better than a broken pipe. */
		if (handover && !halt_sig &&
		    xport_handover_recv(&x, &ho, xport_deadline(2000), msg, sizeof(msg)) == XPORT_HO_FAIL) {
			xport_close(&x);
			fprintf(stderr, "pfrez: restore on %s failed: %s%s; the original process %ld was resumed\n",
				x.desc, msg, ho.keyed && !ho.authentic ? " (answer not authenticated)" : "",
				opt_pid);
			return 1;
		}
		xport_abort(&x);
		if (halt_sig)
			halt_why(why, sizeof(why), opt_halt_timeout);
		if (opt_halt)
			fprintf(stderr, "pfrez: writing the snapshot to %s: %s; the original process %ld was resumed\n",
				x.desc, why, opt_pid);
		else
			fprintf(stderr, "pfrez: writing the snapshot to %s: %s\n", x.desc, why);
		return 1;
	}
	if (handover && !opt_halt) {
		rc = confirm_copy(&c, &x, &ho, deadline);
		capture_free(&c);
		xport_close(&x);
		return rc;
	}
	if (handover) {
		int64_t held;

		rc = halt_handover(&c, &x, &ho, deadline);
		held = now_ns() - (int64_t)c.held_at.tv_sec * 1000000000 - c.held_at.tv_nsec;
		capture_free(&c);
		xport_close(&x);
		if (rc == 0 && opt_progress && c.read_ahead)
			print_read_ahead(&c.ahead);
		if (rc == 0 && opt_progress && c.passes)
			fprintf(stderr, "pfrez: process %ld handed over and ended; held %.1f ms from its last pre-copy pass to its copy running\n",
				opt_pid, (double)held / 1e6);
		else if (rc == 0 && opt_progress)
			fprintf(stderr, "pfrez: process %ld handed over and ended\n", opt_pid);
		return rc;
	}
	if (opt_halt)
		capture_kill(&c);
	else
		capture_release(&c);
	if (opt_progress) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (c.resumed.tv_sec)
			now = c.resumed;
		fprintf(stderr, "pfrez: process %ld %s after %.3f s stopped; %llu pages sent%s\n", opt_pid,
			opt_halt ? "ended" : "resumed",
			(double)(now.tv_sec - stopped.tv_sec) + (now.tv_nsec - stopped.tv_nsec) / 1e9,
			c.pages_sent, c.resumed.tv_sec ? " (copy-on-write: memory read while it ran)" : "");
		if (c.use_cow && !c.resumed.tv_sec && c.cow_note[0])
			fprintf(stderr, "pfrez: no copy-on-write capture: %s\n", c.cow_note);
		if (c.read_ahead)
			print_read_ahead(&c.ahead);
	}
	capture_free(&c);
	xport_close(&x);
	return 0;
}
