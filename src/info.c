/* SPDX-License-Identifier: BSD-3-Clause */
/* info.c -- pheap_base(), pheap_info() and ppersist() */
#include <errno.h>
#include <string.h>

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
	h.brk = len;
	info->capacity = dev_capacity(&st.dev, &h);
	info->mode = st.hdr.mode;
	info->uid = st.hdr.uid;
	info->gid = st.hdr.gid;
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
	/* no api lock: persisting must not wait behind a pbrk */
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
	ret = rsv_persist(st.rsv, addr, len);
out:
	pthread_rwlock_unlock(&st.map);
	return ret;
}
