/* precopy.c: live pre-copy (precopy.h).  The stream carries the
 * process's objects and mappings first, as captured at the start; then
 * passes of pages while it runs (a later pass over an address wins,
 * man/pfrez-stream.5); then, with the process held again, the last pages
 * and the task state (the KIND_LATE kinds), captured at that moment.  The
 * first records cannot be taken back: the process must still have the
 * same objects and mappings when it is held again, which is checked. */
#include "precopy.h"
#include "cow.h"
#include "err.h"
#include "kind.h"
#include "layer.h"
#include "pages.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A pass that finds at most this many written pages is the last one
 * while the process runs: the rest costs less than a pass. */
#define PRECOPY_CONVERGED 256

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* One kind's records as bytes, in a memory layer. */
static int kind_bytes(const struct kind_ops *k, void *data, struct layer **l)
{
	struct rec_writer mw = { 0 };

	*l = layer_hold_open(NULL);
	if (!*l)
		return err_sys(ENOMEM, "pre-copy");
	mw.out = *l;
	return data ? k->write(data, &mw) : 0;
}

/* The records already sent (those that must precede the pages) must
 * describe the process as it is now: it may have changed only its memory
 * and its task state meanwhile. */
static int same_objects(pid_t pid, const struct snap *was, const struct snap *now)
{
	for (int i = 0; i < KIND_NR; i++) {
		const struct kind_ops *k = kind_get(i);
		struct layer *a = NULL, *b = NULL;
		const void *pa, *pb;
		size_t na, nb;
		int rc;

		if (!k || !k->write || (k->flags & KIND_LATE))
			continue;
		rc = kind_bytes(k, was->kind[i], &a);
		if (!rc)
			rc = kind_bytes(k, now->kind[i], &b);
		if (!rc) {
			pa = layer_hold_data(a, &na);
			pb = layer_hold_data(b, &nb);
			if (na != nb || (na && memcmp(pa, pb, na)))
				rc = err_msg(ESTALE, "process %d changed its %s while its memory was sent (pre-copy), which the stream already gave as it was: migrate it with -precopy=0",
					     pid, k->name);
		}
		layer_destroy(a);
		layer_destroy(b);
		if (rc)
			return rc;
	}
	return 0;
}

const char *precopy_unsuited(const struct snap *s)
{
	static const int volatile_kinds[] = {
		KIND_INET, KIND_TTY, KIND_UNIX, KIND_INOTIFY, KIND_PIPE, KIND_EVENTFD,
		KIND_TIMERFD, KIND_SIGNALFD, KIND_EPOLL,
	};

	for (size_t i = 0; i < sizeof(volatile_kinds) / sizeof(volatile_kinds[0]); i++)
		if (s->kind[volatile_kinds[i]] && kind_get(volatile_kinds[i]))
			return kind_get(volatile_kinds[i])->name;
	return NULL;
}

int precopy_write(struct capture *c, struct rec_writer *w, const struct precopy_opts *o)
{
	struct capture was = *c;
	struct cow *cow = c->cow;
	struct pages_src src = { .pid = c->pid, .snap = &was.snap, .cow = cow, .part = PAGES_COW,
				 .progress = c->progress, .progress_arg = c->progress_arg };
	uint64_t dirty = 0, prev = UINT64_MAX;
	unsigned long long zeros = 0;
	struct timespec t0;
	int rc, pass = 0;

	/* c starts again from nothing but its settings; was owns the rest
	 * (the kinds kept in the snap point at the snap: at was's now). */
	for (int i = 0; i < KIND_NR; i++)
		if (was.snap.kind[i] == &c->snap)
			was.snap.kind[i] = &was.snap;
	memset(c, 0, sizeof(*c));
	c->pid = was.pid;
	c->self_contained = was.self_contained;
	c->halt = was.halt;
	c->max_deleted = was.max_deleted;
	c->progress = was.progress;
	c->progress_arg = was.progress_arg;
	was.cow = NULL;
	rc = kinds_write_part(was.snap.kind, w, 0);
	capture_release(&was);
	while (!rc) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = cow_pass(cow, 0, &dirty);
		if (!rc)
			rc = pages_write(&src, w);
		pass++;
		if (o->progress && !rc)
			fprintf(stderr, "pfrez: pre-copy pass %d: %llu pages (%.1f MiB) sent in %.0f ms while it runs\n",
				pass, (unsigned long long)dirty, (double)dirty / 256, ms_since(&t0));
		/* Done when little was left, at the bound, or when the
		 * process writes faster than the passes go (no shrinking). */
		if (pass >= o->max_passes || (pass > 1 && dirty <= PRECOPY_CONVERGED) ||
		    (pass > 2 && dirty >= prev))
			break;
		prev = dirty;
	}
	/* Held again, for good: its state as of now. */
	if (!rc) {
		clock_gettime(CLOCK_MONOTONIC, &c->held_at);
		rc = capture_attach(c, c->pid);
		/* smaps and /proc/locks while it runs on a moment under watch
		 * (the hold starts again after that, held_at with it). */
		if (!rc)
			rc = capture_read_ahead(c);
		if (!rc)
			rc = capture_state(c);
	}
	if (!rc)
		rc = same_objects(c->pid, &was.snap, &c->snap);
	if (!rc) {
		rc = cow_pass(cow, 1, &dirty);
		src.snap = &c->snap;
		src.zero_sent = 0;
	}
	if (!rc)
		rc = pages_write(&src, w);
	/* Pages sent before that read zeros now: discarded meanwhile. */
	zeros = src.zero_sent;
	if (!rc) {
		src.part = PAGES_STOPPED;
		rc = pages_write(&src, w);
	}
	if (!rc)
		rc = kinds_write_part(c->snap.kind, w, 1);
	if (o->progress && !rc)
		fprintf(stderr, "pfrez: pre-copy: %d passes while it ran; held for the last %llu pages (%llu of them zeros) and its state, %.1f ms so far\n",
			pass, (unsigned long long)dirty, zeros, ms_since(&c->held_at));
	c->passes = pass;
	/* Closing the userfaultfd makes the kernel walk every page table
	 * entry of the tracked memory to drop its protection, with the mmap
	 * lock held (tens of ms at 2 GiB): not while the process is held for
	 * the hand-over.  capture_free() closes it, once the original has
	 * ended (its memory gone: nothing to walk) or runs on. */
	c->cow = cow;
	capture_free(&was);
	c->pages_sent = src.pages_sent;
	c->bytes_sent = src.bytes_sent;
	return rc;
}
