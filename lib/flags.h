/* flags.h: command-line flags, Go-style (-pid=12, -pid 12) and GNU-style
 * (--pid=12), as the thesis's tools took them. */
#ifndef PFREZ_FLAGS_H
#define PFREZ_FLAGS_H

#include <stdint.h>
#include <stdio.h>

enum flag_kind {
	FLAG_BOOL,	/* int: 0/1; "-x", "-x=true", "-x=false" */
	FLAG_INT,	/* struct flag_int: a long from min to max */
	FLAG_STRING,	/* const char * (points into argv) */
	FLAG_DURATION,	/* int64_t milliseconds; Go syntax "1m30s", "500ms" */
};

struct flag {
	const char *name;
	enum flag_kind kind;
	void *value;
	const char *arg;	/* name of the value in help ("PID"); NULL for bool */
	const char *help;
};

/* What a FLAG_INT's value points to: every integer flag has a range. */
struct flag_int {
	long *value;
	long min, max;
};

/* Durations are at most a day: a longer timeout is a mistake. */
#define FLAGS_DURATION_MAX	(24 * 3600000)

/* Parses argv[1..] against tab (terminated by a zero entry).  Returns 0,
 * 1 when -h/--help was given, or -EINVAL with the message set.  *rest
 * receives the index of the first operand. */
int flags_parse(const struct flag *tab, int argc, char **argv, int *rest);

/* Prints "Usage: ..." and one line per flag. */
void flags_usage(FILE *f, const char *usage, const struct flag *tab);

/* Go-style duration ("300ms", "1.5s", "2m", "1h30m") into milliseconds.
 * 0 or -EINVAL with the message set. */
int flags_duration(const char *s, int64_t *ms);

#endif
