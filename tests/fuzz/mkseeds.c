/* mkseeds.c: writes the fuzz seeds, one small snapshot stream for every
 * compression and every cipher (encrypted with the test key of fuzz.h).
 *
 *	mkseeds DIR [KEYDIR]
 *
 * With KEYDIR, the test key is also written there, as pthaw -keydir finds
 * it.
 * The snapshot is this program's own state as pfrez would record it
 * (mappings, mm fields, auxv, limits), with a few pages and every record
 * type, so that pthaw's checks before pload all pass on this machine. */
#include "fuzz.h"

#include "compress.h"
#include "crc32c.h"
#include "crypt.h"
#include "err.h"
#include "header.h"
#include "proc.h"
#include "record.h"
#include "snap.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int add_vma(struct snap *s, const struct vma *v)
{
	struct rec_vma r = { .start = v->start, .end = v->end, .pgoff = v->pgoff, .prot = v->prot };
	struct stat sb;

	if (v->shared)
		r.flags |= VMA_SHARED;
	if (strcmp(v->path, "[vdso]") == 0) {
		r.flags |= VMA_VDSO;
		r.content_crc = crc32c(0, (const void *)v->start, v->end - v->start);
	} else if (strcmp(v->path, "[vvar]") == 0) {
		r.flags |= VMA_VVAR;
	} else if (strcmp(v->path, "[vvar_vclock]") == 0) {
		r.flags |= VMA_VVAR_VCLOCK;
	} else if (strcmp(v->path, "[vsyscall]") == 0) {
		r.flags |= VMA_VSYSCALL;
	} else if (strcmp(v->path, "[stack]") == 0) {
		r.flags |= VMA_STACK;
	} else if (strcmp(v->path, "[heap]") == 0) {
		r.flags |= VMA_HEAP;
	} else if (v->path[0] == '/' && stat(v->path, &sb) == 0 && S_ISREG(sb.st_mode)) {
		r.flags |= VMA_FILE;
		r.file_size = (uint64_t)sb.st_size;
		r.mtime_sec = sb.st_mtim.tv_sec;
		r.mtime_nsec = (uint32_t)sb.st_mtim.tv_nsec;
		/* This program is rebuilt: its pages travel, as with
		 * -self-contained; the libraries are checked by name. */
		if (strncmp(v->path, "/usr/", 5) != 0 && strncmp(v->path, "/lib", 4) != 0)
			r.flags |= VMA_EMBED;
	} else if (v->path[0] == '/' || (v->path[0] == '[' && strncmp(v->path, "[anon:", 6) != 0)) {
		return 0;	/* what pfrez would refuse */
	}
	return snap_add_vma(s, &r, v->path);
}

static int build_snap(struct snap *s, uint64_t *page_at)
{
	struct rec_file file = { .kind = FD_STDIO, .flags = O_RDWR, .mode = S_IFCHR | 0620 };
	struct rec_siginfo si = { .shared = 1 };
	int32_t signo = SIGUSR1;
	char exe[4096] = "";
	struct proc_stat st;
	struct vma *m;
	size_t n, auxv_len;
	int ngroups, rc;
	struct snap_thread *t;
	struct rec_rseq rs;
	struct stat sb;

	snap_init(s);
	s->proc.pid = (uint32_t)getpid();
	s->proc.nthreads = 1;
	s->proc.umask = 022;
	if (readlink("/proc/self/exe", exe, sizeof(exe) - 1) < 0)
		return err_sys(errno, "/proc/self/exe");
	s->comm = strdup("mkseeds");
	s->exe = strdup(exe);
	s->cwd = strdup("/");
	/* as pfrez records them: pthaw checks the working directory */
	if (stat("/", &sb) == 0)
		file_ident(&s->proc.cwd, &sb);
	if (stat(exe, &sb) == 0)
		file_ident(&s->proc.exe, &sb);
	rc = proc_stat_read(getpid(), &st);
	if (rc)
		return rc;
	s->mm = (struct rec_mm){ st.start_code, st.end_code, st.start_data, st.end_data,
				 st.start_brk, st.start_brk, st.start_stack, st.arg_start, st.arg_end,
				 st.env_start, st.env_end, 0, 0 };
	s->auxv = malloc(4096);
	if (!s->auxv)
		return -ENOMEM;
	rc = proc_read_file("/proc/self/auxv", s->auxv, 4096, &auxv_len);
	if (rc)
		return rc;
	s->mm.auxv_len = (uint32_t)(auxv_len & ~15u);
	for (int i = 0; i < REC_NLIMITS; i++) {
		struct rlimit rl;

		getrlimit(i, &rl);
		s->rlim.cur[i] = rl.rlim_cur;
		s->rlim.max[i] = rl.rlim_max;
	}
	s->sig.act[SIGPIPE - 1].handler = 1;	/* SIG_IGN */
	s->sig.act[SIGUSR1 - 1] = (struct rec_sigaction){ 0x401000, 0x04000000, 0x401100, 0 };
	/* One terminal at 0, 1 and 2; /etc/passwd at 3 and 5 (dup'd);
	 * the root directory at 4. */
	if ((rc = files_add(s, &file, "/dev/pts/0")))
		return rc;
	file = (struct rec_file){ .id = 1, .kind = FD_FILE, .flags = O_RDONLY, .pos = 10,
				  .mode = S_IFREG | 0644 };
	/* as pfrez records them: pthaw checks they are the files here */
	if (stat("/etc/passwd", &sb) < 0)
		return err_sys(errno, "/etc/passwd");
	file_ident(&file.ident, &sb);
	if ((rc = files_add(s, &file, "/etc/passwd")))
		return rc;
	file = (struct rec_file){ .id = 2, .kind = FD_DIR, .flags = O_RDONLY | O_DIRECTORY,
				  .mode = S_IFDIR | 0755 };
	if (stat("/", &sb) < 0)
		return err_sys(errno, "/");
	file_ident(&file.ident, &sb);
	if ((rc = files_add(s, &file, "/")))
		return rc;
	for (int fd = 0; fd <= 5; fd++) {
		struct rec_fd d = { .fd = fd, .file = fd < 3 ? 0 : fd == 4 ? 2 : 1, .cloexec = fd == 3 };

		if ((rc = files_add_fd(s, &d)))
			return rc;
	}
	rc = maps_read(getpid(), &m, &n);
	if (rc)
		return rc;
	*page_at = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		rc = add_vma(s, &m[i]);
		if (!*page_at && !m[i].path[0] && !m[i].shared && (m[i].prot & PROT_WRITE) &&
		    m[i].end - m[i].start >= 3 * REC_PAGE_SIZE)
			*page_at = m[i].start;
	}
	maps_free(m, n);
	if (rc)
		return rc;
	if (!*page_at)
		return err_msg(ENOENT, "no anonymous writable mapping of 3 pages");
	t = snap_add_thread(s);
	if (!t)
		return -ENOMEM;
	t->r.tid = s->proc.pid;
	t->r.ss_flags = SS_DISABLE;
	t->r.regs.rip = s->mm.start_code;
	t->r.regs.rsp = s->mm.start_stack;
	t->r.regs.cs = 0x33;
	t->r.regs.ss = 0x2b;
	t->r.regs.eflags = 0x246;
	t->r.xcr0 = 3;
	t->r.xsave_size = 576;
	t->xsave = calloc(1, t->r.xsave_size);
	if (!t->xsave)
		return -ENOMEM;
	s->creds = (struct rec_creds){ getuid(), geteuid(), getuid(), geteuid(),
				       getgid(), getegid(), getgid(), getegid(), 0, 0 };
	ngroups = getgroups(0, NULL);
	s->groups = calloc(ngroups > 0 ? (size_t)ngroups : 1, sizeof(*s->groups));
	if (!s->groups || (ngroups > 0 && getgroups(ngroups, (gid_t *)s->groups) != ngroups))
		return err_sys(errno, "getgroups");
	s->creds.ngroups = ngroups > 0 ? (uint32_t)ngroups : 0;
	rs = (struct rec_rseq){ .tid = s->proc.pid, .addr = *page_at + 64, .len = 32, .sig = 0x53053053 };
	rc = snap_take(s, REC_RSEQ, (const void *)&rs, sizeof(rs), 0);
	if (rc)
		return rc;
	memcpy(si.info, &signo, sizeof(signo));
	return snap_add_pending(s, &si);
}

static int write_key(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, FUZZ_KEYNAME);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, FUZZ_KEY, FUZZ_KEYLEN) != FUZZ_KEYLEN)
		return err_sys(errno, "%s", path);
	close(fd);
	return 0;
}

/* One stream: header, metadata, a page of data and two of zeros, end. */
static int write_seed(const char *path, struct snap *s, uint64_t page_at, int algo,
		      enum crypt_mode mode)
{
	struct stream_cfg cfg = { .algo = algo, .level = COMPRESS_LEVEL_DEFAULT, .mode = mode,
				  .keyname = FUZZ_KEYNAME, .keylen = FUZZ_KEYLEN };
	unsigned char page[REC_PAGE_SIZE];
	struct rec_pages data = { .addr = page_at, .npages = 1 };
	struct rec_pages zero = { .addr = page_at + REC_PAGE_SIZE, .npages = 2, .flags = PAGES_ZERO };
	struct rec_writer w = { 0 };
	struct layer *bottom, *top;
	struct header h;
	int fd, rc;

	memcpy(cfg.key, FUZZ_KEY, FUZZ_KEYLEN);
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i % 251 < 200 ? 'a' + i % 26 : i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_sys(errno, "%s", path);
	bottom = layer_fd_open(fd, 1);
	if (!bottom) {
		close(fd);
		return err_sys(ENOMEM, "%s", path);
	}
	/* The fields of stream_header_basics(), but with the features every
	 * x86-64 has: the seeds must pass the CPU check anywhere, valgrind's
	 * CPU included. */
	hdr_init(&h);
	rc = hdr_set(&h, "arch", "x86_64");
	if (!rc)
		rc = hdr_set(&h, "kernel", "fuzz");
	if (!rc)
		rc = hdr_set(&h, "xsave-features", "0x3");
	if (!rc)
		rc = hdr_set(&h, "xsave-size", "576");
	if (!rc)
		rc = stream_writer_open(bottom, &cfg, &h, &top);
	else
		top = bottom;
	w.out = top;
	if (!rc)
		rc = snap_write_meta(s, &w);
	if (!rc)
		rc = rec_write(&w, REC_PAGES, &data, sizeof(data), page, sizeof(page));
	if (!rc)
		rc = rec_write(&w, REC_PAGES, &zero, sizeof(zero), NULL, 0);
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
	struct snap s;
	uint64_t page_at;
	int rc;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: mkseeds DIR [KEYDIR]\n");
		return 2;
	}
	rc = build_snap(&s, &page_at);
	if (!rc && argc == 3)
		rc = write_key(argv[2]);
	for (int a = 0; !rc && a < COMPRESS_NALGO; a++) {
		for (int c = CRYPT_NONE; !rc && c <= CRYPT_AES_GCM; c++) {
			char path[4096], mname[32];

			/* File names in lower case: "zstd-aes-gcm". */
			snprintf(mname, sizeof(mname), "%s", crypt_name((enum crypt_mode)c));
			for (char *p = mname; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
			snprintf(path, sizeof(path), "%s/%s-%s", argv[1], compress_name(a), mname);
			rc = write_seed(path, &s, page_at, a, (enum crypt_mode)c);
		}
	}
	snap_free(&s);
	if (rc) {
		fprintf(stderr, "mkseeds: %s\n", err_last());
		return 1;
	}
	return 0;
}
