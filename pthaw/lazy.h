/* lazy.h: pages placed with userfaultfd, so that the process can start
 * before they all arrived (pfrez -lazy): the rest fill in as the stream
 * brings them, and a thread of pthaw's makes the process wait for the
 * ones it touches first (and asks pfrez for them when there is a way
 * back). */
#ifndef PTHAW_LAZY_H
#define PTHAW_LAZY_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "pload_ctl.h"
#include "record.h"
#include "snap.h"

struct lazy_mm;

struct lazy {
	int on;			/* the private anonymous mappings are registered */
	int serving;		/* the fault thread serves faults */
	int starting;		/* the process is not running yet */
	uint64_t early_fault;	/* a page the restore itself touched, missing */
	const struct snap *snap;
	/* The restored process's address space, then those of the children
	 * it forks meanwhile (each a copy: they wait for the same pages). */
	struct lazy_mm *mm;
	size_t nmm;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long long gen;	/* events taken in (see lazy_put) */
	pthread_t th;
	int stop_fd;
	pid_t pid;
	int lazy_stream;
	/* The mappings with MADV_HUGEPAGE: filled lazily in small pages,
	 * made huge (MADV_COLLAPSE) once their pages are in. */
	struct { uint64_t start, end; unsigned char *data; } *huge;	/* data: per 2 MiB, filled */
	size_t nhuge;
	/* Pages the process touched before they arrived, placed, and still
	 * to come (REC_LAZY's count minus those placed). */
	unsigned long long faults, placed, missing;
	/* Set: asks pfrez for the page at addr (a PAGE message). */
	int (*ask)(void *arg, uint64_t addr);
	void *ask_arg;
};

/* After the mappings are made (KIND_STAGE_SPACE): a userfaultfd made in
 * pload over its private anonymous mappings, taken into pthaw.  Those
 * the process wants in huge pages (MADV_HUGEPAGE, set at that stage) are
 * left out unless the stream is lazy: written with process_vm_writev,
 * they fill huge pages, which UFFDIO_COPY cannot.  0 with lz->on set; 0
 * with it clear when this host cannot (a warning says why), or -errno. */
int lazy_open(struct lazy *lz, struct pload *pl, const struct snap *s, int lazy_stream);

/* Places the pages of record h (data: npages pages, NULL when zero)
 * when its mapping is registered: 1, placed (pages already there are
 * left as they are: the process may have changed them); 0: not ours
 * (pages_put's); -errno. */
int lazy_put(struct lazy *lz, const struct rec_pages *h, const unsigned char *data);

/* A thread serves the process's page faults until lazy_close.  Called
 * before the process starts, with lz->starting set: a fault then is the
 * restore's own (the kernel reading memory for a call pthaw injects,
 * rseq), for a page not sent before the lazy record, which nothing can
 * bring while the restore waits: the process is killed, the restore
 * fails, and lz->early_fault says where, instead of waiting forever. */
int lazy_serve(struct lazy *lz);

/* All pages are in: the fault thread stops, the ranges are let go (a
 * page never sent is a zero page, as it was). */
void lazy_close(struct lazy *lz);

/* The process ran traced (PTRACE_O_EXITKILL: it must not outlive pthaw
 * with pages missing): lets its threads (n tids) go, each with a signal
 * that stopped it meanwhile. */
void lazy_let_go(const pid_t *tids, size_t n);

#endif
