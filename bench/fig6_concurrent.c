/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig6_concurrent.c -- figure 6: N = 1, 2, 4, 8, 16 processes doing pbrk
 * grow+shrink pairs of 2 MiB concurrently on one pheap (total pairs/s),
 * against N = 1; goal: N = 16 at least half of N = 1.  Each process
 * attaches by itself; the bench is detached.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NPROCS 5

static const int nprocs_list[NPROCS] = { 1, 2, 4, 8, 16 };

/* what each process did, by its index; shared with the bench */
struct conc_res {
	uint64_t ops[16];
	uint64_t ns[16];
};

/* process idx of N: attaches by itself, waits for the start, then pbrk
 * grow+shrink pairs for dur seconds */
static void
conc_child(int idx, int ready_fd, int go_fd, struct conc_res *res, double dur)
{
	char c = 'r';
	int ret;

	child_start();
	ret = pattach(heap_id, strlen(heap_id), PHEAP_ATTACH);
	if (ret)
		API_FAIL("pattach in a concurrent process", ret);
	write_all(ready_fd, &c, 1);
	close(ready_fd);
	if (read(go_fd, &c, 1) < 0)	/* EOF is the start signal */
		SYS_FAIL("read start pipe");
	uint64_t t0 = now_ns(), t, n = 0, d = (uint64_t)(dur * 1e9);

	do {
		brk_pair(brk_query());
		n++;
		t = now_ns();
	} while (t - t0 < d);
	res->ops[idx] = n;
	res->ns[idx] = t - t0;
	ret = pdetach();
	if (ret)
		API_FAIL("pdetach in a concurrent process", ret);
	_exit(0);
}

/* nproc processes at once: their pairs in all per second of the longest */
static double
conc_run(int nproc, struct conc_res *res)
{
	int ready[2], go[2];
	pid_t pids[16];
	uint64_t total = 0, maxns = 0;
	char c;

	memset(res, 0, sizeof(*res));
	if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC))
		SYS_FAIL("pipe");
	fflush(NULL);
	for (int i = 0; i < nproc; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			SYS_FAIL("fork");
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			conc_child(i, ready[1], go[0], res, o.dur6);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < nproc; i++)
		if (!read_all(ready[0], &c, 1))
			break;	/* a child died: wait_ok says why */
	close(go[1]);	/* go */
	close(ready[0]);
	for (int i = 0; i < nproc; i++)
		wait_ok(pids[i], "a concurrent pbrk process");
	for (int i = 0; i < nproc; i++) {
		total += res->ops[i];
		if (res->ns[i] > maxns)
			maxns = res->ns[i];
	}
	return maxns ? (double)total * 1e9 / (double)maxns : 0;
}

static void
fig6(void)
{
	int R = o.reps;
	double *v = samples_alloc(R);
	double hz[NPROCS];
	struct conc_res *res;

	progress("figure 6: 1-16 processes doing pbrk grow+shrink on one pheap");
	res = shared_alloc(sizeof(*res));
	for (int k = 0; k < NPROCS; k++) {
		for (int i = 0; i < R; i++)
			v[i] = conc_run(nprocs_list[k], res);
		hz[k] = median(v, R);
	}
	for (int k = 0; k < NPROCS; k++) {
		struct row *r = add_row("6", "pairs/s", 1, hz[k],
			"pbrk grow+shrink 2 MiB, N=%2d processes, total", nprocs_list[k]);

		set_base(r, hz[0], "1 process");
		if (nprocs_list[k] == 16)
			set_goal(r, G_RATIO_GE, 0.5, ">= 0.5x");
	}
	munmap(res, sizeof(*res));
	free(v);
}

const struct figure fig6_concurrent = {
	.num = 6, .name = "concurrent", .run = fig6,
	.desc = "N processes doing pbrk grow+shrink on one heap (pairs/s) vs N = 1",
};
