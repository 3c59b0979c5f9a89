/* posix_shm: POSIX shared memory (shm_open: a file in /dev/shm) mapped
 * shared, and a POSIX named semaphore (sem_open: a mapped /dev/shm file):
 * what is written through the mapping is in the object another open of
 * its name sees, and the semaphore keeps its value. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define KIND "posix_shm"
#include "zdtm.h"

#define PG 4096

static char name[64], sname[64];
static unsigned char *m;
static sem_t *sem;

/* What earlier runs left in /dev/shm (a process killed cannot unlink
 * its names): those of processes gone. */
static void sweep(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int pid;

	while (d && (e = readdir(d))) {
		if ((sscanf(e->d_name, "pfrez-test-shm-%d", &pid) == 1 ||
		     sscanf(e->d_name, "sem.pfrez-test-sem-%d", &pid) == 1) &&
		    kill(pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	if (d)
		closedir(d);
}

static const char *setup(int argc, char **argv)
{
	int fd;

	sweep();

	(void)argc;
	(void)argv;
	snprintf(name, sizeof(name), "/pfrez-test-shm-%d", (int)getpid());
	snprintf(sname, sizeof(sname), "pfrez-test-sem-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || ftruncate(fd, 4 * PG))
		return "shm_open";
	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return "mmap";
	memset(m, 0x42, PG);
	sem = sem_open(sname, O_CREAT | O_EXCL, 0600, 5);
	if (sem == SEM_FAILED)
		return "sem_open";
	return NULL;
}

static const char *check(void)
{
	uint64_t tok = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ (uint64_t)getpid(), got = 0;
	size_t off = PG + (tok % 1000) * 8;
	int fd, v = -1;

	for (int i = 0; i < PG; i++)
		if (m[i] != 0x42)
			return zdtm_why("byte %d is %u, was 0x42", i, m[i]);
	memcpy(m + off, &tok, 8);
	fd = shm_open(name, O_RDONLY, 0);
	if (fd < 0 || pread(fd, &got, 8, (off_t)off) != 8 || got != tok)
		return zdtm_why("written through the mapping, not in %s", name);
	close(fd);
	if (sem_getvalue(sem, &v) || v < 4 || v > 5)
		return zdtm_why("semaphore value %d, was 5", v);
	/* Down and up: the value goes on being shared through the file. */
	if (sem_trywait(sem) || sem_post(sem))
		return "sem_trywait, sem_post";
	return NULL;
}
