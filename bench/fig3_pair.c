/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig3_pair.c -- figure 3: the rate of pbrk grow+shrink pairs of 2 MiB at
 * the end of the --size pheap (pairs/s), against mmap+munmap of 2 MiB of
 * the baseline file on the same backing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* as many pairs as fit in --quick's 50 ms or 1 s, each side, per repetition */
static void
fig3(void)
{
	int R = o.reps;
	double *hz = samples_alloc(R);
	double *bz = samples_alloc(R);
	uint64_t cur;
	struct row *r;

	progress("figure 3: pbrk grow+shrink 2 MiB");
	heap_attach();
	cur = heap_len();
	for (int i = 0; i < R; i++) {
		uint64_t t0 = now_ns(), t, n = 0;
		uint64_t dur = (uint64_t)(o.dur3 * 1e9);

		do {
			heap_set(cur + STEP);
			heap_set(cur);
			n++;
			t = now_ns();
		} while (t - t0 < dur);
		hz[i] = (double)n * 1e9 / (double)(t - t0);

		n = 0;
		t0 = now_ns();
		do {
			void *p = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_SHARED,
				base_fd, 0);

			if (p == MAP_FAILED)
				SYS_FAIL("mmap 2 MiB");
			munmap(p, STEP);
			n++;
			t = now_ns();
		} while (t - t0 < dur);
		bz[i] = (double)n * 1e9 / (double)(t - t0);
	}
	heap_detach();
	r = add_row("3", "pairs/s", 1, median(hz, R), "pbrk grow+shrink 2 MiB");
	set_base(r, median(bz, R), "mmap+munmap 2 MiB, same file");
	free(hz); free(bz);
}

const struct figure fig3_pair = {
	.num = 3, .name = "pair", .run = fig3,
	.desc = "pbrk grow+shrink 2 MiB (pairs/s) vs mmap+munmap 2 MiB of a file",
};
