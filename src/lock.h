/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.h -- cross-process locks on a pheap: open file description (OFD)
 * byte-range locks on its backing file or device.  The kernel drops them
 * when their holder dies, so a killed process never blocks the others.
 */
#ifndef PHEAP_LOCK_H
#define PHEAP_LOCK_H

#include <fcntl.h>

#include "errmsg.h"

/* bytes locked; they lie in the header area, which nothing else locks */
#define LOCK_BRK	12288	/* write: pbrk/pchmod; read: attaching */
#define LOCK_EPOCH(e)	(12289 + ((e) & 1))	/* read: attached, write: waiting */

/* F_RDLCK or F_WRLCK; blocks until granted; 0 or -errno */
PHEAP_HIDDEN int lock_take(int fd, long byte, short type);
PHEAP_HIDDEN void lock_drop(int fd, long byte);

#endif
