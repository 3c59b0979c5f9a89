/* fd_epoll.c: epoll instances and their interest lists.  /proc/PID/fdinfo
 * lists each watched fd with its events and data; the fd number is only
 * what it was when it was added, so each is checked to still be the file
 * that is watched (kcmp KCMP_EPOLL_TFD).  pthaw makes an empty epoll with
 * the files, then, once every fd of the table is in place (its restore
 * comes after the fd kind's at KIND_STAGE_FILES), adds each back. */
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
#include <linux/kcmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EPOLL_ENTRIES_MAX (1u << 20)

struct epoll_obj {
	struct rec_epoll r;
	struct rec_epoll_entry *e;
};

struct epolls {
	size_t n;
	struct epoll_obj *p;
};

static int epoll_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return strcmp(d->link, "anon_inode:[eventpoll]") == 0;
}

/* Whether the epoll at efd watches, as its entry for tfd, the file the
 * process has at tfd now (the fd may have been closed and its number
 * used again since the file was added). */
static int same_target(pid_t pid, int efd, int tfd)
{
	struct kcmp_epoll_slot slot = { .efd = (uint32_t)efd, .tfd = (uint32_t)tfd, .toff = 0 };

	return syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, tfd, &slot) == 0;
}

/* "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%lx sdev:%x" a line
 * (fs/eventpoll.c ep_show_fdinfo). */
static int parse(pid_t pid, const struct snap *s, const struct snap_file *f, struct epoll_obj *o)
{
	char name[32], *info;
	const char *l;
	size_t cap = 0;
	int rc = 0;

	snprintf(name, sizeof(name), "fdinfo/%d", f->first_fd);
	info = malloc(1 << 20);
	if (!info)
		return err_sys(ENOMEM, "epoll");
	rc = proc_read_text(pid, name, info, 1 << 20);
	o->r.file = f->r.id;
	for (l = info; !rc && (l = strstr(l, "\ntfd:")); l++) {
		struct rec_epoll_entry e;
		unsigned long long data;
		unsigned events;
		int tfd;

		/* Into locals: the record's fields are packed. */
		if (sscanf(l, "\ntfd: %d events: %x data: %llx", &tfd, &events, &data) != 3) {
			rc = err_msg(EIO, "process %d: fd %d (epoll): /proc/%d/%s is not as expected", pid,
				     f->first_fd, pid, name);
			break;
		}
		e.tfd = tfd;
		e.events = events;
		e.data = data;
		if (!files_has_fd(s, tfd) || !same_target(pid, f->first_fd, tfd)) {
			rc = err_msg(ENOTSUP, "process %d: fd %d (epoll) watches a file added as fd %d, which is no longer at fd %d (closed, or its number used again)",
				     pid, f->first_fd, tfd, tfd);
			break;
		}
		if (!rc && o->r.nentries == cap) {
			struct rec_epoll_entry *n = realloc(o->e, (cap = cap ? 2 * cap : 8) * sizeof(*n));

			if (!n)
				rc = err_sys(ENOMEM, "epoll");
			else
				o->e = n;
		}
		if (!rc)
			o->e[o->r.nentries++] = e;
	}
	free(info);
	return rc;
}

static void epolls_free(void *data)
{
	struct epolls *ps = data;

	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		free(ps->p[i].e);
	free(ps->p);
	free(ps);
}

static int epoll_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct epolls *ps;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_EPOLL;
	if (!n)
		return 0;
	ps = calloc(1, sizeof(*ps));
	if (!ps || !(ps->p = calloc(n, sizeof(*ps->p)))) {
		free(ps);
		return err_sys(ENOMEM, "epoll");
	}
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_EPOLL)
			rc = parse(c->pid, s, &s->files[i], &ps->p[ps->n++]);
	if (rc) {
		epolls_free(ps);
		return rc;
	}
	*data = ps;
	return 0;
}

static int epoll_write(const void *data, struct rec_writer *w)
{
	const struct epolls *ps = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < ps->n; i++)
		rc = rec_write(w, REC_EPOLL, &ps->p[i].r, sizeof(ps->p[i].r), ps->p[i].e,
			       ps->p[i].r.nentries * sizeof(*ps->p[i].e));
	return rc;
}

static int epoll_take(void **data, const unsigned char *p, size_t len)
{
	struct epolls *ps = *data;
	struct epoll_obj *o;
	struct rec_epoll r;

	if (len < sizeof(r))
		return err_msg(EBADMSG, "epoll record: too short");
	memcpy(&r, p, sizeof(r));
	if (r.nentries > EPOLL_ENTRIES_MAX || len != sizeof(r) + (size_t)r.nentries * sizeof(*o->e))
		return err_msg(EBADMSG, "epoll record: malformed");
	if (!ps && !(ps = *data = calloc(1, sizeof(*ps))))
		return err_sys(ENOMEM, "epoll");
	if (ps->n >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "epoll record: too many");
	o = realloc(ps->p, (ps->n + 1) * sizeof(*o));
	if (!o)
		return err_sys(ENOMEM, "epoll");
	ps->p = o;
	o += ps->n;
	o->r = r;
	o->e = malloc(r.nentries * sizeof(*o->e) + 1);
	if (!o->e)
		return err_sys(ENOMEM, "epoll");
	ps->n++;
	memcpy(o->e, p + sizeof(r), r.nentries * sizeof(*o->e));
	for (uint32_t i = 0; i < r.nentries; i++)
		if (o->e[i].tfd < 0 || o->e[i].tfd >= SNAP_FD_MAX)
			return err_msg(EBADMSG, "epoll record: fd %d", o->e[i].tfd);
	return 0;
}

/* Each record is an epoll file's, each entry watches an fd of the table
 * (a standard stream is pthaw's own in the copy, and watched as such). */
static int epoll_verify(const struct snap *s, const void *data)
{
	const struct epolls *ps = data;
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++) {
		const struct epoll_obj *o = &ps->p[i];

		if (o->r.file >= s->nfiles || s->files[o->r.file].r.kind != FD_EPOLL)
			return err_msg(EBADMSG, "epoll record: file %u is not an epoll", o->r.file);
		for (size_t j = 0; j < i; j++)
			if (ps->p[j].r.file == o->r.file)
				return err_msg(EBADMSG, "epoll record: file %u twice", o->r.file);
		for (uint32_t k = 0; k < o->r.nentries; k++) {
			int tfd = o->e[k].tfd;

			if (!files_has_fd(s, tfd))
				return err_msg(EBADMSG, "epoll record: file %u watches fd %d, which is not open",
					       o->r.file, tfd);
		}
	}
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_EPOLL;
	if (n != ps->n)
		return err_msg(EBADMSG, "epoll records: %zu for %zu epolls", ps->n, n);
	return 0;
}

/* Before any page: file f has its epoll record (without it the epoll
 * would come back empty, silently). */
static int epoll_file_verify(const struct snap *s, const struct snap_file *f)
{
	const struct epolls *ps = s->kind[KIND_EPOLL];

	for (size_t i = 0; ps && i < ps->n; i++)
		if (ps->p[i].r.file == f->r.id)
			return 0;
	return err_msg(EBADMSG, "file %u (fd %d): an epoll without its epoll record", f->r.id, f->first_fd);
}

static long epoll_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	long fd;

	(void)s;
	fd = pload_call(r->pl, SYS_epoll_create1, EPOLL_CLOEXEC, 0, 0, 0, 0, 0, NULL, 0);
	if (fd < 0)
		return err_sys((int)-fd, "fd %d: epoll_create1", f->first_fd);
	/* O_NONBLOCK means nothing to epoll_wait, but fcntl shows it. */
	if (f->r.flags & O_NONBLOCK)
		pload_call(r->pl, SYS_fcntl, fd, F_SETFL, O_NONBLOCK, 0, 0, 0, NULL, 0);
	return fd;
}

/* Every fd is in place: each entry is added again, through the epoll's
 * lowest fd, for the watched fd's number. */
static int epoll_restore(struct kind_restore *r, const void *data)
{
	const struct epolls *ps = data;
	const struct snap *s = r->snap;

	for (size_t i = 0; i < ps->n; i++) {
		const struct epoll_obj *o = &ps->p[i];
		int efd = s->files[o->r.file].first_fd;

		for (uint32_t k = 0; k < o->r.nentries; k++) {
			struct epoll_event ev = { .events = o->e[k].events, .data.u64 = o->e[k].data };
			long ret = pload_call(r->pl, SYS_epoll_ctl, efd, EPOLL_CTL_ADD, o->e[k].tfd,
					      (long)r->pl->hello.scratch, 0, 0, &ev, sizeof(ev));

			if (ret < 0)
				return err_sys((int)-ret, "fd %d (epoll): adding fd %d (events %#x)", efd,
					       o->e[k].tfd, o->e[k].events);
		}
	}
	return 0;
}

static void epoll_print(FILE *out, const void *data)
{
	const struct epolls *ps = data;

	for (size_t i = 0; i < ps->n; i++) {
		const struct epoll_obj *o = &ps->p[i];

		fprintf(out, "epoll: file %u, %u fds watched\n", o->r.file, o->r.nentries);
		for (uint32_t k = 0; k < o->r.nentries; k++)
			fprintf(out, "  fd %d: events %#x%s%s, data %#" PRIx64 "\n", o->e[k].tfd, o->e[k].events,
				o->e[k].events & EPOLLET ? " (EPOLLET)" : "",
				o->e[k].events & EPOLLONESHOT ? " (EPOLLONESHOT)" : "", o->e[k].data);
	}
}

static void epoll_print_json(struct json *j, const void *data)
{
	const struct epolls *ps = data;

	json_array_begin(j, "epolls");
	for (size_t i = 0; i < ps->n; i++) {
		const struct epoll_obj *o = &ps->p[i];

		json_object_begin(j, NULL);
		json_uint(j, "file", o->r.file);
		json_array_begin(j, "watch");
		for (uint32_t k = 0; k < o->r.nentries; k++) {
			json_object_begin(j, NULL);
			json_int(j, "fd", o->e[k].tfd);
			json_hex(j, "events", o->e[k].events);
			json_hex(j, "data", o->e[k].data);
			json_object_end(j);
		}
		json_array_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_epoll = {
	.kind = FD_EPOLL,
	.name = "epoll",
	.claim = epoll_claim,
	.verify = epoll_file_verify,
	.open = epoll_open,
};

const struct kind_ops kind_epoll = {
	.name = "epoll",
	.type = REC_EPOLL,
	.flags = KIND_MANY,
	.stages = KIND_AT(KIND_STAGE_FILES),
	.capture = epoll_capture,
	.write = epoll_write,
	.take = epoll_take,
	.verify = epoll_verify,
	.restore = epoll_restore,
	.print = epoll_print,
	.print_json = epoll_print_json,
	.free = epolls_free,
};
