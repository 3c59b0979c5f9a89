/* deleted_file: a file unlinked while open (at a position, O_APPEND not
 * set) and mapped shared, and an O_TMPFILE never linked: their contents,
 * size and position survive, writes through the mapping reach the file. */
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIND "deleted_file"
#include "zdtm.h"

#define PG 4096
#define SIZE (3 * PG + 17)

static char dir[4096];
static int fd, tfd;
static unsigned char *m;

static unsigned char pat(long i)
{
	return (unsigned char)(i * 31 + 5);
}

static const char *setup(int argc, char **argv)
{
	unsigned char buf[SIZE];
	char tmp[4096];

	if (argc != 2) {
		errno = EINVAL;
		return "usage: deleted_file PATH";
	}
	snprintf(tmp, sizeof(tmp), "%s", argv[1]);
	snprintf(dir, sizeof(dir), "%s", dirname(tmp));
	for (long i = 0; i < SIZE; i++)
		buf[i] = pat(i);
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, buf, SIZE) != SIZE || unlink(argv[1]))
		return "create, unlink";
	m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return "mmap";
	if (lseek(fd, 1000, SEEK_SET) != 1000)
		return "lseek";
	tfd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tfd < 0 || write(tfd, "tmpfile contents", 16) != 16)
		return "O_TMPFILE";
	return NULL;
}

static const char *check(void)
{
	static uint32_t n;
	char link[4096], p[64], *d;
	unsigned char b[PG];
	struct stat st;
	ssize_t len;

	if (fstat(fd, &st) || st.st_nlink != 0 || st.st_size != SIZE || (st.st_mode & 0777) != 0640)
		return zdtm_why("nlink %lu size %lld mode %o", (unsigned long)st.st_nlink,
				(long long)st.st_size, st.st_mode & 0777);
	if (lseek(fd, 0, SEEK_CUR) != 1000)
		return "position";
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	len = readlink(p, link, sizeof(link) - 1);
	link[len > 0 ? len : 0] = 0;
	d = strrchr(link, '/');
	if (!d || (size_t)(d - link) != strlen(dir) || strncmp(link, dir, strlen(dir)))
		return zdtm_why("the file is %s, not in %s", link, dir);
	if (pread(fd, b, PG, 2 * PG) != PG)
		return "pread";
	for (long i = 0; i < PG; i++)
		if (b[i] != pat(2 * PG + i))
			return zdtm_why("byte %ld is %u, was %u", 2 * PG + i, b[i], pat(2 * PG + i));
	for (long i = 0; i < PG; i++)
		if (m[i] != pat(i))
			return zdtm_why("mapped byte %ld is %u, was %u", i, m[i], pat(i));
	n++;
	memcpy(m + PG + 8, &n, 4);
	if (pread(fd, b, 4, PG + 8) != 4 || memcmp(b, &n, 4))
		return "written through the mapping, not in the file";
	if (pread(tfd, b, 16, 0) != 16 || memcmp(b, "tmpfile contents", 16))
		return "the O_TMPFILE's contents";
	return NULL;
}
