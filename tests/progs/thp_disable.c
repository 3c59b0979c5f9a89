/* thp_disable: PR_SET_THP_DISABLE, checked with PR_GET_THP_DISABLE and
 * the THP_enabled line of /proc/self/status. */
#include <sys/prctl.h>

#define KIND "thp_disable"
#include "zdtm.h"

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return "PR_SET_THP_DISABLE";
	return NULL;
}

static const char *check(void)
{
	char buf[32];
	int v = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);

	if (v != 1)
		return zdtm_why("PR_GET_THP_DISABLE is %d, was 1", v);
	if (zdtm_status("THP_enabled", buf, sizeof(buf)) && strcmp(buf, "0"))
		return zdtm_why("THP_enabled is %s, was 0", buf);
	return NULL;
}
