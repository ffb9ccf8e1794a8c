/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sync.c -- one pheap, many processes: a grow in A is usable in B with
 * plain loads and stores, a shrink in A unmaps in B, pbrk survives the
 * death of an attached process (test_recovery: of a lock holder), and a
 * random storm of pbrk from 8 processes with kill -9 leaves everything
 * consistent.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) ((unsigned long)(BASE + (x)))

/* a second process, driven by one-byte commands over pipes */
struct peer {
	pid_t pid;
	int cmd, ans;
};

static int
peer_loop(int cmd, int ans, const char *id)
{
	char c;

	/* forked from an attached process: leave that, attach on our own */
	if (pheap_base() && pdetach())
		return 4;
	if (pattach(id, strlen(id), PHEAP_ATTACH))
		return 1;
	if (write(ans, "r", 1) != 1)
		return 2;
	while (read(cmd, &c, 1) == 1) {
		char r = 'y';

		switch (c) {
		case 'R':	/* read what A wrote 3 pages in, no library call */
			r = strcmp(BASE + 3 * PG + 100, "from A") == 0 ? 'y' : 'n';
			break;
		case 'W':	/* write for A to read */
			strcpy(BASE + 3 * PG + 200, "from B");
			break;
		case 'P':	/* follow a pointer A stored in the heap */
			r = strcmp(*(char **)(BASE + 8), "pointed") == 0 ? 'y' : 'n';
			break;
		case 'F':	/* does [3 pages, 4 pages) fault here? */
			r = tu_faults(BASE + 3 * PG, 0) ? 'y' : 'n';
			break;
		case 'Q':	/* the break this process sees */
			r = pbrk(0) == (long)B(4 * PG) ? '4' :
				pbrk(0) == (long)B(2 * PG) ? '2' : '?';
			break;
		case 'D':
			r = pdetach() == 0 ? 'y' : 'n';
			break;
		}
		if (write(ans, &r, 1) != 1)
			return 3;
	}
	return 0;
}

static void
peer_start(struct peer *p, const char *id)
{
	int c[2], a[2];

	CU_ASSERT_FATAL(pipe(c) == 0 && pipe(a) == 0);
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		close(c[1]);
		close(a[0]);
		_exit(peer_loop(c[0], a[1], id));
	}
	close(c[0]);
	close(a[1]);
	p->cmd = c[1];
	p->ans = a[0];
	char r = 0;
	CU_ASSERT_EQUAL(read(p->ans, &r, 1), 1);
	CU_ASSERT_EQUAL(r, 'r');
}

static char
peer_do(struct peer *p, char c)
{
	char r = 0;

	if (write(p->cmd, &c, 1) != 1 || read(p->ans, &r, 1) != 1)
		return 0;
	return r;
}

static int
peer_stop(struct peer *p)
{
	int st;

	close(p->cmd);
	close(p->ans);
	waitpid(p->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
test_grow_shrink_reach_peer(void)
{
	struct peer b;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("gs", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	peer_start(&b, "gs");
	CU_ASSERT_EQUAL(peer_do(&b, 'F'), 'y');	/* not there yet */
	/* grow in A: B reads and writes it with no library call */
	CU_ASSERT_EQUAL(pbrk(B(4 * PG)), B(4 * PG));
	strcpy(BASE + 3 * PG + 100, "from A");
	strcpy(BASE + 2 * PG, "pointed");
	*(char **)(BASE + 8) = BASE + 2 * PG;
	CU_ASSERT_EQUAL(peer_do(&b, 'R'), 'y');
	CU_ASSERT_EQUAL(peer_do(&b, 'P'), 'y');
	CU_ASSERT_EQUAL(peer_do(&b, 'W'), 'y');
	CU_ASSERT_STRING_EQUAL(BASE + 3 * PG + 200, "from B");
	CU_ASSERT_EQUAL(peer_do(&b, 'Q'), '4');
	/* shrink in A: the range is gone in B before pbrk returns */
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), B(2 * PG));
	CU_ASSERT_EQUAL(peer_do(&b, 'F'), 'y');
	CU_ASSERT_EQUAL(peer_do(&b, 'Q'), '2');
	/* and back: zero in both */
	CU_ASSERT_EQUAL(pbrk(B(4 * PG)), B(4 * PG));
	CU_ASSERT_EQUAL(peer_do(&b, 'R'), 'n');
	CU_ASSERT_EQUAL(BASE[3 * PG + 100], 0);
	CU_ASSERT_EQUAL(peer_do(&b, 'D'), 'y');
	CU_ASSERT_EQUAL(peer_stop(&b), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_dead_attacher_forgotten(void)
{
	struct peer b;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("dead", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(4 * PG)), B(4 * PG));
	peer_start(&b, "dead");
	kill(b.pid, SIGKILL);
	CU_ASSERT_EQUAL(peer_stop(&b), 128 + SIGKILL);
	/* would block forever if B were still counted */
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/* ---- the storm ---- */

static int
stormer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	if (pattach("storm", 5, PHEAP_ATTACH))
		return 1;
	for (int i = 0; i < 500; i++) {
		unsigned long pages = (unsigned long)(rand_r(&seed) % 9);
		long r = pbrk(B(pages * PG));

		if (r != (long)B(pages * PG)) {
			fprintf(stderr, "stormer: pbrk = %ld: %s\n", r,
				pheap_errormsg());
			return 2;
		}
		/* no access here: another process may shrink right after */
	}
	return pdetach() ? 3 : 0;
}

static void
test_storm(void)
{
	enum { N = 8 };
	pid_t pid[N];
	struct timespec t = { 0, 0 };

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("storm", 5, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), B(2 * PG));
	fflush(NULL);
	for (int i = 0; i < N; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			pdetach();	/* the children attach on their own */
			_exit(stormer((void *)(uintptr_t)(i + 1)));
		}
	}
	/* kill three of them at random moments */
	srand(1234);
	for (int k = 0; k < 3; k++) {
		t.tv_nsec = 10000000L + rand() % 90000000L;
		nanosleep(&t, NULL);
		kill(pid[k * 3], SIGKILL);
	}
	int ok = 0, killed = 0;
	for (int i = 0; i < N; i++) {
		int st;
		waitpid(pid[i], &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else
			fprintf(stderr, "stormer %d: status %#x\n", i, st);
	}
	CU_ASSERT_EQUAL(ok + killed, N);
	CU_ASSERT(ok >= N - 3);
	/* the survivor (us) sees the durable break, and pbrk still works */
	long brk = pbrk(0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL((long)info.brk, brk);
	CU_ASSERT(brk >= (long)B(0) && brk <= (long)B(8 * PG));
	CU_ASSERT_FALSE(brk > (long)B(0) && tu_faults(BASE, 1));
	CU_ASSERT(tu_faults((char *)brk, 0));
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("storm", 5, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), brk);	/* durable == what we saw */
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	/* no storage leaked beyond the break */
	struct stat sb;
	CU_ASSERT_EQUAL(stat(info.path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, (off_t)(2 * MiB + PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "grow and shrink reach another process", test_grow_shrink_reach_peer },
		{ "a dead attacher is forgotten", test_dead_attacher_forgotten },
		{ "8 processes x 500 pbrk with kill -9", test_storm },
		{ NULL, NULL }
	};
	return tu_main("sync", tests);
}
