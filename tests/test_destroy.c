/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_destroy.c -- pheap_destroy(), pheap_pool_stat() and pheap_pool_list()
 * through the public API, with real processes:
 *  - unattached: gone at once;
 *  - attached (a peer): destroyed-pending, found by nobody, its id free at
 *    once, the peer goes on growing it, its pdetach frees it;
 *  - the peer killed with SIGKILL: the next listing frees it;
 *  - the caller attached itself: pending, its own pdetach frees it; with
 *    PHEAP_DESTROY_WAIT, EDEADLK;
 *  - destroy racing a process that attaches and detaches in a loop: when
 *    destroy says "gone" (0), nobody is attached, and nothing is left;
 *  - uid 65534 may not destroy root's pheap (as root; skipped else).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

static const char *pool;

/* files of destroyed pheaps, and of pheaps, in the pool directory */
static void
count_files(int *destroyed, int *pheaps)
{
	*destroyed = tu_count_names(pool, ".destroyed-", NULL);
	*pheaps = tu_count_names(pool, NULL, ".pheap");
}

struct seen {
	const char *id;
	int state, attached;
};

static int
find(const struct pheap_entry *st, void *arg)
{
	struct seen *s = arg;

	if (st->id_len == strlen(s->id) && !memcmp(st->id, s->id, st->id_len)) {
		s->state = st->state;
		s->attached = st->attached;
	}
	return 0;
}

/* the state pheap_pool_list gives id (0: not listed) */
static int
listed(const char *id, int *attached)
{
	struct seen s = { id, 0, -2 };

	CU_ASSERT_EQUAL(pheap_pool_list(find, &s, 0), 0);
	if (attached)
		*attached = s.attached;
	return s.state;
}

static void
make(const char *id, unsigned long size)
{
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	if (size)
		CU_ASSERT(pbrk((unsigned long)pheap_base() + size) > 0);
	CU_ASSERT_EQUAL_FATAL(pdetach(), 0);
}

static void
test_unattached(void)
{
	const char *id = tu_id("gone");
	int d, n;

	pool = tu_pool();
	make(id, PG);
	CU_ASSERT_EQUAL(listed(id, NULL), PHEAP_STATE_OK);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0), 0);
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d + n, 0);
	CU_ASSERT_EQUAL(pattach(id, strlen(id), PHEAP_ATTACH), -EINVAL);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0), -EINVAL);
	CU_ASSERT_EQUAL(pheap_destroy(NULL, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(pheap_destroy(id, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0x80), -EINVAL);
}

static void
test_attached(void)
{
	const char *id = tu_id("pending");
	struct tu_peer p;
	int d, n, att;

	pool = tu_pool();
	make(id, PG);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0), 1);
	CU_ASSERT_EQUAL(listed(id, &att), PHEAP_STATE_DESTROYED);
	CU_ASSERT_EQUAL(att, 1);
	CU_ASSERT_EQUAL(pattach(id, strlen(id), PHEAP_ATTACH), -EINVAL);
	/* the id is free at once; the peer still has its own */
	make(id, 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', 0x2a0002000000UL + 3 * PG),
		(long)(0x2a0002000000UL + 3 * PG));
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'w', 3 * PG - 1), 0);
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d, 1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'd', 0), 0);	/* frees it */
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d, 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
	CU_ASSERT_EQUAL(listed(id, NULL), PHEAP_STATE_OK);	/* the new one */
}

static void
test_killed(void)
{
	const char *id = tu_id("killed");
	struct tu_peer p;
	int d, n;

	pool = tu_pool();
	make(id, PG);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 1), 0);	/* a reader */
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0), 1);
	kill(p.pid, SIGKILL);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 128 + SIGKILL);
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d, 1);	/* nobody has looked yet */
	CU_ASSERT_EQUAL(listed(id, NULL), 0);	/* the look frees it */
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d + n, 0);
}

static void
test_self(void)
{
	const char *id = tu_id("self");
	int d, n;

	pool = tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), PHEAP_DESTROY_WAIT),
		-EDEADLK);
	CU_ASSERT_EQUAL(pheap_destroy(id, strlen(id), 0), 1);
	/* still usable: grown, written */
	CU_ASSERT(pbrk((unsigned long)pheap_base() + PG) > 0);
	((volatile char *)pheap_base())[PG - 1] = 1;
	CU_ASSERT_EQUAL(pdetach(), 0);
	count_files(&d, &n);
	CU_ASSERT_EQUAL(d + n, 0);
}

/* attaches and detaches id until it is gone; *attached while it is */
static int
attacher(void *arg)
{
	volatile int *attached = arg;
	const char *id = (const char *)(attached + 1);

	for (int i = 0; i < 100000; i++) {
		int ret = pattach(id, strlen(id), PHEAP_ATTACH);

		if (ret == -EINVAL)
			return 0;	/* destroyed */
		if (ret)
			return 1;
		*attached = 1;
		usleep(200);
		*attached = 0;
		if (pdetach())
			return 2;
	}
	return 3;
}

static void
test_race(void)
{
	volatile int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int gone = 0, pending = 0, d, n;

	CU_ASSERT_FATAL(sh != MAP_FAILED);
	pool = tu_pool();
	for (int round = 0; round < 40; round++) {
		char *id = (char *)(sh + 1);
		int status, ret;
		pid_t pid;

		snprintf(id, 64, "race-%d", round);
		*sh = 0;
		make(id, 0);
		fflush(NULL);
		pid = fork();
		if (pid == 0)
			_exit(attacher((void *)sh));
		usleep((useconds_t)(round * 97 % 1500));
		ret = pheap_destroy(id, strlen(id), 0);
		/* "gone": nobody was attached, and nobody attaches after */
		if (ret == 0)
			CU_ASSERT_EQUAL(*sh, 0);
		gone += ret == 0;
		pending += ret == 1;
		CU_ASSERT(ret == 0 || ret == 1);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		count_files(&d, &n);
		CU_ASSERT_EQUAL(d + n, 0);	/* the last pdetach freed it */
	}
	printf("(gone at once %d, pending %d) ", gone, pending);
	munmap((void *)sh, 4096);
}

static int
nobody_destroys(void *id)
{
	return pheap_destroy(id, strlen(id), 0) == -EPERM ? 0 : 1;
}

static void
test_not_owner(void)
{
	const char *id = tu_id("theirs");

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	pool = tu_pool();
	make(id, PG);
	CU_ASSERT_EQUAL(tu_child_as_nobody(nobody_destroys, (void *)id), 0);
	CU_ASSERT_EQUAL(listed(id, NULL), PHEAP_STATE_OK);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "destroy unattached: gone at once", test_unattached },
		{ "destroy attached: pending until its pdetach", test_attached },
		{ "destroy, then the attached process is killed", test_killed },
		{ "destroy by an attached process", test_self },
		{ "destroy racing attach", test_race },
		{ "destroy of another user's pheap", test_not_owner },
		{ NULL, NULL }
	};
	return tu_main("destroy", tests);
}
