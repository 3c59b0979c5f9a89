/* snap.c: encodes, decodes, checks and prints a snapshot's metadata. */
#include "snap.h"
#include "err.h"
#include "header.h"
#include "json.h"
#include "files.h"
#include "kind.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int snap_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

int snap_add_vma(struct snap *s, const struct rec_vma *r, const char *name)
{
	struct snap_vma *v;

	if (s->nvmas >= SNAP_NVMAS_MAX)
		return err_msg(E2BIG, "more than %d mappings", SNAP_NVMAS_MAX);
	if (strlen(name) >= SNAP_PATH_MAX)
		return err_msg(ENAMETOOLONG, "mapping name longer than %d bytes", SNAP_PATH_MAX - 1);
	if (snap_grow((void **)&s->vmas, &s->vmas_cap, s->nvmas, sizeof(*v)))
		return err_sys(ENOMEM, "vma list");
	v = s->vmas + s->nvmas;
	v->r = *r;
	v->r.name_len = (uint32_t)strlen(name);
	v->name = strdup(name);
	if (!v->name)
		return err_sys(ENOMEM, "vma list");
	s->nvmas++;
	return 0;
}

int snap_add_pending(struct snap *s, const struct rec_siginfo *r)
{
	struct rec_siginfo *p;

	if (s->npending >= SNAP_PENDING_MAX)
		return err_msg(E2BIG, "more than %d pending signals", SNAP_PENDING_MAX);
	p = realloc(s->pending, (s->npending + 1) * sizeof(*p));
	if (!p)
		return err_sys(ENOMEM, "pending signals");
	s->pending = p;
	s->pending[s->npending++] = *r;
	return 0;
}

int snap_write_meta(const struct snap *s, struct rec_writer *w)
{
	unsigned char buf[sizeof(struct rec_proc) + 3 * 4096];
	struct rec_proc p = s->proc;
	size_t off = sizeof(p);
	int rc;

	/* Checked before the cast to the 16-bit fields, which would cut. */
	if (strlen(s->exe) > 4095 || strlen(s->cwd) > 4095 || strlen(s->comm) > 64)
		return err_msg(ENAMETOOLONG, "path too long");
	p.comm_len = (uint16_t)strlen(s->comm);
	p.exe_len = (uint16_t)strlen(s->exe);
	p.cwd_len = (uint16_t)strlen(s->cwd);
	memcpy(buf, &p, sizeof(p));
	memcpy(buf + off, s->comm, p.comm_len);
	off += p.comm_len;
	memcpy(buf + off, s->exe, p.exe_len);
	off += p.exe_len;
	memcpy(buf + off, s->cwd, p.cwd_len);
	off += p.cwd_len;
	rc = rec_write(w, REC_PROC, buf, off, NULL, 0);
	if (!rc)
		rc = rec_write(w, REC_CREDS, &s->creds, sizeof(s->creds), s->groups,
			       s->creds.ngroups * sizeof(*s->groups));
	if (!rc)
		rc = rec_write(w, REC_MM, &s->mm, sizeof(s->mm), s->auxv, s->mm.auxv_len);
	if (!rc)
		rc = rec_write(w, REC_RLIMITS, &s->rlim, sizeof(s->rlim), NULL, 0);
	if (!rc)
		rc = rec_write(w, REC_SIGNALS, &s->sig, sizeof(s->sig), NULL, 0);
	if (!rc)
		rc = files_write(s, w);
	for (size_t i = 0; !rc && i < s->nvmas; i++)
		rc = rec_write(w, REC_VMA, &s->vmas[i].r, sizeof(s->vmas[i].r), s->vmas[i].name,
			       s->vmas[i].r.name_len);
	if (!rc)
		rc = rec_write(w, REC_REGS, &s->regs, sizeof(s->regs), NULL, 0);
	if (!rc)
		rc = rec_write(w, REC_XSTATE, &s->xs, sizeof(s->xs), s->xsave, s->xs.size);
	if (!rc && s->has_rseq)
		rc = rec_write(w, REC_RSEQ, &s->rseq, sizeof(s->rseq), NULL, 0);
	for (size_t i = 0; !rc && i < s->npending; i++)
		rc = rec_write(w, REC_SIGINFO, &s->pending[i], sizeof(s->pending[i]), NULL, 0);
	if (!rc)
		rc = kinds_write(s->kind, w);
	return rc;
}

char *snap_take_str(const unsigned char *p, size_t len, size_t *off, size_t n)
{
	char *s;

	if (n > len - *off || memchr(p + *off, '\0', n))
		return NULL;
	s = strndup((const char *)p + *off, n);
	*off += n;
	return s;
}

static int bad(uint32_t type, const char *why)
{
	return err_msg(EBADMSG, "%s record: %s", rec_type_name(type), why);
}

int snap_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len)
{
	size_t off;

	/* rec_read checks this too; the fixed parts below are copied blind. */
	if (len < rec_min_len(type))
		return bad(type, "too short");
	/* Unknown records count too: they cost reading time all the same. */
	s->meta_bytes += len;
	if (s->meta_bytes > SNAP_META_MAX)
		return err_msg(E2BIG, "more than %u MiB of metadata before the pages (corrupt or hostile stream)",
			       SNAP_META_MAX >> 20);
	switch (type) {
	case REC_PROC:
		if (s->has_proc)
			return bad(type, "duplicate");
		memcpy(&s->proc, p, sizeof(s->proc));
		off = sizeof(s->proc);
		if (s->proc.comm_len > SNAP_COMM_MAX || s->proc.exe_len >= SNAP_PATH_MAX ||
		    s->proc.cwd_len >= SNAP_PATH_MAX)
			return bad(type, "name too long");
		s->comm = snap_take_str(p, len, &off, s->proc.comm_len);
		s->exe = s->comm ? snap_take_str(p, len, &off, s->proc.exe_len) : NULL;
		s->cwd = s->exe ? snap_take_str(p, len, &off, s->proc.cwd_len) : NULL;
		if (!s->cwd || off != len) {
			free(s->comm);
			free(s->exe);
			free(s->cwd);
			s->comm = s->exe = s->cwd = NULL;
			return bad(type, "bad strings");
		}
		s->has_proc = 1;
		return 0;
	case REC_MM:
		if (s->has_mm)
			return bad(type, "duplicate");
		memcpy(&s->mm, p, sizeof(s->mm));
		if (s->mm.auxv_len != len - sizeof(s->mm) || s->mm.auxv_len > 4096 ||
		    s->mm.auxv_len % 16)
			return bad(type, "bad auxv length");
		s->auxv = malloc(s->mm.auxv_len + 1);
		if (!s->auxv)
			return err_sys(ENOMEM, "auxv");
		memcpy(s->auxv, p + sizeof(s->mm), s->mm.auxv_len);
		s->has_mm = 1;
		return 0;
	case REC_RLIMITS:
		if (s->has_rlim)
			return bad(type, "duplicate");
		memcpy(&s->rlim, p, sizeof(s->rlim));
		s->has_rlim = 1;
		return 0;
	case REC_SIGNALS:
		if (s->has_sig)
			return bad(type, "duplicate");
		memcpy(&s->sig, p, sizeof(s->sig));
		s->has_sig = 1;
		return 0;
	case REC_FILE:
	case REC_FD:
		return files_take(s, type, p, len);
	case REC_VMA: {
		struct rec_vma r;
		char *name;
		int rc;

		memcpy(&r, p, sizeof(r));
		off = sizeof(r);
		if (r.name_len >= SNAP_PATH_MAX)
			return bad(type, "name too long");
		name = snap_take_str(p, len, &off, r.name_len);
		if (!name || off != len || r.start >= r.end || (r.start | r.end) % REC_PAGE_SIZE ||
		    (r.prot & ~7u))
			return free(name), bad(type, "malformed");
		if (s->nvmas && !(s->vmas[s->nvmas - 1].r.end <= r.start))
			return free(name), bad(type, "mappings out of order or overlapping");
		rc = snap_add_vma(s, &r, name);
		free(name);
		return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "vma record") : rc;
	}
	case REC_REGS:
		if (s->has_regs)
			return bad(type, "duplicate");
		memcpy(&s->regs, p, sizeof(s->regs));
		s->has_regs = 1;
		return 0;
	case REC_XSTATE:
		memcpy(&s->xs, p, sizeof(s->xs));
		if (s->xs.size != len - sizeof(s->xs) || s->xs.size < 576 || s->xs.size > 65536 || s->xsave)
			return bad(type, "bad size");
		s->xsave = malloc(s->xs.size);
		if (!s->xsave)
			return err_sys(ENOMEM, "xstate");
		memcpy(s->xsave, p + sizeof(s->xs), s->xs.size);
		return 0;
	case REC_RSEQ:
		if (s->has_rseq)
			return bad(type, "duplicate");
		memcpy(&s->rseq, p, sizeof(s->rseq));
		s->has_rseq = 1;
		return 0;
	case REC_CREDS:
		if (s->has_creds)
			return bad(type, "duplicate");
		memcpy(&s->creds, p, sizeof(s->creds));
		if (s->creds.ngroups > REC_NGROUPS_MAX ||
		    len != sizeof(s->creds) + (size_t)s->creds.ngroups * sizeof(*s->groups))
			return bad(type, "bad group count");
		s->groups = malloc(s->creds.ngroups * sizeof(*s->groups) + 1);
		if (!s->groups)
			return err_sys(ENOMEM, "groups");
		memcpy(s->groups, p + sizeof(s->creds), s->creds.ngroups * sizeof(*s->groups));
		s->has_creds = 1;
		return 0;
	case REC_SIGINFO: {
		struct rec_siginfo si;
		int32_t signo;
		int rc;

		memcpy(&si, p, sizeof(si));
		memcpy(&signo, si.info, sizeof(signo));
		if (len != sizeof(si) || si.shared > 1 || signo < 1 || signo > 64 ||
		    signo == SIGKILL || signo == SIGSTOP)
			return bad(type, "malformed");
		rc = snap_add_pending(s, &si);
		return rc < 0 ? err_wrap(rc == -ENOMEM ? rc : -EBADMSG, "siginfo record") : rc;
	}
	}
	/* The kinds of the table own their records. */
	return kinds_take(s->kind, type, p, len);
}

int snap_check(const struct snap *s)
{
	if (!s->has_proc || !s->has_mm || !s->has_regs || !s->xsave || !s->has_sig || !s->has_creds)
		return err_msg(EBADMSG, "incomplete snapshot: %s record missing",
			       !s->has_proc ? "proc" : !s->has_mm ? "mm" : !s->has_regs ? "regs" :
			       !s->xsave ? "xstate" : !s->has_sig ? "signals" : "creds");
	if (!s->nvmas)
		return err_msg(EBADMSG, "incomplete snapshot: no mappings");
	return files_check(s);
}

void snap_print_ident(FILE *f, const char *what, const struct rec_ident *id)
{
	fprintf(f, "%s: device %llu:%llu inode %llu, mode 0%o", what,
		(unsigned long long)major(id->dev), (unsigned long long)minor(id->dev),
		(unsigned long long)id->ino, id->mode);
	if (S_ISREG(id->mode))
		fprintf(f, ", %llu bytes, mtime %lld.%09u", (unsigned long long)id->size,
			(long long)id->mtime_sec, id->mtime_nsec);
	if (S_ISCHR(id->mode) || S_ISBLK(id->mode))
		fprintf(f, ", device %llu:%llu", (unsigned long long)major(id->rdev),
			(unsigned long long)minor(id->rdev));
	fprintf(f, "\n");
}

/* s, escaped for the terminal into buf (names come from the stream). */
static const char *esc(char *buf, size_t len, const char *s)
{
	err_escape(buf, len, s, strlen(s));
	return buf;
}

void snap_print(FILE *f, const struct snap *s)
{
	static char e1[4 * SNAP_PATH_MAX + 1], e2[4 * SNAP_PATH_MAX + 1], e3[4 * SNAP_PATH_MAX + 1];
	const struct rec_regs *r = &s->regs;
	static const char *names[] = {
		"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
		"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
		"fs_base", "gs_base", "ds", "es", "fs", "gs",
	};
	uint64_t rv[sizeof(*r) / 8];

	memcpy(rv, r, sizeof(rv));
	fprintf(f, "Process: %s (pid %u)\nExecutable: %s\nWorking directory: %s\nUmask: %04o\n",
		esc(e1, sizeof(e1), s->comm), s->proc.pid, esc(e2, sizeof(e2), s->exe),
		esc(e3, sizeof(e3), s->cwd), s->proc.umask);
	fprintf(f, "Credentials: uid %u/%u/%u/%u, gid %u/%u/%u/%u (real/effective/saved/fs), groups",
		s->creds.uid, s->creds.euid, s->creds.suid, s->creds.fsuid,
		s->creds.gid, s->creds.egid, s->creds.sgid, s->creds.fsgid);
	for (uint32_t i = 0; i < s->creds.ngroups; i++)
		fprintf(f, "%s%u", i ? "," : " ", s->groups[i]);
	fprintf(f, "%s\n", s->creds.ngroups ? "" : " none");
	snap_print_ident(f, "  executable", &s->proc.exe);
	snap_print_ident(f, "  working directory", &s->proc.cwd);
	fprintf(f, "Registers:\n");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		fprintf(f, "  %-8s 0x%016llx%s", names[i], (unsigned long long)rv[i],
			i % 3 == 2 ? "\n" : "");
	fprintf(f, "\nExtended state: %u bytes, features 0x%llx\n", s->xs.size,
		(unsigned long long)s->xs.xcr0);
	fprintf(f, "Memory: brk 0x%llx (from 0x%llx), stack 0x%llx\n",
		(unsigned long long)s->mm.brk, (unsigned long long)s->mm.start_brk,
		(unsigned long long)s->mm.start_stack);
	fprintf(f, "Signals: blocked 0x%llx", (unsigned long long)s->sig.blocked);
	for (int i = 0; i < 64; i++)
		if (s->sig.act[i].handler)
			fprintf(f, ", %d -> %s", i + 1, s->sig.act[i].handler == 1 ? "ignored" : "handler");
	fprintf(f, "\n");
	if (s->has_rseq)
		fprintf(f, "rseq: 0x%llx, %u bytes\n", (unsigned long long)s->rseq.addr, s->rseq.len);
	for (size_t i = 0; i < s->npending; i++) {
		int32_t signo;

		memcpy(&signo, s->pending[i].info, sizeof(signo));
		fprintf(f, "Pending signal: %d (%s)\n", signo, s->pending[i].shared ? "process" : "thread");
	}
	fprintf(f, "Mappings:\n");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;

		fprintf(f, "  %3zu %012llx-%012llx %c%c%c%c %08llx %-28s hash %08x\n", i,
			(unsigned long long)v->start, (unsigned long long)v->end,
			v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
			v->prot & PROT_EXEC ? 'x' : '-', v->flags & VMA_SHARED ? 's' : 'p',
			(unsigned long long)v->pgoff, esc(e1, sizeof(e1), s->vmas[i].name),
			v->content_crc);
	}
	files_print(f, s);
	kinds_print(f, s->kind);
}

static void ident_json(struct json *j, const char *key, const struct rec_ident *id)
{
	char dev[48];

	json_object_begin(j, key);
	snprintf(dev, sizeof(dev), "%llu:%llu", (unsigned long long)major(id->dev),
		 (unsigned long long)minor(id->dev));
	json_str(j, "dev", dev);
	json_uint(j, "ino", id->ino);
	json_uint(j, "mode", id->mode);
	if (S_ISREG(id->mode)) {
		json_uint(j, "size", id->size);
		json_int(j, "mtime_sec", id->mtime_sec);
		json_uint(j, "mtime_nsec", id->mtime_nsec);
	}
	if (S_ISCHR(id->mode) || S_ISBLK(id->mode)) {
		snprintf(dev, sizeof(dev), "%llu:%llu", (unsigned long long)major(id->rdev),
			 (unsigned long long)minor(id->rdev));
		json_str(j, "rdev", dev);
	}
	json_object_end(j);
}

static void process_json(struct json *j, const struct snap *s)
{
	json_object_begin(j, "process");
	json_uint(j, "pid", s->proc.pid);
	json_str(j, "comm", s->comm);
	json_str(j, "exe", s->exe);
	json_str(j, "cwd", s->cwd);
	json_uint(j, "umask", s->proc.umask);
	ident_json(j, "exe_ident", &s->proc.exe);
	ident_json(j, "cwd_ident", &s->proc.cwd);
	ident_json(j, "root_ident", &s->proc.root);
	json_object_end(j);
	json_object_begin(j, "creds");
	json_uint(j, "uid", s->creds.uid);
	json_uint(j, "euid", s->creds.euid);
	json_uint(j, "suid", s->creds.suid);
	json_uint(j, "fsuid", s->creds.fsuid);
	json_uint(j, "gid", s->creds.gid);
	json_uint(j, "egid", s->creds.egid);
	json_uint(j, "sgid", s->creds.sgid);
	json_uint(j, "fsgid", s->creds.fsgid);
	json_array_begin(j, "groups");
	for (uint32_t i = 0; i < s->creds.ngroups; i++)
		json_uint(j, NULL, s->groups[i]);
	json_array_end(j);
	json_object_end(j);
}

static void mm_json(struct json *j, const struct snap *s)
{
	static const char *rlim_names[REC_NLIMITS] = {
		"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
		"memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
	};
	const struct rec_mm *m = &s->mm;

	json_object_begin(j, "mm");
	json_hex(j, "start_code", m->start_code);
	json_hex(j, "end_code", m->end_code);
	json_hex(j, "start_data", m->start_data);
	json_hex(j, "end_data", m->end_data);
	json_hex(j, "start_brk", m->start_brk);
	json_hex(j, "brk", m->brk);
	json_hex(j, "start_stack", m->start_stack);
	json_hex(j, "arg_start", m->arg_start);
	json_hex(j, "arg_end", m->arg_end);
	json_hex(j, "env_start", m->env_start);
	json_hex(j, "env_end", m->env_end);
	json_array_begin(j, "auxv");
	for (uint32_t i = 0; i + 16 <= m->auxv_len; i += 16) {
		uint64_t av[2];

		memcpy(av, s->auxv + i, sizeof(av));
		json_object_begin(j, NULL);
		json_uint(j, "type", av[0]);
		json_hex(j, "value", av[1]);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
	/* RLIM_INFINITY is a string: as a number it would pass 2^53. */
	json_object_begin(j, "rlimits");
	for (int i = 0; s->has_rlim && i < REC_NLIMITS; i++) {
		json_object_begin(j, rlim_names[i]);
		if (s->rlim.cur[i] == UINT64_MAX)
			json_str(j, "cur", "unlimited");
		else
			json_uint(j, "cur", s->rlim.cur[i]);
		if (s->rlim.max[i] == UINT64_MAX)
			json_str(j, "max", "unlimited");
		else
			json_uint(j, "max", s->rlim.max[i]);
		json_object_end(j);
	}
	json_object_end(j);
}

static void signals_json(struct json *j, const struct snap *s)
{
	static const char *timers[3] = { "real", "virtual", "prof" };
	const struct rec_signals *g = &s->sig;

	json_object_begin(j, "signals");
	json_hex(j, "blocked", g->blocked);
	json_array_begin(j, "actions");
	for (int i = 0; i < 64; i++) {
		const struct rec_sigaction *a = &g->act[i];

		if (!a->handler && !a->flags && !a->mask)
			continue;
		json_object_begin(j, NULL);
		json_int(j, "signal", i + 1);
		if (a->handler <= 1)
			json_str(j, "handler", a->handler ? "ignore" : "default");
		else
			json_hex(j, "handler", a->handler);
		json_hex(j, "flags", a->flags);
		json_hex(j, "restorer", a->restorer);
		json_hex(j, "mask", a->mask);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_begin(j, "altstack");
	json_hex(j, "sp", g->ss_sp);
	json_uint(j, "size", g->ss_size);
	json_int(j, "flags", g->ss_flags);
	json_object_end(j);
	json_object_begin(j, "itimers");
	for (int i = 0; i < 3; i++) {
		json_object_begin(j, timers[i]);
		json_uint(j, "interval_sec", g->itimer[i][0]);
		json_uint(j, "interval_usec", g->itimer[i][1]);
		json_uint(j, "value_sec", g->itimer[i][2]);
		json_uint(j, "value_usec", g->itimer[i][3]);
		json_object_end(j);
	}
	json_object_end(j);
	json_hex(j, "clear_tid", g->clear_tid);
	json_object_end(j);
	json_array_begin(j, "pending_signals");
	for (size_t i = 0; i < s->npending; i++) {
		int32_t si[3];	/* si_signo, si_errno, si_code */

		memcpy(si, s->pending[i].info, sizeof(si));
		json_object_begin(j, NULL);
		json_int(j, "signal", si[0]);
		json_str(j, "scope", s->pending[i].shared ? "process" : "thread");
		json_int(j, "code", si[2]);
		json_object_end(j);
	}
	json_array_end(j);
}

static void fds_json(struct json *j, const struct snap *s)
{
	/* Each open file description once; fds refer to it by id. */
	json_array_begin(j, "files");
	for (size_t i = 0; i < s->nfiles; i++) {
		const struct rec_file *f = &s->files[i].r;

		json_object_begin(j, NULL);
		json_uint(j, "id", f->id);
		json_str(j, "kind", files_kind_name(f->kind));
		json_str(j, "path", s->files[i].path);
		json_uint(j, "flags", f->flags);
		json_uint(j, "pos", f->pos);
		json_uint(j, "mode", f->mode);
		json_bool(j, "proc_self", (f->file_flags & FDF_PROC_SELF) != 0);
		json_bool(j, "pseudo", (f->file_flags & FDF_PSEUDO) != 0);
		if (f->kind != FD_STDIO)
			ident_json(j, "ident", &f->ident);
		json_object_end(j);
	}
	json_array_end(j);
	json_array_begin(j, "fds");
	for (size_t i = 0; i < s->nfds; i++) {
		const struct rec_fd *d = &s->fds[i];
		const struct snap_file *f = &s->files[d->file];

		json_object_begin(j, NULL);
		json_int(j, "fd", d->fd);
		json_uint(j, "file", d->file);
		json_str(j, "kind", files_kind_name(f->r.kind));
		json_str(j, "path", f->path);
		json_bool(j, "cloexec", d->cloexec != 0);
		json_uint(j, "flags", f->r.flags);
		json_uint(j, "pos", f->r.pos);
		json_object_end(j);
	}
	json_array_end(j);
}

static void vmas_json(struct json *j, const struct snap *s)
{
	static const char *flag_names[] = {
		"shared", "file", "embed", "stack", "heap", "vdso", "vvar", "vvar_vclock", "vsyscall",
	};

	json_array_begin(j, "vmas");
	for (size_t i = 0; i < s->nvmas; i++) {
		const struct rec_vma *v = &s->vmas[i].r;
		char prot[4] = {
			v->prot & PROT_READ ? 'r' : '-', v->prot & PROT_WRITE ? 'w' : '-',
			v->prot & PROT_EXEC ? 'x' : '-', '\0',
		};

		json_object_begin(j, NULL);
		json_hex(j, "start", v->start);
		json_hex(j, "end", v->end);
		json_str(j, "prot", prot);
		json_hex(j, "pgoff", v->pgoff);
		json_array_begin(j, "flags");
		for (size_t b = 0; b < sizeof(flag_names) / sizeof(flag_names[0]); b++)
			if (v->flags & (1u << b))
				json_str(j, NULL, flag_names[b]);
		json_array_end(j);
		json_str(j, "name", s->vmas[i].name);
		if (v->flags & VMA_FILE) {
			json_uint(j, "file_size", v->file_size);
			json_int(j, "mtime_sec", v->mtime_sec);
			json_uint(j, "mtime_nsec", v->mtime_nsec);
		}
		json_hex(j, "content_crc", v->content_crc);
		json_object_end(j);
	}
	json_array_end(j);
}

static void cpu_json(struct json *j, const struct snap *s)
{
	static const char *names[] = {
		"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
		"rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
		"fs_base", "gs_base", "ds", "es", "fs", "gs",
	};
	uint64_t rv[sizeof(s->regs) / 8];
	char feat[256];

	_Static_assert(sizeof(names) / sizeof(names[0]) == sizeof(rv) / sizeof(rv[0]),
		       "a name per register");
	memcpy(rv, &s->regs, sizeof(rv));
	json_object_begin(j, "regs");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		json_hex(j, names[i], rv[i]);
	json_object_end(j);
	hdr_xfeature_names(s->xs.xcr0, feat, sizeof(feat));
	json_object_begin(j, "xstate");
	json_uint(j, "size", s->xs.size);
	json_hex(j, "features", s->xs.xcr0);
	json_str(j, "feature_names", feat);
	json_object_end(j);
	if (!s->has_rseq) {
		json_null(j, "rseq");
		return;
	}
	json_object_begin(j, "rseq");
	json_hex(j, "addr", s->rseq.addr);
	json_uint(j, "len", s->rseq.len);
	json_hex(j, "sig", s->rseq.sig);
	json_uint(j, "flags", s->rseq.flags);
	json_object_end(j);
}

void snap_print_json(struct json *j, const struct snap *s)
{
	process_json(j, s);
	mm_json(j, s);
	signals_json(j, s);
	fds_json(j, s);
	vmas_json(j, s);
	cpu_json(j, s);
	kinds_print_json(j, s->kind);
}

void snap_free(struct snap *s)
{
	free(s->comm);
	free(s->exe);
	free(s->cwd);
	free(s->auxv);
	files_free(s);
	for (size_t i = 0; i < s->nvmas; i++)
		free(s->vmas[i].name);
	free(s->vmas);
	free(s->xsave);
	free(s->pending);
	free(s->groups);
	kinds_free(s->kind);
	memset(s, 0, sizeof(*s));
}
