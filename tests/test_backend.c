/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_backend.c -- the backends' ops tables, called directly (linked with
 * the library's objects): the file backend on real temporary files --
 * check_size, grow, trim (which must give the blocks back: st_blocks of a
 * sparse file), capacity, the header I/O, kind, discard -- and how dev.c
 * chooses a table from the fstat.  The devdax table is checked for what
 * needs no device; test_devdax runs it on one.  The heap's bytes without a
 * mapping (data_read, data_write, beyond: what pheap_pread(3) stands on),
 * and mcsafe_copy -- the devdax read's copy -- on a file mapping whose
 * storage is gone: SIGBUS becomes -EIO, from many threads at once, and the
 * application's SIGBUS handler is left as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "pheap.h"
#include "backend.h"
#include "mcsafe.h"
#include "util.h"

static const struct backend_ops *const F = &backend_file_ops;
static char path[4096];

/* a fresh empty file in a fresh pool directory, opened as a pheap's */
static void
open_file(struct dev *d)
{
	int fd;

	snprintf(path, sizeof(path), "%s/backend.pheap", tu_pool());
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(dev_init(d, fd, path, 0), 0);
	CU_ASSERT_PTR_EQUAL_FATAL(d->ops, F);
}

static struct stat
stat_of(const struct dev *d)
{
	struct stat sb;

	memset(&sb, 0, sizeof(sb));
	CU_ASSERT_EQUAL(fstat(d->fd, &sb), 0);
	return sb;
}

/* a header of a heap with this break, not written anywhere */
static struct hdr
hdr_at(uint64_t brk)
{
	struct hdr h;

	memset(&h, 0, sizeof(h));
	h.data_off = HDR_AREA_SIZE;
	h.capacity = HDR_MAX_SPAN;
	h.brk = brk;
	return h;
}

/* 1 if [off, off + len) of the file reads as zeros */
static int
zeroed(const struct dev *d, uint64_t off, size_t len)
{
	static char buf[1 << 16];

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (pread(d->fd, buf, n, (off_t)off) != (ssize_t)n)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i])
				return 0;
		off += n;
		len -= n;
	}
	return 1;
}

static void
test_choice(void)
{
	struct stat sb;
	struct dev d;

	/* by the file's type, whatever its name */
	memset(&sb, 0, sizeof(sb));
	sb.st_mode = S_IFREG | 0600;
	CU_ASSERT_TRUE(F->probe(&sb));
	CU_ASSERT_FALSE(backend_devdax_ops.probe(&sb));
	CU_ASSERT_FALSE(dev_is_standalone(&sb));
	sb.st_mode = S_IFCHR | 0600;
	CU_ASSERT_FALSE(F->probe(&sb));
	CU_ASSERT_TRUE(backend_devdax_ops.probe(&sb));
	CU_ASSERT_TRUE(dev_is_standalone(&sb));
	sb.st_mode = S_IFDIR | 0700;
	CU_ASSERT_FALSE(dev_is_standalone(&sb));
	/* served by nobody: a directory; a device that is not dax */
	CU_ASSERT_EQUAL(dev_open(&d, tu_pool(), 1), -EUCLEAN);
	CU_ASSERT_EQUAL(d.fd, -1);
	CU_ASSERT_EQUAL(dev_open(&d, "/dev/null", 1), -EUCLEAN);
	CU_ASSERT_EQUAL(d.fd, -1);
	/* a regular file: the file backend, nothing mapped yet */
	open_file(&d);
	CU_ASSERT_STRING_EQUAL(d.ops->name, "file");
	CU_ASSERT_PTR_NULL(d.area);
	CU_ASSERT_PTR_NULL(d.priv);
	CU_ASSERT_EQUAL(d.io.lim.data_off, HDR_AREA_SIZE);
	CU_ASSERT_EQUAL(d.io.lim.max_capacity, HDR_MAX_SPAN);
	CU_ASSERT_EQUAL(d.io.lim.unit, PHEAP_PAGE_SIZE);
	CU_ASSERT_FALSE(d.io.lim.allow_free);
	dev_close(&d);
	CU_ASSERT_EQUAL(d.fd, -1);
}

static void
test_devdax_table(void)
{
	const struct backend_ops *x = &backend_devdax_ops;
	struct stat sb;

	CU_ASSERT_STRING_EQUAL(x->name, "devdax");
	CU_ASSERT_TRUE(x->standalone);
	CU_ASSERT_FALSE(x->grow_zeroed);	/* pbrk zeroes a grown range */
	/* fixed storage: nothing to check, allocate or free */
	CU_ASSERT_PTR_NULL(x->check_size);
	CU_ASSERT_PTR_NULL(x->grow);
	CU_ASSERT_PTR_NULL(x->trim);
	CU_ASSERT_PTR_NULL(x->beyond);
	CU_ASSERT_PTR_NULL(x->sync_mode);
	CU_ASSERT_PTR_NOT_NULL(x->data_read);
	CU_ASSERT_PTR_NOT_NULL(x->data_write);
	/* a node root owns names its owner in the header */
	memset(&sb, 0, sizeof(sb));
	sb.st_mode = S_IFCHR | 0600;
	CU_ASSERT_TRUE(x->header_owner(&sb));
	sb.st_uid = 1000;
	CU_ASSERT_FALSE(x->header_owner(&sb));
	/* the file backend: the file's owner is the owner */
	CU_ASSERT_PTR_NULL(F->header_owner);
	CU_ASSERT_FALSE(F->standalone);
	CU_ASSERT_TRUE(F->grow_zeroed);
}

static void
test_file_size(void)
{
	struct dev d;
	struct hdr h = hdr_at(0);

	open_file(&d);
	/* an empty file holds no header area */
	CU_ASSERT_EQUAL(F->check_size(&d, &h), -EUCLEAN);
	CU_ASSERT_EQUAL(ftruncate(d.fd, HDR_AREA_SIZE), 0);
	CU_ASSERT_EQUAL(F->check_size(&d, &h), 0);
	h.brk = PG;
	CU_ASSERT_EQUAL(F->check_size(&d, &h), -EUCLEAN);
	CU_ASSERT_EQUAL(F->grow(&d, &h, 0, 2 * PG), 0);
	CU_ASSERT_EQUAL(stat_of(&d).st_size, HDR_AREA_SIZE + 2 * PG);
	/* longer than the break is fine: a shrink not yet trimmed */
	CU_ASSERT_EQUAL(F->check_size(&d, &h), 0);
	dev_close(&d);
}

/* what brk.c does after a grow: map the range and populate it for
 * writing, which is where the file system reserves its blocks */
static void
populate_write(struct dev *d, uint64_t off, uint64_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		(off_t)off);

	CU_ASSERT_FATAL(p != MAP_FAILED);
	CU_ASSERT_EQUAL(madvise(p, len, 23 /* MADV_POPULATE_WRITE */), 0);
	munmap(p, len);
}

static void
test_file_grow(void)
{
	struct dev d;
	struct hdr h = hdr_at(0);
	char junk[4096];

	open_file(&d);
	CU_ASSERT_EQUAL(ftruncate(d.fd, HDR_AREA_SIZE), 0);
	CU_ASSERT_EQUAL(F->grow(&d, &h, 0, 2 * PG), 0);
	CU_ASSERT_TRUE(zeroed(&d, HDR_AREA_SIZE, 2 * PG));
	/* allocated (or reserved) by the populate that follows a grow: a
	 * full disk fails there, in pbrk, not at a store */
	populate_write(&d, HDR_AREA_SIZE, 2 * PG);
	CU_ASSERT(stat_of(&d).st_blocks * 512 >= (off_t)(2 * PG));
	/* a crashed shrink left [PG, 2 PG) with data beyond a break of PG:
	 * growing again over it gives zeros, never the old bytes */
	memset(junk, 0x5a, sizeof(junk));
	CU_ASSERT_EQUAL(pwrite(d.fd, junk, sizeof(junk),
		(off_t)(HDR_AREA_SIZE + PG + 4096)), (ssize_t)sizeof(junk));
	h.brk = PG;
	CU_ASSERT_EQUAL(F->grow(&d, &h, PG, 3 * PG), 0);
	CU_ASSERT_EQUAL(stat_of(&d).st_size, HDR_AREA_SIZE + 3 * PG);
	CU_ASSERT_TRUE(zeroed(&d, HDR_AREA_SIZE + PG, 2 * PG));
	dev_close(&d);
}

static void
test_file_trim(void)
{
	struct dev d;
	struct hdr h = hdr_at(0);

	open_file(&d);
	CU_ASSERT_EQUAL(ftruncate(d.fd, HDR_AREA_SIZE), 0);
	CU_ASSERT_EQUAL(F->grow(&d, &h, 0, 4 * PG), 0);
	populate_write(&d, HDR_AREA_SIZE, 4 * PG);
	/* the header area is a hole: the blocks are the heap's */
	blkcnt_t before = stat_of(&d).st_blocks;

	CU_ASSERT(before * 512 >= (off_t)(4 * PG));
	h.brk = 4 * PG;
	CU_ASSERT_EQUAL(F->trim(&d, &h, PG), 0);
	struct stat sb = stat_of(&d);

	CU_ASSERT_EQUAL(sb.st_size, HDR_AREA_SIZE + PG);
	/* three pages' blocks given back to the file system */
	CU_ASSERT(before - sb.st_blocks >= (blkcnt_t)(3 * PG / 512));
	CU_ASSERT(sb.st_blocks * 512 <= (off_t)(PG + 64 * 1024));
	/* nothing beyond the break: nothing to do */
	CU_ASSERT_EQUAL(F->trim(&d, &h, PG), 0);
	CU_ASSERT_EQUAL(stat_of(&d).st_size, HDR_AREA_SIZE + PG);
	CU_ASSERT_EQUAL(F->trim(&d, &h, 2 * PG), 0);
	CU_ASSERT_EQUAL(stat_of(&d).st_size, HDR_AREA_SIZE + PG);
	/* through dev.c, the same */
	CU_ASSERT_EQUAL(dev_trim(&d, &h, 0), 0);
	CU_ASSERT_EQUAL(stat_of(&d).st_size, HDR_AREA_SIZE);
	dev_close(&d);
}

static void
test_file_capacity(void)
{
	struct dev d;
	struct statvfs vfs;
	struct hdr h = hdr_at(PG);

	open_file(&d);
	CU_ASSERT_EQUAL_FATAL(fstatvfs(d.fd, &vfs), 0);
	uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	/* never beyond the header's, never below the break */
	uint64_t cap = F->capacity(&d, &h);

	CU_ASSERT(cap <= HDR_MAX_SPAN);
	CU_ASSERT(cap >= PG);
	CU_ASSERT_EQUAL(cap % PG, 0);
	/* a file system with much less than 1 TiB free caps it */
	if (avail < HDR_MAX_SPAN / 2)
		CU_ASSERT(cap < HDR_MAX_SPAN);
	/* a small capacity is the header's */
	h.capacity = 2 * PG;
	if (avail > 4 * PG)
		CU_ASSERT_EQUAL(F->capacity(&d, &h), 2 * PG);
	CU_ASSERT_EQUAL(dev_capacity(&d, &h), F->capacity(&d, &h));
	dev_close(&d);
}

static void
test_file_header_io(void)
{
	struct dev d;
	struct hdr_found f;
	struct hdr h = hdr_at(0);
	char buf[512];

	open_file(&d);
	/* a short file reads as zeros: no header there, no error */
	memset(buf, 1, sizeof(buf));
	CU_ASSERT_EQUAL(F->hdr_read(&d, 0, buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(buf[0], 0);
	CU_ASSERT_EQUAL(buf[sizeof(buf) - 1], 0);
	CU_ASSERT_EQUAL(ftruncate(d.fd, HDR_AREA_SIZE), 0);
	h.base = 0x2a0002000000UL;
	h.uid = getuid();
	h.mode = 0600;
	h.id_len = 3;
	memcpy(h.id, "abc", 3);
	/* before the area is mapped (fdatasync), then after (msync) */
	CU_ASSERT_EQUAL(hdr_format(&d.io, &h), 0);
	CU_ASSERT_EQUAL(F->map_area(&d), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d.area);
	CU_ASSERT_EQUAL(d.area_len, HDR_AREA_SIZE);
	void *area = d.area;

	CU_ASSERT_EQUAL(dev_map_area(&d), 0);	/* mapped once */
	CU_ASSERT_PTR_EQUAL(d.area, area);
	CU_ASSERT_EQUAL(hdr_load_id(&d.io, "abc", 3, path, &f), 0);
	f.hdr.mode = 0640;
	CU_ASSERT_EQUAL(hdr_store(&d.io, &f.hdr, &f.slot), 0);
	CU_ASSERT_EQUAL(hdr_load_id(&d.io, "abc", 3, path, &f), 0);
	CU_ASSERT_EQUAL(f.hdr.mode, 0640);
	/* the mapping shows what pwrite wrote, both copies */
	for (int s = 0; s < HDR_NSLOTS; s++) {
		CU_ASSERT_EQUAL(pread(d.fd, buf, sizeof(buf),
			s * HDR_SLOT_SIZE), (ssize_t)sizeof(buf));
		CU_ASSERT_EQUAL(memcmp((char *)area + s * HDR_SLOT_SIZE, buf,
			sizeof(buf)), 0);
	}
	F->close(&d);
	CU_ASSERT_PTR_NULL(d.area);
	F->close(&d);			/* twice is harmless */
	dev_close(&d);
}

static void
test_file_rest(void)
{
	struct dev d;
	struct stat sb;
	uint64_t usc;

	open_file(&d);
	/* /tmp is no DAX file system: no unsafe shutdown count there */
	if (F->kind(&d, 0) == PHEAP_BACKEND_FILE)
		CU_ASSERT_EQUAL(F->usc(&d, &usc), -ENOTSUP);
	/* a DAX mapping makes it fsdax, whatever statx said */
	CU_ASSERT_EQUAL(F->kind(&d, 1), PHEAP_BACKEND_FSDAX);
	CU_ASSERT_EQUAL(F->sync_mode(&d), 0);
	CU_ASSERT_EQUAL(dev_sync_mode(&d), 0);
	CU_ASSERT_TRUE(dev_grow_zeroed(&d));
	sb = stat_of(&d);
	CU_ASSERT_FALSE(dev_owner_in_header(&d, &sb));
	dev_close(&d);
	/* an unattachable creation goes away */
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(dev_discard(path, &sb), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
	CU_ASSERT_EQUAL(F->discard(path), -ENOENT);
}

static void
test_file_data(void)
{
	struct dev d;
	struct hdr h = hdr_at(PG);
	char buf[64], big[3 * 4096];

	open_file(&d);
	CU_ASSERT_EQUAL(F->grow(&d, &h, 0, PG), 0);
	CU_ASSERT_FALSE(dev_beyond(&d, &h));
	/* what is written is read back, at device offsets */
	CU_ASSERT_EQUAL(dev_data_write(&d, HDR_AREA_SIZE + 100, "bytes", 6), 6);
	CU_ASSERT_EQUAL(dev_data_read(&d, HDR_AREA_SIZE + 100, buf, 6), 6);
	CU_ASSERT_STRING_EQUAL(buf, "bytes");
	CU_ASSERT_EQUAL(pread(d.fd, buf, 6, HDR_AREA_SIZE + 100), 6);
	CU_ASSERT_STRING_EQUAL(buf, "bytes");
	/* a read running past the end is short, at the end it is 0 */
	uint64_t end = HDR_AREA_SIZE + PG;
	CU_ASSERT_EQUAL(dev_data_read(&d, end - 4096, big, sizeof(big)), 4096);
	CU_ASSERT_EQUAL(dev_data_read(&d, end, big, sizeof(big)), 0);
	/* a write past the end extends the file: beyond says so, trim
	 * puts it right */
	CU_ASSERT_EQUAL(dev_data_write(&d, end + PG, "x", 1), 1);
	CU_ASSERT_TRUE(dev_beyond(&d, &h));
	CU_ASSERT_EQUAL(dev_trim(&d, &h, h.brk), 0);
	CU_ASSERT_FALSE(dev_beyond(&d, &h));
	CU_ASSERT_EQUAL((uint64_t)stat_of(&d).st_size, end);
	dev_close(&d);
	/* read-only: reads, and writes fail with the kernel's EBADF */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(dev_init(&d, fd, path, 1), 0);
	CU_ASSERT_EQUAL(dev_data_read(&d, HDR_AREA_SIZE + 100, buf, 6), 6);
	CU_ASSERT_EQUAL(dev_data_write(&d, HDR_AREA_SIZE, "y", 1), -EBADF);
	dev_close(&d);
}

/* ---- mcsafe_copy on a mapping whose storage is gone ---- */

static char *gone;	/* page 1 of a 2-page file mapping, truncated away */
static int app_sigbus;

static void
app_handler(int sig)
{
	(void)sig;
	app_sigbus++;
}

static void *
copy_gone(void *arg)
{
	char buf[256];
	long fails = 0;

	(void)arg;
	for (int i = 0; i < 200; i++)
		fails += mcsafe_copy(buf, gone + 4096, sizeof(buf)) == -EIO;
	return (void *)fails;
}

static void
test_mcsafe(void)
{
	char file[4200], buf[16];
	struct sigaction app, now;
	pthread_t th[8];

	snprintf(file, sizeof(file), "%s/mc", tu_pool());
	int fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(ftruncate(fd, 8192), 0);
	gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(gone != MAP_FAILED);
	strcpy(gone, "kept");
	CU_ASSERT_EQUAL(ftruncate(fd, 4096), 0);	/* page 1 is gone */
	close(fd);
	memset(&app, 0, sizeof(app));
	app.sa_handler = app_handler;
	CU_ASSERT_EQUAL(sigaction(SIGBUS, &app, NULL), 0);

	CU_ASSERT_EQUAL(mcsafe_copy(buf, gone, 5), 0);
	CU_ASSERT_STRING_EQUAL(buf, "kept");
	CU_ASSERT_EQUAL(mcsafe_copy(buf, gone + 4096, 8), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "bad block"));
	/* straddling the end: the fault is found past the good bytes */
	CU_ASSERT_EQUAL(mcsafe_copy(buf, gone + 4090, 16), -EIO);
	/* many threads at once: every fault is theirs, none reaches us */
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, copy_gone, NULL);
	for (int i = 0; i < 8; i++) {
		void *fails;

		pthread_join(th[i], &fails);
		CU_ASSERT_EQUAL((long)fails, 200);
	}
	CU_ASSERT_EQUAL(app_sigbus, 0);
	/* the application's handler is back */
	CU_ASSERT_EQUAL(sigaction(SIGBUS, NULL, &now), 0);
	CU_ASSERT_PTR_EQUAL((void *)now.sa_handler, (void *)app_handler);
	signal(SIGBUS, SIG_DFL);
	munmap(gone, 8192);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "the table is chosen by the file's type", test_choice },
		{ "devdax: fixed storage, header owner of root's node",
			test_devdax_table },
		{ "file: check_size against the break", test_file_size },
		{ "file: grow allocates zeroed blocks", test_file_grow },
		{ "file: trim frees the blocks beyond the break",
			test_file_trim },
		{ "file: capacity capped by free space", test_file_capacity },
		{ "file: header I/O before and after mapping",
			test_file_header_io },
		{ "file: kind, usc, mode sync, discard", test_file_rest },
		{ "file: heap bytes by system calls, never past the end "
			"unseen", test_file_data },
		{ "mcsafe_copy: SIGBUS is -EIO, in many threads; the "
			"handler stays the application's", test_mcsafe },
		{ NULL, NULL }
	};
	return tu_main("backend", tests);
}
