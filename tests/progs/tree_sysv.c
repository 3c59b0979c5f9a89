/* tree_sysv: a SysV shared memory segment (shmget, shmat) attached by a
 * parent and its child, both counting in it as tree_shm does; with
 * "rmid", marked for deletion (IPC_RMID) once both attached.  Each round
 * the parent checks that the counter is the sum, that the child's count
 * moves (one segment, not two copies), and that the segment is still the
 * one with its id, key (none once removed), size, mode, and both
 * attaches.  With "big", the parent holds 2 MiB of its own besides:
 * its stream no pipe holds whole. */
#include <signal.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>

#define KIND "tree_sysv"
#include "zdtm.h"
#include "tree.h"

struct shared {
	struct tree_count c;
	atomic_int child_in;
};

static struct shared *sh;
static long my_n, child_seen = -1;
static int id, rmid;
static key_t key;

static const char *setup(int argc, char **argv)
{
	pid_t kid;

	rmid = argc > 1 && strcmp(argv[1], "rmid") == 0;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "big") == 0) {
			static volatile char big[2 << 20];

			for (size_t k = 0; k < sizeof(big); k++)
				big[k] = (char)(k * 131 + 7);
		}
	/* A key of its own: two runs at once do not meet. */
	key = (key_t)(0x70660000 | (getpid() & 0xffff));
	id = shmget(key, 100, IPC_CREAT | IPC_EXCL | 0640);
	if (id < 0)
		return "shmget";
	sh = shmat(id, NULL, 0);
	if (sh == (void *)-1)
		return "shmat";
	kid = fork();
	if (kid < 0)
		return "fork";
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		atomic_store(&sh->child_in, 1);
		tree_count_child(&sh->c, NULL);
	}
	while (!atomic_load(&sh->child_in))
		msleep(1);
	if (rmid && shmctl(id, IPC_RMID, NULL) < 0)
		return "IPC_RMID";
	/* For the harness to remove it when the test is over. */
	say("tree_sysv key 0x%08x\n", (unsigned)key);
	return NULL;
}

static const char *check(void)
{
	const char *why = tree_count_check(&sh->c, &my_n, &child_seen, "segment");
	struct shmid_ds ds;

	if (why)
		return why;
	if (shmctl(id, IPC_STAT, &ds) < 0)
		return zdtm_why("segment %d: IPC_STAT: %s", id, strerror(errno));
	if (ds.shm_segsz != 100 || (ds.shm_perm.mode & 0777) != 0640 || ds.shm_nattch != 2)
		return zdtm_why("segment %d: size %zu mode %o attached %lu", id, ds.shm_segsz,
				ds.shm_perm.mode & 0777, (unsigned long)ds.shm_nattch);
	if (ds.shm_perm.__key != (rmid ? IPC_PRIVATE : key) || !!(ds.shm_perm.mode & SHM_DEST) != rmid)
		return zdtm_why("segment %d: key 0x%x, %s", id, (unsigned)ds.shm_perm.__key,
				ds.shm_perm.mode & SHM_DEST ? "marked for deletion" : "not marked for deletion");
	return NULL;
}
