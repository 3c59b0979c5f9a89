/* flags.c: the flag parser shared by pfrez and pthaw. */
#include "flags.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Plain decimal digits with an optional fraction ("12", "1.5"): strtod
 * would also take "1e3", "0x10", "inf", " 5" and "+5". */
static const char *decimal(const char *p, double *v)
{
	const char *start = p;
	double scale = 1;

	*v = 0;
	while (*p >= '0' && *p <= '9' && p - start < 18)
		*v = *v * 10 + (*p++ - '0');
	if (p == start || (*p >= '0' && *p <= '9'))
		return NULL;
	if (*p != '.')
		return p;
	start = ++p;
	while (*p >= '0' && *p <= '9' && p - start < 9) {
		scale /= 10;
		*v += (*p++ - '0') * scale;
	}
	return p == start || (*p >= '0' && *p <= '9') ? NULL : p;
}

int flags_duration(const char *s, int64_t *ms)
{
	static const struct { const char *unit; double ms; } units[] = {
		{ "ns", 1e-6 }, { "us", 1e-3 }, { "ms", 1 }, { "s", 1e3 },
		{ "m", 60e3 }, { "h", 3600e3 },
	};
	const char *p = s;
	double total = 0;

	if (!*p)
		return err_msg(EINVAL, "invalid duration \"\"");
	if (strcmp(p, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		double v;
		const char *end = decimal(p, &v);
		size_t best = 0;
		double mult = 0;

		if (!end)
			return err_msg(EINVAL, "invalid duration \"%s\"", s);
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].unit);

			if (strncmp(end, units[i].unit, n) == 0 && n > best) {
				best = n;
				mult = units[i].ms;
			}
		}
		if (!best)
			return err_msg(EINVAL, "invalid duration \"%s\": missing unit (ms, s, m, h)", s);
		total += v * mult;
		p = end + best;
	}
	if (total > FLAGS_DURATION_MAX)
		return err_msg(EINVAL, "invalid duration \"%s\": longer than %dh", s,
			       FLAGS_DURATION_MAX / 3600000);
	*ms = (int64_t)(total + 0.5);
	return 0;
}

static const struct flag *flag_find(const struct flag *tab, const char *name, size_t n)
{
	for (; tab->name; tab++)
		if (strlen(tab->name) == n && strncmp(tab->name, name, n) == 0)
			return tab;
	return NULL;
}

static int flag_set(const struct flag *f, const char *val)
{
	char *end;

	switch (f->kind) {
	case FLAG_BOOL:
		if (!val || strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			*(int *)f->value = 1;
		else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
			*(int *)f->value = 0;
		else
			return err_msg(EINVAL, "invalid value \"%s\" for flag -%s: want true or false", val, f->name);
		return 0;
	case FLAG_INT: {
		const struct flag_int *fi = f->value;
		long v;

		/* Digits only, in range, or an error naming the flag: strtol
		 * takes " 5" and "+5", and a cast of what it returns to the
		 * flag's real type (pid_t) would cut 4294967296+N to N. */
		errno = 0;
		v = strtol(val, &end, 10);
		if (!((val[0] >= '0' && val[0] <= '9') || (val[0] == '-' && val[1] >= '0' && val[1] <= '9')) ||
		    *end || (errno && errno != ERANGE))
			return err_msg(EINVAL, "invalid value \"%s\" for flag -%s: want an integer", val, f->name);
		if (errno == ERANGE || v < fi->min || v > fi->max)
			return err_msg(ERANGE, "invalid value \"%s\" for flag -%s: want an integer from %ld to %ld",
				       val, f->name, fi->min, fi->max);
		*fi->value = v;
		return 0;
	}
	case FLAG_STRING:
		*(const char **)f->value = val;
		return 0;
	case FLAG_DURATION:
		return err_wrap(flags_duration(val, (int64_t *)f->value), "flag -%s", f->name);
	}
	return err_msg(EINVAL, "flag -%s: unknown kind", f->name);
}

int flags_parse(const struct flag *tab, int argc, char **argv, int *rest)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq;
		const struct flag *f;
		size_t n;

		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		name = a + (a[1] == '-' ? 2 : 1);
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		if ((n == 1 && name[0] == 'h') || (n == 4 && strncmp(name, "help", 4) == 0))
			return 1;
		f = flag_find(tab, name, n);
		if (!f)
			return err_msg(EINVAL, "unknown flag -%.*s (see -h)", (int)n, name);
		if (eq) {
			if (flag_set(f, eq + 1) < 0)
				return -EINVAL;
		} else if (f->kind == FLAG_BOOL) {
			if (flag_set(f, NULL) < 0)
				return -EINVAL;
		} else {
			if (i + 1 >= argc)
				return err_msg(EINVAL, "flag -%s needs a value", f->name);
			if (flag_set(f, argv[++i]) < 0)
				return -EINVAL;
		}
	}
	*rest = i;
	return 0;
}

void flags_usage(FILE *out, const char *usage, const struct flag *tab)
{
	fprintf(out, "Usage: %s\n\nFlags:\n", usage);
	for (; tab->name; tab++) {
		char left[64];

		if (tab->arg)
			snprintf(left, sizeof(left), "-%s=%s", tab->name, tab->arg);
		else
			snprintf(left, sizeof(left), "-%s", tab->name);
		fprintf(out, "  %-22s %s\n", left, tab->help);
	}
	fprintf(out, "  %-22s %s\n", "-h, --help", "print this help and exit");
}
