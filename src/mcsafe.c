/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mcsafe.c -- a copy out of a mapping that turns SIGBUS into -EIO.
 *
 * Why: a device-dax device has no read(2); its bytes can only be loaded
 * through a mapping, and a load from a poisoned line of persistent memory
 * raises SIGBUS (BUS_MCEERR_AR) -- which, unhandled, kills the process.
 * libpmem2 has pmem2_source_pread_mcsafe() for this, but on device-dax it
 * maps the whole device read-write (so a descriptor opened read-only
 * cannot use it: PMDK 1.12, src/libpmem2/mcsafe_ops_posix.c), which a
 * pheap opened with PHEAP_RDONLY must be able to do.
 *
 * How: the copy runs with a handler of ours for SIGBUS, installed just for
 * it, that jumps back (siglongjmp) out of the faulting load; the previous
 * handler is put back after.  Only a fault the kernel raised counts
 * (si_code > 0): a SIGBUS sent by kill(2) is not a bad line.
 *
 * Concurrency: a signal's handler belongs to the whole process.  Two
 * swaps that interleave (A installs, B installs saving A's, A restores,
 * B restores A's) would leave our handler installed for good, so the
 * swaps go one at a time under one mutex -- also libpmem2's mcsafe calls,
 * which swap the same handler (mcsafe_lock).  While a copy runs, a SIGBUS
 * that another thread takes reaches our handler: it is not ours (the
 * jump buffer is per thread), so it goes to the handler the application
 * had, or, if that was the default action, the default is put back and
 * the faulting instruction, run again, gets it -- as without us.  The
 * cost: copies from device-dax are serialised within a process.
 *
 * Crash reasoning: nothing persistent is touched here.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "mcsafe.h"

static pthread_mutex_t mc_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction mc_prev;	/* what our handler replaced */
static __thread sigjmp_buf *volatile mc_jmp;	/* set while copying */

void
mcsafe_lock(void)
{
	pthread_mutex_lock(&mc_mutex);
}

void
mcsafe_unlock(void)
{
	pthread_mutex_unlock(&mc_mutex);
}

static void
mc_trap(int sig, siginfo_t *si, void *uc)
{
	if (mc_jmp && si && si->si_code > 0)
		siglongjmp(*mc_jmp, 1);
	/* not a fault of our copy: the application's handler, as without us */
	if (mc_prev.sa_flags & SA_SIGINFO) {
		mc_prev.sa_sigaction(sig, si, uc);
		return;
	}
	if (mc_prev.sa_handler != SIG_DFL && mc_prev.sa_handler != SIG_IGN) {
		mc_prev.sa_handler(sig);
		return;
	}
	/* the default action: the faulting instruction runs again and gets
	 * it (the kernel does not let a fault be ignored) */
	sigaction(SIGBUS, &mc_prev, NULL);
}

/* the copy, with our handler installed: 1 if it faulted */
static int
guarded_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1))
		return 1;	/* from mc_trap: the copy faulted */
	mc_jmp = &jb;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	memcpy(dst, src, len);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return 0;
}

int
mcsafe_copy(void *dst, const void *src, size_t len)
{
	struct sigaction sa;
	int ret = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mc_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	mcsafe_lock();
	if (sigaction(SIGBUS, &sa, &mc_prev)) {
		ret = err_sys(errno, "sigaction SIGBUS");
		mcsafe_unlock();
		return ret;
	}
	if (guarded_copy(dst, src, len))
		ret = err_set(EIO, "a load from persistent memory at %p "
			"(%zu bytes) failed: a bad block (poison)", src, len);
	mc_jmp = NULL;
	sigaction(SIGBUS, &mc_prev, NULL);
	mcsafe_unlock();
	return ret;
}
