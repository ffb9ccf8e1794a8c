/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * offline.c -- a pheap's bytes without attaching it: pheap_open(),
 * pheap_pread(), pheap_pwrite(), pheap_pzero(), pheap_stat() and
 * pheap_close() (the idea of AIX's vm_mvc: partial reads and writes of a
 * memory object without mapping it).
 *
 * A handle is an open backing (struct dev), found as pattach(PHEAP_ATTACH)
 * finds it (pool_find: the kernel checks the permission when it opens the
 * file -- read for PHEAP_RDONLY, read and write otherwise) and believed as
 * attach believes it (attach.c, map_heap: the file holds the break, and a
 * header whose owner or mode disagrees with the file's is believed by
 * nobody but the file's owner and root).  Nothing of the heap is mapped
 * and no address is claimed: the bytes go through the backend's data_read
 * and data_write (backend.h) -- system calls on a file, a copy that
 * survives poison on device-dax.  Nothing of this process's attachment
 * (state.h: st) is touched, so a process attached to any pheap, this one
 * included, may use handles, and a handle's calls never wait for pbrk.
 *
 * Invariants:
 *  - every call reads the validated durable header again and checks the
 *    range against its break: [0, break), else -ERANGE -- another process
 *    may move the break at any time;
 *  - nothing here writes a header, or holds a lock that another process
 *    waits for, except the break lock in the rare repair below (bounded,
 *    like every holding of it);
 *  - after a write returns, the backing holds no storage beyond the
 *    durable break that the write made (the repair), and nothing here
 *    ever raises a signal.
 *
 * Concurrency with attached processes is byte-level, like pread(2) and
 * pwrite(2) on a file that others map: no ordering with their loads and
 * stores beyond what the page cache (or, on DAX, the memory) gives.  The
 * race with a shrink: the break is checked, then the bytes move.  If a
 * shrink comes in between, a read ends early where the shrink freed a
 * file's storage (a short count, or -ERANGE if nothing was read; on
 * device-dax the freed range still reads); a write lands beyond the new
 * break -- in storage the next grow hands out zeroed again -- or, on a
 * file already trimmed, extends the file.  So after a write the break is
 * read again: if it is now below the end of the range, the caller gets a
 * short count (or -ERANGE), and if the backing holds storage beyond the
 * break, the writer trims it as the shrink would have (trim_beyond) --
 * under the break lock, and only with no round pending: then no grow or
 * shrink is under way and every attached process has followed the break,
 * so the storage beyond it is nobody's.  (Without the lock the trim could
 * free what a grow in progress has just allocated.)  If the lock cannot
 * be had within its bound, the storage stays until the next break change
 * trims it: harmless, as attach and pbrk accept a file longer than its
 * break (a crashed shrink leaves one).  A shrink and a grow both during
 * one write can also make the write land in the grown range, as a
 * pwrite(2) can land in a file truncated and extended meanwhile.
 *
 * Threads: a handle may be used by several threads at once.  Its fields
 * are set by pheap_open() and only read after, except the header area's
 * mapping, made for the break lock at the first repair under the
 * handle's mutex -- which also keeps two repairs of one handle apart:
 * they share its open file description, which holds the break lock's
 * witness (brklock.c).
 *
 * Crashes: nothing here changes a header.  A write killed midway leaves
 * some of its bytes written, as a killed pwrite(2) does; the bytes of a
 * call that returned are durable (file: RWF_DSYNC; device-dax: a
 * persisting copy).  A repair's trim is the backend's, whose crash
 * reasoning holds (backend.h: a crash leaves a longer file, accepted).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "owner.h"
#include "pool.h"
#include "state.h"	/* dev_rt(): the break lock, pending */

#define ZERO_CHUNK	(8UL << 20)	/* pheap_pzero writes this much at once */

struct pheap_handle {
	struct dev dev;		/* fd: O_RDONLY if rdonly, else O_RDWR */
	int rdonly;		/* PHEAP_RDONLY */
	uint32_t id_len;
	uint8_t id[PHEAP_ID_LEN_LIMIT];
	pthread_mutex_t lock;	/* the header area's mapping, and repairs */
};

/* believed as pattach believes it (attach.c: map_heap), not repaired */
static int
believe(const struct dev *d, const struct hdr *h)
{
	struct owner o;
	int ret = dev_check_size(d, h);

	if (ret == 0)
		ret = owner_of(d, h, &o);
	if (ret == 0)
		ret = owner_trust(&o, h, geteuid(), d->path);
	return ret < 0 ? ret : 0;	/* 1: the owner, or root: believed */
}

int
pheap_open(const char *guid, size_t len, unsigned long flags,
	struct pheap_handle **h)
{
	struct pheap_handle *ph;
	struct hdr_found f;
	int ret;

	if (!h)
		return err_set(EFAULT, "h is NULL");
	if ((ret = pool_check_id(guid, len, flags, PHEAP_RDONLY)) != 0)
		return ret;
	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return err_set(ENOMEM, "no memory for a pheap handle");
	ph->rdonly = !!(flags & PHEAP_RDONLY);
	ret = pool_find(guid, len, ph->rdonly, &ph->dev, &f);
	if (ret == 0 && (ret = believe(&ph->dev, &f.hdr)) != 0)
		dev_close(&ph->dev);
	if (ret) {
		free(ph);
		return ret;
	}
	ph->id_len = (uint32_t)len;
	memcpy(ph->id, guid, len);
	pthread_mutex_init(&ph->lock, NULL);
	*h = ph;
	return 0;
}

/* the validated durable header of the handle's pheap */
static int
durable(const struct pheap_handle *ph, struct hdr *h)
{
	struct hdr_found f;
	int ret = hdr_load_id(&ph->dev.io, ph->id, ph->id_len, ph->dev.path,
		&f);

	if (ret == 0)
		*h = f.hdr;
	return ret;
}

/* 0 if [off, off + len) lies in the heap [0, h->brk), else -ERANGE */
static int
in_heap(const struct hdr *h, uint64_t off, uint64_t len)
{
	if (len <= h->brk && off <= h->brk - len)
		return 0;
	return err_set(ERANGE, "range %#llx+%#llx is not inside the heap "
		"[0, %#llx)", (unsigned long long)off, (unsigned long long)len,
		(unsigned long long)h->brk);
}

/* the checks every data call makes first; buf_ok: a buffer, or none needed */
static int
check_call(const struct pheap_handle *ph, int buf_ok, int write)
{
	if (!ph)
		return err_set(EFAULT, "the pheap handle is NULL");
	if (!buf_ok)
		return err_set(EFAULT, "buf is NULL");
	if (write && ph->rdonly)
		return err_set(EACCES, "pheap %s was opened with PHEAP_RDONLY",
			ph->dev.path);
	return 0;
}

ssize_t
pheap_pread(struct pheap_handle *ph, void *buf, size_t count,
	unsigned long offset)
{
	struct hdr h;
	int ret = check_call(ph, buf || !count, 0);

	if (ret == 0)
		ret = durable(ph, &h);
	if (ret == 0)
		ret = in_heap(&h, offset, count);
	if (ret || count == 0)
		return ret;
	ssize_t n = dev_data_read(&ph->dev, h.data_off + offset, buf, count);

	if (n == 0)	/* the file ended there: a shrink freed it meanwhile */
		return err_set(ERANGE, "pheap %s shrank below %#lx during the "
			"read", ph->dev.path, offset);
	return n;
}

/*
 * Trims what the backing holds beyond the durable break, as a shrink
 * would have, under the break lock and only with no round pending (see
 * the top of the file).  0 or -errno.
 */
static int
trim_beyond(struct pheap_handle *ph)
{
	struct dev *d = &ph->dev;
	struct hdr h;
	int ret;

	pthread_mutex_lock(&ph->lock);
	ret = dev_map_area(d);
	if (ret == 0)
		ret = brklock_take(&dev_rt(d)->brk, d->fd);
	if (ret == 0) {
		if (!__atomic_load_n(&dev_rt(d)->pending, __ATOMIC_ACQUIRE) &&
				(ret = durable(ph, &h)) == 0)
			ret = dev_trim(d, &h, h.brk);
		brklock_drop(&dev_rt(d)->brk, d->fd);
	}
	pthread_mutex_unlock(&ph->lock);
	return ret;
}

/*
 * After a write of [off, off + n): n if that range is still in the heap,
 * else what of it is (or -ERANGE if none), once storage the write may
 * have added beyond the break is trimmed.
 */
static ssize_t
settle(struct pheap_handle *ph, uint64_t off, uint64_t n)
{
	struct hdr h;
	int ret = durable(ph, &h);

	if (ret)
		return ret;
	if (h.brk >= off + n)
		return (ssize_t)n;
	/* failing, it is left to the next break change to trim */
	if (dev_beyond(&ph->dev, &h))
		(void)trim_beyond(ph);
	if (h.brk > off)
		return (ssize_t)(h.brk - off);
	return err_set(ERANGE, "pheap %s shrank below %#llx during the write",
		ph->dev.path, (unsigned long long)off);
}

/* [off, off + len) of the heap from buf: what pheap_pwrite() returns */
static ssize_t
write_range(struct pheap_handle *ph, uint64_t off, const void *buf,
	size_t len)
{
	struct hdr h;
	int ret = durable(ph, &h);

	if (ret == 0)
		ret = in_heap(&h, off, len);
	if (ret || len == 0)
		return ret;
	ssize_t n = dev_data_write(&ph->dev, h.data_off + off, buf, len);

	return n > 0 ? settle(ph, off, (uint64_t)n) : n;
}

ssize_t
pheap_pwrite(struct pheap_handle *ph, const void *buf, size_t count,
	unsigned long offset)
{
	int ret = check_call(ph, buf || !count, 1);

	return ret ? ret : write_range(ph, offset, buf, count);
}

int
pheap_pzero(struct pheap_handle *ph, unsigned long offset, unsigned long len)
{
	int ret = check_call(ph, 1, 1);

	if (ret || len == 0)
		return ret ? ret : (int)write_range(ph, offset, NULL, 0);
	void *zeros = calloc(1, len < ZERO_CHUNK ? len : ZERO_CHUNK);

	if (!zeros)
		return err_set(ENOMEM, "no memory for zeroing");
	/* chunk by chunk, the break checked again before each: after a
	 * short count the next one says why (-ERANGE, or the I/O error) */
	for (uint64_t done = 0; done < len; ) {
		size_t n = len - done < ZERO_CHUNK ? len - done : ZERO_CHUNK;
		ssize_t w = write_range(ph, offset + done, zeros, n);

		if (w < 0) {
			ret = (int)w;
			break;
		}
		done += (uint64_t)w;	/* > 0: see settle() */
	}
	free(zeros);
	return ret;
}

int
pheap_stat(struct pheap_handle *ph, struct pheap_info *info)
{
	struct hdr h;
	struct owner o;
	uint64_t usc;
	int ret;

	if (!ph || !info)
		return err_set(EFAULT, "%s is NULL", ph ? "info" : "the handle");
	ret = durable(ph, &h);
	if (ret == 0)
		ret = owner_report(&ph->dev, &h, &o);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	memcpy(info->id, h.id, h.id_len);
	info->id_len = h.id_len;
	info->base = (void *)(uintptr_t)h.base;
	info->brk = (void *)(uintptr_t)(h.base + h.brk);
	info->capacity = dev_capacity(&ph->dev, &h);
	info->mode = o.mode;
	info->uid = o.uid;
	info->gid = o.gid;
	info->backend = dev_kind(&ph->dev, 0);
	info->rdonly = ph->rdonly;
	snprintf(info->path, sizeof(info->path), "%s", ph->dev.path);
	/* reported as pattach reports it; only a read-write attach records
	 * the new count */
	info->unsafe_shutdown = dev_usc(&ph->dev, &usc) == 0 && h.usc != 0 &&
		h.usc != usc;
	return 0;
}

int
pheap_close(struct pheap_handle *ph)
{
	if (!ph)
		return err_set(EFAULT, "the pheap handle is NULL");
	dev_close(&ph->dev);
	pthread_mutex_destroy(&ph->lock);
	free(ph);
	return 0;
}
