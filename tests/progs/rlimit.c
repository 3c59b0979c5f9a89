/* rlimit: non-default soft and hard limits for a few resources (lowered
 * only: raising a hard limit needs privilege), checked with getrlimit
 * each round. */
#include <sys/resource.h>

#define KIND "rlimit"
#include "zdtm.h"

static struct {
	int res;
	const char *name;
	struct rlimit want;
} lims[] = {
	{ RLIMIT_NOFILE, "NOFILE", { 213, 317 } },
	{ RLIMIT_FSIZE, "FSIZE", { 1 << 30, 3LL << 30 } },
	{ RLIMIT_MSGQUEUE, "MSGQUEUE", { 12345, 54321 } },
	{ RLIMIT_SIGPENDING, "SIGPENDING", { 77, 99 } },
	{ RLIMIT_LOCKS, "LOCKS", { 1234, 4321 } },
	{ RLIMIT_CPU, "CPU", { 3600, 7200 } },
};
#define NLIMS (sizeof(lims) / sizeof(lims[0]))

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	for (unsigned i = 0; i < NLIMS; i++)
		if (setrlimit(lims[i].res, &lims[i].want))
			return lims[i].name;
	return NULL;
}

static const char *check(void)
{
	for (unsigned i = 0; i < NLIMS; i++) {
		struct rlimit r;

		if (getrlimit(lims[i].res, &r))
			return lims[i].name;
		if (r.rlim_cur != lims[i].want.rlim_cur || r.rlim_max != lims[i].want.rlim_max)
			return zdtm_why("RLIMIT_%s is %llu/%llu, was %llu/%llu", lims[i].name,
					(unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max,
					(unsigned long long)lims[i].want.rlim_cur,
					(unsigned long long)lims[i].want.rlim_max);
	}
	return NULL;
}
