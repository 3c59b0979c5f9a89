/* ckptdir.c: the snapshots of a directory (ckptdir.h). */
#include "ckptdir.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The number of a snapshot's file name, or 0 for any other name. */
static unsigned long ckpt_number(const char *name)
{
	unsigned long n;
	int end = 0;

	if (strlen(name) != 17 || sscanf(name, "ckpt-%6lu.pfrez%n", &n, &end) != 1 || name[end] != '\0')
		return 0;
	return n;
}

static int by_number_down(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

long ckpt_list(const char *dir, unsigned long **num)
{
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	*num = NULL;
	if (!d)
		return err_sys(errno, "%s", dir);
	while ((e = readdir(d))) {
		unsigned long k = ckpt_number(e->d_name);

		if (!k)
			continue;
		if (n == cap) {
			unsigned long *g = realloc(*num, (cap = cap ? 2 * cap : 16) * sizeof(**num));

			if (!g)
				break;
			*num = g;
		}
		(*num)[n++] = k;
	}
	closedir(d);
	if (n)
		qsort(*num, n, sizeof(**num), by_number_down);
	return (long)n;
}
