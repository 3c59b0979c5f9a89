/* thread_nice: a second thread sets a nice value of its own (5), which
 * pfrez must refuse by name: threads are restored with the main thread's
 * scheduling attributes.  Prints "thread_nice ok N" every 50 ms. */
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "say.h"

static void *run(void *arg)
{
	(void)arg;
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, run, NULL)) {
		say("FAIL thread_nice setup: pthread_create\n");
		return 2;
	}
	for (long n = 1;; n++) {
		msleep(50);
		say("thread_nice ok %ld\n", n);
	}
}
