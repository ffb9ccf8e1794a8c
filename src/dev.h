/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dev.h -- a pheap's backing device: a file in a pool directory (DAX or
 * not), or a device-dax character device.  Owns the descriptor, the header
 * I/O and the storage under the break.
 */
#ifndef PHEAP_DEV_H
#define PHEAP_DEV_H

#include <limits.h>
#include <stdint.h>

#include "header.h"

struct pmem2_map;
struct pmem2_source;
struct stat;

struct dev {
	int fd;			/* O_CLOEXEC; O_RDWR unless rdonly */
	int rdonly;
	int devdax;		/* a device-dax character device */
	uint64_t size;		/* devdax: device size */
	char path[PATH_MAX];
	struct hdr_io io;	/* io.ctx points back here */
	void *area;		/* the header area, mapped (files: once attached) */
	uint64_t area_len;
	struct pmem2_source *src;	/* devdax: the area's mapping */
	struct pmem2_map *area_map;
};

/* opens path for a pheap; -EACCES, -ENOENT, -ENOTSUP, or -EUCLEAN for
 * anything that is neither a regular file nor a dax device */
PHEAP_HIDDEN int dev_open(struct dev *d, const char *path, int rdonly);
/* dev_open() of an open fd (taken over, closed on failure) */
PHEAP_HIDDEN int dev_init(struct dev *d, int fd, const char *path, int rdonly);
/* takes over a read-write fd of a file being created */
PHEAP_HIDDEN void dev_adopt(struct dev *d, int fd, const char *path);
/* a second open file description of the same device (own OFD locks) */
PHEAP_HIDDEN int dev_reopen(const struct dev *d, int rdonly);
PHEAP_HIDDEN void dev_close(struct dev *d);
/* maps the header area (shared, read-only if the device is) */
PHEAP_HIDDEN int dev_map_area(struct dev *d);
/* checks that the device holds [0, data_off + brk): -EUCLEAN if not */
PHEAP_HIDDEN int dev_check_size(const struct dev *d, const struct hdr *h);
/* -EIO if bad blocks lie in [data_off, data_off + brk) (devdax) */
PHEAP_HIDDEN int dev_check_badblocks(const struct dev *d, const struct hdr *h);
/* the unsafe shutdown count of the DIMMs under the device; -ENOTSUP if
 * libpmem2 cannot tell (no NVDIMM, or no health data) */
PHEAP_HIDDEN int dev_usc(const struct dev *d, uint64_t *usc);
/* PHEAP_BACKEND_* of d; dax_mapped: the heap's mapping is DAX */
PHEAP_HIDDEN int dev_kind(const struct dev *d, int dax_mapped);
/* capacity now: the header's, capped by free space for files */
PHEAP_HIDDEN uint64_t dev_capacity(const struct dev *d, const struct hdr *h);
/* makes [old, new) of the heap allocated and zero; -ENOMEM if full.
 * A devdax range is zeroed by the caller once mapped (rsv_zero). */
PHEAP_HIDDEN int dev_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk);
/* releases the storage beyond brk (nothing maps it any more) */
PHEAP_HIDDEN int dev_trim(struct dev *d, const struct hdr *h, uint64_t brk);
/* 1 if dev_grow hands out zeroed storage; 0: the caller zeroes a grown
 * range once mapped (rsv_zero) */
PHEAP_HIDDEN int dev_grow_zeroed(const struct dev *d);
/* makes the mode and owner just given to d's file durable (if they can be) */
PHEAP_HIDDEN int dev_sync_mode(struct dev *d);
/* 1 if the header, not the node, names the owner (sb: d's fstat) */
PHEAP_HIDDEN int dev_owner_in_header(const struct dev *d,
	const struct stat *sb);
/* 1 if the file st describes is a backing by itself (a device holding at
 * most one pheap), not a file in a pool directory */
PHEAP_HIDDEN int dev_is_standalone(const struct stat *st);
/* undoes the creation of the pheap at path (st: its stat), which could
 * not be attached: a file goes, a device is left formatted and free */
PHEAP_HIDDEN int dev_discard(const char *path, const struct stat *st);

#endif
