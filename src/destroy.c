/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * destroy.c -- pheap_destroy(), as ipcrm does it: the pheap is gone at
 * once for everyone who looks for it, and its storage goes when the last
 * attached process detaches or dies.
 *
 * States:
 *   live       a file <dir>/<hash>.pheap, or a device whose header holds
 *              the pheap;
 *   destroyed  the header's HDR_F_DESTROYED (header.c: version 2); a file
 *              has moved to a hidden name <dir>/.destroyed-<random>, so the
 *              id's name is free for a new pheap at once.  Processes that
 *              were attached stay attached, and may go on using it (pbrk,
 *              pchmod) until they detach: "destroyed-pending".  Nothing
 *              finds it any more -- not pattach, not a creation's census
 *              (it counts toward no limit: an attached process holds it);
 *   gone       the file unlinked; the device given a free header (it can
 *              take a new pheap).
 *
 * Destroying a file: under the break lock, (1) rename to the hidden name
 * (RENAME_NOREPLACE), check that it is the file we opened (else put it
 * back), fsync the directory; (2) write the flag (one durable copy and
 * its mirror, header.c); then (3) if nobody is attached, unlink it and
 * fsync the directory.  A crash after (1) leaves a hidden file without
 * the flag: its name alone says destroyed (destroy_is), and the next to
 * look frees it; a crash before (1) is durable left the pheap live (the
 * call had not returned).
 * A device: (1) the flag, under the break lock; (3) a free header, under
 * the break lock again, once nobody is attached -- hdr_store leaves the old
 * or the new header, so a crash leaves it destroyed or free.
 *
 * Attached: every attached process holds a read lock on one of the epoch
 * bytes (sync.c) from before it reads the header at attach until it
 * detaches or dies (the kernel drops the locks of the dead).  An attacher
 * takes its lock, then reads the header and refuses a destroyed one
 * (attach.c: map_heap); the destroyer writes the flag, then tests the
 * bytes: either it sees the attacher, or the attacher sees the flag.
 * F_OFD_GETLK tests them without write access, so anyone may look.
 *
 * Who frees: whoever next looks and may -- the destroyer (and with
 * PHEAP_DESTROY_WAIT it polls until then), pdetach() of the last attached
 * process, a refused attacher, and every pool scan (a creation's census,
 * pheap_pool_list()) -- provided it is the owner or root: a file goes only
 * by its owner's or root's hand, as in a sticky directory; a device only
 * by them too.  A process killed while attached thus never leaves it
 * pending for ever: its lock went with it, and the next look frees it.
 *
 * What it does not promise: any process that can read the file can hold a
 * read lock on an epoch byte without being attached; it only keeps the
 * pheap pending while it does (never freed early).  Conversely a process
 * that attached while a writer held its epoch byte for writing past the
 * bound holds none (sync.c): its file may be unlinked under it, which is
 * harmless (the kernel keeps what is mapped), but a device may be freed,
 * and claimed again, under it -- by a writer, who may destroy the pheap
 * anyway.
 *
 * Who may destroy: the owner -- the file's owner (owner.c), or on a device
 * node that root owns the header's -- or root: -EPERM else.  An owner
 * without write permission lends itself u+w for an instant, as pchmod
 * does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "destroy.h"
#include "format.h"
#include "lock.h"
#include "owner.h"
#include "pool.h"
#include "state.h"	/* dev_rt(), the break lock */

#define ATTEMPTS	3
#define NAP_MAX_NS	100000000L	/* PHEAP_DESTROY_WAIT polls at most 10/s */

int
destroy_attached(const struct dev *d)
{
	return lock_any(d->fd, LOCK_EPOCH0, LOCK_NEPOCH);
}

static int
hidden_name(const char *name)
{
	return strncmp(name, DESTROYED_PREFIX, strlen(DESTROYED_PREFIX)) == 0;
}

int
destroy_is(const struct hdr_found *f, const char *name)
{
	if (f->ok && (f->hdr.flags & HDR_F_DESTROYED))
		return 1;
	return name && hidden_name(name);
}


/* dir gets the directory part of a pool file's path; returns its name */
static const char *
split(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash) {
		strcpy(dir, ".");
		return path;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return slash + 1;
}

static void
random_name(char out[64])
{
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		r = (uint64_t)t.tv_nsec ^ (uint64_t)t.tv_sec ^
			((uint64_t)getpid() << 32);
	}
	snprintf(out, 64, DESTROYED_PREFIX "%016llx", (unsigned long long)r);
}

/* renames dir/name, the file open on d, to a fresh destroyed name, and
 * makes that durable; d->path follows */
static int
hide(int dfd, const char *dir, const char *name, struct dev *d)
{
	struct stat mine_sb, there;
	char hidden[64];

	if (fstat(d->fd, &mine_sb))
		return err_sys(errno, "fstat %s", d->path);
	for (int i = 0;; i++) {
		random_name(hidden);
		TH_POINT("destroy.hide");
		if (renameat2(dfd, name, dfd, hidden, RENAME_NOREPLACE) == 0)
			break;
		if (errno != EEXIST || i == ATTEMPTS - 1)
			return err_sys(errno, "hiding %s", d->path);
	}
	if (fstatat(dfd, hidden, &there, AT_SYMLINK_NOFOLLOW) ||
			there.st_dev != mine_sb.st_dev ||
			there.st_ino != mine_sb.st_ino) {
		/* its name was another file's meanwhile: that one goes back */
		(void)renameat2(dfd, hidden, dfd, name, RENAME_NOREPLACE);
		return err_set(EAGAIN, "%s was replaced meanwhile", d->path);
	}
	TH_POINT("destroy.hide_fsync");
	if (fsync(dfd))
		return err_sys(errno, "fsync %s", dir);
	TH_DURABLE(dfd, 0, 0, TH_SYNC_DIR);
	snprintf(d->path, sizeof(d->path), "%s/%s", dir, hidden);
	return 0;
}

/* a file: gone if nobody is attached; 1 freed, 0 attached */
static int
release_file(const struct dev *d, int dfd, const char *name)
{
	if (destroy_attached(d))
		return 0;
	TH_POINT("destroy.unlink");
	if (unlinkat(dfd, name, 0) && errno != ENOENT)
		return err_sys(errno, "removing %s", d->path);
	if (fsync(dfd) == 0)
		TH_DURABLE(dfd, 0, 0, TH_SYNC_DIR);
	return 1;
}

/* a device open read-write on w: under its break lock, still the pheap h
 * destroyed and nobody attached, it gets a free header; 1 freed (or
 * freed by another meanwhile), 0 attached */
static int
release_dev(struct dev *w, const struct hdr *h)
{
	struct hdr_found f;
	int ret;

	if (destroy_attached(w))
		return 0;
	ret = brklock_take(&dev_rt(w)->brk, w->fd);
	if (ret)
		return ret;
	ret = hdr_load(&w->io, &f);
	if (ret == 0 && !(destroy_is(&f, NULL) && hdr_match(&f, h->id,
			h->id_len) > 0 && f.hdr.ctime_ns == h->ctime_ns))
		ret = 1;
	else if (ret == 0 && destroy_attached(w))
		ret = 0;
	else if (ret == 0) {
		TH_POINT("destroy.free");
		ret = format_free(w, &f);
		ret = ret ? ret : 1;
	}
	brklock_drop(&dev_rt(w)->brk, w->fd);
	return ret;
}

/* ---- pheap_destroy() ---- */

/* under the break lock: a file is hidden (dfd >= 0), then the flag */
static int
mark(struct dev *w, const void *id, size_t len, int dfd, struct hdr *h)
{
	struct hdr_found f;
	char dir[PATH_MAX], name[PATH_MAX];
	int ret = hdr_load_id(&w->io, id, len, w->path, &f);

	if (ret == 0 && destroy_is(&f, NULL))
		ret = err_set(EINVAL, "no pheap with this id in the pool "
			"(destroyed meanwhile)");
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s", split(w->path, dir));
	if (dfd >= 0 && (ret = hide(dfd, dir, name, w)) != 0)
		return ret;
	f.hdr.flags |= HDR_F_DESTROYED;
	TH_POINT("destroy.mark");
	ret = hdr_store(&w->io, &f.hdr, &f.slot);
	*h = f.hdr;
	/* hidden but not flagged: destroyed by its name all the same */
	return ret;
}

/* frees it now, or (wait) once nobody is attached: 0 freed, 1 pending */
static int
finish(struct dev *w, int dfd, const struct hdr *h, int wait)
{
	char dir[PATH_MAX];
	const char *name = split(w->path, dir);
	struct timespec nap = { 0, 1000000L };

	for (;;) {
		int ret = dfd >= 0 ? release_file(w, dfd, name) :
			release_dev(w, h);

		if (ret == 1)
			return 0;
		if (!wait && ret == 0)
			return 1;
		if (!wait || (ret < 0 && ret != -EBUSY))
			return ret;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < NAP_MAX_NS)
			nap.tv_nsec *= 2;
	}
}

static int
check_args(const char *guid, size_t len, unsigned long flags)
{
	return pool_check_id(guid, len, flags, PHEAP_DESTROY_WAIT);
}

/* 1 if the calling process is attached to the backing open on d */
static int
attached_here(const struct dev *d)
{
	struct stat a, b;
	int yes;

	pthread_mutex_lock(&st.api);
	yes = st.attached && fstat(st.dev.fd, &a) == 0 &&
		fstat(d->fd, &b) == 0 && a.st_dev == b.st_dev &&
		a.st_ino == b.st_ino && a.st_rdev == b.st_rdev;
	pthread_mutex_unlock(&st.api);
	return yes;
}

/* the destroy itself, on the pheap found as d */
static int
destroy_found(struct dev *d, const char *guid, size_t len, unsigned long flags)
{
	struct dev w;
	struct hdr h;
	struct stat sb;
	char dir[PATH_MAX];
	int dfd = -1, lent, ret = owner_open_rw(d, &w, 1, &lent);

	if (ret)
		return ret;
	if (fstat(w.fd, &sb) == 0 && !dev_is_standalone(&sb)) {
		split(w.path, dir);
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			ret = err_sys(errno, "opening %s", dir);
	}
	if (ret == 0)
		ret = brklock_take(&dev_rt(&w)->brk, w.fd);
	if (ret == 0) {
		ret = mark(&w, guid, len, dfd, &h);
		brklock_drop(&dev_rt(&w)->brk, w.fd);
	}
	if (lent >= 0)
		(void)fchmod(w.fd, (mode_t)lent);
	if (ret == 0)
		ret = finish(&w, dfd, &h, (flags & PHEAP_DESTROY_WAIT) != 0);
	if (dfd >= 0)
		close(dfd);
	dev_close(&w);
	return ret;
}

int
pheap_destroy(const char *guid, size_t len, unsigned long flags)
{
	struct dev d;
	struct hdr_found f;
	uid_t owner = 0;
	int ret = check_args(guid, len, flags);

	if (ret == 0)
		ret = pool_find(guid, len, 1, &d, &f);
	if (ret)
		return ret;
	if (!owner_is_me(&d, &f.hdr, &owner))
		ret = err_set(EPERM, "%s: only its owner (uid %u) or root may "
			"destroy it", d.path, (unsigned)owner);
	else if ((flags & PHEAP_DESTROY_WAIT) && attached_here(&d))
		ret = err_set(EDEADLK, "the calling process is attached to it: "
			"waiting for its last detach would never end");
	else
		ret = destroy_found(&d, guid, len, flags);
	dev_close(&d);
	return ret;
}

/* ---- the next to look ---- */

int
destroy_reap_file(int dfd, const char *dir, const char *name)
{
	struct stat sb;
	struct dev d;
	struct hdr_found f;
	char now[PATH_MAX], here[PATH_MAX];
	uid_t owner;
	int ret;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) ||
			!S_ISREG(sb.st_mode) ||
			(geteuid() != 0 && sb.st_uid != geteuid()))
		return 0;
	if (pool_open_in(dir, name, 1, &d))
		return 0;
	ret = hdr_load(&d.io, &f);
	if (ret || !(f.ok || f.nclaims) || !destroy_is(&f, name) ||
			!owner_is_me(&d, &f.hdr, &owner) || pool_in_creation(&d)) {
		dev_close(&d);
		return 0;
	}
	/* flagged under its pheap's name (put back by hand?): hidden first */
	if (!hidden_name(name) && (ret = hide(dfd, dir, name, &d)) != 0) {
		dev_close(&d);
		return ret;
	}
	snprintf(now, sizeof(now), "%s", split(d.path, here));
	ret = release_file(&d, dfd, now);
	dev_close(&d);
	return ret;
}

int
destroy_reap_dev(const char *path)
{
	struct dev d, w;
	struct hdr_found f;
	uid_t owner;
	int go;

	if (dev_open(&d, path, 1))
		return 0;
	go = hdr_load(&d.io, &f) == 0 && f.ok && f.hdr.id_len &&
		destroy_is(&f, NULL) && owner_is_me(&d, &f.hdr, &owner) &&
		!destroy_attached(&d);
	dev_close(&d);
	if (!go || dev_open(&w, path, 0))
		return 0;
	int ret = release_dev(&w, &f.hdr);

	dev_close(&w);
	return ret;
}

void
destroy_reap_gone(const char *path, const struct stat *sb)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat now;
	DIR *dp;
	int dfd;

	if (dev_is_standalone(sb)) {
		(void)destroy_reap_dev(path);
		return;
	}
	split(path, dir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dp = dfd < 0 ? NULL : fdopendir(dup(dfd));
	while (dp && (de = readdir(dp)) != NULL)
		if (hidden_name(de->d_name) && fstatat(dfd, de->d_name, &now,
				AT_SYMLINK_NOFOLLOW) == 0 &&
				now.st_dev == sb->st_dev && now.st_ino == sb->st_ino) {
			(void)destroy_reap_file(dfd, dir, de->d_name);
			break;
		}
	if (dp)
		closedir(dp);
	if (dfd >= 0)
		close(dfd);
}
