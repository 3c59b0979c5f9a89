/* caps.c: the capability sets (inheritable, permitted, effective,
 * bounding, ambient), the securebits and no_new_privs of the process:
 * what confines a process beyond its uids.  Read from /proc/PID/status
 * and (securebits) from inside it; restored inside pload once
 * creds.c has set the uids, keeping pthaw's capabilities across
 * that change (SECBIT_NO_SETUID_FIXUP) so that they can be set exactly. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "inject.h"
#include "pload_ctl.h"
#include "proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The securebits a kernel may have (linux/securebits.h): noroot,
 * no_setuid_fixup, keep_caps, no_cap_ambient_raise, exec_restrict_file,
 * exec_deny_interactive, each with its lock bit. */
#define CAPS_SECUREBITS_MASK	0xfffu
#define CAPS_LAST_MAX		63u	/* the sets are 64-bit masks */

struct rec_caps {
	uint64_t inh, prm, eff, bnd, amb;
	uint32_t securebits;
	uint32_t no_new_privs;
	uint32_t last_cap;	/* /proc/sys/kernel/cap_last_cap of the capturing host */
	uint32_t pad;
};
/* Naturally aligned, so no packing: the record is this struct as is. */
_Static_assert(sizeof(struct rec_caps) == 56, "rec_caps has no padding");

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
	"setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
	"net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
	"sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
	"sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
	"setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

/* "cap_sys_admin" for the lowest capability of mask, in a static buffer. */
static const char *cap_name(uint64_t mask)
{
	static char buf[32];
	unsigned n = (unsigned)__builtin_ctzll(mask);

	if (n < sizeof(cap_names) / sizeof(cap_names[0]))
		snprintf(buf, sizeof(buf), "cap_%s", cap_names[n]);
	else
		snprintf(buf, sizeof(buf), "capability %u", n);
	return buf;
}

static uint64_t cap_mask(uint32_t last)
{
	return last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
}

static int last_cap(uint32_t *last)
{
	char buf[32];
	size_t n;
	int rc = proc_read_file("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf) - 1, &n);

	if (rc)
		return rc;
	buf[n] = 0;
	*last = (uint32_t)strtoul(buf, NULL, 10);
	if (*last < CAP_SETPCAP || *last > CAPS_LAST_MAX)
		return err_msg(ENOTSUP, "/proc/sys/kernel/cap_last_cap is %u", *last);
	return 0;
}

static int status_hex(pid_t pid, const char *key, uint64_t *v)
{
	char buf[64], *end;
	int rc = proc_status_field(pid, key, buf, sizeof(buf));

	if (rc)
		return rc;
	*v = strtoull(buf, &end, 16);
	if (end == buf || *end)
		return err_msg(EPROTO, "/proc/%d/status: %s is \"%s\"", pid, key, buf);
	return 0;
}

/* The capability sets and no_new_privs of pid, as /proc shows them. */
static int read_status(pid_t pid, struct rec_caps *k)
{
	uint64_t nnp = 0;
	int rc = status_hex(pid, "CapInh", &k->inh);

	if (!rc)
		rc = status_hex(pid, "CapPrm", &k->prm);
	if (!rc)
		rc = status_hex(pid, "CapEff", &k->eff);
	if (!rc)
		rc = status_hex(pid, "CapBnd", &k->bnd);
	if (!rc)
		rc = status_hex(pid, "CapAmb", &k->amb);
	if (!rc)
		rc = status_hex(pid, "NoNewPrivs", &nnp);
	k->no_new_privs = (uint32_t)nnp;
	return rc;
}

static int caps_capture(struct kind_capture *c, void **data)
{
	struct rec_caps *k = calloc(1, sizeof(*k));
	long ret = 0;
	int rc;

	if (!k)
		return err_sys(ENOMEM, "caps");
	*data = k;
	rc = last_cap(&k->last_cap);
	if (!rc)
		rc = read_status(c->pid, k);
	/* Only the process can tell its securebits. */
	if (!rc)
		rc = inject_query(c->inj, SYS_prctl, (long[6]){ PR_GET_SECUREBITS }, &ret);
	if (!rc && ret < 0)
		rc = err_sys((int)-ret, "process %d: reading its securebits", c->pid);
	if (!rc && ((uint64_t)ret & ~(uint64_t)CAPS_SECUREBITS_MASK))
		rc = err_msg(ENOTSUP, "process %d: securebits %#lx: unknown bits", c->pid, ret);
	if (!rc)
		k->securebits = (uint32_t)ret;
	return rc;
}

static int caps_write(const void *data, struct rec_writer *w)
{
	return rec_write(w, REC_CAPS, data, sizeof(struct rec_caps), NULL, 0);
}

/* The kernel keeps eff and amb within prm, amb within inh: a record that
 * breaks that describes no process. */
static int caps_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_caps k;
	uint64_t all;

	if (len != sizeof(k))
		return err_msg(EBADMSG, "caps record: %zu bytes, want %zu", len, sizeof(k));
	memcpy(&k, p, sizeof(k));
	if (k.last_cap < CAP_SETPCAP || k.last_cap > CAPS_LAST_MAX)
		return err_msg(EBADMSG, "caps record: last capability %u", k.last_cap);
	all = cap_mask(k.last_cap);
	if ((k.inh | k.prm | k.eff | k.bnd | k.amb) & ~all)
		return err_msg(EBADMSG, "caps record: a capability above the last one, %u", k.last_cap);
	if ((k.eff & ~k.prm) || (k.amb & ~(k.prm & k.inh)))
		return err_msg(EBADMSG, "caps record: effective or ambient capabilities not permitted");
	if ((k.securebits & ~CAPS_SECUREBITS_MASK) || k.no_new_privs > 1 || k.pad)
		return err_msg(EBADMSG, "caps record: malformed");
	*data = malloc(sizeof(k));
	if (!*data)
		return err_sys(ENOMEM, "caps");
	memcpy(*data, &k, sizeof(k));
	return 0;
}

static long call(struct kind_restore *r, long nr, long a0, long a1, long a2, const void *data,
		 size_t len)
{
	return pload_call(r->pl, nr, a0, a1, a2, 0, 0, 0, data, len);
}

/* capset(2) of pload with these sets (version 3: two 32-bit halves). */
static long set_caps(struct kind_restore *r, uint64_t inh, uint64_t prm, uint64_t eff)
{
	struct {
		struct __user_cap_header_struct h;
		struct __user_cap_data_struct d[2];
	} b = { { _LINUX_CAPABILITY_VERSION_3, 0 },
		{ { (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		  { (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) } } };
	long s = (long)r->pl->hello.scratch;

	return call(r, SYS_capset, s, s + (long)sizeof(b.h), 0, &b, sizeof(b));
}

static int refuse(const char *set, uint64_t missing)
{
	return err_msg(EPERM, "the process had %s in its %s set, which pthaw does not have to give",
		       cap_name(missing), set);
}

/* What pload has now (pthaw's, kept across the uid change) must cover
 * what the process had: a restore never adds a capability.  Then, in
 * the order the kernel allows: inheritable first and ambient next (both
 * while every permitted capability is still there), the bounding set and
 * the securebits (each needs cap_setpcap, which the last capset may drop),
 * the exact sets, and no_new_privs, which nothing can clear. */
static int caps_restore(struct kind_restore *r, const void *data)
{
	const struct rec_caps *want = data;
	struct rec_caps cur;
	uint32_t last;
	uint64_t all;
	long bits, ret = 0;
	int rc;

	rc = last_cap(&last);
	if (!rc)
		rc = read_status(r->pid, &cur);
	if (rc)
		return rc;
	all = cap_mask(last);
	/* A capability this kernel does not have cannot be given; one the
	 * capturing kernel did not have was not had. */
	if ((want->inh | want->prm | want->amb) & ~all)
		return err_msg(ENOTSUP, "the process had %s, which this kernel does not know",
			       cap_name((want->inh | want->prm | want->amb) & ~all));
	if (want->prm & ~cur.prm)
		return refuse("permitted", want->prm & ~cur.prm);
	if (want->bnd & all & ~cur.bnd)
		return refuse("bounding", want->bnd & all & ~cur.bnd);
	/* pload inherits pthaw's no_new_privs, which nothing clears (pthaw
	 * may also have set it for its remapping filter: pthaw(1)). */
	if (!want->no_new_privs && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return err_msg(EPERM, "pthaw runs with no_new_privs, which the process did not have");
	bits = call(r, SYS_prctl, PR_GET_SECUREBITS, 0, 0, NULL, 0);
	if (bits < 0)
		return err_sys((int)-bits, "loader: PR_GET_SECUREBITS");

	if (want->inh != cur.inh && (ret = set_caps(r, want->inh, cur.prm, cur.eff)) < 0)
		return err_sys((int)-ret, "restoring the inheritable capabilities %#" PRIx64 " (capset)",
			       want->inh);
	if (cur.amb && (ret = call(r, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, NULL, 0)) < 0)
		return err_sys((int)-ret, "clearing the ambient capabilities");
	for (uint64_t m = want->amb; m; m &= m - 1)
		if ((ret = call(r, SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
				__builtin_ctzll(m), NULL, 0)) < 0)
			return err_sys((int)-ret, "restoring ambient %s", cap_name(m));
	for (uint64_t m = cur.bnd & all & ~want->bnd; m; m &= m - 1)
		if ((ret = call(r, SYS_prctl, PR_CAPBSET_DROP, __builtin_ctzll(m), 0, NULL, 0)) < 0)
			return err_sys((int)-ret, "dropping %s from the bounding set%s", cap_name(m),
				       ret == -EPERM ? " (it needs cap_setpcap)" : "");
	/* Lock bits go in with the bits they lock: one call sets both. */
	if ((uint32_t)bits != want->securebits &&
	    (ret = call(r, SYS_prctl, PR_SET_SECUREBITS, want->securebits, 0, NULL, 0)) < 0)
		return err_sys((int)-ret, "restoring the securebits %#x%s", want->securebits,
			       ret == -EPERM ? " (it needs cap_setpcap, and no locked bit of pthaw's in the way)" : "");
	if ((ret = set_caps(r, want->inh, want->prm, want->eff)) < 0)
		return err_sys((int)-ret, "restoring the capabilities (capset)");
	if (want->no_new_privs && (ret = call(r, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, NULL, 0)) < 0)
		return err_sys((int)-ret, "setting no_new_privs");
	return 0;
}

/* Before any page: what caps_restore would refuse because pthaw (whose
 * sets pload starts with) lacks it. */
static int caps_check(struct kind_check *c, const void *data)
{
	const struct rec_caps *want = data;
	struct rec_caps cur;
	uint32_t last;
	uint64_t all;
	int rc = last_cap(&last);

	if (!rc)
		rc = read_status(getpid(), &cur);
	if (rc)
		return kind_problem(c, rc);
	all = cap_mask(last);
	if ((want->inh | want->prm | want->amb) & ~all)
		rc = err_msg(ENOTSUP, "the process had %s, which this kernel does not know",
			     cap_name((want->inh | want->prm | want->amb) & ~all));
	else if (want->prm & ~cur.prm)
		rc = refuse("permitted", want->prm & ~cur.prm);
	else if (want->bnd & all & ~cur.bnd)
		rc = refuse("bounding", want->bnd & all & ~cur.bnd);
	else if (!want->no_new_privs && prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		rc = err_msg(EPERM, "pthaw runs with no_new_privs, which the process did not have");
	/* In the user namespace of a restore without privilege pload has
	 * every capability, but only over that namespace: one the process
	 * had over the host cannot be given there. */
	else if (c->userns && (want->prm | want->inh | want->amb))
		rc = err_msg(EPERM, "the process had %s in its %s set: without root pthaw restores in a user namespace, where capabilities hold only inside it; restoring it needs root",
			     cap_name(want->prm ? want->prm : want->inh ? want->inh : want->amb),
			     want->prm ? "permitted" : want->inh ? "inheritable" : "ambient");
	return rc ? kind_problem(c, rc) : 0;
}

static void caps_print(FILE *f, const void *data)
{
	const struct rec_caps *k = data;

	fprintf(f, "Capabilities: inh %016" PRIx64 " prm %016" PRIx64 " eff %016" PRIx64
		" bnd %016" PRIx64 " amb %016" PRIx64 ", securebits %#x, no_new_privs %u, last %u\n",
		k->inh, k->prm, k->eff, k->bnd, k->amb, k->securebits, k->no_new_privs, k->last_cap);
}

static void caps_print_json(struct json *j, const void *data)
{
	const struct rec_caps *k = data;

	json_hex(j, "inheritable", k->inh);
	json_hex(j, "permitted", k->prm);
	json_hex(j, "effective", k->eff);
	json_hex(j, "bounding", k->bnd);
	json_hex(j, "ambient", k->amb);
	json_hex(j, "securebits", k->securebits);
	json_bool(j, "no_new_privs", (int)k->no_new_privs);
	json_uint(j, "last_cap", k->last_cap);
}

const struct kind_ops kind_caps = {
	.name = "caps",
	.type = REC_CAPS,
	.stages = KIND_AT(KIND_STAGE_CREDS),
	.capture = caps_capture,
	.write = caps_write,
	.take = caps_take,
	.check = caps_check,
	.restore = caps_restore,
	.print = caps_print,
	.print_json = caps_print_json,
};
