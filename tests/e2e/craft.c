/* craft: writes a well-formed plain stream (right CRCs, right end record)
 * with hostile contents, for the tests of what pthaw bounds and escapes.
 *
 *	craft [WHAT=VALUE ...] > stream
 *
 *	comm=S		the process name (REC_PROC and the header)
 *	xsave=S		the header's xsave-features field, as it is
 *	fds=N		N fd records (fds 3 .. N+2, one open of /dev/null)
 *	fd=K		one fd record with number K (/dev/null too)
 *	files=N		N more open file records (/dev/null), no fd refers to
 *	file=K		one fd record (fd 3) referring to file id K
 *	vmas=N		N more one-page anonymous mappings
 *	names=MIB	more mappings with 4000-byte names, MIB MiB of them
 *	pending=N	N pending SIGUSR1 records
 *	missing=PATH	a last mapping of the file PATH (which should not exist)
 *	unknown=TYPE	a record of TYPE (a number) after the state records
 *	format=N	the header's format version N (N.0)
 *
 * The stream has no pages: -debug prints it, a restore refuses it.
 *
 *	craft from=FILE [unknown=TYPE] [passes=1] [late=TYPE] [filesshared=PID]
 *	      [fsshared=PID] > stream
 *
 * copies the plain stream in FILE (header fields, records): with a record
 * of TYPE before its first pages (a real process's snapshot, restorable,
 * that carries a record this pthaw does not know); with passes, as a
 * live migration would send it (each pages record twice, the first with
 * stale contents, and the task state after the pages); with late, the
 * records of that type after the pages; with filesshared (fsshared),
 * process PID's entry of the tree said to share its parent's fd table
 * (working directory and umask). */
#include "err.h"
#include "record.h"
#include "files.h"
#include "snap.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *arg(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return NULL;
}

static long num(int argc, char **argv, const char *name)
{
	const char *v = arg(argc, argv, name);

	return v ? strtol(v, NULL, 0) : 0;
}

static void check(int rc)
{
	if (rc) {
		fprintf(stderr, "craft: %s\n", err_last());
		exit(1);
	}
}

/* What a reader of a future format might find: 16 bytes it cannot know. */
static void write_unknown(struct rec_writer *w, const char *type)
{
	check(rec_write(w, (uint32_t)strtoul(type, NULL, 0), "a future record", 16, NULL, 0));
}

/* Records held back to be written after the pages (passes=1). */
struct held {
	uint32_t type;
	size_t len;
	unsigned char *p;
};

/* Whether a record of type t may follow pages records (man/pfrez-stream.5,
 * Records): the task state a later pass sends. */
static int late_type(uint32_t t)
{
	switch (t) {
	case REC_MM: case REC_SIGNALS: case REC_SIGINFO: case REC_THREAD: case REC_RSEQ:
	case REC_PRCTL: case REC_MEMBARRIER: case REC_MADVISE: case REC_TIMERS: case REC_LOCKS:
		return 1;
	}
	return 0;
}

/* A copy of stream from: with an unknown record of type (if any) before
 * the pages; with passes, as a live migration sends it: every pages
 * record twice, first with stale (inverted) contents, and the task state
 * after the pages; with late, the records of type late after the pages
 * too. */
static int copy_stream(struct layer *out, const char *from, const char *type, int passes,
		       uint32_t late, uint32_t shared, uint32_t fs)
{
	static struct header in_h, h;
	static unsigned char stale[sizeof(struct rec_pages) + REC_PAGES_MAX * REC_PAGE_SIZE];
	struct held *held = NULL;
	size_t nheld = 0;
	struct layer *in, *top;
	struct stream_cfg cfg;
	struct rec_reader rd;
	struct rec_writer w;
	const unsigned char *p;
	uint32_t t;
	size_t len;
	int fd = open(from, O_RDONLY | O_CLOEXEC), rc, added = 0;

	if (fd < 0) {
		perror(from);
		return 1;
	}
	in = layer_fd_open(fd, 1);
	check(hdr_read(&in_h, in));
	if (strcmp(hdr_get(&in_h, "compress"), "none") || strcmp(hdr_get(&in_h, "encrypt"), "none"))
		check(err_msg(EINVAL, "%s: a plain stream only", from));
	check(stream_cfg_parse(&cfg, NULL, NULL));
	hdr_init(&h);
	for (int i = 0; i < in_h.nfields; i++)
		if (strcmp(in_h.key[i], "compress") && strcmp(in_h.key[i], "encrypt"))
			check(hdr_set(&h, in_h.key[i], "%s", in_h.value[i]));
	check(stream_writer_open(out, &cfg, &h, &top));
	w = (struct rec_writer){ top, 0, 0 };
	check(rec_reader_init(&rd, in));
	while ((rc = rec_read(&rd, &t, &p, &len)) == 1) {
		if ((t == REC_PAGES || t == REC_END) && !added++ && type)
			write_unknown(&w, type);
		if (t != REC_PAGES && t != REC_END && ((passes && late_type(t)) || t == late)) {
			held = realloc(held, (nheld + 1) * sizeof(*held));
			held[nheld] = (struct held){ t, len, malloc(len ? len : 1) };
			memcpy(held[nheld++].p, p, len);
			continue;
		}
		if (t == REC_END) {
			for (size_t i = 0; i < nheld; i++) {
				check(rec_write(&w, held[i].type, held[i].p, held[i].len, NULL, 0));
				free(held[i].p);
			}
			check(rec_write_end(&w));
			continue;
		}
		if ((shared || fs) && t == REC_PSTREE && len <= sizeof(stale)) {
			memcpy(stale, p, len);
			for (size_t o = sizeof(struct rec_pstree); o + sizeof(struct rec_pstree_proc) <= len;
			     o += sizeof(struct rec_pstree_proc)) {
				struct rec_pstree_proc e;

				memcpy(&e, stale + o, sizeof(e));
				if (e.pid == shared)
					e.flags |= PSTREE_FILES_SHARED;
				if (e.pid == fs)
					e.flags |= PSTREE_FS_SHARED;
				memcpy(stale + o, &e, sizeof(e));
			}
			check(rec_write(&w, t, stale, len, NULL, 0));
			continue;
		}
		if (passes && t == REC_PAGES && len > sizeof(struct rec_pages)) {
			memcpy(stale, p, len);
			for (size_t i = sizeof(struct rec_pages); i < len; i++)
				stale[i] ^= 0xff;
			check(rec_write(&w, t, stale, len, NULL, 0));
		}
		check(rec_write(&w, t, p, len, NULL, 0));
	}
	check(rc);
	check(layer_close(top));
	rec_reader_free(&rd);
	layer_destroy(in);
	free(held);
	return 0;
}

int main(int argc, char **argv)
{
	const char *comm = arg(argc, argv, "comm"), *xsave = arg(argc, argv, "xsave");
	const char *missing = arg(argc, argv, "missing"), *unknown = arg(argc, argv, "unknown");
	static unsigned char buf[sizeof(struct rec_proc) + 3 * SNAP_PATH_MAX];
	static unsigned char xarea[576];
	static struct header h;
	struct stream_cfg cfg;
	struct rec_writer w;
	struct layer *out = layer_fd_open(1, 0), *top;
	struct rec_proc p = { .pid = 4000000, .nthreads = 1, .umask = 022 };
	struct rec_mm mm = { 0 };
	struct rec_creds creds = { 0 };	/* root's: pthaw runs as root here */
	struct rec_rlimits rl;
	struct rec_signals sig = { 0 };
	struct rec_thread th = { .tid = 4000000, .xcr0 = 3, .xsave_size = sizeof(xarea) };
	struct rec_vma v = { .start = 0x10000, .end = 0x11000, .prot = 3 };
	uint64_t addr = 0x100000;
	char name[4001];

	size_t off;

	if (arg(argc, argv, "from"))
		return copy_stream(out, arg(argc, argv, "from"), unknown, arg(argc, argv, "passes") != NULL,
				   (uint32_t)num(argc, argv, "late"), (uint32_t)num(argc, argv, "filesshared"),
				   (uint32_t)num(argc, argv, "fsshared"));
	memset(&rl, 0, sizeof(rl));
	if (!comm)
		comm = "crafted";
	check(stream_cfg_parse(&cfg, NULL, NULL));
	hdr_init(&h);
	if (arg(argc, argv, "format"))
		h.major = (int)num(argc, argv, "format");
	check(hdr_set(&h, "arch", "x86_64"));
	if (xsave)
		check(hdr_set(&h, "xsave-features", "%s", xsave));
	else
		check(hdr_set(&h, "xsave-features", "0x%llx", (unsigned long long)hdr_local_xcr0()));
	check(hdr_set(&h, "pid", "%u", p.pid));
	check(stream_writer_open(out, &cfg, &h, &top));
	w = (struct rec_writer){ top, 0, 0 };

	{
		struct stat sb;

		/* as pfrez records it: pthaw checks the working directory */
		if (stat("/", &sb) == 0)
			file_ident(&p.cwd, &sb);
	}
	p.comm_len = (uint16_t)strlen(comm);
	p.exe_len = 9;
	p.cwd_len = 1;
	memcpy(buf, &p, sizeof(p));
	off = sizeof(p);
	memcpy(buf + off, comm, p.comm_len);
	off += p.comm_len;
	memcpy(buf + off, "/bin/true/", 10);
	off += 10;
	check(rec_write(&w, REC_PROC, buf, off, NULL, 0));
	check(rec_write(&w, REC_CREDS, &creds, sizeof(creds), NULL, 0));
	check(rec_write(&w, REC_MM, &mm, sizeof(mm), NULL, 0));
	check(rec_write(&w, REC_RLIMITS, &rl, sizeof(rl), NULL, 0));
	check(rec_write(&w, REC_SIGNALS, &sig, sizeof(sig), NULL, 0));
	for (long i = 0; i < (num(argc, argv, "fds") || arg(argc, argv, "fd")) + num(argc, argv, "files"); i++) {
		struct rec_file f = { .id = (uint32_t)i, .kind = FD_DEV, .flags = 1, .mode = 020666,
				      .path_len = 9 };
		struct stat sb;

		/* as pfrez records it: pthaw checks it is the file here */
		if (stat("/dev/null", &sb) == 0)
			file_ident(&f.ident, &sb);

		check(rec_write(&w, REC_FILE, &f, sizeof(f), "/dev/null", 9));
	}
	for (long i = 0; i < num(argc, argv, "fds"); i++) {
		struct rec_fd f = { .fd = (int32_t)(i + 3), .file = 0 };

		check(rec_write(&w, REC_FD, &f, sizeof(f), NULL, 0));
	}
	if (arg(argc, argv, "fd")) {
		struct rec_fd f = { .fd = (int32_t)num(argc, argv, "fd"), .file = 0 };

		check(rec_write(&w, REC_FD, &f, sizeof(f), NULL, 0));
	}
	if (arg(argc, argv, "file")) {
		struct rec_fd f = { .fd = 3, .file = (uint32_t)num(argc, argv, "file") };

		check(rec_write(&w, REC_FD, &f, sizeof(f), NULL, 0));
	}
	check(rec_write(&w, REC_VMA, &v, sizeof(v), NULL, 0));
	for (long i = 0; i < num(argc, argv, "vmas"); i++, addr += 0x2000) {
		v.start = addr;
		v.end = addr + 0x1000;
		check(rec_write(&w, REC_VMA, &v, sizeof(v), NULL, 0));
	}
	memset(name, 'n', 4000);
	name[0] = '/';
	v.name_len = 4000;
	for (long i = 0; i < num(argc, argv, "names") * 256; i++, addr += 0x2000) {
		v.start = addr;
		v.end = addr + 0x1000;
		check(rec_write(&w, REC_VMA, &v, sizeof(v), name, 4000));
	}
	if (missing) {
		v.start = addr;
		v.end = addr + 0x1000;
		v.flags = VMA_FILE;
		v.name_len = (uint32_t)strlen(missing);
		check(rec_write(&w, REC_VMA, &v, sizeof(v), missing, v.name_len));
	}
	check(rec_write(&w, REC_THREAD, &th, sizeof(th), xarea, sizeof(xarea)));
	for (long i = 0; i < num(argc, argv, "pending"); i++) {
		struct rec_siginfo si = { .shared = 1 };
		int32_t signo = SIGUSR1;

		memcpy(si.info, &signo, sizeof(signo));
		check(rec_write(&w, REC_SIGINFO, &si, sizeof(si), NULL, 0));
	}
	if (unknown)
		write_unknown(&w, unknown);
	check(rec_write_end(&w));
	check(layer_close(top));
	return 0;
}
