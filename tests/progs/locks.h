/* locks.h: the lock programs' view of /proc/locks, the kernel's list of
 * every file lock held on the machine (what another process sees). */
#ifndef PROGS_LOCKS_H
#define PROGS_LOCKS_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Whether /proc/locks has a lock of CLASS (FLOCK, POSIX, OFDLCK, LEASE)
 * and TYPE (READ, WRITE) on the file st; its pid in *pid. */
static inline int lock_listed(const char *class, const char *type, const struct stat *st, int *pid)
{
	char line[256], c[16], mode[16], t[16];
	unsigned maj, min;
	unsigned long ino;
	int found = 0;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		/* "1: POSIX  ADVISORY  WRITE 1234 00:2a:5678 0 EOF"; a blocked
		 * waiter's line starts "1: -> ". */
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%lu", c, mode, t, pid, &maj, &min,
			   &ino) != 7)
			continue;
		found = !strcmp(c, class) && !strcmp(t, type) && ino == st->st_ino &&
			makedev(maj, min) == st->st_dev;
	}
	fclose(f);
	return found;
}

#endif
