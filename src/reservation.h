/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reservation.h -- a pheap's address range in this process: a
 * pmem2_vm_reservation at the fixed base, grown and shrunk with the break.
 */
#ifndef PHEAP_RESERVATION_H
#define PHEAP_RESERVATION_H

#include <stdint.h>

#include "errmsg.h"

struct rsv;

enum rsv_populate {
	RSV_POPULATE_READ,
	RSV_POPULATE_WRITE,
	/* as WRITE, READ; a failure to populate is not an error: a process
	 * following another's grow must map the range even under memory
	 * pressure, the page tables are only an optimisation there */
	RSV_TRY_POPULATE_WRITE,
	RSV_TRY_POPULATE_READ,
};

/*
 * Claims [base, base + span + HDR_RSV_EXTRA) of the address space for a heap
 * of at most span bytes, mapped from device offset data_off of fd (which
 * must stay open); -EEXIST if any page of it is already mapped (that mapping
 * is left alone).
 */
PHEAP_HIDDEN int rsv_new(struct rsv **r, uint64_t base, uint64_t span,
	int fd, uint64_t data_off, int rdonly);
/* maps [base, base + len) and unmaps beyond.  A page that stays below the
 * break is never touched (mapping, protection, locking and advice stay as
 * the application left them). */
PHEAP_HIDDEN int rsv_set_len(struct rsv *r, uint64_t len);
/* gives [off, off + len) of the heap its page-table entries; the TRY
 * variants ignore failures (and a range unmapped meanwhile) */
PHEAP_HIDDEN int rsv_populate(struct rsv *r, uint64_t off, uint64_t len,
	enum rsv_populate pop);
PHEAP_HIDDEN uint64_t rsv_len(const struct rsv *r);
/* 1 if the mapping is DAX (cache-line or byte store granularity) */
PHEAP_HIDDEN int rsv_is_dax(const struct rsv *r);
/* makes stores to [addr, addr + len) durable; the range must be mapped */
PHEAP_HIDDEN int rsv_persist(struct rsv *r, const void *addr, size_t len);
/* msync of the pages holding [addr, addr + len): safe on any address */
PHEAP_HIDDEN int rsv_msync(const void *addr, size_t len);
/* zeroes [off, off + len) of the mapped heap durably (devdax grows) */
PHEAP_HIDDEN void rsv_zero(struct rsv *r, uint64_t off, uint64_t len);
/* unmaps everything and gives the whole claimed range back */
PHEAP_HIDDEN void rsv_delete(struct rsv **r);

#endif
