/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend_devdax.c -- a pheap on a device-dax character device
 * (PHEAP_BACKEND_DEVDAX): a standalone backing holding at most one pheap,
 * made usable by pheap_format_device().
 *
 * No read/write system calls on such a device, so the header area (the
 * first device-alignment unit) is mapped with libpmem2 at open and the
 * header is copied in and out of it, written with libpmem2's persisting
 * memcpy: durable when it returns.  The device's size never changes, so
 * the mapping cannot fault, hdr_validate holds the capacity to the device
 * (io.lim), and there is nothing to check, grow or trim: all storage is
 * always there.  It is never freed either, so it keeps what an earlier,
 * larger heap wrote: pbrk zeroes a grown range once mapped (grow_zeroed
 * is 0).
 *
 * The kernel maps a device only in units of its alignment (it refuses a
 * mapping, an unmap or a protection change that would split one), and a
 * pheap accepts 2 MiB and 1 GiB: the header area is the first unit, so
 * the data starts at device offset 2 MiB or 1 GiB, and the header's base
 * and capacity are unit multiples (hdr_validate holds them to io.lim.unit).
 * A 2 MiB device is laid out exactly as before 1 GiB devices were
 * accepted.  On a 1 GiB device the heap's mapping extends past the break
 * to the next unit boundary: reservation.c says what that tail is.
 *
 * A device node belongs to root (udev) and its mode lives in devtmpfs:
 * nothing makes a pchmod durable (attach re-applies the header's mode),
 * and on a node root owns the header names the pheap's owner -- only whom
 * the administrator let write the node could have written its header.
 *
 * The heap's bytes without a mapping of the heap (pheap_pread(3) and co.,
 * offline.c): the device has no read or write system call.  A write is
 * libpmem2's pmem2_source_pwrite_mcsafe -- a persisting copy (durable when
 * it returns) into a mapping of the device made for the call, under a
 * SIGBUS handler of its own, so poison is -EIO, not a signal.  A read maps
 * just the range, read-only, and copies it with mcsafe_copy (mcsafe.c),
 * which does the same for loads: libpmem2's pmem2_source_pread_mcsafe maps
 * the device read-write, which a read-only descriptor cannot.  Both swap
 * the process's SIGBUS handler, so both run under mcsafe_lock: one at a
 * time in the process.  The device never shrinks, so nothing here can
 * run past its end; the caller's check of the break bounds them.
 *
 * Which device this is (size, alignment, whether an NVDIMM namespace)
 * comes from daxdev.c, which stays a module of its own: it is the
 * library's only use of libdaxctl, and pool.c enumerates the devices
 * through it without opening any -- no backend business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpmem2.h>

#include "backend.h"
#include "daxdev.h"
#include "mcsafe.h"

/* the backend's own part of struct dev (d->priv) */
struct devdax {
	struct pmem2_source *src;
	struct pmem2_map *map;	/* the header area: d->area */
};

static int
dax_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct dev *d = ctx;

	memcpy(buf, (char *)d->area + off, len);
	return 0;
}

static int
dax_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct dev *d = ctx;
	struct devdax *x = d->priv;

	if (d->rdonly)
		return err_set(EACCES, "%s is open read-only", d->path);
	pmem2_get_memcpy_fn(x->map)((char *)d->area + off, buf, len, 0);
	return 0;
}

static int
dax_probe(const struct stat *st)
{
	return S_ISCHR(st->st_mode);
}

/* a device libpmem2 can map, laid out as a pheap needs */
static int
dax_check(const struct dev *d, dev_t rdev, struct daxdev_info *di)
{
	if (daxdev_info(rdev, di))
		return err_set(EUCLEAN, "%s is not a dax device", d->path);
	if (!di->nvdimm)
		return err_set(ENOTSUP, "%s (%s) is not an NVDIMM namespace; "
			"libpmem2 1.12 cannot map such devices (pmem/pmdk#6160)",
			d->path, di->name);
	if (di->align != PHEAP_PAGE_SIZE && di->align != HDR_MAX_DATA_OFF)
		return err_set(ENOTSUP, "%s: alignment %#llx; pheaps need a "
			"2 MiB or 1 GiB aligned device (ndctl create-namespace "
			"-a 2M or -a 1G)", d->path,
			(unsigned long long)di->align);
	/* the header area and at least one unit of data */
	if (di->size < 2 * di->align)
		return err_set(ENOTSUP, "%s is too small", d->path);
	return 0;
}

/* maps [off, off + len) of the device (both multiples of its alignment,
 * d->area_len), shared, read-only if rdonly */
static int
dax_map(const struct dev *d, uint64_t off, uint64_t len, int rdonly,
	struct pmem2_map **map)
{
	const struct devdax *x = d->priv;
	struct pmem2_config *cfg;
	int ret = pmem2_config_new(&cfg);

	if (ret)
		return err_pmem2(ret, "pmem2 config %s", d->path);
	pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	pmem2_config_set_offset(cfg, off);
	pmem2_config_set_length(cfg, len);
	pmem2_config_set_protection(cfg, rdonly ? PMEM2_PROT_READ :
		PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	ret = pmem2_map_new(map, cfg, x->src);
	pmem2_config_delete(&cfg);
	if (ret)
		return err_pmem2(ret, "mapping %s at %#llx+%#llx", d->path,
			(unsigned long long)off, (unsigned long long)len);
	return 0;
}

/* maps the first unit (2 MiB or 1 GiB): header and runtime page */
static int
dax_map_header(struct dev *d, struct devdax *x)
{
	int ret = pmem2_source_from_fd(&x->src, d->fd);

	if (ret)
		return err_pmem2(ret, "pmem2 source %s", d->path);
	ret = dax_map(d, 0, d->area_len, d->rdonly, &x->map);
	if (ret)
		return ret;
	d->area = pmem2_map_get_address(x->map);
	return 0;
}

static int
dax_open(struct dev *d, const struct stat *st)
{
	struct daxdev_info di;
	struct devdax *x;
	int ret = dax_check(d, st->st_rdev, &di);

	if (ret)
		return ret;
	x = calloc(1, sizeof(*x));
	if (!x)
		return err_set(ENOMEM, "opening %s", d->path);
	d->priv = x;
	d->area_len = di.align;
	ret = dax_map_header(d, x);
	if (ret)
		return ret;
	/* the kernel maps the device only in units of its alignment: the
	 * header area is one, the data starts at the next (header.h) */
	d->io.lim.unit = di.align;
	d->io.lim.data_off = di.align;
	d->io.lim.max_capacity = (di.size - di.align) & ~(di.align - 1);
	if (d->io.lim.max_capacity > HDR_MAX_SPAN)
		d->io.lim.max_capacity = HDR_MAX_SPAN;
	return 0;
}

static void
dax_close(struct dev *d)
{
	struct devdax *x = d->priv;

	if (x && x->map)
		pmem2_map_delete(&x->map);
	if (x && x->src)
		pmem2_source_delete(&x->src);
	free(x);
	d->priv = NULL;
	d->area = NULL;
}

static int
dax_map_area(struct dev *d)
{
	(void)d;
	return 0;	/* mapped at open: the header lives there */
}

static uint64_t
dax_capacity(const struct dev *d, const struct hdr *h)
{
	(void)d;
	return h->capacity;	/* held to the device's size by hdr_validate */
}

static int
dax_kind(const struct dev *d, int dax_mapped)
{
	(void)d;
	(void)dax_mapped;
	return PHEAP_BACKEND_DEVDAX;
}

/* the device stays, formatted and free again */
static int
dax_discard(const char *path)
{
	return pheap_format_device(path, PHEAP_FORMAT_FORCE);
}

static int
dax_usc(const struct dev *d, uint64_t *usc)
{
	const struct devdax *x = d->priv;

	/* needs the DIMMs' health data (ndctl); emulated pmem has none */
	return pmem2_source_device_usc(x->src, usc) ? -ENOTSUP : 0;
}

static int
dax_badblocks(const struct dev *d, const struct hdr *h)
{
	const struct devdax *x = d->priv;
	struct pmem2_badblock_context *bbctx;
	struct pmem2_badblock bb;
	int ret = 0;

	if (pmem2_badblock_context_new(&bbctx, x->src))
		return 0;	/* nothing known, or not supported here */
	while (ret == 0 && pmem2_badblock_next(bbctx, &bb) == 0)
		ret = dev_badblock_in_heap(d, h, bb.offset, bb.length);
	pmem2_badblock_context_delete(&bbctx);
	return ret;
}

/* the range mapped read-only for the call, copied out under mcsafe_copy */
static ssize_t
dax_data_read(const struct dev *d, uint64_t off, void *buf, size_t len)
{
	uint64_t align = d->area_len;	/* a mapping's unit on this device */
	uint64_t start = off & ~(align - 1);
	uint64_t end = (off + len + align - 1) & ~(align - 1);
	struct pmem2_map *map;
	int ret = dax_map(d, start, end - start, 1, &map);

	if (ret)
		return ret;
	ret = mcsafe_copy(buf, (char *)pmem2_map_get_address(map) +
		(off - start), len);
	pmem2_map_delete(&map);
	return ret ? ret : (ssize_t)len;
}

static ssize_t
dax_data_write(struct dev *d, uint64_t off, const void *buf, size_t len)
{
	struct devdax *x = d->priv;
	int ret;

	if (d->rdonly)
		return err_set(EACCES, "%s is open read-only", d->path);
	/* it swaps the process's SIGBUS handler, as mcsafe_copy does */
	mcsafe_lock();
	ret = pmem2_source_pwrite_mcsafe(x->src, (void *)(uintptr_t)buf, len,
		(size_t)off);
	mcsafe_unlock();
	if (ret)
		return err_pmem2(ret, "writing %s at %#llx", d->path,
			(unsigned long long)off);
	return (ssize_t)len;
}

static int
dax_header_owner(const struct stat *sb)
{
	return sb->st_uid == 0;
}

const struct backend_ops backend_devdax_ops = {
	.name = "devdax",
	.standalone = 1,
	.grow_zeroed = 0,
	.probe = dax_probe,
	.open = dax_open,
	.close = dax_close,
	.hdr_read = dax_read,
	.hdr_write = dax_write,
	.map_area = dax_map_area,
	.capacity = dax_capacity,
	.kind = dax_kind,
	.discard = dax_discard,
	.data_read = dax_data_read,
	.data_write = dax_data_write,
	/* .check_size, .grow, .trim, .beyond: fixed storage, all of it
	 * always there */
	/* .sync_mode: the node's mode lives in devtmpfs */
	.usc = dax_usc,
	.badblocks = dax_badblocks,
	.header_owner = dax_header_owner,
};
