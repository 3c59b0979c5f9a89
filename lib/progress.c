/* progress.c: the -progress meter (the one part of lib/ that prints). */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void human(char *buf, size_t len, double v)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned i = 0;

	while (v >= 1024 && i < sizeof(unit) / sizeof(unit[0]) - 1) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%.0f B", v);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
}

static void show(struct progress *p, int64_t now, int final)
{
	double secs = (double)(now - p->start_ns) / 1e9;
	char size[32], rate[32];

	human(size, sizeof(size), (double)p->bytes);
	human(rate, sizeof(rate), secs > 0 ? (double)p->bytes / secs : 0);
	/* \033[K clears what a longer earlier line left behind. */
	fprintf(stderr, "%s%s %s, %s/s, %.1f s%s%s", p->tty ? "\r" : "",
		p->what, size, rate, secs, p->tty ? "\033[K" : "",
		p->tty && !final ? "" : "\n");
	p->shown = 1;
	p->last_ns = now;
}

int progress_init(struct progress *p, const char *what, int force)
{
	memset(p, 0, sizeof(*p));
	p->what = what;
	p->tty = isatty(2);
	p->force = force;
	p->on = p->tty || force;
	p->start_ns = p->last_ns = now_ns();
	return 0;
}

void progress_update(struct progress *p, unsigned long long bytes)
{
	int64_t now, every = p->tty ? 250000000 : 1000000000;

	p->bytes = bytes;
	if (!p->on)
		return;
	now = now_ns();
	if (now - p->last_ns >= every)
		show(p, now, 0);
}

void progress_done(struct progress *p)
{
	if (p->on && (p->force || p->shown))
		show(p, now_ns(), 1);
	p->on = 0;
}
