/* SPDX-License-Identifier: BSD-3-Clause */
/* util.h -- shared helpers for the CUnit test programs */
#ifndef PHEAP_TEST_UTIL_H
#define PHEAP_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <sys/types.h>

#define MiB (1UL << 20)
#define PG PHEAP_PAGE_SIZE

struct tu_test {
	const char *name;
	void (*fn)(void);
};

/* makes a fresh pool directory (mode 01777) and points PHEAP_POOL at it */
const char *tu_pool(void);
/* unique id string for this test process */
const char *tu_id(const char *tag);
/* runs fn(arg) in a forked child; returns its exit code, or 128+signal */
int tu_child(int (*fn)(void *), void *arg);
/* like tu_child, with the child's euid/egid set to 65534 (nobody) */
int tu_child_as_nobody(int (*fn)(void *), void *arg);
/* 1 if reading/writing addr faults (probed in a forked child) */
int tu_faults(const void *addr, int write);
/* registers and runs one suite; returns the number of failures */
int tu_main(const char *suite, const struct tu_test *tests);
/*
 * With the pheap id attached here at a break of one page: a forked child
 * (which pdetaches and attaches id on its own if reattach, else keeps the
 * inherited attachment) must see a grow to three pages with plain loads
 * and stores, and then the shrink back to one page as faults.
 */
void tu_check_follow(const char *id, int reattach);
/*
 * 1 under valgrind (RUNNING_ON_VALGRIND, or PHEAP_TEST_VALGRIND=1 as set
 * by make check-valgrind): for the few checks valgrind itself defeats.
 */
int tu_valgrind(void);
/* path of the file of the pheap attached now */
const char *tu_path(void);

/*
 * A peer: another process attached on its own to a pheap, driven over
 * pipes.  tu_peer_cmd() returns the peer's answer, or TU_PEER_DEAD if it
 * died (its signal is reported as a failed assertion, never a hang).
 */
struct tu_peer {
	pid_t pid;
	int cmd, ans;
};
#define TU_PEER_DEAD	(-99999L)
/* forks; the child detaches what it inherited and attaches id (rdonly) */
int tu_peer_start(struct tu_peer *p, const char *id, int rdonly);
/* ops: 'b' pbrk(arg) result; 'r'/'w' 0 if reading/writing base+arg does
 * not fault, 1 if it does; 'g' the byte at base+arg, -1 if reading it
 * faults; 'm' pheap_info().mode; 'e' its follow_error;
 * 'c' pchmod(arg); 'd' pdetach(); 'l' the byte at base+arg (a plain load);
 * 's' stores the byte arg & 0xff at base + (arg >> 8) (a plain store);
 * 'T' start a thread that writes base+arg
 * in a loop (a fault kills the peer), 'R' one that reads [base + arg, +2 MiB)
 * in a loop (SIGSEGV tolerated, SIGBUS kills the peer); 't' stops it */
long tu_peer_cmd(struct tu_peer *p, char op, unsigned long arg);
/* stops the peer and reaps it; its exit status as tu_child's */
int tu_peer_stop(struct tu_peer *p);
/* 1 if the access faults here, in this process (no fork): SIGSEGV/SIGBUS
 * are caught with sigsetjmp -- SIGBUS exits with 128+SIGBUS instead while
 * tu_sigbus_fatal is set */
int tu_touch_faults(volatile char *addr, int write);
extern int tu_sigbus_fatal;
/* wall-clock milliseconds, for liveness bounds */
double tu_ms(void);
/*
 * Of the VMAs inside [addr, addr + len) in /proc/self/smaps: the percent
 * of their resident bytes that file PMDs (2 MiB pages) map; -1 if nothing
 * there is resident, or transparent huge pages are off (enabled: never).
 */
int tu_pmd_percent(const void *addr, size_t len);
/* names in dir that start with prefix and end with suffix (NULL: any) */
int tu_count_names(const char *dir, const char *prefix, const char *suffix);

#endif
