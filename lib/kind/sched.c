/* sched.c: how the process is scheduled: its policy and the policy's
 * parameters (RT priority, SCHED_DEADLINE runtime/deadline/period, the
 * utilization clamps, SCHED_RESET_ON_FORK), its nice value, and how the
 * OOM killer sees it (oom_score_adj).  All of them are read from outside
 * (sched_getattr and getpriority take any PID, /proc/PID/oom_score_adj is
 * world-readable); pload sets them on itself, with pthaw's privileges. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SCHED_DEADLINE
#define SCHED_DEADLINE 6
#endif
#ifndef SCHED_EXT
#define SCHED_EXT 7
#endif

/* The flags sched_getattr reports and sched_setattr takes back. */
#define SCHED_KEPT_FLAGS (SCHED_FLAG_RESET_ON_FORK | SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN)
#define SCHED_UCLAMP_MAX 1024	/* SCHED_CAPACITY_SCALE */

struct rec_sched {
	uint32_t policy;	/* SCHED_OTHER ... SCHED_EXT */
	uint32_t flags;		/* SCHED_KEPT_FLAGS */
	int32_t nice;		/* -20..19, also kept under an RT policy */
	uint32_t priority;	/* 1..99 under SCHED_FIFO/SCHED_RR, else 0 */
	uint64_t runtime, deadline, period;	/* ns, SCHED_DEADLINE only */
	uint32_t util_min, util_max;		/* 0..1024 (both 0: no uclamp) */
	int32_t oom_score_adj;	/* -1000..1000 */
	uint32_t pad;
} __attribute__((packed));

static const char *policy_name(uint32_t p)
{
	static const char *const names[] = { "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
					     "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE", "SCHED_EXT" };

	return p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static int is_rt(uint32_t p)
{
	return p == SCHED_FIFO || p == SCHED_RR;
}

/* sched_getattr of pid; the kernel fills what it has up to size. */
static int get_attr(pid_t pid, struct sched_attr *a, const char *who)
{
	memset(a, 0, sizeof(*a));
	if (syscall(SYS_sched_getattr, pid, a, sizeof(*a), 0) < 0)
		return err_sys(errno, "%s: sched_getattr", who);
	return 0;
}

static int sched_capture(struct kind_capture *c, void **data)
{
	struct rec_sched *s = calloc(1, sizeof(*s));
	struct sched_attr a;
	char who[32], buf[32];
	int rc;

	if (!s)
		return err_sys(ENOMEM, "sched");
	*data = s;
	snprintf(who, sizeof(who), "process %d", c->pid);
	rc = get_attr(c->pid, &a, who);
	if (rc)
		return rc;
	s->policy = a.sched_policy;
	s->flags = (uint32_t)(a.sched_flags & SCHED_KEPT_FLAGS);
	s->priority = a.sched_priority;
	if (s->policy == SCHED_DEADLINE) {
		s->runtime = a.sched_runtime;
		s->deadline = a.sched_deadline;
		s->period = a.sched_period;
	}
	s->util_min = a.sched_util_min;
	s->util_max = a.sched_util_max;
	/* sched_getattr tells nice only under a fair policy; the task keeps
	 * one under the others too (it returns to it with SCHED_OTHER). */
	errno = 0;
	s->nice = getpriority(PRIO_PROCESS, (id_t)c->pid);
	if (errno)
		return err_sys(errno, "%s: getpriority", who);
	rc = proc_read_text(c->pid, "oom_score_adj", buf, sizeof(buf));
	if (rc)
		return rc;
	s->oom_score_adj = atoi(buf);
	if (s->policy > SCHED_EXT || s->policy == 4)
		return err_msg(ENOTSUP, "%s: scheduling policy %u is unknown", who, s->policy);
	return 0;
}

static int sched_write(const void *data, struct rec_writer *w)
{
	return rec_write(w, REC_SCHED, data, sizeof(struct rec_sched), NULL, 0);
}

static int sched_take(void **data, const unsigned char *p, size_t len)
{
	struct rec_sched s;
	const char *bad = NULL;

	if (len != sizeof(s))
		return err_msg(EBADMSG, "sched record: %zu bytes, want %zu", len, sizeof(s));
	memcpy(&s, p, sizeof(s));
	if (s.policy > SCHED_EXT || s.policy == 4)
		bad = "unknown policy";
	else if (s.flags & ~(uint32_t)SCHED_KEPT_FLAGS)
		bad = "unknown flags";
	else if (s.nice < -20 || s.nice > 19)
		bad = "nice out of range";
	else if (is_rt(s.policy) ? s.priority < 1 || s.priority > 99 : s.priority != 0)
		bad = "priority does not fit the policy";
	else if (s.policy != SCHED_DEADLINE && (s.runtime || s.deadline || s.period))
		bad = "deadline parameters without SCHED_DEADLINE";
	else if (s.policy == SCHED_DEADLINE &&
		 (!s.runtime || s.runtime > s.deadline || (s.period && s.deadline > s.period)))
		bad = "deadline parameters out of order";
	else if (s.util_min > s.util_max || s.util_max > SCHED_UCLAMP_MAX)
		bad = "utilization clamps out of range";
	else if (s.oom_score_adj < -1000 || s.oom_score_adj > 1000)
		bad = "oom_score_adj out of range";
	else if (s.pad)
		bad = "padding not zero";
	if (bad)
		return err_msg(EBADMSG, "sched record: %s", bad);
	*data = malloc(sizeof(s));
	if (!*data)
		return err_sys(ENOMEM, "sched");
	memcpy(*data, &s, sizeof(s));
	return 0;
}

/* The utilization clamps, when this kernel has them and pload's (the
 * kernel's defaults for the policy just set) differ from the process's. */
static int restore_uclamp(struct kind_restore *r, const struct rec_sched *s)
{
	struct sched_attr a;
	char who[32];
	long ret;
	int rc;

	if (!s->util_max)
		return 0;	/* captured under a kernel without uclamp */
	snprintf(who, sizeof(who), "loader %d", r->pid);
	rc = get_attr(r->pid, &a, who);
	if (rc || (a.sched_util_min == s->util_min && a.sched_util_max == s->util_max))
		return rc;
	/* This kernel has no clamps; the process had the defaults. */
	if (!a.sched_util_max && !s->util_min && s->util_max == SCHED_UCLAMP_MAX)
		return 0;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.sched_flags = SCHED_FLAG_KEEP_ALL | SCHED_FLAG_UTIL_CLAMP;
	a.sched_util_min = s->util_min;
	a.sched_util_max = s->util_max;
	ret = pload_call(r->pl, SYS_sched_setattr, 0, (long)r->pl->hello.scratch, 0, 0, 0, 0, &a,
			 sizeof(a));
	if (ret == -EPERM)
		return err_msg(EPERM, "the process's utilization clamps (%u..%u) need a privilege pthaw lacks (CAP_SYS_NICE)",
			       s->util_min, s->util_max);
	if (ret < 0)
		return err_sys((int)-ret, "restoring the utilization clamps %u..%u", s->util_min,
			       s->util_max);
	return 0;
}

/* oom_score_adj, written by pthaw: lowering it below the floor pload
 * inherited from pthaw needs CAP_SYS_RESOURCE (the kernel checks the
 * writer), so pthaw gives the process no more than pthaw could take. */
static int restore_oom(struct kind_restore *r, const struct rec_sched *s)
{
	char path[64], val[16];
	int fd, n;
	ssize_t w;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", r->pid);
	n = snprintf(val, sizeof(val), "%d\n", s->oom_score_adj);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(errno, "%s", path);
	w = write(fd, val, (size_t)n);
	n = w < 0 ? errno : 0;
	close(fd);
	if (n == EACCES || n == EPERM)
		return err_msg(EACCES, "oom_score_adj %d is below what pthaw may set (CAP_SYS_RESOURCE lowers it)",
			       s->oom_score_adj);
	if (n)
		return err_sys(n, "restoring oom_score_adj %d", s->oom_score_adj);
	return 0;
}

/* Before the credentials: pthaw's privileges (CAP_SYS_NICE) and the
 * process's own RLIMIT_NICE and RLIMIT_RTPRIO, restored with the fds,
 * are what may give it a nice value below pload's or an RT policy. */
static int sched_restore(struct kind_restore *r, const void *data)
{
	const struct rec_sched *s = data;
	struct sched_attr a = { .size = SCHED_ATTR_SIZE_VER0 };
	long ret;
	int rc;

	/* First, while pload still has a fair policy, for which setpriority
	 * and sched_setattr mean the same nice. */
	ret = pload_call(r->pl, SYS_setpriority, PRIO_PROCESS, 0, s->nice, 0, 0, 0, NULL, 0);
	if (ret == -EACCES || ret == -EPERM)
		return err_msg(EACCES, "nice %d is below pthaw's own: giving it needs CAP_SYS_NICE or RLIMIT_NICE",
			       s->nice);
	if (ret < 0)
		return err_sys((int)-ret, "restoring nice %d", s->nice);
	a.sched_policy = s->policy;
	a.sched_flags = s->flags;
	a.sched_nice = s->nice;
	a.sched_priority = s->priority;
	a.sched_runtime = s->runtime;
	a.sched_deadline = s->deadline;
	a.sched_period = s->period;
	ret = pload_call(r->pl, SYS_sched_setattr, 0, (long)r->pl->hello.scratch, 0, 0, 0, 0, &a,
			 SCHED_ATTR_SIZE_VER0);
	if (ret == -EPERM)
		return err_msg(EPERM, "scheduling policy %s (priority %u%s) needs a privilege pthaw lacks (CAP_SYS_NICE%s)",
			       policy_name(s->policy), s->priority,
			       s->flags & SCHED_FLAG_RESET_ON_FORK ? ", SCHED_RESET_ON_FORK" : "",
			       is_rt(s->policy) ? " or RLIMIT_RTPRIO" : "");
	if (ret < 0)
		return err_sys((int)-ret, "restoring scheduling policy %s", policy_name(s->policy));
	rc = restore_uclamp(r, s);
	if (!rc)
		rc = restore_oom(r, s);
	return rc;
}

static void sched_print(FILE *f, const void *data)
{
	const struct rec_sched *s = data;

	fprintf(f, "Scheduling: %s%s, priority %u, nice %d", policy_name(s->policy),
		s->flags & SCHED_FLAG_RESET_ON_FORK ? " | SCHED_RESET_ON_FORK" : "", s->priority,
		s->nice);
	if (s->policy == SCHED_DEADLINE)
		fprintf(f, ", runtime %llu deadline %llu period %llu ns (flags 0x%x)",
			(unsigned long long)s->runtime, (unsigned long long)s->deadline,
			(unsigned long long)s->period, s->flags);
	if (s->util_max)
		fprintf(f, ", uclamp %u..%u", s->util_min, s->util_max);
	fprintf(f, ", oom_score_adj %d\n", s->oom_score_adj);
}

static void sched_print_json(struct json *j, const void *data)
{
	const struct rec_sched *s = data;

	json_str(j, "policy", policy_name(s->policy));
	json_bool(j, "reset_on_fork", (s->flags & SCHED_FLAG_RESET_ON_FORK) != 0);
	json_hex(j, "flags", s->flags);
	json_uint(j, "priority", s->priority);
	json_int(j, "nice", s->nice);
	json_uint(j, "runtime_ns", s->runtime);
	json_uint(j, "deadline_ns", s->deadline);
	json_uint(j, "period_ns", s->period);
	json_uint(j, "util_min", s->util_min);
	json_uint(j, "util_max", s->util_max);
	json_int(j, "oom_score_adj", s->oom_score_adj);
}

const struct kind_ops kind_sched = {
	.name = "sched",
	.type = REC_SCHED,
	.stages = KIND_AT(KIND_STAGE_TASK),
	.capture = sched_capture,
	.write = sched_write,
	.take = sched_take,
	.restore = sched_restore,
	.print = sched_print,
	.print_json = sched_print_json,
};
