/* pdeathsig: PR_SET_PDEATHSIG to SIGUSR2 (handled, so a delivery is seen,
 * not fatal), checked with PR_GET_PDEATHSIG; the parent lives on, so the
 * signal must never come. */
#include <signal.h>
#include <sys/prctl.h>

#define KIND "pdeathsig"
#include "zdtm.h"

static volatile sig_atomic_t delivered;

static void on_usr2(int sig)
{
	(void)sig;
	delivered = 1;
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	signal(SIGUSR2, on_usr2);
	if (prctl(PR_SET_PDEATHSIG, SIGUSR2, 0, 0, 0))
		return "PR_SET_PDEATHSIG";
	return NULL;
}

static const char *check(void)
{
	int v = -1;

	if (prctl(PR_GET_PDEATHSIG, &v, 0, 0, 0) || v != SIGUSR2)
		return zdtm_why("PR_GET_PDEATHSIG is %d, was %d (SIGUSR2)", v, SIGUSR2);
	if (delivered)
		return "SIGUSR2 (the parent-death signal) was delivered";
	return NULL;
}
