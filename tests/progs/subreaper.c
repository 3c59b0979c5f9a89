/* subreaper: PR_SET_CHILD_SUBREAPER, checked with PR_GET_CHILD_SUBREAPER. */
#include <sys/prctl.h>

#define KIND "subreaper"
#include "zdtm.h"

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		return "PR_SET_CHILD_SUBREAPER";
	return NULL;
}

static const char *check(void)
{
	int v = -1;

	if (prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0) || v != 1)
		return zdtm_why("PR_GET_CHILD_SUBREAPER is %d, was 1", v);
	return NULL;
}
