/* ioprio: the I/O priority best-effort level 6 (not the one nice 0 gives,
 * level 4, nor class none), checked with ioprio_get; "ioprio rt": realtime
 * level 3 (setting it needs CAP_SYS_ADMIN or CAP_SYS_NICE). */
#include <linux/ioprio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND "ioprio"
#include "zdtm.h"

static long want = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 6;

static const char *setup(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "rt"))
		want = (IOPRIO_CLASS_RT << IOPRIO_CLASS_SHIFT) | 3;
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, want))
		return "ioprio_set";
	return NULL;
}

static const char *check(void)
{
	long v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);

	if (v != want)
		return zdtm_why("I/O priority is class %ld data %ld, was class %ld data %ld",
				v >> IOPRIO_CLASS_SHIFT, v & IOPRIO_PRIO_MASK, want >> IOPRIO_CLASS_SHIFT,
				want & IOPRIO_PRIO_MASK);
	return NULL;
}
