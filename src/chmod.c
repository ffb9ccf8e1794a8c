/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chmod.c -- pchmod(): the mode lives in the header (the truth, durable)
 * and on the backing file, where the kernel enforces it.
 *
 * Everything goes through what was opened at attach -- the descriptor, or
 * a reopen of it through /proc/self/fd -- never through the path again: a
 * chdir under a relative PHEAP_POOL, or a renamed pool, must not make
 * pchmod miss the attached pheap or hit another one.
 *
 * The two modes cannot change atomically, so under the break lock the file first
 * gets only the bits the durable mode and the new one share, then the
 * header the new mode, then the file the new mode: a crash at any point
 * leaves the file no more permissive than the old or the new mode, and the
 * next read-write attach by the owner finishes the job (attach.c:
 * repair_mode).  The old mode is the durable one, read under the lock, so
 * a pchmod made by another process is never undone.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "owner.h"
#include "state.h"

static int
set_mode(struct dev *d, uint32_t mode)
{
	struct hdr_found f;
	int ret = hdr_load_id(&d->io, st.hdr.id, st.hdr.id_len, st.dev.path, &f);

	if (ret)
		return ret;
	uint32_t cur = f.hdr.mode;

	/* the owner attached read-only may have lent itself u+w: no matter,
	 * the file gets exactly the mode the header ends with */
	TH_POINT("chmod.fchmod_both");
	if (fchmod(st.dev.fd, cur & mode))
		return err_sys(errno, "chmod %s", st.dev.path);
	/* durable before the header says the new mode: after a power cut
	 * the file is never wider than the header's mode */
	TH_POINT("chmod.fsync_both");
	ret = dev_sync_mode(&st.dev);
	if (ret)
		return ret;
	TH_DURABLE(st.dev.fd, 0, 0, TH_SYNC_FULL);
	f.hdr.mode = mode;
	ret = hdr_store(&d->io, &f.hdr, &f.slot);
	if (ret == 0)
		st.hdr.mode = mode;
	TH_POINT("chmod.fchmod_new");
	if (fchmod(st.dev.fd, ret ? cur : mode) && ret == 0)
		ret = err_sys(errno, "chmod %s", st.dev.path);
	TH_POINT("chmod.fsync");
	if (ret == 0)
		ret = dev_sync_mode(&st.dev);
	TH_DURABLE(st.dev.fd, 0, 0, TH_SYNC_FULL);
	return ret;
}

int
pchmod(unsigned long mode)
{
	uid_t me = geteuid();
	struct dev own, *d = NULL;
	int ret;

	pthread_mutex_lock(&st.api);
	if (!st.attached) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	if (mode & ~0777UL) {
		ret = err_set(EINVAL, "mode %#lo has bits outside 0777", mode);
		goto out;
	}
	/* the file's owner: whatever a writer may have put in the header */
	struct owner o;

	ret = owner_of(&st.dev, &st.hdr, &o);
	if (ret)
		goto out;
	if (me != 0 && me != o.uid) {
		ret = err_set(EACCES, "only the owner (uid %u) may pchmod",
			o.uid);
		goto out;
	}
	ret = state_writable(&st, &own, &d, 1);
	if (ret)
		goto out;
	struct brklock *l = &dev_rt(d)->brk;
	int lfd = d == &st.dev ? st.lock_fd : d->fd;

	ret = brklock_take(l, lfd);
	if (ret == 0 && d == &st.dev)
		ret = sync_orphan(&st);
	if (ret == 0) {
		ret = set_mode(d, (uint32_t)mode);
		brklock_drop(l, lfd);
	}
	if (d != &st.dev)
		dev_close(d);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}
