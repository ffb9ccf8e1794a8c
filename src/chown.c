/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chown.c -- pheap_chown(): root gives a pheap to another owner.
 *
 * The owner is the file's (owner.c); the header names it too, and a
 * header that disagrees is believed by nobody but the file's owner and
 * root.  Under the break lock the file changes hands first (made durable),
 * then the header: a crash in between leaves the file's new owner beside
 * the old one in the header -- the new owner, whose next read-write attach
 * (or root's, or pheap_repair()) writes it into the header (attach.c:
 * repair_owner), and nobody else believes the old one.  On a device node
 * that root owns, the header alone names the owner: only it changes.
 *
 * Root only, as chown(2) without CAP_CHOWN: -EPERM else.  (uid_t)-1 or
 * (gid_t)-1 leaves that one as it is.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owner.h"
#include "pool.h"
#include "state.h"	/* dev_rt(), the break lock */

/* with the break lock held on d, read-write */
static int
give(struct dev *d, const void *id, size_t len, uid_t uid, gid_t gid)
{
	struct hdr_found f;
	struct stat sb;
	int ret = hdr_load_id(&d->io, id, len, d->path, &f);

	if (ret == 0 && fstat(d->fd, &sb))
		ret = err_sys(errno, "fstat %s", d->path);
	if (ret)
		return ret;
	if (uid != (uid_t)-1)
		f.hdr.uid = uid;
	if (gid != (gid_t)-1)
		f.hdr.gid = gid;
	if (!dev_owner_in_header(d, &sb)) {
		TH_POINT("chown.fchown");
		if (fchown(d->fd, uid, gid))
			return err_sys(errno, "chown %s", d->path);
		ret = dev_sync_mode(d);
		if (ret)
			return ret;
		TH_DURABLE(d->fd, 0, 0, TH_SYNC_FULL);
	}
	TH_POINT("chown.header");
	return hdr_store(&d->io, &f.hdr, &f.slot);
}

int
pheap_chown(const char *guid, size_t len, uid_t uid, gid_t gid)
{
	struct dev d;
	struct hdr_found f;
	int ret;

	if ((ret = pool_check_id(guid, len, 0, 0)) != 0)
		return ret;
	if (geteuid() != 0)
		return err_set(EPERM, "only root may change a pheap's owner");
	ret = pool_find(guid, len, 0, &d, &f);
	if (ret)
		return ret;
	ret = dev_map_area(&d);
	if (ret == 0)
		ret = brklock_take(&dev_rt(&d)->brk, d.fd);
	if (ret == 0) {
		ret = give(&d, guid, len, uid, gid);
		brklock_drop(&dev_rt(&d)->brk, d.fd);
	}
	dev_close(&d);
	return ret;
}
