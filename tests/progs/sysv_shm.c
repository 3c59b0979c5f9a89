/* sysv_shm: a SysV shared memory segment attached and removed
 * (IPC_RMID) while attached, printing a line a round: after a restore it
 * must be the same segment, by its id, still marked for deletion,
 * attached once, holding what was written. */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#define KIND "sysv_shm"
#include "zdtm.h"

static unsigned char *seg;
static int id;

static const char *setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	id = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	if (id < 0)
		return "shmget";
	seg = shmat(id, NULL, 0);
	/* Removed once attached: gone with the process. */
	shmctl(id, IPC_RMID, NULL);
	if (seg == (void *)-1)
		return "shmat";
	seg[0] = 1;
	seg[5000] = 7;
	return NULL;
}

static const char *check(void)
{
	struct shmid_ds ds;

	if (seg[0] != 1 || seg[5000] != 7)
		return "the segment changed";
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return zdtm_why("segment %d: IPC_STAT: %s", id, strerror(errno));
	if (ds.shm_segsz != 8192 || (ds.shm_perm.mode & 0777) != 0600 || ds.shm_nattch != 1 ||
	    !(ds.shm_perm.mode & SHM_DEST))
		return zdtm_why("segment %d: size %zu mode %o attached %lu", id, ds.shm_segsz,
				ds.shm_perm.mode, (unsigned long)ds.shm_nattch);
	return NULL;
}
