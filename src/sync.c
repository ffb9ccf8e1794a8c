/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sync.c -- one break, many processes.
 *
 * Every attached process holds a read lock on the lock byte of the current
 * epoch (LOCK_EPOCH(epoch)) and runs a sync thread that sleeps on the
 * runtime page's futex word.  A process changing the break (the
 * coordinator, holding LOCK_BRK for writing) makes the new break durable,
 * applies it to its own mapping, then publishes (brk, epoch + 1) and wakes
 * every sync thread.  Each one maps or unmaps up to the new break, takes
 * the read lock of the new epoch and drops the old one.  The coordinator's
 * write lock on the old epoch's byte is granted once every attached process
 * has done so -- or died, since the kernel drops a dead process's locks.
 * Only then does pbrk return (so a grown range is usable everywhere with no
 * library call) and a shrink free its storage (so nobody maps it).
 *
 * The sync thread never runs in a signal handler: application signal
 * handlers are not touched at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "state.h"

static long
futex(uint32_t *addr, int op, uint32_t val)
{
	/* shared (not FUTEX_PRIVATE): the word is in a shared file mapping */
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static uint32_t *
gen_word(struct state *s)
{
	/* gen is the low half of gen_epoch: the first 4 bytes on x86-64 */
	return (uint32_t *)&s->rt->gen_epoch;
}

/* brings this process's mapping to the published break */
static void
follow(struct state *s, uint64_t ge)
{
	uint64_t brk = __atomic_load_n(&s->rt->brk, __ATOMIC_ACQUIRE);
	uint32_t e = RT_EPOCH(ge);
	int ret;

	/* an impossible value maps nothing rather than something wrong */
	if (brk > s->hdr.capacity || (brk & (PHEAP_PAGE_SIZE - 1)))
		brk = 0;
	/*
	 * The coordinator already dirtied grown pages: populating them for
	 * writing costs no extra write-back and saves our first write a fault.
	 */
	pthread_rwlock_wrlock(&s->map);
	ret = rsv_set_len(s->rsv, brk, s->rdonly ? RSV_TRY_POPULATE_READ :
		RSV_TRY_POPULATE_WRITE);
	if (ret)
		s->sync_err = ret;
	pthread_rwlock_unlock(&s->map);
	if ((e & 1) != (s->epoch & 1)) {
		lock_take(s->dev.fd, LOCK_EPOCH(e), F_RDLCK);
		lock_drop(s->dev.fd, LOCK_EPOCH(s->epoch));
	}
	s->epoch = e;
	s->seen_gen = RT_GEN(ge);
}

static void *
sync_thread(void *arg)
{
	struct state *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);

		if (RT_GEN(ge) != s->seen_gen)
			follow(s, ge);
		else
			futex(gen_word(s), FUTEX_WAIT, s->seen_gen);
	}
	__atomic_store_n(&s->exited, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
sync_join(struct state *s)
{
	uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);
	int ret;

	/* called under LOCK_BRK (read): no coordinator can publish now */
	s->seen_gen = RT_GEN(ge);
	s->epoch = RT_EPOCH(ge);
	ret = lock_take(s->dev.fd, LOCK_EPOCH(s->epoch), F_RDLCK);
	return ret;
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
	 * stop just before we set it and gone to sleep after our wake.  Yield
	 * first (it normally exits at once), sleep only if it does not.
	 */
	for (int i = 0; !__atomic_load_n(&s->exited, __ATOMIC_ACQUIRE); i++) {
		futex(gen_word(s), FUTEX_WAKE, INT_MAX);
		if (i < 100)
			sched_yield();
		else
			nanosleep(&ms, NULL);
	}
	pthread_join(s->thread, NULL);
	s->thread_on = 0;
}

int
sync_publish(struct state *s, uint64_t brk)
{
	uint64_t ge = __atomic_load_n(&s->rt->gen_epoch, __ATOMIC_ACQUIRE);
	uint32_t e = RT_EPOCH(ge);
	int ret;

	/*
	 * A coordinator that died after publishing may have left processes
	 * that still hold the previous epoch's byte: wait for them first, so
	 * that the byte we wait on below is held by everyone who is behind.
	 */
	ret = lock_take(s->lock_fd, LOCK_EPOCH(e + 1), F_WRLCK);
	if (ret)
		return ret;
	lock_drop(s->lock_fd, LOCK_EPOCH(e + 1));

	__atomic_store_n(&s->rt->brk, brk, __ATOMIC_RELEASE);
	ge = ((uint64_t)(e + 1) << 32) | (uint32_t)(RT_GEN(ge) + 1);
	__atomic_store_n(&s->rt->gen_epoch, ge, __ATOMIC_RELEASE);
	futex(gen_word(s), FUTEX_WAKE, INT_MAX);

	ret = lock_take(s->lock_fd, LOCK_EPOCH(e), F_WRLCK);
	if (ret)
		return ret;
	lock_drop(s->lock_fd, LOCK_EPOCH(e));
	return 0;
}

/*
 * In a forked child: the inherited descriptors share their open file
 * descriptions, and so their OFD locks, with the parent.  Give the child
 * its own, holding the same epoch byte, and its own sync thread.
 */
int
sync_after_fork(struct state *s)
{
	int fd;

	/*
	 * dup2 onto the same numbers: libpmem2's source keeps the fd number,
	 * and must now reach the child's own open file description.
	 */
	fd = dev_reopen(&s->dev, s->rdonly);
	if (fd < 0)
		return fd;
	if (dup3(fd, s->dev.fd, O_CLOEXEC) < 0 ||
			lock_take(s->dev.fd, LOCK_EPOCH(s->epoch), F_RDLCK)) {
		close(fd);
		return -errno;
	}
	close(fd);
	fd = dev_reopen(&s->dev, s->rdonly);
	if (fd < 0)
		return fd;
	if (dup3(fd, s->lock_fd, O_CLOEXEC) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	s->thread_on = 0;
	return sync_start(s);
}
