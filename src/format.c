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
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "state.h"	/* dev_rt(), the break lock */

#define FORMAT_BASE 0x2a0002000000UL	/* any valid value: set at create */

int
pheap_format_device(const char *path, unsigned long flags)
{
	struct dev d;
	struct hdr_found f;
	struct hdr h;
	int ret;

	if (!path)
		return err_set(EFAULT, "path is NULL");
	if (flags & ~PHEAP_FORMAT_FORCE)
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
	if (f.ok && f.hdr.id_len == 0)
		goto unlock;	/* formatted and free already */
	if ((f.ok || f.nclaims) && !(flags & PHEAP_FORMAT_FORCE)) {
		ret = err_set(EEXIST, "%s holds a pheap%s; PHEAP_FORMAT_FORCE "
			"destroys it", path, f.ok ? "" : " (damaged header)");
		goto unlock;
	}
	memset(&h, 0, sizeof(h));
	h.base = (FORMAT_BASE + d.io.lim.unit - 1) & ~(d.io.lim.unit - 1);
	h.data_off = d.io.lim.data_off;
	h.capacity = d.io.lim.max_capacity;
	if (f.ok)
		h.seq = f.hdr.seq;	/* newer than what was there */
	int slot = f.ok ? f.slot : 0;
	ret = hdr_store(&d.io, &h, &slot);
unlock:
	brklock_drop(&dev_rt(&d)->brk, d.fd);
out:
	dev_close(&d);
	return ret;
}
