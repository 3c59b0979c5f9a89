/* fd_signalfd.c: signalfd(2) descriptors.  Their state is the set of
 * signals they read ("sigmask:" of /proc/PID/fdinfo); the signals
 * themselves are queued to the process (signals.c), read through it
 * after the restore as before. */
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
#include <sys/signalfd.h>
#include <sys/syscall.h>

/* What signalfd4 never takes: SIGKILL and SIGSTOP. */
#define SIGFD_NEVER	((1ull << (9 - 1)) | (1ull << (19 - 1)))

struct signalfds {
	size_t n;
	struct rec_signalfd e[];
};

static int signalfd_claim(const struct fd_info *d, struct rec_file *r)
{
	(void)r;
	return strcmp(d->link, "anon_inode:[signalfd]") == 0;
}

static int parse(pid_t pid, const struct snap_file *f, struct rec_signalfd *e)
{
	char name[32], info[4096];
	uint64_t mask;
	const char *m;
	int rc;

	snprintf(name, sizeof(name), "fdinfo/%d", f->first_fd);
	rc = proc_read_text(pid, name, info, sizeof(info));
	if (rc)
		return rc;
	m = strstr(info, "\nsigmask:");
	/* Into a local: the record's fields are packed. */
	if (!m || sscanf(m, "\nsigmask: %" SCNx64, &mask) != 1 || ((e->mask = mask), 0))
		return err_msg(EIO, "process %d: fd %d (signalfd): no sigmask in /proc/%d/%s", pid, f->first_fd,
			       pid, name);
	e->file = f->r.id;
	return 0;
}

static int signalfd_capture(struct kind_capture *c, void **data)
{
	const struct snap *s = c->snap;
	struct signalfds *es;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_SIGNALFD;
	if (!n)
		return 0;
	if (!(es = calloc(1, sizeof(*es) + n * sizeof(es->e[0]))))
		return err_sys(ENOMEM, "signalfds");
	for (size_t i = 0; !rc && i < s->nfiles; i++)
		if (s->files[i].r.kind == FD_SIGNALFD)
			rc = parse(c->pid, &s->files[i], &es->e[es->n++]);
	if (rc) {
		free(es);
		return rc;
	}
	*data = es;
	return 0;
}

static int signalfd_write(const void *data, struct rec_writer *w)
{
	const struct signalfds *es = data;
	int rc = 0;

	for (size_t i = 0; !rc && i < es->n; i++)
		rc = rec_write(w, REC_SIGNALFD, &es->e[i], sizeof(es->e[i]), NULL, 0);
	return rc;
}

static int signalfd_take(void **data, const unsigned char *p, size_t len)
{
	struct signalfds *es = *data;
	struct rec_signalfd e;
	size_t n = es ? es->n : 0;

	if (len != sizeof(e))
		return err_msg(EBADMSG, "signalfd record: %zu bytes, not %zu", len, sizeof(e));
	memcpy(&e, p, sizeof(e));
	if (e.pad || (e.mask & SIGFD_NEVER))
		return err_msg(EBADMSG, "signalfd record: malformed");
	if (n >= SNAP_FD_MAX)
		return err_msg(EBADMSG, "signalfd record: too many");
	es = realloc(es, sizeof(*es) + (n + 1) * sizeof(e));
	if (!es)
		return err_sys(ENOMEM, "signalfds");
	*data = es;
	es->n = n + 1;
	es->e[n] = e;
	return 0;
}

static int signalfd_verify(const struct snap *s, const void *data)
{
	const struct signalfds *es = data;
	size_t n = 0;

	for (size_t i = 0; i < es->n; i++) {
		if (es->e[i].file >= s->nfiles || s->files[es->e[i].file].r.kind != FD_SIGNALFD)
			return err_msg(EBADMSG, "signalfd record: file %u is not a signalfd", es->e[i].file);
		for (size_t j = 0; j < i; j++)
			if (es->e[j].file == es->e[i].file)
				return err_msg(EBADMSG, "signalfd record: file %u twice", es->e[i].file);
	}
	for (size_t i = 0; i < s->nfiles; i++)
		n += s->files[i].r.kind == FD_SIGNALFD;
	if (n != es->n)
		return err_msg(EBADMSG, "signalfd records: %zu for %zu signalfds", es->n, n);
	return 0;
}

/* Before any page: file f has its signalfd record. */
static int signalfd_file_verify(const struct snap *s, const struct snap_file *f)
{
	const struct signalfds *es = s->kind[KIND_SIGNALFD];

	for (size_t i = 0; es && i < es->n; i++)
		if (es->e[i].file == f->r.id)
			return 0;
	return err_msg(EBADMSG, "file %u (fd %d): a signalfd without its signalfd record", f->r.id, f->first_fd);
}

static long signalfd_open(struct kind_restore *r, const struct snap *s, const struct snap_file *f)
{
	const struct signalfds *es = s->kind[KIND_SIGNALFD];
	const struct rec_signalfd *e = NULL;
	long fd;

	for (size_t i = 0; es && i < es->n && !e; i++)
		if (es->e[i].file == f->r.id)
			e = &es->e[i];
	if (!e)
		return err_msg(EBADMSG, "fd %d: a signalfd without its signalfd record", f->first_fd);
	fd = pload_call(r->pl, SYS_signalfd4, -1, (long)r->pl->hello.scratch, 8,
			SFD_CLOEXEC | (f->r.flags & O_NONBLOCK ? SFD_NONBLOCK : 0), 0, 0, &e->mask, 8);
	if (fd < 0)
		return err_sys((int)-fd, "fd %d: signalfd", f->first_fd);
	return fd;
}

static void signalfd_print(FILE *out, const void *data)
{
	const struct signalfds *es = data;

	for (size_t i = 0; i < es->n; i++)
		fprintf(out, "signalfd: file %u, signals %#" PRIx64 "\n", es->e[i].file, es->e[i].mask);
}

static void signalfd_print_json(struct json *j, const void *data)
{
	const struct signalfds *es = data;

	json_array_begin(j, "signalfds");
	for (size_t i = 0; i < es->n; i++) {
		json_object_begin(j, NULL);
		json_uint(j, "file", es->e[i].file);
		json_hex(j, "mask", es->e[i].mask);
		json_object_end(j);
	}
	json_array_end(j);
}

const struct fd_kind_ops fd_kind_signalfd = {
	.kind = FD_SIGNALFD,
	.name = "signalfd",
	.claim = signalfd_claim,
	.verify = signalfd_file_verify,
	.open = signalfd_open,
};

const struct kind_ops kind_signalfd = {
	.name = "signalfd",
	.type = REC_SIGNALFD,
	.flags = KIND_MANY,
	.capture = signalfd_capture,
	.write = signalfd_write,
	.take = signalfd_take,
	.verify = signalfd_verify,
	.print = signalfd_print,
	.print_json = signalfd_print_json,
};
