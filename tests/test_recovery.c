/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_recovery.c -- a pbrk coordinator killed between its steps.  Linked
 * with the library's internals, a child performs exactly the first steps
 * of a pbrk (lock, mark the round pending, allocate, durable header) and
 * dies before its round; the survivors must end up consistent with the
 * durable header -- processes attached before the crash (mapping the old
 * break) and after it (mapping the new one) alike, without waiting for
 * some later break change.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "lock.h"
#include "state.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) ((unsigned long)(BASE + (x)))

/* the first half of a pbrk to new_brk, then death */
static int
half_pbrk(void *arg)
{
	uint64_t want = (uint64_t)(uintptr_t)arg;
	struct hdr_found f;

	if (brklock_take(&st.rt->brk, st.lock_fd) ||
			hdr_load(&st.dev.io, &f) || !f.ok)
		return 1;
	sync_begin(&st);
	if (want > f.hdr.brk && dev_grow(&st.dev, &f.hdr, f.hdr.brk, want))
		return 2;
	f.hdr.brk = want;
	if (hdr_store(&st.dev.io, &f.hdr, &f.slot))
		return 3;
	kill(getpid(), SIGKILL);	/* before publishing */
	return 4;
}

static void
test_killed_after_header(void)
{
	struct stat sb;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("rec", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	/* a grow to 3 pages is durable, but nobody was told */
	CU_ASSERT_EQUAL(tu_child(half_pbrk, (void *)(uintptr_t)(3 * PG)),
		128 + SIGKILL);
	/* asking for the durable break finishes the round */
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	CU_ASSERT_FALSE(tu_faults(BASE + 3 * PG - 1, 1));
	BASE[3 * PG - 1] = 1;
	/* the same for a shrink: storage goes only after the round */
	CU_ASSERT_EQUAL(tu_child(half_pbrk, (void *)(uintptr_t)PG), 128 + SIGKILL);
	CU_ASSERT_FALSE(tu_faults(BASE + 2 * PG, 0));	/* still mapped */
	CU_ASSERT_EQUAL(stat(tu_path(), &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 2 * MiB + 3 * PG);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT(tu_faults(BASE + PG, 0));
	CU_ASSERT_EQUAL(stat(tu_path(), &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 2 * MiB + PG);
	/* a grow past the dead coordinator's break covers the gap too */
	CU_ASSERT_EQUAL(tu_child(half_pbrk, (void *)(uintptr_t)(2 * PG)),
		128 + SIGKILL);
	CU_ASSERT_EQUAL(pbrk(B(4 * PG)), B(4 * PG));
	CU_ASSERT_FALSE(tu_faults(BASE + PG, 1));
	CU_ASSERT_EQUAL(BASE[PG], 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pattach("rec", 3, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(4 * PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/*
 * Issue #9, defect 2: before, pbrk to the durable break returned 0 without
 * a round when the caller already mapped it, and processes attached before
 * the crash kept the old break until some later change.
 */
static void
crash_with_peers(struct tu_peer *before, unsigned long to)
{
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&before[0], "orph", 0), 0);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&before[1], "orph", 1), 0);
	CU_ASSERT_EQUAL(tu_child(half_pbrk, (void *)(uintptr_t)to), 128 + SIGKILL);
}

/* every peer maps [0, brk) and nothing beyond, within ms */
static int
all_follow(struct tu_peer *p, int n, unsigned long brk, int ms)
{
	for (int t = 0; t < ms; t += 20) {
		int ok = 1;

		for (int i = 0; i < n; i++)
			ok &= tu_peer_cmd(&p[i], 'b', 0) == (long)B(brk);
		if (ok)
			break;
		usleep(20000);
	}
	for (int i = 0; i < n; i++)
		if (tu_peer_cmd(&p[i], 'r', brk - 1) != 0 ||
				tu_peer_cmd(&p[i], 'r', brk) != 1)
			return 0;
	return 1;
}

static void
stop_all(struct tu_peer *p, int n)
{
	for (int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(tu_peer_stop(&p[i]), 0);
}

static void
test_orphan_same_break(void)
{
	struct tu_peer p[3];

	tu_pool();
	setenv("PHEAP_WAIT_MS", "5000", 1);
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_ATTACH), 0);
	crash_with_peers(p, 3 * PG);
	/* attached after the crash: maps the durable 3 pages */
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p[2], "orph", 0), 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p[2], 'b', 0), (long)B(3 * PG));
	/* its pbrk to that same break finishes the round at once */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p[2], 'b', B(3 * PG)), (long)B(3 * PG));
	CU_ASSERT(all_follow(p, 3, 3 * PG, 0));
	CU_ASSERT_EQUAL(pbrk(0), B(3 * PG));
	stop_all(p, 3);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_orphan_found_by_sync_thread(void)
{
	struct tu_peer p[2];
	struct stat sb;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_ATTACH), 0);
	/* a shrink made durable by a coordinator that died: nobody calls
	 * pbrk again, yet within a couple of seconds everyone unmaps and
	 * the storage is freed */
	crash_with_peers(p, PG);
	CU_ASSERT(all_follow(p, 2, PG, 3000));
	CU_ASSERT_EQUAL(stat(tu_path(), &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 2 * MiB + PG);
	CU_ASSERT(tu_touch_faults(BASE + PG, 0));
	stop_all(p, 2);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_orphan_found_by_attach(void)
{
	struct tu_peer p[3];

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* sync threads look every second: the check right after the attach
	 * below sees what the attach did */
	CU_ASSERT_EQUAL_FATAL(pattach("orph", 4, PHEAP_ATTACH), 0);
	crash_with_peers(p, 2 * PG);
	/* a read-write attach finishes it before its pattach returns */
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p[2], "orph", 0), 0);
	CU_ASSERT(all_follow(p, 2, 2 * PG, 0));
	stop_all(p, 3);
	CU_ASSERT_EQUAL(pdetach(), 0);
	unsetenv("PHEAP_WAIT_MS");
}

/* takes the break lock, tells, then stops or dies holding it */
static int
hold_brk(void *arg)
{
	int fd = (int)(intptr_t)arg;

	if (brklock_take(&st.rt->brk, st.lock_fd) || write(fd, "h", 1) != 1)
		return 1;
	raise(SIGSTOP);
	kill(getpid(), SIGKILL);
	return 2;
}

static pid_t
holder(int fd)
{
	pid_t pid = fork();
	char c;

	if (pid == 0)
		_exit(hold_brk((void *)(intptr_t)fd));
	CU_ASSERT(read(fd - 1, &c, 1) == 1);	/* fd - 1: the pipe's read end */
	return pid;
}

/*
 * The break lock's holder stopped: -EBUSY after the bound, naming it; then
 * killed, or killed and its pid reused: the lock is taken over at once.
 */
static void
test_lock_holder(void)
{
	int p[2], status;
	double t;

	tu_pool();
	setenv("PHEAP_WAIT_MS", "300", 1);
	CU_ASSERT_EQUAL_FATAL(pattach("lk", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	CU_ASSERT_EQUAL_FATAL(p[1], p[0] + 1);
	pid_t pid = holder(p[1]);
	waitpid(pid, &status, WUNTRACED);
	t = tu_ms();
	CU_ASSERT_EQUAL(pbrk(B(PG)), -EBUSY);
	CU_ASSERT(strstr(pheap_errormsg(), "not running") != NULL);
	CU_ASSERT(tu_ms() - t < 1500);
	CU_ASSERT_EQUAL(pchmod(0600), -EBUSY);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	t = tu_ms();
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	CU_ASSERT(tu_ms() - t < 200);
	/* a holder that died, its record naming a live process of another
	 * start time (a reused pid): dead too */
	pid = holder(p[1]);
	waitpid(pid, &status, WUNTRACED);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	st.rt->brk.word = (st.rt->brk.word >> 32 << 32) | (uint32_t)getppid();
	st.rt->brk.tag = st.rt->brk.word;
	st.rt->brk.witness = 0;
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), B(2 * PG));
	/* a reader's read lock keeps the holder from its witness: judged by
	 * /proc then, stopped still means -EBUSY, dead means taken over */
	int rd = open(tu_path(), O_RDONLY);
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
	CU_ASSERT_EQUAL(fcntl(rd, F_OFD_SETLK, &fl), 0);
	pid = holder(p[1]);
	waitpid(pid, &status, WUNTRACED);
	CU_ASSERT_EQUAL(st.rt->brk.witness, 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), -EBUSY);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	close(rd);
	close(p[0]);
	close(p[1]);
	CU_ASSERT_EQUAL(pdetach(), 0);
	unsetenv("PHEAP_WAIT_MS");
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "coordinator killed after its header write", test_killed_after_header },
		{ "orphan round: pbrk to the same break finishes it", test_orphan_same_break },
		{ "orphan round: a sync thread finds it", test_orphan_found_by_sync_thread },
		{ "orphan round: a read-write attach finishes it", test_orphan_found_by_attach },
		{ "the break lock's holder stopped, killed, pid reused", test_lock_holder },
		{ NULL, NULL }
	};
	return tu_main("recovery", tests);
}
