/* SPDX-License-Identifier: BSD-3-Clause */
/* info.c -- pheap_base(), pheap_info() and ppersist() */
#include <errno.h>
#include <string.h>

#include "owner.h"
#include "state.h"

void *
pheap_base(void)
{
	void *base = NULL;

	pthread_mutex_lock(&st.api);
	if (st.attached)
		base = (void *)(uintptr_t)st.hdr.base;
	pthread_mutex_unlock(&st.api);
	return base;
}

int
pheap_info(struct pheap_info *info)
{
	int ret = 0;

	if (!info)
		return err_set(EFAULT, "info is NULL");
	pthread_mutex_lock(&st.api);
	if (!st.attached) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	memset(info, 0, sizeof(*info));
	memcpy(info->id, st.hdr.id, st.hdr.id_len);
	info->id_len = st.hdr.id_len;
	info->base = (void *)(uintptr_t)st.hdr.base;
	uint64_t len = state_mapped_len(&st);
	info->brk = (char *)info->base + len;
	struct hdr h = st.hdr;
	struct hdr_found f;

	/* owner and mode as they are durably now: another process may have
	 * changed them since we attached */
	if (hdr_load_id(&st.dev.io, st.hdr.id, st.hdr.id_len, st.dev.path,
			&f) == 0)
		h = f.hdr;
	h.brk = len;
	info->capacity = dev_capacity(&st.dev, &h);
	/* never a forged owner: the file's; the header's mode if it agrees */
	struct owner o;

	if (owner_report(&st.dev, &h, &o) == 0) {
		info->uid = o.uid;
		info->gid = o.gid;
		info->mode = o.mode;
	} else {
		info->uid = st.hdr.uid;
		info->gid = st.hdr.gid;
		info->mode = h.mode;
	}
	info->follow_error = __atomic_load_n(&st.follow_err, __ATOMIC_ACQUIRE);
	info->backend = st.backend;
	info->rdonly = st.rdonly;
	info->unsafe_shutdown = st.unsafe_shutdown;
	strcpy(info->path, st.dev.path);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}

int
ppersist(const void *addr, size_t len)
{
	int ret;

	if (len == 0)
		return 0;
	/*
	 * No api lock: persisting must not wait behind a pbrk.  The map lock
	 * prefers writers, and is held only to check the range and, on DAX,
	 * for the cache flushes (an unmapped address would fault there); an
	 * msync runs without it, so a slow disk flush never holds up a break
	 * change or fork -- msync of a range unmapped meanwhile just fails.
	 */
	pthread_rwlock_rdlock(&st.map);
	if (!st.rsv) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	uintptr_t base = (uintptr_t)st.hdr.base, a = (uintptr_t)addr;
	uint64_t brk_len = rsv_len(st.rsv);

	if (a < base || a - base > brk_len || len > brk_len - (a - base)) {
		ret = err_set(EFAULT, "range %p+%zu is outside the pheap", addr, len);
		goto out;
	}
	if (rsv_is_dax(st.rsv)) {
		ret = rsv_persist(st.rsv, addr, len);
		goto out;
	}
	pthread_rwlock_unlock(&st.map);
	ret = rsv_msync(addr, len);
	if (ret == -ENOMEM)
		ret = err_set(EFAULT, "range %p+%zu was unmapped by a shrink",
			addr, len);
	return ret;
out:
	pthread_rwlock_unlock(&st.map);
	return ret;
}
