/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * brk.c -- pbrk(): move the break, durably, in every attached process.
 *
 * With the break lock (brklock.c) held, a round (sync.c) left open by a dead
 * coordinator is finished first.  Then:
 * Grow:   allocate zeroed storage, map it here (populated, writable), make
 *         the new break durable, then the round: ring, wait (bounded) for
 *         every attached process to look at the header.
 * Shrink: make the new break durable, unmap here (on a 1 GiB device only
 *         whole units: zero what stays mapped past the break), the round,
 *         and only then free the storage (so no process that followed in
 *         time maps it).
 * "pending" is set in the runtime page before the header is written and
 * cleared at the end of the round.  A crash between steps leaves the old or
 * the new break durable; storage beyond it, the tail past it, and processes
 * that have not looked, are dealt with by whoever next finds "pending" set.
 */
#include <errno.h>
#include <string.h>

#include "lock.h"
#include "state.h"

/* this process's mapping to len: the sync thread stays out meanwhile */
static int
set_local(uint64_t len, enum rsv_populate pop)
{
	int ret;

	pthread_mutex_lock(&st.follow);
	ret = state_set_len(&st, len, pop);
	pthread_mutex_unlock(&st.follow);
	return ret;
}

/* storage and local mapping for [old, want), then the durable header
 * that names it -- all under follow: our sync thread, lagging behind an
 * earlier change, would otherwise map the durable break of before this
 * grow over the range we just mapped, and nothing would map it again */
static int
grow_local(struct hdr *h, uint64_t old, uint64_t want, int *slot)
{
	int ret = dev_grow(&st.dev, h, old, want);

	pthread_mutex_lock(&st.follow);
	if (ret == 0)
		ret = state_set_len(&st, want, RSV_POPULATE_WRITE);
	/* storage that keeps what an earlier, larger heap wrote there (and
	 * on a 1 GiB device what was written past the break) */
	if (ret == 0 && !dev_grow_zeroed(&st.dev))
		rsv_zero_grown(st.rsv, old, want);
	if (ret == 0) {
		h->brk = want;
		ret = hdr_store(&st.dev.io, h, slot);
		if (ret)
			h->brk = old;
	}
	pthread_mutex_unlock(&st.follow);
	return ret;
}

/*
 * After a failure: the break that is durable now (re-read: the old one,
 * since hdr_store fails only before its first copy is durable) is mapped
 * here, and the round makes everyone agree and frees whatever storage lies
 * beyond it.
 */
static long
undo(struct hdr *h, int err)
{
	struct hdr_found f;

	if (hdr_load_id(&st.dev.io, st.hdr.id, st.hdr.id_len, st.dev.path,
			&f) == 0)
		*h = f.hdr;
	st.hdr.brk = h->brk;
	(void)set_local(h->brk, RSV_POPULATE_READ);
	(void)sync_round(&st, h);
	return err;
}

/* with the break lock held */
static long
change(uint64_t want)
{
	struct hdr_found f;
	int ret = sync_orphan(&st);

	if (ret == 0)
		ret = hdr_load_id(&st.dev.io, st.hdr.id, st.hdr.id_len,
			st.dev.path, &f);
	if (ret)
		return ret;

	struct hdr h = f.hdr;
	uint64_t old = h.brk, have = state_mapped_len(&st);

	if (want == old)	/* nothing to change; catch up if we are behind */
		return have == want ? 0 : set_local(want, want > have ?
			RSV_POPULATE_WRITE : RSV_POPULATE_READ);

	uint64_t cap = want > old ? dev_capacity(&st.dev, &h) : want;

	if (want > cap)
		return err_set(ENOMEM, "break %#llx beyond capacity %#llx",
			(unsigned long long)want, (unsigned long long)cap);
	sync_begin(&st);
	if (want > old) {
		ret = grow_local(&h, old, want, &f.slot);
	} else {
		h.brk = want;
		ret = hdr_store(&st.dev.io, &h, &f.slot);
	}
	if (ret)
		return undo(&h, ret);
	st.hdr.brk = want;
	if (want < old) {
		(void)set_local(want, RSV_POPULATE_READ);
		/* what stays mapped past the break reads as zero */
		rsv_zero_tail(st.rsv, want, old);
	}
	TH_POINT("brk.publish");
	return sync_round(&st, &h);
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
	int lag = __atomic_load_n(&st.follow_err, __ATOMIC_ACQUIRE);

	if (addr < base) {
		ret = lag ? err_set(-lag, "this process could not follow the "
			"last break change (%s)", strerror(-lag)) : (long)cur;
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
	/* bounded: a holder stopped inside pbrk must not stop us forever */
	ret = brklock_take(&st.rt->brk, st.lock_fd);
	if (ret)
		goto out;
	ret = change(want);
	brklock_drop(&st.rt->brk, st.lock_fd);
	if (ret == 0)
		ret = (long)(base + want);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}
