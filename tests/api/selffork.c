/* selffork: links the installed libpfrez (pkg-config pfrez) and forks or
 * checkpoints itself.  `selffork fork DEST` or `selffork checkpoint FILE`:
 * prints what the call returned in each process that returns from it,
 * with state set before the call (a counter and a heap string), then goes
 * on counting; the original of a checkpoint waits to be killed after.  A
 * second thread ticks all along: each process says whether it still does.
 * With DEST2, a copy checkpoints itself again, there.  After a failed call
 * it prints FAIL and goes on as "failed". */
#include <pfrez.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile long ticks;

static void *tick(void *arg)
{
	(void)arg;
	for (;;) {
		ticks++;
		usleep(1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	long t0;
	struct pfrez_opts o = { 0 };
	long state = 41;
	char *heap;
	const char *who;
	int r;

	if (argc < 3 || argc > 4 || (strcmp(argv[1], "fork") && strcmp(argv[1], "checkpoint"))) {
		fprintf(stderr, "usage: selffork fork|checkpoint DEST [DEST2]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&t, NULL, tick, NULL)) {
		printf("FAIL pthread_create\n");
		return 1;
	}
	heap = malloc(64);
	snprintf(heap, 64, "made-by-%d", (int)getpid());
	state++;
	printf("before the call: state %ld %s\n", state, heap);
	/* The tests' way to run pfrez under strace (a pfrez killed midway). */
	o.pfrez = getenv("SELFFORK_PFREZ");
	r = argv[1][0] == 'f' ? pfrez_fork(argv[2], &o) : pfrez_checkpoint(argv[2], &o);
	if (r < 0)
		printf("FAIL %s returned %d: %s\n", argv[1], r, o.error);
	/* A failed call leaves the process as it was: it goes on. */
	who = r < 0 ? "failed" : r == PFREZ_ORIGINAL ? "original" : r == PFREZ_RESTORED ? "copy" : "unknown";
	printf("%s: %s returned %d: state %ld %s\n", who, argv[1], r, state, heap);
	/* DEST2: the copy checkpoints itself again. */
	if (r == PFREZ_RESTORED && argc == 4) {
		int r2 = pfrez_checkpoint(argv[3], &o);

		printf("second checkpoint returned %d%s%s\n", r2, r2 < 0 ? ": " : "", r2 < 0 ? o.error : "");
	}
	t0 = ticks;
	usleep(100000);
	printf("%s: the other thread %s\n", who, ticks > t0 ? "ticks" : "stopped");
	for (int i = 0; i < 3; i++) {
		state++;
		printf("%s goes on: state %ld %s\n", who, state, heap);
		usleep(100000);
	}
	if (r != PFREZ_RESTORED && argv[1][0] == 'c')
		pause();
	printf("%s done\n", who);
	return 0;
}
