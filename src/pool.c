/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c -- the pool of pheaps.
 *
 * PHEAP_POOL is a colon-separated list of directories and device-dax
 * devices (default: the per-user ${XDG_DATA_HOME:-$HOME/.local/share}/pheap
 * and every dax device).  A device holds at most one pheap, found by the
 * id in its header; in a directory a pheap is the file
 * <dir>/<hash(id)>.pheap: the 128-bit hash makes a lookup one open() and
 * lets a caller without read permission get -EACCES (like SysV keys) rather
 * than "not found", without the id ever appearing in a file name.  The
 * header inside is the authority: a file whose header claims another id is
 * not this pheap.
 *
 * Creation takes flock() on every pool entry (in a fixed order), so
 * "already exists" and "16 pheaps" are decided atomically across
 * processes; the new file is formatted under a temporary name and renamed
 * into place, so a crash never leaves a half-made pheap visible.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daxdev.h"
#include "pool.h"

#define POOL_MAX_ENTRIES 32
#define POOL_DEFAULT_BASE 0x2a0002000000UL	/* the VPM kernel's */
#define POOL_TMP_PREFIX ".tmp-"

struct pool {
	int n;
	char entry[POOL_MAX_ENTRIES][PATH_MAX];
};

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
fnv1a64(const uint8_t *p, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h ^ len);
}

void
pool_name(const void *id, size_t len, char name[POOL_NAME_LEN + 1])
{
	uint64_t a = fnv1a64(id, len, 0xcbf29ce484222325ULL);
	uint64_t b = fnv1a64(id, len, 0x84222325cbf29ce4ULL ^ a);

	snprintf(name, POOL_NAME_LEN + 1, "%016llx%016llx.pheap",
		(unsigned long long)a, (unsigned long long)b);
}

static int
is_pool_name(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return strcmp(s + 32, ".pheap") == 0;
}

static int
mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, mode);
		*p = '/';
		if (r && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int
pool_default(struct pool *p)
{
	const char *xdg = secure_getenv("XDG_DATA_HOME");
	const char *home = secure_getenv("HOME");
	char *dir = p->entry[0];
	int n;

	if (!home || !*home) {
		struct passwd *pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/";
	}
	if (xdg && *xdg == '/')
		n = snprintf(dir, PATH_MAX, "%s/pheap", xdg);
	else
		n = snprintf(dir, PATH_MAX, "%s/.local/share/pheap", home);
	if (n >= PATH_MAX)
		return err_set(ENAMETOOLONG, "default pool path too long");
	int ret = mkdir_p(dir, 0700);
	if (ret)
		return err_sys(-ret, "creating the default pool %s", dir);
	p->n = 1;
	/* formatted dax devices are found without configuration */
	p->n += daxdev_list(&p->entry[1], POOL_MAX_ENTRIES - 1);
	return 0;
}

static int
pool_load(struct pool *p)
{
	const char *env = secure_getenv("PHEAP_POOL");

	p->n = 0;
	if (!env || !*env)
		return pool_default(p);
	while (*env) {
		const char *end = strchrnul(env, ':');
		size_t len = (size_t)(end - env);

		if (len >= PATH_MAX)
			return err_set(ENAMETOOLONG, "PHEAP_POOL entry too long");
		if (len && p->n == POOL_MAX_ENTRIES)
			return err_set(EINVAL, "PHEAP_POOL has more than %d entries",
				POOL_MAX_ENTRIES);
		if (len) {
			memcpy(p->entry[p->n], env, len);
			p->entry[p->n][len] = '\0';
			p->n++;
		}
		env = *end ? end + 1 : end;
	}
	if (p->n == 0)
		return pool_default(p);
	return 0;
}

enum entry_type { ENT_OTHER, ENT_DIR, ENT_DEV };

static enum entry_type
entry_type(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return ENT_OTHER;
	if (S_ISDIR(st.st_mode))
		return ENT_DIR;
	return dev_is_standalone(&st) ? ENT_DEV : ENT_OTHER;
}

/*
 * A device holds at most one pheap, its id in the header: read it
 * read-only first, so a caller allowed to read but not to write the
 * device gets -EACCES for its pheap rather than "not found".  (A device
 * the caller cannot read at all cannot tell its id: it is skipped.)
 */
static int
find_on_device(const char *path, const void *id, size_t len, int rdonly,
	struct dev *d, struct hdr_found *f)
{
	int ret = dev_open(d, path, 1);

	if (ret)
		return -ENOENT;
	ret = hdr_load(&d->io, f);
	int m = ret ? 0 : hdr_match(f, id, len);
	dev_close(d);
	if (m < 0)
		return err_set(EUCLEAN, "pheap on %s has a damaged header", path);
	if (m == 0)
		return -ENOENT;
	ret = dev_open(d, path, rdonly);
	if (ret == -EACCES || ret == -EPERM)
		return err_set(EACCES, "pheap on %s: permission denied", path);
	if (ret == 0)
		ret = hdr_load(&d->io, f);
	if (ret == 0 && hdr_match(f, id, len) <= 0)
		ret = err_set(EUCLEAN, "pheap on %s changed under us", path);
	if (ret)
		dev_close(d);
	return ret;
}

/* opens <dir>/<name>; 0, -ENOENT, -EACCES or another -errno */
static int
open_in(const char *dir, const char *name, int rdonly, struct dev *d)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return err_set(ENAMETOOLONG, "path too long in %s", dir);
	return dev_open(d, path, rdonly);
}

int
pool_find(const void *id, size_t len, int rdonly, struct dev *d,
	struct hdr_found *f)
{
	struct pool p;
	char name[POOL_NAME_LEN + 1];
	int ret = pool_load(&p);

	if (ret)
		return ret;
	pool_name(id, len, name);
	for (int i = 0; i < p.n; i++) {
		enum entry_type t = entry_type(p.entry[i]);

		if (t == ENT_DEV) {
			ret = find_on_device(p.entry[i], id, len, rdonly, d, f);
			if (ret != -ENOENT)
				return ret;
			continue;
		}
		if (t != ENT_DIR)
			continue;
		ret = open_in(p.entry[i], name, rdonly, d);
		if (ret == -EACCES || ret == -EPERM)
			return err_set(EACCES, "pheap %s/%s: permission denied",
				p.entry[i], name);
		if (ret)
			continue;
		ret = hdr_load(&d->io, f);
		if (ret == 0) {
			int m = hdr_match(f, id, len);

			if (m > 0)
				return 0;
			if (m < 0) {
				dev_close(d);
				return err_set(EUCLEAN,
					"pheap %s has a damaged header", d->path);
			}
		}
		dev_close(d);
	}
	return err_set(EINVAL, "no pheap with this id in the pool");
}

/* ---- creation ---- */

struct locked_dirs {
	int n;
	int fd[POOL_MAX_ENTRIES];
	int idx[POOL_MAX_ENTRIES];	/* entry index of each fd */
	int isdev[POOL_MAX_ENTRIES];	/* a dax device, not a directory */
};

static void
unlock_dirs(struct locked_dirs *l)
{
	for (int i = 0; i < l->n; i++)
		close(l->fd[i]);	/* drops the flock */
	l->n = 0;
}

/*
 * Locks every pool directory.  Lock order is by (st_dev, st_ino), the same
 * in every process whatever its PHEAP_POOL order, so creators never deadlock;
 * the same directory listed twice is locked once.
 */
static int
lock_dirs(const struct pool *p, struct locked_dirs *l)
{
	struct { dev_t dev; ino_t ino; int fd, idx, isdev; } d[POOL_MAX_ENTRIES];
	int n = 0;

	l->n = 0;
	for (int i = 0; i < p->n; i++) {
		struct stat st;
		int fd = open(p->entry[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		int dup = 0;

		if (fd < 0)
			continue;
		if (fstat(fd, &st) || !(S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode))) {
			close(fd);
			continue;
		}
		for (int j = 0; j < n; j++)
			dup |= d[j].dev == st.st_dev && d[j].ino == st.st_ino;
		if (dup) {
			close(fd);
			continue;
		}
		d[n].dev = st.st_dev;
		d[n].ino = st.st_ino;
		d[n].fd = fd;
		d[n].idx = i;
		d[n].isdev = S_ISCHR(st.st_mode);
		n++;
	}
	/* sort indices by (dev, ino) */
	int order[POOL_MAX_ENTRIES];
	for (int i = 0; i < n; i++)
		order[i] = i;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			int a = order[j - 1], b = order[j];
			if (d[a].dev < d[b].dev ||
					(d[a].dev == d[b].dev && d[a].ino < d[b].ino))
				break;
			order[j - 1] = b;
			order[j] = a;
		}
	for (int k = 0; k < n; k++) {
		int i = order[k];

		while (flock(d[i].fd, LOCK_EX) && errno == EINTR)
			;
		l->fd[l->n] = d[i].fd;
		l->idx[l->n] = d[i].idx;
		l->isdev[l->n] = d[i].isdev;
		l->n++;
	}
	return 0;
}

enum entry_kind { ENTRY_NONE, ENTRY_PHEAP, ENTRY_HIDDEN, ENTRY_DAMAGED };

/* classifies a pool file; the id it holds (if readable) is compared */
static enum entry_kind
classify(const char *dir, const char *name, const void *id, size_t len,
	int *is_id)
{
	struct dev d;
	struct hdr_found f;
	int ret = open_in(dir, name, 1, &d);

	*is_id = 0;
	if (ret == -EACCES || ret == -EPERM)
		return ENTRY_HIDDEN;
	if (ret == -ENOENT)
		return ENTRY_NONE;
	if (ret)	/* a FIFO, a directory, a symlink: not a pheap */
		return ENTRY_DAMAGED;
	ret = hdr_load(&d.io, &f);
	dev_close(&d);
	if (ret)
		return ENTRY_DAMAGED;
	*is_id = hdr_match(&f, id, len) != 0;
	return f.ok ? ENTRY_PHEAP : ENTRY_DAMAGED;
}

/* counts the pheaps of one directory, removing stale creation leftovers */
static int
scan_dir(int dfd, const char *dir, const char *ours, const void *id,
	size_t len, int *count, int *ours_kind, int *ours_is_id)
{
	int fd = dup(dfd);
	DIR *dp;
	struct dirent *de;

	if (fd < 0)
		return -errno;
	lseek(fd, 0, SEEK_SET);
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dp)) != NULL) {
		int is_id;

		/* we hold the pool lock: no creation is in progress */
		if (strncmp(de->d_name, POOL_TMP_PREFIX,
				strlen(POOL_TMP_PREFIX)) == 0) {
			TH_POINT("pool.debris.unlink");
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!is_pool_name(de->d_name))
			continue;
		enum entry_kind k = classify(dir, de->d_name, id, len, &is_id);
		if (k == ENTRY_PHEAP || k == ENTRY_HIDDEN)
			(*count)++;
		if (strcmp(de->d_name, ours) == 0) {
			*ours_kind = k;
			*ours_is_id = is_id;
		}
	}
	closedir(dp);
	return 0;
}

/* a device holds a pheap (counted), this id, or is free for one */
static int
scan_device(const char *path, const void *id, size_t len, int *count,
	int *is_id, int *is_free)
{
	struct dev d;
	struct hdr_found f;
	int ret = dev_open(&d, path, 1);

	*is_id = *is_free = 0;
	if (ret)	/* unreadable or not usable: not ours to judge */
		return 0;
	ret = hdr_load(&d.io, &f);
	dev_close(&d);
	if (ret)
		return 0;
	*is_id = hdr_match(&f, id, len) != 0;
	if (f.ok && f.hdr.id_len)
		(*count)++;
	*is_free = f.ok && f.hdr.id_len == 0;
	return 0;
}

/* the creator's umask, without changing it (other threads may create files) */
static mode_t
current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned um;
	mode_t ret = 022;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &um) == 1) {
			ret = (mode_t)um;
			break;
		}
	if (f)
		fclose(f);
	return ret;
}

/* makes the free device at path the pheap id */
static int
claim_device(const char *path, const void *id, size_t len, uint64_t base,
	struct dev *d)
{
	struct hdr_found f;
	struct timespec now;
	int ret = dev_open(d, path, 0);

	if (ret)
		return ret;
	ret = hdr_load(&d->io, &f);
	if (ret == 0 && !(f.ok && f.hdr.id_len == 0))
		ret = -ENOSPC;
	if (ret)
		goto fail;
	struct hdr h = f.hdr;
	clock_gettime(CLOCK_REALTIME, &now);
	h.base = base;
	h.brk = 0;
	h.ctime_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	h.uid = geteuid();
	h.gid = getegid();
	h.mode = 0644 & ~current_umask();
	h.id_len = (uint32_t)len;
	memcpy(h.id, id, len);
	if (hdr_validate(&h, &d->io.lim)) {
		ret = err_set(EINVAL, "PHEAP_BASE does not fit the capacity of %s",
			path);
		goto fail;
	}
	ret = hdr_store(&d->io, &h, &f.slot);
	if (ret)
		goto fail;
	/* the kernel enforces the mode on the node; only root can give it away */
	if (fchown(d->fd, h.uid, h.gid) && errno != EPERM) {
		/* keep going: the header is what counts */
	}
	(void)fchmod(d->fd, h.mode);
	return 0;
fail:
	dev_close(d);
	return ret;
}

static int
parse_base(uint64_t *base)
{
	const char *env = secure_getenv("PHEAP_BASE");
	char *end;

	*base = POOL_DEFAULT_BASE;
	if (!env || !*env)
		return 0;
	errno = 0;
	unsigned long long v = strtoull(env, &end, 0);
	if (errno || *end || (v & (PHEAP_PAGE_SIZE - 1)) || v < HDR_ADDR_MIN ||
			v > HDR_ADDR_MAX - HDR_MAX_SPAN - HDR_RSV_EXTRA - PHEAP_PAGE_SIZE)
		return err_set(EINVAL, "PHEAP_BASE=%s: not a 2 MiB aligned "
			"address in [%#lx, %#lx]", env, HDR_ADDR_MIN,
			HDR_ADDR_MAX - HDR_MAX_SPAN - HDR_RSV_EXTRA - PHEAP_PAGE_SIZE);
	*base = v;
	return 0;
}

static int
format_new(int dfd, const char *dir, const char *name, const void *id,
	size_t len, uint64_t base, struct dev *d)
{
	char tmp[POOL_NAME_LEN + 32];
	struct timespec now;
	struct stat st;
	struct hdr h;
	int ret;

	snprintf(tmp, sizeof(tmp), POOL_TMP_PREFIX "%d-%s", (int)getpid(), name);
	TH_POINT("pool.create.tmp_file");
	int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
		O_NOFOLLOW, 0644);
	if (fd < 0)
		return err_sys(errno, "creating a pheap in %s", dir);
	/* d takes the final name now: it is what pheap_info() reports */
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		ret = err_set(ENAMETOOLONG, "path too long in %s", dir);
		goto fail;
	}
	dev_adopt(d, fd, path);
	/* the group is the creator's egid even in a setgid directory */
	if (fstat(fd, &st) || (st.st_gid != getegid() &&
			fchown(fd, (uid_t)-1, getegid()) && errno != EPERM)) {
		ret = err_sys(errno, "setting the group of %s", d->path);
		goto fail;
	}
	TH_POINT("pool.create.size");
	if (ftruncate(fd, HDR_AREA_SIZE)) {
		ret = err_sys(errno, "sizing %s", d->path);
		goto fail;
	}
	memset(&h, 0, sizeof(h));
	clock_gettime(CLOCK_REALTIME, &now);
	h.base = base;
	h.capacity = HDR_MAX_SPAN;
	h.data_off = HDR_AREA_SIZE;
	h.ctime_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	h.uid = geteuid();
	h.gid = getegid();
	h.mode = st.st_mode & 0777;	/* 0644 & ~umask, applied by open */
	h.id_len = (uint32_t)len;
	memcpy(h.id, id, len);
	ret = hdr_format(&d->io, &h);
	if (ret)
		goto fail;
	TH_POINT("pool.create.rename");
	if (renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE)) {
		ret = err_sys(errno, "publishing %s", d->path);
		goto fail;
	}
	TH_POINT("pool.create.dir_fsync");
	if (fsync(dfd) == 0)
		TH_DURABLE(dfd, 0, 0, TH_SYNC_DIR);
	return 0;
fail:
	unlinkat(dfd, tmp, 0);
	close(fd);
	d->fd = -1;
	return ret;
}

int
pool_create(const void *id, size_t len, struct dev *d, struct hdr_found *f)
{
	struct pool p;
	struct locked_dirs l;
	char name[POOL_NAME_LEN + 1];
	int count = 0, ret;
	uint64_t base;

	ret = pool_load(&p);
	if (ret)
		return ret;
	ret = parse_base(&base);
	if (ret)
		return ret;
	pool_name(id, len, name);
	lock_dirs(&p, &l);
	if (l.n == 0) {
		ret = err_set(ENOSPC, "no usable directory in the pool (%s%s)",
			p.entry[0], p.n > 1 ? ", ..." : "");
		goto out;
	}
	int is_free[POOL_MAX_ENTRIES] = { 0 };

	for (int i = 0; i < l.n; i++) {
		int kind = ENTRY_NONE, is_id = 0;
		const char *dir = p.entry[l.idx[i]];

		if (l.isdev[i]) {
			scan_device(dir, id, len, &count, &is_id, &is_free[i]);
			if (is_id) {
				ret = err_set(EINVAL, "a pheap with this id exists "
					"on %s", dir);
				goto out;
			}
			continue;
		}
		ret = scan_dir(l.fd[i], dir, name, id, len, &count, &kind, &is_id);
		if (ret) {
			ret = err_sys(-ret, "scanning pool directory %s", dir);
			goto out;
		}
		if (kind == ENTRY_PHEAP && is_id) {
			ret = err_set(EINVAL, "a pheap with this id exists in %s", dir);
			goto out;
		}
		if (kind == ENTRY_HIDDEN || (kind == ENTRY_DAMAGED && is_id)) {
			ret = err_set(EINVAL, "a pheap with this id exists in %s "
				"(%s)", dir, kind == ENTRY_HIDDEN ?
				"not readable by you" : "its header is damaged");
			goto out;
		}
		if (kind != ENTRY_NONE) {
			ret = err_set(ENOSPC, "%s/%s is in the way of this id "
				"and is not a pheap of it; not overwriting it",
				dir, name);
			goto out;
		}
	}
	if (count >= PHEAP_COUNT_LIMIT) {
		ret = err_set(ENOSPC, "the pool already holds %d pheaps",
			PHEAP_COUNT_LIMIT);
		goto out;
	}
	/* the first entry, in PHEAP_POOL order, that takes it */
	ret = err_set(ENOSPC, "no entry of the pool can take a new pheap "
		"(a device must be formatted and free)");
	for (int k = 0; k < p.n && ret; k++)
		for (int i = 0; i < l.n; i++) {
			if (l.idx[i] != k)
				continue;
			if (l.isdev[i] && is_free[i])
				ret = claim_device(p.entry[k], id, len, base, d);
			else if (!l.isdev[i])
				ret = format_new(l.fd[i], p.entry[k], name, id,
					len, base, d);
			break;
		}
	if (ret)
		goto out;
	ret = hdr_load(&d->io, f);
	if (ret == 0 && !f->ok)
		ret = err_set(EIO, "%s: header unreadable after creation", d->path);
	if (ret)
		dev_close(d);
out:
	unlock_dirs(&l);
	return ret;
}
