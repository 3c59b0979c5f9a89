/* snap.c: a snapshot's state as the kinds share it: growing its arrays,
 * and the loops over the table of kinds that encode, decode, check and
 * print it.  What each kind's records say is in its own file. */
#include "snap.h"
#include "err.h"
#include "json.h"
#include "files.h"
#include "kind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

void snap_init(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < KIND_NR; i++)
		if (kind_get(i) && (kind_get(i)->flags & KIND_IN_SNAP))
			s->kind[i] = s;
}

int snap_grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*arr, c * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

void snap_array_reset(void **arr, size_t *n, size_t *cap)
{
	free(*arr);
	*arr = NULL;
	*n = 0;
	if (cap)
		*cap = 0;
}

int snap_add_vma(struct snap *s, const struct rec_vma *r, const char *name)
{
	struct snap_vma *v;

	if (s->nvmas >= SNAP_NVMAS_MAX)
		return err_msg(E2BIG, "more than %d mappings", SNAP_NVMAS_MAX);
	if (strlen(name) >= SNAP_PATH_MAX)
		return err_msg(ENAMETOOLONG, "mapping name longer than %d bytes", SNAP_PATH_MAX - 1);
	if (snap_grow((void **)&s->vmas, &s->vmas_cap, s->nvmas, sizeof(*v)))
		return err_sys(ENOMEM, "vma list");
	v = s->vmas + s->nvmas;
	v->r = *r;
	v->r.name_len = (uint32_t)strlen(name);
	v->name = strdup(name);
	if (!v->name)
		return err_sys(ENOMEM, "vma list");
	s->nvmas++;
	return 0;
}

int snap_add_pending(struct snap *s, const struct rec_siginfo *r)
{
	struct rec_siginfo *p;

	if (s->npending >= SNAP_PENDING_MAX)
		return err_msg(E2BIG, "more than %d pending signals", SNAP_PENDING_MAX);
	p = realloc(s->pending, (s->npending + 1) * sizeof(*p));
	if (!p)
		return err_sys(ENOMEM, "pending signals");
	s->pending = p;
	s->pending[s->npending++] = *r;
	return 0;
}

struct snap_thread *snap_add_thread(struct snap *s)
{
	struct snap_thread *t;

	if (s->nthreads >= SNAP_THREADS_MAX) {
		err_msg(E2BIG, "more than %d threads", SNAP_THREADS_MAX);
		return NULL;
	}
	t = realloc(s->threads, (s->nthreads + 1) * sizeof(*t));
	if (!t) {
		err_sys(ENOMEM, "threads");
		return NULL;
	}
	s->threads = t;
	t += s->nthreads++;
	memset(t, 0, sizeof(*t));
	return t;
}

int snap_write_meta(const struct snap *s, struct rec_writer *w)
{
	return kinds_write(s->kind, w);
}

char *snap_take_str(const unsigned char *p, size_t len, size_t *off, size_t n)
{
	char *s;

	if (n > len - *off || memchr(p + *off, '\0', n))
		return NULL;
	s = strndup((const char *)p + *off, n);
	*off += n;
	return s;
}

int snap_take(struct snap *s, uint32_t type, const unsigned char *p, size_t len, int late)
{
	/* Unknown records count too: they cost reading time all the same. */
	s->meta_bytes += len;
	if (s->meta_bytes > SNAP_META_MAX)
		return err_msg(E2BIG, "more than %u MiB of records besides the pages (corrupt or hostile stream)",
			       SNAP_META_MAX >> 20);
	return kinds_take(s->kind, s->nrec, type, p, len, late);
}

int snap_check(const struct snap *s, int final)
{
	return kinds_verify(s, s->kind, s->nrec, final);
}

void snap_print_ident(FILE *f, const char *what, const struct rec_ident *id)
{
	fprintf(f, "%s: device %llu:%llu inode %llu, mode 0%o", what,
		(unsigned long long)major(id->dev), (unsigned long long)minor(id->dev),
		(unsigned long long)id->ino, id->mode);
	if (S_ISREG(id->mode))
		fprintf(f, ", %llu bytes, mtime %lld.%09u", (unsigned long long)id->size,
			(long long)id->mtime_sec, id->mtime_nsec);
	if (S_ISCHR(id->mode) || S_ISBLK(id->mode))
		fprintf(f, ", device %llu:%llu", (unsigned long long)major(id->rdev),
			(unsigned long long)minor(id->rdev));
	fprintf(f, "\n");
}

const char *snap_esc(char *buf, size_t len, const char *s)
{
	err_escape(buf, len, s, strlen(s));
	return buf;
}

void snap_print(FILE *f, const struct snap *s)
{
	kinds_print(f, s->kind);
}

void snap_ident_json(struct json *j, const char *key, const struct rec_ident *id)
{
	char dev[48];

	json_object_begin(j, key);
	snprintf(dev, sizeof(dev), "%llu:%llu", (unsigned long long)major(id->dev),
		 (unsigned long long)minor(id->dev));
	json_str(j, "dev", dev);
	json_uint(j, "ino", id->ino);
	json_uint(j, "mode", id->mode);
	if (S_ISREG(id->mode)) {
		json_uint(j, "size", id->size);
		json_int(j, "mtime_sec", id->mtime_sec);
		json_uint(j, "mtime_nsec", id->mtime_nsec);
	}
	if (S_ISCHR(id->mode) || S_ISBLK(id->mode)) {
		snprintf(dev, sizeof(dev), "%llu:%llu", (unsigned long long)major(id->rdev),
			 (unsigned long long)minor(id->rdev));
		json_str(j, "rdev", dev);
	}
	json_object_end(j);
}

void snap_print_json(struct json *j, const struct snap *s)
{
	kinds_print_json(j, s->kind);
}

void snap_free(struct snap *s)
{
	free(s->comm);
	free(s->exe);
	free(s->cwd);
	free(s->auxv);
	free(s->groups);
	files_free(s);
	for (size_t i = 0; i < s->nvmas; i++)
		free(s->vmas[i].name);
	free(s->vmas);
	for (size_t i = 0; i < s->nthreads; i++)
		free(s->threads[i].xsave);
	free(s->threads);
	free(s->pending);
	kinds_free(s->kind);
	memset(s, 0, sizeof(*s));
}
