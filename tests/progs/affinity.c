/* affinity: the process pins itself to one CPU (the first it may use, of
 * two or more), checked with sched_getaffinity and sched_getcpu. */
#include <sched.h>

#define KIND "affinity"
#include "zdtm.h"

static int pinned = -1;

static const char *setup(int argc, char **argv)
{
	cpu_set_t set;

	(void)argc, (void)argv;
	if (sched_getaffinity(0, sizeof(set), &set))
		return "sched_getaffinity";
	for (int c = 0; c < CPU_SETSIZE && pinned < 0; c++)
		if (CPU_ISSET(c, &set))
			pinned = c;
	/* With one CPU, pinned to it is every CPU (restored as such): the
	 * check then proves little, but holds. */
	CPU_ZERO(&set);
	CPU_SET(pinned, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return "sched_setaffinity";
	return NULL;
}

static const char *check(void)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		return zdtm_why("sched_getaffinity: %s", strerror(errno));
	if (CPU_COUNT(&set) != 1 || !CPU_ISSET(pinned, &set))
		return zdtm_why("CPU affinity is %d CPUs, was CPU %d only", CPU_COUNT(&set), pinned);
	cpu = sched_getcpu();
	if (cpu != pinned)
		return zdtm_why("runs on CPU %d, pinned to CPU %d", cpu, pinned);
	return NULL;
}
