/* newest.c: pthaw -src=DIR (newest.h).  A snapshot is verified before it
 * is chosen, by reading it whole (pthaw -debug: every record's checksum,
 * the authentication of an encrypted stream, the end record), so that a
 * damaged newest one falls back to the one before it without anything of
 * the restore begun. */
#include "newest.h"
#include "ckptdir.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 0 when path verifies; else why (the first line pthaw -debug said). */
static int verify(const char *path, char *const *keyargs, char *why, size_t n)
{
	char src[4300], *argv[16];
	int p[2], st, k = 0;
	ssize_t got;
	pid_t child;

	snprintf(src, sizeof(src), "-src=%s", path);
	argv[k++] = "pthaw";
	argv[k++] = "-debug";
	argv[k++] = src;
	for (int i = 0; keyargs && keyargs[i] && k < 15; i++)
		argv[k++] = keyargs[i];
	argv[k] = NULL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_sys(errno, "pipe");
	child = fork();
	if (child == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(p[1], 2) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(p[1]);
	if (child < 0) {
		close(p[0]);
		return err_sys(errno, "fork");
	}
	got = read(p[0], why, n - 1);
	why[got > 0 ? got : 0] = '\0';
	why[strcspn(why, "\n")] = '\0';
	close(p[0]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (!why[0])
		snprintf(why, n, "it does not verify");
	return -EBADMSG;
}

const char *newest_pick(const char *dir, char *const *keyargs)
{
	static char path[4200];
	unsigned long *num;
	long n = ckpt_list(dir, &num);
	const char *pick = NULL;

	if (n < 0)
		return NULL;
	for (long i = 0; i < n && !pick; i++) {
		char why[512];

		snprintf(path, sizeof(path), "%s/" CKPT_NAME, dir, num[i]);
		if (verify(path, keyargs, why, sizeof(why)) == 0)
			pick = path;
		else
			fprintf(stderr, "pthaw: %s: %s%s\n", path, strncmp(why, "pthaw: ", 7) ? why : why + 7,
				i + 1 < n ? "; trying the one before it" : "");
	}
	free(num);
	if (!pick)
		err_msg(ENOENT, "%s: %s", dir, n ? "no snapshot in it verifies" : "no snapshot (ckpt-NNNNNN.pfrez) in it");
	return pick;
}
