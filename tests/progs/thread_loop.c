/* thread_loop: the main thread creates and joins threads without pause,
 * each new thread adding to a counter in its own TLS and returning it.
 * A capture lands while threads are being born and dying: none may be
 * missed or caught half made (the restored copy would then hang in a join,
 * or a thread would run twice).  Each round checks what every joined
 * thread returned and the count of runs. */
#include <pthread.h>
#include <stdint.h>

#define KIND "thread_loop"
#define ZDTM_ROUND
#include "zdtm.h"

static __thread long t_work;
static volatile long runs, joined;
static const char *broken;

static void *child(void *arg)
{
	for (int i = 0; i < 1000; i++)
		t_work += (long)(intptr_t)arg;
	__atomic_add_fetch(&runs, 1, __ATOMIC_SEQ_CST);
	return (void *)(intptr_t)(t_work / 1000);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void between_rounds(void)
{
	double end = now_ms() + 50;

	while (!broken && now_ms() < end) {
		pthread_t t[2];
		void *ret;

		for (int i = 0; i < 2; i++)
			if (pthread_create(&t[i], NULL, child, (void *)(intptr_t)(joined + i + 1))) {
				broken = "pthread_create";
				return;
			}
		for (int i = 0; i < 2; i++) {
			if (pthread_join(t[i], &ret)) {
				broken = "pthread_join";
				return;
			}
			if ((intptr_t)ret != joined + 1)
				broken = zdtm_why("thread %ld returned %ld", joined + 1, (long)(intptr_t)ret);
			joined++;
		}
	}
}

static const char *setup(int argc, char **argv)
{
	(void)argc, (void)argv;
	return NULL;
}

static const char *check(void)
{
	if (broken)
		return broken;
	if (runs != joined)
		return zdtm_why("%ld threads ran, %ld were joined", runs, joined);
	return NULL;
}
