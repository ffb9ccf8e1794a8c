/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig2_grow.c -- figure 2: the bandwidth of pbrk growing the pheap from 0
 * to --size in 2 MiB steps (GB/s), against memset into a populated,
 * writable mapping of a file on the same backing.  2a: against the kernel
 * floor, the same grow done by hand on a scratch file (per step ftruncate +
 * posix_fallocate + mmap + MADV_POPULATE_WRITE, nothing made durable).
 * 2b: anonymous mmap + MADV_POPULATE_WRITE.  2c: one grow in us.  2d: the
 * header durability of one grow, done by hand.  2e: per 2 MiB step a pbrk
 * grow and one memset of the new 2 MiB (GB/s), against the same on
 * anonymous memory (mmap + MADV_POPULATE_WRITE + memset per step), the
 * faster of 4 KiB pages and MADV_HUGEPAGE, both measured in the run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/*
 * The samples, one per repetition: the grows (GB/s) of the pheap, the
 * kernel floor and anonymous memory, memset, the durability of a grow (us);
 * a grow with a write pass (GB/s) of the pheap, of anonymous 4 KiB pages and
 * of anonymous huge pages, and the share of the latter in 2 MiB pages (%).
 */
enum { GROW, MEMSET, FLOOR, ANON, DUR, GW, GW4K, GWTHP, THP_PCT, NT };

/* the scratch file ends at end + 2 MiB, the last 2 MiB allocated */
static void
scratch_extend(int fd, off_t end)
{
	int err;

	if (ftruncate(fd, end))
		SYS_FAIL("ftruncate scratch file");
	err = posix_fallocate(fd, end, (off_t)STEP);
	if (err)
		die("posix_fallocate scratch file: %s", strerror(err));
}

/* step k of a grow by hand, mapped and populated for writing: 2 MiB more
 * of the scratch file fd, or of anonymous memory if fd is -1 */
static char *
floor_step(int fd, uint64_t k)
{
	off_t end = (off_t)(STEP + k * STEP);
	char *p;

	if (fd < 0) {
		p = mmap(NULL, STEP, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			SYS_FAIL("mmap anonymous 2 MiB");
	} else {
		scratch_extend(fd, end);
		p = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, end);
		if (p == MAP_FAILED)
			SYS_FAIL("mmap scratch range");
	}
	populate(p, STEP, 1);
	return p;
}

/* a grow to S in 2 MiB steps by hand, as floor_step does them: GB/s */
static double
grow_by_hand(uint64_t S, int fd)
{
	uint64_t steps = S / STEP, t0, t1;
	char **maps = xcalloc((size_t)steps, sizeof(*maps));

	t0 = now_ns();
	for (uint64_t k = 0; k < steps; k++)
		maps[k] = floor_step(fd, k);
	t1 = now_ns();
	for (uint64_t k = 0; k < steps; k++)
		munmap(maps[k], STEP);
	free(maps);
	return (double)S / (double)(t1 - t0);
}

/*
 * The kernel floor of a grow on this backing, by hand, on a scratch file
 * next to the pheap: per 2 MiB step ftruncate + posix_fallocate + mmap +
 * MADV_POPULATE_WRITE, nothing made durable.  Returns GB/s.
 */
static double
grow_floor_file(uint64_t S)
{
	int fd = scratch_open();
	double gbs = grow_by_hand(S, fd);

	close(fd);
	return gbs;
}

/*
 * The durable writes a grow makes on a page-granular backing, by hand:
 * msync of the header page after fallocate (commits the allocation), then
 * for each of the two header copies pwrite 512 B + msync of its page.
 * Returns microseconds per grow.
 */
static double
grow_durability(int n)
{
	double *v = samples_alloc(n);
	char hdr[512], *area;
	double med;
	int fd;

	fd = scratch_open();
	area = mmap(NULL, STEP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (area == MAP_FAILED)
		SYS_FAIL("mmap scratch header area");
	memset(hdr, 0x42, sizeof(hdr));
	for (int i = 0; i < n; i++) {
		uint64_t t0, t1;

		scratch_extend(fd, (off_t)(STEP + (uint64_t)(i % 16) * STEP));
		t0 = now_ns();
		if (msync(area, 4096, MS_SYNC))
			SYS_FAIL("msync scratch header");
		for (int c = 1; c >= 0; c--) {
			hdr[0] = (char)i;
			if (pwrite(fd, hdr, sizeof(hdr), (off_t)c * 4096) != (ssize_t)sizeof(hdr))
				SYS_FAIL("pwrite scratch header");
			if (msync(area + c * 4096, 4096, MS_SYNC))
				SYS_FAIL("msync scratch header");
		}
		t1 = now_ns();
		v[i] = (double)(t1 - t0) / 1e3;
	}
	munmap(area, STEP);
	close(fd);
	med = median(v, n);
	free(v);
	return med;
}

/* pbrk from 0 to S in 2 MiB steps, and if c >= 0 a memset of each new
 * 2 MiB with c right after its grow: GB/s */
static double
grow_pheap(uint64_t S, int c)
{
	uint64_t t0, t1;
	char *p;

	heap_attach();
	heap_set(0);
	p = pheap_base();
	t0 = now_ns();
	for (uint64_t k = 0; k < S / STEP; k++) {
		heap_set((k + 1) * STEP);
		if (c >= 0)
			memset(p + k * STEP, c, STEP);
	}
	t1 = now_ns();
	heap_detach();	/* untimed: writes the grown heap back */
	return (double)S / (double)(t1 - t0);
}

/*
 * The anonymous counterpart of 2e: in an aligned PROT_NONE reservation of
 * S bytes, per 2 MiB step mmap(MAP_FIXED) read-write, madvise(advice)
 * before populating (MADV_HUGEPAGE, or MADV_NOHUGEPAGE for 4 KiB pages
 * whatever the THP setting), MADV_POPULATE_WRITE, then memset of the step
 * with c.  Returns GB/s; *pct gets the share mapped with 2 MiB pages.
 */
static double
grow_write_anon(uint64_t S, int advice, int c, double *pct)
{
	char *raw, *a;
	uint64_t t0, t1;

	raw = mmap(NULL, S + STEP, PROT_NONE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		SYS_FAIL("mmap anonymous reservation");
	/* anonymous THP needs 2 MiB-aligned ranges */
	a = (char *)(((uintptr_t)raw + STEP - 1) & ~(uintptr_t)(STEP - 1));
	t0 = now_ns();
	for (uint64_t k = 0; k < S / STEP; k++) {
		char *p = mmap(a + k * STEP, STEP, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		if (p == MAP_FAILED)
			SYS_FAIL("mmap anonymous 2 MiB");
		(void)madvise(p, STEP, advice);	/* advice: the share says */
		populate(p, STEP, 1);
		memset(p, c, STEP);
	}
	t1 = now_ns();
	*pct = huge_pct(smaps_huge(a, a + S));
	munmap(raw, S + STEP);
	return (double)S / (double)(t1 - t0);
}

/* 2e's three, in an order that alternates with the repetition i */
static void
grow_write_round(double *v[NT], int i, uint64_t S)
{
	double unused;

	if (i & 1)
		v[GWTHP][i] = grow_write_anon(S, MADV_HUGEPAGE, i + 5, &v[THP_PCT][i]);
	v[GW][i] = grow_pheap(S, i + 3);
	v[GW4K][i] = grow_write_anon(S, MADV_NOHUGEPAGE, i + 4, &unused);
	if (!(i & 1))
		v[GWTHP][i] = grow_write_anon(S, MADV_HUGEPAGE, i + 5, &v[THP_PCT][i]);
}

/* memset of the populated mapping p of S bytes, c in every byte: GB/s */
static double
memset_rate(char *p, uint64_t S, int c)
{
	uint64_t t0, t1;

	t0 = now_ns();
	memset(p, c, S);
	t1 = now_ns();
	if (msync(p, S, MS_SYNC))	/* untimed: no dirty backlog */
		SYS_FAIL("msync baseline file");
	return (double)S / (double)(t1 - t0);
}

static void
fig2_rows(double *v[NT], int R, const char *hs)
{
	double g = median(v[GROW], R), f = median(v[FLOOR], R), d = median(v[DUR], R);
	double grow_us = (double)STEP / g / 1e3, floor_us = (double)STEP / f / 1e3;
	struct row *r;

	r = add_row("2", "GB/s", 3, g, "pbrk grow to %s in 2 MiB steps (info)", hs);
	set_base(r, median(v[MEMSET], R), "memset, populated mapping, same fs");
	r = add_row("2a", "GB/s", 3, g, "  same, against the kernel floor");
	set_base(r, f, "ftruncate+fallocate+mmap+POPULATE_WRITE");
	r = add_row("2b", "GB/s", 3, median(v[ANON], R),
		"  anonymous mmap+POPULATE_WRITE, 2 MiB steps (info)");
	set_base(r, median(v[MEMSET], R), "memset, populated mapping, same fs");
	r = add_row("2c", "us", 0, grow_us, "  one pbrk grow of 2 MiB");
	set_base(r, floor_us, "kernel floor for 2 MiB (as 2a)");
	r = add_row("2d", "us", 0, d, "  durability: msync after fallocate + 2 hdr copies");
	set_base(r, grow_us, "one pbrk grow of 2 MiB (2c)");
	add_note("2d: the header durability of one grow (3 msync round trips on "
		"this backing) costs %.0f us, %.0f%% of a %.0f us grow; the kernel "
		"floor (2a) for the same 2 MiB is %.0f us", d, 100.0 * d / grow_us,
		grow_us, floor_us);
}

/* 2e: against the faster of the two anonymous variants */
static void
fig2e_row(double *v[NT], int R, const char *hs)
{
	double a4 = median(v[GW4K], R), ah = median(v[GWTHP], R);
	struct row *r;

	r = add_row("2e", "GB/s", 3, median(v[GW], R),
		"  pbrk grow + one write pass, 2 MiB steps to %s", hs);
	set_base(r, a4 > ah ? a4 : ah, a4 > ah ?
		"anon mmap+POPULATE_WRITE+memset, 4 KiB pages" :
		"anon mmap+POPULATE_WRITE+memset, MADV_HUGEPAGE");
	set_goal(r, G_RATIO_GE, 0.9, ">= 0.9x");
	add_note("2e baseline: the faster of anonymous 4 KiB pages, %.3f GB/s, "
		"and MADV_HUGEPAGE, %.3f GB/s (%.0f%% mapped with 2 MiB pages)",
		a4, ah, median(v[THP_PCT], R));
}

static void
fig2(void)
{
	uint64_t S = o.size;
	int R = o.reps;
	double *v[NT];
	char hs[32];
	char *p;

	for (int k = 0; k < NT; k++)
		v[k] = samples_alloc(R);
	progress("figure 2: pbrk grow to %s in 2 MiB steps", human(S, hs, sizeof(hs)));
	p = mmap(NULL, S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		base_fd, 0);
	if (p == MAP_FAILED)
		SYS_FAIL("mmap baseline file");
	memset(p, 1, S);	/* populated, writable, dirty: no faults left */
	for (int i = 0; i < R; i++) {
		/* alternate the order: writeback of one must not favour the other */
		if (i & 1)
			v[FLOOR][i] = grow_floor_file(S);
		v[GROW][i] = grow_pheap(S, -1);
		if (!(i & 1))
			v[FLOOR][i] = grow_floor_file(S);
		v[MEMSET][i] = memset_rate(p, S, i + 2);
		v[ANON][i] = grow_by_hand(S, -1);
		v[DUR][i] = grow_durability(o.quick ? 4 : 32);
		grow_write_round(v, i, S);
	}
	munmap(p, S);
	fig2_rows(v, R, hs);
	fig2e_row(v, R, hs);
	for (int k = 0; k < NT; k++)
		free(v[k]);
}

const struct figure fig2_grow = {
	.num = 2, .name = "grow", .run = fig2,
	.desc = "pbrk grow in 2 MiB steps (GB/s) vs memset into a populated mapping",
};
