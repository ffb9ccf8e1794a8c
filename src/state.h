/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * state.h -- the process-wide attachment: one pheap per process, as in VPM.
 *
 * Locks, always taken in this order:
 *   api     serialises the calls that change the attachment or the break
 *           (pattach, pdetach, pbrk, pchmod) within the process, and fork;
 *   follow  held by the sync thread while it follows a change: the mapping
 *           and the epoch lock it holds change together under it, so fork
 *           sees them consistent;
 *   map     guards the mapping: written by pbrk and by the sync thread,
 *           read by ppersist and queries.  It prefers writers, so readers
 *           (ppersist) can never starve a break change or fork.
 * The sync thread never takes api, so a pbrk waiting for other processes
 * never blocks this process from following their changes.
 */
#ifndef PHEAP_STATE_H
#define PHEAP_STATE_H

#include <pthread.h>
#include <stdint.h>

#include "brklock.h"
#include "dev.h"
#include "header.h"
#include "reservation.h"

/*
 * The runtime page: shared by every process attached to the pheap (it is
 * part of the backing's header area), writable by every process that may
 * write the pheap, readable by all.  Nothing in it is trusted: it is a
 * doorbell.  A process maps and unmaps only what the validated durable
 * header says; a value here only makes it look again (gen), chooses which
 * lock byte to hold (epoch), makes a coordinator run a round (pending),
 * wait a shorter grace for some followers (stale), or wait longer for a
 * holder that runs (holder) -- none of which can make anyone map less or
 * more than the durable break, or wait beyond the bounds (brklock.c says
 * why its word cannot make two live coordinators).  Which bytes
 * are not waited for at all each process learns by itself (state.stale).
 */
struct runtime {
	/* low 32 bits: gen, the futex word bumped by every durable change;
	 * high 32 bits: epoch, which names the lock byte attached processes
	 * hold (LOCK_EPOCH).  One 64-bit store publishes both at once. */
	uint64_t gen_epoch;
	uint64_t stale;		/* epoch bytes of stragglers (a hint: a byte
				 * here is waited for only GRACE_MS) */
	uint64_t pending;	/* 1 from a coordinator's header write to the
				 * end of its round: a dead one left it set */
	struct brklock brk;	/* the break lock, see brklock.c */
	uint32_t followed;	/* futex word, bumped by every read-write
				 * follower as it moves on: wakes the
				 * coordinator instead of its next poll */
	uint32_t pad;
};

#define RT_GEN(v)	((uint32_t)(v))
#define RT_EPOCH(v)	((uint32_t)((v) >> 32))

struct state {
	pthread_mutex_t api;
	pthread_mutex_t follow;
	pthread_rwlock_t map;
	int attached;
	int rdonly;
	int backend;		/* PHEAP_BACKEND_* */
	struct dev dev;		/* its fd is what the heap is mapped from */
	int epoch_fd;		/* own OFD, never mapped: LOCK_EPOCH(epoch)
				 * for reading (a mapping would keep it, and
				 * its lock, alive in a forked child) */
	int lock_fd;		/* own OFD: the coordinator's epoch write locks */
	int fork_fd;		/* see attach.c: the child's lock during fork */
	struct hdr hdr;		/* id, owner, base, capacity: as attached */
	struct rsv *rsv;
	struct runtime *rt;	/* inside dev.area */
	uint32_t seen_gen;	/* sync thread: last gen followed */
	uint32_t epoch;		/* sync thread: epoch whose lock we hold */
	int epoch_held;		/* that lock is held */
	uint64_t stale;		/* epoch bytes this process found held by
				 * stragglers: not waited for until free */
	pthread_t thread;
	int thread_on;
	int stop;		/* atomic: sync thread must exit */
	int exited;		/* atomic: sync thread has exited */
	int follow_err;		/* atomic: -errno while this process's mapping
				 * could not follow the durable break */
	int unsafe_shutdown;	/* seen at attach, see check_usc() */
};

PHEAP_HIDDEN extern struct state st;

/* the runtime page of a device whose header area is mapped */
static inline struct runtime *
dev_rt(const struct dev *d)
{
	return (struct runtime *)((char *)d->area + HDR_RUNTIME_OFF);
}

/*
 * attach.c: a read-write handle on the attached pheap, its header area
 * (and runtime page) mapped: s->dev when attached read-write, else a
 * read-write reopen into *own (closed by the caller) -- the owner may lend
 * itself u+w for it (lend; the mode is then put right by the caller)
 */
PHEAP_HIDDEN int state_writable(struct state *s, struct dev *own,
	struct dev **use, int lend);
/* attach.c: heap bytes mapped in this process now (takes map) */
PHEAP_HIDDEN uint64_t state_mapped_len(struct state *s);
/* attach.c: this process's mapping to len, under map (*old: before) */
PHEAP_HIDDEN int state_map_len(struct state *s, uint64_t len, uint64_t *old);
/* the same, and populates what it grew, after */
PHEAP_HIDDEN int state_set_len(struct state *s, uint64_t len,
	enum rsv_populate pop);

/* sync.c: following and publishing durable changes */
PHEAP_HIDDEN int sync_join(struct state *s);
PHEAP_HIDDEN int sync_start(struct state *s);
PHEAP_HIDDEN void sync_stop(struct state *s);
/* a coordinator (holding the break lock) is about to change the header */
PHEAP_HIDDEN void sync_begin(struct state *s);
/* rings, waits (bounded) until every attached process has looked at the
 * durable header, frees storage beyond it, ends the round */
PHEAP_HIDDEN int sync_round(struct state *s, const struct hdr *durable);
/* with the break lock held: finishes a round a dead coordinator left open */
PHEAP_HIDDEN int sync_orphan(struct state *s);
/* fork: the child's cover from fork() to its own epoch lock */
PHEAP_HIDDEN void sync_fork_prepare(struct state *s);
PHEAP_HIDDEN void sync_fork_parent(struct state *s);
PHEAP_HIDDEN int sync_fork_child(struct state *s);

#endif
