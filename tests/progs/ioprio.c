/* ioprio: the I/O priority best-effort level 6 (not the one nice 0 gives,
 * level 4, nor class none), checked with ioprio_get; "ioprio rt": realtime
 * level 3 (setting it needs CAP_SYS_ADMIN or CAP_SYS_NICE), after which
 * the program gives both capabilities up (a pthaw without them then finds
 * nothing in the way but the I/O priority). */
#include <linux/capability.h>
#include <linux/ioprio.h>
#include <sys/prctl.h>
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
	if (want >> IOPRIO_CLASS_SHIFT == IOPRIO_CLASS_RT) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		const unsigned drop[] = { CAP_SYS_ADMIN, CAP_SYS_NICE };

		if (syscall(SYS_capget, &h, d))
			return "capget";
		for (unsigned i = 0; i < 2; i++) {
			unsigned w = drop[i] / 32, b = 1u << (drop[i] % 32);

			if (prctl(PR_CAPBSET_DROP, drop[i], 0, 0, 0))
				return "PR_CAPBSET_DROP";
			d[w].effective &= ~b;
			d[w].permitted &= ~b;
			d[w].inheritable &= ~b;
		}
		if (syscall(SYS_capset, &h, d))
			return "capset";
	}
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
