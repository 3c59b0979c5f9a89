/* creds: records the credentials it was started with (the harness starts
 * it under setpriv: groups, capability sets, no_new_privs, securebits)
 * and checks each round that none changed. */
#include <grp.h>
#include <sys/prctl.h>

#define KIND "creds"
#include "zdtm.h"

#define NFIELDS 9
static const char *const fields[NFIELDS] = {
	"Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
};
static char was[NFIELDS][256];
static int securebits;

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (int i = 0; i < NFIELDS; i++)
		if (!zdtm_status(fields[i], was[i], sizeof(was[i])))
			snprintf(was[i], sizeof(was[i]), "(none)");
	securebits = prctl(PR_GET_SECUREBITS);
	if (securebits < 0)
		return "PR_GET_SECUREBITS";
	say("creds: groups %s, CapPrm %s, CapBnd %s, NoNewPrivs %s, securebits %#x\n",
	    was[2], was[4], was[6], was[8], securebits);
	return NULL;
}

static const char *check(void)
{
	char now[256];

	for (int i = 0; i < NFIELDS; i++) {
		if (!zdtm_status(fields[i], now, sizeof(now)))
			snprintf(now, sizeof(now), "(none)");
		if (strcmp(now, was[i]))
			return zdtm_why("%s is \"%s\", was \"%s\"", fields[i], now, was[i]);
	}
	if (prctl(PR_GET_SECUREBITS) != securebits)
		return zdtm_why("securebits are %#x, were %#x", prctl(PR_GET_SECUREBITS), securebits);
	return NULL;
}
