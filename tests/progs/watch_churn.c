/* watch_churn: makes system calls as it runs, for the moment a
 * copy-on-write capture lets it run under watch before its hold
 * (lib/ptrace/watch.c).
 *	watch_churn calm|maps|locks [FILE]
 * calm: writes a byte to /dev/null and sleeps 1 ms, again and again
 * (calls the watch lets pass); maps: maps a page, writes it, unmaps it
 * (calls it does not); locks: opens FILE, takes a POSIX lock on it,
 * holds it 1 ms, closes the fd (which lets the lock go), sleeps 1 ms.
 * Prints "count N" every 100 ms, "FAIL watch_churn: ..." on an error. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "say.h"

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "calm";
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	long long next = now_ms() + 100;
	long n = 0;

	if (null < 0 || (!strcmp(mode, "locks") && argc < 3)) {
		say("FAIL watch_churn: usage: watch_churn calm|maps|locks [FILE]\n");
		return 1;
	}
	for (;;) {
		if (!strcmp(mode, "maps")) {
			char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED) {
				say("FAIL watch_churn: mmap\n");
				return 1;
			}
			p[0] = 1;
			munmap(p, 4096);
			nap_ms(1);
		} else if (!strcmp(mode, "locks")) {
			struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			int fd = open(argv[2], O_RDWR | O_CLOEXEC);

			if (fd < 0 || fcntl(fd, F_SETLKW, &l) < 0) {
				say("FAIL watch_churn: locking %s\n", argv[2]);
				return 1;
			}
			nap_ms(1);
			close(fd);
			nap_ms(1);
		} else {
			if (write(null, "x", 1) != 1) {
				say("FAIL watch_churn: write\n");
				return 1;
			}
			nap_ms(1);
		}
		if (now_ms() >= next) {
			say("count %ld\n", ++n);
			next += 100;
		}
	}
}
