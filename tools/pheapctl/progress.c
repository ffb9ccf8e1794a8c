/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * progress.c -- a progress line on stderr for long work (export, import):
 * "what:  42% 1.2G of 3.0G", redrawn in place with \r at most ten times a
 * second, and only when stderr is a terminal -- piped or redirected,
 * nothing.  Work done in less than a tenth of a second draws nothing.
 * A message on stderr meanwhile (ctl_fail, ctl_usage) first ends the line
 * (progress_interrupt), so it starts on a line of its own.
 */
#include <time.h>
#include <unistd.h>

#include "pheapctl.h"

#define INTERVAL_NS 100000000LL	/* a tenth of a second */

/* the line being drawn, if any */
static struct progress *active;

static long long
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void
progress_start(struct progress *p, const char *what, unsigned long long total)
{
	p->what = what;
	p->total = total;
	p->done = 0;
	p->on = isatty(STDERR_FILENO);
	p->drawn = 0;
	p->last_ns = p->on ? now_ns() : 0;
	active = p;
}

static void
draw(struct progress *p)
{
	char done[16], total[16];
	unsigned pct = p->total ? (unsigned)(p->done * 100.0 / p->total) : 100;

	ctl_human(done, sizeof(done), p->done);
	ctl_human(total, sizeof(total), p->total);
	/* the spaces wipe what a longer line before left */
	fprintf(stderr, "\r%s: %3u%% %s of %s    ", p->what, pct, done, total);
	fflush(stderr);
	p->drawn = 1;
}

void
progress_step(struct progress *p, unsigned long long done)
{
	long long t;

	p->done = done;
	if (!p->on)
		return;
	t = now_ns();
	if (t - p->last_ns < INTERVAL_NS)
		return;
	p->last_ns = t;
	draw(p);
}

void
progress_end(struct progress *p)
{
	if (active == p)
		active = NULL;
	if (!p->on || !p->drawn)
		return;
	draw(p);
	fputc('\n', stderr);
	p->drawn = 0;
}

void
progress_interrupt(void)
{
	if (active && active->drawn) {
		fputc('\n', stderr);
		active->drawn = 0;
	}
}
