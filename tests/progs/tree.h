/* tree.h: what the process-tree programs (tree_*.c) share: making
 * children that wait, and reading where a process stands from /proc. */
#ifndef PROGS_TREE_H
#define PROGS_TREE_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

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

#endif
