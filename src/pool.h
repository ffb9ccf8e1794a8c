/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.h -- the pool: where pheaps live (PHEAP_POOL), finding one by id,
 * and creating one race-free under the 16-pheap limit.
 */
#ifndef PHEAP_POOL_H
#define PHEAP_POOL_H

#include "dev.h"

/* finds and opens the pheap; -EINVAL absent, -EACCES, -EUCLEAN damaged */
PHEAP_HIDDEN int pool_find(const void *id, size_t len, int rdonly,
	struct dev *d, struct hdr_found *f);
/* creates the pheap and opens it read-write; -EINVAL exists, -ENOSPC full */
PHEAP_HIDDEN int pool_create(const void *id, size_t len, struct dev *d,
	struct hdr_found *f);

/* the file name an id gets in a pool directory (exposed for the tests) */
#define POOL_NAME_LEN 38	/* 32 hex digits + ".pheap" */
PHEAP_HIDDEN void pool_name(const void *id, size_t len, char name[POOL_NAME_LEN + 1]);

#endif
