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
 *
 * The stream has no pages: -debug prints it, a restore refuses it. */
#include "err.h"
#include "record.h"
#include "snap.h"
#include "stream.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
	const char *comm = arg(argc, argv, "comm"), *xsave = arg(argc, argv, "xsave");
	const char *missing = arg(argc, argv, "missing");
	static unsigned char buf[sizeof(struct rec_proc) + 3 * SNAP_PATH_MAX];
	static unsigned char xarea[576];
	static struct header h;
	struct stream_cfg cfg;
	struct rec_writer w;
	struct layer *out = layer_fd_open(1, 0), *top;
	struct rec_proc p = { .pid = 4000000, .umask = 022 };
	struct rec_mm mm = { 0 };
	struct rec_creds creds = { 0 };	/* root's: pthaw runs as root here */
	struct rec_rlimits rl;
	struct rec_signals sig = { 0 };
	struct rec_regs regs = { 0 };
	struct rec_xstate xs = { .xcr0 = 3, .size = sizeof(xarea) };
	struct rec_vma v = { .start = 0x10000, .end = 0x11000, .prot = 3 };
	uint64_t addr = 0x100000;
	char name[4001];

	size_t off;

	memset(&rl, 0, sizeof(rl));
	if (!comm)
		comm = "crafted";
	check(stream_cfg_parse(&cfg, NULL, NULL));
	hdr_init(&h);
	check(hdr_set(&h, "arch", "x86_64"));
	if (xsave)
		check(hdr_set(&h, "xsave-features", "%s", xsave));
	else
		check(hdr_set(&h, "xsave-features", "0x%llx", (unsigned long long)hdr_local_xcr0()));
	check(hdr_set(&h, "pid", "%u", p.pid));
	check(stream_writer_open(out, &cfg, &h, &top));
	w = (struct rec_writer){ top, 0, 0 };

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
	check(rec_write(&w, REC_REGS, &regs, sizeof(regs), NULL, 0));
	check(rec_write(&w, REC_XSTATE, &xs, sizeof(xs), xarea, sizeof(xarea)));
	for (long i = 0; i < num(argc, argv, "pending"); i++) {
		struct rec_siginfo si = { .shared = 1 };
		int32_t signo = SIGUSR1;

		memcpy(si.info, &signo, sizeof(signo));
		check(rec_write(&w, REC_SIGINFO, &si, sizeof(si), NULL, 0));
	}
	check(rec_write_end(&w));
	check(layer_close(top));
	return 0;
}
