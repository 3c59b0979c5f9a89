/* err.h: the one-line message library code leaves for main() to print.
 *
 * Library functions return 0 or a negative errno.  The place that first
 * sees a failure records what happened with err_sys() or err_msg(); the
 * callers only propagate the value, and main() prints err_last(). */
#ifndef PFREZ_ERR_H
#define PFREZ_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Records "fmt...: strerror(errnum)" and returns -errnum. */
int err_sys(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Records "fmt..." alone and returns -errnum (errnum > 0). */
int err_msg(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Puts "fmt...: " in front of the recorded message (context a caller
 * knows that the failing place did not) and returns rc unchanged. */
int err_wrap(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copies inlen bytes of in to out (outlen bytes, always terminated) so
 * that they print as one harmless line: control bytes, DEL and bytes that
 * are not well-formed UTF-8 become \xNN, a backslash becomes \\.  Every
 * message and every name printed from a stream goes through it; the
 * messages above pass through it already.  Returns the length written. */
size_t err_escape(char *out, size_t outlen, const char *in, size_t inlen);

/* The last recorded message, or "" when none. */
const char *err_last(void);

void err_clear(void);

#endif
