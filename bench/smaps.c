/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * smaps.c -- how much of an address range this process has mapped with
 * 2 MiB pages, from /proc/self/smaps.  For every VMA that meets the range:
 * its Rss, and the part of it that is PMD-mapped -- FilePmdMapped (page
 * cache), AnonHugePages (anonymous memory), ShmemPmdMapped (shmem) -- or
 * all of it where KernelPageSize is 2 MiB or more (device-dax, whose VMAs
 * have the device's page size).  smaps counts a whole VMA, so the range
 * should be made of whole VMAs.  fsdax PMD mappings appear in none of
 * these fields: a range on fsdax reads 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* one VMA's fields, in KiB */
struct vma_kib {
	int meets;		/* the VMA meets the range */
	uint64_t rss, pmd, kps;
};

/* adds the VMA v to the sums (bytes) and forgets it */
static void
vma_flush(struct vma_kib *v, struct huge_share *s)
{
	if (v->meets) {
		uint64_t huge = v->kps >= 2048 ? v->rss : v->pmd;

		s->rss += v->rss * KiB;
		s->huge += (huge < v->rss ? huge : v->rss) * KiB;
	}
	memset(v, 0, sizeof(*v));
}

/* one field line "Key:   123 kB" of the current VMA */
static void
vma_field(struct vma_kib *v, const char *line)
{
	static const char *const pmd_keys[] = {
		"FilePmdMapped", "AnonHugePages", "ShmemPmdMapped",
	};
	char key[32];
	unsigned long long kib;

	if (sscanf(line, "%31[^:]: %llu", key, &kib) != 2)
		return;
	if (strcmp(key, "Rss") == 0)
		v->rss = kib;
	else if (strcmp(key, "KernelPageSize") == 0)
		v->kps = kib;
	for (size_t i = 0; i < sizeof(pmd_keys) / sizeof(pmd_keys[0]); i++)
		if (strcmp(key, pmd_keys[i]) == 0)
			v->pmd += kib;
}

/* the resident and the PMD-mapped bytes of the VMAs that meet [lo, hi) */
struct huge_share
smaps_huge(const void *lo, const void *hi)
{
	struct huge_share s = { 0, 0 };
	struct vma_kib v = { 0, 0, 0, 0 };
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[PATH_MAX + 256];
	int whole = 1;		/* line starts a line of the file */

	if (!f)
		SYS_FAIL("open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		int start = whole;
		unsigned long long a, b;

		whole = strchr(line, '\n') != NULL;
		if (!start)
			continue;	/* the rest of a long path */
		/* "start-end perms ...": a VMA; "Key: n kB": one of its fields */
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2) {
			vma_flush(&v, &s);
			v.meets = a < (uintptr_t)hi && b > (uintptr_t)lo;
		} else {
			vma_field(&v, line);
		}
	}
	vma_flush(&v, &s);
	fclose(f);
	return s;
}

/* the share in percent; NaN if nothing is resident */
double
huge_pct(struct huge_share s)
{
	return s.rss ? 100.0 * (double)s.huge / (double)s.rss : NAN;
}
