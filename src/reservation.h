/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reservation.h -- a pheap's address range in this process, at the fixed
 * base, its mapping grown and shrunk with the break in whole units.
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
 * must stay open) in units of unit bytes (base and span are multiples of
 * it; data_off is the header area, one unit); -EEXIST if any page of it is
 * already mapped (that mapping is left alone).
 */
PHEAP_HIDDEN int rsv_new(struct rsv **r, uint64_t base, uint64_t span,
	int fd, uint64_t data_off, uint64_t unit, int rdonly);
/* maps [base, base + len rounded up to the unit) and unmaps beyond.  A
 * page that stays below the break is never touched (mapping, protection,
 * locking and advice stay as the application left them). */
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
/* after a grow from old to len bytes (mapped now) on storage that keeps
 * old contents (devdax): zeroes [old, len) durably, and all of every unit
 * the grow mapped anew -- its tail past len too */
PHEAP_HIDDEN void rsv_zero_grown(struct rsv *r, uint64_t old, uint64_t len);
/* zeroes durably the tail of a heap of len bytes (mapped now): the part of
 * [len, upto) below the next unit boundary; nothing with 2 MiB units */
PHEAP_HIDDEN void rsv_zero_tail(struct rsv *r, uint64_t len, uint64_t upto);
/* unmaps everything and gives the whole claimed range back */
PHEAP_HIDDEN void rsv_delete(struct rsv **r);

#endif
