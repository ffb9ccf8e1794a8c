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
/* a file on a DAX file system (statx) */
PHEAP_HIDDEN int dev_is_fsdax(const struct dev *d);
/* capacity now: the header's, capped by free space for files */
PHEAP_HIDDEN uint64_t dev_capacity(const struct dev *d, const struct hdr *h);
/* makes [old, new) of the heap allocated and zero; -ENOMEM if full.
 * A devdax range is zeroed by the caller once mapped (rsv_zero). */
PHEAP_HIDDEN int dev_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk);
/* releases the storage beyond brk (nothing maps it any more) */
PHEAP_HIDDEN int dev_trim(struct dev *d, const struct hdr *h, uint64_t brk);

#endif
