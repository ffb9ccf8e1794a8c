/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * repair.c -- pheap_repair(): puts right what a crash, a power cut or a
 * stray write left wrong in one pool entry, and never guesses.
 *
 *  - a header copy that is damaged, or older than (stale), or different
 *    from the other: both are rewritten from the valid one with the
 *    higher sequence number (hdr_store: one copy, then the other, so a
 *    crash leaves the old or the new header).  Both copies damaged: -EUCLEAN,
 *    nothing is touched -- there is nothing to believe;
 *  - a header whose owner is not the file's: the file's owner is written
 *    into it, as the owner's read-write attach does (attach.c);
 *  - a file (or node) mode other than the header's: the header's, which is
 *    the truth (pchmod leaves the file narrower, or lends u+w, for an
 *    instant; udev resets nodes);
 *  - a creation's hidden leftover (".tmp-*"): removed if it is the
 *    caller's (or the caller is root) and its creator is gone, by the
 *    rules of pool_create.c.
 * All of it under the break lock (brklock.c), as every header change is:
 * safe while processes are attached, who follow the header as ever (the
 * break and the base are never changed here).  Owner or root only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owner.h"
#include "pool.h"
#include "state.h"	/* dev_rt(), the break lock */

#define TMP_PREFIX ".tmp-"	/* pool_create.c */

/* 1 if the two copies are not both the valid header f found */
static int
copies_differ(const struct dev *d, const struct hdr_found *f)
{
	struct hdr c[HDR_NSLOTS];
	uint8_t a[HDR_COPY_SIZE], b[HDR_COPY_SIZE];
	int s[HDR_NSLOTS];

	if (hdr_read_copies(&d->io, c, s) || s[0] || s[1])
		return 1;
	hdr_encode(&c[0], a);
	hdr_encode(&c[1], b);
	return memcmp(a, b, sizeof(a)) != 0 || c[0].seq != f->hdr.seq;
}

/* under the break lock: the header, then the mode (orig: the file's) */
static int
fix(struct dev *w, unsigned orig, int *lent)
{
	struct hdr_found f;
	struct owner o;
	int done = 0, ret = hdr_load(&w->io, &f);

	if (ret == 0 && !f.ok)
		ret = err_set(EUCLEAN, "%s: both header copies are damaged; "
			"not touched", w->path);
	if (ret == 0)
		ret = owner_of(w, &f.hdr, &o);
	if (ret)
		return ret;
	if (o.uid != f.hdr.uid) {
		f.hdr.uid = o.uid;
		done |= PHEAP_REPAIRED_OWNER;
	}
	if (done || copies_differ(w, &f)) {
		TH_POINT("repair.header");
		ret = hdr_store(&w->io, &f.hdr, &f.slot);
		if (ret)
			return ret;
		done |= PHEAP_REPAIRED_COPY;
	}
	if (orig != f.hdr.mode) {
		TH_POINT("repair.mode");
		if (fchmod(w->fd, f.hdr.mode) || dev_sync_mode(w))
			return err_sys(errno, "chmod %s", w->path);
		*lent = -1;	/* the header's now, lent or not */
		done |= PHEAP_REPAIRED_MODE;
	}
	return done;
}

/* a pheap, or a free device */
static int
repair_entry(const char *path)
{
	struct dev d, w;
	struct hdr_found f;
	struct stat sb;
	uid_t owner = 0;
	int lent, ret = dev_open(&d, path, 1);

	if (ret)
		return ret;
	ret = hdr_load(&d.io, &f);
	if (ret == 0 && fstat(d.fd, &sb))
		ret = err_sys(errno, "fstat %s", path);
	if (ret == 0 && !f.ok)
		ret = err_set(EUCLEAN, "%s: no valid header copy; not touched "
			"(nothing to believe)", path);
	if (ret == 0 && !owner_is_me(&d, &f.hdr, &owner))
		ret = err_set(EPERM, "%s: only its owner (uid %u) or root may "
			"repair it", path, (unsigned)owner);
	if (ret == 0)
		ret = owner_open_rw(&d, &w, 1, &lent);
	dev_close(&d);
	if (ret)
		return ret;
	ret = brklock_take(&dev_rt(&w)->brk, w.fd);
	if (ret == 0) {
		ret = fix(&w, sb.st_mode & 0777, &lent);
		brklock_drop(&dev_rt(&w)->brk, w.fd);
	}
	if (lent >= 0)
		(void)fchmod(w.fd, (mode_t)lent);
	dev_close(&w);
	return ret;
}

/* a creation's leftover */
static int
repair_debris(const char *path, const char *name)
{
	char dir[PATH_MAX];
	size_t n = (size_t)(name - path);
	int dfd, ret;

	if (n >= sizeof(dir))
		return err_set(ENAMETOOLONG, "path too long: %s", path);
	memcpy(dir, path, n);
	dir[n ? n : 1] = '\0';
	if (!n)
		dir[0] = '.';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return err_sys(errno, "opening %s", dir);
	ret = pool_clear_debris(dfd, name) ? PHEAP_REPAIRED_DEBRIS :
		err_set(EBUSY, "its creator lives, or it is not yours");
	close(dfd);
	return ret;
}

int
pheap_repair(const char *path, unsigned long flags)
{
	const char *name;

	if (!path)
		return err_set(EFAULT, "path is NULL");
	if (flags)
		return err_set(EINVAL, "unknown flags %#lx", flags);
	name = strrchr(path, '/');
	name = name ? name + 1 : path;
	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
		return repair_debris(path, name);
	return repair_entry(path);
}
