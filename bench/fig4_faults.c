/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig4_faults.c -- figure 4: the first read sweep (1 byte per 4 KiB page)
 * of the --size pheap right after pattach, in ns/page and minor faults of
 * the thread, against the same sweep over a plain mmap of the baseline file
 * with no populate; and the faults of a write sweep right after one pbrk
 * grow of min(--size, 256 MiB).  4a: the faults of the first write sweep
 * after pattach (at most one per 2 MiB), and its time against a second
 * one.  4b: the share of the heap that /proc/self/smaps shows mapped with
 * 2 MiB pages right after pattach and right after that grow (100%; on the
 * FILE backend only a goal).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/*
 * The samples, one per repetition: the pheap's read sweep (ns/page,
 * faults), its first write sweep (ns/page, faults), its second write sweep
 * (ns/page), the write sweep after a grow (faults); the baseline's read
 * sweep (ns/page, faults) and write sweep (faults); the heap's share in
 * 2 MiB pages (%) after pattach and after the grow.
 */
enum { HN, HF, AN, AF, DN, WF, BN, BF, BWF, HUGE_ATT, HUGE_GROW, NT };

static void
sweep_read(const char *p, uint64_t len)
{
	uint64_t s = 0;

	for (uint64_t off = 0; off < len; off += SWEEP)
		s += ((const volatile char *)p)[off];
	sink += s;
}

static void
sweep_write(char *p, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += SWEEP)
		((volatile char *)p)[off] = 1;
}

/* a read or a write sweep of len bytes at p: its ns per page, its faults */
static void
timed_sweep(char *p, uint64_t len, int write, double *ns_page, double *faults)
{
	long f0 = minflt_thread();
	uint64_t t0 = now_ns(), t1;

	if (write)
		sweep_write(p, len);
	else
		sweep_read(p, len);
	t1 = now_ns();
	*faults = (double)(minflt_thread() - f0);
	*ns_page = (double)(t1 - t0) / (double)(len / SWEEP);
}

/* the pheap's sweeps of repetition i: after pattach, then after a grow of G */
static void
fig4_heap(double *v[NT], int i, uint64_t S, uint64_t G)
{
	double unused;
	char *p;

	/* pheap: freshly attached, then one read per page */
	heap_attach();
	if (heap_len() != S)
		heap_set(S);
	p = pheap_base();
	if (!p)
		die("pheap_base() is NULL while attached");
	v[HUGE_ATT][i] = huge_pct(smaps_huge(p, p + S));
	timed_sweep(p, S, 0, &v[HN][i], &v[HF][i]);
	/* the first write after attach (not a goal: information) */
	timed_sweep(p, S, 1, &v[AN][i], &v[AF][i]);
	/* and again: writable now, the cost of a sweep with no faults */
	timed_sweep(p, S, 1, &v[DN][i], &unused);
	/* a grow, then a write per new page */
	heap_set(S + G);
	v[HUGE_GROW][i] = huge_pct(smaps_huge(p, p + S + G));
	timed_sweep(p + S, G, 1, &unused, &v[WF][i]);
	heap_set(S);
	heap_detach();
}

/* the same sweeps over a plain mmap of the baseline file, no populate */
static void
fig4_base(double *v[NT], int i, uint64_t S, uint64_t G)
{
	int fd = base_open();
	double unused;
	char *p;

	p = mmap(NULL, S, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		SYS_FAIL("mmap baseline file");
	timed_sweep(p, S, 0, &v[BN][i], &v[BF][i]);
	munmap(p, S);
	p = mmap(NULL, G, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		SYS_FAIL("mmap baseline file");
	timed_sweep(p, G, 1, &unused, &v[BWF][i]);
	munmap(p, G);
	close(fd);
}

/* 4b: the heap's share in 2 MiB pages; a goal where the kernel says */
static void
fig4b_rows(double *v[NT], int R, const char *hs, const char *gs)
{
	int file = m.backend == PHEAP_BACKEND_FILE;
	struct row *r;

	r = add_row("4b", "%", 1, median(v[HUGE_ATT], R),
		"%s heap mapped with 2 MiB pages after pattach%s", hs,
		file ? "" : " (info)");
	if (file)
		set_goal(r, G_VALUE_GE, 100, ">= 100%");
	r = add_row("4b", "%", 1, median(v[HUGE_GROW], R),
		"  the same right after the pbrk grow of %s%s", gs, file ? "" : " (info)");
	if (file)
		set_goal(r, G_VALUE_GE, 100, ">= 100%");
	else
		add_note("4b: information only on a DAX backend (/proc/self/smaps "
			"counts no fsdax PMD mapping; device-dax counts by its "
			"KernelPageSize)");
}

static void
fig4_rows(double *v[NT], int R, uint64_t S, uint64_t G)
{
	char hs[32], gs[32], goal[48];
	struct row *r;

	human(S, hs, sizeof(hs));
	human(G, gs, sizeof(gs));
	r = add_row("4", "ns/page", 1, median(v[HN], R),
		"first read sweep after pattach, %s", hs);
	set_base(r, median(v[BN], R), "same sweep, plain mmap, no populate");
	r = add_row("4", "faults", 0, median(v[HF], R),
		"  minor faults in that sweep (%" PRIu64 " pages)", (uint64_t)(S / SWEEP));
	set_base(r, median(v[BF], R), "same sweep, plain mmap, no populate");
	set_goal(r, G_VALUE_LE, 0, "0 faults");
	r = add_row("4", "faults", 0, median(v[WF], R),
		"write sweep right after a pbrk grow of %s", gs);
	set_base(r, median(v[BWF], R), "write sweep, plain mmap, no populate");
	set_goal(r, G_VALUE_LE, 0, "0 faults");
	r = add_row("4a", "faults", 0, median(v[AF], R),
		"first write sweep after pattach, %s", hs);
	/* one fault per 2 MiB */
	snprintf(goal, sizeof(goal), "<= %" PRIu64 " faults", (uint64_t)(S / STEP));
	set_goal(r, G_VALUE_LE, (double)(S / STEP), goal);
	r = add_row("4a", "ns/page", 1, median(v[AN], R),
		"  its time per page (info)");
	set_base(r, median(v[DN], R), "second write sweep, no faults");
	fig4b_rows(v, R, hs, gs);
}

static void
fig4(void)
{
	uint64_t S = o.size, G = S < 256 * MiB ? S : 256 * MiB;
	int R = o.reps;
	double *v[NT];

	for (int k = 0; k < NT; k++)
		v[k] = samples_alloc(R);
	progress("figure 4: first sweep after pattach, faults");
	for (int i = 0; i < R; i++) {
		fig4_heap(v, i, S, G);
		fig4_base(v, i, S, G);
	}
	fig4_rows(v, R, S, G);
	for (int k = 0; k < NT; k++)
		free(v[k]);
}

const struct figure fig4_faults = {
	.num = 4, .name = "faults", .run = fig4,
	.desc = "first sweep after pattach or a grow (ns/page, faults) vs a plain mmap",
};
