/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * brk.c -- pbrk(): move the break, durably, in every attached process.
 *
 * Grow:   allocate zeroed storage, map it here (populated, writable), make
 *         the new break durable, publish it and wait for every process.
 * Shrink: make the new break durable, unmap here, publish and wait until
 *         no process maps the range any more, then free the storage.
 * A crash between steps leaves the old or the new break durable and at
 * worst storage beyond the break allocated, which the next grow discards.
 */
#include <errno.h>
#include <string.h>

#include "lock.h"
#include "state.h"

static int
set_local(uint64_t len, enum rsv_populate pop)
{
	int ret;

	pthread_rwlock_wrlock(&st.map);
	ret = rsv_set_len(st.rsv, len, pop);
	pthread_rwlock_unlock(&st.map);
	return ret;
}

/* with LOCK_BRK held for writing */
static long
change(uint64_t want)
{
	struct hdr_found f;
	int ret = hdr_load_id(&st.dev.io, st.hdr.id, st.hdr.id_len,
		st.dev.path, &f);

	if (ret)
		return ret;

	struct hdr h = f.hdr;
	uint64_t old = h.brk;

	if (want == old) {
		/*
		 * Usually nothing to do.  But a coordinator killed between its
		 * header write and its publish leaves processes mapping the old
		 * break: finish its round, so this pbrk's answer is mapped.
		 */
		uint64_t have = state_mapped_len(&st);

		if (have == want)
			return 0;
		ret = set_local(want, want > have ? RSV_POPULATE_WRITE :
			RSV_POPULATE_READ);
		if (ret == 0)
			ret = sync_publish(&st, want);
		if (ret == 0 && want < have)
			(void)dev_trim(&st.dev, &h, want);
		return ret;
	}

	uint64_t cap = want > old ? dev_capacity(&st.dev, &h) : want;

	if (want > cap)
		return err_set(ENOMEM, "break %#llx beyond capacity %#llx",
			(unsigned long long)want, (unsigned long long)cap);
	if (want > old) {
		ret = dev_grow(&st.dev, &h, old, want);
		if (ret)
			return ret;
		ret = set_local(want, RSV_POPULATE_WRITE);
		if (ret) {
			dev_trim(&st.dev, &h, old);
			return ret;
		}
		/* a device keeps what an earlier, larger heap wrote there */
		if (st.dev.devdax)
			rsv_zero(st.rsv, old, want - old);
	}
	h.brk = want;
	ret = hdr_store(&st.dev.io, &h, &f.slot);
	if (ret) {
		/* the old break is still the durable one */
		if (want > old) {
			set_local(old, RSV_POPULATE_READ);
			dev_trim(&st.dev, &h, old);
		}
		return ret;
	}
	st.hdr.brk = want;
	if (want < old)
		(void)set_local(want, RSV_POPULATE_READ);
	TH_POINT("brk.publish");
	ret = sync_publish(&st, want);
	if (ret)
		return ret;
	/* nobody maps beyond the break now: the storage may go */
	if (want < old)
		(void)dev_trim(&st.dev, &h, want);
	return 0;
}

long
pbrk(unsigned long addr)
{
	long ret;

	pthread_mutex_lock(&st.api);
	if (!st.attached) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	uint64_t base = st.hdr.base, cur = base + state_mapped_len(&st);

	if (addr < base) {
		ret = (long)cur;
		goto out;
	}
	uint64_t delta = addr - base;
	uint64_t want = (delta + PHEAP_PAGE_SIZE - 1) & ~(PHEAP_PAGE_SIZE - 1);

	if (st.rdonly) {
		ret = delta <= st.hdr.capacity && base + want == cur ? (long)cur :
			err_set(EACCES, "pheap attached read-only");
		goto out;
	}
	if (delta > st.hdr.capacity) {
		ret = err_set(ENOMEM, "break %#lx beyond capacity %#llx", addr,
			(unsigned long long)st.hdr.capacity);
		goto out;
	}
	ret = lock_take(st.lock_fd, LOCK_BRK, F_WRLCK);
	if (ret)
		goto out;
	ret = change(want);
	lock_drop(st.lock_fd, LOCK_BRK);
	if (ret == 0)
		ret = (long)(base + want);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}
