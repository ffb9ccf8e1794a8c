/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool_create.c -- PHEAP_CREATE: a new pheap in the pool, with no lock
 * that anyone but its creator can hold.
 *
 * A shared pool directory (mode 1777) is writable by every user, and any
 * lock creators took there could be taken, and held forever, by anyone
 * (flock on the directory was exactly that).  So creation decides with the
 * file system's atomic operations alone:
 *  1. the new pheap is made in a hidden file of the directory
 *     (".tmp-<pid>-<random>"), mode 0600 until it is complete, its creator
 *     holding a write lock on LOCK_CREATE: the witness that it lives (no
 *     one else can open the file to lock it before, nor forge a write lock
 *     without write access after);
 *  2. census: the id is in no entry of the pool, and the pool holds fewer
 *     than 16 pheaps;
 *  3. publish: link() under the id's name, which fails if the name exists:
 *     of two creators of one id in one directory, one wins;
 *  4. census again, the new pheap included: more than 16 pheaps, or the id
 *     in another entry too (creators with another PHEAP_POOL order), and
 *     the pheap is withdrawn (unlinked), and creation tried again;
 *  5. commit: the hidden name goes, the directory is fsynced.
 * Of two creators that race, each publishes before its second census, so
 * the later census sees both (readdir() returns every name present when it
 * starts and not removed meanwhile): the pool never keeps more than 16
 * pheaps, nor one id twice.  From 3 to 5 the pheap has two names and its
 * creator's witness, and pool_find() takes it for absent: nobody attaches
 * to a pheap that may be withdrawn.
 *
 * Crash: before 3 the hidden file is debris; the owner's next creation
 * removes it once the pid in its name has gone and no witness is on it
 * (nobody else may remove it in a sticky directory, and it counts toward
 * nothing).  From 3 on, the pheap
 * exists -- two names and no witness is a committed pheap -- and its
 * hidden name is debris.  The header and the mode are durable before 3,
 * the names after the directory's fsync.
 *
 * Destroyed pheaps (destroy.c) count toward nothing and are in nobody's
 * way: the census frees those nobody is attached to, as the owner or root.
 *
 * A free device is claimed under its break lock (brklock.c: no reader can
 * hold or block it), published by writing its header and withdrawn by
 * writing a free one.  A device attached in that window (root's devices:
 * root alone can race there) may lose its pheap to the withdrawal.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "destroy.h"
#include "lock.h"
#include "pool.h"
#include "state.h"	/* dev_rt() */

#define POOL_DEFAULT_BASE 0x2a0002000000UL	/* the VPM kernel's */
#define TMP_PREFIX ".tmp-"
#define ATTEMPTS 3

/* the entries of the pool, open, each directory or device once */
struct entries {
	int n;
	int fd[POOL_MAX_ENTRIES];
	int idx[POOL_MAX_ENTRIES];	/* index in the pool */
	int isdev[POOL_MAX_ENTRIES];	/* a device (a standalone backing,
					 * dev.h), not a directory */
};

/* what one look over the pool found */
struct census {
	int count;			/* pheaps, and files that may be */
	int free[POOL_MAX_ENTRIES];	/* a device that can take one */
	int err;			/* the id is there: -EINVAL ... */
	char why[PATH_MAX + 128];	/* ... and where */
};

/* where a creation put the new pheap */
struct placed {
	int entry;		/* index in struct entries */
	char tmp[64];		/* directory: the hidden name */
	struct stat sb;		/* the new pheap's inode */
};

static void
open_entries(const struct pool *p, struct entries *e)
{
	struct stat sb[POOL_MAX_ENTRIES];

	e->n = 0;
	for (int i = 0; i < p->n; i++) {
		int fd = open(p->entry[i], O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		int dup = 0;

		if (fd < 0)
			continue;
		if (fstat(fd, &sb[e->n]) || !(S_ISDIR(sb[e->n].st_mode) ||
				dev_is_standalone(&sb[e->n]))) {
			close(fd);
			continue;
		}
		for (int j = 0; j < e->n; j++)
			dup |= sb[j].st_dev == sb[e->n].st_dev &&
				sb[j].st_ino == sb[e->n].st_ino;
		if (dup) {
			close(fd);
			continue;
		}
		e->isdev[e->n] = dev_is_standalone(&sb[e->n]);
		e->idx[e->n] = i;
		e->fd[e->n++] = fd;
	}
}

static void
close_entries(struct entries *e)
{
	for (int i = 0; i < e->n; i++)
		close(e->fd[i]);
	e->n = 0;
}

/* ---- the census ---- */

/*
 * A hidden creation file of ours whose creator is gone: removed.  Gone is
 * the pid in its name not running, and no witness on it -- the pid first,
 * so that the instant between a live creator's open and its witness is
 * never taken for death.
 */
int
pool_clear_debris(int dfd, const char *name)
{
	struct stat sb;
	int fd, ret = 0, pid = atoi(name + strlen(TMP_PREFIX));

	if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH))
		return 0;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode) ||
			(sb.st_uid != geteuid() && geteuid() != 0))
		return 0;
	fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return 0;
	/* taking the witness ourselves: a creator cannot get it meanwhile */
	if (lock_try(fd, LOCK_CREATE, 1, F_WRLCK) == 0) {
		TH_POINT("pool.debris.unlink");
		ret = unlinkat(dfd, name, 0) == 0;
	}
	close(fd);
	return ret;
}

enum kind { K_NONE, K_PHEAP, K_HIDDEN, K_DAMAGED, K_DESTROYED };

/* a pool file: a pheap (is_id: of this id), hidden from us, or not one */
static enum kind
classify(const char *dir, const char *name, const void *id, size_t len,
	int *is_id)
{
	struct dev d;
	struct hdr_found f;
	int ret = pool_open_in(dir, name, 1, &d);

	*is_id = 0;
	if (ret == -EACCES || ret == -EPERM)
		return K_HIDDEN;
	if (ret == -ENOENT)
		return K_NONE;
	if (ret)	/* a FIFO, a directory, a symlink: not a pheap */
		return K_DAMAGED;
	ret = hdr_load(&d.io, &f);
	dev_close(&d);
	if (ret)
		return K_DAMAGED;
	*is_id = hdr_match(&f, id, len) != 0;
	if (destroy_is(&f, NULL))
		return K_DESTROYED;	/* by hand: destroy.c hides them */
	return f.ok ? K_PHEAP : K_DAMAGED;
}

/* the file under the id's name in dir, if it is not the one we made */
static int
judge_name(const char *dir, const char *name, enum kind k, int is_id,
	struct census *c)
{
	const char *what = NULL;

	if (k == K_PHEAP && is_id)
		what = "";
	else if (k == K_HIDDEN)
		what = " (not readable by you)";
	else if (k == K_DAMAGED && is_id)
		what = " (its header is damaged)";
	else if (k == K_DESTROYED)
		what = " (destroyed, still under its name: its owner's next "
			"look hides it)";
	if (what)
		c->err = err_set(EINVAL, "a pheap with this id exists in %s%s",
			dir, what);
	else if (k != K_NONE)
		c->err = err_set(ENOSPC, "%s/%s is in the way of this id and is "
			"not a pheap of it; not overwriting it", dir, name);
	return c->err;
}

static int
census_dir(int dfd, const char *dir, const char *name, const void *id,
	size_t len, const struct placed *self, struct census *c)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct stat sb;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return err_sys(errno, "scanning pool directory %s", dir);
	}
	while ((de = readdir(dp)) != NULL) {
		int is_id;

		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0) {
			(void)pool_clear_debris(dfd, de->d_name);
			continue;
		}
		/* the storage of destroyed pheaps nobody is attached to */
		if (strncmp(de->d_name, DESTROYED_PREFIX,
				strlen(DESTROYED_PREFIX)) == 0) {
			(void)destroy_reap_file(dfd, dir, de->d_name);
			continue;
		}
		if (!pool_is_name(de->d_name))
			continue;
		enum kind k = classify(dir, de->d_name, id, len, &is_id);
		if (k == K_DESTROYED && destroy_reap_file(dfd, dir,
				de->d_name) >= 0 && fstatat(dfd, de->d_name,
				&sb, AT_SYMLINK_NOFOLLOW) != 0)
			k = K_NONE;	/* hidden now */
		c->count += k == K_PHEAP || k == K_HIDDEN;
		if (strcmp(de->d_name, name) || c->err)
			continue;
		if (self && fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
				sb.st_dev == self->sb.st_dev &&
				sb.st_ino == self->sb.st_ino)
			continue;	/* the one we made */
		judge_name(dir, name, k, is_id, c);
	}
	closedir(dp);
	return 0;
}

/* a device holds a pheap (counted), this id, or is free for one */
static void
census_dev(const char *path, int i, const void *id, size_t len,
	const struct placed *self, struct census *c)
{
	struct dev d;
	struct hdr_found f;
	struct stat sb;

	if (dev_open(&d, path, 1))
		return;		/* unreadable or not usable: not ours to judge */
	int ret = hdr_load(&d.io, &f);
	int mine = self && fstat(d.fd, &sb) == 0 &&
		sb.st_rdev == self->sb.st_rdev && sb.st_ino == self->sb.st_ino;
	dev_close(&d);
	if (ret)
		return;
	if (destroy_is(&f, NULL)) {
		/* destroyed: free once nobody is attached, and not a pheap */
		if (destroy_reap_dev(path) == 1)
			c->free[i] = 1;
		return;
	}
	if (f.ok && f.hdr.id_len)
		c->count++;
	c->free[i] = f.ok && f.hdr.id_len == 0;
	if (!mine && !c->err && hdr_match(&f, id, len) != 0)
		c->err = err_set(EINVAL, "a pheap with this id exists on %s",
			path);
}

static int
census(const struct pool *p, const struct entries *e, const char *name,
	const void *id, size_t len, const struct placed *self,
	struct census *c)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < e->n; i++) {
		const char *path = p->entry[e->idx[i]];

		if (e->isdev[i]) {
			census_dev(path, i, id, len, self, c);
			continue;
		}
		int ret = census_dir(e->fd[i], path, name, id, len, self, c);
		if (ret)
			return ret;
	}
	return c->err;
}

/* ---- a new pheap ---- */

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

/* the header of a new pheap: everything but the backing's geometry */
static void
new_header(struct hdr *h, const void *id, size_t len, uint64_t base)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	h->base = base;
	h->brk = 0;
	h->ctime_ns = (uint64_t)now.tv_sec * 1000000000ULL +
		(uint64_t)now.tv_nsec;
	h->uid = geteuid();
	h->gid = getegid();
	h->mode = 0644 & ~current_umask();
	h->id_len = (uint32_t)len;
	memcpy(h->id, id, len);
}

static int
parse_base(uint64_t *base)
{
	const char *env = secure_getenv("PHEAP_BASE");
	uint64_t top = HDR_ADDR_MAX - HDR_MAX_SPAN - HDR_RSV_EXTRA -
		PHEAP_PAGE_SIZE;
	char *end;

	*base = POOL_DEFAULT_BASE;
	if (!env || !*env)
		return 0;
	errno = 0;
	unsigned long long v = strtoull(env, &end, 0);
	if (errno || *end || (v & (PHEAP_PAGE_SIZE - 1)) || v < HDR_ADDR_MIN ||
			v > top)
		return err_set(EINVAL, "PHEAP_BASE=%s: not a 2 MiB aligned "
			"address in [%#lx, %#lx]", env, HDR_ADDR_MIN,
			(unsigned long)top);
	*base = v;
	return 0;
}

/* a fresh hidden file in dfd, ours alone, with the witness on it */
static int
hidden_file(int dfd, const char *dir, char tmp[64])
{
	for (int i = 0; i < ATTEMPTS; i++) {
		uint64_t r = 0;
		struct stat a, b;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint64_t)clock() ^ ((uint64_t)getpid() << 32);
		snprintf(tmp, 64, TMP_PREFIX "%d-%016llx", (int)getpid(),
			(unsigned long long)r);
		TH_POINT("pool.create.tmp_file");
		int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
			O_NOFOLLOW, 0600);
		if (fd < 0)
			return err_sys(errno, "creating a pheap in %s", dir);
		/* a debris remover (root) may have caught it unlocked */
		if (lock_try(fd, LOCK_CREATE, 1, F_WRLCK) == 0 &&
				fstat(fd, &a) == 0 && fstatat(dfd, tmp, &b,
				AT_SYMLINK_NOFOLLOW) == 0 && a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	return err_set(EAGAIN, "creating a pheap in %s: the new file was "
		"removed under us", dir);
}

/* sizes and formats the hidden file, then gives it its mode, durably */
static int
fill(int fd, struct dev *d, const struct hdr *proto)
{
	struct hdr h = *proto;
	struct stat sb;

	/* the group is the creator's egid even in a setgid directory */
	if (fstat(fd, &sb) || (sb.st_gid != getegid() &&
			fchown(fd, (uid_t)-1, getegid()) && errno != EPERM))
		return err_sys(errno, "setting the group of %s", d->path);
	TH_POINT("pool.create.size");
	if (ftruncate(fd, HDR_AREA_SIZE))
		return err_sys(errno, "sizing %s", d->path);
	h.capacity = HDR_MAX_SPAN;
	h.data_off = HDR_AREA_SIZE;
	int ret = hdr_format(&d->io, &h);
	if (ret)
		return ret;
	TH_POINT("pool.create.mode");
	if (fchmod(fd, h.mode) || fsync(fd))
		return err_sys(errno, "giving %s its mode", d->path);
	TH_DURABLE(fd, 0, 0, TH_SYNC_FULL);
	return 0;
}

/* makes the pheap under a hidden name and publishes it under name */
static int
place_file(int dfd, const char *dir, const char *name, const struct hdr *h,
	struct dev *d, struct placed *pl)
{
	char path[PATH_MAX];
	int fd, ret;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return err_set(ENAMETOOLONG, "path too long in %s", dir);
	fd = hidden_file(dfd, dir, pl->tmp);
	if (fd < 0)
		return fd;
	/* d takes the final name now: it is what pheap_info() reports */
	dev_adopt(d, fd, path);
	ret = fill(fd, d, h);
	if (ret == 0 && fstat(fd, &pl->sb))
		ret = err_sys(errno, "stat %s", path);
	TH_POINT("pool.create.link");
	if (ret == 0 && linkat(dfd, pl->tmp, dfd, name, 0))
		ret = errno == EEXIST ? err_set(EINVAL, "a pheap with this id "
			"exists in %s", dir) : err_sys(errno, "publishing %s",
			path);
	if (ret) {
		unlinkat(dfd, pl->tmp, 0);
		dev_close(d);
	}
	return ret;
}

/* a free device's header, made the new pheap's.  A device mapped in
 * 1 GiB units needs a 1 GiB aligned base: the one asked for (PHEAP_BASE,
 * or the default), rounded up to the unit */
static int
claim_header(struct hdr *h, const struct hdr *proto, const struct dev *d)
{
	uint64_t unit = d->io.lim.unit;

	h->base = (proto->base + unit - 1) & ~(unit - 1);
	h->brk = 0;
	h->ctime_ns = proto->ctime_ns;
	h->uid = proto->uid;
	h->gid = proto->gid;
	h->mode = proto->mode;
	h->id_len = proto->id_len;
	memcpy(h->id, proto->id, proto->id_len);
	if (hdr_validate(h, &d->io.lim))
		return err_set(EINVAL, "PHEAP_BASE does not fit the capacity "
			"of %s", d->path);
	return 0;
}

/* makes the free device at path the pheap, under its break lock */
static int
place_device(const char *path, const struct hdr *proto, struct dev *d,
	struct placed *pl)
{
	struct hdr_found f;
	int ret = dev_open(d, path, 0);

	if (ret)
		return ret;
	ret = brklock_take(&dev_rt(d)->brk, d->fd);
	if (ret == 0) {
		ret = hdr_load(&d->io, &f);
		if (ret == 0 && !(f.ok && f.hdr.id_len == 0))
			ret = err_set(ENOSPC, "%s was taken meanwhile", path);
		if (ret == 0)
			ret = claim_header(&f.hdr, proto, d);
		TH_POINT("pool.claim.header");
		if (ret == 0)
			ret = hdr_store(&d->io, &f.hdr, &f.slot);
		brklock_drop(&dev_rt(d)->brk, d->fd);
	}
	if (ret == 0 && fstat(d->fd, &pl->sb))
		ret = err_sys(errno, "stat %s", path);
	if (ret) {
		dev_close(d);
		return ret;
	}
	/* the kernel enforces the mode on the node; only root can give it
	 * away (the header is what counts: attach repairs the node) */
	(void)!fchown(d->fd, proto->uid, proto->gid);
	(void)fchmod(d->fd, proto->mode);
	return 0;
}

/* puts the new pheap in the first entry, in PHEAP_POOL order, that takes it */
static int
place(const struct pool *p, const struct entries *e, const struct census *c,
	const char *name, const struct hdr *h, struct dev *d, struct placed *pl)
{
	for (int k = 0; k < p->n; k++)
		for (int i = 0; i < e->n; i++) {
			if (e->idx[i] != k || (e->isdev[i] && !c->free[i]))
				continue;
			pl->entry = i;
			pl->tmp[0] = '\0';
			if (e->isdev[i])
				return place_device(p->entry[k], h, d, pl);
			return place_file(e->fd[i], p->entry[k], name, h, d, pl);
		}
	return err_set(ENOSPC, "no entry of the pool can take a new pheap "
		"(a device must be formatted and free)");
}

/* the census after publishing said no: the pheap goes again */
static void
withdraw(const struct entries *e, const struct placed *pl, const char *name,
	const struct hdr *h, struct dev *d)
{
	struct hdr_found f;
	int dfd = e->fd[pl->entry];

	TH_POINT("pool.create.withdraw");
	if (!e->isdev[pl->entry]) {
		unlinkat(dfd, name, 0);
		unlinkat(dfd, pl->tmp, 0);
	} else if (brklock_take(&dev_rt(d)->brk, d->fd) == 0) {
		if (hdr_load(&d->io, &f) == 0 && f.ok && f.hdr.brk == 0 &&
				f.hdr.ctime_ns == h->ctime_ns) {
			f.hdr.id_len = 0;
			memset(f.hdr.id, 0, sizeof(f.hdr.id));
			(void)hdr_store(&d->io, &f.hdr, &f.slot);
		}
		brklock_drop(&dev_rt(d)->brk, d->fd);
	}
	dev_close(d);
}

/* the pheap stays: its hidden name goes, its names become durable */
static void
commit(const struct entries *e, const struct placed *pl, struct dev *d)
{
	int dfd = e->fd[pl->entry];

	if (e->isdev[pl->entry])
		return;
	TH_POINT("pool.create.commit");
	unlinkat(dfd, pl->tmp, 0);
	TH_POINT("pool.create.dir_fsync");
	if (fsync(dfd) == 0)
		TH_DURABLE(dfd, 0, 0, TH_SYNC_DIR);
	lock_drop(d->fd, LOCK_CREATE, 1);
}

/* one attempt: census, place, census again; 1 if withdrawn (try again),
 * *why saying what the census found */
static int
attempt(const struct pool *p, const struct entries *e, const char *name,
	const struct hdr *h, struct dev *d, int *why)
{
	struct census c;
	struct placed pl;
	int ret = census(p, e, name, h->id, h->id_len, NULL, &c);

	if (ret)
		return ret;
	if (c.count >= PHEAP_COUNT_LIMIT)
		return err_set(ENOSPC, "the pool already holds %d pheaps",
			PHEAP_COUNT_LIMIT);
	ret = place(p, e, &c, name, h, d, &pl);
	if (ret)
		return ret;
	ret = census(p, e, name, h->id, h->id_len, &pl, &c);
	if (ret == 0 && c.count <= PHEAP_COUNT_LIMIT) {
		commit(e, &pl, d);
		return 0;
	}
	withdraw(e, &pl, name, h, d);
	*why = ret ? ret : err_set(ENOSPC, "the pool holds %d pheaps (others "
		"were created at the same time)", PHEAP_COUNT_LIMIT);
	return 1;	/* raced with another creator: the next census tells */
}

int
pool_create(const void *id, size_t len, struct dev *d, struct hdr_found *f)
{
	struct pool p;
	struct entries e;
	char name[POOL_NAME_LEN + 1];
	struct hdr h;
	uint64_t base;
	int ret = pool_load(&p);

	if (ret == 0)
		ret = parse_base(&base);
	if (ret)
		return ret;
	pool_name(id, len, name);
	memset(&h, 0, sizeof(h));
	new_header(&h, id, len, base);
	open_entries(&p, &e);
	ret = e.n ? 1 : err_set(ENOSPC, "no usable directory in the pool "
		"(%s%s)", p.entry[0], p.n > 1 ? ", ..." : "");
	for (int i = 0, why = 0; i < ATTEMPTS && ret == 1; i++) {
		/* both racers may have withdrawn: not again at the same time */
		struct timespec nap = { 0, (long)(h.ctime_ns % 20 + 1) * 1000000L };

		if (i)
			nanosleep(&nap, NULL);
		ret = attempt(&p, &e, name, &h, d, &why);
		if (ret == 1 && i == ATTEMPTS - 1)
			ret = why;
	}
	if (ret == 0) {
		ret = hdr_load(&d->io, f);
		if (ret == 0 && !f->ok)
			ret = err_set(EIO, "%s: header unreadable after creation",
				d->path);
		if (ret)
			dev_close(d);
	}
	close_entries(&e);
	return ret;
}
