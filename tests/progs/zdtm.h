/* zdtm.h: the loop of the one-kind-of-state programs, in the style of
 * CRIU's zdtm.  A program defines KIND (its name), setup() and check():
 * main() sets the state up, prints "KIND ready", then each round checks
 * that the state is still exactly as set up and prints "KIND ok N", or
 * "FAIL KIND: what differs" and exits 1.  The harness (tests/e2e/kinds.sh)
 * captures and restores it between two rounds: the restored copy goes on
 * checking with what the original recorded.
 *
 * setup() returns NULL, or what failed (errno is printed with it).
 * check() returns NULL, or what differs.  A program that needs its own
 * pause between rounds defines ZDTM_ROUND and between_rounds(); the
 * default sleeps ZDTM_PERIOD ms. */
#ifndef PROGS_ZDTM_H
#define PROGS_ZDTM_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "say.h"

#ifndef ZDTM_PERIOD
#define ZDTM_PERIOD 50
#endif

static const char *setup(int argc, char **argv);
static const char *check(void);
#ifdef ZDTM_ROUND
static void between_rounds(void);
#endif

/* A message in a static buffer, for check() to return. */
static inline const char * __attribute__((format(printf, 1, 2))) zdtm_why(const char *fmt, ...)
{
	static char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* The value of the line "NAME:" of FILE (a /proc file), blanks trimmed,
 * in buf; NULL if there is no such line. */
static inline char *zdtm_field(const char *file, const char *name, char *buf, size_t len)
{
	char line[1024];
	size_t n = strlen(name);
	char *v = NULL;
	FILE *f = fopen(file, "re");

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		v = line + n + 1;
		v += strspn(v, " \t");
		v[strcspn(v, "\n")] = 0;
		snprintf(buf, len, "%s", v);
		v = buf;
		break;
	}
	fclose(f);
	return v;
}

static inline char *zdtm_status(const char *name, char *buf, size_t len)
{
	return zdtm_field("/proc/self/status", name, buf, len);
}

int main(int argc, char **argv)
{
	const char *why = setup(argc, argv);

	if (why) {
		say("FAIL " KIND " setup: %s: %s\n", why, strerror(errno));
		return 2;
	}
	say(KIND " ready\n");
	for (long n = 1;; n++) {
#ifdef ZDTM_ROUND
		between_rounds();
#else
		msleep(ZDTM_PERIOD);
#endif
		why = check();
		if (why) {
			say("FAIL " KIND ": %s\n", why);
			return 1;
		}
		say(KIND " ok %ld\n", n);
	}
}

#endif
