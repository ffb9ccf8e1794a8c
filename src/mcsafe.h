/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mcsafe.h -- reading a mapping of persistent memory where a load may
 * raise SIGBUS (a poisoned line: the kernel turns the machine check into
 * SIGBUS; or storage that is gone), so that the caller gets -EIO instead
 * of the signal.  The device-dax backend reads the heap this way (it has
 * no read system call); see mcsafe.c for how, and what it costs.
 */
#ifndef PHEAP_MCSAFE_H
#define PHEAP_MCSAFE_H

#include <stddef.h>

#include "errmsg.h"

/* copies len bytes from src, a mapping, to dst: 0, or -EIO with a message
 * if a load from src raised SIGBUS (dst then holds an unspecified prefix) */
PHEAP_HIDDEN int mcsafe_copy(void *dst, const void *src, size_t len);
/* held around any other code that replaces SIGBUS's handler for a while
 * (libpmem2's pmem2_source_pread_mcsafe and pwrite_mcsafe): one swap at a
 * time in the process, mcsafe_copy's included */
PHEAP_HIDDEN void mcsafe_lock(void);
PHEAP_HIDDEN void mcsafe_unlock(void);

#endif
