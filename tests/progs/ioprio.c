/* ioprio: the I/O priority best-effort level 6 (not the one nice 0 gives,
 * level 4, nor class none), checked with ioprio_get. */
#include <linux/ioprio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND "ioprio"
#include "zdtm.h"

#define WANT ((IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 6)

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, WANT))
		return "ioprio_set best-effort 6";
	return NULL;
}

static const char *check(void)
{
	long v = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);

	if (v != WANT)
		return zdtm_why("I/O priority is class %ld data %ld, was class %d (best-effort) data 6",
				v >> IOPRIO_CLASS_SHIFT, v & IOPRIO_PRIO_MASK, IOPRIO_CLASS_BE);
	return NULL;
}
