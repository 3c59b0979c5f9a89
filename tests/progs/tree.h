/* tree.h: what the process-tree programs (tree_*.c) share: making
 * children that wait, reading where a process stands from /proc, and
 * counting together in shared memory. */
#ifndef PROGS_TREE_H
#define PROGS_TREE_H

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "say.h"

/* A child that only waits (in pause(), so its state is plain): fn, if
 * given, runs in it first.  It keeps no fd above 2 but keep (a pipe end
 * shared between processes is another matter than the tree's). */
static inline pid_t tree_child(void (*fn)(void), int keep)
{
	pid_t p = fork();

	if (p == 0) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != keep)
				close(fd);
		if (fn)
			fn();
		for (;;)
			pause();
	}
	return p;
}

/* /proc/PID/stat: state letter, parent, group, session (0 if gone). */
struct tree_stat {
	char state;
	int ppid, pgid, sid;
};

static inline int tree_stat(pid_t pid, struct tree_stat *st)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %d %d %d", &st->state, &st->ppid, &st->pgid, &st->sid) != 4)
		return -1;
	return 0;
}

/* A counter in memory a parent and its child share (tree_shm,
 * tree_sysv): both add to total, and the child publishes how many times
 * it did.  A restore that gave each its own copy leaves the child's
 * count frozen in the parent's. */
struct tree_count {
	atomic_long total;
	atomic_long child_n;
};

/* The child's side, for ever: each (if given) runs after each add. */
static inline void tree_count_child(struct tree_count *c, void (*each)(void))
{
	for (;;) {
		/* Counted as done before it is: the parent's sum is never
		 * above what was published. */
		atomic_fetch_add(&c->child_n, 1);
		atomic_fetch_add(&c->total, 1);
		if (each)
			each();
		msleep(3);
	}
}

/* The parent's side, once a round: it adds its own (counted in *mine)
 * and checks that the counter is the sum and that the child's count has
 * moved since the last round (*seen, -1 at first).  NULL, or what
 * differs; what names the shared memory in the message. */
static inline const char *tree_count_check(struct tree_count *c, long *mine, long *seen, const char *what)
{
	static char why[200];
	long total, cn;

	atomic_fetch_add(&c->total, 1);
	(*mine)++;
	total = atomic_load(&c->total);
	cn = atomic_load(&c->child_n);
	if (total > *mine + cn || total < *mine + cn - 1) {
		snprintf(why, sizeof(why), "counter %ld, parent added %ld, child %ld", total, *mine, cn);
		return why;
	}
	if (cn == *seen) {
		snprintf(why, sizeof(why), "the child's count stays at %ld: not one %s?", cn, what);
		return why;
	}
	*seen = cn;
	return NULL;
}

#endif
