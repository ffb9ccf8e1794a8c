/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig3_pair.c -- figure 3: the rate of pbrk grow+shrink pairs of 2 MiB at
 * the end of the --size pheap (pairs/s), against the same pair done by hand
 * on a scratch file in the same directory, laid out like a pheap's (a
 * 2 MiB header area, then --size bytes of data, sparse, mapped at the start
 * of a 2 MiB-aligned PROT_NONE reservation):
 *   grow:   ftruncate to 2 MiB more, mmap(MAP_SHARED | MAP_FIXED) of the
 *           new 2 MiB at the end of the mapping, MADV_HUGEPAGE,
 *           MADV_POPULATE_WRITE, the new size stored in the header page and
 *           msync of that 4 KiB page (what makes the size durable);
 *   shrink: a PROT_NONE placeholder mmap(MAP_FIXED) over that 2 MiB,
 *           ftruncate back, the same store and 4 KiB msync.
 * And, as information, against mmap+munmap of 2 MiB of the baseline file.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* the pair by hand: the scratch file, its mapping, its data's end */
struct by_hand {
	int fd;
	char *raw;		/* the reservation, to unmap */
	char *area;		/* the file from offset 0, 2 MiB aligned */
	uint64_t end;		/* the file's size between pairs */
};

static void
hand_open(struct by_hand *h, uint64_t size)
{
	h->fd = scratch_open();
	h->end = STEP + size;
	if (ftruncate(h->fd, (off_t)h->end))
		SYS_FAIL("ftruncate scratch file");
	h->raw = mmap(NULL, h->end + 2 * STEP, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->raw == MAP_FAILED)
		SYS_FAIL("mmap reservation");
	h->area = (char *)(((uintptr_t)h->raw + STEP - 1) & ~(uintptr_t)(STEP - 1));
	if (mmap(h->area, h->end, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			h->fd, 0) == MAP_FAILED)
		SYS_FAIL("mmap scratch file");
	memset(h->area, 0, 4096);	/* the header page exists */
}

static void
hand_close(struct by_hand *h)
{
	munmap(h->raw, h->end + 2 * STEP);
	close(h->fd);
}

/* the file's size stored in the header page, made durable */
static void
hand_header(struct by_hand *h, uint64_t size)
{
	memcpy(h->area, &size, sizeof(size));
	if (msync(h->area, 4096, MS_SYNC))
		SYS_FAIL("msync scratch header page");
}

/* one grow+shrink pair of 2 MiB by hand (the comment at the top) */
static void
hand_pair(void *ctx)
{
	struct by_hand *h = ctx;
	char *p = h->area + h->end;

	if (ftruncate(h->fd, (off_t)(h->end + STEP)))
		SYS_FAIL("ftruncate scratch file (grow)");
	if (mmap(p, STEP, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, h->fd,
			(off_t)h->end) == MAP_FAILED)
		SYS_FAIL("mmap scratch range");
	(void)madvise(p, STEP, MADV_HUGEPAGE);	/* advice, as the library's */
	populate(p, STEP, 1);
	hand_header(h, h->end + STEP);
	if (mmap(p, STEP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			MAP_FIXED, -1, 0) == MAP_FAILED)
		SYS_FAIL("mmap placeholder");
	if (ftruncate(h->fd, (off_t)h->end))
		SYS_FAIL("ftruncate scratch file (shrink)");
	hand_header(h, h->end);
}

/* one pbrk grow+shrink pair of 2 MiB above the break *(long *)ctx */
static void
pheap_pair(void *ctx)
{
	brk_pair(*(const long *)ctx);
}

/* one mmap+munmap of 2 MiB of the baseline file */
static void
mmap_pair(void *ctx)
{
	void *p = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_SHARED,
		*(const int *)ctx, 0);

	if (p == MAP_FAILED)
		SYS_FAIL("mmap 2 MiB");
	munmap(p, STEP);
}

/* as many pairs as fit in o.dur3 seconds (50 ms with --quick): pairs/s */
static double
pair_rate(void (*pair)(void *), void *ctx)
{
	uint64_t t0 = now_ns(), t, n = 0;
	uint64_t dur = (uint64_t)(o.dur3 * 1e9);

	do {
		pair(ctx);
		n++;
		t = now_ns();
	} while (t - t0 < dur);
	return (double)n * 1e9 / (double)(t - t0);
}

static void
fig3(void)
{
	int R = o.reps;
	double *hz = samples_alloc(R), *dz = samples_alloc(R), *bz = samples_alloc(R);
	struct by_hand h;
	struct row *r;
	long q;

	progress("figure 3: pbrk grow+shrink 2 MiB");
	heap_attach();
	q = brk_query();
	hand_open(&h, (uint64_t)q - heap_base);
	for (int i = 0; i < R; i++) {
		/* alternate which goes first: neither gets the other's write-back */
		if (i & 1)
			dz[i] = pair_rate(hand_pair, &h);
		hz[i] = pair_rate(pheap_pair, &q);
		if (!(i & 1))
			dz[i] = pair_rate(hand_pair, &h);
		bz[i] = pair_rate(mmap_pair, &base_fd);
	}
	hand_close(&h);
	heap_detach();
	double hmed = median(hz, R);

	r = add_row("3", "pairs/s", 1, hmed, "pbrk grow+shrink 2 MiB");
	set_base(r, median(dz, R), "by hand: truncate+map+THP+POPULATE+4K msync");
	set_goal(r, G_RATIO_GE, 1.0, ">= 1.0x");
	r = add_row("3", "pairs/s", 1, hmed, "pbrk grow+shrink 2 MiB (info)");
	set_base(r, median(bz, R), "mmap+munmap 2 MiB, same file");
	free(hz); free(dz); free(bz);
}

const struct figure fig3_pair = {
	.num = 3, .name = "pair", .run = fig3,
	.desc = "pbrk grow+shrink 2 MiB (pairs/s) vs the same by hand on a file",
};
