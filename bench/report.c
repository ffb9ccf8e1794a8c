/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * report.c -- pheap-bench's results: the rows the figures add (value,
 * baseline, goal), the notes, and their output, a table or one JSON
 * document on stdout, with the header that says what machine and pool the
 * numbers come from.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define MAX_ROWS 96

static struct row rows[MAX_ROWS];
static int nrows;
static char notes[24][320];
static int nnotes;

struct row *
add_row(const char *fig, const char *unit, int prec, double value,
	const char *name_fmt, ...)
{
	struct row *r;
	va_list ap;

	if (nrows == MAX_ROWS)
		die("too many rows");
	r = &rows[nrows++];
	memset(r, 0, sizeof(*r));
	snprintf(r->fig, sizeof(r->fig), "%s", fig);
	snprintf(r->unit, sizeof(r->unit), "%s", unit);
	r->prec = prec;
	r->value = value;
	va_start(ap, name_fmt);
	vsnprintf(r->name, sizeof(r->name), name_fmt, ap);
	va_end(ap);
	return r;
}

void
set_base(struct row *r, double base, const char *name)
{
	r->has_base = 1;
	r->base = base;
	snprintf(r->base_name, sizeof(r->base_name), "%s", name);
}

void
set_goal(struct row *r, enum goal_kind g, double x, const char *text)
{
	r->goal = g;
	r->goal_x = x;
	snprintf(r->goal_text, sizeof(r->goal_text), "%s", text);
}

void
add_note(const char *fmt, ...)
{
	va_list ap;

	if (nnotes == (int)(sizeof(notes) / sizeof(notes[0])))
		return;
	va_start(ap, fmt);
	vsnprintf(notes[nnotes++], sizeof(notes[0]), fmt, ap);
	va_end(ap);
}

static double
ratio_of(const struct row *r)
{
	return r->has_base && r->base != 0 ? r->value / r->base : 0;
}

/* 1 met, 0 missed, -1 no goal or not computable */
static int
goal_met(const struct row *r)
{
	switch (r->goal) {
	case G_RATIO_LE:
		return r->has_base && r->base > 0 ? ratio_of(r) <= r->goal_x : -1;
	case G_RATIO_GE:
		return r->has_base && r->base > 0 ? ratio_of(r) >= r->goal_x : -1;
	case G_VALUE_LE:
		return r->value <= r->goal_x;
	case G_VALUE_GE:
		return r->value >= r->goal_x;
	default:
		return -1;
	}
}

static const char *
backend_name(int b)
{
	switch (b) {
	case PHEAP_BACKEND_FILE: return "FILE";
	case PHEAP_BACKEND_FSDAX: return "FSDAX";
	case PHEAP_BACKEND_DEVDAX: return "DEVDAX";
	default: return "unknown";
	}
}

static const char *
granularity(int b)
{
	return b == PHEAP_BACKEND_FSDAX || b == PHEAP_BACKEND_DEVDAX ?
		"cache line (CPU flush + fence)" : "page (msync/fsync)";
}

static void
fmt_num(char *buf, size_t len, double v, int prec, const char *unit)
{
	snprintf(buf, len, "%.*f %s", prec, v, unit);
}

/* rows in figure order (stable: insertion order within a figure) */
static void
sort_rows(void)
{
	for (int i = 1; i < nrows; i++)
		for (int j = i; j > 0 && strcmp(rows[j - 1].fig, rows[j].fig) > 0; j--) {
			struct row t = rows[j];

			rows[j] = rows[j - 1];
			rows[j - 1] = t;
		}
}

/* the value, baseline and ratio cells of a row; "> " marks a lower bound */
static void
row_cells(const struct row *r, char v[48], char b[48], char rt[16])
{
	const char *gt = r->lower ? "> " : "";
	char num[40];

	fmt_num(num, sizeof(num), r->value, r->prec, r->unit);
	snprintf(v, 48, "%s%s", gt, isnan(r->value) ? "-" : num);
	snprintf(b, 48, "-");
	snprintf(rt, 16, "-");
	if (!r->has_base)
		return;
	fmt_num(b, 48, r->base, r->prec, r->unit);
	if (isnan(r->value) || isnan(r->base) || r->base == 0)
		return;
	if (ratio_of(r) >= 0.1 || ratio_of(r) == 0)
		snprintf(rt, 16, "%s%.2fx", gt, ratio_of(r));
	else
		snprintf(rt, 16, "%s%.2gx", gt, ratio_of(r));
}

static void
print_table(void)
{
	char v[48], b[48], rt[16];

	printf("%-4s %-52s %16s %16s %8s  %s\n", "fig", "figure", "value",
		"baseline", "ratio", "baseline is");
	for (int i = 0; i < 108 + 20; i++)
		putchar('-');
	putchar('\n');
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		row_cells(r, v, b, rt);
		printf("%-4s %-52s %16s %16s %8s  %s\n", r->fig, r->name, v, b, rt,
			r->has_base ? r->base_name : "");
	}
	int ngoals = 0;

	for (int i = 0; i < nrows; i++)
		ngoals += rows[i].goal != G_NONE;
	if (ngoals)
		printf("\ngoals:\n");
	for (int i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		int g = goal_met(r);

		if (r->goal == G_NONE)
			continue;
		printf("  %-4s %-52s goal %-14s %s\n", r->fig, r->name, r->goal_text,
			g < 0 ? "n/a" : g ? "met" : "MISSED");
	}
	if (nnotes) {
		printf("\nnotes:\n");
		for (int i = 0; i < nnotes; i++)
			printf("  - %s\n", notes[i]);
	}
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_num(double v)
{
	if (v != v || v > 1e300 || v < -1e300)
		printf("null");
	else
		printf("%.6g", v);
}

/* the machine, the pool and the configuration: what the results are of */
static void
json_context(void)
{
	printf("  \"machine\": {\"cpu\": ");
	json_str(m.cpu);
	printf(", \"cpus\": %d, \"mem_gib\": %.1f, \"kernel\": ", m.ncpu, m.mem_gib);
	json_str(m.kernel);
	printf(", \"date\": ");
	json_str(m.date);
	printf(", \"loadavg_start\": ");
	json_str(m.load0);
	printf(", \"loadavg_end\": ");
	json_str(m.load1);
	printf("},\n  \"pool\": {\"dir\": ");
	json_str(pool_dir);
	printf(", \"fstype\": ");
	json_str(m.fstype);
	printf(", \"mount_options\": ");
	json_str(m.mnt_opts);
	printf(", \"backend\": ");
	json_str(backend_name(m.backend));
	printf(", \"dax\": %s, \"store_granularity\": ",
		m.backend == PHEAP_BACKEND_FILE ? "false" : "true");
	json_str(m.backend == PHEAP_BACKEND_FILE ? "page" : "cache line");
	printf("},\n  \"config\": {\"quick\": %s, \"reps\": %d, \"size\": %" PRIu64
		", \"random_size\": %" PRIu64 ", \"random_reads\": %" PRIu64
		", \"latency_samples\": %d},\n", o.quick ? "true" : "false", o.reps,
		o.size, o.rand_size, o.nreads, o.lat_samples);
}

/* one element of "results", without the separator */
static void
json_row(const struct row *r)
{
	const char *nm = r->name;
	char trimmed[112];
	int g = goal_met(r);

	while (*nm == ' ')
		nm++;
	snprintf(trimmed, sizeof(trimmed), "%s", nm);
	printf("    {\"fig\": ");
	json_str(r->fig);
	printf(", \"name\": ");
	json_str(trimmed);
	printf(", \"unit\": ");
	json_str(r->unit);
	printf(", \"value\": ");
	json_num(r->value);
	printf(", \"baseline\": ");
	if (r->has_base)
		json_num(r->base);
	else
		printf("null");
	printf(", \"baseline_name\": ");
	if (r->has_base)
		json_str(r->base_name);
	else
		printf("null");
	printf(", \"ratio\": ");
	if (r->has_base && r->base != 0)
		json_num(ratio_of(r));
	else
		printf("null");
	if (r->lower)
		printf(", \"lower_bound\": true");
	if (r->goal != G_NONE) {
		printf(", \"goal\": ");
		json_str(r->goal_text);
		printf(", \"goal_met\": %s", g < 0 ? "null" : g ? "true" : "false");
	}
	printf("}");
}

static void
print_json(void)
{
	printf("{\n");
	json_context();
	printf("  \"results\": [\n");
	for (int i = 0; i < nrows; i++) {
		json_row(&rows[i]);
		printf("%s\n", i + 1 < nrows ? "," : "");
	}
	printf("  ],\n  \"notes\": [");
	for (int i = 0; i < nnotes; i++) {
		printf("%s\n    ", i ? "," : "");
		json_str(notes[i]);
	}
	printf("%s]\n}\n", nnotes ? "\n  " : "");
}

void
print_header(void)
{
	char s1[32], s2[32];

	printf("pheap-bench  %s%s\n", m.date, o.quick ? "  (--quick: tiny sizes, "
		"1 repetition; numbers are not meaningful)" : "");
	printf("cpu:      %s, %d online, %.1f GiB RAM\n", m.cpu, m.ncpu, m.mem_gib);
	printf("kernel:   %s\n", m.kernel);
	printf("load:     %s (1/5/15-min load average at start; the end is in "
		"the notes)\n", m.load0);
	printf("pool:     %s  (%s on %s: %s)\n", pool_dir, m.fstype, m.mnt_point,
		m.mnt_opts);
	printf("backend:  %s  DAX mapping: %s  store granularity: %s\n",
		backend_name(m.backend), m.backend == PHEAP_BACKEND_FILE ? "no" : "yes",
		granularity(m.backend));
	printf("config:   size %s, random-read size %s, %d repetition%s (median), "
		"%d latency samples\n\n", human(o.size, s1, sizeof(s1)),
		human(o.rand_size, s2, sizeof(s2)), o.reps, o.reps == 1 ? "" : "s",
		o.lat_samples);
}

/* the rows in figure order, as the table or as JSON */
void
print_results(void)
{
	sort_rows();
	if (o.json)
		print_json();
	else
		print_table();
}
