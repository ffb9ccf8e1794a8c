/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * brklock.h -- the break lock: one coordinator of a break or mode change
 * at a time, among the processes that may write the pheap.
 */
#ifndef PHEAP_BRKLOCK_H
#define PHEAP_BRKLOCK_H

#include <stdint.h>

#include "errmsg.h"

/* its words in the runtime page (struct runtime, state.h) */
struct brklock {
	uint64_t word;		/* low 32 bits: holder's pid (0: free);
				 * high 32: a count of holdings */
	uint64_t tag;		/* the word the fields below describe */
	uint64_t start;		/* holder's start time (/proc/PID/stat) */
	uint64_t boot;		/* a hash of the boot id it ran under */
	uint64_t pidns;		/* the inode of its pid namespace */
	uint64_t witness;	/* 1: it holds LOCK_BRK for writing */
	uint64_t waiters;	/* processes asleep on the word (a hint:
				 * the holder wakes them only if any) */
};

/*
 * fd: an open file description of the pheap opened for writing, of this
 * process's own, on which the holder keeps its witness lock (LOCK_BRK).
 */
/* takes it, waiting while its holder runs (bounded): 0 or -EBUSY */
PHEAP_HIDDEN int brklock_take(struct brklock *l, int fd);
/* takes it if free, or held by the dead: 0 or -EAGAIN */
PHEAP_HIDDEN int brklock_try(struct brklock *l, int fd);
PHEAP_HIDDEN void brklock_drop(struct brklock *l, int fd);

#endif
