/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool_list.c -- pheap_pool_list(): every entry of the pool, as
 * pheap_pool_stat() describes it, for tools such as pheapctl(1) (its list is
 * what ipcs(1) is to SysV shared memory).
 *
 * Why a public call and not a tool linked with the library's internals:
 * the pool's layout (which names are pheaps, which are debris, which
 * devices count) is the library's to know, and a listing is small --
 * one callback per entry with a plain struct -- so any program may list
 * the pool as pheapctl does, through the installed library.
 *
 * The pool is PHEAP_POOL (pool.c), each directory or device once.  In a
 * directory: the files named like pheaps, and destroyed pheaps still
 * pending (destroy.c); with PHEAP_LIST_ALL also those being created and
 * the debris of crashed creations (pool_create.c).  Devices: those
 * formatted for pheaps that the caller may read.  Other files are not the
 * pool's.  Listing is a look at the pool: like a creation's census it
 * frees destroyed pheaps nobody is attached to any more, when they are
 * the caller's (or the caller is root) -- it removes nothing else.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "destroy.h"
#include "pool.h"

#define TMP_PREFIX ".tmp-"	/* pool_create.c */

typedef int (*list_fn)(const struct pheap_entry *, void *);

static int
prefixed(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* one file of a directory: 0 to go on, or what fn returned */
static int
list_file(int dfd, const char *dir, const char *name, unsigned long flags,
	list_fn fn, void *arg, struct pheap_entry *st)
{
	char path[PATH_MAX];
	struct stat sb;

	if (prefixed(name, DESTROYED_PREFIX)) {
		(void)destroy_reap_file(dfd, dir, name);
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW))
			return 0;	/* freed */
	} else if (!pool_is_name(name) && !((flags & PHEAP_LIST_ALL) &&
			prefixed(name, TMP_PREFIX))) {
		return 0;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	if (pheap_pool_stat(path, st))
		return 0;	/* gone meanwhile, or not a regular file */
	if (st->state == PHEAP_STATE_DESTROYED && pool_is_name(name)) {
		/* flagged under its name (by hand): hidden, maybe freed */
		(void)destroy_reap_file(dfd, dir, name);
		return 0;
	}
	if (st->state == PHEAP_STATE_CREATING && !(flags & PHEAP_LIST_ALL))
		return 0;
	return fn(st, arg);
}

static int
list_dir(const char *dir, unsigned long flags, list_fn fn, void *arg,
	struct pheap_entry *st)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!dp)
		return 0;	/* gone, or not ours to read: nothing in it */
	while (ret == 0 && (de = readdir(dp)) != NULL)
		ret = list_file(dirfd(dp), dir, de->d_name, flags, fn, arg, st);
	closedir(dp);
	return ret;
}

static int
list_dev(const char *path, list_fn fn, void *arg, struct pheap_entry *st)
{
	(void)destroy_reap_dev(path);
	/* a device the caller cannot read cannot tell whether it is ours */
	if (pheap_pool_stat(path, st) || st->state == PHEAP_STATE_UNREADABLE)
		return 0;
	return fn(st, arg);
}

/* 1 if the entry i is one listed before it (the same directory twice) */
static int
seen(const struct pool *p, int i, struct stat *sb)
{
	struct stat other;

	if (stat(p->entry[i], &sb[i]))
		return 1;
	for (int j = 0; j < i; j++)
		if (stat(p->entry[j], &other) == 0 &&
				other.st_dev == sb[i].st_dev &&
				other.st_ino == sb[i].st_ino)
			return 1;
	return 0;
}

int
pheap_pool_list(int (*fn)(const struct pheap_entry *st, void *arg), void *arg,
	unsigned long flags)
{
	struct pheap_entry st;
	struct stat sb[POOL_MAX_ENTRIES];
	struct pool p;
	int ret;

	if (!fn)
		return err_set(EFAULT, "fn is NULL");
	if (flags & ~PHEAP_LIST_ALL)
		return err_set(EINVAL, "unknown flags %#lx",
			flags & ~PHEAP_LIST_ALL);
	ret = pool_load(&p);
	for (int i = 0; ret == 0 && i < p.n; i++) {
		if (seen(&p, i, sb))
			continue;
		enum pool_entry t = pool_entry(p.entry[i]);

		if (t == POOL_DIR)
			ret = list_dir(p.entry[i], flags, fn, arg, &st);
		else if (t == POOL_DEV)
			ret = list_dev(p.entry[i], fn, arg, &st);
	}
	return ret;
}
