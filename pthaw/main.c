/* pthaw: restores a process from a snapshot stream and supervises it. */
#include "err.h"
#include "fdkind.h"
#include "flags.h"
#include "json.h"
#include "progress.h"
#include "newest.h"
#include "restore.h"
#include "selfexec.h"
#include "supervise.h"
#include "stream.h"
#include "xport.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *opt_src;
static const char *opt_loader;
static const char *opt_keydir;
static const char *opt_key;
static const char *opt_remap = "auto";
static const char *opt_inherit_fd;
static int opt_debug, opt_json, opt_check, opt_progress, opt_version, opt_detach, opt_insecure;
static int opt_take_sockets;
static int64_t opt_read_timeout;

static const struct flag flags[] = {
	{ "src", FLAG_STRING, &opt_src, "SRC", "where the snapshot comes from: stdin (default), FILE, DIR (its newest good snapshot), tcp:PORT, tcp:ADDR:PORT, unix:PATH, udp:PORT" },
	{ "keydir", FLAG_STRING, &opt_keydir, "DIR", "find the key the snapshot names in DIR" },
	{ "key", FLAG_STRING, &opt_key, "FILE", "decrypt with the key in FILE" },
	{ "loader", FLAG_STRING, &opt_loader, "PATH", "the pload executable (default: next to pthaw, then in ../libexec/pfrez from there, then " PFREZ_LIBEXEC "/pload)" },
	{ "remap", FLAG_STRING, &opt_remap, "HOW", "auto (default): keep the PID by remapping when it cannot be given back; always; never: fail instead; ns: restore in a new PID namespace, where the PID is free" },
	{ "inherit-fd", FLAG_STRING, &opt_inherit_fd, "FD[:PFD],...", "give the process's fd FD, a pipe whose other end was outside it, pthaw's own pipe PFD (default FD)" },
	{ "take-sockets", FLAG_BOOL, &opt_take_sockets, NULL, "give the copy the original's own bound TCP and UDP sockets" },
	{ "detach", FLAG_BOOL, &opt_detach, NULL, "leave the restored process running on its own; pthaw exits at once" },
	{ "insecure", FLAG_BOOL, &opt_insecure, NULL, "without a key: accept unauthenticated streams from the network (not only from loopback)" },
	{ "read-timeout", FLAG_DURATION, &opt_read_timeout, "DURATION", "give up when no data arrives for DURATION (default: none)" },
	{ "progress", FLAG_BOOL, &opt_progress, NULL, "show bytes, rate and time on stderr" },
	{ "debug", FLAG_BOOL, &opt_debug, NULL, "print the received state and check the whole stream; restore nothing" },
	{ "json", FLAG_BOOL, &opt_json, NULL, "with -debug: print the state as one JSON document, after the whole stream is verified" },
	{ "check", FLAG_BOOL, &opt_check, NULL, "check the whole stream and that this host can restore it; restore nothing" },
	{ "version", FLAG_BOOL, &opt_version, NULL, "print the version and exit" },
	{ 0 },
};

static const char *usage = "pthaw [-src=SRC] [-keydir=DIR | -key=FILE] [flags]";
static const char *usage_exec = "./JOB [flags]\n\nJOB is a self-executing snapshot (pfrez -exec): pthaw, pload and a snapshot in one\nfile.  Run, it restores the process inside it, as pthaw -src=JOB would.\nThe flags are pthaw's, less -src.";

/* A self-executing snapshot (pfrez -exec) is pthaw's executable with pload
 * and a stream after it: run, it restores what it carries.  1 when this
 * pthaw is one (*self is its path, *loader_fd a memfd of its pload unless
 * -loader names one), 0 when it is plain pthaw, -errno. */
static int self_exec(char *self, size_t len, int *loader_fd)
{
	struct selfexec e;
	ssize_t n;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return 0;	/* no /proc: not run as one */
	rc = selfexec_find(fd, &e);
	if (rc == 1 && !opt_loader) {
		*loader_fd = selfexec_loader(fd, &e);
		if (*loader_fd < 0)
			rc = *loader_fd;
	}
	close(fd);
	/* Its name for messages; /proc/self/exe opens it even if renamed. */
	n = readlink("/proc/self/exe", self, len - 1);
	if (n > 0 && (size_t)n < len - 1)
		self[n] = '\0';	/* readlink does not end it: before access() reads it */
	if (n <= 0 || (size_t)n >= len - 1 || access(self, R_OK) < 0)
		snprintf(self, len, "/proc/self/exe");
	return rc;
}

/* After a failure reply, read what pfrez still sends: closing a socket
 * with unread data would reset the link and could lose the reply. */
static void drain(int fd)
{
	char buf[65536];
	time_t end = time(NULL) + 30;

	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0 || read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
}

/* "tcp:0", "tcp:ADDR:0", "udp:0", ...: the port the kernel is to choose. */
static int port_is_zero(const char *spec)
{
	const char *colon = strrchr(spec, ':');

	return (strncmp(spec, "tcp:", 4) == 0 || strncmp(spec, "udp:", 4) == 0) &&
	       strcmp(colon + 1, "0") == 0;
}

static const char *find_loader(char *buf, size_t len)
{
	char self[PATH_MAX - 64], *slash;
	ssize_t n;

	if (opt_loader)
		return opt_loader;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/pload", self);
			if (access(buf, X_OK) == 0)
				return buf;
			snprintf(buf, len, "%s/../libexec/pfrez/pload", self);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return PFREZ_LIBEXEC "/pload";
}

static const struct restore *progress_of;

/* Once a lazy restore started the process, what it still waits for. */
static void on_progress(void *arg, unsigned long long bytes)
{
	static char what[96];
	struct progress *p = arg;

	if (progress_of && progress_of->started) {
		snprintf(what, sizeof(what), "pthaw: received (%.1f MiB of pages still to come)",
			 progress_of->lz.missing / 256.0);
		p->what = what;
	}
	progress_update(p, bytes);
}

/* A lazy restore over a -halt link: the page the process waits for. */
struct asker {
	struct xport *x;
	struct xport_handover *ho;
};

static int ask_page(void *arg, uint64_t addr)
{
	struct asker *a = arg;
	char text[24];

	snprintf(text, sizeof(text), "%llx", (unsigned long long)addr);
	return xport_handover_send(a->x, a->ho, XPORT_HO_PAGE, text, xport_deadline(1000));
}

struct page_stats {
	unsigned long long pages, zero_pages, page_records, records;
	int lazy;	/* the state came first (pfrez -lazy) */
};

/* -debug -json: the whole snapshot as one document, printed once the
 * stream is verified (a refused stream prints nothing on stdout). */
static int print_json(const struct restore *r, const struct header *h,
		      const struct page_stats *st)
{
	struct json j;
	char version[16];

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_object_begin(&j, "header");
	snprintf(version, sizeof(version), "%d.%d", h->major, h->minor);
	json_str(&j, "format", version);
	json_object_begin(&j, "fields");
	for (int i = 0; i < h->nfields; i++)
		json_str(&j, h->key[i], h->value[i]);
	json_object_end(&j);
	json_object_end(&j);
	snap_print_json(&j, &r->snap);
	/* A tree: its table, and the other processes, each as the root's
	 * members are. */
	if (r->tree.n) {
		pstree_print_json(&j, &r->tree);
		json_array_begin(&j, "processes");
		for (size_t i = 1; i < r->tree.n; i++) {
			if (!r->sub[i])
				continue;
			json_object_begin(&j, NULL);
			snap_print_json(&j, &r->sub[i]->snap);
			json_object_end(&j);
		}
		json_array_end(&j);
	}
	json_object_begin(&j, "pages");
	json_uint(&j, "pages", st->pages);
	json_uint(&j, "zero_pages", st->zero_pages);
	json_uint(&j, "data_pages", st->pages - st->zero_pages);
	json_uint(&j, "records", st->page_records);
	json_bool(&j, "lazy", st->lazy);
	json_object_end(&j);
	json_object_begin(&j, "stream");
	json_uint(&j, "records", r->rd->count);
	json_uint(&j, "bytes", r->rd->bytes);
	json_bool(&j, "verified", 1);
	json_object_end(&j);
	json_object_end(&j);
	return json_finish(&j) ? err_sys(EIO, "stdout") : 0;
}

/* -debug: show what arrived and verify the rest of the stream.  -check:
 * say what this host could not restore, then verify the stream. */
static int debug_stream(struct restore *r, const struct header *hdr, uint32_t type,
			const unsigned char *p, size_t len)
{
	struct page_stats st = { 0 };
	int rc = 1, problems = 0;

	if (opt_check)
		problems = restore_check(r, stdout);
	while (rc == 1) {
		if (type == REC_PAGES) {
			struct rec_pages h;

			memcpy(&h, p, sizeof(h));
			st.pages += h.npages;
			st.zero_pages += h.flags & PAGES_ZERO ? h.npages : 0;
			st.page_records++;
			restore_pages_seen(r);
		} else if (type == REC_LAZY) {
			st.lazy = 1;
		} else if (type != REC_END) {
			/* As a restore would: task state may follow the pages,
			 * and only an optional record may be unknown. */
			rc = restore_take(r, type, p, len, 1);
			if (rc < 0)
				return rc;
		}
		st.records++;
		rc = rec_read(r->rd, &type, &p, &len);
	}
	if (rc < 0)
		return rc;
	rc = r->tree.n ? restore_tree_done(r) : snap_check(&r->snap, 1);
	if (rc)
		return rc;
	/* The other processes of a tree, now that their records are in. */
	for (size_t i = 1; opt_check && i < r->tree.n; i++)
		if (r->sub[i])
			problems += restore_check(r->sub[i], stdout);
	if (opt_json && !opt_check)
		return print_json(r, hdr, &st);
	if (!opt_check) {
		pstree_print(stdout, &r->tree);
		snap_print(stdout, &r->snap);
		for (size_t i = 1; i < r->tree.n; i++) {
			if (!r->sub[i])
				continue;
			printf("\n");
			snap_print(stdout, &r->sub[i]->snap);
		}
	}
	if (opt_check && problems)
		return err_msg(ENOEXEC, "%d problem%s: the snapshot cannot be restored here", problems,
			       problems > 1 ? "s" : "");
	if (opt_check)
		printf("stream verified; the snapshot can be restored here\n");
	else
		printf("Pages: %llu in %llu records%s; stream verified\n", st.pages, st.records,
		       st.lazy ? " (lazy: the state first)" : "");
	return 0;
}

/* What an unauthenticated peer is told of a failure: a class, nothing
 * about this host's files (the details go to stderr only). */
static const char *fail_class(int rc)
{
	switch (-rc) {
	case EBADMSG:
		return "the stream was refused (authentication failed or damaged data)";
	case ENOKEY:
		return "the stream was refused (no key for it)";
	case EACCES:
		return "the stream was refused (not authenticated)";
	case ENOEXEC:
		return "the stream was refused (made for another machine)";
	default:
		return "restore failed on the receiving host (pthaw printed why)";
	}
}

/* The key an encrypted stream was read with, for the hand-over's tags:
 * loaded again as stream_reader_open() found it. */
static int stream_key(const struct header *h, unsigned char *key, size_t *keylen)
{
	int rc;

	if (opt_key)
		rc = crypt_load_key(opt_key, key, keylen);
	else
		rc = crypt_find_key(opt_keydir, hdr_get(h, "key") ? hdr_get(h, "key") : "", key, keylen);
	return rc < 0 ? rc : 0;
}

/* The copy is built and held stopped: READY, then only pfrez's COMMIT
 * starts it.  Without COMMIT (ABORT, the link closing, the timeout, a
 * bad message) the copy is discarded.  After COMMIT the copy runs even
 * if DONE cannot be sent: pfrez then keeps the original stopped. */
static int hand_over_copy(struct xport *x, struct xport_handover *ho, struct restore *r)
{
	char text[XPORT_HO_TEXT_MAX + 1];
	int64_t deadline = xport_deadline(opt_read_timeout ? opt_read_timeout : 60000);
	int m, rc;

	rc = xport_handover_send(x, ho, XPORT_HO_READY, "the copy is built and held stopped", deadline);
	if (!rc) {
		m = xport_handover_recv(x, ho, deadline, text, sizeof(text));
		if (m == XPORT_HO_ABORT)
			rc = err_msg(ECANCELED, "pfrez aborted the hand-over: %s", text);
		else if (m >= 0 && m != XPORT_HO_COMMIT)
			rc = err_msg(EPROTO, "%s: %s instead of COMMIT", x->desc, xport_ho_name(m));
		else if (m < 0)
			rc = m;
	}
	if (rc) {
		restore_discard(r);
		return err_msg(-rc, "hand-over: %s; the restored copy was discarded", err_last());
	}
	rc = restore_release(r);
	if (rc) {
		xport_handover_send(x, ho, XPORT_HO_FAIL, "the copy could not be started",
				    xport_deadline(5000));
		return rc;
	}
	if (xport_handover_send(x, ho, XPORT_HO_DONE, "the copy is running", deadline) < 0)
		fprintf(stderr, "pthaw: warning: the copy runs, but pfrez was not told (%s): it keeps the original stopped and says what to do\n",
			err_last());
	return 0;
}

int main(int argc, char **argv)
{
	struct xport_opts xo = { 0 };
	struct xport x = { .fd = -1 };
	struct restore r = { 0 };
	struct rec_reader rd;
	struct header *h;
	struct layer *top = NULL;
	struct progress prog;
	char loader[PATH_MAX], warn[512];
	struct stat sb;
	const unsigned char *p;
	uint32_t type;
	size_t len;
	struct xport_handover ho;
	struct asker asker = { &x, &ho };
	unsigned char key[CRYPT_KEY_MAX];
	size_t keylen = 0;
	int rest, rc, encrypted = 0, handover = 0, authed = 0, no_loader = 0, selfrun = 0, tree;
	char self[PATH_MAX];
	pid_t pid = 0;

	rc = flags_parse(flags, argc, argv, &rest);
	if (rc >= 0)
		selfrun = self_exec(self, sizeof(self), &r.loader_fd);
	if (selfrun < 0) {
		fprintf(stderr, "pthaw: %s\n", err_last());
		return r.loader_fd < 0 ? PTHAW_EXIT_LOADER : PTHAW_EXIT_FAILED;
	}
	if (rc == 1) {
		flags_usage(stdout, selfrun ? usage_exec : usage, flags);
		return 0;
	}
	if (rc < 0 || rest != argc) {
		fprintf(stderr, "pthaw: %s\n", rc < 0 ? err_last() : "unexpected argument (flags only; see -h)");
		return PTHAW_EXIT_FAILED;
	}
	if (opt_version) {
		printf("pthaw %s\n", PFREZ_VERSION);
		return 0;
	}
	if (selfrun && opt_src) {
		fprintf(stderr, "pthaw: %s is a self-executing snapshot: it restores the one inside it, -src does not apply\n",
			self);
		return PTHAW_EXIT_FAILED;
	}
	if (selfrun)
		opt_src = self;
	signal(SIGPIPE, SIG_IGN);
	snap_init(&r.snap);
	/* Freed at the end whether or not rec_reader_init ran. */
	memset(&rd, 0, sizeof(rd));
	if (strcmp(opt_remap, "auto") == 0)
		r.remap = REMAP_AUTO;
	else if (strcmp(opt_remap, "always") == 0)
		r.remap = REMAP_ALWAYS;
	else if (strcmp(opt_remap, "never") == 0)
		r.remap = REMAP_NEVER;
	else if (strcmp(opt_remap, "ns") == 0)
		r.remap = REMAP_AUTO;
	else {
		fprintf(stderr, "pthaw: invalid value \"%s\" for flag -remap: want auto, always, never or ns\n", opt_remap);
		return PTHAW_EXIT_FAILED;
	}
	/* Without CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) neither the PID
	 * nor the memory layout can be given back in pthaw's namespaces: a
	 * user namespace of its own, with a PID namespace in it, is the only
	 * way, so -remap=auto means ns then (it failed before, and as root
	 * it keeps its meaning). */
	if (strcmp(opt_remap, "ns") == 0 || (r.remap == REMAP_AUTO && !pidns_privileged()))
		r.ns = pidns_privileged() ? PLOAD_NS_PID : PLOAD_NS_USER;
	else if (!pidns_privileged() && !opt_debug && !opt_check) {
		fprintf(stderr, "pthaw: -remap=%s needs CAP_CHECKPOINT_RESTORE (root): without it pthaw restores in a user and PID namespace of its own (-remap=auto or ns)\n",
			opt_remap);
		return PTHAW_EXIT_FAILED;
	}
	if (opt_detach && r.remap == REMAP_ALWAYS) {
		fprintf(stderr, "pthaw: -detach and -remap=always exclude each other: a remapped process needs pthaw\n");
		return PTHAW_EXIT_FAILED;
	}
	if (opt_inherit_fd && fd_pipe_inherit(opt_inherit_fd) < 0) {
		fprintf(stderr, "pthaw: %s\n", err_last());
		return PTHAW_EXIT_FAILED;
	}
	if (opt_json && !opt_debug) {
		fprintf(stderr, "pthaw: -json goes with -debug\n");
		return PTHAW_EXIT_FAILED;
	}
	/* A directory of pfrez -every: its newest snapshot that verifies. */
	if (opt_src && stat(opt_src, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		char keyarg[4200], *keyargs[2] = { keyarg, NULL };
		const char *pick;

		if (opt_key)
			snprintf(keyarg, sizeof(keyarg), "-key=%s", opt_key);
		else if (opt_keydir)
			snprintf(keyarg, sizeof(keyarg), "-keydir=%s", opt_keydir);
		else
			keyargs[0] = NULL;
		pick = newest_pick(opt_src, keyargs);
		if (!pick) {
			fprintf(stderr, "pthaw: %s\n", err_last());
			return PTHAW_EXIT_FAILED;
		}
		if (opt_progress || !opt_debug)
			fprintf(stderr, "pthaw: restoring %s\n", pick);
		opt_src = pick;
	}
	r.detach = opt_detach;
	if (r.loader_fd > 2)
		snprintf(loader, sizeof(loader), "/proc/self/fd/%d", r.loader_fd);
	r.loader = r.loader_fd > 2 ? loader : find_loader(loader, sizeof(loader));
	r.stdin_is_stream = !opt_src || strcmp(opt_src, "-") == 0 || strcmp(opt_src, "stdin") == 0;
	/* Nobody types a snapshot: waiting would look like a hang. */
	if (r.stdin_is_stream && isatty(0)) {
		fprintf(stderr, "pthaw: stdin is a terminal: give -src=... or pipe a snapshot in\n");
		return PTHAW_EXIT_FAILED;
	}
	xo.read_timeout_ms = opt_read_timeout;
	/* Without a key nothing authenticates the stream: only a peer on
	 * this host's loopback may send one, unless the user chose more. */
	xo.local_only = !opt_key && !opt_keydir && !opt_insecure;
	xport_handover_init(&ho, 0, NULL, NULL, 0);
	if (xport_listen(opt_src, &xo, &x) < 0) {
		fprintf(stderr, "pthaw: %s\n", err_last());
		xport_close(&x);
		return PTHAW_EXIT_FAILED;
	}
	/* Port 0: the kernel chose one, which the sender needs to know. */
	if (opt_src && port_is_zero(opt_src)) {
		fprintf(stderr, "pthaw: listening on %.3s port %d\n", opt_src, xport_local_port(&x));
		fflush(stderr);
	}
	if (xport_accept(&x) < 0) {
		fprintf(stderr, "pthaw: %s\n", err_last());
		xport_close(&x);
		return PTHAW_EXIT_FAILED;
	}
	/* From a pipe (`pfrez -halt | pthaw`), the rest of the stream may
	 * have to be read ahead into a file: while what the original still
	 * holds is waited for (lib/layer/layer_spool.c). */
	if (r.stdin_is_stream && fstat(0, &sb) == 0 && S_ISFIFO(sb.st_mode)) {
		struct layer *sp = layer_spool_open(x.layer);

		if (sp)
			x.layer = sp;
	}
	h = malloc(sizeof(*h));
	rc = h ? 0 : err_sys(ENOMEM, "header");
	if (!rc)
		rc = stream_reader_open(x.layer, opt_keydir, opt_key, h, &top, warn, sizeof(warn));
	if (!rc && warn[0])
		fprintf(stderr, "pthaw: warning: %s\n", warn);
	if (!rc) {
		encrypted = strcmp(hdr_get(h, "encrypt"), "none") != 0;
		handover = hdr_get(h, "handover") != NULL;
		r.lazy_stream = hdr_get(h, "lazy") != NULL;
	}
	if (!rc && !encrypted && (opt_key || opt_keydir))
		rc = err_msg(EACCES, "the stream is not encrypted, and with -key or -keydir only streams authenticated with the key are accepted: refused");
	if (!rc && handover && strcmp(hdr_get(h, "handover"), "1") != 0)
		rc = err_msg(EBADMSG, "header: handover \"%s\" is not 1", hdr_get(h, "handover"));
	if (!rc && handover && !x.framed)
		rc = err_msg(EPROTO, "the stream asks for a -halt hand-over, which %s cannot carry: refused",
			     x.desc);
	if (!rc && handover) {
		rc = encrypted ? stream_key(h, key, &keylen) : 0;
		if (!rc)
			rc = xport_handover_init(&ho, 0, h, encrypted ? key : NULL, keylen);
		memset(key, 0, sizeof(key));
	}
	if (!rc)
		r.same_host = stream_same_host(h);
	r.take_sockets = opt_take_sockets;
	/* Before any record: whether the namespace this restore needs can
	 * be made at all. */
	if (!rc && r.ns == PLOAD_NS_USER && !opt_debug)
		rc = pidns_userns_usable();
	/* -debug and -check restore nothing: no host checks on the way (-check
	 * makes them all itself, reporting each). */
	r.check_only = opt_check || opt_debug;
	if (!rc)
		rc = rec_reader_init(&rd, top);
	r.rd = &rd;
	progress_init(&prog, "pthaw: received", opt_progress);
	r.progress = on_progress;
	r.progress_arg = &prog;
	r.verbose = opt_progress;
	progress_of = &r;
	if (handover) {
		r.ask = ask_page;
		r.ask_arg = &asker;
	}
	if (!rc)
		rc = restore_read_meta(&r, &type, &p, &len);
	/* Records came out of the decryption: the peer holds the key. */
	authed = !rc && encrypted;
	r.hold = handover && !opt_debug && !opt_check;
	if (!rc && (opt_debug || opt_check)) {
		rc = debug_stream(&r, h, type, p, len);
		pid = 0;
	} else if (!rc && access(r.loader, X_OK) < 0) {
		/* Before the pages, and answered through the hand-over as
		 * any failure: a status of its own tells a script what to
		 * install. */
		rc = err_msg(errno, "the loader %s cannot be run: %s (give -loader=PATH)", r.loader,
			     strerror(errno));
		no_loader = 1;
	} else if (!rc) {
		pid = restore_run(&r, type, p, len);
		rc = pid < 0 ? (int)pid : 0;
	}
	progress_done(&prog);
	if (rc) {
		char why[1024];

		snprintf(why, sizeof(why), "%s", err_last());
		fprintf(stderr, "pthaw: %s\n", why);
		ho.keyed = ho.keyed && authed;
		if (x.two_way && x.fd >= 0 &&
		    xport_handover_send(&x, &ho, XPORT_HO_FAIL, authed ? why : fail_class(rc),
					xport_deadline(5000)) == 0)
			drain(x.fd);
	} else if ((opt_debug || opt_check) && handover) {
		xport_handover_send(&x, &ho, XPORT_HO_FAIL, "pthaw -debug or -check restores nothing",
				    xport_deadline(5000));
	} else if (!opt_debug && !opt_check) {
		if (handover && hand_over_copy(&x, &ho, &r) < 0) {
			fprintf(stderr, "pthaw: %s\n", err_last());
			rc = -1;
		}
		if (!rc && opt_progress && r.started)
			fprintf(stderr, "pthaw: all pages in: %llu placed with userfaultfd, %llu waited for on demand\n",
				r.lz.placed, r.lz.faults);
		else if (!rc && opt_progress)
			fprintf(stderr, "pthaw: process %d running (%s)\n", pid,
				r.remapped ? "PID remapped" : r.ns ? "its PID in a PID namespace of its own" : "same PID");
	}
	if (top)
		layer_destroy(top);
	if (r.rd == &rd && rd.buf)
		rec_reader_free(&rd);
	xport_close(&x);
	free(h);
	tree = r.tree.n > 0;
	restore_free(&r);
	if (rc)
		return no_loader ? PTHAW_EXIT_LOADER : PTHAW_EXIT_FAILED;
	if (opt_debug || opt_check)
		return 0;
	if (opt_detach) {
		if (r.ns)
			fprintf(stderr, "pthaw: process %d (PID %u in its PID namespace) restored and detached\n",
				pid, r.old_pid);
		else
			fprintf(stderr, "pthaw: process %d restored and detached\n", pid);
		return 0;
	}
	/* A tree's root that leads its group: a job of its own. */
	supervise_group(tree && getpgid(pid) == pid);
	return supervise(pid, (pid_t)r.old_pid, r.remapped);
}
