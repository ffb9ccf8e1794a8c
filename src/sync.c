/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c -- one break, many processes.
 *
 * The durable header is the only truth about the break.  Every attached
 * process runs a sync thread that sleeps on the runtime page's futex word
 * (the doorbell) and, when it rings, reads the validated durable header and
 * maps or unmaps up to its break.  Nothing in the runtime page can make a
 * process map more or less than that header says.
 *
 * Who has looked: every attached process holds a read lock on one of 64
 * epoch bytes (LOCK_EPOCH), the one of the epoch it last followed.  A
 * coordinator (holding the break lock, brklock.c) makes the new break durable,
 * applies it here, then publishes a new epoch whose byte nobody holds, rings,
 * and takes a write lock on every other epoch byte in turn: granted, a byte
 * is held by nobody still behind.  A follower takes the new byte only after
 * mapping what the header says, and drops the old one after that.  The
 * kernel drops a dead process's locks, so the dead are never waited for.
 *
 * Liveness: the coordinator waits at most the bound (lock_bound_ms(),
 * PHEAP_WAIT_MS, 2 s by default) for all of them together.  A byte still
 * held then belongs to a straggler (stopped, or hostile): this process
 * marks it stale and does not wait for it again until it is free, and
 * tells the others (the runtime page's stale hint), who then give it only
 * a short grace; the straggler alone loses the guarantee of seeing that
 * change in time (on a file, touching a range the shrink freed gives it
 * SIGBUS; a grown range faults until its sync thread runs).  A stopped
 * process thus costs one bound, once, not one per pbrk.  A follower takes
 * the new byte as soon as it has mapped (it populates afterwards), so a
 * live one never needs more than the grace.
 *
 * Orphans: "pending" is set before a coordinator writes the header and
 * cleared when its round has ended.  A coordinator that died in between
 * leaves it set; whoever next holds the break lock -- any pbrk or pchmod, a
 * read-write pattach, or a sync thread that finds it set and the lock free
 * on its periodic look (every second) -- runs the round again from the
 * durable header: ring, wait, free storage beyond the break (and zero the
 * tail past it on a 1 GiB device, see reservation.c).
 *
 * The sync thread never runs in a signal handler: application signal
 * handlers are not touched at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "state.h"

#define ORPHAN_LOOK_S	1	/* how often a sync thread looks for orphans */
#define BIT(b)		(1ULL << ((b) % LOCK_NEPOCH))

static long
futex(uint32_t *addr, int op, uint32_t val, const struct timespec *rel)
{
	/* shared (not FUTEX_PRIVATE): the word is in a shared file mapping */
	return syscall(SYS_futex, addr, op, val, rel, NULL, 0);
}

static uint32_t *
gen_word(struct state *s)
{
	/* gen is the low half of gen_epoch: the first 4 bytes on x86-64 */
	return (uint32_t *)&s->rt->gen_epoch;
}

/* the validated durable header of the attached pheap */
static int
durable(struct state *s, struct hdr *h)
{
	struct hdr_found f;
	int ret = hdr_load_id(&s->dev.io, s->hdr.id, s->hdr.id_len,
		s->dev.path, &f);

	if (ret)
		return ret;
	if (f.hdr.base != s->hdr.base || f.hdr.capacity != s->hdr.capacity ||
			f.hdr.data_off != s->hdr.data_off)
		return err_set(EUCLEAN, "the header of %s no longer describes "
			"the attached pheap", s->dev.path);
	*h = f.hdr;
	return 0;
}

/* moves this process's read lock to epoch e; keeps the old one if the new
 * byte cannot be had in time (then we are a straggler until next time) */
static void
hold_epoch(struct state *s, uint32_t e)
{
	struct timespec dl;

	if (s->epoch_held && LOCK_EPOCH(e) == LOCK_EPOCH(s->epoch)) {
		s->epoch = e;
		return;
	}
	dl = lock_deadline(lock_bound_ms());
	if (lock_wait(s->epoch_fd, LOCK_EPOCH(e), 1, F_RDLCK, &dl))
		return;
	if (s->epoch_held)
		lock_drop(s->epoch_fd, LOCK_EPOCH(s->epoch), 1);
	s->epoch = e;
	s->epoch_held = 1;
}

/* brings this process's mapping to the durable break */
static void
follow(struct state *s)
{
	uint64_t ge, old = 0;
	struct hdr h;
	int ret;

	pthread_mutex_lock(&s->follow);
	ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);
	ret = durable(s, &h);
	if (ret == 0)
		ret = state_map_len(s, h.brk, &old);
	__atomic_store_n(&s->follow_err, ret, __ATOMIC_RELEASE);
	/* mapped (or failed: waiting for us would not help): the coordinator
	 * may go on at once -- and is told so */
	hold_epoch(s, RT_EPOCH(ge));
	s->seen_gen = RT_GEN(ge);
	if (!s->rdonly) {
		__atomic_fetch_add(&s->rt->followed, 1, __ATOMIC_RELEASE);
		futex(&s->rt->followed, FUTEX_WAKE, INT_MAX, NULL);
	}
	/* grown pages were dirtied by the coordinator: populating them for
	 * writing costs no write-back and saves our first write a fault */
	if (ret == 0 && h.brk > old)
		(void)rsv_populate(s->rsv, old, h.brk - old, s->rdonly ?
			RSV_TRY_POPULATE_READ : RSV_TRY_POPULATE_WRITE);
	pthread_mutex_unlock(&s->follow);
}

/* a dead coordinator's round, found on a periodic look */
static void
look_for_orphan(struct state *s)
{
	if (s->rdonly || !__atomic_load_n(&s->rt->pending, __ATOMIC_ACQUIRE))
		return;
	if (pthread_mutex_trylock(&s->api))
		return;		/* a call of ours is running: it will see it */
	if (brklock_try(&s->rt->brk, s->lock_fd) == 0) {
		(void)sync_orphan(s);
		brklock_drop(&s->rt->brk, s->lock_fd);
	}
	pthread_mutex_unlock(&s->api);
}

static void *
sync_thread(void *arg)
{
	struct state *s = arg;
	struct timespec look = { ORPHAN_LOOK_S, 0 };

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);

		if (RT_GEN(ge) != s->seen_gen ||
				__atomic_load_n(&s->follow_err, __ATOMIC_ACQUIRE)) {
			follow(s);
			if (!__atomic_load_n(&s->follow_err, __ATOMIC_ACQUIRE))
				continue;
		}
		/* a failed follow is retried at the next look */
		if (futex(gen_word(s), FUTEX_WAIT, s->seen_gen, &look) &&
				errno == ETIMEDOUT) {
			look_for_orphan(s);
			if (__atomic_load_n(&s->follow_err, __ATOMIC_ACQUIRE))
				follow(s);
		}
	}
	__atomic_store_n(&s->exited, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
sync_join(struct state *s)
{
	uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);

	/* before the header is read: a coordinator publishing from now on
	 * waits for us, or wrote the header before we read it */
	s->seen_gen = RT_GEN(ge);
	s->epoch_held = 0;
	s->stale = 0;
	s->follow_err = 0;
	hold_epoch(s, RT_EPOCH(ge));
	return 0;
}

int
sync_start(struct state *s)
{
	sigset_t all, old;
	int err;

	s->stop = 0;
	s->exited = 0;
	/* the thread must never take the application's signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, sync_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err_sys(err, "starting the pheap sync thread");
	s->thread_on = 1;
	return 0;
}

void
sync_stop(struct state *s)
{
	struct timespec ms = { 0, 1000000 };

	if (!s->thread_on)
		return;
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	/*
	 * The wake also reaches other processes' sync threads, which see
	 * nothing new and sleep again.  Repeat it: the thread may have checked
	 * stop just before we set it and gone to sleep after our wake.
	 */
	for (int i = 0; !__atomic_load_n(&s->exited, __ATOMIC_ACQUIRE); i++) {
		futex(gen_word(s), FUTEX_WAKE, INT_MAX, NULL);
		if (i < 100)
			sched_yield();
		else
			nanosleep(&ms, NULL);
	}
	pthread_join(s->thread, NULL);
	s->thread_on = 0;
}

void
sync_begin(struct state *s)
{
	__atomic_store_n(&s->rt->pending, 1, __ATOMIC_RELEASE);
}

/* an epoch after e whose byte nobody holds (stragglers keep theirs) */
static uint32_t
pick_epoch(struct state *s, uint32_t e)
{
	for (uint32_t n = e + 1; n != e + LOCK_NEPOCH; n++)
		if (!lock_held(s->lock_fd, LOCK_EPOCH(n)))
			return n;
	return e + 1;
}

/* the bytes in [b, b + n) someone holds */
static uint64_t
held_bits(struct state *s, int b, int n)
{
	uint64_t bits = 0;

	for (int i = b; i < b + n; i++)
		if (lock_held(s->lock_fd, LOCK_EPOCH0 + i))
			bits |= BIT(i);
	return bits;
}

/*
 * [b, b + n) of the epoch bytes free, or *dl: 0 or -ETIMEDOUT.  Between
 * tries it sleeps on the followers' doorbell (a read-write follower rings
 * it as it moves on), at most the next poll interval (10 us doubling to
 * 500 us: read-only followers cannot ring, and the word is only a hint).
 */
static int
wait_range(struct state *s, int b, int n, const struct timespec *dl)
{
	struct timespec nap = { 0, 10000 };

	for (;;) {
		uint32_t rung = __atomic_load_n(&s->rt->followed, __ATOMIC_ACQUIRE);

		if (!lock_any(s->lock_fd, LOCK_EPOCH0 + b, n))
			return 0;
		if (lock_expired(dl))
			return -ETIMEDOUT;
		futex(&s->rt->followed, FUTEX_WAIT, rung, &nap);
		if (nap.tv_nsec < 500000)
			nap.tv_nsec *= 2;
	}
}

/* until every epoch byte but skip's is free, or ms; returns the bytes
 * still held */
static uint64_t
wait_bytes(struct state *s, uint64_t skip, unsigned ms)
{
	struct timespec dl = lock_deadline(ms);
	uint64_t late = 0;

	for (int b = 0, n; b < LOCK_NEPOCH; b += n) {
		n = 1;
		if (skip & BIT(b))
			continue;
		while (b + n < LOCK_NEPOCH && !(skip & BIT(b + n)))
			n++;
		if (wait_range(s, b, n, &dl))
			late |= held_bits(s, b, n);
	}
	return late;
}

/*
 * Waits for everyone behind epoch e.  A byte this process found held past
 * the bound is not waited for; a byte the shared hint calls stale (another
 * process found it so) gets GRACE_MS -- a follower takes the new byte as
 * soon as it has mapped, so a live one needs far less -- and a byte that
 * is still held then is this process's straggler too.  The hint alone
 * cannot make anyone skip a live follower, only shorten its grace.
 */
#define GRACE_MS	50

static void
wait_followers(struct state *s, uint32_t e)
{
	uint64_t mine = s->stale & ~BIT(e);
	uint64_t hint = __atomic_load_n(&s->rt->stale, __ATOMIC_ACQUIRE) &
		~BIT(e) & ~mine;
	uint64_t late = wait_bytes(s, mine | hint | BIT(e), lock_bound_ms());

	late |= wait_bytes(s, ~hint, GRACE_MS);
	/* stragglers that moved on or died are waited for again */
	for (int b = 0; b < LOCK_NEPOCH; b++)
		if ((mine & BIT(b)) && !(held_bits(s, b, 1)))
			mine &= ~BIT(b);
	s->stale = mine | late;
	__atomic_store_n(&s->rt->stale, s->stale, __ATOMIC_RELEASE);
}

/*
 * No other process holds an epoch byte, now that the new gen is out: none
 * is attached (an attacher holds its byte before it reads the header, so
 * one that holds none yet will read ours) -- nobody to wake or wait for.
 * A forked child's cover counts: it is on the byte we just left.
 */
static int
alone(struct state *s, uint32_t e)
{
	long mine = LOCK_EPOCH(e) - LOCK_EPOCH0;

	return !lock_any(s->lock_fd, LOCK_EPOCH0, mine) &&
		!lock_any(s->lock_fd, LOCK_EPOCH(e) + 1, LOCK_NEPOCH - mine - 1);
}

int
sync_round(struct state *s, const struct hdr *h)
{
	uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);
	uint32_t e = pick_epoch(s, RT_EPOCH(ge));
	uint32_t gen = RT_GEN(ge) + 1;

	/* this process applied the change already: no need to wait for it,
	 * and its own sync thread, woken below, has nothing to follow */
	pthread_mutex_lock(&s->follow);
	hold_epoch(s, e);
	if (s->seen_gen == gen - 1 && !s->follow_err)
		s->seen_gen = gen;
	pthread_mutex_unlock(&s->follow);
	__atomic_store_n(&s->rt->gen_epoch, ((uint64_t)e << 32) | gen,
		__ATOMIC_RELEASE);
	if (alone(s, e)) {
		s->stale = 0;
	} else {
		futex(gen_word(s), FUTEX_WAKE, INT_MAX, NULL);
		wait_followers(s, e);
	}
	/* nobody maps beyond the break now (stragglers aside): the storage
	 * may go, including what a dead coordinator allocated */
	(void)dev_trim(&s->dev, h, h->brk);
	__atomic_store_n(&s->rt->pending, 0, __ATOMIC_RELEASE);
	return 0;
}

int
sync_orphan(struct state *s)
{
	struct hdr h;
	int ret;

	if (s->rdonly || !__atomic_load_n(&s->rt->pending, __ATOMIC_ACQUIRE))
		return 0;
	ret = durable(s, &h);
	if (ret)
		return ret;
	pthread_mutex_lock(&s->follow);
	ret = state_set_len(s, h.brk, RSV_TRY_POPULATE_WRITE);
	pthread_mutex_unlock(&s->follow);
	__atomic_store_n(&s->follow_err, ret, __ATOMIC_RELEASE);
	/* a shrink that died before zeroing the tail past its break (1 GiB
	 * devices): the break lock keeps the break there meanwhile */
	if (ret == 0)
		rsv_zero_tail(s->rsv, h.brk, UINT64_MAX);
	return sync_round(s, &h);
}

/* ---- fork ---- */

/*
 * From fork() until the child holds an epoch lock on its own open file
 * description, the child maps what the parent mapped but is covered by no
 * lock of its own.  So before fork the parent takes the same read lock on
 * a fresh description (fork_fd), the child inherits it, and the parent
 * closes its copy: the lock then lives exactly as long as the child keeps
 * fork_fd, which it closes once its own lock is held.
 */
void
sync_fork_prepare(struct state *s)
{
	s->fork_fd = -1;
	if (!s->attached || !s->epoch_held)
		return;
	s->fork_fd = dev_reopen(&s->dev, 1);
	if (s->fork_fd >= 0 &&
			lock_try(s->fork_fd, LOCK_EPOCH(s->epoch), 1, F_RDLCK)) {
		close(s->fork_fd);
		s->fork_fd = -1;
	}
}

void
sync_fork_parent(struct state *s)
{
	if (s->fork_fd >= 0)
		close(s->fork_fd);
	s->fork_fd = -1;
}

/*
 * The child's own descriptions for its locks (the inherited ones are the
 * parent's: their locks are the parent's), its epoch lock, and its sync
 * thread.  The heap's mappings and dev.fd may stay shared: no lock lives on
 * the description they reference.
 */
static int
own_fd(struct state *s, int *fd, int rdonly)
{
	int nfd = dev_reopen(&s->dev, rdonly);

	if (nfd < 0)
		return nfd;
	close(*fd);
	*fd = nfd;
	return 0;
}

int
sync_fork_child(struct state *s)
{
	int ret = own_fd(s, &s->epoch_fd, 1);

	if (ret == 0 && s->epoch_held) {
		s->epoch_held = 0;
		hold_epoch(s, s->epoch);
	}
	if (ret == 0)
		ret = own_fd(s, &s->lock_fd, s->rdonly);
	if (s->fork_fd >= 0)
		close(s->fork_fd);	/* our own lock covers us now */
	s->fork_fd = -1;
	s->thread_on = 0;
	return ret ? ret : sync_start(s);
}
