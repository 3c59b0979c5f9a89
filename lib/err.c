/* err.c: keeps the last error message for main() to print. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[1024];

static void err_vset(int errnum, int with_errno, const char *fmt, va_list ap)
{
	int n = vsnprintf(err_buf, sizeof(err_buf), fmt, ap);

	if (n < 0)
		n = 0;
	if (with_errno && (size_t)n < sizeof(err_buf))
		snprintf(err_buf + n, sizeof(err_buf) - (size_t)n, ": %s",
			 strerror(errnum));
}

int err_sys(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(errnum, 1, fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_msg(int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(errnum, 0, fmt, ap);
	va_end(ap);
	return -errnum;
}

int err_wrap(int rc, const char *fmt, ...)
{
	char prefix[512], old[sizeof(err_buf)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err_buf, sizeof(old));
	/* Truncating a long message is fine: it is for a human. */
	size_t n = strnlen(prefix, sizeof(prefix) - 1);

	memcpy(err_buf, prefix, n);
	err_buf[n] = '\0';
	strncat(err_buf, ": ", sizeof(err_buf) - strlen(err_buf) - 1);
	strncat(err_buf, old, sizeof(err_buf) - strlen(err_buf) - 1);
	return rc;
}

const char *err_last(void)
{
	return err_buf;
}

void err_clear(void)
{
	err_buf[0] = '\0';
}
