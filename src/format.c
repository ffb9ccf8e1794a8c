/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * format.c -- pheap_format_device(): make a device-dax device usable.
 *
 * The library never writes to a device it did not format: finding and
 * creating pheaps only ever touch devices whose header is valid.  This
 * call writes a "free" header (no id, break 0, capacity = device size less
 * the header area, which is one unit of the device's alignment: 2 MiB or
 * 1 GiB); PHEAP_CREATE can then claim the device.  Its base is only a
 * placeholder the creator replaces, but it must validate: a unit multiple.
 *
 * PHEAP_FORMAT_CLEAR undoes it: both copies are zeroed, the device leaves
 * the pool (it is no longer written by anyone).  Only a free device, or
 * with PHEAP_FORMAT_FORCE one holding a pheap nobody is attached to (an
 * epoch lock held, sync.c, is an attached process: -EBUSY).  A crash
 * between the two copies leaves one free copy: still formatted and free,
 * and clearing again finishes.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "lock.h"
#include "state.h"	/* dev_rt(), the break lock */

#define FORMAT_BASE 0x2a0002000000UL	/* any valid value: set at create */

int
format_free(struct dev *d, const struct hdr_found *f)
{
	struct hdr h;
	int slot = f->ok ? f->slot : 0;

	memset(&h, 0, sizeof(h));
	/* a placeholder the creator replaces, but it must validate */
	h.base = (FORMAT_BASE + d->io.lim.unit - 1) & ~(d->io.lim.unit - 1);
	h.data_off = d->io.lim.data_off;
	h.capacity = d->io.lim.max_capacity;
	if (f->ok)
		h.seq = f->hdr.seq;	/* newer than what was there */
	return hdr_store(&d->io, &h, &slot);
}

/* 1 if a copy has the magic: a header, valid or damaged */
static int
has_magic(struct dev *d)
{
	uint8_t m[8];

	for (int s = 0; s < HDR_NSLOTS; s++)
		if (d->io.read(d->io.ctx, (uint64_t)s * HDR_SLOT_SIZE, m,
				sizeof(m)) == 0 && memcmp(m, "PHEAPHDR", 8) == 0)
			return 1;
	return 0;
}

/* zeroes both copies: no header at all */
static int
clear(struct dev *d, const struct hdr_found *f, unsigned long flags)
{
	uint8_t zero[HDR_COPY_SIZE];
	int ret = 0;

	/* never a write to a device that was not formatted */
	if (!has_magic(d))
		return 0;

	if (!(f->ok && f->hdr.id_len == 0) && (f->ok || f->nclaims) &&
			!(flags & PHEAP_FORMAT_FORCE))
		return err_set(EEXIST, "%s holds a pheap%s; PHEAP_FORMAT_FORCE "
			"destroys it", d->path, f->ok ? "" : " (damaged header)");
	if (lock_any(d->fd, LOCK_EPOCH0, LOCK_NEPOCH))
		return err_set(EBUSY, "%s: processes are attached to its pheap",
			d->path);
	memset(zero, 0, sizeof(zero));
	/* the copy not in use first: a crash leaves the one that is */
	for (int i = 0; i < HDR_NSLOTS && ret == 0; i++) {
		int slot = f->ok ? (f->slot + 1 + i) % HDR_NSLOTS : i;

		TH_POINT("format.clear");
		ret = d->io.write(d->io.ctx, (uint64_t)slot * HDR_SLOT_SIZE,
			zero, sizeof(zero));
	}
	return ret;
}

int
pheap_format_device(const char *path, unsigned long flags)
{
	struct dev d;
	struct hdr_found f;
	int ret;

	if (!path)
		return err_set(EFAULT, "path is NULL");
	if (flags & ~(PHEAP_FORMAT_FORCE | PHEAP_FORMAT_CLEAR))
		return err_set(EINVAL, "unknown flags %#lx", flags);
	ret = dev_open(&d, path, 0);
	if (ret)
		return ret;
	/* a free header (no pheap) is valid only on a standalone backing */
	if (!d.io.lim.allow_free) {
		ret = err_set(EINVAL, "%s is not a device-dax device", path);
		goto out;
	}
	/* creators claim a device under its break lock: exclude them */
	ret = brklock_take(&dev_rt(&d)->brk, d.fd);
	if (ret)
		goto out;
	ret = hdr_load(&d.io, &f);
	if (ret)
		goto unlock;
	if (flags & PHEAP_FORMAT_CLEAR) {
		ret = clear(&d, &f, flags);
		goto unlock;
	}
	if (f.ok && f.hdr.id_len == 0)
		goto unlock;	/* formatted and free already */
	if ((f.ok || f.nclaims) && !(flags & PHEAP_FORMAT_FORCE)) {
		ret = err_set(EEXIST, "%s holds a pheap%s; PHEAP_FORMAT_FORCE "
			"destroys it", path, f.ok ? "" : " (damaged header)");
		goto unlock;
	}
	ret = format_free(&d, &f);
unlock:
	brklock_drop(&dev_rt(&d)->brk, d.fd);
out:
	dev_close(&d);
	return ret;
}
