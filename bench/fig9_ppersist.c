/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig9_ppersist.c -- figure 9: the latency of ppersist of 8 B, 4 KiB and
 * 2 MiB at the start of the pheap, each right after a store to every byte
 * of the range, median and p99 in us, against msync(MS_SYNC) of the same
 * range of a plain MAP_SHARED mapping of the baseline file on the same
 * backing, dirtied the same way.  Information, no goal: on the page cache
 * the pheap has 2 MiB folios, and a store dirties a whole folio; these rows
 * show whether that makes a small ppersist slower.  A note gives the share
 * of each mapping in 2 MiB pages.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define F9_SIZES 3

static const size_t f9_len[F9_SIZES] = { 8, 4096, STEP };
static const char *const f9_name[F9_SIZES] = { "8 B", "4 KiB", "2 MiB" };

/* a store of c to every byte of [p, p + len), then ppersist of it: us */
static double
persist_pheap(char *p, size_t len, int c)
{
	uint64_t t0;
	int ret;

	memset(p, c, len);
	t0 = now_ns();
	ret = ppersist(p, len);
	if (ret)
		API_FAIL("ppersist", ret);
	return (double)(now_ns() - t0) / 1e3;
}

/* the same on the baseline mapping q, with msync(MS_SYNC): us */
static double
persist_msync(char *q, size_t len, int c)
{
	uint64_t t0;

	memset(q, c, len);
	t0 = now_ns();
	if (msync(q, len, MS_SYNC))
		SYS_FAIL("msync baseline file");
	return (double)(now_ns() - t0) / 1e3;
}

/* n samples of each side for size k, from hv[at] and bv[at]; who goes
 * first alternates */
static void
f9_samples(char *p, char *q, int k, int n, int at, double *hv, double *bv)
{
	for (int j = 0; j < n; j++) {
		int c = 1 + (at + j) % 255;

		if (j & 1)
			bv[at + j] = persist_msync(q, f9_len[k], c);
		hv[at + j] = persist_pheap(p, f9_len[k], c);
		if (!(j & 1))
			bv[at + j] = persist_msync(q, f9_len[k], c);
	}
}

/* the median and p99 rows of size k, over the N samples of each side */
static void
f9_rows(int k, double *hv, double *bv, int N)
{
	static const char base[] = "msync(MS_SYNC), plain MAP_SHARED file";
	struct row *r;

	r = add_row("9", "us", 1, median(hv, N),
		"ppersist of %s after a store, median", f9_name[k]);
	set_base(r, median(bv, N), base);
	r = add_row("9", "us", 1, percentile(hv, N, 99), "  ppersist of %s, p99",
		f9_name[k]);
	set_base(r, percentile(bv, N, 99), base);
}

static void
fig9(void)
{
	int R = o.reps, n = o.quick ? 5 : 50, N = R * n;
	double *hv[F9_SIZES], *bv[F9_SIZES];
	char *p, *q;

	progress("figure 9: ppersist of 8 B, 4 KiB and 2 MiB after a store");
	heap_attach();
	p = pheap_base();
	q = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_SHARED, base_fd, 0);
	if (q == MAP_FAILED)
		SYS_FAIL("mmap baseline file");
	for (int k = 0; k < F9_SIZES; k++) {
		hv[k] = samples_alloc(N);
		bv[k] = samples_alloc(N);
	}
	for (int i = 0; i < R; i++)
		for (int k = 0; k < F9_SIZES; k++)
			f9_samples(p, q, k, n, i * n, hv[k], bv[k]);
	add_note("figure 9: %.0f%% of the pheap and %.0f%% of the baseline's "
		"2 MiB were mapped with 2 MiB pages",
		huge_pct(smaps_huge(p, p + STEP)), huge_pct(smaps_huge(q, q + STEP)));
	munmap(q, STEP);
	heap_detach();
	for (int k = 0; k < F9_SIZES; k++) {
		f9_rows(k, hv[k], bv[k], N);
		free(hv[k]);
		free(bv[k]);
	}
}

const struct figure fig9_ppersist = {
	.num = 9, .name = "ppersist", .run = fig9,
	.desc = "ppersist of 8 B, 4 KiB, 2 MiB after a store (us) vs msync of a file",
};
