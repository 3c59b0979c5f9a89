/* sched.c: how the process is scheduled: its policy and the policy's
 * parameters (RT priority, SCHED_DEADLINE runtime/deadline/period, the
 * utilization clamps, SCHED_RESET_ON_FORK), its nice value, the CPUs it
 * may run on (affinity), its I/O priority, and how the OOM killer sees it
 * (oom_score_adj).  All of them are read from outside (sched_getattr,
 * getpriority, sched_getaffinity and ioprio_get take any PID and ask no
 * privilege over it, /proc/PID/oom_score_adj is world-readable), so no
 * call is injected; pload sets them on itself, with pthaw's privileges. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "pload_ctl.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/ioprio.h>
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

/* The affinity mask a record can hold: CPUs 0..1023, in 64-bit words. */
#define SCHED_CPU_WORDS 16
#define SCHED_CPU_MAX (SCHED_CPU_WORDS * 64)
/* What pfrez and pthaw read of a mask: the kernel refuses a buffer
 * shorter than its nr_cpu_ids bits, so they read room for 8192 CPUs. */
#define SCHED_READ_WORDS 128
/* cpu_flags: the process could run on every CPU online when captured
 * (the default): no mask follows, it restores as every CPU here. */
#define SCHED_CPUS_ALL 1u
/* Room for the list of any mask a record holds ("0,2,4,...,1022"). */
#define SCHED_CPU_LIST 4096

#define IOPRIO_DATA_MAX IOPRIO_PRIO_MASK	/* 13 bits: level, hints */

/* The record: these 64 bytes, then cpu_words 64-bit words of the mask. */
struct rec_sched {
	uint32_t policy;	/* SCHED_OTHER ... SCHED_EXT */
	uint32_t flags;		/* SCHED_KEPT_FLAGS */
	int32_t nice;		/* -20..19, also kept under an RT policy */
	uint32_t priority;	/* 1..99 under SCHED_FIFO/SCHED_RR, else 0 */
	uint64_t runtime, deadline, period;	/* ns, SCHED_DEADLINE only */
	uint32_t util_min, util_max;		/* 0..1024 (both 0: no uclamp) */
	int32_t oom_score_adj;	/* -1000..1000 */
	uint16_t ioprio_class;	/* IOPRIO_CLASS_NONE ... IOPRIO_CLASS_IDLE */
	uint16_t ioprio_data;	/* its level and hints; 0 under NONE */
	uint32_t cpu_flags;	/* SCHED_CPUS_ALL */
	uint32_t cpu_words;	/* 1..SCHED_CPU_WORDS, 0 with SCHED_CPUS_ALL */
} __attribute__((packed));

/* What take and capture fill: the record and its mask. */
struct sched_state {
	struct rec_sched r;
	uint64_t cpus[SCHED_CPU_WORDS];
};

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

static const char *ioprio_name(uint32_t c)
{
	static const char *const names[] = { "none", "realtime", "best-effort", "idle" };

	return c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

static int cpu_isset(const uint64_t *m, unsigned cpu)
{
	return m[cpu / 64] >> (cpu % 64) & 1;
}

/* The CPUs of m (words 64-bit words) as the kernel lists them in
 * Cpus_allowed_list: "0,2-5"; "" when there is none. */
static const char *cpu_list(char *buf, size_t len, const uint64_t *m, unsigned words)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned c = 0; c < words * 64 && n < len; c++) {
		unsigned e = c;

		if (!cpu_isset(m, c))
			continue;
		while (e + 1 < words * 64 && cpu_isset(m, e + 1))
			e++;
		n += (size_t)snprintf(buf + n, len - n, e == c ? "%s%u" : "%s%u-%u", n ? "," : "", c, e);
		c = e;
	}
	return buf;
}

/* Parses a CPU list ("0-3,8\n", /sys/devices/system/cpu/online) into m;
 * -1 when it is not one or names a CPU past words * 64. */
static int cpu_parse(const char *s, uint64_t *m, unsigned words)
{
	memset(m, 0, words * sizeof(*m));
	while (*s && *s != '\n') {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;

		if (end == s)
			return -1;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return -1;
		}
		if (b >= words * 64)
			return -1;
		for (unsigned long c = a; c <= b; c++)
			m[c / 64] |= 1ull << (c % 64);
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* The CPUs online on this host; -1 when sysfs does not say. */
static int cpus_online(uint64_t *m, unsigned words)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return cpu_parse(buf, m, words);
}

/* The CPU affinity of pid (0: the caller) in m (SCHED_READ_WORDS). */
static int get_affinity(pid_t pid, uint64_t *m, const char *who)
{
	long n;

	memset(m, 0, SCHED_READ_WORDS * sizeof(*m));
	n = syscall(SYS_sched_getaffinity, pid, SCHED_READ_WORDS * sizeof(*m), m);
	if (n < 0)
		return err_sys(errno, "%s: sched_getaffinity", who);
	return 0;
}

/* Whether this pthaw has capability cap in its effective set. */
static int has_cap(int cap)
{
	char v[64];
	unsigned long long eff;

	return proc_status_field(getpid(), "CapEff", v, sizeof(v)) == 0 &&
	       sscanf(v, "%llx", &eff) == 1 && (eff >> cap & 1);
}

/* The CPUs the process may run on.  A process nobody confined may run on
 * every CPU: that is recorded as such (SCHED_CPUS_ALL), not as the list of
 * this host's CPUs, so that it restores as every CPU of a host with fewer
 * or other CPUs instead of being refused there.  Any other mask is a
 * choice (taskset, a cpuset, the program's own sched_setaffinity) that is
 * restored exactly or not at all (sched_check). */
static int capture_affinity(pid_t pid, struct sched_state *s, const char *who)
{
	uint64_t m[SCHED_READ_WORDS], on[SCHED_READ_WORDS];
	int all = 1, rc = get_affinity(pid, m, who);
	unsigned w;

	if (rc)
		return rc;
	/* Without sysfs it cannot tell the default from a choice: the exact
	 * mask is the one that is never wrong. */
	if (cpus_online(on, SCHED_READ_WORDS))
		all = 0;
	for (w = 0; all && w < SCHED_READ_WORDS; w++)
		all = (m[w] & on[w]) == on[w];
	if (all) {
		s->r.cpu_flags = SCHED_CPUS_ALL;
		return 0;
	}
	for (w = SCHED_CPU_WORDS; w < SCHED_READ_WORDS; w++)
		if (m[w])
			return err_msg(ENOTSUP, "%s: its CPU affinity includes CPU %u or more: a snapshot records CPUs 0-%u only",
				       who, SCHED_CPU_MAX, SCHED_CPU_MAX - 1);
	for (w = SCHED_CPU_WORDS; w > 0 && !m[w - 1]; w--)
		;
	if (!w)
		return err_msg(ENOTSUP, "%s: sched_getaffinity: no CPU", who);
	s->r.cpu_words = w;
	memcpy(s->cpus, m, w * sizeof(*m));
	return 0;
}

/* The I/O priority (ioprio_get asks no privilege).  Class NONE means "as
 * the nice value says"; older kernels report a level with it that means
 * nothing and that ioprio_set refuses, so it is dropped. */
static int capture_ioprio(pid_t pid, struct sched_state *s, const char *who)
{
	long v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, pid);

	if (v < 0)
		return err_sys(errno, "%s: ioprio_get", who);
	s->r.ioprio_class = (uint16_t)(v >> IOPRIO_CLASS_SHIFT);
	s->r.ioprio_data = (uint16_t)(v & IOPRIO_DATA_MAX);
	if (s->r.ioprio_class > IOPRIO_CLASS_IDLE)
		return err_msg(ENOTSUP, "%s: I/O priority class %u is unknown", who, s->r.ioprio_class);
	if (s->r.ioprio_class == IOPRIO_CLASS_NONE)
		s->r.ioprio_data = 0;
	return 0;
}

/* sched_getattr of pid; the kernel fills what it has up to size. */
static int get_attr(pid_t pid, struct sched_attr *a, const char *who)
{
	memset(a, 0, sizeof(*a));
	if (syscall(SYS_sched_getattr, pid, a, sizeof(*a), 0) < 0)
		return err_sys(errno, "%s: sched_getattr", who);
	return 0;
}

/* The attributes are restored to every thread from the main thread's:
 * a thread with its own (a policy, priority, nice value or CPU set it
 * chose) would come back different, so it is refused by name. */
static int threads_alike(struct kind_capture *c, const struct sched_attr *main_attr, int main_nice)
{
	uint64_t m0[SCHED_READ_WORDS], m[SCHED_READ_WORDS];
	char who[48], slack0[32] = "", slack[32];
	int rc = get_affinity(c->pid, m0, "the main thread");

	/* /proc/TID/timerslack_ns: the file is a thread's, not under task/. */
	if (c->nthreads > 1 && proc_read_text(c->pid, "timerslack_ns", slack0, sizeof(slack0)))
		err_clear();	/* no timer slack to compare (an old kernel) */

	for (size_t i = 1; !rc && i < c->nthreads; i++) {
		pid_t tid = c->threads[i].tid;
		struct sched_attr a;
		const char *what = NULL;
		int nice;

		snprintf(who, sizeof(who), "process %d: thread %d", c->pid, tid);
		rc = get_attr(tid, &a, who);
		if (!rc)
			rc = get_affinity(tid, m, who);
		if (rc)
			break;
		errno = 0;
		nice = getpriority(PRIO_PROCESS, (id_t)tid);
		if (errno)
			return err_sys(errno, "%s: getpriority", who);
		if (a.sched_policy != main_attr->sched_policy || a.sched_priority != main_attr->sched_priority ||
		    a.sched_runtime != main_attr->sched_runtime || a.sched_deadline != main_attr->sched_deadline ||
		    a.sched_period != main_attr->sched_period)
			what = "scheduling policy";
		else if (nice != main_nice)
			what = "nice value";
		else if (memcmp(m, m0, sizeof(m)))
			what = "CPU affinity";
		if (!what && slack0[0] && !proc_read_text(tid, "timerslack_ns", slack, sizeof(slack)) &&
		    strcmp(slack, slack0))
			what = "timer slack";
		if (what)
			return err_msg(ENOTSUP, "%s has a %s of its own, other than the main thread's: threads are restored with the main thread's scheduling attributes",
				       who, what);
	}
	return rc;
}

static int sched_capture(struct kind_capture *c, void **data)
{
	struct sched_state *st = calloc(1, sizeof(*st));
	struct rec_sched *s = &st->r;
	struct sched_attr a;
	char who[32], buf[32];
	int rc;

	if (!st)
		return err_sys(ENOMEM, "sched");
	*data = st;
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
	rc = capture_affinity(c->pid, st, who);
	if (!rc)
		rc = capture_ioprio(c->pid, st, who);
	if (!rc)
		rc = threads_alike(c, &a, s->nice);
	return rc;
}

static int sched_write(const void *data, struct rec_writer *w)
{
	const struct sched_state *st = data;

	return rec_write(w, REC_SCHED, &st->r, sizeof(st->r), st->cpus,
			 st->r.cpu_words * sizeof(st->cpus[0]));
}

/* The new fields: the CPU mask (its length agrees with cpu_words, it is
 * not empty and its last word is not zero) and the I/O priority. */
static const char *take_cpus_ioprio(const struct rec_sched *s, const uint64_t *cpus)
{
	if (s->cpu_flags & ~SCHED_CPUS_ALL)
		return "unknown cpu_flags";
	if ((s->cpu_flags & SCHED_CPUS_ALL) && s->cpu_words)
		return "a CPU mask with SCHED_CPUS_ALL";
	if (!(s->cpu_flags & SCHED_CPUS_ALL) && (!s->cpu_words || !cpus[s->cpu_words - 1]))
		return "CPU mask empty or its last word zero";
	if (s->ioprio_class > IOPRIO_CLASS_IDLE)
		return "unknown I/O priority class";
	if (s->ioprio_data > IOPRIO_DATA_MAX)
		return "I/O priority data out of range";
	if (s->ioprio_class == IOPRIO_CLASS_NONE && s->ioprio_data)
		return "I/O priority data under class none";
	return NULL;
}

static int sched_take(void **data, const unsigned char *p, size_t len)
{
	struct sched_state st = { 0 };
	struct rec_sched s;
	const char *bad = NULL;
	size_t want;

	if (len < sizeof(s))
		return err_msg(EBADMSG, "sched record: %zu bytes, want %zu or more", len, sizeof(s));
	memcpy(&s, p, sizeof(s));
	if (s.cpu_words > SCHED_CPU_WORDS)
		return err_msg(EBADMSG, "sched record: a CPU mask of %u words, more than %u (CPU %u)",
			       s.cpu_words, SCHED_CPU_WORDS, SCHED_CPU_MAX - 1);
	want = sizeof(s) + s.cpu_words * sizeof(st.cpus[0]);
	if (len != want)
		return err_msg(EBADMSG, "sched record: %zu bytes, want %zu (%u words of CPU mask)", len,
			       want, s.cpu_words);
	memcpy(st.cpus, p + sizeof(s), len - sizeof(s));
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
	else
		bad = take_cpus_ioprio(&s, st.cpus);
	if (bad)
		return err_msg(EBADMSG, "sched record: %s", bad);
	st.r = s;
	*data = malloc(sizeof(st));
	if (!*data)
		return err_sys(ENOMEM, "sched");
	memcpy(*data, &st, sizeof(st));
	return 0;
}

/* What restoring needs from this host, before any page is read: the
 * recorded CPUs, all of them, among those pthaw may use (its own affinity:
 * the kernel keeps it inside pthaw's cpuset and the CPUs online; pload
 * inherits it), since a process pinned to CPUs it would no longer have
 * would run elsewhere without a word; and the privilege of a realtime I/O
 * priority. */
static int sched_check(struct kind_check *c, const void *data)
{
	const struct sched_state *st = data;
	const struct rec_sched *s = &st->r;
	uint64_t here[SCHED_READ_WORDS], miss[SCHED_CPU_WORDS];
	char want[SCHED_CPU_LIST], lack[SCHED_CPU_LIST], have[SCHED_CPU_LIST];
	int rc = 0, any = 0;

	if (!(s->cpu_flags & SCHED_CPUS_ALL)) {
		rc = get_affinity(0, here, "pthaw");
		if (rc)
			return kind_problem(c, rc);
		for (unsigned w = 0; w < s->cpu_words; w++)
			any |= (miss[w] = st->cpus[w] & ~here[w]) != 0;
		if (any) {
			rc = kind_problem(c, err_msg(EINVAL, "CPU affinity: the process is bound to CPUs %s, and CPUs %s of them are not among those pthaw may use here (%s)",
						     cpu_list(want, sizeof(want), st->cpus, s->cpu_words),
						     cpu_list(lack, sizeof(lack), miss, s->cpu_words),
						     cpu_list(have, sizeof(have), here, SCHED_CPU_WORDS)));
			if (!c->out)
				return rc;
		}
	}
	/* ioprio_set(IOPRIO_CLASS_RT) asks CAP_SYS_ADMIN (newer kernels take
	 * CAP_SYS_NICE too); pload has pthaw's capabilities at this stage. */
	if (s->ioprio_class == IOPRIO_CLASS_RT && !has_cap(CAP_SYS_ADMIN) && !has_cap(CAP_SYS_NICE))
		rc = kind_problem(c, err_msg(EPERM, "I/O priority class realtime (level %u) needs a privilege pthaw lacks (CAP_SYS_ADMIN or CAP_SYS_NICE)",
					     s->ioprio_data & 7));
	return rc;
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

/* The CPU mask, while pload still has a fair policy (the kernel refuses
 * a mask narrower than its root domain to a SCHED_DEADLINE task).  With
 * SCHED_CPUS_ALL pload keeps the affinity it inherited from pthaw: every
 * CPU here, or where whoever started pthaw confined it (taskset), as for
 * any process it starts. */
static int restore_affinity(struct kind_restore *r, const struct sched_state *st)
{
	const struct rec_sched *s = &st->r;
	size_t len = s->cpu_words * sizeof(st->cpus[0]);
	uint64_t got[SCHED_READ_WORDS], miss[SCHED_CPU_WORDS];
	char want[SCHED_CPU_LIST], lack[SCHED_CPU_LIST], who[32];
	int any = 0, rc;
	long ret;

	if (s->cpu_flags & SCHED_CPUS_ALL)
		return 0;
	ret = pload_call(r->pl, SYS_sched_setaffinity, 0, (long)len, (long)r->pl->hello.scratch, 0, 0, 0,
			 st->cpus, len);
	if (ret < 0)
		return err_sys((int)-ret, "restoring the CPU affinity (CPUs %s)",
			       cpu_list(want, sizeof(want), st->cpus, s->cpu_words));
	/* The kernel narrows the mask to pload's cpuset without a word:
	 * what it kept must be the whole mask (sched_check saw pthaw's). */
	snprintf(who, sizeof(who), "loader %d", r->pid);
	rc = get_affinity(r->pid, got, who);
	if (rc)
		return rc;
	for (unsigned w = 0; w < s->cpu_words; w++)
		any |= (miss[w] = st->cpus[w] & ~got[w]) != 0;
	if (any)
		return err_msg(EINVAL, "CPU affinity: the process is bound to CPUs %s, and CPUs %s of them are not in pthaw's cpuset here",
			       cpu_list(want, sizeof(want), st->cpus, s->cpu_words),
			       cpu_list(lack, sizeof(lack), miss, s->cpu_words));
	return 0;
}

/* The I/O priority, always: pload inherited pthaw's (ionice pthaw), and
 * class none (follow the nice value) is set as such. */
static int restore_ioprio(struct kind_restore *r, const struct rec_sched *s)
{
	long v = (long)s->ioprio_class << IOPRIO_CLASS_SHIFT | s->ioprio_data;
	long ret = pload_call(r->pl, SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, v, 0, 0, 0, NULL, 0);

	if (ret == -EPERM)
		return err_msg(EPERM, "I/O priority class %s (level %u) needs a privilege pthaw lacks (CAP_SYS_ADMIN or CAP_SYS_NICE)",
			       ioprio_name(s->ioprio_class), s->ioprio_data & 7);
	if (ret < 0)
		return err_sys((int)-ret, "restoring the I/O priority (class %s, data %u)",
			       ioprio_name(s->ioprio_class), s->ioprio_data);
	return 0;
}

/* Before the credentials: pthaw's privileges (CAP_SYS_NICE) and the
 * process's own RLIMIT_NICE and RLIMIT_RTPRIO, restored with the fds,
 * are what may give it a nice value below pload's or an RT policy. */
static int restore_main(struct kind_restore *r, const struct sched_state *st);

/* The calls act on the calling thread (pid 0): the process's other
 * threads, made by pload before, make them again at the last stage
 * (pload_ctl.h, logging), and have the main thread's attributes, as
 * threads created by a thread inherit its. */
static int sched_restore(struct kind_restore *r, const void *data)
{
	int rc;

	r->pl->logging = 1;
	rc = restore_main(r, data);
	r->pl->logging = 0;
	return rc;
}

static int restore_main(struct kind_restore *r, const struct sched_state *st)
{
	const struct rec_sched *s = &st->r;
	struct sched_attr a = { .size = SCHED_ATTR_SIZE_VER0 };
	long ret;
	int rc;

	rc = restore_affinity(r, st);
	if (rc)
		return rc;
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
		rc = restore_ioprio(r, s);
	if (!rc)
		rc = restore_oom(r, s);
	return rc;
}

static void sched_print(FILE *f, const void *data)
{
	const struct sched_state *st = data;
	const struct rec_sched *s = &st->r;
	char cpus[SCHED_CPU_LIST];

	fprintf(f, "Scheduling: %s%s, priority %u, nice %d", policy_name(s->policy),
		s->flags & SCHED_FLAG_RESET_ON_FORK ? " | SCHED_RESET_ON_FORK" : "", s->priority,
		s->nice);
	if (s->policy == SCHED_DEADLINE)
		fprintf(f, ", runtime %llu deadline %llu period %llu ns (flags 0x%x)",
			(unsigned long long)s->runtime, (unsigned long long)s->deadline,
			(unsigned long long)s->period, s->flags);
	if (s->util_max)
		fprintf(f, ", uclamp %u..%u", s->util_min, s->util_max);
	fprintf(f, ", CPUs %s, I/O priority %s", s->cpu_flags & SCHED_CPUS_ALL ? "all" :
		cpu_list(cpus, sizeof(cpus), st->cpus, s->cpu_words), ioprio_name(s->ioprio_class));
	if (s->ioprio_class != IOPRIO_CLASS_NONE)
		fprintf(f, " %u", s->ioprio_data);
	fprintf(f, ", oom_score_adj %d\n", s->oom_score_adj);
}

static void sched_print_json(struct json *j, const void *data)
{
	const struct sched_state *st = data;
	const struct rec_sched *s = &st->r;
	char cpus[SCHED_CPU_LIST];

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
	json_bool(j, "cpus_all", (s->cpu_flags & SCHED_CPUS_ALL) != 0);
	if (s->cpu_flags & SCHED_CPUS_ALL)
		json_null(j, "cpus");
	else
		json_str(j, "cpus", cpu_list(cpus, sizeof(cpus), st->cpus, s->cpu_words));
	json_str(j, "ioprio_class", ioprio_name(s->ioprio_class));
	json_uint(j, "ioprio_data", s->ioprio_data);
}

const struct kind_ops kind_sched = {
	.name = "sched",
	.type = REC_SCHED,
	.stages = KIND_AT(KIND_STAGE_TASK),
	.capture = sched_capture,
	.write = sched_write,
	.take = sched_take,
	.check = sched_check,
	.restore = sched_restore,
	.print = sched_print,
	.print_json = sched_print_json,
};
