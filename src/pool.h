/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.h -- the pool: where pheaps live (PHEAP_POOL), finding one by id
 * (pool.c), and creating one race-free under the 16-pheap limit
 * (pool_create.c).
 */
#ifndef PHEAP_POOL_H
#define PHEAP_POOL_H

#include <limits.h>

#include "dev.h"

/* finds and opens the pheap; -EINVAL absent, -EACCES, -EUCLEAN damaged */
PHEAP_HIDDEN int pool_find(const void *id, size_t len, int rdonly,
	struct dev *d, struct hdr_found *f);
/* creates the pheap and opens it read-write; -EINVAL exists, -ENOSPC full */
PHEAP_HIDDEN int pool_create(const void *id, size_t len, struct dev *d,
	struct hdr_found *f);

/* the arguments every call naming a pheap by id checks: the id, and flags
 * within known: 0, or -EFAULT / -EINVAL with a message */
PHEAP_HIDDEN int pool_check_id(const void *id, size_t len,
	unsigned long flags, unsigned long known);

/* the file name an id gets in a pool directory (exposed for the tests) */
#define POOL_NAME_LEN 38	/* 32 hex digits + ".pheap" */
PHEAP_HIDDEN void pool_name(const void *id, size_t len, char name[POOL_NAME_LEN + 1]);

/* ---- between pool.c and pool_create.c ---- */

#define POOL_MAX_ENTRIES 32

struct pool {
	int n;
	char entry[POOL_MAX_ENTRIES][PATH_MAX];
};

/* the entries of PHEAP_POOL, or the default pool (made if missing) */
PHEAP_HIDDEN int pool_load(struct pool *p);
enum pool_entry { POOL_OTHER, POOL_DIR, POOL_DEV };
PHEAP_HIDDEN enum pool_entry pool_entry(const char *path);
/* 1 if s is a name pool_name() gives */
PHEAP_HIDDEN int pool_is_name(const char *s);
/* opens <dir>/<name>; 0, -ENOENT, -EACCES or another -errno */
PHEAP_HIDDEN int pool_open_in(const char *dir, const char *name, int rdonly,
	struct dev *d);
/* pool_create.c: removes dfd/name, a creation's hidden file (".tmp-*"),
 * if it is the caller's (or the caller is root) and its creator is gone:
 * 1 removed, 0 not */
PHEAP_HIDDEN int pool_clear_debris(int dfd, const char *name);
/* 1 while the file is published but its creation may still be withdrawn
 * (two names, and its creator's witness lock: see pool_create.c) */
PHEAP_HIDDEN int pool_in_creation(const struct dev *d);

#endif
