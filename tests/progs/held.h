/* held.h: the loop of the programs that hold one thing by path (a removed
 * directory, a deleted device node, a /proc entry, ...): setup() makes it,
 * then "count N" every 50 ms after check() found it still as it should be
 * (a message on failure).  The harness captures them with -halt to a file:
 * either pfrez refuses and the original counts on, or the copy does. */
#ifndef PROGS_HELD_H
#define PROGS_HELD_H

#include <string.h>

#include "say.h"

static int setup(const char *arg);
static const char *check(void);

int main(int argc, char **argv)
{
	if (argc != 2) {
		say("FAIL usage: %s PATH\n", argv[0]);
		return 2;
	}
	if (setup(argv[1])) {
		say("FAIL setup: %s\n", strerror(errno));
		return 1;
	}
	say("held ready\n");
	for (long n = 1;; n++) {
		const char *why = check();

		if (why) {
			say("FAIL %s\n", why);
			return 1;
		}
		say("count %ld\n", n);
		msleep(50);
	}
}

#endif
