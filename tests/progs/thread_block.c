/* thread_block: threads blocked in the ways programs wait: on a mutex, a
 * condition variable, pthread_join, a raw futex, a semaphore and in
 * nanosleep.  Each round the main thread releases each of them once (the
 * sleeper wakes by itself) and checks, within 3 s, that every one woke
 * exactly once and went back to waiting.  A capture lands with all of
 * them blocked in the kernel: the restored copy must wake them the same
 * way (restart codes, futex words, the join's clear-tid). */
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/syscall.h>

#define KIND "thread_block"
#include "zdtm.h"

enum { W_MUTEX, W_COND, W_JOIN, W_FUTEX, W_SEM, W_SLEEP, NW };
static const char *const names[NW] = { "mutex", "condvar", "pthread_join", "futex", "semaphore",
				       "nanosleep" };

static volatile long woke[NW];
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long cond_gen;
static volatile uint32_t futex_word, join_word;
static sem_t sem;
static const char *volatile broken;

static void futex_wait(volatile uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(volatile uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *on_mutex(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&mutex);	/* held by main but for a moment a round */
		woke[W_MUTEX]++;
		pthread_mutex_unlock(&mutex);
		msleep(20);	/* main takes it back meanwhile */
	}
	return NULL;
}

static void *on_cond(void *arg)
{
	long seen = 0;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&cmutex);
		while (cond_gen == seen)
			pthread_cond_wait(&cond, &cmutex);
		seen = cond_gen;
		pthread_mutex_unlock(&cmutex);
		woke[W_COND]++;
	}
	return NULL;
}

/* Waits for the joiner's round: main bumps join_word. */
static void *joinee(void *arg)
{
	uint32_t v = (uint32_t)(uintptr_t)arg;

	while (join_word == v)
		futex_wait(&join_word, v);
	return NULL;
}

static void *on_join(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		void *ret;

		if (pthread_create(&t, NULL, joinee, (void *)(uintptr_t)join_word)) {
			broken = "pthread_create";
			return NULL;
		}
		if (pthread_join(t, &ret)) {
			broken = "pthread_join";
			return NULL;
		}
		woke[W_JOIN]++;
	}
	return NULL;
}

static void *on_futex(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t v = futex_word;

		while (futex_word == v)
			futex_wait(&futex_word, v);
		woke[W_FUTEX]++;
	}
	return NULL;
}

static void *on_sem(void *arg)
{
	(void)arg;
	for (;;) {
		while (sem_wait(&sem) < 0)
			;
		woke[W_SEM]++;
	}
	return NULL;
}

static void *on_sleep(void *arg)
{
	(void)arg;
	for (;;) {
		msleep(300);
		woke[W_SLEEP]++;
	}
	return NULL;
}

static const char *setup(int argc, char **argv)
{
	void *(*fn[NW])(void *) = { on_mutex, on_cond, on_join, on_futex, on_sem, on_sleep };
	pthread_t t;

	(void)argc, (void)argv;
	if (sem_init(&sem, 0, 0))
		return "sem_init";
	pthread_mutex_lock(&mutex);
	for (int i = 0; i < NW; i++)
		if (pthread_create(&t, NULL, fn[i], NULL))
			return "pthread_create";
	return NULL;
}

static const char *check(void)
{
	long before[NW];
	int i;

	if (broken)
		return broken;
	for (i = 0; i < NW; i++)
		before[i] = woke[i];
	/* Release each once. */
	pthread_mutex_unlock(&mutex);
	pthread_mutex_lock(&cmutex);
	cond_gen++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&cmutex);
	join_word++;
	futex_wake(&join_word);
	futex_word++;
	futex_wake(&futex_word);
	sem_post(&sem);
	for (int ms = 0; ms < 3000; ms++) {
		for (i = 0; i < NW && woke[i] > before[i]; i++)
			;
		if (i == NW)
			break;
		msleep(1);
	}
	pthread_mutex_lock(&mutex);
	if (i < NW)
		return zdtm_why("the thread waiting in %s did not wake up within 3 s (%ld wake-ups)",
				names[i], woke[i]);
	return NULL;
}
