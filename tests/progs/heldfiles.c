/* heldfiles: fd 3 reads argv[1] (read-only, never written), fd 4 appends
 * one line per tick to argv[2] (a log); "count N" every 50 ms after
 * checking that fd 3 still reads what it read first. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "say.h"

int main(int argc, char **argv)
{
	char first[64], now[64];
	ssize_t n;

	if (argc != 3) {
		say("FAIL usage: heldfiles DATA LOG\n");
		return 2;
	}
	if (open(argv[1], O_RDONLY) != 3 || open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644) != 4) {
		say("FAIL opening %s and %s as fds 3 and 4: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	n = pread(3, first, sizeof(first), 0);
	say("held ready\n");
	for (long i = 1;; i++) {
		char line[64];
		int len = snprintf(line, sizeof(line), "log %ld\n", i);

		if (pread(3, now, sizeof(now), 0) != n || memcmp(now, first, (size_t)n)) {
			say("FAIL fd 3 reads other data\n");
			return 1;
		}
		if (write(4, line, len) != len) {
			say("FAIL writing the log: %s\n", strerror(errno));
			return 1;
		}
		say("count %ld\n", i);
		msleep(50);
	}
}
