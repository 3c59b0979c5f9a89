/* oom_adj: /proc/self/oom_score_adj set to 345 (raising it needs no
 * privilege), read back each round. */
#include <fcntl.h>

#define KIND "oom_adj"
#include "zdtm.h"

static int read_adj(void)
{
	char buf[32];
	int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -10000;
	buf[n] = 0;
	return atoi(buf);
}

static const char *setup(int argc, char **argv)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

	(void)argc, (void)argv;
	if (fd < 0 || write(fd, "345\n", 4) != 4)
		return "write /proc/self/oom_score_adj";
	close(fd);
	return NULL;
}

static const char *check(void)
{
	int v = read_adj();

	if (v != 345)
		return zdtm_why("oom_score_adj is %d, was 345", v);
	return NULL;
}
