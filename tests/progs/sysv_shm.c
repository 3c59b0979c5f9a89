/* sysv_shm: a SysV shared memory segment attached (pfrez refuses it by
 * name: shmem.test), printing a line a round. */
#include <sys/ipc.h>
#include <sys/shm.h>

#define KIND "sysv_shm"
#include "zdtm.h"

static unsigned char *seg;

static const char *setup(int argc, char **argv)
{
	int id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);

	(void)argc;
	(void)argv;
	if (id < 0)
		return "shmget";
	seg = shmat(id, NULL, 0);
	/* Removed once attached: gone with the process. */
	shmctl(id, IPC_RMID, NULL);
	if (seg == (void *)-1)
		return "shmat";
	seg[0] = 1;
	return NULL;
}

static const char *check(void)
{
	return seg[0] == 1 ? NULL : "the segment changed";
}
