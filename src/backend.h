/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend.h -- what a kind of backing does for a pheap: one ops table per
 * backend (backend_file.c, backend_devdax.c), chosen once per open from
 * the fstat of the descriptor (dev.c: dev_init).  Nothing outside dev.c
 * and the backends sees this header: the rest of the library calls the
 * dev_*() functions of dev.h, which dispatch here, and never asks which
 * backend it holds.
 *
 * Invariants every backend keeps (the library's crash reasoning rests on
 * them):
 *  - hdr_write returns only once the bytes are durable, and with them what
 *    the backing's size is (header.c writes one copy durably, then
 *    mirrors it with hdr_write_lazy, if any);
 *  - grow makes [old, new_brk) allocatable and zero; the header write
 *    that names the new break makes it durable, and a header naming more
 *    than size() is not believed (header.c); the backing being full
 *    gives -ENOMEM from grow or from the populate that follows it in the
 *    grower (never SIGBUS later);
 *  - trim is called only when nothing maps beyond brk any more, and a
 *    crash at any point of it leaves a backing that still holds the
 *    durable break (check_size);
 *  - nothing here ever writes heap bytes below the durable break.
 *
 * A new backend is one file defining one table, and one line in dev.c's
 * list (most specific first: the first whose probe says yes serves).
 */
#ifndef PHEAP_BACKEND_H
#define PHEAP_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "dev.h"

struct backend_ops {
	const char *name;	/* for messages and tests: "file", "devdax" */
	/* the backing is a pool entry by itself (a device): it holds at most
	 * one pheap, found by its header, exists before and after it, and
	 * is made usable by pheap_format_device() (a "free" header) */
	int standalone;
	/* grow hands out zero-filled storage; if 0 the storage keeps what an
	 * earlier, larger heap wrote, and the caller zeroes a grown range
	 * once it is mapped (rsv_zero) */
	int grow_zeroed;

	/* 1 if this backend serves a file of this type (from fstat or stat) */
	int (*probe)(const struct stat *st);
	/* sets d up for the open fd (d->fd, rdonly and path are set):
	 * d->io.lim's capacity and data offset (allow_free is standalone),
	 * d->priv, whatever must be mapped at open.  0 or -errno with a
	 * message; on failure the caller calls close */
	int (*open)(struct dev *d, const struct stat *st);
	/* releases what open and map_area took; the fd is not the backend's.
	 * Safe on a half-opened d, and twice */
	void (*close)(struct dev *d);
	/* the header's I/O (struct hdr_io; ctx is the struct dev) */
	int (*hdr_read)(void *ctx, uint64_t off, void *buf, size_t len);
	int (*hdr_write)(void *ctx, uint64_t off, const void *buf, size_t len);
	/* optional: written, durable later (NULL: hdr_write) */
	int (*hdr_write_lazy)(void *ctx, uint64_t off, const void *buf,
		size_t len);
	/* optional: the backing's size in bytes now (NULL: fixed) */
	uint64_t (*size)(void *ctx);
	/* maps the header area (shared, read-only if d is) to d->area */
	int (*map_area)(struct dev *d);
	/* the heap's capacity now: h->capacity, capped by what the backing
	 * can still allocate */
	uint64_t (*capacity)(const struct dev *d, const struct hdr *h);
	/* PHEAP_BACKEND_* of d; dax_mapped: the heap's mapping is DAX */
	int (*kind)(const struct dev *d, int dax_mapped);
	/* undoes a creation that could not be attached: the pheap at path,
	 * closed, goes; a standalone backing stays, free again */
	int (*discard)(const char *path);

	/* the heap's bytes without mapping them (offline.c: pheap_pread(3)
	 * and co.); off is a device offset, and the range lies in
	 * [data_off, data_off + capacity): nothing beyond the backing's end
	 * unless a file shrank meanwhile */
	/* reads [off, off + len) into buf: the bytes read -- fewer only
	 * where the backing ends, or an error stopped it after some --, or
	 * -errno with a message; a bad block (poison) is -EIO, never a
	 * signal */
	ssize_t (*data_read)(const struct dev *d, uint64_t off, void *buf,
		size_t len);
	/* writes buf to [off, off + len), durably when it returns: len, or
	 * fewer if an error stopped it after some bytes, or -errno; never a
	 * signal.  It may extend a file (a shrink may have freed the range
	 * meanwhile): the caller puts that right (offline.c) */
	ssize_t (*data_write)(struct dev *d, uint64_t off, const void *buf,
		size_t len);

	/* optional: NULL means what each comment says */
	/* -EUCLEAN if d does not hold [0, data_off + brk).  NULL: a fixed
	 * size, to which hdr_validate held the capacity */
	int (*check_size)(const struct dev *d, const struct hdr *h);
	/* makes [old, new_brk) of the heap allocated (see grow_zeroed);
	 * -ENOMEM if full.  NULL: fixed storage, all of it always there */
	int (*grow)(struct dev *d, const struct hdr *h, uint64_t old,
		uint64_t new_brk);
	/* releases the storage beyond brk.  NULL: fixed storage, kept */
	int (*trim)(struct dev *d, const struct hdr *h, uint64_t brk);
	/* 1 if d holds storage beyond [0, data_off + h->brk) that trim would
	 * release.  NULL: fixed storage (trim is NULL too) */
	int (*beyond)(const struct dev *d, const struct hdr *h);
	/* makes the file's mode and owner, just changed, durable.  NULL:
	 * nothing can (a device node's live in devtmpfs; attach re-applies
	 * the header's) */
	int (*sync_mode)(struct dev *d);
	/* the unsafe shutdown count under d; -ENOTSUP if unknown.  NULL:
	 * never known (no persistent memory under it) */
	int (*usc)(const struct dev *d, uint64_t *usc);
	/* -EIO (dev_badblock_in_heap) if a known bad range lies in the
	 * heap.  NULL: none can be known */
	int (*badblocks)(const struct dev *d, const struct hdr *h);
	/* 1 if the header, not the node, names the owner of a backing whose
	 * fstat is sb.  NULL: the file's owner is always the owner */
	int (*header_owner)(const struct stat *sb);
};

PHEAP_HIDDEN extern const struct backend_ops backend_file_ops;
PHEAP_HIDDEN extern const struct backend_ops backend_devdax_ops;

/* ---- dev.c: helpers the backends share ---- */

/* -EIO with a message if the bad range [off, off + len) of the device
 * lies inside the heap [data_off, data_off + brk) */
PHEAP_HIDDEN int dev_badblock_in_heap(const struct dev *d,
	const struct hdr *h, uint64_t off, uint64_t len);

#endif
