/* rlimits.c: the process's resource limits (setrlimit), restored after
 * its fds (pload needed a higher RLIMIT_NOFILE to place them).  A hard
 * limit above pthaw's own can only be restored with CAP_SYS_RESOURCE:
 * that is found out before any page is read. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const names[REC_NLIMITS] = {
	"cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile",
	"memlock", "as", "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
};

/* /proc/PID/limits: one line per limit in their numeric order, the soft
 * and hard values in fixed columns (26 and 47). */
static int limits_from_proc(pid_t pid, struct rec_rlimits *rl)
{
	char buf[4096], *line = buf;
	int rc = proc_read_text(pid, "limits", buf, sizeof(buf));

	for (int r = -1; !rc && r < REC_NLIMITS; r++) {
		char *nl = strchr(line, '\n');
		uint64_t v[2];

		if (!nl || nl - line < 60)
			return err_msg(EIO, "/proc/%d/limits: line %d is malformed", pid, r + 2);
		for (int k = 0; r >= 0 && k < 2; k++) {
			const char *f = line + (k ? 47 : 26);

			v[k] = strncmp(f, "unlimited", 9) == 0 ? RLIM_INFINITY : strtoull(f, NULL, 10);
		}
		if (r >= 0) {
			rl->cur[r] = v[0];
			rl->max[r] = v[1];
		}
		line = nl + 1;
	}
	return rc;
}

static int rlimits_capture(struct kind_capture *c, void **data)
{
	struct snap *s = *data;

	for (int r = 0; r < REC_NLIMITS; r++) {
		struct rlimit rl;

		/* Another user's limits need CAP_SYS_RESOURCE, which a root in
		 * a container may lack; /proc shows them to a tracer. */
		if (prlimit(c->pid, r, NULL, &rl) < 0 && errno == EPERM)
			return limits_from_proc(c->pid, &s->rlim);
		if (prlimit(c->pid, r, NULL, &rl) < 0)
			return err_sys(errno, "process %d: reading limit %s", c->pid, names[r]);
		s->rlim.cur[r] = rl.rlim_cur;
		s->rlim.max[r] = rl.rlim_max;
	}
	return 0;
}

static int rlimits_write(const void *data, struct rec_writer *w)
{
	const struct snap *s = data;

	return rec_write(w, REC_RLIMITS, &s->rlim, sizeof(s->rlim), NULL, 0);
}

static int rlimits_take(void **data, const unsigned char *p, size_t len)
{
	struct snap *s = *data;

	if (len != sizeof(s->rlim))
		return err_msg(EBADMSG, "rlimits record: %zu bytes, want %zu", len, sizeof(s->rlim));
	memcpy(&s->rlim, p, sizeof(s->rlim));
	for (int r = 0; r < REC_NLIMITS; r++)
		if (s->rlim.cur[r] > s->rlim.max[r])
			return err_msg(EBADMSG, "rlimits record: %s soft limit above its hard limit", names[r]);
	return 0;
}

static int has_cap_sys_resource(void)
{
	char v[32];
	unsigned long long eff;

	return proc_status_field(getpid(), "CapEff", v, sizeof(v)) == 0 &&
	       sscanf(v, "%llx", &eff) == 1 && (eff >> CAP_SYS_RESOURCE & 1);
}

/* Raising a hard limit needs CAP_SYS_RESOURCE (pload has pthaw's limits;
 * RLIMIT_NOFILE as pthaw raises it for pload, up to its hard limit). */
static int rlimits_check(struct kind_check *c, const void *data)
{
	const struct snap *s = data;
	int rc = 0;

	if (has_cap_sys_resource()) {
		err_clear();
		return 0;
	}
	err_clear();
	for (int r = 0; r < REC_NLIMITS; r++) {
		struct rlimit rl;

		if (getrlimit(r, &rl) < 0 || rl.rlim_max == RLIM_INFINITY || s->rlim.max[r] <= rl.rlim_max)
			continue;
		rc = kind_problem(c, err_msg(EPERM, "resource limit %s: its hard limit %llu is above pthaw's (%llu): restoring it needs CAP_SYS_RESOURCE",
					     names[r], (unsigned long long)s->rlim.max[r],
					     (unsigned long long)rl.rlim_max));
		if (!c->out)
			return rc;
	}
	return rc;
}

static int rlimits_restore(struct kind_restore *r, const void *data)
{
	const struct snap *s = data;

	for (int i = 0; i < REC_NLIMITS; i++) {
		uint64_t lim[2] = { s->rlim.cur[i], s->rlim.max[i] };
		long ret = pload_call(r->pl, SYS_prlimit64, 0, i, (long)r->pl->hello.scratch, 0, 0, 0,
				      lim, sizeof(lim));

		if (ret < 0)
			return err_sys((int)-ret, "restoring resource limit %s", names[i]);
	}
	return 0;
}

static void rlimits_print(FILE *f, const void *data)
{
	const struct snap *s = data;

	fprintf(f, "Resource limits (soft/hard):");
	for (int r = 0; r < REC_NLIMITS; r++) {
		fprintf(f, "%s %s ", r ? "," : "", names[r]);
		if (s->rlim.cur[r] == UINT64_MAX)
			fprintf(f, "unlimited");
		else
			fprintf(f, "%llu", (unsigned long long)s->rlim.cur[r]);
		if (s->rlim.max[r] == UINT64_MAX)
			fprintf(f, "/unlimited");
		else
			fprintf(f, "/%llu", (unsigned long long)s->rlim.max[r]);
	}
	fprintf(f, "\n");
}

/* RLIM_INFINITY is a string: as a number it would pass 2^53. */
static void rlimits_print_json(struct json *j, const void *data)
{
	const struct snap *s = data;

	json_object_begin(j, "rlimits");
	for (int i = 0; i < REC_NLIMITS; i++) {
		json_object_begin(j, names[i]);
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

const struct kind_ops kind_rlimits = {
	.name = "rlimits",
	.type = REC_RLIMITS,
	.flags = KIND_REQUIRED | KIND_IN_SNAP,
	.stages = KIND_AT(KIND_STAGE_FILES),
	.capture = rlimits_capture,
	.write = rlimits_write,
	.take = rlimits_take,
	.check = rlimits_check,
	.restore = rlimits_restore,
	.print = rlimits_print,
	.print_json = rlimits_print_json,
};
