/* sched: nice 7 and the SCHED_BATCH policy, checked with getpriority and
 * sched_getscheduler. */
#include <sched.h>
#include <sys/resource.h>

#define KIND "sched"
#include "zdtm.h"

static const char *setup(int argc, char **argv)
{
	struct sched_param sp = { 0 };

	(void)argc, (void)argv;
	if (sched_setscheduler(0, SCHED_BATCH, &sp))
		return "SCHED_BATCH";
	if (setpriority(PRIO_PROCESS, 0, 7))
		return "setpriority 7";
	return NULL;
}

static const char *check(void)
{
	int pol = sched_getscheduler(0);
	int nice;

	if (pol != SCHED_BATCH)
		return zdtm_why("scheduling policy is %d, was %d (SCHED_BATCH)", pol, SCHED_BATCH);
	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno || nice != 7)
		return zdtm_why("nice is %d, was 7", nice);
	return NULL;
}
