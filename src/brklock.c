/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * brklock.c -- the break lock, a word in the runtime page.
 *
 * It serialises the coordinators of break and mode changes (pbrk, pchmod,
 * the repairs an owner's pattach makes, the finishing of a dead
 * coordinator's round).  It lives in the runtime page, which only processes
 * allowed to write the pheap can write: a process that may only read it can
 * neither hold it nor block it.  (An OFD lock on the file could not be
 * that: anyone who can open a file for reading can read-lock any byte of it
 * and so keep a write lock from ever being granted.)
 *
 * The word holds the holder's pid and a count of holdings; it is taken
 * with one compare-and-swap, which alone decides who holds it.  Just
 * after, the holder takes a write lock on LOCK_BRK -- its witness: the
 * kernel drops it when the holder dies, and a process that may only read
 * the file cannot forge one -- and describes itself (start time, boot,
 * pid namespace, whether it has its witness), tagging that description
 * with the word.  A waiter judges the holder by it:
 *   - it has a witness: alive while a write lock is on LOCK_BRK, dead once
 *     none is (a reader's read lock there is not one);
 *   - it could not have one (a reader's read lock was in the way): by
 *     /proc -- another boot, or its pid gone or started at another time,
 *     is dead;
 *   - described nowhere after one bound (killed between the swap and the
 *     description, or garbage a writer left): dead.
 * The dead holder's lock is taken over with the same compare-and-swap (its
 * unfinished round is finished by the caller: sync.c).  A live holder that
 * runs is waited for, at most HOLD_CAP bounds per holding (a queue of
 * holdings that move on is progress); one that is stopped, a zombie, or in
 * another pid namespace (its pid means nothing here) costs one bound, then
 * -EBUSY.  A writer can forge the page; all it gains is what it has anyway
 * by holding the lock and stopping: -EBUSY for the others while it lives
 * (with a forged description without witness, while the process it names
 * lives).
 *
 * Waiters sleep on the word's pid half (a shared futex), woken when it is
 * dropped (if they counted themselves in waiters; a count forged low only
 * delays them to their next look), and look at the holder every SLICE_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "brklock.h"
#include "lock.h"

#define HOLD_CAP	5
#define SLICE_MS	20
#define WITNESS_MS	2

enum holder { H_FREE, H_DEAD, H_RUNS, H_STOPPED, H_UNKNOWN, H_UNTOLD };

struct self {
	uint32_t pid;
	uint64_t start, boot, pidns;
};

/* a process's start time and state letter from /proc (0: no such pid) */
static uint64_t
proc_start(uint32_t pid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	*state = p[2];
	/* the state is field 3; field 22 is the start time */
	p += 2;
	for (int field = 3; field < 22 && p; field++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (!p || sscanf(p, "%llu", &start) != 1)
		start = 0;
	return start ? start : 1;	/* present, even if unreadable */
}

static uint64_t
boot_hash(void)
{
	char buf[64] = "";
	uint64_t h = 0xcbf29ce484222325ULL;
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = '\0';
		close(fd);
	}
	for (const char *c = buf; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	return h;
}

/* this process's description, read once per process (fork: again) */
static void
self_get(struct self *me)
{
	static struct self cache;
	uint32_t pid = (uint32_t)getpid();
	struct stat sb;
	char state;

	if (__atomic_load_n(&cache.pid, __ATOMIC_ACQUIRE) == pid) {
		*me = cache;
		return;
	}
	me->pid = pid;
	me->start = proc_start(pid, &state);
	me->boot = boot_hash();
	me->pidns = stat("/proc/self/ns/pid", &sb) ? 0 : (uint64_t)sb.st_ino;
	cache.start = me->start;
	cache.boot = me->boot;
	cache.pidns = me->pidns;
	__atomic_store_n(&cache.pid, pid, __ATOMIC_RELEASE);
}

/* running, stopped or unknown, by /proc; dead if not that process */
static enum holder
by_proc(struct brklock *l, uint32_t pid, int told, const struct self *me)
{
	char state = '?';
	uint64_t start = proc_start(pid, &state);

	if (!told)
		return start ? H_UNTOLD : H_DEAD;
	if (__atomic_load_n(&l->boot, __ATOMIC_RELAXED) != me->boot)
		return H_DEAD;
	if (__atomic_load_n(&l->pidns, __ATOMIC_RELAXED) != me->pidns)
		return H_UNKNOWN;
	if (start != __atomic_load_n(&l->start, __ATOMIC_RELAXED))
		return H_DEAD;
	if (state == 'T' || state == 't')
		return H_STOPPED;
	/* a zombie leader may have live threads: not ours to judge */
	return strchr("RSDIW", state) ? H_RUNS : H_UNKNOWN;
}

static enum holder
judge(struct brklock *l, uint64_t w, int fd, const struct self *me)
{
	uint32_t pid = (uint32_t)w;
	int told = __atomic_load_n(&l->tag, __ATOMIC_ACQUIRE) == w;

	if (pid == 0)
		return H_FREE;
	if (told && __atomic_load_n(&l->witness, __ATOMIC_RELAXED) &&
			!lock_writer(fd, LOCK_BRK))
		return H_DEAD;
	enum holder h = by_proc(l, pid, told, me);
	/* a witness is the kernel's word: whatever /proc says of the pid */
	if (told && __atomic_load_n(&l->witness, __ATOMIC_RELAXED) &&
			h == H_DEAD)
		return H_UNKNOWN;
	return h;
}

static int
grab(struct brklock *l, uint64_t w, int fd, const struct self *me)
{
	uint64_t mine = ((w >> 32) + 1) << 32 | me->pid;

	if (!__atomic_compare_exchange_n(&l->word, &w, mine, 0,
			__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	/* the last holder drops its witness just after its word */
	struct timespec dl = lock_deadline(WITNESS_MS);
	__atomic_store_n(&l->witness,
		lock_wait(fd, LOCK_BRK, 1, F_WRLCK, &dl) == 0, __ATOMIC_RELAXED);
	__atomic_store_n(&l->start, me->start, __ATOMIC_RELAXED);
	__atomic_store_n(&l->boot, me->boot, __ATOMIC_RELAXED);
	__atomic_store_n(&l->pidns, me->pidns, __ATOMIC_RELAXED);
	__atomic_store_n(&l->tag, mine, __ATOMIC_RELEASE);
	return 0;
}

int
brklock_try(struct brklock *l, int fd)
{
	struct self me;
	uint64_t w = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);

	self_get(&me);
	enum holder h = judge(l, w, fd, &me);
	if (h != H_FREE && h != H_DEAD)
		return -EAGAIN;
	return grab(l, w, fd, &me);
}

static void
nap(struct brklock *l, uint64_t w)
{
	struct timespec rel = { 0, SLICE_MS * 1000000L };

	__atomic_fetch_add(&l->waiters, 1, __ATOMIC_SEQ_CST);
	/* the pid half: the first 4 bytes on x86-64 */
	syscall(SYS_futex, (uint32_t *)&l->word, FUTEX_WAIT, (uint32_t)w,
		&rel, NULL, 0);
	__atomic_fetch_sub(&l->waiters, 1, __ATOMIC_SEQ_CST);
}

static int
busy(uint64_t w, enum holder h, unsigned ms)
{
	static const char *const why[] = {
		[H_RUNS] = "one process",
		[H_STOPPED] = "a process that is not running (stopped?)",
		[H_UNKNOWN] = "a process this one cannot see",
		[H_UNTOLD] = "a process that did not describe itself",
	};

	return err_set(EBUSY, "the pheap's break lock has been held for %u ms "
		"by %s (pid %u)", ms, why[h], (unsigned)(uint32_t)w);
}

int
brklock_take(struct brklock *l, int fd)
{
	unsigned ms = lock_bound_ms();
	struct timespec cap = lock_deadline(ms * HOLD_CAP), bad = { 0, 0 };
	uint64_t seen = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);
	struct self me;

	self_get(&me);
	for (;;) {
		uint64_t w = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);
		enum holder h = judge(l, w, fd, &me);

		if ((h == H_FREE || h == H_DEAD) && grab(l, w, fd, &me) == 0)
			return 0;
		if (h == H_FREE || h == H_DEAD)
			continue;	/* another took it first */
		if (w != seen) {	/* a new holding: the queue moves */
			cap = lock_deadline(ms * HOLD_CAP);
			bad.tv_sec = 0;
			seen = w;
		}
		if (h == H_RUNS)
			bad.tv_sec = 0;
		else if (bad.tv_sec == 0)
			bad = lock_deadline(ms);
		if (bad.tv_sec && lock_expired(&bad) && h == H_UNTOLD &&
				grab(l, w, fd, &me) == 0)
			return 0;	/* never described: not a holder */
		if (lock_expired(&cap))
			return busy(w, H_RUNS, ms * HOLD_CAP);
		if (bad.tv_sec && lock_expired(&bad))
			return busy(w, h, ms);
		nap(l, w);
	}
}

void
brklock_drop(struct brklock *l, int fd)
{
	uint64_t w = __atomic_load_n(&l->word, __ATOMIC_ACQUIRE);

	/* the count stays: the next holding is new even with our pid; and a
	 * word that is not ours (taken over: a forged page) stays */
	if ((uint32_t)w == (uint32_t)getpid())
		__atomic_compare_exchange_n(&l->word, &w, w >> 32 << 32, 0,
			__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	/* the witness last: while the word is ours, it must be there */
	lock_drop(fd, LOCK_BRK, 1);
	/* a waiter counts itself before it sleeps, and sleeps only while the
	 * word is what it saw: after our store, either we see it counted or
	 * its sleep fails at once.  A forged count only costs a wake. */
	if (__atomic_load_n(&l->waiters, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, (uint32_t *)&l->word, FUTEX_WAKE, INT_MAX,
			NULL, NULL, 0);
}
