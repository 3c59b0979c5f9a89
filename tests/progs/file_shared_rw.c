/* file_shared_rw: a file mapped shared and writable (the file is the
 * state): what is written through the mapping is in the file, read by
 * pread on an fd and by a new open of its name. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define KIND "file_shared_rw"
#include "zdtm.h"

#define PG 4096

static char path[4096];
static int fd;
static unsigned char *m;

static const char *setup(int argc, char **argv)
{
	if (argc != 2) {
		errno = EINVAL;
		return "usage: file_shared_rw PATH";
	}
	snprintf(path, sizeof(path), "%s", argv[1]);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4 * PG))
		return "create";
	m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return "mmap";
	memset(m, 0x77, 2 * PG);
	return NULL;
}

/* Each round a token at its own place (a clone beside the original
 * writes the same file). */
static const char *check(void)
{
	uint64_t tok = ((uint64_t)rand() << 32) ^ (uint64_t)rand() ^ (uint64_t)getpid(), got = 0;
	size_t off = 2 * PG + (tok % 1000) * 8;
	int f2;

	for (int i = 0; i < 2 * PG; i++)
		if (m[i] != 0x77)
			return zdtm_why("byte %d is %u, was 0x77", i, m[i]);
	memcpy(m + off, &tok, 8);
	if (pread(fd, &got, 8, (off_t)off) != 8 || got != tok)
		return "written through the mapping, not in the file (pread)";
	f2 = open(path, O_RDONLY | O_CLOEXEC);
	got = 0;
	if (f2 < 0 || pread(f2, &got, 8, (off_t)off) != 8 || got != tok)
		return zdtm_why("written through the mapping, not in %s", path);
	close(f2);
	return NULL;
}
