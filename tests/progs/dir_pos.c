/* dir_pos: a directory of 300 entries read part way through with
 * getdents64 on an fd of its own: the fd's position (where the next
 * getdents continues) must be the same after a restore, or the program
 * would read entries twice or never. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND "dir_pos"
#include "zdtm.h"

static int dfd = -1;
static off_t pos;

static const char *setup(int argc, char **argv)
{
	char buf[512], name[4200];
	long n, got = 0;

	if (argc != 2) {
		errno = EINVAL;
		return "usage: dir_pos DIR";
	}
	if (mkdir(argv[1], 0755) && errno != EEXIST)
		return "mkdir";
	for (int i = 0; i < 300; i++) {
		int fd;

		snprintf(name, sizeof(name), "%s/entry-%03d", argv[1], i);
		fd = open(name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0)
			return "creating the entries";
		close(fd);
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return "open DIR";
	/* A small buffer: a few entries a call, so the position lands in
	 * the middle of the directory. */
	while (got < 100) {
		n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n <= 0)
			return "getdents64";
		for (long off = 0; off < n; off += ((struct dirent64 *)(buf + off))->d_reclen)
			got++;
	}
	pos = lseek(dfd, 0, SEEK_CUR);
	if (pos <= 0)
		return "lseek";
	return NULL;
}

static const char *check(void)
{
	off_t now = lseek(dfd, 0, SEEK_CUR);

	if (now != pos)
		return zdtm_why("the directory's position is %lld, was %lld", (long long)now, (long long)pos);
	return NULL;
}
