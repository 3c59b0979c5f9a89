/* watch.h: a held process let run for a moment under watch, each system
 * call it makes stopping at its entry (PTRACE_SYSCALL), then held again.
 *
 * What pfrez reads of a process meanwhile (prefetch.h: /proc/PID/smaps,
 * /proc/locks) is what it would read once the process is held again, if
 * the process made only calls that cannot change it: no mapping made,
 * moved or flagged, no fd table or thread made, no exec.  Those calls
 * are a list (watch.c); any call off it makes the moment unclean, and
 * the caller reads again while it holds the process.  The one change
 * made without a call, a stack growing down into its guard gap, moves
 * the start of [stack], which the madvise kind sees and reads again for.
 *
 * The process sees nothing of it but time: its calls run as they would,
 * its signals are delivered as they come, and a stop signal stops it
 * (the moment is then unclean). */
#ifndef PFREZ_WATCH_H
#define PFREZ_WATCH_H

#include <sys/types.h>

struct watch_end {
	int clean;		/* 1: only calls on the list, and every thread held again */
	pid_t tid;		/* unclean: the first thread that went off the list, */
	long nr;		/* with this call; -1: it ended, or stopped on a signal;
				 * -2: the reading took longer than a second */
	double ms;		/* how long the process ran */
};

/* tids[0..n): every thread of pid, each seized (PTRACE_O_TRACESYSGOOD)
 * by the calling thread and held at PTRACE_INTERRUPT's stop, not at a
 * group stop (then nothing runs: unclean).  Lets them run watched until
 * done(arg) (or at once after the first call off the list, or after a
 * second), then holds again every thread that is still there, as
 * PTRACE_INTERRUPT did.  0 with *e filled; -ESRCH without a message when
 * the main thread is gone; another negative errno with one (the threads
 * may then be left running, still traced, until pfrez lets them go). */
int watch_run(pid_t pid, const pid_t *tids, size_t n, int (*done)(void *arg), void *arg,
	      struct watch_end *e);

/* System call nr's name, for messages ("system call NR" when unknown). */
const char *watch_call_name(long nr, char *buf, size_t size);

#endif
