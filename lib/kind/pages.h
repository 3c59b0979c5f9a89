/* pages.h: the memory contents of the process, as REC_PAGES records. */
#ifndef PFREZ_PAGES_H
#define PFREZ_PAGES_H

#include <stddef.h>
#include <sys/types.h>

#include "record.h"

struct snap;
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
	void (*progress)(void *arg, unsigned long long bytes);
	void *progress_arg;
};

/* Writes the REC_PAGES records of every private mapping. */
int pages_write(struct pages_src *c, struct rec_writer *w);

/* Writes the pages of one REC_PAGES record into process pid (pload),
 * inside one of snap's private mappings, and counts them in *pages;
 * -EBADMSG on a malformed record or one outside them. */
int pages_put(pid_t pid, const struct snap *s, const unsigned char *p, size_t len,
	      unsigned long long *pages);

#endif
