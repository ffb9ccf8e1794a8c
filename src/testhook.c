/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testhook.c -- the hooks of testhook.h; compiled only into the test-only
 * libpheap-testing (PHEAP_TESTING), never into libpheap-pmem.
 *
 * Crash points: testhook_point() numbers the points a process reaches and,
 * at the one the test chose, kills the process with SIGKILL at once (after
 * appending the point's name to the trace, so the test knows where).
 *
 * The shadow (emulated power cut, FILE backend, flat pool directory):
 *   <shadow>/<ino>.data  the durable contents of the file with inode ino
 *   <shadow>/<ino>.meta  "size mode uid gid" of what is durable
 *   <shadow>/dir.list    "ino name" lines: the durable directory listing
 * testhook_shadow_begin() declares the present pool durable.  Afterwards
 *   msync(range)  copies that range and records the file's size (Linux
 *                 commits the metadata that reading the data needs);
 *   fdatasync     copies the whole file and its size;
 *   fsync         also records mode and owner;
 *   fsync(dir)    records the directory's listing (names -> inodes).
 * A rename, unlink or create alone changes nothing durable, and a file's
 * mode changes only at fsync (its first record takes the mode it has).
 * testhook_shadow_restore() rebuilds the pool from the shadow: files never
 * listed durably vanish, names come back as last synced, sizes, modes and
 * owners revert to their last durable state.  Contents either revert too
 * (writeback 0), or are the live contents clipped to the durable size
 * (writeback 1: every dirty page had been written back, no metadata had
 * been committed since the last sync -- what ext4's data=ordered allows).
 *
 * What it models: a power cut at the crash point, where the storage kept
 * exactly what the durability calls promised (writeback 0), or that plus
 * all data (writeback 1).  Together with the plain kill (everything kept)
 * these are the corners of what write-back can do.  It does not model:
 * write-back of some dirty pages of a file but not others (here the dirty
 * pages of an operation are header copies, each alone in its 4 KiB block,
 * and freshly zeroed heap pages), metadata committed without a sync (a
 * journal commit by another file's fsync: rename or truncate durable
 * earlier than promised), torn sectors inside one header copy
 * (tests/test_header.c tears every byte), reordering by the device, or
 * ppersist()/pdetach() durability (the test declares its data durable by
 * starting the shadow after writing it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhook.h"

#define TH_TRACE_MAX 256
#define TH_CHUNK 65536

static unsigned long th_count, th_crash;
static const char *th_names[TH_TRACE_MAX];
static int th_trace = -1;
static char th_shadow[PATH_MAX];
static int th_bb_on, th_usc_on;
static uint64_t th_bb_off, th_bb_len, th_usc_val;

__attribute__((constructor)) static void
th_init(void)
{
	const char *v = getenv("PHEAP_TEST_CRASH_AT");
	unsigned long long a, b;

	if (v)
		th_crash = strtoul(v, NULL, 0);
	v = getenv("PHEAP_TEST_TRACE");
	if (v && *v)
		th_trace = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	v = getenv("PHEAP_TEST_SHADOW");
	if (v && *v)
		snprintf(th_shadow, sizeof(th_shadow), "%s", v);
	v = getenv("PHEAP_TEST_USC");
	if (v && *v)
		testhook_inject_usc(1, strtoull(v, NULL, 0));
	v = getenv("PHEAP_TEST_BADBLOCK");
	if (v && sscanf(v, "%lli:%lli", &a, &b) == 2)
		testhook_inject_badblock(a, b);
}

static const char *th_at_name;	/* testhook_at: where, and what */
static void (*th_at_fn)(void *);
static void *th_at_arg;

void
testhook_at(const char *name, void (*fn)(void *), void *arg)
{
	__atomic_store_n(&th_at_name, NULL, __ATOMIC_SEQ_CST);
	th_at_fn = fn;
	th_at_arg = arg;
	__atomic_store_n(&th_at_name, name, __ATOMIC_SEQ_CST);
}

/* the call testhook_at asked for, if this is its point: once */
static void
call_at(const char *name)
{
	const char *want = __atomic_load_n(&th_at_name, __ATOMIC_SEQ_CST);

	if (want && strcmp(want, name) == 0 &&
			__atomic_compare_exchange_n(&th_at_name, &want, NULL, 0,
				__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		th_at_fn(th_at_arg);
}

void
testhook_point(const char *name)
{
	unsigned long n;

	call_at(name);
	n = __atomic_add_fetch(&th_count, 1, __ATOMIC_SEQ_CST);

	if (n <= TH_TRACE_MAX)
		th_names[n - 1] = name;
	if (th_trace >= 0) {
		char line[128];
		int len = snprintf(line, sizeof(line), "%s\n", name);

		if (write(th_trace, line, (size_t)len) != len) {
			/* the trace is a report only */
		}
	}
	if (th_crash && n == th_crash) {
		kill(getpid(), SIGKILL);
		for (;;)
			pause();
	}
}

void
testhook_crash_at(unsigned long k)
{
	__atomic_store_n(&th_count, 0, __ATOMIC_SEQ_CST);
	memset(th_names, 0, sizeof(th_names));
	th_crash = k;
}

unsigned long
testhook_count(void)
{
	return __atomic_load_n(&th_count, __ATOMIC_SEQ_CST);
}

const char *
testhook_trace(unsigned long i)
{
	return i < TH_TRACE_MAX && i < testhook_count() ? th_names[i] : NULL;
}

void
testhook_trace_fd(int fd)
{
	th_trace = fd;
}

/* ---- injection ---- */

void
testhook_inject_badblock(uint64_t off, uint64_t len)
{
	th_bb_off = off;
	th_bb_len = len;
	th_bb_on = len != 0;
}

int
testhook_badblock(uint64_t *off, uint64_t *len)
{
	if (!th_bb_on)
		return 0;
	*off = th_bb_off;
	*len = th_bb_len;
	return 1;
}

void
testhook_inject_usc(int on, uint64_t usc)
{
	th_usc_on = on;
	th_usc_val = usc;
}

int
testhook_usc(uint64_t *usc)
{
	if (th_usc_on)
		*usc = th_usc_val;
	return th_usc_on;
}

/* ---- the shadow ---- */

struct th_meta {
	uint64_t size;
	unsigned mode, uid, gid;
};

static void
sh_path(char *buf, const char *dir, unsigned long long ino, const char *ext)
{
	snprintf(buf, PATH_MAX, "%s/%llu.%s", dir, ino, ext);
}

static int
meta_load(const char *dir, unsigned long long ino, struct th_meta *m)
{
	char p[PATH_MAX];
	unsigned long long size;
	FILE *f;
	int n;

	sh_path(p, dir, ino, "meta");
	f = fopen(p, "re");
	if (!f)
		return -errno;
	n = fscanf(f, "%llu %o %u %u", &size, &m->mode, &m->uid, &m->gid);
	fclose(f);
	m->size = size;
	return n == 4 ? 0 : -EINVAL;
}

static int
meta_store(const char *dir, unsigned long long ino, const struct th_meta *m)
{
	char p[PATH_MAX];
	FILE *f;

	sh_path(p, dir, ino, "meta");
	f = fopen(p, "we");
	if (!f)
		return -errno;
	fprintf(f, "%llu %o %u %u\n", (unsigned long long)m->size, m->mode,
		m->uid, m->gid);
	return fclose(f) ? -errno : 0;
}

static int
all_zero(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* copies [off, off + len) of src to dst; zero chunks are skipped if sparse
 * (dst reads zero there already) */
static int
copy_range(int src, int dst, uint64_t off, uint64_t len, int sparse)
{
	static char buf[TH_CHUNK];

	while (len) {
		size_t n = len < TH_CHUNK ? (size_t)len : TH_CHUNK;
		ssize_t r = pread(src, buf, n, (off_t)off);

		if (r <= 0)
			return r < 0 ? -errno : 0;
		if (!(sparse && all_zero(buf, (size_t)r)) &&
				pwrite(dst, buf, (size_t)r, (off_t)off) != r)
			return -EIO;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* records what a sync of fd made durable */
static int
snap_file(const char *dir, int fd, uint64_t off, uint64_t len,
	enum th_sync kind)
{
	struct stat sb;
	struct th_meta m;
	char p[PATH_MAX];
	int ret;

	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode))
		return -EINVAL;
	int known = meta_load(dir, sb.st_ino, &m) == 0;
	sh_path(p, dir, sb.st_ino, "data");
	int dfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (dfd < 0)
		return -errno;
	if (kind == TH_SYNC_RANGE) {
		ret = copy_range(fd, dfd, off, len, 0);
	} else {
		ret = ftruncate(dfd, 0) ? -errno : 0;
		if (ret == 0)
			ret = copy_range(fd, dfd, 0, (uint64_t)sb.st_size, 1);
	}
	if (ret == 0 && ftruncate(dfd, sb.st_size))
		ret = -errno;
	close(dfd);
	m.size = (uint64_t)sb.st_size;
	if (!known || kind == TH_SYNC_FULL) {
		m.mode = sb.st_mode & 07777;
		m.uid = sb.st_uid;
		m.gid = sb.st_gid;
	}
	return ret ? ret : meta_store(dir, sb.st_ino, &m);
}

/* records the listing of the directory dfd: its regular files */
static int
snap_dir(const char *dir, int dfd)
{
	char p[PATH_MAX], tmp[PATH_MAX];
	int fd = dup(dfd);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct stat sb;
	struct th_meta m;
	FILE *out;

	if (!dp)
		return -errno;
	rewinddir(dp);
	snprintf(tmp, sizeof(tmp), "%s/dir.list.tmp", dir);
	out = fopen(tmp, "we");
	while (out && (de = readdir(dp)) != NULL) {
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
				!S_ISREG(sb.st_mode))
			continue;
		fprintf(out, "%llu %s\n", (unsigned long long)sb.st_ino,
			de->d_name);
		/* listed but never synced: durable as an empty file */
		if (meta_load(dir, sb.st_ino, &m)) {
			m.size = 0;
			m.mode = sb.st_mode & 07777;
			m.uid = sb.st_uid;
			m.gid = sb.st_gid;
			meta_store(dir, sb.st_ino, &m);
		}
	}
	closedir(dp);
	if (!out || fclose(out))
		return -EIO;
	snprintf(p, sizeof(p), "%s/dir.list", dir);
	return rename(tmp, p) ? -errno : 0;
}

void
testhook_durable(int fd, uint64_t off, uint64_t len, enum th_sync kind)
{
	if (!th_shadow[0])
		return;
	if (kind == TH_SYNC_DIR)
		(void)snap_dir(th_shadow, fd);
	else
		(void)snap_file(th_shadow, fd, off, len, kind);
}

int
testhook_shadow_begin(const char *pool, const char *shadow)
{
	int dfd = open(pool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = dfd < 0 ? NULL : fdopendir(dup(dfd));
	struct dirent *de;
	int ret = 0;

	if (!dp) {
		if (dfd >= 0)
			close(dfd);
		return -ENOENT;
	}
	while (ret == 0 && (de = readdir(dp)) != NULL) {
		int fd = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC |
			O_NOFOLLOW | O_NONBLOCK);
		struct stat sb;

		if (fd < 0)
			continue;
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
			ret = snap_file(shadow, fd, 0, 0, TH_SYNC_FULL);
		close(fd);
	}
	closedir(dp);
	if (ret == 0)
		ret = snap_dir(shadow, dfd);
	close(dfd);
	if (ret == 0)
		snprintf(th_shadow, sizeof(th_shadow), "%s", shadow);
	return ret;
}

/* live files of the pool before the restore, by inode */
struct th_live {
	int n;
	unsigned long long ino[TH_TRACE_MAX];
	int fd[TH_TRACE_MAX];
};

static int
live_fd(const struct th_live *l, unsigned long long ino)
{
	for (int i = 0; i < l->n; i++)
		if (l->ino[i] == ino)
			return l->fd[i];
	return -1;
}

/* recreates pool/name from the shadow of inode ino, with the live
 * contents over it if writeback (live < 0: none) */
static int
restore_one(int dfd, const char *shadow, unsigned long long ino,
	const char *name, int live)
{
	struct th_meta m;
	struct stat sb;
	char p[PATH_MAX];
	int ret = meta_load(shadow, ino, &m);

	if (ret)
		return ret;
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	sh_path(p, shadow, ino, "data");
	int src = open(p, O_RDONLY | O_CLOEXEC);
	if (src >= 0) {
		ret = copy_range(src, fd, 0, m.size, 1);
		close(src);
	}
	if (ret == 0 && live >= 0 && fstat(live, &sb) == 0)
		ret = copy_range(live, fd, 0, (uint64_t)sb.st_size < m.size ?
			(uint64_t)sb.st_size : m.size, 0);
	if (ret == 0 && ftruncate(fd, (off_t)m.size))
		ret = -errno;
	if (ret == 0 && fchown(fd, m.uid, m.gid) && errno != EPERM)
		ret = -errno;
	if (ret == 0 && fchmod(fd, m.mode))
		ret = -errno;
	close(fd);
	return ret;
}

/* opens (if writeback) and unlinks every entry of the pool */
static int
clear_pool(int dfd, struct th_live *l, int writeback)
{
	DIR *dp = fdopendir(dup(dfd));
	struct dirent *de;
	struct stat sb;

	l->n = 0;
	if (!dp)
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int fd = writeback && l->n < TH_TRACE_MAX ? openat(dfd,
			de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
			O_NONBLOCK) : -1;

		if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
			l->ino[l->n] = sb.st_ino;
			l->fd[l->n++] = fd;
		} else if (fd >= 0) {
			close(fd);
		}
		unlinkat(dfd, de->d_name, 0);
	}
	closedir(dp);
	return 0;
}

int
testhook_shadow_restore(const char *pool, const char *shadow, int writeback)
{
	char p[PATH_MAX], name[NAME_MAX + 1];
	unsigned long long ino;
	int dfd = open(pool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct th_live live = { .n = 0 };
	FILE *list;
	int ret = dfd < 0 ? -errno : clear_pool(dfd, &live, writeback);

	if (ret) {
		if (dfd >= 0)
			close(dfd);
		return ret;
	}
	snprintf(p, sizeof(p), "%s/dir.list", shadow);
	list = fopen(p, "re");
	if (!list)
		ret = -errno;
	while (ret == 0 && fscanf(list, "%llu %255s", &ino, name) == 2)
		ret = restore_one(dfd, shadow, ino, name, live_fd(&live, ino));
	if (list)
		fclose(list);
	for (int i = 0; i < live.n; i++)
		close(live.fd[i]);
	close(dfd);
	return ret;
}
