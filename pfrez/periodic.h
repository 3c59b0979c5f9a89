/* periodic.h: pfrez -every: a snapshot of the process into a directory
 * every DURATION while it runs, the newest -keep of them kept. */
#ifndef PFREZ_PERIODIC_H
#define PFREZ_PERIODIC_H

#include <stdint.h>
#include <sys/types.h>

struct periodic_opts {
	pid_t pid;
	const char *dir;	/* -dest */
	int64_t every_ms;
	long keep;
	int progress;
};

/* Runs the schedule.  Each snapshot is taken by a child of pfrez that
 * goes on with pfrez's own single capture to *dest (a file of the
 * directory, written to a temporary name, flushed and renamed when
 * complete): in that child this returns -1 with *dest set.  In pfrez it
 * returns its exit status: 0 once the process has ended, 1 when a
 * snapshot could not be taken for another reason, 2 for a usage error. */
int periodic_run(const struct periodic_opts *o, const char **dest);

#endif
