/* threads: a process with a second thread that stays alive, printing
 * "tick N" every 50 ms: the simplest multi-threaded process. */
#include <pthread.h>

#include "say.h"

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		msleep(1000);
	return NULL;
}

int main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle, NULL)) {
		say("FAIL pthread_create\n");
		return 1;
	}
	say("threads ready\n");
	for (long n = 0;; n++) {
		say("tick %ld\n", n);
		msleep(50);
	}
}
