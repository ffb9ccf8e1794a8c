/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dev.c -- the backing of a pheap: a file, or a device-dax device.
 *
 * Files: the size is kept at data_off + brk.  Growing truncates away
 * anything a crashed shrink left beyond the break, then fallocates, so new
 * heap memory is always fresh zero-filled blocks and a full file system
 * shows up as -ENOMEM from pbrk instead of SIGBUS later.  The header is read
 * with pread (not through a mapping), so a truncated or hostile file cannot
 * crash us.
 *
 * Durability without fdatasync: fdatasync would also write back every dirty
 * page of the heap -- including the freshly populated zero pages of a grow,
 * which it then write-protects, so the next sweep takes a fault per page.
 * Once attached we msync() only the header's page instead: on Linux that
 * is fsync of just that range, and it still commits the file's metadata
 * (the fallocated blocks, the size) to the journal and flushes the disk.
 *
 * Devdax: no read/write system calls, so the header area (the first
 * device-alignment unit) is mapped with libpmem2 at open and the header is
 * copied in and out of it, written with libpmem2's persisting memcpy.  The
 * device's size never changes, so the mapping cannot fault.  Storage is
 * never freed; grown memory is zeroed by pbrk.
 *
 * Test build (PHEAP_TESTING, testhook.h): a TH_POINT before every step that
 * changes the file (truncate, allocate, sync) and a TH_DURABLE after every
 * sync; dev_check_badblocks and dev_usc take injected answers, so their
 * NVDIMM-only paths run on plain files too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <libpmem2.h>

#include "daxdev.h"
#include "dev.h"

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
file_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct dev *d = ctx;
	ssize_t n = pwrite(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return err_sys(errno, "writing header of %s", d->path);
	if ((size_t)n != len)
		return err_set(EIO, "short header write to %s", d->path);
	return file_sync(d, off);
}

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

	if (d->rdonly)
		return err_set(EACCES, "%s is open read-only", d->path);
	pmem2_get_memcpy_fn(d->area_map)((char *)d->area + off, buf, len, 0);
	return 0;
}

static void
file_init_io(struct dev *d)
{
	d->io.read = file_read;
	d->io.write = file_write;
	d->io.ctx = d;
	d->io.lim.max_capacity = HDR_MAX_SPAN;
	d->io.lim.data_off = HDR_AREA_SIZE;
	d->io.lim.allow_free = 0;
}

/* maps the first alignment unit of a dax device: header and runtime page */
static int
dax_open(struct dev *d, dev_t rdev)
{
	struct daxdev_info di;
	struct pmem2_config *cfg;
	int ret = daxdev_info(rdev, &di);

	if (ret)
		return err_set(EUCLEAN, "%s is not a dax device", d->path);
	if (!di.nvdimm)
		return err_set(ENOTSUP, "%s (%s) is not an NVDIMM namespace; "
			"libpmem2 1.12 cannot map such devices (pmem/pmdk#6160)",
			d->path, di.name);
	if (di.align != PHEAP_PAGE_SIZE)
		return err_set(ENOTSUP, "%s: alignment %#llx; pheaps need a "
			"2 MiB aligned device (ndctl create-namespace -a 2M)",
			d->path, (unsigned long long)di.align);
	if (di.size < HDR_AREA_SIZE + PHEAP_PAGE_SIZE)
		return err_set(ENOTSUP, "%s is too small", d->path);
	d->devdax = 1;
	d->size = di.size;
	d->area_len = di.align;
	ret = pmem2_source_from_fd(&d->src, d->fd);
	if (ret)
		return err_pmem2(ret, "pmem2 source %s", d->path);
	ret = pmem2_config_new(&cfg);
	if (ret)
		return err_pmem2(ret, "pmem2 config %s", d->path);
	pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
	pmem2_config_set_length(cfg, d->area_len);
	pmem2_config_set_protection(cfg, d->rdonly ? PMEM2_PROT_READ :
		PMEM2_PROT_READ | PMEM2_PROT_WRITE);
	ret = pmem2_map_new(&d->area_map, cfg, d->src);
	pmem2_config_delete(&cfg);
	if (ret)
		return err_pmem2(ret, "mapping the header of %s", d->path);
	d->area = pmem2_map_get_address(d->area_map);
	d->io.read = dax_read;
	d->io.write = dax_write;
	d->io.ctx = d;
	d->io.lim.data_off = HDR_AREA_SIZE;
	d->io.lim.max_capacity = (di.size - HDR_AREA_SIZE) &
		~(PHEAP_PAGE_SIZE - 1);
	if (d->io.lim.max_capacity > HDR_MAX_SPAN)
		d->io.lim.max_capacity = HDR_MAX_SPAN;
	d->io.lim.allow_free = 1;
	return 0;
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

	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->rdonly = rdonly;
	snprintf(d->path, sizeof(d->path), "%s", path);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		file_init_io(d);
		return 0;
	}
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode))
		ret = dax_open(d, st.st_rdev);
	else
		ret = err_set(EUCLEAN, "%s is not a regular file", path);
	if (ret)
		dev_close(d);
	return ret;
}

void
dev_adopt(struct dev *d, int fd, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	snprintf(d->path, sizeof(d->path), "%s", path);
	file_init_io(d);
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

int
dev_map_area(struct dev *d)
{
	int prot = d->rdonly ? PROT_READ : PROT_READ | PROT_WRITE;
	void *a;

	if (d->area)		/* devdax: mapped at open */
		return 0;
	a = mmap(NULL, HDR_AREA_SIZE, prot, MAP_SHARED, d->fd, 0);
	if (a == MAP_FAILED)
		return err_sys(errno, "mapping the header area of %s", d->path);
	d->area = a;
	d->area_len = HDR_AREA_SIZE;
	return 0;
}

void
dev_close(struct dev *d)
{
	if (d->area_map)
		pmem2_map_delete(&d->area_map);
	else if (d->area)
		munmap(d->area, d->area_len);
	d->area = NULL;
	if (d->src)
		pmem2_source_delete(&d->src);
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int
dev_check_size(const struct dev *d, const struct hdr *h)
{
	struct stat st;

	if (d->devdax)	/* hdr_validate held capacity to the device size */
		return 0;
	if (fstat(d->fd, &st))
		return err_sys(errno, "fstat %s", d->path);
	if ((uint64_t)st.st_size < h->data_off + h->brk)
		return err_set(EUCLEAN, "%s is %lld bytes, its header needs %llu",
			d->path, (long long)st.st_size,
			(unsigned long long)(h->data_off + h->brk));
	return 0;
}

/* -EIO if the bad range [off, off + len) lies inside the heap */
static int
badblock_in_heap(const struct dev *d, const struct hdr *h, uint64_t off,
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
	struct pmem2_badblock_context *bbctx;
	struct pmem2_badblock bb;
	int ret = 0;

#ifdef PHEAP_TESTING
	uint64_t bb_off, bb_len;

	/* test build: an injected bad range, on any backend */
	if (testhook_badblock(&bb_off, &bb_len))
		return badblock_in_heap(d, h, bb_off, bb_len);
#endif
	if (!d->devdax || pmem2_badblock_context_new(&bbctx, d->src))
		return 0;	/* nothing known, or not supported here */
	while (ret == 0 && pmem2_badblock_next(bbctx, &bb) == 0)
		ret = badblock_in_heap(d, h, bb.offset, bb.length);
	pmem2_badblock_context_delete(&bbctx);
	return ret;
}

static int
dev_is_fsdax(const struct dev *d)
{
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif
	struct statx sx;

	/* the file's DAX attribute (Linux 5.8), known before anything is mapped */
	return !d->devdax && statx(d->fd, "", AT_EMPTY_PATH, 0, &sx) == 0 &&
		(sx.stx_attributes_mask & STATX_ATTR_DAX) &&
		(sx.stx_attributes & STATX_ATTR_DAX);
}

int
dev_usc(const struct dev *d, uint64_t *usc)
{
	struct pmem2_source *src = d->src;
	int ret;

#ifdef PHEAP_TESTING
	/* test build: an injected count, on any backend */
	if (testhook_usc(usc))
		return 0;
#endif
	if (!d->devdax && !dev_is_fsdax(d))
		return -ENOTSUP;	/* the page cache: no pmem under it */
	if (!src && pmem2_source_from_fd(&src, d->fd))
		return -ENOTSUP;
	/* needs the DIMMs' health data (ndctl); emulated pmem has none */
	ret = pmem2_source_device_usc(src, usc);
	if (src != d->src)
		pmem2_source_delete(&src);
	return ret ? -ENOTSUP : 0;
}

uint64_t
dev_capacity(const struct dev *d, const struct hdr *h)
{
	struct statvfs vfs;
	uint64_t cap = h->capacity;

	if (!d->devdax && fstatvfs(d->fd, &vfs) == 0) {
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

	if (d->devdax)
		return 0;
	TH_POINT("dev.grow.truncate");
	if (ftruncate(d->fd, start))
		return err_sys(errno, "truncate %s", d->path);
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
	/* the allocation must be durable before a header points at it */
	return file_sync(d, 0);
}

int
dev_trim(struct dev *d, const struct hdr *h, uint64_t brk)
{
	struct stat sb;

	if (d->devdax)
		return 0;
	if (fstat(d->fd, &sb) == 0 && (uint64_t)sb.st_size <= h->data_off + brk)
		return 0;	/* nothing beyond the break */
	TH_POINT("dev.trim");
	if (ftruncate(d->fd, (off_t)(h->data_off + brk)))
		return err_sys(errno, "truncate %s", d->path);
	return 0;
}

int
dev_grow_zeroed(const struct dev *d)
{
	/* a device keeps what an earlier, larger heap wrote there */
	return !d->devdax;
}

int
dev_sync_mode(struct dev *d)
{
	/* a device node's mode lives in devtmpfs: attach re-applies it */
	if (!d->devdax && fsync(d->fd))
		return err_sys(errno, "fsync %s", d->path);
	return 0;
}

int
dev_kind(const struct dev *d, int dax_mapped)
{
	if (d->devdax)
		return PHEAP_BACKEND_DEVDAX;
	return dax_mapped || dev_is_fsdax(d) ? PHEAP_BACKEND_FSDAX :
		PHEAP_BACKEND_FILE;
}

int
dev_owner_in_header(const struct dev *d, const struct stat *sb)
{
	/* udev gives device nodes to root: only whom the administrator let
	 * write the node could have written its header */
	return d->devdax && sb->st_uid == 0;
}

int
dev_is_standalone(const struct stat *st)
{
	return S_ISCHR(st->st_mode);
}

int
dev_discard(const char *path, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return unlink(path) ? err_sys(errno, "unlink %s", path) : 0;
	return pheap_format_device(path, PHEAP_FORMAT_FORCE);
}
