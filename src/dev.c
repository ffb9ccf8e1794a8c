/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dev.c -- the backing of a pheap, whatever its kind: picks the backend
 * once per open from the fstat of the descriptor (the first in the list
 * below whose probe says yes), then dispatches to its ops table
 * (backend.h).  What is the same for every backend lives here: opening
 * without following symlinks or hanging on a FIFO, reopening the same
 * file through /proc, closing, and the defaults of the optional ops.
 *
 * The choice is made from the descriptor, never from the path again, and
 * never changes while d is open: a path renamed or replaced meanwhile
 * cannot make one backend's operation run on another's file.
 *
 * Test build (PHEAP_TESTING, testhook.h): dev_check_badblocks and dev_usc
 * take injected answers before asking the backend, so their NVDIMM-only
 * paths run on plain files too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"

/* most specific first: a backend for some kind of regular file (tmpfs,
 * hugetlbfs) goes before the plain file one */
static const struct backend_ops *const backends[] = {
	&backend_devdax_ops,
	&backend_file_ops,
};

/* the backend serving files like st, or NULL */
static const struct backend_ops *
backend_for(const struct stat *st)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (backends[i]->probe(st))
			return backends[i];
	return NULL;
}

static void
dev_reset(struct dev *d, int fd, const char *path, int rdonly)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->rdonly = rdonly;
	snprintf(d->path, sizeof(d->path), "%s", path);
}

/* d->ops chosen: the header goes through it, the backend sets d up */
static int
dev_setup(struct dev *d, const struct stat *st)
{
	d->io.read = d->ops->hdr_read;
	d->io.write = d->ops->hdr_write;
	d->io.write_lazy = d->ops->hdr_write_lazy;
	d->io.size = d->ops->size;
	d->io.ctx = d;
	/* a free header (formatted, no pheap) only where a backing outlives
	 * its pheap */
	d->io.lim.allow_free = d->ops->standalone;
	return d->ops->open(d, st);
}

int
dev_open(struct dev *d, const char *path, int rdonly)
{
	int fd;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	if (strlen(path) >= sizeof(d->path))
		return err_set(ENAMETOOLONG, "path too long: %s", path);
	/* O_NONBLOCK: a FIFO planted in the pool must not hang us */
	fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOFOLLOW |
		O_NONBLOCK);
	if (fd < 0)
		return err_sys(errno, "open %s", path);
	fcntl(fd, F_SETFL, 0);
	return dev_init(d, fd, path, rdonly);
}

int
dev_init(struct dev *d, int fd, const char *path, int rdonly)
{
	struct stat st;
	int ret;

	dev_reset(d, fd, path, rdonly);
	if (fstat(fd, &st) == 0)
		d->ops = backend_for(&st);
	if (d->ops)
		ret = dev_setup(d, &st);
	else
		ret = err_set(EUCLEAN, "%s is not a regular file", path);
	if (ret)
		dev_close(d);
	return ret;
}

void
dev_adopt(struct dev *d, int fd, const char *path)
{
	dev_reset(d, fd, path, 0);
	/* a file just made in a pool directory; this open cannot fail */
	d->ops = &backend_file_ops;
	(void)dev_setup(d, NULL);
}

static int
same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
		sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino &&
		sa.st_rdev == sb.st_rdev;
}

int
dev_reopen(const struct dev *d, int rdonly)
{
	char proc[64];
	int flags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd;

	/* through /proc: the same file whatever happened to its path (a
	 * rename, a chdir under a relative PHEAP_POOL) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd);
	fd = open(proc, flags);
	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : err_sys(errno, "reopen %s", d->path);
	/* no /proc: the path, if it still names the same file */
	fd = open(d->path, flags | O_NOFOLLOW);
	if (fd >= 0 && !same_file(fd, d->fd)) {
		close(fd);
		return err_set(ENOENT, "%s no longer names the attached pheap "
			"(and /proc is not mounted)", d->path);
	}
	if (fd < 0)
		return err_sys(errno, "reopen %s", d->path);
	return fd;
}

void
dev_close(struct dev *d)
{
	if (d->ops)
		d->ops->close(d);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int
dev_map_area(struct dev *d)
{
	return d->ops->map_area(d);
}

int
dev_check_size(const struct dev *d, const struct hdr *h)
{
	return d->ops->check_size ? d->ops->check_size(d, h) : 0;
}

int
dev_badblock_in_heap(const struct dev *d, const struct hdr *h, uint64_t off,
	uint64_t len)
{
	if (off < h->data_off + h->brk && off + len > h->data_off)
		return err_set(EIO, "%s: bad blocks at device offset "
			"%#llx+%#llx inside the heap; attach read-only to "
			"save data, then clear them (ndctl clear-errors, or "
			"zero the range)", d->path, (unsigned long long)off,
			(unsigned long long)len);
	return 0;
}

int
dev_check_badblocks(const struct dev *d, const struct hdr *h)
{
#ifdef PHEAP_TESTING
	uint64_t bb_off, bb_len;

	/* test build: an injected bad range, on any backend */
	if (testhook_badblock(&bb_off, &bb_len))
		return dev_badblock_in_heap(d, h, bb_off, bb_len);
#endif
	return d->ops->badblocks ? d->ops->badblocks(d, h) : 0;
}

int
dev_usc(const struct dev *d, uint64_t *usc)
{
#ifdef PHEAP_TESTING
	/* test build: an injected count, on any backend */
	if (testhook_usc(usc))
		return 0;
#endif
	return d->ops->usc ? d->ops->usc(d, usc) : -ENOTSUP;
}

int
dev_kind(const struct dev *d, int dax_mapped)
{
	return d->ops->kind(d, dax_mapped);
}

uint64_t
dev_capacity(const struct dev *d, const struct hdr *h)
{
	return d->ops->capacity(d, h);
}

int
dev_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk)
{
	return d->ops->grow ? d->ops->grow(d, h, old, new_brk) : 0;
}

int
dev_trim(struct dev *d, const struct hdr *h, uint64_t brk)
{
	return d->ops->trim ? d->ops->trim(d, h, brk) : 0;
}

int
dev_beyond(const struct dev *d, const struct hdr *h)
{
	return d->ops->beyond ? d->ops->beyond(d, h) : 0;
}

ssize_t
dev_data_read(const struct dev *d, uint64_t off, void *buf, size_t len)
{
	return d->ops->data_read(d, off, buf, len);
}

ssize_t
dev_data_write(struct dev *d, uint64_t off, const void *buf, size_t len)
{
	return d->ops->data_write(d, off, buf, len);
}

int
dev_grow_zeroed(const struct dev *d)
{
	return d->ops->grow_zeroed;
}

int
dev_sync_mode(struct dev *d)
{
	return d->ops->sync_mode ? d->ops->sync_mode(d) : 0;
}

int
dev_owner_in_header(const struct dev *d, const struct stat *sb)
{
	return d->ops->header_owner && d->ops->header_owner(sb);
}

int
dev_is_standalone(const struct stat *st)
{
	const struct backend_ops *ops = backend_for(st);

	return ops && ops->standalone;
}

int
dev_discard(const char *path, const struct stat *st)
{
	const struct backend_ops *ops = backend_for(st);

	if (!ops)
		return err_set(EUCLEAN, "%s is not a regular file", path);
	return ops->discard(path);
}
