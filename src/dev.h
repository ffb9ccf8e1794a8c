/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dev.h -- a pheap's backing: a file in a pool directory (DAX or not), or
 * a device-dax character device.  Owns the descriptor, the header I/O and
 * the storage under the break.  What differs between backings is the
 * backend's (backend.h: one ops table per kind, chosen at open); the
 * functions here are the same for all and never tell which one is open.
 */
#ifndef PHEAP_DEV_H
#define PHEAP_DEV_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "header.h"

struct backend_ops;
struct stat;

struct dev {
	int fd;			/* O_CLOEXEC; O_RDWR unless rdonly */
	int rdonly;
	const struct backend_ops *ops;	/* chosen once, at open, by the fstat */
	void *priv;		/* the backend's own state, or NULL */
	char path[PATH_MAX];
	struct hdr_io io;	/* io.ctx points back here */
	void *area;		/* the header area, mapped (files: once attached) */
	uint64_t area_len;
};

/* opens path for a pheap; -EACCES, -ENOENT, -ENOTSUP, or -EUCLEAN for
 * anything no backend serves (neither a regular file nor a dax device) */
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
/* -EIO if known bad blocks lie in [data_off, data_off + brk) */
PHEAP_HIDDEN int dev_check_badblocks(const struct dev *d, const struct hdr *h);
/* the unsafe shutdown count of the DIMMs under the device; -ENOTSUP if
 * libpmem2 cannot tell (no NVDIMM, or no health data) */
PHEAP_HIDDEN int dev_usc(const struct dev *d, uint64_t *usc);
/* PHEAP_BACKEND_* of d; dax_mapped: the heap's mapping is DAX */
PHEAP_HIDDEN int dev_kind(const struct dev *d, int dax_mapped);
/* capacity now: the header's, capped by what the backing can allocate
 * (a file's free space) */
PHEAP_HIDDEN uint64_t dev_capacity(const struct dev *d, const struct hdr *h);
/* makes [old, new) of the heap allocated; -ENOMEM if full.  Zero unless
 * dev_grow_zeroed() says the caller must zero it once mapped. */
PHEAP_HIDDEN int dev_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk);
/* releases the storage beyond brk (nothing maps it any more) */
PHEAP_HIDDEN int dev_trim(struct dev *d, const struct hdr *h, uint64_t brk);
/* 1 if d holds storage beyond the break h names (what dev_trim releases) */
PHEAP_HIDDEN int dev_beyond(const struct dev *d, const struct hdr *h);
/* the heap's bytes at device offset off, through system calls (or, on
 * device-dax, a copy that survives poison): never a signal.  The bytes
 * read (fewer only where a shrunk file ends), or written and durable; or
 * -errno with a message (-EIO: a bad block) */
PHEAP_HIDDEN ssize_t dev_data_read(const struct dev *d, uint64_t off,
	void *buf, size_t len);
PHEAP_HIDDEN ssize_t dev_data_write(struct dev *d, uint64_t off,
	const void *buf, size_t len);
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
