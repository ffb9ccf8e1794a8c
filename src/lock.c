/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.c -- OFD byte-range locks.  Unlike classic POSIX locks they belong
 * to the open file description, not the process: closing another fd of the
 * same file does not drop them, and a forked child shares them until it
 * reopens the file (which the library does, see attach.c).
 *
 * A bounded wait polls F_OFD_SETLK with a growing sleep (10 us doubling up
 * to 500 us) instead of blocking in F_OFD_SETLKW: the only ways to bound a
 * blocking lock wait are a signal or a helper thread, and the library
 * installs no signal handlers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"

#define WAIT_DEFAULT_MS	2000
#define WAIT_MAX_MS	600000

/* F_OFD_SETLK or F_OFD_GETLK on [byte, byte + len); fl is the answer */
static int
setlk(int fd, int cmd, long byte, long len, short type, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));	/* l_pid must be 0 for OFD locks */
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = byte;
	fl->l_len = len;
	return fcntl(fd, cmd, fl);
}

int
lock_try(int fd, long byte, long len, short type)
{
	struct flock fl;

	if (setlk(fd, F_OFD_SETLK, byte, len, type, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return -EAGAIN;
	return err_sys(errno, "locking the pheap");
}

int
lock_expired(const struct timespec *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->tv_sec ||
		(now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

int
lock_wait(int fd, long byte, long len, short type,
	const struct timespec *deadline)
{
	struct timespec nap = { 0, 10000 };

	for (;;) {
		int ret = lock_try(fd, byte, len, type);

		if (ret != -EAGAIN)
			return ret;
		if (lock_expired(deadline))
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 500000)
			nap.tv_nsec *= 2;
	}
}

void
lock_drop(int fd, long byte, long len)
{
	struct flock fl;

	setlk(fd, F_OFD_SETLK, byte, len, F_UNLCK, &fl);
}

/* the type of a lock another description holds in [byte, byte + len),
 * or F_UNLCK.  F_OFD_GETLK needs no write access to test for a write
 * lock: a descriptor opened read-only asks as well. */
static short
held_type(int fd, long byte, long len)
{
	struct flock fl;

	if (setlk(fd, F_OFD_GETLK, byte, len, F_WRLCK, &fl))
		return F_WRLCK;	/* cannot tell: assume the worst */
	return fl.l_type;
}

int
lock_held(int fd, long byte)
{
	return held_type(fd, byte, 1) != F_UNLCK;
}

int
lock_any(int fd, long byte, long len)
{
	/* (a length of 0 would mean: to the end of the file, and beyond) */
	return len > 0 && held_type(fd, byte, len) != F_UNLCK;
}

int
lock_writer(int fd, long byte)
{
	return held_type(fd, byte, 1) == F_WRLCK;
}

unsigned
lock_bound_ms(void)
{
	const char *v = secure_getenv("PHEAP_WAIT_MS");
	unsigned long n = v && *v ? strtoul(v, NULL, 10) : WAIT_DEFAULT_MS;

	if (n == 0 || n > WAIT_MAX_MS)
		n = WAIT_DEFAULT_MS;
	return (unsigned)n;
}

struct timespec
lock_deadline(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}
