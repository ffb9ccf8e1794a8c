/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * daxdev.h -- device-dax character devices: identification, size and
 * alignment (libdaxctl), and enumeration for the default pool.
 */
#ifndef PHEAP_DAXDEV_H
#define PHEAP_DAXDEV_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"

struct daxdev_info {
	uint64_t size;		/* bytes */
	uint64_t align;		/* mapping alignment, >= 2 MiB */
	int nvdimm;		/* backed by an NVDIMM namespace */
	char name[32];		/* "dax0.0" */
};

/* describes the dax device with this device number; -ENODEV if none */
PHEAP_HIDDEN int daxdev_info(dev_t rdev, struct daxdev_info *info);
/* appends "/dev/daxX.Y" of every dax device to paths; returns the count */
PHEAP_HIDDEN int daxdev_list(char (*paths)[PATH_MAX], int max);

#endif
