/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig7_random.c -- figure 7: random 8-byte reads (xorshift64) over a large
 * pheap (ns/read), against the same reads over anonymous memory with
 * MADV_HUGEPAGE; goal on the FILE backend: at most 1.05x.  The heap is
 * halved until the backing has the space and the machine the memory for
 * both copies.  7a (information): the one pbrk that grew the heap, in
 * GB/s.  A note gives the share of each in 2 MiB pages.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static uint64_t
xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* n reads at random 8-byte words of [p, p + len): ns per read */
static double
random_reads(const uint64_t *p, uint64_t len, uint64_t n)
{
	uint64_t words = len / 8, s = 0x9e3779b97f4a7c15ULL, sum = 0;
	uint64_t t0 = now_ns(), t1;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t x = xorshift64(&s);

		sum += p[(uint64_t)(((unsigned __int128)x * words) >> 64)];
	}
	t1 = now_ns();
	sink += sum;
	return (double)(t1 - t0) / (double)n;
}

/* --random-size, halved until it fits; the attached heap's break is cur */
static uint64_t
fig7_size(uint64_t cur)
{
	uint64_t want = o.rand_size, Rsz = want;
	char hs[32], ws[32], fs[32], ms[32];
	struct pheap_info info;
	int ret;

	ret = pheap_info(&info);
	if (ret)
		API_FAIL("pheap_info", ret);
	/* capacity: what pbrk can reach now, free space of the backing included */
	uint64_t avail = info.capacity > cur ? info.capacity - cur : 0;
	uint64_t mem = proc_kib("/proc/meminfo", "MemAvailable") * KiB;

	/* room on the backing for the grow (with a margin for the other
	 * files), and memory for both copies */
	while (Rsz > 64 * MiB && (Rsz > cur + (avail > 256 * MiB ? avail - 256 * MiB : 0) ||
			2 * Rsz + 512 * MiB > mem))
		Rsz /= 2;
	Rsz &= ~(STEP - 1);
	if (Rsz != want)
		add_note("figure 7 scaled down from %s to %s: the pheap can reach "
			"%s (free space on the backing), %s memory available",
			human(want, ws, sizeof(ws)), human(Rsz, hs, sizeof(hs)),
			human((avail + cur) & ~(MiB - 1), fs, sizeof(fs)),
			human(mem & ~(MiB - 1), ms, sizeof(ms)));
	return Rsz;
}

/* len bytes of anonymous memory, 2 MiB aligned, with transparent huge
 * pages, written; *raw is the mapping (len + 2 MiB) to unmap */
static uint64_t *
anon_huge(uint64_t len, char **raw)
{
	uint64_t *ap;

	*raw = mmap(NULL, len + STEP, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (*raw == MAP_FAILED)
		SYS_FAIL("mmap anonymous memory");
	ap = (uint64_t *)(((uintptr_t)*raw + STEP - 1) & ~(uintptr_t)(STEP - 1));
	if (madvise(ap, len, MADV_HUGEPAGE))
		add_note("madvise(MADV_HUGEPAGE): %s", strerror(errno));
	memset(ap, 0, len);
	return ap;
}

static void
fig7(void)
{
	int R = o.reps;
	double *hv = samples_alloc(R);
	double *bv = samples_alloc(R);
	uint64_t cur, Rsz, t0, *ap;
	double hp_pct, ap_pct;
	char hs[32], ws[32], *raw;
	struct row *r;

	heap_attach();
	cur = heap_len();
	Rsz = fig7_size(cur);
	human(Rsz, hs, sizeof(hs));
	progress("figure 7: %" PRIu64 " random 8-byte reads over %s", o.nreads, hs);
	t0 = now_ns();
	heap_set(Rsz);
	double grow_s = (double)(now_ns() - t0) / 1e9;
	const uint64_t *hp = pheap_base();

	ap = anon_huge(Rsz, &raw);
	hp_pct = huge_pct(smaps_huge(hp, (const char *)hp + Rsz));
	ap_pct = huge_pct(smaps_huge(ap, (const char *)ap + Rsz));
	for (int i = 0; i < R; i++) {
		hv[i] = random_reads(hp, Rsz, o.nreads);
		bv[i] = random_reads(ap, Rsz, o.nreads);
	}
	munmap(raw, Rsz + STEP);
	heap_set(cur);
	heap_detach();
	r = add_row("7", "ns/read", 2, median(hv, R),
		"random 8-byte reads, %s pheap, %gM reads", hs,
		(double)o.nreads / 1e6);
	set_base(r, median(bv, R), "anonymous memory, MADV_HUGEPAGE");
	if (m.backend == PHEAP_BACKEND_FILE)
		set_goal(r, G_RATIO_LE, 1.05, "<= 1.05x");
	r = add_row("7a", "GB/s", 3, (double)(Rsz - cur) / grow_s / 1e9,
		"  one pbrk grow of %s (info)", human(Rsz - cur, ws, sizeof(ws)));
	add_note("figure 7: %.0f%% of the pheap and %.0f%% of the anonymous "
		"buffer were mapped with 2 MiB pages", hp_pct, ap_pct);
	free(hv); free(bv);
}

const struct figure fig7_random = {
	.num = 7, .name = "random", .run = fig7,
	.desc = "random 8-byte reads over a large heap (ns/read) vs anonymous THP memory",
};
