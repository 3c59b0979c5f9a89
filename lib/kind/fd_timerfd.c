/* fd_timerfd.c: timerfd(2) descriptors.  /proc/PID/fdinfo shows the
 * clock, the settime flags, the expirations not read yet ("ticks"), the
 * interval and the time left.  pthaw makes the timer again and arms it
 * with the time that was left, not from scratch: a relative timer goes
 * on as if the process had not been stopped meanwhile, an absolute one
 * (TFD_TIMER_ABSTIME) on the real-time clock keeps its deadline, and the
 * unread expirations are put back (TFD_IOC_SET_TICKS). */
#include "err.h"
#include "fdkind.h"
#include "json.h"
#include "kind.h"
#include "pload_ctl.h"
#include "proc.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#define TFD_SETTIME_ALL (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)
#define TIMER_SEC_MAX (INT64_MAX / 1000000000)

struct timerfds {
	size_t n;
	struct rec_timerfd e[];
};

static int clock_ok(int32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
	       c == CLOCK_REALTIME_ALARM || c == CLOCK_BOOTTIME_ALARM;
}

static const char *clock_name(int32_t c)
{
	switch (c) {
	case CLOCK_REALTIME: return "CLOCK_REALTIME";
	case CLOCK_MONOTONIC: return "CLOCK_MONOTONIC";
	case CLOCK_BOOTTIME: return "CLOCK_BOOTTIME";
	case CLOCK_REALTIME_ALARM: return "CLOCK_REALTIME_ALARM";
	case CLOCK_BOOTTIME_ALARM: return "CLOCK_BOOTTIME_ALARM";
	}
	return "?";
}

/* The same clock outside the process: what an absolute deadline means. */
static int real_time(int32_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_REALTIME_ALARM;
}

static int timerfd_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return strcmp(d->link, "anon_inode:[timerfd]") == 0;
}

/* fs/timerfd.c timerfd_show:
 *	clockid: 1
 *	ticks: 0
 *	settime flags: 01
 *	it_value: (0, 49406829)		time left, even when TFD_TIMER_ABSTIME
 *	it_interval: (1, 0) */
static int parse(pid_t pid, const struct snap_file *f, struct rec_timerfd *e)
{
	char name[32], info[4096];
	uint64_t ticks;
	int clk;
	const char *a, *b, *c, *d, *g;
	long long v[4];
	unsigned flags;
	struct timespec now;
	int rc;

	snprintf(name, sizeof(name), "fdinfo/%d", f->first_fd);
	rc = proc_read_text(pid, name, info, sizeof(info));
	if (rc)
		return rc;
	a = strstr(info, "\nclockid:");
	b = strstr(info, "\nticks:");
	c = strstr(info, "\nsettime flags:");
	d = strstr(info, "\nit_value:");
	g = strstr(info, "\nit_interval:");
	/* clock and ticks into locals: the record's fields are packed. */
	if (!a || !b || !c || !d || !g || sscanf(a, "\nclockid: %d", &clk) != 1 ||
	    sscanf(b, "\nticks: %" SCNu64, &ticks) != 1 || sscanf(c, "\nsettime flags: %o", &flags) != 1 ||
	    sscanf(d, "\nit_value: (%lld, %lld)", &v[2], &v[3]) != 2 ||
	    sscanf(g, "\nit_interval: (%lld, %lld)", &v[0], &v[1]) != 2)
		return err_msg(EIO, "process %d: fd %d (timerfd): /proc/%d/%s is not as expected", pid,
			       f->first_fd, pid, name);
	e->clock = clk;
	e->ticks = ticks;
	if (!clock_ok(e->clock))
		return err_msg(ENOTSUP, "process %d: fd %d: a timerfd on clock %d, which cannot be restored", pid,
			       f->first_fd, e->clock);
	e->settime_flags = flags;
	for (int i = 0; i < 4; i++)
		e->it[i] = v[i];
	/* The time left was the kernel's just now, as the clock says: both
	 * stand still while the process is held, close enough. */
	clock_gettime(e->clock == CLOCK_REALTIME_ALARM ? CLOCK_REALTIME :
		      e->clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : e->clock, &now);
	e->now[0] = now.tv_sec;
	e->now[1] = now.tv_nsec;
	e->file = f->r.id;
	return 0;
}

static int timerfd_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct timerfds *es;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_TIMERFD;
	if (!n)
		return 0;
	if (!(es = calloc(1, sizeof(*es) + n * sizeof(es->e[0]))))
		return err_sys(ENOMEM, "timerfds");
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_TIMERFD)
			rc = parse(c->pid, &s->files[i], &es->e[es->n++]);
	if (rc) {
		free(es);
		return rc;
	}
	*data = es;
	return 0;
}

static int timerfd_write(const void *data, struct rec_writer *w)
{
	const struct timerfds *es = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < es->n; i++)
		rc = rec_write(w, REC_TIMERFD, &es->e[i], sizeof(es->e[i]), NULL, 0);
	return rc;
}

static int timerfd_take(void **data, const unsigned char *p, size_t len)
{
	struct timerfds *es = *data;
	struct rec_timerfd e;
	size_t n = es ? es->n : 0;
	const char *bad = NULL;

	if (len != sizeof(e))
		return err_msg(EBADMSG, "timerfd record: %zu bytes, not %zu", len, sizeof(e));
	memcpy(&e, p, sizeof(e));
	if (!clock_ok(e.clock))
		bad = "clock";
	else if (e.pad || (e.settime_flags & ~(uint32_t)TFD_SETTIME_ALL))
		bad = "flags";
	for (int k = 0; !bad && k < 6; k += 2) {
		int64_t sec = k < 4 ? e.it[k] : e.now[0], nsec = k < 4 ? e.it[k + 1] : e.now[1];

		if (sec < 0 || sec > TIMER_SEC_MAX || nsec < 0 || nsec >= 1000000000)
			bad = "time";
	}
	if (bad)
		return err_msg(EBADMSG, "timerfd record: bad %s", bad);
	if (n >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "timerfd record: too many");
	es = realloc(es, sizeof(*es) + (n + 1) * sizeof(e));
	if (!es)
		return err_sys(ENOMEM, "timerfds");
	*data = es;
	es->n = n + 1;
	es->e[n] = e;
	return 0;
}

static int timerfd_verify(const struct snap *s, const void *data)
{
	const struct timerfds *es = data;
	size_t n = 0;

	for (size_t i = 0; i < es->n; i++) {
		if (es->e[i].file >= s->nfiles || s->files[es->e[i].file].r.kind != FD_TIMERFD)
			return err_msg(EBADMSG, "timerfd record: file %u is not a timerfd", es->e[i].file);
		for (size_t j = 0; j < i; j++)
			if (es->e[j].file == es->e[i].file)
				return err_msg(EBADMSG, "timerfd record: file %u twice", es->e[i].file);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_TIMERFD;
	if (n != es->n)
		return err_msg(EBADMSG, "timerfd records: %zu for %zu timerfds", es->n, n);
	return 0;
}

/* When the timer is to go off, as timerfd_settime takes it. */
static void deadline(const struct kind_restore *r, const struct rec_timerfd *e, int64_t v[2])
{
	struct timespec now;
	int64_t base[2];

	v[0] = e->it[2];
	v[1] = e->it[3];
	/* A periodic timer that went off and was not read yet shows no time
	 * left (the kernel moves it on at the read): armed again at once,
	 * since value 0 would disarm it. */
	if (!v[0] && !v[1] && (e->it[0] || e->it[1]))
		v[1] = 1;
	if (!(e->settime_flags & TFD_TIMER_ABSTIME) || (!v[0] && !v[1]))
		return;
	/* Absolute: on the real-time clock the deadline the process gave;
	 * on the others, the same deadline only in the same boot (their
	 * time starts at boot), else the time left counted from now. */
	if (real_time(e->clock) || r->same_host) {
		base[0] = e->now[0];
		base[1] = e->now[1];
	} else {
		clock_gettime(e->clock == CLOCK_BOOTTIME_ALARM ? CLOCK_BOOTTIME : e->clock, &now);
		base[0] = now.tv_sec;
		base[1] = now.tv_nsec;
	}
	v[0] += base[0];
	v[1] += base[1];
	if (v[1] >= 1000000000) {
		v[0]++;
		v[1] -= 1000000000;
	}
}

/* Before any page: file f has its timerfd record. */
static int timerfd_file_verify(const struct snap *s, const struct snap_file *f)
{
	const struct timerfds *es = s->kind[KIND_TIMERFD];

	for (size_t i = 0; es && i < es->n; i++)
		if (es->e[i].file == f->r.id)
			return 0;
	return err_msg(EBADMSG, "file %u (fd %d): a timerfd without its timerfd record", f->r.id, f->first_fd);
}

static long timerfd_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct timerfds *es = s->kind[KIND_TIMERFD];
	const struct rec_timerfd *e = NULL;
	int64_t it[4];
	long fd, ret = 0;
	const char *what = "timerfd_settime";

	for (size_t i = 0; es && i < es->n && !e; i++)
		if (es->e[i].file == f->r.id)
			e = &es->e[i];
	if (!e)
		return err_msg(EBADMSG, "fd %d: a timerfd without its timerfd record", f->first_fd);
	fd = pload_call(r->pl, SYS_timerfd_create, e->clock,
			TFD_CLOEXEC | (f->r.flags & O_NONBLOCK ? TFD_NONBLOCK : 0), 0, 0, 0, 0, NULL, 0);
	if (fd == -EPERM && !real_time(e->clock) && e->clock != CLOCK_MONOTONIC && e->clock != CLOCK_BOOTTIME)
		return err_msg(EPERM, "fd %d: a timerfd on %s needs CAP_WAKE_ALARM, which pthaw does not have",
			       f->first_fd, clock_name(e->clock));
	if (fd < 0)
		return err_sys((int)-fd, "fd %d: timerfd_create on %s", f->first_fd, clock_name(e->clock));
	it[0] = e->it[0];
	it[1] = e->it[1];
	deadline(r, e, it + 2);
	if (it[2] || it[3])
		ret = pload_call(r->pl, SYS_timerfd_settime, fd, e->settime_flags, (long)r->pl->hello.scratch, 0,
				 0, 0, it, sizeof(it));
	/* After settime, which clears them: the expirations not read yet. */
	if (ret >= 0 && e->ticks) {
		what = "TFD_IOC_SET_TICKS";
		ret = pload_call(r->pl, SYS_ioctl, fd, TFD_IOC_SET_TICKS, (long)r->pl->hello.scratch, 0, 0, 0,
				 &e->ticks, 8);
	}
	if (ret < 0) {
		pload_call(r->pl, SYS_close, fd, 0, 0, 0, 0, 0, NULL, 0);
		return err_sys((int)-ret, "fd %d: timerfd: %s", f->first_fd, what);
	}
	return fd;
}

static void timerfd_print(FILE *out, const void *data)
{
	const struct timerfds *es = data;

	for (size_t i = 0; i < es->n; i++) {
		const struct rec_timerfd *e = &es->e[i];

		fprintf(out, "timerfd: file %u, %s%s%s, left %" PRId64 ".%09" PRId64 " s, interval %" PRId64
			".%09" PRId64 " s, %" PRIu64 " expirations unread\n",
			e->file, clock_name(e->clock), e->settime_flags & TFD_TIMER_ABSTIME ? ", absolute" : "",
			e->settime_flags & TFD_TIMER_CANCEL_ON_SET ? ", cancel on set" : "", e->it[2], e->it[3],
			e->it[0], e->it[1], e->ticks);
	}
}

static void timerfd_print_json(struct json *j, const void *data)
{
	const struct timerfds *es = data;

	json_array_begin(j, "timerfds");
	for (size_t i = 0; i < es->n; i++) {
		const struct rec_timerfd *e = &es->e[i];

		json_object_begin(j, NULL);
		json_uint(j, "file", e->file);
		json_str(j, "clock", clock_name(e->clock));
		json_bool(j, "abstime", !!(e->settime_flags & TFD_TIMER_ABSTIME));
		json_bool(j, "cancel_on_set", !!(e->settime_flags & TFD_TIMER_CANCEL_ON_SET));
		json_int(j, "value_sec", e->it[2]);
		json_int(j, "value_nsec", e->it[3]);
		json_int(j, "interval_sec", e->it[0]);
		json_int(j, "interval_nsec", e->it[1]);
		json_uint(j, "ticks", e->ticks);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_timerfd = {
	.kind = FD_TIMERFD,
	.name = "timerfd",
	.claim = timerfd_claim,
	.verify = timerfd_file_verify,
	.open = timerfd_open,
};

const struct kind_ops kind_timerfd = {
	.name = "timerfd",
	.type = REC_TIMERFD,
	.flags = KIND_MANY,
	.capture = timerfd_capture,
	.write = timerfd_write,
	.take = timerfd_take,
	.verify = timerfd_verify,
	.print = timerfd_print,
	.print_json = timerfd_print_json,
};
