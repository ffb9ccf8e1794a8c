/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chmod.c -- pchmod(): the mode lives in the header (the truth, durable)
 * and on the backing file, where the kernel enforces it.
 *
 * The two cannot change atomically, so the file first gets only the bits
 * both modes share, then the header the new mode, then the file the new
 * mode: a crash at any point leaves the file no more permissive than the
 * old or the new mode, and the next attach by the owner finishes the job
 * (attach.c: repair_mode).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "state.h"

/* through a read-write open of its own: we may be attached read-only */
static int
write_mode(uint32_t mode)
{
	struct dev d;
	struct hdr_found f;
	int ret = dev_open(&d, st.dev.path, 0);

	if (ret)
		return ret;
	ret = lock_take(d.fd, LOCK_BRK, F_WRLCK);
	if (ret) {
		dev_close(&d);
		return ret;
	}
	ret = hdr_load_id(&d.io, st.hdr.id, st.hdr.id_len, d.path, &f);
	if (ret == 0) {
		f.hdr.mode = mode;
		ret = hdr_store(&d.io, &f.hdr, &f.slot);
	}
	lock_drop(d.fd, LOCK_BRK);
	dev_close(&d);
	return ret;
}

int
pchmod(unsigned long mode)
{
	uid_t me = geteuid();
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
	if (me != 0 && me != st.hdr.uid) {
		ret = err_set(EACCES, "only the owner (uid %u) may pchmod",
			st.hdr.uid);
		goto out;
	}
	uint32_t both = st.hdr.mode & (uint32_t)mode;

	/* the owner may need to write the header of a read-only pheap */
	TH_POINT("chmod.fchmod_both");
	if (fchmod(st.dev.fd, both | (me == 0 ? 0 : S_IWUSR))) {
		ret = err_sys(errno, "chmod %s", st.dev.path);
		goto out;
	}
	ret = write_mode((uint32_t)mode);
	if (ret)
		goto restore;
	st.hdr.mode = (uint32_t)mode;
restore:
	TH_POINT("chmod.fchmod_new");
	if (fchmod(st.dev.fd, st.hdr.mode) && ret == 0)
		ret = err_sys(errno, "chmod %s", st.dev.path);
	/* a device node's mode lives in devtmpfs: attach re-applies it */
	TH_POINT("chmod.fsync");
	if (ret == 0 && !st.dev.devdax && fsync(st.dev.fd))
		ret = err_sys(errno, "fsync %s", st.dev.path);
	TH_DURABLE(st.dev.fd, 0, 0, TH_SYNC_FULL);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}
