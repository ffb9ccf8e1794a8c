/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_fork.c -- fork inherits the attachment (and takes part in
 * propagation), pdetach in the child leaves the parent attached, exec
 * drops the pheap unless PHEAP_EXEC_ATTACH opts in, and application
 * SIGSEGV handlers keep getting their own faults.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) ((unsigned long)(BASE + (x)))

static int
child_inherits(void *arg)
{
	(void)arg;
	if (pheap_base() != BASE)
		return 1;
	if (strcmp(BASE, "parent") != 0)
		return 2;
	strcpy(BASE + 64, "child");
	if (pbrk(0) != (long)B(PG))
		return 3;
	if (pdetach())
		return 4;
	if (pheap_base() != NULL || !tu_faults(BASE, 0))
		return 5;
	return 0;
}

static void
test_fork_inherit(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("fork", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	strcpy(BASE, "parent");
	CU_ASSERT_EQUAL(tu_child(child_inherits, NULL), 0);
	CU_ASSERT_STRING_EQUAL(BASE + 64, "child");	/* shared, not COW */
	CU_ASSERT_PTR_EQUAL(pheap_base(), BASE);	/* parent still attached */
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), B(2 * PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/* the forked child follows the parent's grow and shrink */
static void
test_fork_propagation(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("forkprop", 8, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	tu_check_follow("forkprop", 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static int
run_helper(const char *mode, const char *env)
{
	fflush(NULL);
	pid_t pid = fork();

	if (pid == 0) {
		/* the child inherited the attachment; exec drops it */
		if (env)
			setenv("PHEAP_EXEC_ATTACH", env, 1);
		else
			unsetenv("PHEAP_EXEC_ATTACH");
		execl("./tests/exec_helper", "exec_helper", mode, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
test_exec(void)
{
	char hex[2 * 8 + 1];
	const char *id = "exec\0id!";	/* 8 bytes, a NUL inside */

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, 8, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	strcpy(BASE, "before exec");
	for (int i = 0; i < 8; i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)id[i]);
	CU_ASSERT_EQUAL(run_helper("detached", NULL), 0);
	CU_ASSERT_EQUAL(run_helper("attached", hex), 0);
	CU_ASSERT_STRING_EQUAL(BASE, "after exec");
	strcpy(BASE, "before exec");
	char ro[32];
	snprintf(ro, sizeof(ro), "%s:ro", hex);
	CU_ASSERT_EQUAL(run_helper("readonly", ro), 0);
	CU_ASSERT_EQUAL(run_helper("detached", "zz"), 0);	/* bad hex */
	CU_ASSERT_EQUAL(run_helper("detached", "00"), 0);	/* absent id */
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static sigjmp_buf jb;
static volatile sig_atomic_t hits;

static void
on_segv(int sig)
{
	(void)sig;
	hits++;
	siglongjmp(jb, 1);
}

static int
own_fault(char *p)
{
	if (sigsetjmp(jb, 1) == 0) {
		*(volatile char *)p = 1;
		return 0;
	}
	return 1;
}

static void
test_app_sigsegv_handler(void)
{
	struct sigaction sa, old;
	char *trap = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, &old);	/* before attach */
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("sig", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(own_fault(trap), 1);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(own_fault(BASE), 0);		/* heap: no fault */
	CU_ASSERT_EQUAL(own_fault(BASE + PG), 1);	/* beyond the break */
	sigaction(SIGSEGV, &sa, NULL);			/* after attach */
	CU_ASSERT_EQUAL(own_fault(trap), 1);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(own_fault(BASE), 1);
	CU_ASSERT_EQUAL(hits, 4);
	sigaction(SIGSEGV, &old, NULL);
	munmap(trap, 4096);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "fork inherits, child detach leaves parent", test_fork_inherit },
		{ "a forked child follows grow and shrink", test_fork_propagation },
		{ "exec drops the pheap; PHEAP_EXEC_ATTACH opts in", test_exec },
		{ "application SIGSEGV handlers keep working", test_app_sigsegv_handler },
		{ NULL, NULL }
	};
	return tu_main("fork", tests);
}
