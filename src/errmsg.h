/* SPDX-License-Identifier: BSD-3-Clause */
/* errmsg.h -- thread-local error text behind pheap_errormsg() */
#ifndef PHEAP_ERRMSG_H
#define PHEAP_ERRMSG_H

#define PHEAP_HIDDEN __attribute__((visibility("hidden")))

/* Sets the message and returns -err, so callers can write: return err_set(EINVAL, ...) */
PHEAP_HIDDEN int err_set(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like err_set(), with ": strerror(err)" appended */
PHEAP_HIDDEN int err_sys(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* For a libpmem2 failure ret: -errno it stands for (its own codes become
 * EIO, PMEM2_E_MAPPING_EXISTS EEXIST), ": pmem2_errormsg()" appended */
PHEAP_HIDDEN int err_pmem2(int ret, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
PHEAP_HIDDEN void err_clear(void);

#endif
