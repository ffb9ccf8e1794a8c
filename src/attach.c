/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * attach.c -- pattach() and pdetach(), fork and exec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "destroy.h"
#include "lock.h"
#include "owner.h"
#include "pool.h"
#include "state.h"

#define FLAGS_KNOWN (PHEAP_CREATE | PHEAP_ATTACH | PHEAP_RDONLY)

struct state st = {
	.api = PTHREAD_MUTEX_INITIALIZER,
	.follow = PTHREAD_MUTEX_INITIALIZER,
	/* writers first: ppersist() must never starve a break change */
	.map = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP,
	.lock_fd = -1,
	.epoch_fd = -1,
	.fork_fd = -1,
	.dev = { .fd = -1 },
};

static int
check_flags(const char *guid, size_t len, unsigned long flag)
{
	int ret = pool_check_id(guid, len, flag, FLAGS_KNOWN);

	if (ret)
		return ret;
	if (!(flag & PHEAP_CREATE) == !(flag & PHEAP_ATTACH))
		return err_set(EINVAL, "exactly one of PHEAP_CREATE and "
			"PHEAP_ATTACH is needed");
	if ((flag & PHEAP_CREATE) && (flag & PHEAP_RDONLY))
		return err_set(EINVAL, "PHEAP_RDONLY goes with PHEAP_ATTACH only");
	return 0;
}

/*
 * The header is the truth; a crash inside pchmod may have left the file's
 * mode behind it (and udev resets a device node's at boot): its owner (or
 * root) puts it right -- under the break lock, so it never undoes a pchmod
 * running now; skipped if that lock is busy.  Attached read-only, the lock
 * is taken through a read-write reopen, when the mode lets the caller have
 * one.
 */
static void
repair_mode(struct state *s, const struct owner *o)
{
	struct hdr_found f;
	struct dev own, *d;
	uid_t me = geteuid();

	if ((me != 0 && me != o->uid) || o->mode == s->hdr.mode)
		return;
	if (state_writable(s, &own, &d, 0))
		return;
	int fd = d == &s->dev ? s->lock_fd : d->fd;

	if (brklock_try(&dev_rt(d)->brk, fd) == 0) {
		if (hdr_load_id(&s->dev.io, s->hdr.id, s->hdr.id_len,
				s->dev.path, &f) == 0)
			(void)fchmod(s->dev.fd, f.hdr.mode);
		brklock_drop(&dev_rt(d)->brk, fd);
	}
	if (d != &s->dev)
		dev_close(d);
}

int
state_writable(struct state *s, struct dev *own, struct dev **use, int lend)
{
	int lent, ret;

	*use = &s->dev;
	if (!s->rdonly)
		return 0;
	TH_POINT("chmod.lend_uw");
	/* what is lent, pchmod puts right: the file ends with the new mode */
	ret = owner_open_rw(&s->dev, own, lend, &lent);
	if (ret == 0)
		*use = own;
	return ret;
}

/*
 * A header naming another owner than its file's (a writer rewrote it):
 * the file's owner or root, attached read-write, writes the true owner
 * back, under the break lock.  Read-only, they attach and leave it.
 */
static void
repair_owner(struct state *s, const struct owner *o)
{
	struct hdr_found f;

	s->hdr.uid = o->uid;
	if (s->rdonly || brklock_try(&s->rt->brk, s->lock_fd))
		return;
	if (hdr_load_id(&s->dev.io, s->hdr.id, s->hdr.id_len, s->dev.path,
			&f) == 0 && f.hdr.uid != o->uid) {
		f.hdr.uid = o->uid;
		(void)hdr_store(&s->dev.io, &f.hdr, &f.slot);
	}
	brklock_drop(&s->rt->brk, s->lock_fd);
}

uint64_t
state_mapped_len(struct state *s)
{
	uint64_t len;

	pthread_rwlock_rdlock(&s->map);
	len = rsv_len(s->rsv);
	pthread_rwlock_unlock(&s->map);
	return len;
}

int
state_map_len(struct state *s, uint64_t len, uint64_t *old)
{
	int ret;

	pthread_rwlock_wrlock(&s->map);
	*old = rsv_len(s->rsv);
	ret = rsv_set_len(s->rsv, len);
	pthread_rwlock_unlock(&s->map);
	return ret;
}

int
state_set_len(struct state *s, uint64_t len, enum rsv_populate pop)
{
	uint64_t old;
	int ret = state_map_len(s, len, &old);

	/* outside the lock: populating a large grow takes time */
	if (ret == 0 && len > old)
		ret = rsv_populate(s->rsv, old, len - old, pop);
	return ret;
}

static void
teardown(struct state *s)
{
	sync_stop(s);
	pthread_rwlock_wrlock(&s->map);
	rsv_delete(&s->rsv);
	pthread_rwlock_unlock(&s->map);
	s->rt = NULL;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	if (s->epoch_fd >= 0)
		close(s->epoch_fd);	/* drops the epoch lock */
	s->epoch_fd = -1;
	dev_close(&s->dev);
	s->epoch_held = 0;
	s->attached = 0;
}

/*
 * Unsafe shutdowns: libpmem2 reads the DIMMs' unsafe shutdown count (USC)
 * where the platform reports it.  The header keeps the count seen at the
 * last read-write attach; a different count now means power was lost
 * without the caches being flushed since then, so even ppersist()ed data
 * may be gone.  We report it (pheap_info().unsafe_shutdown) and, attached
 * read-write, record the new count so it is reported once (skipped, and
 * reported again next time, if a break change holds the break lock too long).
 */
static int
check_usc(struct state *s, const void *id, size_t len)
{
	struct hdr_found f;
	uint64_t usc;
	int ret;

	s->unsafe_shutdown = 0;
	if (dev_usc(&s->dev, &usc))
		return 0;	/* cannot tell here */
	ret = hdr_load(&s->dev.io, &f);
	if (ret || hdr_match(&f, id, len) <= 0 || f.hdr.usc == usc)
		return 0;	/* damage is found (and reported) later */
	s->unsafe_shutdown = f.hdr.usc != 0;
	if (s->rdonly || brklock_take(&s->rt->brk, s->lock_fd))
		return 0;
	ret = hdr_load_id(&s->dev.io, id, len, s->dev.path, &f);
	if (ret == 0) {
		f.hdr.usc = usc;
		ret = hdr_store(&s->dev.io, &f.hdr, &f.slot);
	}
	brklock_drop(&s->rt->brk, s->lock_fd);
	return ret;
}

/* reads and checks the header, maps [base, brk) */
static int
map_heap(struct state *s, const void *id, size_t len)
{
	struct hdr_found f;
	int ret = hdr_load_id(&s->dev.io, id, len, s->dev.path, &f);

	/* read after our epoch lock is held: a destroyer flagging it from
	 * now on sees us, one that flagged it before is seen here */
	if (ret == 0 && destroy_is(&f, NULL))
		ret = err_set(EINVAL, "no pheap with this id in the pool (%s "
			"has just been destroyed)", s->dev.path);
	if (ret == 0)
		ret = dev_check_size(&s->dev, &f.hdr);
	if (ret == 0 && !s->rdonly)
		ret = dev_check_badblocks(&s->dev, &f.hdr);
	if (ret)
		return ret;
	/* the file's owner and mode are the truth; a header that disagrees
	 * is believed by nobody else */
	struct owner o;

	ret = owner_of(&s->dev, &f.hdr, &o);
	if (ret == 0)
		ret = owner_trust(&o, &f.hdr, geteuid(), s->dev.path);
	if (ret < 0)
		return ret;
	s->hdr = f.hdr;
	if (ret == 1 && o.uid != f.hdr.uid)
		repair_owner(s, &o);
	repair_mode(s, &o);
	ret = rsv_new(&s->rsv, s->hdr.base, s->hdr.capacity, s->dev.fd,
		s->hdr.data_off, s->dev.io.lim.unit, s->rdonly);
	if (ret == 0)
		ret = state_set_len(s, s->hdr.brk, RSV_POPULATE_READ);
	return ret;
}

/* a read-write attacher finishes a round a dead coordinator left open */
static void
adopt_orphan(struct state *s)
{
	if (s->rdonly || !__atomic_load_n(&s->rt->pending, __ATOMIC_ACQUIRE))
		return;
	if (brklock_try(&s->rt->brk, s->lock_fd))
		return;		/* its coordinator is alive, or another finishes */
	(void)sync_orphan(s);
	brklock_drop(&s->rt->brk, s->lock_fd);
}

/*
 * Maps the opened pheap; on failure everything is undone.  Takes no lock
 * another process can hold for long: the epoch lock is taken before the
 * header is read (see sync.c), so a break change made meanwhile is either
 * in the header we read or followed by the sync thread.
 */
static int
attach_dev(struct state *s, const void *id, size_t len)
{
	int ret;

	s->lock_fd = dev_reopen(&s->dev, s->rdonly);
	s->epoch_fd = dev_reopen(&s->dev, 1);
	if (s->lock_fd < 0 || s->epoch_fd < 0) {
		ret = s->lock_fd < 0 ? s->lock_fd : s->epoch_fd;
		goto fail;
	}
	ret = dev_map_area(&s->dev);
	if (ret)
		goto fail;
	s->rt = dev_rt(&s->dev);
	ret = sync_join(s);
	if (ret == 0)
		ret = check_usc(s, id, len);
	if (ret == 0)
		ret = map_heap(s, id, len);
	if (ret)
		goto fail;
	s->backend = dev_kind(&s->dev, rsv_is_dax(s->rsv));
	ret = sync_start(s);
	if (ret)
		goto fail;
	s->attached = 1;
	adopt_orphan(s);
	return 0;
fail:
	teardown(s);
	return ret;
}

/*
 * A pheap we created but could not attach (its address range is taken
 * here, say) is removed again: a failed PHEAP_CREATE creates nothing.
 */
static void
uncreate(const char *path, const struct stat *made)
{
	struct stat now;

	if (stat(path, &now) || now.st_dev != made->st_dev ||
			now.st_ino != made->st_ino)
		return;
	(void)dev_discard(path, &now);
}

int
pattach(const char *guid, size_t len, unsigned long flag)
{
	struct hdr_found f;
	struct stat made;
	char path[PATH_MAX];
	int ret = check_flags(guid, len, flag);

	if (ret)
		return ret;
	pthread_mutex_lock(&st.api);
	if (st.attached) {
		ret = err_set(EINVAL, "already attached to a pheap");
		goto out;
	}
	st.rdonly = !!(flag & PHEAP_RDONLY);
	if (flag & PHEAP_CREATE)
		ret = pool_create(guid, len, &st.dev, &f);
	else
		ret = pool_find(guid, len, st.rdonly, &st.dev, &f);
	if (ret)
		goto out;
	strcpy(path, st.dev.path);
	if (fstat(st.dev.fd, &made))
		made.st_ino = 0;
	ret = attach_dev(&st, guid, len);
	if (ret && made.st_ino) {
		char msg[256];

		/* keep attach_dev's explanation */
		snprintf(msg, sizeof(msg), "%s", pheap_errormsg());
		if (flag & PHEAP_CREATE)
			uncreate(path, &made);
		else if (ret == -EINVAL)	/* destroyed: we may be the last */
			destroy_reap_gone(path, &made);
		err_set(-ret, "%s", msg);
	}
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}

/* the attached pheap has been destroyed (destroy.c): where it is, so
 * that the last to detach frees it */
static int
was_destroyed(struct state *s, char path[PATH_MAX], struct stat *sb)
{
	struct hdr_found f;

	if (hdr_load(&s->dev.io, &f) || !destroy_is(&f, NULL) ||
			fstat(s->dev.fd, sb))
		return 0;
	strcpy(path, s->dev.path);
	return 1;
}

int
pdetach(void)
{
	char path[PATH_MAX];
	struct stat sb;
	int ret = 0, gone;

	pthread_mutex_lock(&st.api);
	if (!st.attached) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	sync_stop(&st);
	if (!st.rdonly)
		ret = rsv_persist(st.rsv, (void *)(uintptr_t)st.hdr.base,
			rsv_len(st.rsv));
	/* our epoch lock goes first, then we look for the flag: a destroyer
	 * writes the flag, then looks for epoch locks -- one of us sees the
	 * other, so the last process out never leaves it pending */
	if (st.epoch_fd >= 0)
		close(st.epoch_fd);
	st.epoch_fd = -1;
	gone = was_destroyed(&st, path, &sb);
	teardown(&st);
	if (gone)
		destroy_reap_gone(path, &sb);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}

/* ---- fork and exec ---- */

static void
fork_prepare(void)
{
	pthread_mutex_lock(&st.api);
	pthread_mutex_lock(&st.follow);
	pthread_rwlock_wrlock(&st.map);
	sync_fork_prepare(&st);
}

static void
fork_parent(void)
{
	sync_fork_parent(&st);
	pthread_rwlock_unlock(&st.map);
	pthread_mutex_unlock(&st.follow);
	pthread_mutex_unlock(&st.api);
}

static void
fork_child(void)
{
	pthread_rwlockattr_t a;

	/* the threads that held them in the parent are gone in the child */
	pthread_mutex_init(&st.api, NULL);
	pthread_mutex_init(&st.follow, NULL);
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
		PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&st.map, &a);
	pthread_rwlockattr_destroy(&a);
	if (st.attached && sync_fork_child(&st)) {
		/* cannot follow break changes: do not pretend to be attached */
		st.thread_on = 0;
		teardown(&st);
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * PHEAP_EXEC_ATTACH=<id in hex>[:ro] attaches at load time: the opt-in
 * for a program that must find the pheap mapped after exec, as under the
 * VPM kernel.  Failure leaves the process detached; pheap_errormsg() says
 * why.
 */
static void
exec_attach(void)
{
	const char *v = secure_getenv("PHEAP_EXEC_ATTACH");
	char id[PHEAP_ID_LEN_LIMIT];
	size_t n = 0;
	unsigned long flag = PHEAP_ATTACH;

	if (!v || !*v)
		return;
	for (; v[0] && v[0] != ':'; v += 2) {
		int hi = hexval(v[0]), lo = hi < 0 ? -1 : hexval(v[1]);

		if (lo < 0 || n == sizeof(id)) {
			err_set(EINVAL, "PHEAP_EXEC_ATTACH: bad hex id");
			return;
		}
		id[n++] = (char)(hi << 4 | lo);
	}
	if (*v == ':' && strcmp(v, ":ro") == 0)
		flag |= PHEAP_RDONLY;
	else if (*v) {
		err_set(EINVAL, "PHEAP_EXEC_ATTACH: unknown suffix %s", v);
		return;
	}
	(void)pattach(id, n, flag);
}

__attribute__((constructor)) static void
pheap_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	exec_attach();
}
