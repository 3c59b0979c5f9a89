/* pages.h: the memory contents of the process, as REC_PAGES records. */
#ifndef PFREZ_PAGES_H
#define PFREZ_PAGES_H

#include <stddef.h>
#include <sys/types.h>

#include "record.h"

struct snap;
struct snap_vma;
struct cow;

/* Which pages pages_write sends: all, or (copy-on-write capture, pre-copy)
 * those read while the process is held (the mappings cow does not cover,
 * memory objects), or those of the mappings it covers. */
enum pages_part { PAGES_ALL, PAGES_STOPPED, PAGES_COW };

/* Where pages_write reads them: the held process pid, whose mappings
 * are snap's (vma.c). */
struct pages_src {
	pid_t pid;
	const struct snap *snap;
	struct cow *cow;		/* NULL: every mapping read directly */
	enum pages_part part;
	int mem_fd, pagemap_fd;		/* pages_write's own */
	unsigned long long pages_sent, bytes_sent;
	unsigned long long zero_sent;	/* pages sent as zero records */
	void (*progress)(void *arg, unsigned long long bytes);
	void *progress_arg;
	/* -lazy: first the pages a restore needs before the process can
	 * start (mappings userfaultfd cannot fill later, and the stack),
	 * then REC_LAZY, then the pages of the other private anonymous
	 * mappings.  Over a two-way link, asked (when set) returns 1 with
	 * the next address pthaw is waiting for, 0 when none is, or -errno:
	 * those pages go out next, zero ones as records too. */
	int lazy;
	int (*asked)(void *arg, uint64_t *addr);
	void *asked_arg;
	unsigned long long pages_asked;
};

/* Pages of this mapping pthaw can fill after the process started
 * (userfaultfd on private anonymous memory, embedded files included). */
int pages_lazy_vma(const struct rec_vma *v);

/* Checks one REC_PAGES record against snap's private mappings: its
 * header in *h, its mapping in *v.  0 or -EBADMSG with the message set. */
int pages_decode(const struct snap *s, const unsigned char *p, size_t len, struct rec_pages *h,
		 const struct snap_vma **v);

/* Writes the REC_PAGES records of every private mapping. */
int pages_write(struct pages_src *c, struct rec_writer *w);

/* Writes the pages of one REC_PAGES record into process pid (pload),
 * inside one of snap's private mappings, and counts them in *pages;
 * -EBADMSG on a malformed record or one outside them. */
int pages_put(pid_t pid, const struct snap *s, const unsigned char *p, size_t len,
	      unsigned long long *pages);

#endif
