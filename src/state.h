/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * state.h -- the process-wide attachment: one pheap per process, as in VPM.
 *
 * Locks, always taken in this order:
 *   api  serialises the calls that change the attachment or the break
 *        (pattach, pdetach, pbrk, pchmod) within the process;
 *   map  guards the mapping: written by pbrk and by the sync thread when
 *        another process changed the break, read by ppersist and queries.
 * The sync thread takes only map, so a pbrk waiting for another process
 * never blocks this process from following that process's change.
 */
#ifndef PHEAP_STATE_H
#define PHEAP_STATE_H

#include <pthread.h>
#include <stdint.h>

#include "dev.h"
#include "header.h"
#include "reservation.h"

/*
 * The runtime page: shared by every process attached to the pheap (it is
 * part of the backing's header area) and volatile in meaning -- nothing in
 * it is trusted across a crash or a reboot, every value is only a hint
 * that is checked against the durable header and the local mapping.
 */
struct runtime {
	/* low 32 bits: gen, the futex word bumped by every break change;
	 * high 32 bits: epoch, whose parity names the lock byte attached
	 * processes hold.  One 64-bit store publishes both at once. */
	uint64_t gen_epoch;
	uint64_t brk;		/* the break being published */
};

#define RT_GEN(v)	((uint32_t)(v))
#define RT_EPOCH(v)	((uint32_t)((v) >> 32))

struct state {
	pthread_mutex_t api;
	pthread_rwlock_t map;
	int attached;
	int rdonly;
	int backend;		/* PHEAP_BACKEND_* */
	struct dev dev;		/* its fd holds LOCK_EPOCH(epoch) for reading */
	int lock_fd;		/* own OFD: LOCK_BRK, and epoch write locks */
	struct hdr hdr;		/* id, owner, base, capacity: as attached */
	struct rsv *rsv;
	struct runtime *rt;	/* inside dev.area */
	uint32_t seen_gen;	/* sync thread: last gen followed */
	uint32_t epoch;		/* sync thread: epoch whose lock we hold */
	pthread_t thread;
	int thread_on;
	int stop;		/* atomic: sync thread must exit */
	int exited;		/* atomic: sync thread has exited */
	int sync_err;		/* last error the sync thread met (-errno) */
	int unsafe_shutdown;	/* seen at attach, see check_usc() */
};

PHEAP_HIDDEN extern struct state st;

/* attach.c: heap bytes mapped in this process now (takes map) */
PHEAP_HIDDEN uint64_t state_mapped_len(struct state *s);

/* sync.c: following and publishing break changes */
PHEAP_HIDDEN int sync_join(struct state *s);
PHEAP_HIDDEN int sync_start(struct state *s);
PHEAP_HIDDEN void sync_stop(struct state *s);
PHEAP_HIDDEN int sync_publish(struct state *s, uint64_t brk);
PHEAP_HIDDEN int sync_after_fork(struct state *s);

#endif
