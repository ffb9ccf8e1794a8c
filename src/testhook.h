/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * testhook.h -- injection points for the test-only build (libpheap-testing,
 * compiled with -DPHEAP_TESTING).  Without PHEAP_TESTING every hook below
 * expands to nothing and testhook.c is not compiled: the installed library
 * holds no hook code (tests/nohooks.sh checks it with nm).
 *
 * Invariants the hooks rely on:
 *  - TH_POINT(name) sits immediately BEFORE a step that changes persistent
 *    state (a write, truncate, allocation, rename, unlink, chmod, sync or the
 *    publish of a break).  The points of one process are numbered 1, 2, ...
 *    in the order reached; a crash "at point k" kills the process at point
 *    k, so every step before point k has happened and none after.
 *  - TH_DURABLE(fd, off, len, kind) sits immediately AFTER a successful
 *    durability call (fdatasync, msync, fsync of a file or a directory).
 *    It records what that call made durable in the shadow area, if one is
 *    set (the "drop non-durable writes" emulation, see testhook.c).
 *  - Hooks never change what the library does unless a test asked for it
 *    (crash, bad block, unsafe shutdown count, a call at a point); they
 *    never print.
 */
#ifndef PHEAP_TESTHOOK_H
#define PHEAP_TESTHOOK_H

#include <stdint.h>

/* what a durability call covered (TH_DURABLE kind) */
enum th_sync {
	TH_SYNC_RANGE,	/* msync of [off, off + len), and the file's size */
	TH_SYNC_DATA,	/* fdatasync: contents and size */
	TH_SYNC_FULL,	/* fsync: contents, size, mode and owner */
	TH_SYNC_DIR,	/* fsync of a directory: its list of names */
};

#ifdef PHEAP_TESTING
#define TH_POINT(name) testhook_point(name)
#define TH_DURABLE(fd, off, len, kind) testhook_durable(fd, off, len, kind)
#else
#define TH_POINT(name) do { } while (0)
#define TH_DURABLE(fd, off, len, kind) do { } while (0)
#endif

/* ---- called by the library (test build only) ---- */
void testhook_point(const char *name);
void testhook_durable(int fd, uint64_t off, uint64_t len, enum th_sync kind);
/* an injected bad range [*off, *off + *len) of device offsets: 1, else 0 */
int testhook_badblock(uint64_t *off, uint64_t *len);
/* an injected unsafe shutdown count: 1, else 0 */
int testhook_usc(uint64_t *usc);

/* ---- called by the tests ---- */
/* point k (1-based, counted from now) kills the process; 0: never.
 * Resets the count.  Env PHEAP_TEST_CRASH_AT=k does the same at start. */
void testhook_crash_at(unsigned long k);
/* at the next point named name (in any thread), fn(arg) runs once, before
 * anything else the point does: another process's move made exactly
 * there.  name NULL: none */
void testhook_at(const char *name, void (*fn)(void *), void *arg);
/* points reached since the last testhook_crash_at() (or process start) */
unsigned long testhook_count(void);
/* name of the i-th point reached (0-based, the first 256 kept), or NULL */
const char *testhook_trace(unsigned long i);
/* also append "name\n" to fd at every point, before any crash (-1: off).
 * Env PHEAP_TEST_TRACE=path appends to that file. */
void testhook_trace_fd(int fd);
/*
 * Shadow of what is durable, for the "drop non-durable writes" variant:
 * begin declares the present contents of the flat directory pool durable
 * (snapshot into the empty directory shadow) and starts recording every
 * TH_DURABLE there; restore, in any process after the crash, replaces
 * pool's files by the shadow's (writeback: with the live contents, clipped
 * to the durable sizes).  0 or -errno.
 */
int testhook_shadow_begin(const char *pool, const char *shadow);
int testhook_shadow_restore(const char *pool, const char *shadow,
	int writeback);
/* dev_check_badblocks() reports [off, off + len) bad; len 0: no more */
void testhook_inject_badblock(uint64_t off, uint64_t len);
/* dev_usc() reports usc on every backend; on == 0: the real answer */
void testhook_inject_usc(int on, uint64_t usc);

#endif
