/* tree_shm: MAP_SHARED anonymous memory inherited across fork.  Parent and
 * child both increment one counter in it (atomically), and each publishes
 * how many times it did; each round the parent checks that the counter is
 * the sum and that the child's count has moved since the last round (a
 * restore that gave each its own copy leaves the child's count frozen in
 * the parent's).  A private page written before the fork, still shared
 * copy-on-write, must read the same in both. */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#define KIND "tree_shm"
#include "zdtm.h"
#include "tree.h"

struct shared {
	struct tree_count c;
	atomic_long child_bad;
};

static struct shared *sh;
static unsigned char *priv;
static long my_n, child_seen = -1;

static int priv_ok(void)
{
	for (int i = 0; i < 4096; i++)
		if (priv[i] != (unsigned char)(i * 13 + 1))
			return 0;
	return 1;
}

/* The child's private page, after each of its adds. */
static void child_priv(void)
{
	if (!priv_ok())
		atomic_store(&sh->child_bad, 1);
}

static const char *setup(int argc, char **argv)
{
	pid_t kid;

	(void)argc;
	(void)argv;
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || priv == MAP_FAILED)
		return "mmap";
	for (int i = 0; i < 4096; i++)
		priv[i] = (unsigned char)(i * 13 + 1);
	kid = fork();
	if (kid < 0)
		return "fork";
	if (kid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		tree_count_child(&sh->c, child_priv);
	}
	return NULL;
}

static const char *check(void)
{
	const char *why = tree_count_check(&sh->c, &my_n, &child_seen, "memory object");

	if (why)
		return why;
	if (atomic_load(&sh->child_bad))
		return "the child's private page changed";
	if (!priv_ok())
		return "the parent's private page changed";
	return NULL;
}
