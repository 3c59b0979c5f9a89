/* dumpable: PR_SET_DUMPABLE 0, checked with PR_GET_DUMPABLE. */
#include <sys/prctl.h>

#define KIND "dumpable"
#include "zdtm.h"

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		return "PR_SET_DUMPABLE";
	return NULL;
}

static const char *check(void)
{
	int v = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);

	if (v != 0)
		return zdtm_why("PR_GET_DUMPABLE is %d, was 0", v);
	return NULL;
}
