/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.h -- cross-process locks on a pheap: open file description (OFD)
 * byte-range locks on its backing file or device.  The kernel drops them
 * when their holder dies, so a killed process never blocks the others.
 * Every wait that another process can prolong is bounded (lock_wait).
 */
#ifndef PHEAP_LOCK_H
#define PHEAP_LOCK_H

#include <fcntl.h>
#include <stdint.h>
#include <time.h>

#include "errmsg.h"

/* bytes locked; they lie in the header area, which nothing else locks */
#define LOCK_BRK	12288	/* write: the break lock's holder, see brklock.c */
#define LOCK_CREATE	12290	/* write: a creator's witness, pool_create.c */
#define LOCK_EPOCH0	12352	/* read: attached processes, see sync.c */
#define LOCK_NEPOCH	64
#define LOCK_EPOCH(e)	(LOCK_EPOCH0 + (long)((e) % LOCK_NEPOCH))

/* F_RDLCK or F_WRLCK on [byte, byte + len) without blocking: 0, or
 * -EAGAIN if another holder conflicts */
PHEAP_HIDDEN int lock_try(int fd, long byte, long len, short type);
/* lock_try until granted or *deadline (CLOCK_MONOTONIC): 0 or -ETIMEDOUT */
PHEAP_HIDDEN int lock_wait(int fd, long byte, long len, short type,
	const struct timespec *deadline);
PHEAP_HIDDEN void lock_drop(int fd, long byte, long len);
/* 1 if another open file description holds a lock on the byte */
PHEAP_HIDDEN int lock_held(int fd, long byte);
/* 1 if another one holds any lock in [byte, byte + len) */
PHEAP_HIDDEN int lock_any(int fd, long byte, long len);
/* 1 if another one holds a write lock on it (which needs write access) */
PHEAP_HIDDEN int lock_writer(int fd, long byte);

/*
 * The liveness bound: how long a pheap call waits for other processes
 * (PHEAP_WAIT_MS, default 2000; ignored in privileged programs).
 */
PHEAP_HIDDEN unsigned lock_bound_ms(void);
/* now + ms on CLOCK_MONOTONIC */
PHEAP_HIDDEN struct timespec lock_deadline(unsigned ms);
/* 1 once *deadline (CLOCK_MONOTONIC) has passed */
PHEAP_HIDDEN int lock_expired(const struct timespec *deadline);

#endif
