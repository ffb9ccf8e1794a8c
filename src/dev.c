/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dev.c -- file backing for pheaps.
 *
 * File size is kept at data_off + brk: growing truncates away anything a
 * crashed shrink left beyond the break, then fallocates, so new heap memory
 * is always fresh zero-filled blocks and a full file system shows up as
 * -ENOMEM from pbrk instead of SIGBUS later.  The header is read with pread
 * (not through a mapping), so a truncated or hostile file cannot crash us.
 *
 * Durability without fdatasync: fdatasync would also write back every dirty
 * page of the heap -- including the freshly populated zero pages of a grow,
 * which it then write-protects, so the next sweep takes a fault per page.
 * Once attached we msync() only the header's page instead: on Linux that
 * is fsync of just that range, and it still commits the file's metadata
 * (the fallocated blocks, the size) to the journal and flushes the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dev.h"

static int
dev_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct dev *d = ctx;
	ssize_t n = pread(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return err_sys(errno, "reading header of %s", d->path);
	if ((size_t)n < len)	/* a short file holds no header there */
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}


/* makes the page holding device offset off, and the file's metadata, durable */
static int
dev_sync(struct dev *d, uint64_t off)
{
	if (!d->area) {
		if (fdatasync(d->fd))
			return err_sys(errno, "fdatasync %s", d->path);
		return 0;
	}
	if (msync((char *)d->area + (off & ~(uint64_t)4095), 4096, MS_SYNC))
		return err_sys(errno, "msync header of %s", d->path);
	return 0;
}

static int
dev_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct dev *d = ctx;
	ssize_t n = pwrite(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return err_sys(errno, "writing header of %s", d->path);
	if ((size_t)n != len)
		return err_set(EIO, "short header write to %s", d->path);
	return dev_sync(d, off);
}

static void
dev_init_io(struct dev *d)
{
	d->io.read = dev_read;
	d->io.write = dev_write;
	d->io.ctx = d;
	d->io.max_capacity = HDR_MAX_SPAN;
}

int
dev_open(struct dev *d, const char *path, int rdonly)
{
	struct stat st;
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
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(EUCLEAN, "%s is not a regular file", path);
	}
	fcntl(fd, F_SETFL, 0);
	d->fd = fd;
	d->rdonly = rdonly;
	strcpy(d->path, path);
	dev_init_io(d);
	return 0;
}

void
dev_adopt(struct dev *d, int fd, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	snprintf(d->path, sizeof(d->path), "%s", path);
	dev_init_io(d);
}

int
dev_reopen(const struct dev *d, int rdonly)
{
	char proc[64];
	int flags = (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd;

	/* through /proc: the same file even if the pool entry was renamed */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", d->fd);
	fd = open(proc, flags);
	if (fd < 0)
		fd = open(d->path, flags | O_NOFOLLOW);
	if (fd < 0)
		return err_sys(errno, "reopen %s", d->path);
	return fd;
}

int
dev_map_area(struct dev *d)
{
	int prot = d->rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *a = mmap(NULL, HDR_AREA_SIZE, prot, MAP_SHARED, d->fd, 0);

	if (a == MAP_FAILED)
		return err_sys(errno, "mapping the header area of %s", d->path);
	d->area = a;
	return 0;
}

void
dev_close(struct dev *d)
{
	if (d->area)
		munmap(d->area, HDR_AREA_SIZE);
	d->area = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int
dev_check_size(const struct dev *d, const struct hdr *h)
{
	struct stat st;

	if (fstat(d->fd, &st))
		return err_sys(errno, "fstat %s", d->path);
	if ((uint64_t)st.st_size < h->data_off + h->brk)
		return err_set(EUCLEAN, "%s is %lld bytes, its header needs %llu",
			d->path, (long long)st.st_size,
			(unsigned long long)(h->data_off + h->brk));
	return 0;
}

uint64_t
dev_capacity(const struct dev *d, const struct hdr *h)
{
	struct statvfs vfs;
	uint64_t cap = h->capacity;

	if (fstatvfs(d->fd, &vfs) == 0) {
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		uint64_t fs_cap = h->brk + (avail & ~(PHEAP_PAGE_SIZE - 1));

		if (fs_cap < cap)
			cap = fs_cap;
	}
	return cap;
}

int
dev_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk)
{
	off_t start = (off_t)(h->data_off + old);
	int err;

	if (ftruncate(d->fd, start))
		return err_sys(errno, "truncate %s", d->path);
	err = posix_fallocate(d->fd, start, (off_t)(new_brk - old));
	if (err) {
		if (ftruncate(d->fd, start)) {
			/* nothing maps it yet: a larger file is harmless */
		}
		int ret = err_sys(err, "cannot allocate %llu bytes in %s",
			(unsigned long long)(new_brk - old), d->path);

		if (err == ENOSPC || err == EFBIG || err == EDQUOT)
			return -ENOMEM;
		return ret;
	}
	/* the allocation must be durable before a header points at it */
	return dev_sync(d, 0);
}

int
dev_trim(struct dev *d, const struct hdr *h, uint64_t brk)
{
	if (ftruncate(d->fd, (off_t)(h->data_off + brk)))
		return err_sys(errno, "truncate %s", d->path);
	return 0;
}
