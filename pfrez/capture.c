/* capture.c: attaches to a process and reads its state: registers,
 * extended state, signals (by system-call injection), mm fields, limits,
 * mappings and file descriptors. */
#include "capture.h"
#include "err.h"
#include "crc32c.h"
#include "header.h"
#include "inject.h"
#include "kind.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif

struct rseq_config {
	uint64_t addr;
	uint32_t len, sig, flags, pad;
};

static int count_threads(pid_t pid)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return err_sys(errno == ENOENT ? ESRCH : errno, "process %d", pid);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* The calls pfrez injects must be neither refused nor fatal: seccomp
 * strict mode allows none of them (refused here, before any runs), and
 * filters are suspended while pfrez holds the process
 * (PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN, as reading the filters
 * does; the kernel lifts it when pfrez detaches or dies).  The process
 * is stopped: its mode cannot change under us. */
static int hold_seccomp(pid_t pid)
{
	char v[16];

	if (proc_status_field(pid, "Seccomp", v, sizeof(v))) {
		err_clear();	/* a kernel without seccomp */
		return 0;
	}
	if (!strcmp(v, "1"))
		return err_msg(ENOTSUP, "process %d runs in seccomp strict mode: it may make no call but read, write, exit and sigreturn, so it cannot be captured",
			       pid);
	if (!strcmp(v, "2") &&
	    ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP) < 0)
		return err_msg(EPERM, "process %d has seccomp filters: capturing them needs CAP_SYS_ADMIN, and pfrez under no seccomp filter",
			       pid);
	return 0;
}

int capture_attach(struct capture *c, pid_t pid)
{
	struct proc_stat st;
	int n, rc;

	c->pid = pid;
	c->mem_fd = c->pagemap_fd = -1;
	if (pid <= 0)
		return err_msg(EINVAL, "-pid must name a process");
	if (pid == getpid())
		return err_msg(EINVAL, "process %d is pfrez itself", pid);
	rc = proc_stat_read(pid, &st);
	if (rc)
		return err_msg(ESRCH, "process %d: no such process", pid);
	if (st.state == 'Z' || st.state == 'X')
		return err_msg(ESRCH, "process %d is a zombie: nothing left to capture", pid);
	n = count_threads(pid);
	if (n < 0)
		return n;
	if (n > 1)
		return err_msg(ENOTSUP, "process %d has %d threads: only single-threaded processes can be captured yet",
			       pid, n);
	rc = ptrace_seize_stop(pid);
	if (rc)
		return rc;
	c->attached = 1;
	rc = hold_seccomp(pid);
	if (rc)
		return rc;
	/* A thread may have been started between the check and the stop. */
	n = count_threads(pid);
	if (n != 1)
		return err_msg(ENOTSUP, "process %d has %d threads: only single-threaded processes can be captured yet",
			       pid, n);
	return 0;
}

static int read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };

	if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)len)
		return err_sys(errno ? errno : EIO, "reading process %d at 0x%llx", pid,
			       (unsigned long long)addr);
	return 0;
}

/* The state only the process itself can report: asked for by running
 * system calls inside it (lib/inject.h says how that stays safe if pfrez
 * dies meanwhile), their answers written to the frame's scratch area. */
static int capture_injected(struct capture *c, struct inject_ctx *ctx)
{
	struct rec_signals *sig = &c->snap.sig;
	long scratch = (long)ctx->scratch, ret;
	int rc = 0;

	for (int i = 1; i <= 64 && !rc; i++) {
		long a[6] = { i, 0, scratch, 8 };

		if (i == SIGKILL || i == SIGSTOP)
			continue;
		rc = inject_query(ctx, SYS_rt_sigaction, a, &ret);
		if (!rc && ret == 0)
			rc = inject_read_scratch(ctx, &sig->act[i - 1], sizeof(sig->act[0]));
	}
	if (!rc)
		rc = inject_query(ctx, SYS_sigaltstack, (long[6]){ 0, scratch }, &ret);
	if (!rc && ret == 0) {
		struct { uint64_t sp; int32_t flags, pad; uint64_t size; } ss;

		rc = inject_read_scratch(ctx, &ss, sizeof(ss));
		sig->ss_sp = ss.sp;
		sig->ss_flags = ss.flags;
		sig->ss_size = ss.size;
	}
	for (int w = 0; w < 3 && !rc; w++) {
		rc = inject_query(ctx, SYS_getitimer, (long[6]){ w, scratch }, &ret);
		if (!rc && ret == 0)
			rc = inject_read_scratch(ctx, sig->itimer[w], sizeof(sig->itimer[w]));
	}
	if (!rc)
		rc = inject_query(ctx, SYS_prctl, (long[6]){ PR_GET_TID_ADDRESS, scratch }, &ret);
	if (!rc && ret == 0)
		rc = inject_read_scratch(ctx, &sig->clear_tid, sizeof(sig->clear_tid));
	if (!rc)
		rc = inject_query(ctx, SYS_brk, (long[6]){ 0 }, &ret);
	if (!rc)
		c->snap.mm.brk = (uint64_t)ret;
	return rc;
}

static int capture_regs(struct capture *c)
{
	struct snap *s = &c->snap;
	struct rseq_config rs;
	unsigned char *xbuf;
	struct iovec iov;

	if (ptrace(PTRACE_GETREGS, c->pid, 0, &c->regs) < 0)
		return err_sys(errno, "process %d: reading registers", c->pid);
	c->regs_saved = 1;
	memcpy(&s->regs, &c->regs, sizeof(s->regs));
	if (ptrace(PTRACE_GETSIGMASK, c->pid, sizeof(uint64_t), &c->sigmask) < 0)
		return err_sys(errno, "process %d: reading the signal mask", c->pid);
	s->sig.blocked = c->sigmask;
	xbuf = calloc(1, 65536);
	if (!xbuf)
		return err_sys(ENOMEM, "xstate");
	iov.iov_base = xbuf;
	iov.iov_len = 65536;
	if (ptrace(PTRACE_GETREGSET, c->pid, NT_X86_XSTATE, &iov) < 0) {
		free(xbuf);
		return err_sys(errno, "process %d: reading the extended (AVX) state", c->pid);
	}
	s->xsave = xbuf;
	s->xs.size = (uint32_t)iov.iov_len;
	s->xs.xcr0 = hdr_local_xcr0();
	memset(&rs, 0, sizeof(rs));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, c->pid, sizeof(rs), &rs) > 0 && rs.addr) {
		struct { uint32_t cpu_start, cpu; uint64_t cs; } area;
		struct { uint32_t version, flags; uint64_t start, post_commit, abort; } cs;

		s->has_rseq = 1;
		s->rseq.addr = rs.addr;
		s->rseq.len = rs.len;
		s->rseq.sig = rs.sig;
		s->rseq.flags = rs.flags;
		/* Stopped inside an rseq critical section: the kernel would
		 * move it to the abort handler on its way back to user mode;
		 * the restored copy must start there too.  So must the
		 * original: the injected calls return to user mode outside the
		 * section, where the kernel forgets it (clears rseq_cs), and
		 * registers put back inside it would let it commit. */
		if (read_remote(c->pid, rs.addr, &area, sizeof(area)) == 0 && area.cs &&
		    read_remote(c->pid, area.cs, &cs, sizeof(cs)) == 0 &&
		    s->regs.rip >= cs.start && s->regs.rip - cs.start < cs.post_commit) {
			s->regs.rip = cs.abort;
			c->regs.rip = cs.abort;
		}
		err_clear();
	}
	return 0;
}

/* Signals queued but not delivered (blocked ones, mostly): the copy must
 * find them pending too. */
static int capture_pending(struct capture *c)
{
	for (int shared = 0; shared <= 1; shared++) {
		struct __ptrace_peeksiginfo_args a = { 0, shared ? PTRACE_PEEKSIGINFO_SHARED : 0, 32 };
		siginfo_t si[32];

		for (;;) {
			long n = ptrace(PTRACE_PEEKSIGINFO, c->pid, &a, si);

			if (n < 0)
				return err_sys(errno, "process %d: reading pending signals", c->pid);
			for (long i = 0; i < n; i++) {
				struct rec_siginfo r = { .shared = (uint32_t)shared };
				int rc;

				if (si[i].si_signo == SIGKILL || si[i].si_signo == SIGSTOP)
					continue;
				memcpy(r.info, &si[i], sizeof(r.info));
				rc = snap_add_pending(&c->snap, &r);
				if (rc)
					return rc;
			}
			if (n < a.nr)
				break;
			a.off += (uint64_t)n;
		}
	}
	return 0;
}

/* /proc/PID/limits: one line per limit in their numeric order, the soft
 * and hard values in fixed columns (26 and 47). */
static int limits_from_proc(struct capture *c)
{
	char buf[4096], *line = buf;
	int rc = proc_read_text(c->pid, "limits", buf, sizeof(buf));

	for (int r = -1; !rc && r < REC_NLIMITS; r++) {
		char *nl = strchr(line, '\n');
		uint64_t v[2];

		if (!nl || nl - line < 60)
			return err_msg(EIO, "/proc/%d/limits: line %d is malformed", c->pid, r + 2);
		for (int k = 0; r >= 0 && k < 2; k++) {
			const char *f = line + (k ? 47 : 26);

			v[k] = strncmp(f, "unlimited", 9) == 0 ? RLIM_INFINITY : strtoull(f, NULL, 10);
		}
		if (r >= 0) {
			c->snap.rlim.cur[r] = v[0];
			c->snap.rlim.max[r] = v[1];
		}
		line = nl + 1;
	}
	return rc;
}

static int capture_limits(struct capture *c)
{
	for (int r = 0; r < REC_NLIMITS; r++) {
		struct rlimit rl;

		/* Another user's limits need CAP_SYS_RESOURCE, which a root in
		 * a container may lack; /proc shows them to a tracer. */
		if (prlimit(c->pid, r, NULL, &rl) < 0 && errno == EPERM)
			return limits_from_proc(c);
		if (prlimit(c->pid, r, NULL, &rl) < 0)
			return err_sys(errno, "process %d: reading limit %d", c->pid, r);
		c->snap.rlim.cur[r] = rl.rlim_cur;
		c->snap.rlim.max[r] = rl.rlim_max;
	}
	return 0;
}

static int capture_creds(struct capture *c)
{
	struct rec_creds *cr = &c->snap.creds;
	char val[8192], *p, *end;
	uint32_t *g = NULL;
	int rc;

	rc = proc_status_field(c->pid, "Uid", val, sizeof(val));
	if (!rc && sscanf(val, "%u %u %u %u", &cr->uid, &cr->euid, &cr->suid, &cr->fsuid) != 4)
		rc = err_msg(EIO, "/proc/%d/status: bad Uid line", c->pid);
	if (!rc)
		rc = proc_status_field(c->pid, "Gid", val, sizeof(val));
	if (!rc && sscanf(val, "%u %u %u %u", &cr->gid, &cr->egid, &cr->sgid, &cr->fsgid) != 4)
		rc = err_msg(EIO, "/proc/%d/status: bad Gid line", c->pid);
	if (!rc)
		rc = proc_status_field(c->pid, "Groups", val, sizeof(val));
	if (rc)
		return rc;
	cr->ngroups = 0;
	for (p = val; *p; p = end) {
		unsigned long v;
		uint32_t *n;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (end == p || errno || v > UINT32_MAX || cr->ngroups >= REC_NGROUPS_MAX) {
			free(g);
			return err_msg(EIO, "/proc/%d/status: bad Groups line", c->pid);
		}
		n = realloc(g, (cr->ngroups + 1) * sizeof(*g));
		if (!n) {
			free(g);
			return err_sys(ENOMEM, "groups");
		}
		g = n;
		g[cr->ngroups++] = (uint32_t)v;
	}
	c->snap.groups = g;
	c->snap.has_creds = 1;
	return 0;
}

/* The working directory and the root are reopened by name too. */
static int capture_dirs(struct capture *c, char *buf, size_t len)
{
	struct snap *s = &c->snap;
	struct stat sb, host;
	char path[64];
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/root", c->pid);
	rc = proc_readlink(path, buf, len);
	if (rc)
		return rc;
	if (stat(path, &sb) < 0)
		return err_sys(errno, "process %d: its root directory", c->pid);
	file_ident(&s->proc.root, &sb);
	/* pthaw restores no chroot: the process must see the host's /. */
	if (strcmp(buf, "/") != 0 || stat("/", &host) < 0 || host.st_dev != sb.st_dev ||
	    host.st_ino != sb.st_ino)
		return err_msg(ENOTSUP, "process %d: its root directory is %s, not this system's /: chroots and other mount namespaces are not supported yet",
			       c->pid, buf);
	snprintf(path, sizeof(path), "/proc/%d/cwd", c->pid);
	rc = proc_readlink(path, buf, len);
	if (rc)
		return rc;
	if (stat(path, &sb) < 0)
		return err_sys(errno, "process %d: its working directory", c->pid);
	/* A removed directory cannot be entered again by any name. */
	if (sb.st_nlink == 0)
		return err_msg(ENOTSUP, "process %d: its working directory %s was removed: it cannot be restored",
			       c->pid, buf);
	file_ident(&s->proc.cwd, &sb);
	return file_reopenable(c->pid, "working directory", buf, &sb);
}

static int capture_proc(struct capture *c)
{
	struct snap *s = &c->snap;
	char path[64], buf[4096], val[32];
	struct proc_stat st;
	struct stat sb;
	size_t len;
	int rc;

	s->proc.pid = (uint32_t)c->pid;
	rc = proc_read_text(c->pid, "comm", buf, sizeof(buf));
	if (rc)
		return rc;
	buf[strcspn(buf, "\n")] = '\0';
	s->comm = strdup(buf);
	snprintf(path, sizeof(path), "/proc/%d/exe", c->pid);
	rc = proc_readlink(path, buf, sizeof(buf));
	if (rc)
		return rc;
	s->exe = strdup(buf);
	if (stat(path, &sb) == 0)
		file_ident(&s->proc.exe, &sb);
	rc = capture_dirs(c, buf, sizeof(buf));
	if (!rc)
		rc = capture_creds(c);
	if (rc)
		return rc;
	s->cwd = strdup(buf);
	if (!s->comm || !s->exe || !s->cwd)
		return err_sys(ENOMEM, "process state");
	rc = proc_status_field(c->pid, "Umask", val, sizeof(val));
	if (rc)
		return rc;
	s->proc.umask = (uint32_t)strtoul(val, NULL, 8);
	s->has_proc = 1;

	rc = proc_stat_read(c->pid, &st);
	if (rc)
		return rc;
	s->mm.start_code = st.start_code;
	s->mm.end_code = st.end_code;
	s->mm.start_data = st.start_data;
	s->mm.end_data = st.end_data;
	s->mm.start_brk = st.start_brk;
	s->mm.start_stack = st.start_stack;
	s->mm.arg_start = st.arg_start;
	s->mm.arg_end = st.arg_end;
	s->mm.env_start = st.env_start;
	s->mm.env_end = st.env_end;
	snprintf(path, sizeof(path), "/proc/%d/auxv", c->pid);
	s->auxv = malloc(4096);
	if (!s->auxv)
		return err_sys(ENOMEM, "auxv");
	rc = proc_read_file(path, s->auxv, 4096, &len);
	if (rc)
		return rc;
	s->mm.auxv_len = (uint32_t)(len & ~15ul);
	s->has_mm = 1;
	return capture_limits(c);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Classifies one mapping; the refusals are the mappings a restore could
 * not give back as they were. */
static int capture_vma(struct capture *c, const struct vma *v)
{
	struct rec_vma r = { .start = v->start, .end = v->end, .pgoff = v->pgoff, .prot = v->prot };
	char name[4200];
	struct stat sb;

	snprintf(name, sizeof(name), "%s", v->path);
	if (v->shared)
		r.flags |= VMA_SHARED;
	if (strcmp(name, "[vdso]") == 0) {
		unsigned char *buf = malloc(v->end - v->start);

		r.flags |= VMA_VDSO;
		if (!buf || read_remote(c->pid, v->start, buf, v->end - v->start)) {
			free(buf);
			return err_msg(EIO, "process %d: cannot read its vdso", c->pid);
		}
		r.content_crc = crc32c(0, buf, v->end - v->start);
		free(buf);
	} else if (strcmp(name, "[vvar]") == 0) {
		r.flags |= VMA_VVAR;
	} else if (strcmp(name, "[vvar_vclock]") == 0) {
		r.flags |= VMA_VVAR_VCLOCK;
	} else if (strcmp(name, "[vsyscall]") == 0) {
		r.flags |= VMA_VSYSCALL;
	} else if (strcmp(name, "[stack]") == 0) {
		r.flags |= VMA_STACK;
	} else if (strcmp(name, "[heap]") == 0) {
		r.flags |= VMA_HEAP;
	} else if (name[0] == '[' && strncmp(name, "[anon:", 6) != 0) {
		return err_msg(ENOTSUP, "process %d: mapping %s at 0x%llx is not supported", c->pid,
			       name, (unsigned long long)v->start);
	} else if (name[0] == '/') {
		char mf[128];
		struct stat cur;
		int deleted = ends_with(name, " (deleted)");

		if (v->shared && (deleted || strncmp(name, "/memfd:", 7) == 0 ||
				  strncmp(name, "/SYSV", 5) == 0 || strncmp(name, "/dev/zero", 9) == 0))
			return err_msg(ENOTSUP, "process %d: shared memory mapping %s at 0x%llx is not supported yet",
				       c->pid, name, (unsigned long long)v->start);
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%llx-%llx", c->pid,
			 (unsigned long long)v->start, (unsigned long long)v->end);
		if (stat(mf, &sb) < 0)
			return err_sys(errno, "process %d: mapping %s", c->pid, name);
		if (S_ISCHR(sb.st_mode) && !v->shared) {
			name[0] = '\0';		/* private /dev/zero: anonymous memory */
		} else if (!S_ISREG(sb.st_mode)) {
			return err_msg(ENOTSUP, "process %d: mapping of device %s is not supported", c->pid, name);
		} else {
			if (v->shared && (v->prot & PROT_WRITE))
				return err_msg(ENOTSUP, "process %d: shared writable mapping of %s is not supported yet",
					       c->pid, name);
			if (deleted)
				name[strlen(name) - 10] = '\0';
			r.flags |= VMA_FILE;
			r.file_size = (uint64_t)sb.st_size;
			r.mtime_sec = sb.st_mtim.tv_sec;
			r.mtime_nsec = (uint32_t)sb.st_mtim.tv_nsec;
			/* The file under that name now is not the one mapped:
			 * its pages must travel in the stream. */
			if (deleted || stat(name, &cur) < 0 || cur.st_ino != sb.st_ino || cur.st_dev != sb.st_dev) {
				if (v->shared)
					return err_msg(ENOTSUP, "process %d: shared mapping of %s, which was deleted or replaced",
						       c->pid, name);
				r.flags |= VMA_EMBED;
			} else if (c->self_contained && !v->shared) {
				r.flags |= VMA_EMBED;
			}
		}
	}
	return snap_add_vma(&c->snap, &r, name);
}

static int capture_maps(struct capture *c)
{
	int rc = maps_read(c->pid, &c->maps, &c->nmaps);

	for (size_t i = 0; !rc && i < c->nmaps; i++)
		rc = capture_vma(c, &c->maps[i]);
	return rc;
}

int capture_state(struct capture *c)
{
	struct inject_ctx ctx;
	int rc, rc2;

	rc = capture_regs(c);
	if (!rc)
		rc = capture_pending(c);
	if (!rc)
		rc = inject_begin(&ctx, c->pid, &c->regs, c->sigmask, c->snap.xsave, c->snap.xs.size);
	if (rc)
		return rc;
	rc = capture_injected(c, &ctx);
	c->snap.has_sig = 1;
	c->snap.has_regs = 1;
	if (!rc)
		rc = capture_proc(c);
	if (!rc)
		rc = files_capture(c->pid, &c->snap);
	if (!rc)
		rc = capture_maps(c);
	/* The kinds of the table come last: they may look at the fds and
	 * mappings, and may still run calls inside the process (the frame
	 * keeps that safe if pfrez dies meanwhile). */
	if (!rc) {
		struct kind_capture kc = { .pid = c->pid, .inj = &ctx, .snap = &c->snap };

		rc = kinds_capture(&kc, c->snap.kind);
	}
	/* From here on only memory is read: put the process back as it will
	 * resume.  capture_release() does the same again. */
	rc2 = inject_finish(&ctx);
	if (!rc)
		rc = rc2;
	return rc;
}

int capture_hash_maps(struct capture *c)
{
	unsigned char *buf = malloc(1 << 20);

	if (!buf)
		return err_sys(ENOMEM, "hash");
	for (size_t i = 0; i < c->snap.nvmas; i++) {
		struct rec_vma *v = &c->snap.vmas[i].r;
		uint32_t crc = 0;

		if (v->flags & (VMA_VVAR | VMA_VVAR_VCLOCK | VMA_VSYSCALL))
			continue;
		for (uint64_t a = v->start; a < v->end; a += 1 << 20) {
			size_t n = v->end - a < (1 << 20) ? v->end - a : (1 << 20);
			struct iovec l = { buf, n }, r = { (void *)a, n };

			/* Unreadable parts (guard pages) hash as zeros. */
			if (process_vm_readv(c->pid, &l, 1, &r, 1, 0) != (ssize_t)n)
				memset(buf, 0, n);
			crc = crc32c(crc, buf, n);
		}
		v->content_crc = crc;
	}
	free(buf);
	return 0;
}

void capture_release(struct capture *c)
{
	struct user_regs_struct r = c->regs;

	if (!c->attached)
		return;
	if (!c->regs_saved) {
		ptrace(PTRACE_DETACH, c->pid, 0, 0);
		c->attached = 0;
		return;
	}
	/* The injected calls took the process out of the kernel's signal
	 * path, which would have restarted an interrupted call: do it.  The
	 * mask before the registers: if pfrez dies in between, registers
	 * still at the injection frame put the mask back themselves. */
	regs_restart_fixup(&r, 0);
	ptrace(PTRACE_SETSIGMASK, c->pid, sizeof(c->sigmask), &c->sigmask);
	ptrace(PTRACE_SETREGS, c->pid, 0, &r);
	ptrace(PTRACE_DETACH, c->pid, 0, 0);
	c->attached = 0;
}

void capture_kill(struct capture *c)
{
	kill(c->pid, SIGKILL);
	c->attached = 0;
}

void capture_free(struct capture *c)
{
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	if (c->pagemap_fd >= 0)
		close(c->pagemap_fd);
	maps_free(c->maps, c->nmaps);
	snap_free(&c->snap);
}
