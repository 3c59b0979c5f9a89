/* test_proc.c: the /proc parsers on real-looking text, and the snapshot
 * metadata records: round trip, nonsense refused, incompleteness named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "layer.h"
#include "memlayer.h"
#include "proc.h"
#include "record.h"
#include "snap.h"

static void has(const char *what)
{
	if (!strstr(err_last(), what))
		fail_msg("message \"%s\" does not say \"%s\"", err_last(), what);
}

/* ---- /proc/PID/maps ---- */

static void maps_lines(void **state)
{
	struct vma v;

	(void)state;
	assert_int_equal(maps_parse_line("7f3a1c000000-7f3a1c021000 r-xp 00001000 08:01 1234567"
					 "                    /home/u/my dir/lib x.so\n", &v), 0);
	assert_int_equal(v.start, 0x7f3a1c000000ull);
	assert_int_equal(v.end, 0x7f3a1c021000ull);
	assert_int_equal(v.pgoff, 0x1000);
	assert_int_equal(v.prot, PROT_READ | PROT_EXEC);
	assert_int_equal(v.shared, 0);
	assert_int_equal(v.inode, 1234567);
	assert_string_equal(v.path, "/home/u/my dir/lib x.so");
	free(v.path);

	assert_int_equal(maps_parse_line("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0"
					 "                          [heap]\n", &v), 0);
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
	assert_string_equal(v.path, "[heap]");
	free(v.path);

	assert_int_equal(maps_parse_line("7ffd1c7f0000-7ffd1c7f4000 r--p 00000000 00:00 0"
					 "                          [vvar_vclock]", &v), 0);
	assert_int_equal(v.prot, PROT_READ);
	assert_string_equal(v.path, "[vvar_vclock]");
	free(v.path);

	/* anonymous: no path at all, with or without the trailing space */
	assert_int_equal(maps_parse_line("7f0000000000-7f0000003000 rw-p 00000000 00:00 0 \n", &v), 0);
	assert_string_equal(v.path, "");
	assert_int_equal(v.inode, 0);
	free(v.path);
	assert_int_equal(maps_parse_line("7f0000000000-7f0000003000 ---p 00000000 00:00 0", &v), 0);
	assert_string_equal(v.path, "");
	assert_int_equal(v.prot, 0);
	free(v.path);

	/* a deleted file, shared */
	assert_int_equal(maps_parse_line("7f1234560000-7f1234570000 rw-s 00010000 00:1a 99"
					 "                         /dev/shm/x y (deleted)\n", &v), 0);
	assert_int_equal(v.shared, 1);
	assert_int_equal(v.pgoff, 0x10000);
	assert_int_equal(v.prot, PROT_READ | PROT_WRITE);
	assert_string_equal(v.path, "/dev/shm/x y (deleted)");
	free(v.path);

	assert_int_equal(maps_parse_line("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0"
					 "                  [vsyscall]\n", &v), 0);
	assert_int_equal(v.start, 0xffffffffff600000ull);
	assert_int_equal(v.prot, PROT_EXEC);
	free(v.path);
}

static void maps_malformed(void **state)
{
	static const char *bad[] = {
		"",
		"\n",
		"garbage",
		"7f00-7f10",
		"7f00-7f10 rw-p",
		"7f00-7f10 rw-p 00000000 00:00",
		"7f00-7f10 rw-p 00000000 00:00 x /a",
		"7f00 7f10 rw-p 00000000 00:00 0",
		"7f10-7f00 rw-p 00000000 00:00 0",	/* end before start */
		"7f00-7f00 rw-p 00000000 00:00 0",	/* empty */
		"7f00-7f10 rw 00000000 00:00 0",
		"7f00-7f10 rw-pp 00000000 00:00 0",
		"7f00-7f10 r?-p 00000000 00:00 0",
		"7f00-7f10 rw-q 00000000 00:00 0",
		"7f00-7f10 wr-p 00000000 00:00 0",
		"7f00-7f10 rw-p 00000000 0000 0",
	};
	struct vma v;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear();
		if (maps_parse_line(bad[i], &v) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		has("maps: cannot parse");
		assert_null(v.path);
	}
}

/* ---- /proc/PID/smaps ---- */

struct smaps_seen {
	int n;
	uint64_t start[4], end[4];
	char flags[4][64];
};

static int smaps_one(void *arg, uint64_t start, uint64_t end, const char *vmflags)
{
	struct smaps_seen *s = arg;

	if (s->n == 4)
		return -E2BIG;
	s->start[s->n] = start;
	s->end[s->n] = end;
	snprintf(s->flags[s->n++], sizeof(s->flags[0]), "%s", vmflags);
	return 0;
}

static void smaps_flags(void **state)
{
	static char text[16384];
	struct smaps_seen seen = { 0 };
	size_t n;
	FILE *f;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text),
			     "55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0    [heap]\n"
			     "Size:                132 kB\n"
			     "AnonHugePages:          0 kB\n"
			     "VmFlags: rd wr mr mw me ac dc\n"
			     "7f0000000000-7f0000003000 r--p 00000000 08:01 12   /a/");
	/* a name longer than any line buffer, then its fields */
	memset(text + n, 'x', 6000);
	n += 6000;
	snprintf(text + n, sizeof(text) - n,
		 "\nSize:                 12 kB\n"
		 "VmFlags: rd mr mw me lo lf\n"
		 "7f0000003000-7f0000004000 ---p 00000000 00:00 0\n"
		 "Size:                  4 kB\n");
	f = fmemopen(text, strlen(text), "r");
	assert_non_null(f);
	assert_int_equal(smaps_parse(f, smaps_one, &seen), 0);
	fclose(f);
	/* the last mapping has no VmFlags line (an old kernel): not reported */
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.start[0], 0x55d0c0a00000ull);
	assert_int_equal(seen.end[0], 0x55d0c0a21000ull);
	assert_string_equal(seen.flags[0], " rd wr mr mw me ac dc");
	assert_int_equal(seen.start[1], 0x7f0000000000ull);
	assert_string_equal(seen.flags[1], " rd mr mw me lo lf");
}

/* ---- /proc/PID/stat ---- */

/* A stat line whose field i (from 4) is 1000 + i, but for a few that are
 * set apart: field 8 (tpgid) -1, 20 (threads) 3, and the mm fields. */
static void stat_text(char *out, size_t len, const char *comm, int nfields)
{
	size_t n = (size_t)snprintf(out, len, "4242 (%s) S", comm);

	for (int i = 4; i <= nfields; i++) {
		long long v = 1000 + i;

		if (i == 8)
			v = -1;
		else if (i == 20)
			v = 3;
		else if (i >= 26 && i <= 28)
			v = 0x55d0c0000000ll + i * 0x1000;
		else if (i >= 45 && i <= 51)
			v = 0x7ffd00000000ll + i * 0x1000;
		n += (size_t)snprintf(out + n, len - n, " %lld", v);
	}
	snprintf(out + n, len - n, "\n");
}

static void stat_fields(void **state)
{
	static const char *comms[] = { "cat", "my prog", "a) (b", ") S 1 2 3 )", "x)", "" };
	struct proc_stat st;
	char text[2048];

	(void)state;
	for (size_t c = 0; c < sizeof(comms) / sizeof(comms[0]); c++) {
		for (int nf = 51; nf <= 52; nf++) {
			memset(&st, 0, sizeof(st));
			stat_text(text, sizeof(text), comms[c], nf);
			if (proc_stat_parse(text, &st) != 0)
				fail_msg("\"%s\": %s", text, err_last());
			assert_int_equal(st.state, 'S');
			assert_int_equal(st.threads, 3);
			assert_int_equal(st.start_code, 0x55d0c0000000ull + 26 * 0x1000);
			assert_int_equal(st.end_code, 0x55d0c0000000ull + 27 * 0x1000);
			assert_int_equal(st.start_stack, 0x55d0c0000000ull + 28 * 0x1000);
			assert_int_equal(st.start_data, 0x7ffd00000000ull + 45 * 0x1000);
			assert_int_equal(st.end_data, 0x7ffd00000000ull + 46 * 0x1000);
			assert_int_equal(st.start_brk, 0x7ffd00000000ull + 47 * 0x1000);
			assert_int_equal(st.arg_start, 0x7ffd00000000ull + 48 * 0x1000);
			assert_int_equal(st.arg_end, 0x7ffd00000000ull + 49 * 0x1000);
			assert_int_equal(st.env_start, 0x7ffd00000000ull + 50 * 0x1000);
			assert_int_equal(st.env_end, 0x7ffd00000000ull + 51 * 0x1000);
		}
	}
	/* our own, from the kernel */
	assert_int_equal(proc_stat_read(getpid(), &st), 0);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.threads, 1);
	assert_true(st.start_stack > st.start_code);
	assert_true(st.arg_start < st.arg_end && st.arg_end <= st.env_start);
	assert_true(st.env_start < st.env_end);
}

static void stat_malformed(void **state)
{
	char text[2048];
	struct proc_stat st;

	(void)state;
	for (int nf = 3; nf <= 50; nf++) {
		stat_text(text, sizeof(text), "a) b", nf);
		err_clear();
		if (proc_stat_parse(text, &st) != -EINVAL)
			fail_msg("%d fields accepted", nf);
		assert_true(strlen(err_last()) > 0);
	}
	has("stat: ");
	assert_int_equal(proc_stat_parse("", &st), -EINVAL);
	assert_int_equal(proc_stat_parse("4242 (cat S 1 2 3", &st), -EINVAL);
	assert_int_equal(proc_stat_parse("4242 (cat)", &st), -EINVAL);
	assert_int_equal(proc_stat_parse("4242 (cat) ", &st), -EINVAL);
	assert_int_equal(proc_stat_parse("4242 (cat)S 1", &st), -EINVAL);
	/* a field that is not a number */
	stat_text(text, sizeof(text), "cat", 52);
	memcpy(strstr(text, " 1030 "), " 10x0 ", 6);
	assert_int_equal(proc_stat_parse(text, &st), -EINVAL);
	has("field");
	/* a lone '-' is not a number either */
	stat_text(text, sizeof(text), "cat", 52);
	memcpy(strstr(text, " 1030 "), " -    ", 6);
	assert_int_equal(proc_stat_parse(text, &st), -EINVAL);
	assert_int_equal(proc_stat_parse("1 (x) S 1 -\n", &st), -EINVAL);
	assert_int_equal(proc_stat_parse("1 (x) S 1 - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -", &st), -EINVAL);
}

/* ---- fdinfo and status ---- */

static void fdinfo(void **state)
{
	uint64_t pos = 1;
	uint32_t flags = 1;

	(void)state;
	assert_int_equal(proc_fdinfo_parse("pos:\t4096\nflags:\t02100002\nmnt_id:\t29\nino:\t1311\n",
					   &pos, &flags), 0);
	assert_int_equal(pos, 4096);
	assert_int_equal(flags, 02100002);
	assert_int_equal(proc_fdinfo_parse("pos:\t18446744073709551615\nflags:\t0100000\n", &pos, &flags), 0);
	assert_int_equal(pos, UINT64_MAX);
	assert_int_equal(flags, 0100000);
	assert_int_equal(proc_fdinfo_parse("pos:\t0\nflags:\t00\n", &pos, &flags), 0);
	assert_int_equal(pos, 0);
	assert_int_equal(flags, 0);
	assert_int_equal(proc_fdinfo_parse("pos:\t12\nmnt_id:\t29\n", &pos, &flags), -EINVAL);
	has("fdinfo");
	assert_int_equal(proc_fdinfo_parse("flags:\t02\n", &pos, &flags), -EINVAL);
	assert_int_equal(proc_fdinfo_parse("", &pos, &flags), -EINVAL);
}

static void status(void **state)
{
	char want[32], out[64], small[4];
	size_t n;

	(void)state;
	snprintf(want, sizeof(want), "%d", getpid());
	assert_int_equal(proc_status_field(getpid(), "Pid", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(proc_status_field(getpid(), "Tgid", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	snprintf(want, sizeof(want), "%d", getppid());
	assert_int_equal(proc_status_field(getpid(), "PPid", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(proc_read_file("/proc/self/comm", want, sizeof(want), &n), 0);
	want[n - 1] = '\0';	/* the newline */
	assert_int_equal(proc_status_field(getpid(), "Name", out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(proc_status_field(getpid(), "Threads", out, sizeof(out)), 0);
	assert_string_equal(out, "1");
	/* a prefix of a key is not the key */
	assert_int_equal(proc_status_field(getpid(), "Pi", out, sizeof(out)), -ENOENT);
	assert_int_equal(proc_status_field(getpid(), "No-Such-Field", out, sizeof(out)), -ENOENT);
	has("no field No-Such-Field");
	assert_int_equal(proc_status_field(getpid(), "Tgid", small, sizeof(small)), 0);
	assert_int_equal(strlen(small), strlen(want) < 3 ? strlen(want) : 3);
	assert_int_equal(proc_status_field(999999999, "Pid", out, sizeof(out)), -ENOENT);
}

/* ---- snapshot metadata ---- */

static unsigned char xsave[576];
static const uint64_t auxv[4] = { 6, 4096, 0, 0 };	/* AT_PAGESZ, AT_NULL */

static void sample_snap(struct snap *s)
{
	struct rec_vma v = { 0 };
	struct rec_file o = { 0 };
	struct rec_rseq rs = { .tid = 4242, .len = 32, .addr = 0x7ffff7d8a000, .sig = 0x53053053 };
	struct snap_thread *t;

	snap_init(s);
	s->proc.pid = 4242;
	s->proc.nthreads = 1;
	s->proc.umask = 022;
	s->proc.exe.size = 35280;
	s->proc.exe.mtime_sec = 1700000000;
	s->proc.exe.mtime_nsec = 123;
	s->proc.cwd.ino = 77;
	s->creds = (struct rec_creds){ 1000, 1001, 1002, 1003, 100, 101, 102, 103, 2, 0 };
	s->groups = malloc(2 * sizeof(*s->groups));
	s->groups[0] = 24;
	s->groups[1] = 27;
	s->comm = strdup("cat x");
	s->exe = strdup("/usr/bin/cat");
	s->cwd = strdup("/tmp/a dir");
	s->mm.start_code = 0x555555554000;
	s->mm.brk = 0x555555600000;
	s->mm.auxv_len = sizeof(auxv);
	s->auxv = malloc(sizeof(auxv));
	memcpy(s->auxv, auxv, sizeof(auxv));
	for (int i = 0; i < REC_NLIMITS; i++) {
		s->rlim.cur[i] = (uint64_t)i * 10;
		s->rlim.max[i] = UINT64_MAX;
	}

	s->sig.act[1].handler = 0x555555555123;
	s->sig.act[1].flags = 0x04000000;
	s->sig.itimer[0][3] = 500000;
	/* stdio: fds 0 and 1 share one (a terminal); 3 and 4 one file */
	o.kind = FD_STDIO;
	assert_int_equal(files_add(s, &o, ""), 0);
	o.id = 1;
	o.kind = FD_FILE;
	o.flags = O_RDWR | O_APPEND;
	o.pos = 17;
	o.file_flags = FDF_PSEUDO;
	o.ident.dev = 0x803;
	o.ident.ino = 12345;
	o.ident.mtime_nsec = 999;
	assert_int_equal(files_add(s, &o, "/etc/pass wd"), 0);
	assert_int_equal(files_add_fd(s, &(struct rec_fd){ .fd = 0, .file = 0 }), 0);
	assert_int_equal(files_add_fd(s, &(struct rec_fd){ .fd = 1, .file = 0 }), 0);
	assert_int_equal(files_add_fd(s, &(struct rec_fd){ .fd = 4, .file = 1, .cloexec = 1 }), 0);
	assert_int_equal(files_add_fd(s, &(struct rec_fd){ .fd = 3, .file = 1 }), 0);
	v.start = 0x555555554000;
	v.end = 0x555555556000;
	v.prot = PROT_READ | PROT_EXEC;
	v.flags = VMA_FILE;
	assert_int_equal(snap_add_vma(s, &v, "/usr/bin/cat"), 0);
	v.start = 0x555555600000;
	v.end = 0x555555621000;
	v.prot = PROT_READ | PROT_WRITE;
	v.flags = VMA_HEAP;
	assert_int_equal(snap_add_vma(s, &v, "[heap]"), 0);
	v.start = 0x7ffffffde000;
	v.end = 0x7ffffffff000;
	v.flags = VMA_STACK;
	assert_int_equal(snap_add_vma(s, &v, "[stack]"), 0);
	t = snap_add_thread(s);
	t->r.tid = 4242;
	t->r.blocked = 1ull << 9;
	t->r.regs.rip = 0x555555554abc;
	t->r.regs.rsp = 0x7fffffffe000;
	t->r.xcr0 = 7;
	t->r.xsave_size = sizeof(xsave);
	for (size_t i = 0; i < sizeof(xsave); i++)
		xsave[i] = (unsigned char)i;
	t->xsave = malloc(sizeof(xsave));
	memcpy(t->xsave, xsave, sizeof(xsave));
	assert_int_equal(snap_take(s, REC_RSEQ, (const void *)&rs, sizeof(rs), 0), 0);
}

/* The records of s, in order, as a stream in m. */
static void write_sample(struct mem *m, struct snap *s)
{
	struct rec_writer w = { &m->l, 0, 0 };

	mem_init(m);
	assert_int_equal(snap_write_meta(s, &w), 0);
	assert_int_equal(rec_write_end(&w), 0);
}

/* Takes the records of m into s, skipping type skip; returns the order in
 * which types came in types[]. */
static int take_all(struct mem *m, struct snap *s, uint32_t skip, uint32_t *types, size_t *n)
{
	struct rec_reader r;
	const unsigned char *p;
	uint32_t type;
	size_t len;
	int rc;

	m->pos = 0;
	snap_init(s);
	assert_int_equal(rec_reader_init(&r, &m->l), 0);
	*n = 0;
	while ((rc = rec_read(&r, &type, &p, &len)) == 1) {
		if (type == REC_END)
			continue;
		types[(*n)++] = type;
		if (type == skip)
			continue;
		rc = snap_take(s, type, p, len, 0);
		if (rc)
			break;
	}
	rec_reader_free(&r);
	return rc;
}

static void snap_round_trip(void **state)
{
	static const uint32_t order[] = {
		REC_PROC, REC_CREDS, REC_MM, REC_FILE, REC_FILE, REC_FD, REC_FD, REC_FD, REC_FD,
		REC_RLIMITS, REC_VMA, REC_VMA, REC_VMA, REC_SIGNALS, REC_THREAD, REC_RSEQ,
	};
	struct snap a, b;
	struct mem m;
	uint32_t types[32];
	size_t n;

	(void)state;
	sample_snap(&a);
	write_sample(&m, &a);
	assert_int_equal(take_all(&m, &b, 0, types, &n), 0);
	assert_int_equal(n, sizeof(order) / sizeof(order[0]));
	assert_memory_equal(types, order, sizeof(order));
	assert_int_equal(snap_check(&b, 1), 0);
	assert_int_equal(b.proc.pid, 4242);
	assert_int_equal(b.proc.umask, 022);
	assert_memory_equal(&b.proc.exe, &a.proc.exe, sizeof(a.proc.exe));
	assert_int_equal(b.proc.cwd.ino, 77);
	assert_memory_equal(&b.creds, &a.creds, sizeof(a.creds));
	assert_int_equal(b.groups[0], 24);
	assert_int_equal(b.groups[1], 27);
	assert_int_equal(b.nfiles, 2);
	assert_memory_equal(&b.files[1].r, &a.files[1].r, sizeof(a.files[1].r));
	assert_int_equal(b.files[1].r.file_flags, FDF_PSEUDO);
	assert_int_equal(b.files[1].nrefs, 2);
	assert_int_equal(b.files[1].first_fd, 3);
	assert_int_equal(b.proc.comm_len, 5);
	assert_string_equal(b.comm, "cat x");
	assert_string_equal(b.exe, "/usr/bin/cat");
	assert_string_equal(b.cwd, "/tmp/a dir");
	assert_memory_equal(&b.mm, &a.mm, sizeof(a.mm));
	assert_memory_equal(b.auxv, auxv, sizeof(auxv));
	assert_memory_equal(&b.rlim, &a.rlim, sizeof(a.rlim));
	assert_memory_equal(&b.sig, &a.sig, sizeof(a.sig));
	assert_int_equal(b.nfds, 4);
	assert_memory_equal(b.fds, a.fds, 4 * sizeof(*a.fds));
	assert_int_equal(b.fds[2].fd, 4);
	assert_int_equal(b.fds[2].file, 1);
	assert_int_equal(b.fds[2].cloexec, 1);
	assert_int_equal(b.files[1].r.pos, 17);
	assert_int_equal(b.files[1].r.flags, O_RDWR | O_APPEND);
	assert_string_equal(b.files[0].path, "");
	assert_string_equal(b.files[1].path, "/etc/pass wd");
	assert_int_equal(b.nvmas, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_memory_equal(&b.vmas[i].r, &a.vmas[i].r, sizeof(a.vmas[i].r));
		assert_string_equal(b.vmas[i].name, a.vmas[i].name);
	}
	assert_int_equal(b.nthreads, 1);
	assert_memory_equal(&b.threads[0].r, &a.threads[0].r, sizeof(a.threads[0].r));
	assert_memory_equal(b.threads[0].xsave, xsave, sizeof(xsave));
	assert_int_equal(b.nrec[KIND_RSEQ], 1);
	assert_non_null(b.kind[KIND_RSEQ]);
	snap_free(&b);

	/* without rseq: no rseq record, and none is made up */
	free(a.kind[KIND_RSEQ]);
	a.kind[KIND_RSEQ] = NULL;
	free(m.buf);
	write_sample(&m, &a);
	assert_int_equal(take_all(&m, &b, 0, types, &n), 0);
	assert_int_equal(n, sizeof(order) / sizeof(order[0]) - 1);
	assert_null(b.kind[KIND_RSEQ]);
	snap_free(&b);
	free(m.buf);

	/* a name too long for its length field is refused, not cut */
	free(a.comm);
	a.comm = malloc(65536 + 3);
	memset(a.comm, 'c', 65536 + 2);
	a.comm[65536 + 2] = '\0';
	{
		struct rec_writer w = { &m.l, 0, 0 };

		mem_init(&m);
		assert_int_equal(snap_write_meta(&a, &w), -ENAMETOOLONG);
		assert_int_equal(m.len, 0);
		free(m.buf);
	}
	snap_free(&a);
}

static void snap_missing(void **state)
{
	static const struct { uint32_t type; const char *msg; } need[] = {
		{ REC_PROC, "proc record missing" },
		{ REC_MM, "mm record missing" },
		{ REC_SIGNALS, "signals record missing" },
		{ REC_THREAD, "thread record missing" },
		{ REC_CREDS, "creds record missing" },
		{ REC_RLIMITS, "rlimits record missing" },
		{ REC_VMA, "vma record missing" },
	};
	struct snap a, b;
	struct mem m;
	uint32_t types[32];
	size_t n;

	(void)state;
	sample_snap(&a);
	write_sample(&m, &a);
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		assert_int_equal(take_all(&m, &b, need[i].type, types, &n), 0);
		assert_int_equal(snap_check(&b, 1), -EBADMSG);
		has("incomplete snapshot");
		has(need[i].msg);
		snap_free(&b);
	}
	/* a file no fd refers to, an fd of a file never described */
	assert_int_equal(take_all(&m, &b, REC_FD, types, &n), 0);
	assert_int_equal(snap_check(&b, 1), -EBADMSG);
	has("file 0: no fd refers to it");
	snap_free(&b);
	assert_int_equal(take_all(&m, &b, REC_FILE, types, &n), -EBADMSG);
	has("fd 0: refers to file 0, not described before it");
	snap_free(&b);
	/* rseq is optional */
	assert_int_equal(take_all(&m, &b, REC_RSEQ, types, &n), 0);
	assert_int_equal(snap_check(&b, 1), 0);
	snap_free(&b);
	/* an empty snapshot: the first missing one is named */
	snap_init(&b);
	assert_int_equal(snap_check(&b, 1), -EBADMSG);
	has("proc record missing");
	free(m.buf);
	snap_free(&a);
}

/* Feeds snap_take one record built from a fixed part and a tail. */
static int take(struct snap *s, uint32_t type, const void *head, size_t hlen,
		const void *tail, size_t tlen)
{
	unsigned char buf[8192];
	int rc;

	assert_true(hlen + tlen <= sizeof(buf));
	memcpy(buf, head, hlen);
	if (tlen)
		memcpy(buf + hlen, tail, tlen);
	err_clear();
	rc = snap_take(s, type, buf, hlen + tlen, 0);
	if (rc < 0)
		assert_true(strstr(err_last(), rec_type_name(type)) != NULL);
	return rc;
}

static void snap_bad_proc_mm(void **state)
{
	struct rec_proc p = { .pid = 1, .nthreads = 1, .comm_len = 3, .exe_len = 4, .cwd_len = 1 };
	struct rec_mm mm = { .auxv_len = 32 };
	unsigned char aux[4200] = { 0 };
	struct snap s;

	(void)state;
	snap_init(&s);
	/* string lengths that do not add up to the record */
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/", 7), -EBADMSG);
	has("bad strings");
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/x", 9), -EBADMSG);
	has("bad strings");
	p.comm_len = 0xffff;
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/", 8), -EBADMSG);
	p.comm_len = 3;
	p.cwd_len = 0xffff;
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/", 8), -EBADMSG);
	p.cwd_len = 1;
	/* a NUL inside a string */
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "c\0t/bin/", 8), -EBADMSG);
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin\0", 8), -EBADMSG);
	assert_int_equal(s.nrec[KIND_TASK], 0);
	/* shorter than its fixed part */
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/", 8), 0);
	assert_string_equal(s.comm, "cat");
	assert_string_equal(s.exe, "/bin");
	assert_string_equal(s.cwd, "/");
	assert_int_equal(take(&s, REC_PROC, &p, sizeof(p), "cat/bin/", 8), -EBADMSG);
	has("more than one");

	/* auxv: length must match the record, be whole pairs, and small */
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 16), -EBADMSG);
	has("bad auxv length");
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 48), -EBADMSG);
	mm.auxv_len = 24;
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 24), -EBADMSG);
	mm.auxv_len = 4112;
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 4112), -EBADMSG);
	mm.auxv_len = 0xffffffffu;
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 16), -EBADMSG);
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm) - 8, NULL, 0), -EBADMSG);
	assert_int_equal(s.nrec[KIND_MM], 0);
	mm.auxv_len = 32;
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 32), 0);
	assert_int_equal(take(&s, REC_MM, &mm, sizeof(mm), aux, 32), -EBADMSG);
	has("more than one");

	/* fixed-size records shorter than their size */
	assert_int_equal(take(&s, REC_RLIMITS, aux, sizeof(struct rec_rlimits) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_SIGNALS, aux, sizeof(struct rec_signals) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_THREAD, aux, sizeof(struct rec_thread) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_RSEQ, aux, sizeof(struct rec_rseq) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(s.nrec[KIND_RLIMITS] + s.nrec[KIND_SIGNALS] + s.nrec[KIND_THREAD] + s.nrec[KIND_RSEQ], 0);
	/* unknown types are the caller's to skip */
	assert_int_equal(take(&s, 0x777, aux, 3, NULL, 0), 1);
	snap_free(&s);
}

static void snap_bad_vma_fd_xstate(void **state)
{
	struct rec_vma v = { .start = 0x10000, .end = 0x12000, .prot = PROT_READ, .name_len = 6 };
	struct rec_file o = { .id = 0, .kind = FD_FILE, .path_len = 4 };
	struct rec_fd f = { .fd = 3, .file = 0 };
	struct rec_thread x = { .tid = 7, .xcr0 = 7, .xsave_size = 576 };
	static unsigned char area[65536 + 16];
	struct snap s;

	(void)state;
	snap_init(&s);
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), 0);
	/* overlapping, out of order */
	v.start = 0x11000;
	v.end = 0x13000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	has("out of order or overlapping");
	v.start = 0x8000;
	v.end = 0x9000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	has("out of order or overlapping");
	v.start = 0x10000;
	v.end = 0x12000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	/* misaligned, empty, backwards, bad prot, bad name length */
	v.start = 0x12800;
	v.end = 0x13000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	has("malformed");
	v.start = 0x12000;
	v.end = 0x13001;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	v.end = 0x12000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	v.end = 0x11000;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	v.end = 0x13000;
	v.prot = 8;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	v.prot = PROT_READ;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 5), -EBADMSG);
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]x", 7), -EBADMSG);
	v.name_len = 0xffffffffu;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), -EBADMSG);
	v.name_len = 6;
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[he\0p]", 6), -EBADMSG);
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(s.nvmas, 1);
	/* touching the previous one is fine */
	assert_int_equal(take(&s, REC_VMA, &v, sizeof(v), "[heap]", 6), 0);
	assert_int_equal(s.nvmas, 2);

	/* files: ids in order, bounded paths, known kinds and flags */
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/etc", 4), 0);
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/etc", 4), -EBADMSG);
	has("file 0: ids out of order (1 expected)");
	o.id = 2;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/etc", 4), -EBADMSG);
	has("ids out of order");
	o.id = 1;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tm", 3), -EBADMSG);
	has("malformed");
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmpx", 5), -EBADMSG);
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/t\0p", 4), -EBADMSG);
	o.path_len = SNAP_PATH_MAX;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), NULL, 0), -EBADMSG);
	has("path too long");
	o.path_len = 4;
	o.kind = 0;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmp", 4), -EBADMSG);
	o.kind = FD_KIND_MAX + 1;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmp", 4), -EBADMSG);
	has("an unknown kind of file");
	o.kind = FD_DIR;
	o.file_flags = 4;	/* unknown flag */
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmp", 4), -EBADMSG);
	o.file_flags = FDF_PROC_SELF;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o) - 1, NULL, 0), -EBADMSG);
	has("too short");
	assert_int_equal(s.nfiles, 1);
	/* the restore puts the copy's PID in place of the original's */
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmp", 4), -EBADMSG);
	has("not under /proc/PID");
	o.path_len = 7;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/proc/1", 7), 0);
	o.path_len = 4;
	o.file_flags = 0;
	o.id = 2;
	o.kind = FD_STDIO;
	assert_int_equal(take(&s, REC_FILE, &o, sizeof(o), "/tmp", 4), 0);
	assert_int_equal(s.nfiles, 3);

	/* fds: references to files described before, bounded numbers, once */
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), 0);
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	has("fd 3 appears twice");
	f.fd = 4;
	f.file = 3;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	has("fd 4: refers to file 3, not described before it");
	f.file = 0xffffffffu;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	f.file = 2;		/* a standard stream above 2 */
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	has("fd 4: a standard stream's file above fd 2");
	f.file = 1;
	f.cloexec = 2;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	has("malformed");
	f.cloexec = 1;
	f.pad = 1;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	f.pad = 0;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f) - 1, NULL, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), "x", 1), -EBADMSG);
	f.fd = -1;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	f.fd = SNAP_FD_MAX;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), -EBADMSG);
	has("fd 1048576 is out of range");
	assert_int_equal(s.nfds, 1);
	assert_int_equal(files_check(&s), -EBADMSG);
	has("file 1: no fd refers to it");
	f.fd = SNAP_FD_MAX - 1;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), 0);
	f.fd = 2;
	f.file = 2;
	assert_int_equal(take(&s, REC_FD, &f, sizeof(f), NULL, 0), 0);
	assert_int_equal(s.nfds, 3);
	assert_int_equal(s.files[1].first_fd, SNAP_FD_MAX - 1);
	assert_int_equal(files_check(&s), 0);

	/* thread: the xsave size must match, hold the legacy area and
	 * header; one record per tid */
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 575), -EBADMSG);
	has("bad xsave size");
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 577), -EBADMSG);
	x.xsave_size = 512;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 512), -EBADMSG);
	x.xsave_size = 65536 + 16;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 0), -EBADMSG);
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x) - 1, NULL, 0), -EBADMSG);
	x.xsave_size = 2696;
	x.tid = 0;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	x.tid = 7;
	x.flags = 1;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	x.flags = 0;
	/* a name without its terminating NUL, a robust list of the wrong
	 * length or half of one */
	memset(x.comm, 'a', sizeof(x.comm));
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	x.comm[sizeof(x.comm) - 1] = '\0';
	x.robust_list = 0x7f0000001000;
	x.robust_len = 16;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	x.robust_len = 0;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	x.robust_list = 0;
	x.robust_len = 24;
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	has("malformed");
	x.robust_list = 0x7f0000001000;
	assert_int_equal(s.nthreads, 0);
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), 0);
	assert_int_equal(s.nthreads, 1);
	assert_int_equal(take(&s, REC_THREAD, &x, sizeof(x), area, 2696), -EBADMSG);
	has("thread 7 twice");

	/* creds: the group count must match the payload and stay bounded */
	{
		struct rec_creds c = { .uid = 1000, .ngroups = 2 };
		uint32_t g[3] = { 1, 2, 3 };

		assert_int_equal(take(&s, REC_CREDS, &c, sizeof(c), g, 12), -EBADMSG);
		has("bad group count");
		assert_int_equal(take(&s, REC_CREDS, &c, sizeof(c), g, 4), -EBADMSG);
		c.ngroups = REC_NGROUPS_MAX + 1;
		assert_int_equal(take(&s, REC_CREDS, &c, sizeof(c), g, 12), -EBADMSG);
		c.ngroups = 3;
		assert_int_equal(take(&s, REC_CREDS, &c, sizeof(c), g, 12), 0);
		assert_int_equal(s.groups[2], 3);
		assert_int_equal(take(&s, REC_CREDS, &c, sizeof(c), g, 12), -EBADMSG);
		has("more than one");
	}
	snap_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maps_lines),
		cmocka_unit_test(maps_malformed),
		cmocka_unit_test(smaps_flags),
		cmocka_unit_test(stat_fields),
		cmocka_unit_test(stat_malformed),
		cmocka_unit_test(fdinfo),
		cmocka_unit_test(status),
		cmocka_unit_test(snap_round_trip),
		cmocka_unit_test(snap_missing),
		cmocka_unit_test(snap_bad_proc_mm),
		cmocka_unit_test(snap_bad_vma_fd_xstate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
