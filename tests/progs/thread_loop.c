/* thread_loop: two spawner threads create and join threads without
 * pause, each new thread adding to a counter in its own TLS and
 * returning it.  A capture lands while threads are being born and dying,
 * made by threads that are not stopped first (pfrez holds the main thread
 * first): none may be missed or caught half made (the restored copy would
 * then hang in a join, or a thread would run twice).  Each round checks
 * what every joined thread returned, the count of runs, and that both
 * spawners go on. */
#include <pthread.h>
#include <stdint.h>

#define KIND "thread_loop"
#include "zdtm.h"

#define NSPAWN 2

static __thread long t_work;
static volatile long runs, joined[NSPAWN];
static const char *volatile broken;

static void *child(void *arg)
{
	for (int i = 0; i < 1000; i++)
		t_work += (long)(intptr_t)arg;
	msleep(2);	/* alive a while: a thread missed would be seen */
	__atomic_add_fetch(&runs, 1, __ATOMIC_SEQ_CST);
	return (void *)(intptr_t)(t_work / 1000);
}

static void *spawner(void *arg)
{
	long me = (long)arg;

	for (long n = 1;; n++) {
		pthread_t t;
		void *ret;

		if (pthread_create(&t, NULL, child, (void *)(intptr_t)n)) {
			broken = "pthread_create";
			return NULL;
		}
		if (pthread_join(t, &ret)) {
			broken = "pthread_join";
			return NULL;
		}
		if ((intptr_t)ret != n)
			broken = zdtm_why("spawner %ld: thread %ld returned %ld", me, n, (long)(intptr_t)ret);
		__atomic_add_fetch(&joined[me], 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	pthread_t t;

	(void)argc, (void)argv;
	for (long i = 0; i < NSPAWN; i++)
		if (pthread_create(&t, NULL, spawner, (void *)i))
			return "pthread_create";
	return NULL;
}

static const char *check(void)
{
	static long last[NSPAWN], stuck[NSPAWN];
	long j = 0, r;

	if (broken)
		return broken;
	for (int i = 0; i < NSPAWN; i++) {
		j += joined[i];
		if (joined[i] == last[i] && ++stuck[i] > 40)
			return zdtm_why("spawner %d stopped at %ld joins", i, joined[i]);
		if (joined[i] != last[i])
			stuck[i] = 0;
		last[i] = joined[i];
	}
	r = runs;
	/* at most one child of each spawner ran and is not joined yet */
	if (r < j || r > j + 2 * NSPAWN)
		return zdtm_why("%ld threads ran, %ld were joined", r, j);
	return NULL;
}
