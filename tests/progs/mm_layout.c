/* mm_layout: the memory layout fields of the process (the mm kind): the
 * break, moved up by sbrk and holding a pattern, the code, data, heap,
 * stack, argument and environment bounds of /proc/self/stat, and
 * /proc/self/{cmdline,environ,auxv,exe}.  Each round they must be what
 * they were at the start. */
#include <fcntl.h>
#include <unistd.h>

#define KIND "mm_layout"
#include "zdtm.h"

#define HEAP 8192
#define FILE_MAX 8192

static const char *const files[] = { "cmdline", "environ", "auxv" };
static struct {
	char data[FILE_MAX];
	ssize_t len;
} was[3];
static char exe[4096];
static unsigned long fields[10];
static unsigned char *heap;
static void *brk_was;

/* Fields 26-28 and 45-51 of /proc/self/stat: startcode, endcode,
 * startstack, start_data, end_data, start_brk, arg_start, arg_end,
 * env_start, env_end. */
static const char *stat_fields(unsigned long *v)
{
	static const int want[10] = { 26, 27, 28, 45, 46, 47, 48, 49, 50, 51 };
	char buf[2048], *p, *save = NULL;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC), n = 0, f = 3;
	ssize_t len;

	if (fd < 0)
		return zdtm_why("/proc/self/stat: %s", strerror(errno));
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return "/proc/self/stat: nothing read";
	buf[len] = 0;
	p = strrchr(buf, ')');
	if (!p)
		return "/proc/self/stat: no ')'";
	for (p = strtok_r(p + 1, " \n", &save); p && n < 10; p = strtok_r(NULL, " \n", &save), f++)
		if (f == want[n])
			v[n++] = strtoul(p, NULL, 10);
	return n == 10 ? NULL : "/proc/self/stat: too few fields";
}

static ssize_t slurp(const char *name, char *buf)
{
	char path[64];
	ssize_t n, len = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < FILE_MAX && (n = read(fd, buf + len, FILE_MAX - len)) > 0)
		len += n;
	close(fd);
	return len;
}

static const char *setup(int argc, char **argv)
{
	const char *why;
	ssize_t n;

	(void)argc;
	(void)argv;
	heap = sbrk(HEAP);
	if (heap == (void *)-1)
		return "sbrk";
	for (int i = 0; i < HEAP; i++)
		heap[i] = (unsigned char)(i * 7 + 3);
	brk_was = sbrk(0);
	for (int i = 0; i < 3; i++) {
		was[i].len = slurp(files[i], was[i].data);
		if (was[i].len <= 0)
			return files[i];
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "readlink /proc/self/exe";
	exe[n] = 0;
	why = stat_fields(fields);
	if (why)
		errno = EINVAL;
	return why;
}

static const char *check(void)
{
	static const char *const names[10] = { "startcode", "endcode", "startstack", "start_data",
		"end_data", "start_brk", "arg_start", "arg_end", "env_start", "env_end" };
	static char buf[FILE_MAX];
	char now[4096];
	unsigned long v[10];
	const char *why;
	ssize_t n;

	if (sbrk(0) != brk_was)
		return zdtm_why("the break is %p, was %p", sbrk(0), brk_was);
	for (int i = 0; i < HEAP; i++)
		if (heap[i] != (unsigned char)(i * 7 + 3))
			return zdtm_why("the heap below the break differs at byte %d", i);
	why = stat_fields(v);
	if (why)
		return why;
	for (int i = 0; i < 10; i++)
		if (v[i] != fields[i])
			return zdtm_why("/proc/self/stat %s is %#lx, was %#lx", names[i], v[i], fields[i]);
	for (int i = 0; i < 3; i++) {
		n = slurp(files[i], buf);
		if (n != was[i].len || memcmp(buf, was[i].data, (size_t)n))
			return zdtm_why("/proc/self/%s differs (%zd bytes, were %zd)", files[i], n,
					was[i].len);
	}
	n = readlink("/proc/self/exe", now, sizeof(now) - 1);
	now[n > 0 ? n : 0] = 0;
	if (strcmp(now, exe))
		return zdtm_why("/proc/self/exe is \"%s\", was \"%s\"", now, exe);
	return NULL;
}
