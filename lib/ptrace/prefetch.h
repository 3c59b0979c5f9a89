/* prefetch.h: the /proc files of a held process that are slow to make
 * without work of pfrez's own, read by threads while pfrez goes on with
 * the rest of the capture (the calls it injects): the time the process
 * is held is then the longest of them, not their sum.
 *
 *  /proc/locks takes file_rwsem for writing, which first waits for an
 *  RCU grace period: 8 ms or more however few locks there are, all of
 *  it waiting.
 *
 *  /proc/PID/smaps (the madvise kind) is the kernel's walk of every page
 *  table entry (8 to 10 ms at 2 GiB of 4 KiB pages on an idle machine,
 *  17 beside the injected calls on two CPUs), under the mmap lock for
 *  reading.
 *
 * A copy-on-write capture reads both before its hold, while the process
 * runs under watch (watch.h, capture_read_ahead()).  Otherwise /proc/locks
 * is read from the hold's start, and smaps only beside copy-on-write's
 * own walk (cow_freeze), started after the last call that takes the mmap
 * lock for writing (brk(), mm.c), which would wait for it; with no walk
 * to run beside (a -halt's last hold) it only slowed the calls, and the
 * kind reads it itself.
 *
 * What a file holds is the state when the thread read it, so it is read
 * only while every thread of the process is held, or while the process
 * runs under watch (watch.h) just before it is held, and the caller must
 * not change what it shows until it has taken it.  Each text is given
 * once; asked again, it is read anew. */
#ifndef PFREZ_PREFETCH_H
#define PFREZ_PREFETCH_H

#include <stdio.h>
#include <sys/types.h>

struct proc_prefetch;

/* A set of files read ahead, none yet; NULL without memory, which
 * proc_prefetch_add() and proc_prefetch_open() take as an empty set. */
struct proc_prefetch *proc_prefetch_new(void);

/* Starts reading path (at most PREFETCH_MAX of them); nothing when no
 * thread can be started (proc_prefetch_open() then reads it itself), or
 * when path is being read already and not yet taken. */
#define PREFETCH_MAX 4
void proc_prefetch_add(struct proc_prefetch *pp, const char *path);

/* path opened for reading ("re"): the text read ahead when pp holds one
 * for path not yet given (waiting for its thread), otherwise path
 * itself.  NULL with errno set as fopen() does.  Closed before
 * proc_prefetch_end(), which frees the text. */
FILE *proc_prefetch_open(struct proc_prefetch *pp, const char *path);

/* Whether every file of pp (a struct proc_prefetch *) is read: for
 * watch_run(), which lets the process run until then. */
int proc_prefetch_ready(void *pp);

/* Waits for the threads, frees what was not taken. */
void proc_prefetch_end(struct proc_prefetch *pp);

#endif
