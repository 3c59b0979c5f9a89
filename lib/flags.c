/* flags.c: the flag parser shared by pfrez and pthaw. */
#include "flags.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
		char *end;
		double v = strtod(p, &end);
		size_t best = 0;
		double mult = 0;

		if (end == p || v < 0 || (*p != '.' && (*p < '0' || *p > '9')))
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
	if (total > 9e15)
		return err_msg(EINVAL, "invalid duration \"%s\": too long", s);
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
	case FLAG_INT:
		errno = 0;
		*(long *)f->value = strtol(val, &end, 10);
		if (errno || end == val || *end)
			return err_msg(EINVAL, "invalid value \"%s\" for flag -%s: want an integer", val, f->name);
		return 0;
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
