/* threadhog: a process of many threads and a little memory, for the
 * benchmarks.
 *	threadhog NTHREADS MIB
 * MIB of random bytes, then NTHREADS - 1 threads besides the main one,
 * each waiting on a condition variable that never comes (as the workers
 * of a pool wait); prints "ready" once all are there, then "tick N"
 * every 100 ms. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "say.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int started;

static void *idle(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&m);
	started++;
	for (;;)
		pthread_cond_wait(&c, &m);
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1, mib = argc > 2 ? atol(argv[2]) : 1;
	uint64_t x = 88172645463325252ull, *mem;
	size_t words;
	pthread_attr_t a;

	if (n < 1 || n > 4096 || mib < 0 || mib > 65536) {
		say("usage: threadhog NTHREADS MIB\n");
		return 2;
	}
	words = (size_t)mib << 17;
	mem = malloc(words * 8 + 8);
	if (!mem)
		return 1;
	for (size_t i = 0; i < words; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		mem[i] = x;
	}
	/* Small stacks: the threads, not their stacks, are what is measured. */
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	for (long i = 1; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &a, idle, NULL)) {
			say("FAIL pthread_create\n");
			return 1;
		}
	}
	for (;;) {
		pthread_mutex_lock(&m);
		if (started == n - 1) {
			pthread_mutex_unlock(&m);
			break;
		}
		pthread_mutex_unlock(&m);
		msleep(1);
	}
	say("ready\n");
	for (long t = 0;; t++) {
		say("tick %ld\n", t);
		msleep(100);
	}
}
