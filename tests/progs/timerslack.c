/* timerslack: PR_SET_TIMERSLACK to 123457 ns (the default is 50000),
 * checked with PR_GET_TIMERSLACK. */
#include <sys/prctl.h>

#define KIND "timerslack"
#include "zdtm.h"

#define SLACK 123457

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_SET_TIMERSLACK, SLACK, 0, 0, 0))
		return "PR_SET_TIMERSLACK";
	return NULL;
}

static const char *check(void)
{
	long v = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);

	if (v != SLACK)
		return zdtm_why("PR_GET_TIMERSLACK is %ld, was %d", v, SLACK);
	return NULL;
}
