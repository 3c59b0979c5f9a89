/* prefetch.c: slow /proc files of a held process, read ahead by threads
 * (prefetch.h). */
#include "prefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pre_file {
	char path[64];
	pthread_t th;
	int started, joined, taken;
	int err;		/* errno of the read, 0 when text is whole */
	char *text;
	size_t len;
	int *finished;		/* the set's count of threads done */
};

struct proc_prefetch {
	struct pre_file f[PREFETCH_MAX];
	int n;
	int finished;		/* threads done reading (atomic) */
};

/* The thread: the whole file into memory.  No err_*() here (the error
 * line is the main thread's): a failure only makes the reader read the
 * file itself, and meet the error there. */
static void read_file(struct pre_file *f)
{
	size_t cap = 0;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		f->err = errno;
		return;
	}
	for (;;) {
		ssize_t n;

		if (cap - f->len < 65536) {
			char *p = realloc(f->text, cap + (cap > 65536 ? cap : 65536) + 1);

			if (!p) {
				f->err = ENOMEM;
				break;
			}
			f->text = p;
			cap += cap > 65536 ? cap : 65536;
		}
		n = read(fd, f->text + f->len, cap - f->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			f->err = errno;
		if (n <= 0)
			break;
		f->len += (size_t)n;
	}
	close(fd);
}

static void *read_whole(void *arg)
{
	struct pre_file *f = arg;

	read_file(f);
	__atomic_add_fetch(f->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct proc_prefetch *proc_prefetch_new(void)
{
	return calloc(1, sizeof(struct proc_prefetch));
}

void proc_prefetch_add(struct proc_prefetch *pp, const char *path)
{
	struct pre_file *f;

	if (!pp || pp->n == PREFETCH_MAX || strlen(path) >= sizeof(f->path))
		return;
	for (int i = 0; i < pp->n; i++)
		if (!strcmp(pp->f[i].path, path) && !pp->f[i].taken && pp->f[i].started)
			return;
	f = &pp->f[pp->n++];
	strcpy(f->path, path);
	f->finished = &pp->finished;
	f->started = !pthread_create(&f->th, NULL, read_whole, f);
}

int proc_prefetch_ready(void *arg)
{
	struct proc_prefetch *pp = arg;
	int started = 0;

	for (int i = 0; pp && i < pp->n; i++)
		started += pp->f[i].started;
	return !pp || __atomic_load_n(&pp->finished, __ATOMIC_ACQUIRE) == started;
}

static void join(struct pre_file *f)
{
	if (f->started && !f->joined) {
		pthread_join(f->th, NULL);
		f->joined = 1;
	}
}

FILE *proc_prefetch_open(struct proc_prefetch *pp, const char *path)
{
	for (int i = 0; pp && i < pp->n; i++) {
		struct pre_file *f = &pp->f[i];

		if (strcmp(f->path, path) || f->taken || !f->started)
			continue;
		f->taken = 1;
		join(f);
		/* fmemopen of 0 bytes reads as the empty file (glibc 2.22). */
		if (!f->err)
			return fmemopen(f->text ? f->text : "", f->len, "r");
	}
	return fopen(path, "re");
}

void proc_prefetch_end(struct proc_prefetch *pp)
{
	if (!pp)
		return;
	for (int i = 0; i < pp->n; i++) {
		join(&pp->f[i]);
		free(pp->f[i].text);
	}
	free(pp);
}
