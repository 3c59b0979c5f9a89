/* fd_eventfd: two eventfds held across the capture, their counters not
 * read: a plain one at 2^40 + 5 (more than eventfd2's 32-bit start value),
 * O_NONBLOCK, and an EFD_SEMAPHORE one at 3.  Each round reads the
 * semaphore once (it gives 1) and writes 1 back, and checks both counters
 * through /proc/self/fdinfo and the flags. */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/eventfd.h>

#define KIND "fd_eventfd"
#include "zdtm.h"

#define BIG ((1ull << 40) + 5)

static int plain, sem;

static const char *setup(int argc, char **argv)
{
	uint64_t v = BIG;

	(void)argc, (void)argv;
	plain = eventfd(0, EFD_NONBLOCK);
	sem = eventfd(3, EFD_SEMAPHORE);
	if (plain < 0 || sem < 0 || write(plain, &v, 8) != 8)
		return "eventfd";
	return NULL;
}

static const char *count(int fd, uint64_t want)
{
	char name[64], v[64];
	uint64_t got;

	snprintf(name, sizeof(name), "/proc/self/fdinfo/%d", fd);
	if (!zdtm_field(name, "eventfd-count", v, sizeof(v)) || sscanf(v, "%" SCNx64, &got) != 1)
		return "no eventfd-count in fdinfo";
	if (got != want)
		return zdtm_why("fd %d: counter %" PRIu64 ", not %" PRIu64, fd, got, want);
	return NULL;
}

static const char *check(void)
{
	uint64_t v;
	const char *why;

	if ((why = count(plain, BIG)) || (why = count(sem, 3)))
		return why;
	if (read(sem, &v, 8) != 8 || v != 1)
		return "the semaphore read did not give 1";
	if ((why = count(sem, 2)))
		return why;
	v = 1;
	if (write(sem, &v, 8) != 8)
		return "write to the semaphore";
	if (!(fcntl(plain, F_GETFL) & O_NONBLOCK) || (fcntl(sem, F_GETFL) & O_NONBLOCK))
		return "flags";
	return NULL;
}
