/* prname: PR_SET_NAME to a name unlike the program's, checked with
 * PR_GET_NAME. */
#include <sys/prctl.h>

#define KIND "prname"
#include "zdtm.h"

#define NAME "kind-name-x"

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	if (prctl(PR_SET_NAME, NAME, 0, 0, 0))
		return "PR_SET_NAME";
	return NULL;
}

static const char *check(void)
{
	char name[17] = "";

	if (prctl(PR_GET_NAME, name, 0, 0, 0) || strcmp(name, NAME))
		return zdtm_why("PR_GET_NAME is \"%s\", was \"" NAME "\"", name);
	return NULL;
}
