/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reservation.c -- the pheap's address range in this process.
 *
 * Layout, from base:  [heap: file mapping][PROT_NONE placeholder ...]
 * At attach one anonymous PROT_NONE mapping made with MAP_FIXED_NOREPLACE
 * claims [base, base + capacity + HDR_RSV_EXTRA) -- atomically, so an
 * address already in use gives -EEXIST and is left untouched -- and the
 * library owns that range until detach: a grow made by another process can
 * always be followed here at the same address.
 *
 * The invariant of this module: memory below the break never disappears.
 * A grow maps the file over the placeholder pages of [len, new) with one
 * mmap(MAP_FIXED); a shrink puts placeholder pages back over [new, len)
 * only, with one mmap(MAP_FIXED); the kernel replaces a range atomically
 * under the mm's lock.  Neither ever unmaps, remaps or changes the
 * protection of a page that stays below the break, so what the application
 * did to that range (mprotect, mlock, madvise) survives every break change,
 * and another thread touching it never faults.
 *
 * On the page cache, each grown range is advised MADV_HUGEPAGE: the file's
 * folios are then 2 MiB and mapped by PMDs, in every process that maps
 * them -- first writes run at memory speed instead of a fault per 4 KiB,
 * and write-back only write-protects a PMD, it does not split it.
 *
 * Units.  The backing is mapped in units (rsv_new's unit): 2 MiB, or the
 * 1 GiB of a device-dax device aligned so, which the kernel maps only in
 * whole units -- an mmap of less than one, a munmap or mprotect that would
 * split one fail with EINVAL, an mmap MAP_FIXED over part of one with
 * ENOMEM (measured: tests/test_devdax.c).  So what is mapped is
 * [base, end), end = the break rounded up to the unit: the heap, and on a
 * 1 GiB device the tail, the last unit's part past the break, mapped like
 * the heap (readable, and writable if the heap is).  The tail is not heap:
 * it reads as zero -- a grow zeroes whatever it maps anew, whole units
 * (rsv_zero_grown), and a shrink the part of the old heap left in the
 * tail (rsv_zero_tail) -- and nothing written there is kept: a grow zeroes
 * a range of the tail before it becomes heap.  The invariant above holds
 * unit by unit: a grow maps only units past the old end, a shrink replaces
 * only units past the new end, and pages below the break stay untouched.
 *
 * libpmem2 is used for what it knows: the store granularity, and the
 * persist and memset functions for it, from a probe mapping of the header
 * area of the same file.  Not for the heap's mappings: deleting a pmem2_map
 * unmaps all of it (a map cannot be split); the pmem2_vm_reservation of
 * libpmem2 1.12 maps alignment slack beyond the size asked (about 2 GiB for
 * a large reservation) that it leaves behind after delete; and describing
 * ranges with pmem2_map_from_existing leaks two allocations per map and
 * delete in 1.12.  The heap is mapped the way pmem2_map_new maps it:
 * MAP_SHARED_VALIDATE | MAP_SYNC where the file is DAX.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libpmem2.h>

#include "pheap.h"
#include "header.h"
#include "reservation.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

#define PAGE PHEAP_PAGE_SIZE

struct rsv {
	char *base;
	uint64_t claim;		/* bytes of address space owned from base */
	uint64_t span;		/* the largest heap (capacity) */
	uint64_t data_off;	/* device offset of heap offset 0 */
	uint64_t unit;		/* mapped in multiples of this (a power of 2) */
	int fd;
	int rdonly;
	int sync_flags;		/* MAP_SHARED_VALIDATE | MAP_SYNC, or 0 */
	enum pmem2_granularity gran;
	struct pmem2_source *src;
	int claimed;
	uint64_t len;		/* heap bytes (the break); mapped up to
				 * unit_end(len) */
	pmem2_persist_fn persist;
	pmem2_memset_fn memset;
};

/* PROT_NONE placeholder; MAP_FIXED_NOREPLACE never clobbers anything */
static int
guard(char *addr, uint64_t len)
{
	void *p = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	if (p != addr) {	/* kernel older than 4.17 ignored the flag */
		munmap(p, len);
		return -EEXIST;
	}
	return 0;
}

/* PROT_NONE over [addr, addr + len), replacing what is there atomically */
static int
placeholder(char *addr, uint64_t len)
{
	if (mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return err_sys(errno, "unmapping %p+%#llx", (void *)addr,
			(unsigned long long)len);
	return 0;
}

int
rsv_populate(struct rsv *r, uint64_t off, uint64_t len, enum rsv_populate pop)
{
	char *addr = r->base + off;
	int advice = pop == RSV_POPULATE_WRITE || pop == RSV_TRY_POPULATE_WRITE ?
		MADV_POPULATE_WRITE : MADV_POPULATE_READ;
	int must = pop == RSV_POPULATE_READ || pop == RSV_POPULATE_WRITE;

	if (madvise(addr, len, advice) == 0)
		return 0;
	if (!must)
		return 0;
	/* a page the file system could not give us: it is full */
	if (errno == EFAULT && advice == MADV_POPULATE_WRITE)
		return err_set(ENOMEM, "no storage for %p+%#llx (file system "
			"full?)", (void *)addr, (unsigned long long)len);
	if (errno != EINVAL)
		return err_sys(errno, "populating %p+%#llx", (void *)addr,
			(unsigned long long)len);
	/* before Linux 5.14: read-fault every page */
	for (uint64_t o = 0; o < len; o += (uint64_t)sysconf(_SC_PAGESIZE))
		(void)*(volatile char *)(addr + o);
	return 0;
}

/* libpmem2's store granularity for this file: map its header area (one
 * unit) once */
static int
probe_granularity(struct rsv *r)
{
	struct pmem2_config *cfg;
	struct pmem2_map *map = NULL;
	int ret = pmem2_config_new(&cfg);

	if (ret)
		return err_pmem2(ret, "pmem2_config_new");
	pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	pmem2_config_set_length(cfg, r->unit);
	pmem2_config_set_sharing(cfg, PMEM2_SHARED);
	pmem2_config_set_protection(cfg, PMEM2_PROT_READ);
	ret = pmem2_map_new(&map, cfg, r->src);
	pmem2_config_delete(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2_map_new (header area)");
	r->gran = pmem2_map_get_store_granularity(map);
	r->persist = pmem2_get_persist_fn(map);
	r->memset = pmem2_get_memset_fn(map);
	pmem2_map_delete(&map);
	/* what pmem2_map_new does: a DAX file is mapped MAP_SYNC */
	r->sync_flags = r->gran == PMEM2_GRANULARITY_PAGE ? 0 :
		MAP_SHARED_VALIDATE | MAP_SYNC;
	return 0;
}

/* claims [base, base + claim) */
static int
claim(struct rsv *r)
{
	int ret = guard(r->base, r->claim);

	if (ret == -EEXIST)
		return err_set(EEXIST, "address range %p-%p is already mapped "
			"in this process", (void *)r->base,
			(void *)(r->base + r->claim));
	if (ret)
		return err_sys(-ret, "reserving %p", (void *)r->base);
	r->claimed = 1;
	return 0;
}

int
rsv_new(struct rsv **rp, uint64_t base, uint64_t span, int fd,
	uint64_t data_off, uint64_t unit, int rdonly)
{
	struct rsv *r;
	int ret;

	/* hdr_validate holds them to it: whole units stay inside the claim */
	if (!unit || (unit & (unit - 1)) || ((base | span) & (unit - 1)))
		return err_set(EINVAL, "heap %#llx+%#llx is not in units of %#llx",
			(unsigned long long)base, (unsigned long long)span,
			(unsigned long long)unit);
	r = calloc(1, sizeof(*r));
	if (!r)
		return err_set(ENOMEM, "out of memory");
	r->base = (char *)(uintptr_t)base;
	r->span = span;
	r->claim = span + HDR_RSV_EXTRA;
	r->data_off = data_off;
	r->unit = unit;
	r->fd = fd;
	r->rdonly = rdonly;
	ret = pmem2_source_from_fd(&r->src, fd);
	if (ret) {
		ret = err_pmem2(ret, "pmem2_source_from_fd");
		free(r);
		return ret;
	}
	ret = probe_granularity(r);
	if (ret == 0)
		ret = claim(r);
	if (ret) {
		pmem2_source_delete(&r->src);
		free(r);
		return ret;
	}
	*rp = r;
	return 0;
}

/* maps the file over the placeholder pages of [off, off + len) */
static int
map_range(struct rsv *r, uint64_t off, uint64_t len)
{
	int prot = r->rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = (r->sync_flags ? r->sync_flags : MAP_SHARED) | MAP_FIXED;
	void *p = mmap(r->base + off, len, prot, flags, r->fd,
		(off_t)(r->data_off + off));

	if (p == MAP_FAILED)
		return err_sys(errno, "mapping %p+%#llx", (void *)(r->base + off),
			(unsigned long long)len);
	/* the page cache: ask for 2 MiB folios, mapped by PMDs (DAX maps
	 * its 2 MiB extents so by itself); merely advice */
	if (r->gran == PMEM2_GRANULARITY_PAGE)
		(void)madvise(p, len, MADV_HUGEPAGE);
	return 0;
}

/* where the mapping of a heap of len bytes ends: len rounded up to a unit */
static uint64_t
unit_end(const struct rsv *r, uint64_t len)
{
	return (len + r->unit - 1) & ~(r->unit - 1);
}

int
rsv_set_len(struct rsv *r, uint64_t len)
{
	uint64_t have = unit_end(r, r->len), want = unit_end(r, len);
	int ret = 0;

	if (len > r->span)
		return err_set(ENOMEM, "break beyond the reserved range");
	/* whole units only: nothing below the break (nor the tail that
	 * stays) is unmapped, remapped or reprotected */
	if (want > have)
		ret = map_range(r, have, want - have);
	else if (want < have)
		ret = placeholder(r->base + want, have - want);
	if (ret == 0)
		r->len = len;
	return ret;
}

uint64_t
rsv_len(const struct rsv *r)
{
	return r->len;
}

int
rsv_is_dax(const struct rsv *r)
{
	return r->gran != PMEM2_GRANULARITY_PAGE;
}

int
rsv_persist(struct rsv *r, const void *addr, size_t len)
{
	if (len == 0)
		return 0;
	if (rsv_is_dax(r)) {
		r->persist(addr, len);
		return 0;
	}
	return rsv_msync(addr, len);
}

int
rsv_msync(const void *addr, size_t len)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(pg - 1);

	if (len && msync((void *)start, (uintptr_t)addr + len - start, MS_SYNC))
		return err_sys(errno, "msync");
	return 0;
}

static void
zero(struct rsv *r, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	TH_POINT("rsv.zero");
	/* non-temporal: a grown range is not about to be read back */
	r->memset(r->base + off, 0, len, PMEM2_F_MEM_NONTEMPORAL);
}

void
rsv_zero_grown(struct rsv *r, uint64_t old, uint64_t len)
{
	uint64_t end = unit_end(r, len);

	/* units mapped anew show all they hold: the tail past len too */
	zero(r, old, (end > unit_end(r, old) ? end : len) - old);
}

void
rsv_zero_tail(struct rsv *r, uint64_t len, uint64_t upto)
{
	uint64_t end = unit_end(r, len);

	zero(r, len, (upto < end ? upto : end) - len);
}

void
rsv_delete(struct rsv **rp)
{
	struct rsv *r = *rp;

	if (!r)
		return;
	if (r->src)
		pmem2_source_delete(&r->src);
	if (r->claimed)
		munmap(r->base, r->claim);
	free(r);
	*rp = NULL;
}
