/* membarrier: registers for every private expedited command the kernel
 * offers (MEMBARRIER_CMD_QUERY; the global one cannot be checked from
 * inside), then checks each round that each
 * registered command still succeeds (unregistered, they fail with EPERM). */
#include <linux/membarrier.h>
#include <sys/syscall.h>

#define KIND "membarrier"
#include "zdtm.h"

static const struct {
	int reg, cmd;
	const char *name;
} kinds[] = {
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
	  "PRIVATE_EXPEDITED" },
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
	  MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE, "PRIVATE_EXPEDITED_SYNC_CORE" },
	{ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ, MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ,
	  "PRIVATE_EXPEDITED_RSEQ" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
static int registered[NKINDS];

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static const char *setup(int argc, char **argv)
{
	long have = membarrier(MEMBARRIER_CMD_QUERY);
	int n = 0;

	(void)argc, (void)argv;
	if (have < 0)
		return "MEMBARRIER_CMD_QUERY";
	for (unsigned i = 0; i < NKINDS; i++) {
		if (!(have & kinds[i].reg))
			continue;
		/* Before registration the command itself must fail, or the
		 * check proves nothing. */
		if (membarrier(kinds[i].cmd) == 0) {
			errno = EINVAL;
			return zdtm_why("%s succeeds unregistered", kinds[i].name);
		}
		if (membarrier(kinds[i].reg))
			return zdtm_why("register %s", kinds[i].name);
		registered[i] = 1;
		n++;
	}
	if (!n) {
		errno = ENOSYS;
		return "no expedited membarrier command";
	}
	return NULL;
}

static const char *check(void)
{
	for (unsigned i = 0; i < NKINDS; i++)
		if (registered[i] && membarrier(kinds[i].cmd))
			return zdtm_why("MEMBARRIER_CMD_%s fails (%s): the registration is lost",
					kinds[i].name, strerror(errno));
	return NULL;
}
