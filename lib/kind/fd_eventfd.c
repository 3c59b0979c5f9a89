/* fd_eventfd.c: eventfd(2) descriptors.  /proc/PID/fdinfo shows the
 * counter and EFD_SEMAPHORE; pthaw makes an eventfd with the same flags
 * and adds the counter back with a write (eventfd2 takes only 32 bits). */
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
#include <sys/eventfd.h>
#include <sys/syscall.h>

struct eventfds {
	size_t n;
	struct rec_eventfd e[];
};

static int eventfd_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return strcmp(d->link, "anon_inode:[eventfd]") == 0;
}

/* "eventfd-count: %16llx" and (Linux 6.6) "eventfd-semaphore: %d". */
static int parse(pid_t pid, const struct snap_file *f, struct rec_eventfd *e)
{
	char name[32], info[4096];
	uint64_t count;
	const char *c, *sem;
	int rc;

	snprintf(name, sizeof(name), "fdinfo/%d", f->first_fd);
	rc = proc_read_text(pid, name, info, sizeof(info));
	if (rc)
		return rc;
	c = strstr(info, "\neventfd-count:");
	sem = strstr(info, "\neventfd-semaphore:");
	/* Into a local: the record's fields are packed. */
	if (!c || sscanf(c, "\neventfd-count: %" SCNx64, &count) != 1 || (e->count = count) == UINT64_MAX)
		return err_msg(EIO, "process %d: fd %d (eventfd): no counter in /proc/%d/%s", pid, f->first_fd,
			       pid, name);
	if (!sem)
		return err_msg(ENOTSUP, "process %d: fd %d (eventfd): this kernel does not show EFD_SEMAPHORE in fdinfo (Linux 6.6)",
			       pid, f->first_fd);
	e->semaphore = strncmp(sem, "\neventfd-semaphore: 1", 21) == 0;
	e->file = f->r.id;
	return 0;
}

static int eventfd_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct eventfds *es = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_EVENTFD;
	if (!n)
		return 0;
	if (!(es = calloc(1, sizeof(*es) + n * sizeof(es->e[0]))))
		return err_sys(ENOMEM, "eventfds");
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_EVENTFD)
			rc = parse(c->pid, &s->files[i], &es->e[es->n++]);
	if (rc) {
		free(es);
		return rc;
	}
	*data = es;
	return 0;
}

static int eventfd_rec_write(const void *data, struct rec_writer *w)
{
	const struct eventfds *es = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < es->n; i++)
		rc = rec_write(w, REC_EVENTFD, &es->e[i], sizeof(es->e[i]), NULL, 0);
	return rc;
}

static int eventfd_get(void **data, const unsigned char *p, size_t len)
{
	struct eventfds *es = *data;
	struct rec_eventfd e;
	size_t n = es ? es->n : 0;

	if (len != sizeof(e))
		return err_msg(EBADMSG, "eventfd record: %zu bytes, not %zu", len, sizeof(e));
	memcpy(&e, p, sizeof(e));
	if (e.semaphore > 1 || e.count == UINT64_MAX)
		return err_msg(EBADMSG, "eventfd record: malformed");
	if (n >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "eventfd record: too many");
	es = realloc(es, sizeof(*es) + (n + 1) * sizeof(e));
	if (!es)
		return err_sys(ENOMEM, "eventfds");
	*data = es;
	es->n = n + 1;
	es->e[n] = e;
	return 0;
}

static int eventfd_verify(const struct snap *s, const void *data)
{
	const struct eventfds *es = data;
	size_t n = 0;

	for (size_t i = 0; i < es->n; i++) {
		if (es->e[i].file >= s->nfiles || s->files[es->e[i].file].r.kind != FD_EVENTFD)
			return err_msg(EBADMSG, "eventfd record: file %u is not an eventfd", es->e[i].file);
		for (size_t j = 0; j < i; j++)
			if (es->e[j].file == es->e[i].file)
				return err_msg(EBADMSG, "eventfd record: file %u twice", es->e[i].file);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_EVENTFD;
	if (n != es->n)
		return err_msg(EBADMSG, "eventfd records: %zu for %zu eventfds", es->n, n);
	return 0;
}

/* Before any page: file f has its eventfd record. */
static int eventfd_file_verify(const struct snap *s, const struct snap_file *f)
{
	const struct eventfds *es = s->kind[KIND_EVENTFD];

	for (size_t i = 0; es && i < es->n; i++)
		if (es->e[i].file == f->r.id)
			return 0;
	return err_msg(EBADMSG, "file %u (fd %d): an eventfd without its eventfd record", f->r.id, f->first_fd);
}

static long eventfd_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct eventfds *es = s->kind[KIND_EVENTFD];
	const struct rec_eventfd *e = NULL;
	long fd, ret;

	for (size_t i = 0; es && i < es->n && !e; i++)
		if (es->e[i].file == f->r.id)
			e = &es->e[i];
	if (!e)
		return err_msg(EBADMSG, "fd %d: an eventfd without its eventfd record", f->first_fd);
	fd = pload_call(r->pl, SYS_eventfd2, 0,
			EFD_CLOEXEC | (e->semaphore ? EFD_SEMAPHORE : 0) | (f->r.flags & O_NONBLOCK ? EFD_NONBLOCK : 0),
			0, 0, 0, 0, NULL, 0);
	if (fd < 0)
		return err_sys((int)-fd, "fd %d: eventfd", f->first_fd);
	/* The counter is 64 bits; a write adds to it without blocking while
	 * it stays below 2^64 - 1. */
	if (e->count) {
		ret = pload_call(r->pl, SYS_write, fd, (long)r->pl->hello.scratch, 8, 0, 0, 0, &e->count, 8);
		if (ret != 8) {
			pload_call(r->pl, SYS_close, fd, 0, 0, 0, 0, 0, NULL, 0);
			return err_sys(ret < 0 ? (int)-ret : EIO, "fd %d: eventfd counter %" PRIu64, f->first_fd,
				       e->count);
		}
	}
	return fd;
}

static void eventfd_print(FILE *out, const void *data)
{
	const struct eventfds *es = data;

	for (size_t i = 0; i < es->n; i++)
		fprintf(out, "eventfd: file %u, counter %" PRIu64 "%s\n", es->e[i].file, es->e[i].count,
			es->e[i].semaphore ? ", EFD_SEMAPHORE" : "");
}

static void eventfd_print_json(struct json *j, const void *data)
{
	const struct eventfds *es = data;

	json_array_begin(j, "eventfds");
	for (size_t i = 0; i < es->n; i++) {
		json_object_begin(j, NULL);
		json_uint(j, "file", es->e[i].file);
		json_uint(j, "count", es->e[i].count);
		json_bool(j, "semaphore", es->e[i].semaphore);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_eventfd = {
	.kind = FD_EVENTFD,
	.name = "eventfd",
	.claim = eventfd_claim,
	.verify = eventfd_file_verify,
	.open = eventfd_open,
};

const struct kind_ops kind_eventfd = {
	.name = "eventfd",
	.type = REC_EVENTFD,
	.flags = KIND_MANY,
	.capture = eventfd_capture,
	.write = eventfd_rec_write,
	.take = eventfd_get,
	.verify = eventfd_verify,
	.print = eventfd_print,
	.print_json = eventfd_print_json,
};
