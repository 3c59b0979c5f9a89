/* madvise: one private anonymous mapping per madvise flag, each filled
 * with its own pattern; each round checks the contents and that the
 * VmFlags line of /proc/self/smaps for the mapping still shows the flag
 * (dc dontfork, wf wipeonfork, dd dontdump, hg hugepage, nh nohugepage,
 * mg mergeable, sr sequential, rr random; lo mlock, lf mlock2 on fault,
 * sl mseal).  A flag the kernel does not offer is skipped at setup. */
#include <sys/mman.h>
#include <sys/syscall.h>

#define KIND "madvise"
#define ZDTM_PERIOD 100
#include "zdtm.h"

#define LEN (16 * 4096)

/* Not madvise: how the others are set. */
#define DO_MLOCK	-1
#define DO_MLOCK_ONFAULT -2
#define DO_MSEAL	-3

static struct {
	int advice;
	const char *flag;
	unsigned char *at;
} maps[] = {
	{ MADV_DONTFORK, "dc", NULL },
	{ MADV_WIPEONFORK, "wf", NULL },
	{ MADV_DONTDUMP, "dd", NULL },
	{ MADV_HUGEPAGE, "hg", NULL },
	{ MADV_NOHUGEPAGE, "nh", NULL },
	{ MADV_MERGEABLE, "mg", NULL },
	{ MADV_SEQUENTIAL, "sr", NULL },
	{ MADV_RANDOM, "rr", NULL },
	{ DO_MLOCK, "lo", NULL },
	{ DO_MLOCK_ONFAULT, "lf", NULL },
	{ DO_MSEAL, "sl", NULL },
};
#define NMAPS (sizeof(maps) / sizeof(maps[0]))

static int advise(void *p, int advice)
{
	switch (advice) {
	case DO_MLOCK:
		return mlock(p, LEN);
	case DO_MLOCK_ONFAULT:
		return (int)syscall(SYS_mlock2, p, LEN, 1 /* MLOCK_ONFAULT */);
	case DO_MSEAL:
		return (int)syscall(462 /* mseal */, p, LEN, 0);
	}
	return madvise(p, LEN, advice);
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned i = 0; i < NMAPS; i++) {
		unsigned char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
					-1, 0);

		if (p == MAP_FAILED)
			return "mmap";
		for (int j = 0; j < LEN; j++)
			p[j] = (j + i * 17) % 253;
		if (advise(p, maps[i].advice)) {
			/* mlock also fails past RLIMIT_MEMLOCK. */
			if (errno != EINVAL && errno != ENOSYS &&
			    !(maps[i].advice < 0 && (errno == ENOMEM || errno == EPERM || errno == EAGAIN)))
				return zdtm_why("madvise %s", maps[i].flag);
			say("madvise: %s not offered here, skipped\n", maps[i].flag);
			munmap(p, LEN);
			continue;
		}
		maps[i].at = p;
	}
	return NULL;
}

/* The VmFlags of the mapping holding ADDR, in buf. */
static const char *vmflags(const void *addr, char *buf, size_t len)
{
	char line[512];
	unsigned long a = (unsigned long)addr, lo, hi;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return "cannot open /proc/self/smaps";
	buf[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = lo <= a && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(buf, len, "%s", line + 8);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	fclose(f);
	return buf[0] ? NULL : zdtm_why("no mapping at %p in /proc/self/smaps", addr);
}

static const char *check(void)
{
	char flags[600], tok[8], lost[64] = "";
	const char *why;

	for (unsigned i = 0; i < NMAPS; i++) {
		if (!maps[i].at)
			continue;
		for (int j = 0; j < LEN; j++)
			if (maps[i].at[j] != (j + i * 17) % 253)
				return zdtm_why("the %s mapping changed at byte %d", maps[i].flag, j);
		if ((why = vmflags(maps[i].at, flags, sizeof(flags))))
			return why;
		snprintf(tok, sizeof(tok), " %s ", maps[i].flag);
		strcat(flags, " ");
		if (!strstr(flags, tok))
			snprintf(lost + strlen(lost), sizeof(lost) - strlen(lost), " %s", maps[i].flag);
	}
	if (lost[0])
		return zdtm_why("VmFlags lost:%s", lost);
	return NULL;
}
