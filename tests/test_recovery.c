/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_recovery.c -- a pbrk coordinator killed between its steps.  Linked
 * with the library's internals, a child performs exactly the first steps
 * of a pbrk (lock, allocate, durable header) and dies before publishing;
 * the survivors must end up consistent with the durable header.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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

	if (lock_take(st.lock_fd, LOCK_BRK, F_WRLCK) ||
			hdr_load(&st.dev.io, &f) || !f.ok)
		return 1;
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
	CU_ASSERT_EQUAL(pbrk(0), B(PG));		/* not followed */
	CU_ASSERT(tu_faults(BASE + 2 * PG, 0));
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

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "coordinator killed after its header write", test_killed_after_header },
		{ NULL, NULL }
	};
	return tu_main("recovery", tests);
}
