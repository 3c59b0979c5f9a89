/* pfrez: freezes a running process into a snapshot stream. */
#include "capture.h"
#include "err.h"
#include "flags.h"
#include "progress.h"
#include "stream.h"
#include "xport.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long opt_pid = -1;
static const char *opt_dest;
static const char *opt_compress;
static const char *opt_encrypt;
static int opt_halt, opt_debug, opt_progress, opt_version, opt_self_contained;
/* A reader that stops keeps the original stopped until a write gives up:
 * 60 s of no progress is far beyond any live link's stall. */
static int64_t opt_dial_timeout, opt_write_timeout = 60000, opt_halt_timeout = 60000;

/* 4194304 is PID_MAX_LIMIT, the most pid_max can be on 64-bit. */
static struct flag_int pid_range = { &opt_pid, 1, 4194304 };

static const struct flag flags[] = {
	{ "pid", FLAG_INT, &pid_range, "PID", "process to freeze (required)" },
	{ "dest", FLAG_STRING, &opt_dest, "DEST", "where the snapshot goes: stdout (default), FILE, tcp:HOST:PORT, unix:PATH, udp:HOST:PORT" },
	{ "halt", FLAG_BOOL, &opt_halt, NULL, "end the process once the snapshot is safe (migration)" },
	{ "compress", FLAG_STRING, &opt_compress, "MODE", "none (default), gzip, flate, snappy or zstd, with an optional :LEVEL" },
	{ "encrypt", FLAG_STRING, &opt_encrypt, "MODE:KEY", "none (default), AES-CTR, AES-CFB, AES-OFB or AES-GCM, with a key file of 16, 24 or 32 bytes" },
	{ "self-contained", FLAG_BOOL, &opt_self_contained, NULL, "also embed pages of mapped files (for a host without the same files)" },
	{ "dial-timeout", FLAG_DURATION, &opt_dial_timeout, "DURATION", "give up connecting after DURATION (e.g. 5s; default: none)" },
	{ "write-timeout", FLAG_DURATION, &opt_write_timeout, "DURATION", "give up when a write makes no progress for DURATION (default 60s; 0: never)" },
	{ "halt-timeout", FLAG_DURATION, &opt_halt_timeout, "DURATION", "with -halt over tcp/unix: wait this long for pthaw's verdict (default 60s)" },
	{ "progress", FLAG_BOOL, &opt_progress, NULL, "show bytes, rate and time on stderr" },
	{ "debug", FLAG_BOOL, &opt_debug, NULL, "print the captured state instead of writing a snapshot" },
	{ "version", FLAG_BOOL, &opt_version, NULL, "print the version and exit" },
	{ 0 },
};

static const char *usage = "pfrez -pid=PID [-dest=DEST] [-halt] [-compress=MODE] [-encrypt=MODE:KEY] [flags]";

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

static void on_progress(void *arg, unsigned long long bytes)
{
	progress_update(arg, bytes);
}

static int write_snapshot(struct capture *c, struct xport *x, struct stream_cfg *cfg)
{
	struct header h;
	struct layer *top = x->layer;
	struct rec_writer w;
	char created[32], esc_comm[4 * SNAP_COMM_MAX + 1];
	time_t now = time(NULL);
	int rc;

	hdr_init(&h);
	/* A header value is one printable line; comm can be anything. */
	err_escape(esc_comm, sizeof(esc_comm), c->snap.comm, strlen(c->snap.comm));
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
	if (!rc)
		rc = stream_writer_open(x->layer, cfg, &h, &top);
	w.out = top;
	w.count = w.bytes = 0;
	if (!rc)
		rc = snap_write_meta(&c->snap, &w);
	if (!rc)
		rc = capture_write_pages(c, &w);
	if (!rc)
		rc = rec_write_end(&w);
	if (rc) {
		layer_destroy(top);
		return rc;
	}
	return layer_close(top);
}

int main(int argc, char **argv)
{
	struct xport_opts xo = { 0 };
	struct capture c = { 0 };
	struct xport x = { .fd = -1 };
	struct stream_cfg cfg;
	struct progress prog;
	struct timespec stopped;
	sigset_t fatal, oldmask;
	char msg[XPORT_STATUS_MAX];
	int rest, rc;

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

	/* While system calls run inside the process its registers are not
	 * its own: a Ctrl-C now waits until they are put back. */
	sigemptyset(&fatal);
	sigaddset(&fatal, SIGINT);
	sigaddset(&fatal, SIGTERM);
	sigaddset(&fatal, SIGHUP);
	sigaddset(&fatal, SIGQUIT);
	sigprocmask(SIG_BLOCK, &fatal, &oldmask);
	clock_gettime(CLOCK_MONOTONIC, &stopped);
	rc = capture_attach(&c, (pid_t)opt_pid);
	if (!rc) {
		c.self_contained = opt_self_contained;
		rc = capture_state(&c);
	}
	if (rc) {
		capture_release(&c);
		capture_free(&c);
		if (!opt_debug)
			drop_dest(&x);
		return fail(NULL);
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	if (opt_debug) {
		capture_hash_maps(&c);
		snap_print(stdout, &c.snap);
		capture_release(&c);
		capture_free(&c);
		return 0;
	}
	progress_init(&prog, "pfrez: sent", opt_progress);
	c.progress = on_progress;
	c.progress_arg = &prog;
	rc = write_snapshot(&c, &x, &cfg);
	x.layer = NULL;		/* closed or destroyed with the chain */
	if (!rc)
		rc = xport_commit(&x);
	progress_done(&prog);
	if (rc) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", err_last());
		capture_release(&c);
		capture_free(&c);
		/* pthaw may have stopped reading because it refused the
		 * stream: its reply says why better than a broken pipe. */
		if (opt_halt && x.two_way && xport_status_recv(&x, 2000, msg, sizeof(msg)) == 0) {
			xport_close(&x);
			fprintf(stderr, "pfrez: restore on %s failed: %s; the original process %ld was resumed\n",
				x.desc, msg, opt_pid);
			return 1;
		}
		xport_abort(&x);
		fprintf(stderr, "pfrez: writing the snapshot to %s: %s%s\n", x.desc, why,
			opt_halt ? " (the process was left running)" : "");
		return 1;
	}
	if (opt_halt && x.two_way) {
		rc = xport_status_recv(&x, opt_halt_timeout, msg, sizeof(msg));
		if (rc != 1) {
			capture_release(&c);
			capture_free(&c);
			xport_close(&x);
			fprintf(stderr, "pfrez: restore on %s failed: %s; the original process %ld was resumed\n",
				x.desc, rc == 0 ? msg : err_last(), opt_pid);
			return 1;
		}
	}
	if (opt_halt)
		capture_kill(&c);
	else
		capture_release(&c);
	if (opt_progress) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		fprintf(stderr, "pfrez: process %ld %s after %.3f s stopped; %llu pages sent\n", opt_pid,
			opt_halt ? "ended" : "resumed",
			(double)(now.tv_sec - stopped.tv_sec) + (now.tv_nsec - stopped.tv_nsec) / 1e9,
			c.pages_sent);
	}
	capture_free(&c);
	xport_close(&x);
	return 0;
}
