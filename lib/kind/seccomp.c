/* seccomp.c: the seccomp filters of the process (mode 2), read with
 * PTRACE_SECCOMP_GET_FILTER and installed again, oldest first, as the
 * last thing before the registers (pthaw's hand_over(), with pload
 * parked), so that they block nothing the restore still does.  Strict
 * mode (1) is refused by pfrez before anything runs inside the process. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#define SECCOMP_FILTERS_MAX	64u	/* filters per process */
#define SECCOMP_INSNS_MAX	4096u	/* BPF_MAXINSNS: instructions per filter */

/* Then per filter: struct rec_seccomp_filter and len struct sock_filter
 * (u16 code, u8 jt, u8 jf, u32 k), oldest filter first. */
struct rec_seccomp {
	uint32_t mode;		/* SECCOMP_MODE_FILTER */
	uint32_t nfilters;
};

struct rec_seccomp_filter {
	uint32_t flags;		/* SECCOMP_FILTER_FLAG_LOG or 0 */
	uint32_t len;		/* instructions */
};

struct seccomp_filter {
	uint32_t flags;
	uint32_t len;
	struct sock_filter *insns;
};

struct seccomp_state {
	uint32_t nfilters;
	struct seccomp_filter f[SECCOMP_FILTERS_MAX];
};

static void seccomp_free(void *data)
{
	struct seccomp_state *st = data;

	for (uint32_t i = 0; st && i < st->nfilters; i++)
		free(st->f[i].insns);
	free(st);
}

/* What a filter returns that cannot be given back: a user-notify
 * listener is a file descriptor held by some supervisor, which the
 * filter's flags (and PTRACE_SECCOMP_GET_METADATA) do not show; a filter
 * that may return SECCOMP_RET_USER_NOTIF is taken to have one.  A return
 * of the accumulator (BPF_RET | BPF_A) may be anything, notify included.
 * NULL when every return is a constant that can be reproduced. */
static const char *unrepeatable(const struct seccomp_filter *f)
{
	for (uint32_t i = 0; i < f->len; i++) {
		const struct sock_filter *in = &f->insns[i];

		if (BPF_CLASS(in->code) != BPF_RET)
			continue;
		if (BPF_RVAL(in->code) != BPF_K)
			return "returns a computed action (BPF_RET | BPF_A), which may notify a listener";
		if ((in->k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_USER_NOTIF)
			return "notifies a user-space listener (SECCOMP_RET_USER_NOTIF), which cannot be carried";
	}
	return NULL;
}

static int returns_trace(const struct seccomp_filter *f)
{
	for (uint32_t i = 0; i < f->len; i++)
		if (BPF_CLASS(f->insns[i].code) == BPF_RET && BPF_RVAL(f->insns[i].code) == BPF_K &&
		    (f->insns[i].k & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_TRACE)
			return 1;
	return 0;
}

static int read_filter(pid_t pid, uint32_t i, struct seccomp_filter *f)
{
	struct __ptrace_seccomp_metadata md = { .filter_off = i };
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(uintptr_t)i, NULL);

	if (n < 0 && errno == ENOENT)
		return -ENOENT;		/* past the newest */
	if (n < 0 && (errno == EACCES || errno == EPERM))
		return err_msg(EPERM, "process %d has seccomp filters: reading them (PTRACE_SECCOMP_GET_FILTER) needs CAP_SYS_ADMIN, and pfrez under no seccomp filter",
			       pid);
	if (n < 0 && errno == EMEDIUMTYPE)
		return err_msg(ENOTSUP, "process %d: seccomp filter %u was not made from classic BPF", pid, i);
	if (n < 0)
		return err_sys(errno, "process %d: reading seccomp filter %u", pid, i);
	if (n == 0 || (unsigned long)n > SECCOMP_INSNS_MAX)
		return err_msg(ENOTSUP, "process %d: seccomp filter %u has %ld instructions", pid, i, n);
	f->len = (uint32_t)n;
	f->insns = calloc((size_t)n, sizeof(*f->insns));
	if (!f->insns)
		return err_sys(ENOMEM, "seccomp");
	if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)(uintptr_t)i, f->insns) != n)
		return err_sys(errno ? errno : EIO, "process %d: reading seccomp filter %u", pid, i);
	if (ptrace(PTRACE_SECCOMP_GET_METADATA, pid, sizeof(md), &md) < 0)
		return err_sys(errno, "process %d: reading the flags of seccomp filter %u", pid, i);
	if (md.flags & ~(uint64_t)SECCOMP_FILTER_FLAG_LOG)
		return err_msg(ENOTSUP, "process %d: seccomp filter %u has flags %#llx that cannot be set again",
			       pid, i, (unsigned long long)md.flags);
	f->flags = (uint32_t)md.flags;
	return 0;
}

static int seccomp_capture(struct kind_capture *c, void **data)
{
	struct seccomp_state *st;
	char v[32];
	uint64_t eff;
	int rc = proc_status_field(c->pid, "Seccomp", v, sizeof(v));

	if (rc)
		return rc;
	if (!strcmp(v, "0"))
		return 0;
	if (strcmp(v, "2"))
		return err_msg(ENOTSUP, "process %d: seccomp mode %s (strict) cannot be captured", c->pid, v);
	st = calloc(1, sizeof(*st));
	if (!st)
		return err_sys(ENOMEM, "seccomp");
	*data = st;
	for (;; st->nfilters++) {
		if (st->nfilters == SECCOMP_FILTERS_MAX)
			return err_msg(ENOTSUP, "process %d: more than %u seccomp filters", c->pid,
				       SECCOMP_FILTERS_MAX);
		rc = read_filter(c->pid, st->nfilters, &st->f[st->nfilters]);
		if (rc == -ENOENT)
			break;
		if (rc)
			return rc;
		if (unrepeatable(&st->f[st->nfilters]))
			return err_msg(ENOTSUP, "process %d: seccomp filter %u %s", c->pid, st->nfilters,
				       unrepeatable(&st->f[st->nfilters]));
	}
	if (!st->nfilters)
		return err_msg(ENOTSUP, "process %d: seccomp mode 2 without a filter", c->pid);
	/* The kernel takes a filter only from a task with no_new_privs or
	 * CAP_SYS_ADMIN; one that had it when it installed its filters and
	 * has lost it since could not install them again. */
	rc = proc_status_field(c->pid, "NoNewPrivs", v, sizeof(v));
	if (!rc && strcmp(v, "1")) {
		rc = proc_status_field(c->pid, "CapEff", v, sizeof(v));
		eff = rc ? 0 : strtoull(v, NULL, 16);
		if (!rc && !(eff & (1ull << CAP_SYS_ADMIN)))
			rc = err_msg(ENOTSUP, "process %d: its seccomp filters could not be installed again: it has neither no_new_privs nor CAP_SYS_ADMIN",
				     c->pid);
	}
	return rc;
}

static int seccomp_write(const void *data, struct rec_writer *w)
{
	const struct seccomp_state *st = data;
	struct rec_seccomp h = { SECCOMP_MODE_FILTER, st->nfilters };
	size_t len = 0, off = 0;
	unsigned char *buf;
	int rc;

	for (uint32_t i = 0; i < st->nfilters; i++)
		len += sizeof(struct rec_seccomp_filter) + st->f[i].len * sizeof(struct sock_filter);
	buf = malloc(len);
	if (!buf)
		return err_sys(ENOMEM, "seccomp");
	for (uint32_t i = 0; i < st->nfilters; i++) {
		struct rec_seccomp_filter fh = { st->f[i].flags, st->f[i].len };

		memcpy(buf + off, &fh, sizeof(fh));
		off += sizeof(fh);
		memcpy(buf + off, st->f[i].insns, st->f[i].len * sizeof(struct sock_filter));
		off += st->f[i].len * sizeof(struct sock_filter);
	}
	rc = rec_write(w, REC_SECCOMP, &h, sizeof(h), buf, len);
	free(buf);
	return rc;
}

/* The filters after the record's head, into st (freed by the caller on
 * failure). */
static int take_filters(struct seccomp_state *st, const struct rec_seccomp *h,
			const unsigned char *p, size_t len)
{
	size_t off = sizeof(*h);

	for (uint32_t i = 0; i < h->nfilters; i++) {
		struct seccomp_filter *f = &st->f[i];
		struct rec_seccomp_filter fh;
		const char *why;

		if (len - off < sizeof(fh))
			break;
		memcpy(&fh, p + off, sizeof(fh));
		off += sizeof(fh);
		if (fh.len == 0 || fh.len > SECCOMP_INSNS_MAX || (fh.flags & ~(uint32_t)SECCOMP_FILTER_FLAG_LOG) ||
		    (len - off) / sizeof(struct sock_filter) < fh.len)
			return err_msg(EBADMSG, "seccomp record: filter %u malformed", i);
		f->flags = fh.flags;
		f->len = fh.len;
		f->insns = malloc(fh.len * sizeof(struct sock_filter));
		if (!f->insns)
			return err_sys(ENOMEM, "seccomp");
		st->nfilters++;
		memcpy(f->insns, p + off, fh.len * sizeof(struct sock_filter));
		off += fh.len * sizeof(struct sock_filter);
		why = unrepeatable(f);
		if (why)
			return err_msg(EBADMSG, "seccomp record: filter %u %s", i, why);
	}
	if (st->nfilters != h->nfilters || off != len)
		return err_msg(EBADMSG, "seccomp record: %zu bytes for %u filters", len, h->nfilters);
	return 0;
}

/* The instructions themselves are checked by the kernel when pthaw
 * installs them (as for any unprivileged program); here only the shape. */
static int seccomp_take(void **data, const unsigned char *p, size_t len)
{
	struct seccomp_state *st;
	struct rec_seccomp h;
	int rc;

	if (len < sizeof(h))
		return err_msg(EBADMSG, "seccomp record: %zu bytes", len);
	memcpy(&h, p, sizeof(h));
	if (h.mode != SECCOMP_MODE_FILTER)
		return err_msg(EBADMSG, "seccomp record: mode %u", h.mode);
	if (h.nfilters == 0 || h.nfilters > SECCOMP_FILTERS_MAX)
		return err_msg(EBADMSG, "seccomp record: %u filters (1 to %u)", h.nfilters, SECCOMP_FILTERS_MAX);
	st = calloc(1, sizeof(*st));
	if (!st)
		return err_sys(ENOMEM, "seccomp");
	rc = take_filters(st, &h, p, len);
	if (rc)
		seccomp_free(st);
	else
		*data = st;
	return rc;
}

/* Oldest first, as the process installed them: each later one must pass
 * the ones before it, as it did then.  Under pthaw's remapping (a new
 * PID) pthaw is the process's tracer, so a SECCOMP_RET_TRACE of its own,
 * which without a tracer fails the call with ENOSYS, would stop for
 * pthaw instead: refused. */
static int seccomp_restore(struct kind_restore *r, const void *data)
{
	const struct seccomp_state *st = data;
	struct sock_fprog prog;
	unsigned char *buf;
	long ret = 0;

	for (uint32_t i = 0; i < st->nfilters; i++)
		if ((uint32_t)r->self_pid != r->old_pid && returns_trace(&st->f[i]))
			return err_msg(ENOTSUP, "seccomp filter %u returns SECCOMP_RET_TRACE, which pthaw would answer as the tracer of a process with a new PID (it needs its PID %u back)",
				       i, r->old_pid);
	buf = malloc(sizeof(prog) + SECCOMP_INSNS_MAX * sizeof(struct sock_filter));
	if (!buf)
		return err_sys(ENOMEM, "seccomp");
	for (uint32_t i = 0; ret >= 0 && i < st->nfilters; i++) {
		size_t n = st->f[i].len * sizeof(struct sock_filter);

		prog.len = (unsigned short)st->f[i].len;
		prog.filter = (struct sock_filter *)(uintptr_t)(r->pl->hello.scratch + sizeof(prog));
		memcpy(buf, &prog, sizeof(prog));
		memcpy(buf + sizeof(prog), st->f[i].insns, n);
		ret = pload_call(r->pl, SYS_seccomp, SECCOMP_SET_MODE_FILTER, st->f[i].flags,
				 (long)r->pl->hello.scratch, 0, 0, 0, buf, sizeof(prog) + n);
		if (ret < 0 && ret != -EPIPE)
			err_sys((int)-ret, "installing seccomp filter %u of %u%s", i, st->nfilters,
				ret == -EACCES ? " (it needs no_new_privs or CAP_SYS_ADMIN)" :
				i ? " (the filters before it may forbid seccomp())" : "");
	}
	free(buf);
	return ret < 0 ? (int)ret : 0;
}

static void seccomp_print(FILE *f, const void *data)
{
	const struct seccomp_state *st = data;

	fprintf(f, "Seccomp: %u filter%s:", st->nfilters, st->nfilters == 1 ? "" : "s");
	for (uint32_t i = 0; i < st->nfilters; i++)
		fprintf(f, " %u instructions%s%s", st->f[i].len,
			st->f[i].flags & SECCOMP_FILTER_FLAG_LOG ? " (log)" : "",
			i + 1 < st->nfilters ? "," : "");
	fprintf(f, "\n");
}

static void seccomp_print_json(struct json *j, const void *data)
{
	const struct seccomp_state *st = data;

	json_array_begin(j, "filters");
	for (uint32_t i = 0; i < st->nfilters; i++) {
		json_object_begin(j, NULL);
		json_bool(j, "log", (st->f[i].flags & SECCOMP_FILTER_FLAG_LOG) != 0);
		json_array_begin(j, "insns");
		for (uint32_t k = 0; k < st->f[i].len; k++) {
			const struct sock_filter *in = &st->f[i].insns[k];

			json_object_begin(j, NULL);
			json_uint(j, "code", in->code);
			json_uint(j, "jt", in->jt);
			json_uint(j, "jf", in->jf);
			json_hex(j, "k", in->k);
			json_object_end(j);
		}
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_seccomp = {
	.name = "seccomp",
	.type = REC_SECCOMP,
	.stages = KIND_AT(KIND_STAGE_LAST),
	.capture = seccomp_capture,
	.write = seccomp_write,
	.take = seccomp_take,
	.restore = seccomp_restore,
	.print = seccomp_print,
	.print_json = seccomp_print_json,
	.free = seccomp_free,
};
