/* progress.h: the -progress meter: bytes, rate and time on stderr. */
#ifndef PFREZ_PROGRESS_H
#define PFREZ_PROGRESS_H

#include <stdint.h>

struct progress {
	const char *what;	/* "pfrez: sent" */
	int on;			/* printing at all */
	int tty;		/* rewrite one line in place */
	int force;		/* -progress: print even a short transfer */
	int shown;		/* a line was printed */
	int64_t start_ns, last_ns;
	unsigned long long bytes;
};

/* Prints "<what> 123.4 MiB, 812.3 MiB/s, 0.2 s" lines: on a terminal
 * rewritten in place at most 4 times a second; elsewhere, only when force
 * is set (-progress), one line at most once a second.  what stays
 * referenced until progress_done().  Returns 0. */
int progress_init(struct progress *p, const char *what, int force);

/* bytes: the total so far (not an increment). */
void progress_update(struct progress *p, unsigned long long bytes);

/* Prints the final figures and ends the line, when forced or when the
 * transfer was long enough to show progress already. */
void progress_done(struct progress *p);

#endif
