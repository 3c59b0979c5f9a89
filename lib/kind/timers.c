/* timers.c: POSIX timers (timer_create(2)).  /proc/PID/timers lists each
 * timer's id, signal, notification and clock; the time left and the
 * interval only the process can ask for (timer_gettime), so they are read
 * by calls injected into it.  pthaw creates each timer again with its id
 * and arms it with the time that was left. */
#include "kind.h"
#include "err.h"
#include "json.h"
#include "inject.h"
#include "pload_ctl.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#define TIMERS_MAX 4096			/* timers per process in a record */
#define TIMER_SEC_MAX (INT64_MAX / 1000000000)	/* the kernel's KTIME_SEC_MAX */

#ifndef PR_TIMER_CREATE_RESTORE_IDS
#define PR_TIMER_CREATE_RESTORE_IDS 77	/* Linux 6.15 */
#define PR_TIMER_CREATE_RESTORE_IDS_OFF 0
#define PR_TIMER_CREATE_RESTORE_IDS_ON 1
#endif
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

/* Without PR_TIMER_CREATE_RESTORE_IDS, ids are reached by creating and
 * deleting timers one by one; past this many pthaw refuses. */
#define TIMER_LINEAR_MAX 65536

struct rec_timer {
	int32_t id;
	int32_t clock;		/* a CPU clock of the process itself has pid 0 */
	int32_t notify;		/* SIGEV_SIGNAL, _NONE, _THREAD, SIGEV_SIGNAL|SIGEV_THREAD_ID */
	int32_t signo;
	uint64_t sival;
	int32_t overrun;	/* timer_getoverrun(2) at capture: shown only */
	uint32_t pad;
	int64_t it[4];		/* struct itimerspec: interval s, ns, value s, ns */
} __attribute__((packed));

struct timers {
	size_t n;
	struct rec_timer t[];
};

/* The layout of the kernel's struct sigevent on x86-64 (64 bytes). */
struct ksigevent {
	uint64_t value;
	int32_t signo, notify, tid;
	int32_t pad[11];
};

/* CPU clocks are negative: ~pid << 3 | per-thread bit (4) | type (0..2;
 * 3 is a dynamic clock, /dev/ptp*). */
static int cpu_clock(int32_t clock)
{
	return clock < 0 && (clock & 3) != 3;
}

static int32_t cpu_clock_pid(int32_t clock)
{
	return ~(clock >> 3);
}

static int clock_ok(int32_t clock)
{
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
	case CLOCK_REALTIME_ALARM:
	case CLOCK_BOOTTIME_ALARM:
	case CLOCK_TAI:
		return 1;
	}
	return cpu_clock(clock) && cpu_clock_pid(clock) == 0;
}

static const char *clock_name(int32_t clock)
{
	switch (clock) {
	case CLOCK_REALTIME: return "CLOCK_REALTIME";
	case CLOCK_MONOTONIC: return "CLOCK_MONOTONIC";
	case CLOCK_BOOTTIME: return "CLOCK_BOOTTIME";
	case CLOCK_REALTIME_ALARM: return "CLOCK_REALTIME_ALARM";
	case CLOCK_BOOTTIME_ALARM: return "CLOCK_BOOTTIME_ALARM";
	case CLOCK_TAI: return "CLOCK_TAI";
	}
	if (cpu_clock(clock))
		return clock & 4 ? "the thread's CPU clock" : "the process's CPU clock";
	return "an unknown clock";
}

static int by_id(const void *a, const void *b)
{
	const struct rec_timer *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* /proc/PID/timers: four lines per timer (fs/proc/base.c show_timer):
 *	ID: 0
 *	signal: 35/0000000000005eed	(signo / sival_ptr, %px)
 *	notify: signal/tid.1234		(signal|none|thread / pid|tid . number)
 *	ClockID: 1 */
static int read_proc(struct kind_capture *c, struct timers **out)
{
	char path[64], line[256], how[16], whom[8];
	struct timers *ts = NULL;
	struct rec_timer *t = NULL;
	unsigned seen = 0;
	int rc = 0, num;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/timers", c->pid);
	f = fopen(path, "re");
	/* The file exists only with CONFIG_CHECKPOINT_RESTORE; without it no
	 * one can tell whether the process has timers, so it is refused. */
	if (!f && errno == ENOENT)
		return err_msg(ENOTSUP, "process %d: %s is missing (a kernel without CONFIG_CHECKPOINT_RESTORE): its POSIX timers cannot be read",
			       c->pid, path);
	if (!f)
		return err_sys(errno, "process %d: reading its POSIX timers", c->pid);
	ts = calloc(1, sizeof(*ts) + TIMERS_MAX * sizeof(ts->t[0]));
	if (!ts) {
		fclose(f);
		return err_sys(ENOMEM, "timers");
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		unsigned long long v;
		int i, n = -1;

		if (sscanf(line, "ID: %d%n", &i, &n) == 1 && n > 0) {
			if (t && seen != 7)
				break;
			if (ts->n == TIMERS_MAX) {
				rc = err_msg(ENOTSUP, "process %d: more than %d POSIX timers", c->pid, TIMERS_MAX);
				break;
			}
			t = &ts->t[ts->n++];
			t->id = i;
			seen = 0;
		} else if (t && sscanf(line, "signal: %d/%llx%n", &i, &v, &n) == 2 && n > 0) {
			t->signo = i;
			t->sival = v;
			seen |= 1;
		} else if (t && sscanf(line, "notify: %15[a-z]/%7[a-z].%d%n", how, whom, &num, &n) == 3 &&
			   n > 0) {
			int tid = !strcmp(whom, "tid");

			if (!strcmp(how, "signal"))
				t->notify = SIGEV_SIGNAL | (tid ? SIGEV_THREAD_ID : 0);
			else if (!strcmp(how, "none") && !tid)
				t->notify = SIGEV_NONE;
			else if (!strcmp(how, "thread") && !tid)
				t->notify = SIGEV_THREAD;
			else
				break;
			/* Single-threaded: the only thread it can name is the main one. */
			if (tid && num != c->pid)
				rc = err_msg(ENOTSUP, "process %d: POSIX timer %d signals thread %d, not the process's",
					     c->pid, t->id, num);
			seen |= 2;
		} else if (t && sscanf(line, "ClockID: %d%n", &i, &n) == 1 && n > 0) {
			t->clock = i;
			seen |= 4;
		} else {
			break;
		}
	}
	if (!rc && (ferror(f) || !feof(f) || (t && seen != 7)))
		rc = err_msg(EIO, "process %d: /proc/%d/timers: unexpected line \"%.40s\"", c->pid, c->pid, line);
	fclose(f);
	if (rc) {
		free(ts);
		return rc;
	}
	qsort(ts->t, ts->n, sizeof(ts->t[0]), by_id);
	*out = ts;
	return 0;
}

static int query(struct kind_capture *c, long nr, long a0, long a1, long *ret)
{
	int rc = inject_query(c->inj, nr, (long[6]){ a0, a1 }, ret);

	if (!rc && *ret < 0 && *ret > -4096)
		rc = err_sys((int)-*ret, "process %d: reading POSIX timer %ld", c->pid, a0);
	return rc;
}

static int timers_capture(struct kind_capture *c, void **data)
{
	struct timers *ts;
	long ret;
	int rc = read_proc(c, &ts);

	if (rc)
		return rc;
	for (size_t i = 0; !rc && i < ts->n; i++) {
		struct rec_timer *t = &ts->t[i];

		/* timer_create(clock_getcpuclockid(getpid())) names the process
		 * by its PID, which the copy does not have: the kernel takes
		 * pid 0 as "the caller", the same clock. */
		if (cpu_clock(t->clock) && cpu_clock_pid(t->clock) == c->pid)
			t->clock = (int32_t)(~0u << 3) | (t->clock & 7);
		if (cpu_clock(t->clock) && cpu_clock_pid(t->clock))
			rc = err_msg(ENOTSUP, "process %d: POSIX timer %d runs on the CPU clock of process %d, which is not captured with it",
				     c->pid, t->id, cpu_clock_pid(t->clock));
		else if (!clock_ok(t->clock))
			rc = err_msg(ENOTSUP, "process %d: POSIX timer %d runs on clock %d, which cannot be restored",
				     c->pid, t->id, t->clock);
		else if (t->notify != SIGEV_NONE && (t->signo < 1 || t->signo > 64))
			rc = err_msg(EIO, "process %d: POSIX timer %d: signal %d", c->pid, t->id, t->signo);
		if (!rc)
			rc = query(c, SYS_timer_gettime, t->id, (long)c->inj->scratch, &ret);
		if (!rc)
			rc = inject_read_scratch(c->inj, t->it, sizeof(t->it));
		if (!rc && !(rc = query(c, SYS_timer_getoverrun, t->id, 0, &ret)))
			t->overrun = (int32_t)ret;
	}
	if (rc || !ts->n) {
		free(ts);
		return rc;
	}
	*data = ts;
	return 0;
}

static int timers_write(const void *data, struct rec_writer *w)
{
	const struct timers *ts = data;

	return rec_write(w, REC_TIMERS, ts->t, ts->n * sizeof(ts->t[0]), NULL, 0);
}

static int timers_take(void **data, const unsigned char *p, size_t len)
{
	size_t n = len / sizeof(struct rec_timer);
	struct timers *ts;

	if (!n || len % sizeof(struct rec_timer) || n > TIMERS_MAX)
		return err_msg(EBADMSG, "timers record: %zu bytes, not 1 to %d timers of %zu", len,
			       TIMERS_MAX, sizeof(struct rec_timer));
	ts = malloc(sizeof(*ts) + len);
	if (!ts)
		return err_sys(ENOMEM, "timers");
	ts->n = n;
	memcpy(ts->t, p, len);
	for (size_t i = 0; i < n; i++) {
		const struct rec_timer *t = &ts->t[i];
		const char *bad = NULL;

		if (t->id < 0 || (i && t->id <= ts->t[i - 1].id))
			bad = "ids not increasing";
		else if (!clock_ok(t->clock))
			bad = "clock";
		else if (t->notify != SIGEV_SIGNAL && t->notify != SIGEV_NONE && t->notify != SIGEV_THREAD &&
			 t->notify != (SIGEV_SIGNAL | SIGEV_THREAD_ID))
			bad = "notification";
		else if (t->notify != SIGEV_NONE && (t->signo < 1 || t->signo > 64))
			bad = "signal";
		else if (t->overrun < 0 || t->pad)
			bad = "overrun";
		for (int k = 0; !bad && k < 4; k += 2)
			if (t->it[k] < 0 || t->it[k] > TIMER_SEC_MAX || t->it[k + 1] < 0 ||
			    t->it[k + 1] >= 1000000000)
				bad = "time";
		if (bad) {
			free(ts);
			return err_msg(EBADMSG, "timers record: timer %zu: bad %s", i, bad);
		}
	}
	*data = ts;
	return 0;
}

static long call(struct kind_restore *r, long nr, long a0, long a1, long a2, const void *d, size_t len)
{
	return pload_call(r->pl, nr, a0, a1, a2, 0, 0, 0, d, len);
}

/* timer_create with the id asked for in *id (PR_TIMER_CREATE_RESTORE_IDS). */
static long create(struct kind_restore *r, const struct rec_timer *t)
{
	struct {
		struct ksigevent ev;
		int32_t id;
	} a = { { t->sival, t->signo, t->notify, 0, { 0 } }, t->id };
	long s = (long)r->pl->hello.scratch;

	/* The main thread: the new PID is its TID. */
	if (t->notify & SIGEV_THREAD_ID)
		a.ev.tid = r->self_pid;
	return call(r, SYS_timer_create, t->clock, s, s + (long)offsetof(typeof(a), id), &a, sizeof(a));
}

/* Without the prctl (before Linux 6.15) the kernel gives a process the
 * ids 0, 1, 2... in turn, skipping none that is free: a timer created
 * and deleted at once moves the next id on by one. */
static long create_linear(struct kind_restore *r, const struct rec_timer *t, int32_t *next)
{
	long ret;

	if (t->id >= TIMER_LINEAR_MAX)
		return -EOVERFLOW;
	for (; *next < t->id; ++*next) {
		ret = create(r, &(struct rec_timer){ .notify = SIGEV_NONE, .clock = CLOCK_MONOTONIC });
		if (ret < 0)
			return ret;
		/* Deleting what should be id next checks the kernel counts so. */
		if (call(r, SYS_timer_delete, *next, 0, 0, NULL, 0) < 0)
			return -ENOTRECOVERABLE;
	}
	ret = create(r, t);
	if (ret < 0)
		return ret;
	++*next;
	return call(r, SYS_timer_getoverrun, t->id, 0, 0, NULL, 0) < 0 ? -ENOTRECOVERABLE : 0;
}

static int restore_one(struct kind_restore *r, const struct rec_timer *t, int linear, int32_t *next)
{
	int64_t it[4];
	long ret = linear ? create_linear(r, t, next) : create(r, t);

	if (ret == -EPERM && (t->clock == CLOCK_REALTIME_ALARM || t->clock == CLOCK_BOOTTIME_ALARM))
		return err_msg(EPERM, "POSIX timer %d: %s needs CAP_WAKE_ALARM, which pthaw does not have",
			       t->id, clock_name(t->clock));
	if (ret == -EOVERFLOW || ret == -ENOTRECOVERABLE)
		return err_msg(ENOTSUP, "POSIX timer %d: this kernel has no PR_TIMER_CREATE_RESTORE_IDS (Linux 6.15) and %s",
			       t->id, ret == -EOVERFLOW ? "ids that high are not reached one by one"
							: "does not give ids in turn");
	if (ret < 0)
		return err_sys((int)-ret, "POSIX timer %d on %s: creating it again", t->id, clock_name(t->clock));
	memcpy(it, t->it, sizeof(it));
	/* A periodic timer is armed even when no time is left (the kernel
	 * says 1 ns for a signal not delivered yet): value 0 would disarm it. */
	if (!it[2] && !it[3] && (it[0] || it[1])) {
		it[2] = it[0];
		it[3] = it[1];
	}
	/* Relative: the time left is counted from now on, as if the process
	 * had not been stopped meanwhile. */
	if (it[2] || it[3]) {
		ret = call(r, SYS_timer_settime, t->id, 0, (long)r->pl->hello.scratch, it, sizeof(it));
		if (ret < 0)
			return err_sys((int)-ret, "POSIX timer %d: arming it", t->id);
	}
	return 0;
}

/* After the signal actions (and the pending signals, a timer's among
 * them, already queued as they were). */
static int timers_restore(struct kind_restore *r, const void *data)
{
	const struct timers *ts = data;
	int32_t next = 0;
	long ret;
	int rc = 0, linear;

	/* pload is the only thread and makes no timers of its own. */
	ret = call(r, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, NULL, 0);
	if (ret < 0 && ret != -EINVAL)
		return err_sys((int)-ret, "PR_TIMER_CREATE_RESTORE_IDS");
	linear = ret < 0;
	ret = 0;
	for (size_t i = 0; !rc && i < ts->n; i++)
		rc = restore_one(r, &ts->t[i], linear, &next);
	if (!linear)
		ret = call(r, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, NULL, 0);
	if (!rc && ret < 0)
		rc = err_sys((int)-ret, "PR_TIMER_CREATE_RESTORE_IDS off");
	return rc;
}

static void timers_print(FILE *f, const void *data)
{
	const struct timers *ts = data;
	static const char *const how[] = { "signal", "none", "thread", "?", "signal to the main thread" };

	for (size_t i = 0; i < ts->n; i++) {
		const struct rec_timer *t = &ts->t[i];

		fprintf(f, "POSIX timer %d: %s, notify %s, signal %d, value %#llx, left %lld.%09lld s, interval %lld.%09lld s, overrun %d\n",
			t->id, clock_name(t->clock), how[t->notify], t->signo, (unsigned long long)t->sival,
			(long long)t->it[2], (long long)t->it[3], (long long)t->it[0], (long long)t->it[1],
			t->overrun);
	}
}

static void timers_print_json(struct json *j, const void *data)
{
	const struct timers *ts = data;
	static const char *const how[] = { "signal", "none", "thread", "?", "signal to the main thread" };

	json_array_begin(j, "timers");
	for (size_t i = 0; i < ts->n; i++) {
		const struct rec_timer *t = &ts->t[i];

		json_object_begin(j, NULL);
		json_int(j, "id", t->id);
		json_str(j, "clock", clock_name(t->clock));
		json_int(j, "clock_id", t->clock);
		json_str(j, "notify", how[t->notify]);
		json_int(j, "signo", t->signo);
		json_hex(j, "sival", t->sival);
		json_int(j, "value_sec", t->it[2]);
		json_int(j, "value_nsec", t->it[3]);
		json_int(j, "interval_sec", t->it[0]);
		json_int(j, "interval_nsec", t->it[1]);
		json_int(j, "overrun", t->overrun);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct kind_ops kind_timers = {
	.name = "timers",
	.type = REC_TIMERS,
	.flags = KIND_LATE,
	.stages = KIND_AT(KIND_STAGE_TASK),
	.capture = timers_capture,
	.write = timers_write,
	.take = timers_take,
	.restore = timers_restore,
	.print = timers_print,
	.print_json = timers_print_json,
};
