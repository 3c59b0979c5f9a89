/* prctl.c: the per-process attributes a program sets with prctl(2) and
 * personality(2): THP disable, child subreaper, parent-death signal,
 * dumpable, timer slack, personality.  Only the process can read them,
 * so they are asked for by calls injected into it. */
#include "kind.h"
#include "err.h"
#include "inject.h"
#include "json.h"
#include "pload_ctl.h"
#include "snap.h"
#include "treeshare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

struct rec_prctl {
	uint32_t thp_disable;
	uint32_t child_subreaper;
	uint32_t pdeathsig;
	uint32_t dumpable;
	uint64_t timerslack;	/* ns; 0 under an RT or deadline policy */
	uint32_t personality;
	uint32_t pad;
} __attribute__((packed));

static int query(struct kind_capture *c, long nr, long a0, long a1, long *ret)
{
	int rc = inject_query(c->inj, nr, (long[6]){ a0, a1 }, ret);

	if (!rc && *ret < 0 && *ret > -4096)
		rc = err_sys((int)-*ret, "process %d: reading its %s", c->pid,
			     nr == SYS_personality ? "personality" : "prctl attributes");
	return rc;
}

static int prctl_capture(struct kind_capture *c, void **data)
{
	struct rec_prctl *p = calloc(1, sizeof(*p));
	long scratch = (long)c->inj->scratch, ret;
	int32_t v;
	int rc;

	if (!p)
		return err_sys(ENOMEM, "prctl");
	*data = p;
	rc = query(c, SYS_prctl, PR_GET_THP_DISABLE, 0, &ret);
	p->thp_disable = (uint32_t)ret;
	if (!rc)
		rc = query(c, SYS_prctl, PR_GET_CHILD_SUBREAPER, scratch, &ret);
	if (!rc && !(rc = inject_read_scratch(c->inj, &v, sizeof(v))))
		p->child_subreaper = (uint32_t)v;
	if (!rc)
		rc = query(c, SYS_prctl, PR_GET_PDEATHSIG, scratch, &ret);
	if (!rc && !(rc = inject_read_scratch(c->inj, &v, sizeof(v))))
		p->pdeathsig = (uint32_t)v;
	if (!rc && !(rc = query(c, SYS_prctl, PR_GET_DUMPABLE, 0, &ret)))
		p->dumpable = (uint32_t)ret;
	/* 2 comes only from fs.suid_dumpable; prctl can set 0 or 1. */
	if (!rc && p->dumpable > 1)
		rc = err_msg(ENOTSUP, "process %d: dumpable is %u (fs.suid_dumpable), which cannot be set again",
			     c->pid, p->dumpable);
	if (!rc && !(rc = query(c, SYS_prctl, PR_GET_TIMERSLACK, 0, &ret)))
		p->timerslack = (uint64_t)ret;
	/* 0xffffffff asks without changing it. */
	if (!rc && !(rc = query(c, SYS_personality, 0xffffffff, 0, &ret)))
		p->personality = (uint32_t)ret;
	return rc;
}

static int prctl_write(const void *data, struct rec_writer *w)
{
	return rec_write(w, REC_PRCTL, data, sizeof(struct rec_prctl), NULL, 0);
}

static int prctl_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_prctl r;

	if (len != sizeof(r))
		return err_msg(EBADMSG, "prctl record: %zu bytes, want %zu", len, sizeof(r));
	memcpy(&r, p, sizeof(r));
	if (r.thp_disable > 1 || r.child_subreaper > 1 || r.pdeathsig > 64 || r.dumpable > 1 ||
	    r.pad)
		return err_msg(EBADMSG, "prctl record: malformed");
	*data = malloc(sizeof(r));
	if (!*data)
		return err_sys(ENOMEM, "prctl");
	memcpy(*data, &r, sizeof(r));
	return 0;
}

static int set(struct kind_restore *r, const char *what, long nr, long a0, long a1)
{
	long ret = pload_call(r->pl, nr, a0, a1, 0, 0, 0, 0, NULL, 0);

	if (ret < 0 && ret > -4096)
		return err_sys((int)-ret, "restoring %s", what);
	return 0;
}

/* Last of the task's own attributes: restoring credentials may have made
 * the kernel reset dumpable. */
static int prctl_restore(struct kind_restore *r, const void *data)
{
	const struct rec_prctl *p = data;
	pid_t seen;
	int rc;

	/* A child in a tree has its parent back, restored before it: only
	 * a parent outside the tree becomes pthaw. */
	if (p->pdeathsig && r->detach && !(r->tree && tshare_restored(r->snap->proc.ppid, &seen)))
		return err_msg(ENOTSUP, "the process has a parent-death signal (PR_SET_PDEATHSIG %u): with -detach its new parent, pthaw, would go at once and send it",
			       p->pdeathsig);
	rc = set(r, "PR_SET_THP_DISABLE", SYS_prctl, PR_SET_THP_DISABLE, p->thp_disable);
	if (!rc)
		rc = set(r, "PR_SET_CHILD_SUBREAPER", SYS_prctl, PR_SET_CHILD_SUBREAPER, p->child_subreaper);
	/* Its parent is now pthaw, which lives as long as it does. */
	if (!rc)
		rc = set(r, "PR_SET_PDEATHSIG", SYS_prctl, PR_SET_PDEATHSIG, p->pdeathsig);
	/* The kernel keeps an RT task's slack at 0 and ignores this; sched
	 * (restored before) made it so. */
	if (!rc)
		rc = set(r, "PR_SET_TIMERSLACK", SYS_prctl, PR_SET_TIMERSLACK, (long)p->timerslack);
	if (!rc)
		rc = set(r, "the personality", SYS_personality, p->personality, 0);
	if (!rc)
		rc = set(r, "PR_SET_DUMPABLE", SYS_prctl, PR_SET_DUMPABLE, p->dumpable);
	return rc;
}

static void prctl_print(FILE *f, const void *data)
{
	const struct rec_prctl *p = data;

	fprintf(f, "Process attributes: thp_disable %u, child_subreaper %u, pdeathsig %u, dumpable %u, timerslack %llu ns, personality 0x%x\n",
		p->thp_disable, p->child_subreaper, p->pdeathsig, p->dumpable,
		(unsigned long long)p->timerslack, p->personality);
}

static void prctl_print_json(struct json *j, const void *data)
{
	const struct rec_prctl *p = data;

	json_bool(j, "thp_disable", (int)p->thp_disable);
	json_bool(j, "child_subreaper", (int)p->child_subreaper);
	json_uint(j, "pdeathsig", p->pdeathsig);
	json_uint(j, "dumpable", p->dumpable);
	json_uint(j, "timerslack_ns", p->timerslack);
	json_hex(j, "personality", p->personality);
}

const struct kind_ops kind_prctl = {
	.name = "prctl",
	.type = REC_PRCTL,
	.flags = KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_CREDS),
	.capture = prctl_capture,
	.write = prctl_write,
	.take = prctl_take,
	.restore = prctl_restore,
	.print = prctl_print,
	.print_json = prctl_print_json,
};
