/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * backend_file.c -- a pheap in a regular file of a pool directory, on any
 * file system: the page cache (PHEAP_BACKEND_FILE) or DAX (fsdax,
 * PHEAP_BACKEND_FSDAX).
 *
 * fsdax is a property of this backend, not a backend of its own: every
 * storage operation below is the same system call on a DAX file and on
 * any other, and what does differ -- MAP_SYNC and cache-flush persistence
 * -- belongs to the heap's mapping, which reservation.c sets up from the
 * store granularity libpmem2 finds for the mapping itself.  Which kind a
 * file is can also change under an open descriptor (dax=inode, or a
 * kernel without STATX_ATTR_DAX, where only the mapping can tell), so it
 * is asked where it matters -- the unsafe shutdown count, the kind
 * reported -- rather than fixed once by choosing a table at open.
 *
 * Storage: the file's size is kept at data_off + brk.  Growing truncates
 * away anything a crashed shrink left beyond the break, so new heap memory
 * is always zero.  Then, on the page cache, it only extends the size: the
 * grower populates the new range for writing at once (brk.c), which is
 * where the file system reserves the blocks (ext4 and xfs delayed
 * allocation reserve them when a page is first made writable), so a full
 * file system still shows up as -ENOMEM from pbrk, never as SIGBUS later
 * -- and with 2 MiB folios that is 10x cheaper than fallocate's unwritten
 * extents, which each 2 MiB folio then converts.  On DAX, whose faults
 * allocate directly, and on kernels without MADV_POPULATE_WRITE (before
 * 5.14), it fallocates.  Nothing is synced here: the one msync of the
 * header copy that names the new break commits the size and the
 * allocation with it; a crash before leaves either the old size, or a
 * copy naming storage the file lacks, which header.c does not believe --
 * the old break, which the old copy names, stays the header.  The header is read with
 * pread (not through a mapping), so a truncated or hostile file cannot
 * crash us.
 *
 * Durability without fdatasync: fdatasync would also write back every
 * dirty page of the heap -- including the freshly populated zero pages of
 * a grow, which it then write-protects, so the next sweep takes a fault
 * per page.  Once attached we msync() only the header's page instead: on
 * Linux that is fsync of just that range, and it still commits the file's
 * metadata (the fallocated blocks, the size) to the journal and flushes
 * the disk.
 *
 * Heap bytes without a mapping (pheap_pread(3) and co., offline.c): pread,
 * and pwritev2 with RWF_DSYNC -- the write and the sync of just its range
 * in one call (the kernel's O_DSYNC path: vfs_fsync_range, which commits
 * what reading the range back needs and flushes the disk), durable when it
 * returns, without writing back the rest of the file's dirty pages as
 * fdatasync would.  Neither raises a signal: a read past the end is short,
 * and on DAX the kernel's read path copies with machine-check recovery
 * and fails with EIO on poison.  A write past the end extends the file;
 * offline.c, which knows the break, puts that right.
 *
 * Test build (PHEAP_TESTING, testhook.h): a TH_POINT before every step
 * that changes the file (truncate, allocate, sync, a heap write) and a
 * TH_DURABLE after every sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <libpmem2.h>

#include "backend.h"

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static int file_is_fsdax(const struct dev *d);

/* makes the page holding device offset off, and the file's metadata, durable */
static int
file_sync(struct dev *d, uint64_t off)
{
	uint64_t page = off & ~(uint64_t)4095;

	if (!d->area) {
		TH_POINT("dev.sync.fdatasync");
		if (fdatasync(d->fd))
			return err_sys(errno, "fdatasync %s", d->path);
		TH_DURABLE(d->fd, 0, 0, TH_SYNC_DATA);
		return 0;
	}
	TH_POINT("dev.sync.msync");
	if (msync((char *)d->area + page, 4096, MS_SYNC))
		return err_sys(errno, "msync header of %s", d->path);
	TH_DURABLE(d->fd, page, 4096, TH_SYNC_RANGE);
	return 0;
}

static int
file_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct dev *d = ctx;
	ssize_t n = pread(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return err_sys(errno, "reading header of %s", d->path);
	if ((size_t)n < len)	/* a short file holds no header there */
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

static int
file_write_lazy(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct dev *d = ctx;
	ssize_t n = pwrite(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return err_sys(errno, "writing header of %s", d->path);
	if ((size_t)n != len)
		return err_set(EIO, "short header write to %s", d->path);
	return 0;
}

/* the page, and with it the file's size and allocation, durable */
static int
file_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	int ret = file_write_lazy(ctx, off, buf, len);

	return ret ? ret : file_sync(ctx, off);
}

static uint64_t
file_size(void *ctx)
{
	struct stat sb;

	return fstat(((struct dev *)ctx)->fd, &sb) ? UINT64_MAX :
		(uint64_t)sb.st_size;
}

static int
file_probe(const struct stat *st)
{
	return S_ISREG(st->st_mode);
}

/* st may be NULL (dev_adopt: a file being created): nothing here can fail */
static int
file_open(struct dev *d, const struct stat *st)
{
	(void)st;
	d->io.lim.max_capacity = HDR_MAX_SPAN;
	d->io.lim.data_off = HDR_AREA_SIZE;
	d->io.lim.unit = PHEAP_PAGE_SIZE;
	return 0;
}

static void
file_close(struct dev *d)
{
	if (d->area)
		munmap(d->area, d->area_len);
	d->area = NULL;
}

static int
file_map_area(struct dev *d)
{
	int prot = d->rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *a;

	if (d->area)
		return 0;
	/* a short file would SIGBUS whoever touches its runtime page */
	if (file_size(d) < HDR_AREA_SIZE)
		return err_set(EUCLEAN, "%s is shorter than a header area",
			d->path);
	a = mmap(NULL, HDR_AREA_SIZE, prot, MAP_SHARED, d->fd, 0);
	if (a == MAP_FAILED)
		return err_sys(errno, "mapping the header area of %s", d->path);
	d->area = a;
	d->area_len = HDR_AREA_SIZE;
	return 0;
}

static int
file_check_size(const struct dev *d, const struct hdr *h)
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

/* the header's capacity, capped by the file system's free space */
static uint64_t
file_capacity(const struct dev *d, const struct hdr *h)
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

/* a populate for writing allocates: the kernel has MADV_POPULATE_WRITE */
static int
populate_allocates(const struct dev *d)
{
	static int known;	/* 1 yes, -1 no */
	void *p;

	if (!known) {
		p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		known = p != MAP_FAILED && madvise(p, 0, MADV_POPULATE_WRITE) == 0 ?
			1 : -1;
		if (p != MAP_FAILED)
			munmap(p, 4096);
	}
	return known > 0 && !file_is_fsdax(d);
}

static int
file_grow(struct dev *d, const struct hdr *h, uint64_t old, uint64_t new_brk)
{
	off_t start = (off_t)(h->data_off + old);
	int err;

	/* what a crashed shrink left beyond the break goes first */
	TH_POINT("dev.grow.truncate");
	if (file_size(d) != (uint64_t)start && ftruncate(d->fd, start))
		return err_sys(errno, "truncate %s", d->path);
	if (populate_allocates(d)) {
		TH_POINT("dev.grow.size");
		if (ftruncate(d->fd, (off_t)(h->data_off + new_brk))) {
			int ret = err_sys(errno, "growing %s", d->path);

			return errno == EFBIG ? -ENOMEM : ret;
		}
		return 0;	/* durable with the header that names it */
	}
	TH_POINT("dev.grow.fallocate");
	err = posix_fallocate(d->fd, start, (off_t)(new_brk - old));
	if (err) {
		int ret = err_sys(err, "cannot allocate %llu bytes in %s",
			(unsigned long long)(new_brk - old), d->path);

		if (ftruncate(d->fd, start)) {
			/* nothing maps it yet: a larger file is harmless */
		}
		if (err == ENOSPC || err == EFBIG || err == EDQUOT)
			return -ENOMEM;
		return ret;
	}
	/* durable with the header that names it (header.c: size) */
	return 0;
}

/* not made durable: a crash leaves a longer file, which the next grow
 * truncates (and dev_check_size accepts) */
static int
file_trim(struct dev *d, const struct hdr *h, uint64_t brk)
{
	struct stat sb;

	if (fstat(d->fd, &sb) == 0 && (uint64_t)sb.st_size <= h->data_off + brk)
		return 0;	/* nothing beyond the break */
	TH_POINT("dev.trim");
	if (ftruncate(d->fd, (off_t)(h->data_off + brk)))
		return err_sys(errno, "truncate %s", d->path);
	return 0;
}

static int
file_beyond(const struct dev *d, const struct hdr *h)
{
	struct stat sb;

	return fstat(d->fd, &sb) == 0 &&
		(uint64_t)sb.st_size > h->data_off + h->brk;
}

static ssize_t
file_data_read(const struct dev *d, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(d->fd, (char *)buf + done, len - done,
			(off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && done == 0)
			return err_sys(errno, "reading %s at %#llx", d->path,
				(unsigned long long)(off + done));
		if (n <= 0)
			break;	/* the end of a file shrunk meanwhile, or an
				 * error after some bytes: they are the answer */
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* one write of at most len bytes at off, durable when it returns: the
 * bytes written or -errno (errno kept) */
static ssize_t
write_dsync(int fd, const void *buf, size_t len, uint64_t off)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	ssize_t n = pwritev2(fd, &iov, 1, (off_t)off, RWF_DSYNC);

	if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS))
		return n < 0 ? -errno : n;
	/* a kernel before 4.7: the write, then the whole file's data */
	n = pwrite(fd, buf, len, (off_t)off);
	if (n > 0 && fdatasync(fd))
		return -errno;
	return n < 0 ? -errno : n;
}

static ssize_t
file_data_write(struct dev *d, uint64_t off, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		TH_POINT("dev.data.write");
		ssize_t n = write_dsync(d->fd, (const char *)buf + done,
			len - done, off + done);

		if (n == -EINTR)
			continue;
		if (n == 0)
			n = -EIO;	/* a regular file writes something */
		if (n < 0 && done == 0)
			return err_sys((int)-n, "writing %s at %#llx", d->path,
				(unsigned long long)(off + done));
		if (n < 0)
			break;	/* an error after some bytes: they are durable */
		TH_DURABLE(d->fd, off + done, (uint64_t)n, TH_SYNC_RANGE);
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static int
file_sync_mode(struct dev *d)
{
	if (fsync(d->fd))
		return err_sys(errno, "fsync %s", d->path);
	return 0;
}

/* the file's DAX attribute (Linux 5.8), known before anything is mapped */
static int
file_is_fsdax(const struct dev *d)
{
	struct statx sx;

	return statx(d->fd, "", AT_EMPTY_PATH, 0, &sx) == 0 &&
		(sx.stx_attributes_mask & STATX_ATTR_DAX) &&
		(sx.stx_attributes & STATX_ATTR_DAX);
}

static int
file_usc(const struct dev *d, uint64_t *usc)
{
	struct pmem2_source *src;
	int ret;

	if (!file_is_fsdax(d))
		return -ENOTSUP;	/* the page cache: no pmem under it */
	if (pmem2_source_from_fd(&src, d->fd))
		return -ENOTSUP;
	/* needs the DIMMs' health data (ndctl); emulated pmem has none */
	ret = pmem2_source_device_usc(src, usc);
	pmem2_source_delete(&src);
	return ret ? -ENOTSUP : 0;
}

static int
file_kind(const struct dev *d, int dax_mapped)
{
	return dax_mapped || file_is_fsdax(d) ? PHEAP_BACKEND_FSDAX :
		PHEAP_BACKEND_FILE;
}

static int
file_discard(const char *path)
{
	if (unlink(path))
		return err_sys(errno, "unlink %s", path);
	return 0;
}

const struct backend_ops backend_file_ops = {
	.name = "file",
	.standalone = 0,
	.grow_zeroed = 1,	/* fallocate: fresh zero-filled blocks */
	.probe = file_probe,
	.open = file_open,
	.close = file_close,
	.hdr_read = file_read,
	.hdr_write = file_write,
	.hdr_write_lazy = file_write_lazy,
	.size = file_size,
	.map_area = file_map_area,
	.capacity = file_capacity,
	.kind = file_kind,
	.discard = file_discard,
	.data_read = file_data_read,
	.data_write = file_data_write,
	.check_size = file_check_size,
	.grow = file_grow,
	.trim = file_trim,
	.beyond = file_beyond,
	.sync_mode = file_sync_mode,
	.usc = file_usc,
	/* .badblocks: none known on files (libpmem2 could read an fsdax
	 * file's namespace; the library never has) */
	/* .header_owner: a file's owner is the pheap's */
};
