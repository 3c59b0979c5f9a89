/* memfd: a memfd (name, size, seals, contents, an fd at a position) mapped
 * shared twice at two offsets: written through a mapping, read with
 * pread and through the other mapping; and a second memfd sealed against
 * writes, mapped read-only. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIND "memfd"
#include "zdtm.h"

#define PG 4096
#define SIZE (5 * PG + 123)
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW)

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

static int fd, sfd, xfd;		/* xfd: MFD_NOEXEC_SEAL, F_SEAL_EXEC */
static int xseals, xmode;
static unsigned char *m1, *m2, *ro;

static unsigned char pat(long i)
{
	return (unsigned char)(i * 13 + 1);
}

static const char *setup(int argc, char **argv)
{
	unsigned char buf[SIZE];

	(void)argc;
	(void)argv;
	fd = memfd_create("pfrez test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	sfd = memfd_create("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	xfd = memfd_create("noexec", MFD_CLOEXEC | MFD_NOEXEC_SEAL);
	if (fd < 0 || sfd < 0 || xfd < 0)
		return "memfd_create";
	for (long i = 0; i < SIZE; i++)
		buf[i] = pat(i);
	if (write(fd, buf, SIZE) != SIZE || write(sfd, buf, 3 * PG) != 3 * PG)
		return "write";
	m1 = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	m2 = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
	if (m1 == MAP_FAILED || m2 == MAP_FAILED)
		return "mmap";
	if (fcntl(fd, F_ADD_SEALS, SEALS) || lseek(fd, 777, SEEK_SET) != 777)
		return "seal, seek";
	if (fcntl(sfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL))
		return "seal write";
	ro = mmap(NULL, 3 * PG, PROT_READ, MAP_SHARED, sfd, 0);
	if (ro == MAP_FAILED)
		return "mmap sealed";
	{
		struct stat st;

		xseals = fcntl(xfd, F_GET_SEALS);
		if (fstat(xfd, &st) || xseals < 0)
			return "noexec memfd";
		xmode = st.st_mode & 07777;
	}
	return NULL;
}

static const char *check(void)
{
	static uint32_t n;
	char link[256], want[64];
	unsigned char b[8];
	struct stat st;
	ssize_t len;

	snprintf(want, sizeof(want), "/proc/self/fd/%d", fd);
	len = readlink(want, link, sizeof(link) - 1);
	link[len > 0 ? len : 0] = 0;
	if (strcmp(link, "/memfd:pfrez test (deleted)"))
		return zdtm_why("the memfd is \"%s\"", link);
	if (fcntl(fd, F_GET_SEALS) != SEALS)
		return zdtm_why("seals 0x%x, were 0x%x", fcntl(fd, F_GET_SEALS), SEALS);
	if (fcntl(sfd, F_GET_SEALS) != (F_SEAL_WRITE | F_SEAL_SEAL))
		return zdtm_why("sealed memfd: seals 0x%x", fcntl(sfd, F_GET_SEALS));
	if (fcntl(xfd, F_GET_SEALS) != xseals)
		return zdtm_why("noexec memfd: seals 0x%x, were 0x%x", fcntl(xfd, F_GET_SEALS), xseals);
	if (fstat(xfd, &st) || (int)(st.st_mode & 07777) != xmode)
		return zdtm_why("noexec memfd: mode %o, was %o", st.st_mode & 07777, xmode);
	if (fstat(fd, &st) || st.st_size != SIZE)
		return zdtm_why("size %lld, was %d", (long long)st.st_size, SIZE);
	if (lseek(fd, 0, SEEK_CUR) != 777)
		return zdtm_why("position %lld, was 777", (long long)lseek(fd, 0, SEEK_CUR));
	if (ftruncate(fd, SIZE + PG) == 0)
		return "grew although sealed";
	if (pwrite(sfd, "x", 1, 0) == 1)
		return "wrote although sealed";
	for (long i = 2 * PG; i < 3 * PG; i++)
		if (m2[i - PG] != pat(i))
			return zdtm_why("byte %ld is %u, was %u", i, m2[i - PG], pat(i));
	for (long i = 0; i < 3 * PG; i++)
		if (ro[i] != pat(i))
			return zdtm_why("sealed byte %ld is %u, was %u", i, ro[i], pat(i));
	if (pread(fd, b, 3, SIZE - 3) != 3 || b[2] != pat(SIZE - 1))
		return "the tail";
	n++;
	memcpy(m1 + PG + 40, &n, 4);	/* page 1: in both mappings */
	if (memcmp(m2 + 40, &n, 4))
		return "written through one mapping, not seen through the other";
	if (pread(fd, b, 4, PG + 40) != 4 || memcmp(b, &n, 4))
		return "written through a mapping, not read by pread";
	return NULL;
}
