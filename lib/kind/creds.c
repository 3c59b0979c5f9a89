/* creds.c: the process's user and group ids (real, effective, saved, file
 * system) and supplementary groups.  pload takes the file system ids and
 * groups first, so that every file is opened as the process would open
 * it, and the rest last, after everything that needs pthaw's privileges.
 * Capabilities and securebits: caps.c. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <linux/securebits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int creds_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;
	struct rec_creds *cr = &s->creds;
	char val[8192], *p, *end;
	uint32_t *g = NULL;
	unsigned id[4];
	int rc;

	/* Read into id: the record's fields are packed, not aligned. */
	rc = proc_status_field(c->pid, "Uid", val, sizeof(val));
	if (!rc && sscanf(val, "%u %u %u %u", &id[0], &id[1], &id[2], &id[3]) != 4)
		rc = err_msg(EIO, "/proc/%d/status: bad Uid line", c->pid);
	if (!rc) {
		cr->uid = id[0], cr->euid = id[1], cr->suid = id[2], cr->fsuid = id[3];
		rc = proc_status_field(c->pid, "Gid", val, sizeof(val));
	}
	if (!rc && sscanf(val, "%u %u %u %u", &id[0], &id[1], &id[2], &id[3]) != 4)
		rc = err_msg(EIO, "/proc/%d/status: bad Gid line", c->pid);
	if (!rc)
		cr->gid = id[0], cr->egid = id[1], cr->sgid = id[2], cr->fsgid = id[3];
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
	s->groups = g;
	return 0;
}

static int creds_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;

	return rec_write(w, REC_CREDS, &s->creds, sizeof(s->creds), s->groups,
			 s->creds.ngroups * sizeof(*s->groups));
}

static int creds_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;

	if (len < sizeof(s->creds))
		return err_msg(EBADMSG, "creds record: too short");
	memcpy(&s->creds, p, sizeof(s->creds));
	if (s->creds.ngroups > REC_NGROUPS_MAX ||
	    len != sizeof(s->creds) + (size_t)s->creds.ngroups * sizeof(*s->groups))
		return err_msg(EBADMSG, "creds record: bad group count");
	s->groups = malloc(s->creds.ngroups * sizeof(*s->groups) + 1);
	if (!s->groups)
		return err_sys(ENOMEM, "groups");
	memcpy(s->groups, p + sizeof(s->creds), s->creds.ngroups * sizeof(*s->groups));
	return 0;
}

static int same_groups(const struct snap *s)
{
	gid_t g[256];
	int n = getgroups(256, g);

	if (n < 0 || (uint32_t)n != s->creds.ngroups)
		return 0;
	for (int i = 0; i < n; i++)
		if (g[i] != s->groups[i])
			return 0;
	return 1;
}

int creds_are_pthaws(const struct snap *s)
{
	const struct rec_creds *c = &s->creds;
	uid_t u[3];
	gid_t g[3];

	getresuid(&u[0], &u[1], &u[2]);
	getresgid(&g[0], &g[1], &g[2]);
	return u[0] == c->uid && u[1] == c->euid && u[2] == c->suid && u[1] == c->fsuid &&
	       g[0] == c->gid && g[1] == c->egid && g[2] == c->sgid && g[1] == c->fsgid &&
	       same_groups(s);
}

static int needs_root(const struct snap *s)
{
	return err_msg(EPERM, "the process ran as uid %u gid %u: restoring it needs root (or pthaw running with exactly those credentials)",
		       s->creds.uid, s->creds.gid);
}

/* Without privilege, the user namespace pthaw restores in maps only its
 * own uid and gid (pidns.c): any other id the process held would read as
 * the overflow id (65534) there, and setgroups is denied in it. */
static int userns_problem(const struct snap *s)
{
	const struct rec_creds *c = &s->creds;

	if (c->uid != c->euid || c->euid != c->suid || c->gid != c->egid || c->egid != c->sgid)
		return err_msg(EPERM, "the process ran with mixed ids (uid %u/%u/%u, gid %u/%u/%u, a setuid or setgid program): without root pthaw restores in a user namespace that maps only uid %u and gid %u; restoring it needs root",
			       c->uid, c->euid, c->suid, c->gid, c->egid, c->sgid, c->euid, c->egid);
	for (uint32_t i = 0; i < c->ngroups; i++)
		if (s->groups[i] != c->egid)
			return err_msg(EPERM, "the process had supplementary group %u: without root pthaw restores in a user namespace that maps only gid %u, where group %u would read as 65534; restoring it needs root",
				       s->groups[i], c->egid, s->groups[i]);
	return 0;
}

/* Before any page: another user's process needs root's pthaw. */
static int creds_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;

	if (!creds_are_pthaws(s) && geteuid() != 0)
		return kind_problem(c, needs_root(s));
	if (c->userns && userns_problem(s))
		return kind_problem(c, -EPERM);
	return 0;
}

#define PCALL(r, nr, a0, a1, a2) \
	pload_call((r)->pl, nr, (long)(a0), (long)(a1), (long)(a2), 0, 0, 0, NULL, 0)

/* Before the mappings: from here on pload opens files with the process's
 * credentials: its groups, and its fsuid/fsgid, which are what the kernel
 * checks on path lookup and open (a non-zero fsuid also takes root's file
 * capabilities, CAP_DAC_OVERRIDE and the like, out of the effective set,
 * while the other capabilities pthaw still needs stay). */
static int as_process(struct kind_restore *r, const struct snap *s)
{
	long ret;

	ret = pload_call(r->pl, SYS_setgroups, s->creds.ngroups, (long)r->pl->hello.scratch, 0, 0, 0, 0,
			 s->groups, s->creds.ngroups * sizeof(*s->groups));
	if (ret == -EPERM)
		return needs_root(s);
	if (ret < 0)
		return err_sys((int)-ret, "loader: setgroups");
	/* setfsuid and setfsgid answer with the old value, never an error:
	 * asking again with -1 (no change) tells whether it took. */
	PCALL(r, SYS_setfsgid, s->creds.fsgid, 0, 0);
	PCALL(r, SYS_setfsuid, s->creds.fsuid, 0, 0);
	if (PCALL(r, SYS_setfsgid, -1, 0, 0) != s->creds.fsgid ||
	    PCALL(r, SYS_setfsuid, -1, 0, 0) != s->creds.fsuid)
		return needs_root(s);
	return 0;
}

/* The process's credentials, last of all that needs pthaw's privileges
 * (limits, the memory layout fields) and before the seccomp filters.
 * Groups first, gids next: both need CAP_SETGID, which setresuid away
 * from root takes.  With a caps record, setresuid must take nothing:
 * caps.c sets the exact capability sets next, and needs cap_setpcap for
 * the bounding set and securebits.  SECBIT_NO_SETUID_FIXUP keeps the
 * kernel from clearing them on the uid change (caps.c then sets the
 * process's own securebits); if pthaw cannot set it, the sets are what
 * setresuid leaves and caps.c refuses what it cannot give. */
static int become_process(struct kind_restore *r, const struct snap *s)
{
	const struct rec_creds *c = &s->creds;
	long ret, bits;

	bits = s->kind[KIND_CAPS] ? PCALL(r, SYS_prctl, PR_GET_SECUREBITS, 0, 0) : -1;
	if (bits >= 0)
		PCALL(r, SYS_prctl, PR_SET_SECUREBITS, bits | SECBIT_NO_SETUID_FIXUP, 0);
	ret = PCALL(r, SYS_setresgid, c->gid, c->egid, c->sgid);
	if (!ret)
		PCALL(r, SYS_setfsgid, c->fsgid, 0, 0);
	if (!ret)
		ret = PCALL(r, SYS_setresuid, c->uid, c->euid, c->suid);
	if (!ret)
		PCALL(r, SYS_setfsuid, c->fsuid, 0, 0);
	if (ret == -EPERM)
		return needs_root(s);
	if (ret < 0)
		return err_sys((int)-ret, "loader: restoring the credentials");
	if (PCALL(r, SYS_setfsgid, -1, 0, 0) != c->fsgid || PCALL(r, SYS_setfsuid, -1, 0, 0) != c->fsuid)
		return err_msg(EPERM, "loader: fsuid %u / fsgid %u could not be restored", c->fsuid, c->fsgid);
	/* Changing the effective ids made the process non-dumpable: its owner
	 * could no longer read its /proc files or debug it.  Its owner could
	 * before, unless it ran with mixed ids (setuid), which stays so. */
	if (c->uid == c->euid && c->euid == c->suid && c->gid == c->egid && c->egid == c->sgid)
		PCALL(r, SYS_prctl, PR_SET_DUMPABLE, 1, 0);
	return 0;
}

/* Nothing to change (and no privilege needed) when pthaw, and so pload,
 * its child, already has the process's credentials. */
static int creds_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;

	if (creds_are_pthaws(s))
		return 0;
	return r->stage == KIND_STAGE_SPACE ? as_process(r, s) : become_process(r, s);
}

static void creds_print(FILE *f, const void *data)
{
	const struct snap *s = data;

	fprintf(f, "Credentials: uid %u/%u/%u/%u, gid %u/%u/%u/%u (real/effective/saved/fs), groups",
		s->creds.uid, s->creds.euid, s->creds.suid, s->creds.fsuid,
		s->creds.gid, s->creds.egid, s->creds.sgid, s->creds.fsgid);
	for (uint32_t i = 0; i < s->creds.ngroups; i++)
		fprintf(f, "%s%u", i ? "," : " ", s->groups[i]);
	fprintf(f, "%s\n", s->creds.ngroups ? "" : " none");
}

static void creds_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

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

const struct kind_ops kind_creds = {
	.name = "creds",
	.type = REC_CREDS,
	.flags = KIND_REQUIRED | KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_SPACE) | KIND_AT(KIND_STAGE_CREDS),
	.capture = creds_capture,
	.write = creds_write,
	.take = creds_take,
	.check = creds_check,
	.restore = creds_restore,
	.print = creds_print,
	.print_json = creds_print_json,
};
