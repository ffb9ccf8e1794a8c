/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reservation.c -- the pheap's address range in this process.
 *
 * Layout, from base:  [heap: pmem2 maps][placeholder page][guard ...]
 * The pmem2_vm_reservation covers the heap plus one placeholder page (so a
 * heap of size 0 still has a reservation: libpmem2 cannot shrink one to
 * nothing).  Beyond it, up to base + capacity + HDR_RSV_EXTRA, a PROT_NONE
 * guard mapping keeps the rest of the range ours, so that a grow made by
 * another process can always be followed here at the same address.
 *
 * libpmem2 1.12 reserves a hidden 2 MiB of slack after a new reservation
 * and its delete does not always give it back; it also extends into that
 * slack without mapping.  We therefore clear exactly the range an extend
 * will cover before calling it, fill any hole it leaves, and on delete
 * unmap the whole claimed range ourselves.
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

#define PAGE PHEAP_PAGE_SIZE

struct seg {
	struct pmem2_map *map;
	uint64_t off, len;	/* heap offset and length */
};

struct rsv {
	char *base;
	uint64_t claim;		/* bytes of address space owned from base */
	uint64_t data_off;	/* device offset of heap offset 0 */
	int rdonly;
	struct pmem2_source *src;
	struct pmem2_vm_reservation *pr;
	uint64_t len;		/* heap bytes mapped */
	struct seg *seg;
	size_t nseg, capseg;
	int dax;		/* -1 until the first map tells */
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

static int
populate(char *addr, uint64_t len, enum rsv_populate pop)
{
	int advice = pop == RSV_POPULATE_WRITE || pop == RSV_TRY_POPULATE_WRITE ?
		MADV_POPULATE_WRITE : MADV_POPULATE_READ;
	int must = pop == RSV_POPULATE_READ || pop == RSV_POPULATE_WRITE;

	if (madvise(addr, len, advice) == 0)
		return 0;
	if (!must)
		return 0;
	if (errno != EINVAL)
		return err_sys(errno, "populating %p+%#llx", (void *)addr,
			(unsigned long long)len);
	/* before Linux 5.14: read-fault every page */
	for (uint64_t o = 0; o < len; o += (uint64_t)sysconf(_SC_PAGESIZE))
		(void)*(volatile char *)(addr + o);
	return 0;
}

int
rsv_new(struct rsv **rp, uint64_t base, uint64_t span, int fd,
	uint64_t data_off, int rdonly)
{
	struct rsv *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return err_set(ENOMEM, "out of memory");
	r->base = (char *)(uintptr_t)base;
	r->claim = span + HDR_RSV_EXTRA;
	r->data_off = data_off;
	r->rdonly = rdonly;
	r->dax = -1;
	ret = guard(r->base, r->claim);
	if (ret) {
		if (ret == -EEXIST)
			ret = err_set(EEXIST, "address range %p-%p is already "
				"mapped in this process", (void *)r->base,
				(void *)(r->base + r->claim));
		else
			ret = err_sys(-ret, "reserving %p", (void *)r->base);
		free(r);
		return ret;
	}
	/* room for the reservation (one page) and its hidden slack */
	munmap(r->base, 2 * PAGE);
	ret = pmem2_vm_reservation_new(&r->pr, r->base, PAGE);
	if (ret) {
		ret = err_pmem2(ret, "pmem2_vm_reservation_new");
		goto fail;
	}
	ret = pmem2_source_from_fd(&r->src, fd);
	if (ret) {
		ret = err_pmem2(ret, "pmem2_source_from_fd");
		goto fail;
	}
	*rp = r;
	return 0;
fail:
	if (r->pr)
		pmem2_vm_reservation_delete(&r->pr);
	munmap(r->base, r->claim);
	free(r);
	return ret;
}

static int
map_range(struct rsv *r, uint64_t off, uint64_t len, enum rsv_populate pop)
{
	struct pmem2_config *cfg;
	struct pmem2_map *map = NULL;
	int ret;

	if (r->nseg == r->capseg) {
		size_t n = r->capseg ? 2 * r->capseg : 16;
		struct seg *s = realloc(r->seg, n * sizeof(*s));

		if (!s)
			return err_set(ENOMEM, "out of memory");
		r->seg = s;
		r->capseg = n;
	}
	ret = pmem2_config_new(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2_config_new");
	/* PAGE works everywhere; the map tells what we really got */
	pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	pmem2_config_set_offset(cfg, r->data_off + off);
	pmem2_config_set_length(cfg, len);
	pmem2_config_set_sharing(cfg, PMEM2_SHARED);
	pmem2_config_set_protection(cfg, r->rdonly ? PMEM2_PROT_READ :
		PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	ret = pmem2_config_set_vm_reservation(cfg, r->pr, off);
	if (ret == 0)
		ret = pmem2_map_new(&map, cfg, r->src);
	pmem2_config_delete(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2_map_new");
	if (r->dax < 0) {
		r->dax = pmem2_map_get_store_granularity(map) !=
			PMEM2_GRANULARITY_PAGE;
		r->persist = pmem2_get_persist_fn(map);
		r->memset = pmem2_get_memset_fn(map);
	}
	ret = populate(r->base + off, len, pop);
	if (ret) {
		pmem2_map_delete(&map);
		return ret;
	}
	r->seg[r->nseg++] = (struct seg){ map, off, len };
	return 0;
}

static int
grow(struct rsv *r, uint64_t nl, enum rsv_populate pop)
{
	char *tail = r->base + r->len + PAGE;
	uint64_t delta = nl - r->len;
	int ret;

	munmap(tail, delta);
	ret = pmem2_vm_reservation_extend(r->pr, delta);
	if (ret) {
		guard(tail, delta);
		return err_pmem2(ret, "pmem2_vm_reservation_extend");
	}
	guard(tail, delta);	/* fills the hole if pmem2 used its slack */
	ret = map_range(r, r->len, delta, pop);
	if (ret) {
		pmem2_vm_reservation_shrink(r->pr, r->len + PAGE, delta);
		guard(tail, delta);
		return ret;
	}
	r->len = nl;
	return 0;
}

static int
unmap_last(struct rsv *r)
{
	struct seg *s = &r->seg[r->nseg - 1];
	int ret = pmem2_map_delete(&s->map);

	if (ret)
		return err_pmem2(ret, "pmem2_map_delete");
	r->nseg--;
	return 0;
}

static int
shrink(struct rsv *r, uint64_t nl)
{
	int ret;

	while (r->nseg && r->seg[r->nseg - 1].off >= nl)
		if ((ret = unmap_last(r)))
			return ret;
	if (r->nseg) {
		struct seg *s = &r->seg[r->nseg - 1];

		if (s->off + s->len > nl) {
			uint64_t off = s->off;

			if ((ret = unmap_last(r)))
				return ret;
			/* the part below the break comes back at once */
			if ((ret = map_range(r, off, nl - off, RSV_POPULATE_READ)))
				return ret;
		}
	}
	ret = pmem2_vm_reservation_shrink(r->pr, nl + PAGE, r->len - nl);
	if (ret)
		return err_pmem2(ret, "pmem2_vm_reservation_shrink");
	guard(r->base + nl + PAGE, r->len - nl);
	r->len = nl;
	return 0;
}

int
rsv_set_len(struct rsv *r, uint64_t len, enum rsv_populate pop)
{
	if (len + HDR_RSV_EXTRA > r->claim)
		return err_set(ENOMEM, "break beyond the reserved range");
	if (len > r->len)
		return grow(r, len, pop);
	if (len < r->len)
		return shrink(r, len);
	return 0;
}

uint64_t
rsv_len(const struct rsv *r)
{
	return r->len;
}

int
rsv_is_dax(const struct rsv *r)
{
	return r->dax > 0;
}

int
rsv_persist(struct rsv *r, const void *addr, size_t len)
{
	if (len == 0 || r->dax < 0)
		return 0;
	if (r->dax) {
		r->persist(addr, len);
		return 0;
	}
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)addr & ~(pg - 1);

	if (msync((void *)start, (uintptr_t)addr + len - start, MS_SYNC))
		return err_sys(errno, "msync");
	return 0;
}

void
rsv_zero(struct rsv *r, uint64_t off, uint64_t len)
{
	/* non-temporal: a grown range is not about to be read back */
	if (len)
		r->memset(r->base + off, 0, len, PMEM2_F_MEM_NONTEMPORAL);
}

void
rsv_delete(struct rsv **rp)
{
	struct rsv *r = *rp;

	if (!r)
		return;
	while (r->nseg)
		if (unmap_last(r))
			break;
	if (r->pr)
		pmem2_vm_reservation_delete(&r->pr);
	if (r->src)
		pmem2_source_delete(&r->src);
	/* everything, including slack libpmem2 may have left behind */
	munmap(r->base, r->claim);
	free(r->seg);
	free(r);
	*rp = NULL;
}
