/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxdev.c -- device-dax devices through libdaxctl.
 *
 * Whether a device is an NVDIMM namespace matters because libpmem2 1.12
 * crashes in pmem2_map_new() on dax devices that are not (pmem/pmdk#6160:
 * CXL or soft-reserved memory).  Such a device sits outside any "ndbus" in
 * sysfs; we refuse it with a clear error instead of calling libpmem2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include <daxctl/libdaxctl.h>

#include "pheap.h"
#include "daxdev.h"

static int
under_ndbus(dev_t rdev)
{
	char link[128], real[PATH_MAX];

	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u",
		major(rdev), minor(rdev));
	if (!realpath(link, real))
		return 0;
	return strstr(real, "/ndbus") != NULL;
}

int
daxdev_info(dev_t rdev, struct daxdev_info *info)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *region;
	struct daxctl_dev *dev;
	int ret = -ENODEV;

	if (daxctl_new(&ctx))
		return err_set(ENODEV, "libdaxctl unavailable");
	daxctl_region_foreach(ctx, region) {
		daxctl_dev_foreach(region, dev) {
			if ((unsigned)daxctl_dev_get_major(dev) != major(rdev) ||
					(unsigned)daxctl_dev_get_minor(dev) != minor(rdev))
				continue;
			info->size = daxctl_dev_get_size(dev);
			/* 0 before Linux 5.10: the region's then */
			info->align = daxctl_dev_get_align(dev);
			if (!info->align)
				info->align = daxctl_region_get_align(region);
			if (info->align < PHEAP_PAGE_SIZE)
				info->align = PHEAP_PAGE_SIZE;
			snprintf(info->name, sizeof(info->name), "%s",
				daxctl_dev_get_devname(dev));
			info->nvdimm = under_ndbus(rdev);
			ret = 0;
			goto out;
		}
	}
	err_set(ENODEV, "no dax device %u:%u", major(rdev), minor(rdev));
out:
	daxctl_unref(ctx);
	return ret;
}

int
daxdev_list(char (*paths)[PATH_MAX], int max)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *region;
	struct daxctl_dev *dev;
	int n = 0;

	if (daxctl_new(&ctx))
		return 0;
	daxctl_region_foreach(ctx, region)
		daxctl_dev_foreach(region, dev)
			if (n < max && daxctl_dev_get_size(dev))
				snprintf(paths[n++], PATH_MAX, "/dev/%s",
					daxctl_dev_get_devname(dev));
	daxctl_unref(ctx);
	return n;
}
