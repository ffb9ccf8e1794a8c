/* SPDX-License-Identifier: BSD-3-Clause */
/* util.c -- shared helpers for the CUnit test programs */

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "pheap.h"
#include "util.h"

static char pool_dir[256];

static void
rm_pool(void)
{
	char cmd[300];

	if (pool_dir[0] && getenv("PHEAP_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pool_dir);
		if (system(cmd)) {
			/* best effort */
		}
	}
}

const char *
tu_pool(void)
{
	static int registered;
	const char *top = getenv("PHEAP_TEST_DIR");

	rm_pool();
	snprintf(pool_dir, sizeof(pool_dir), "%s/pheap-test-XXXXXX",
		top && *top ? top : "/tmp");
	if (!mkdtemp(pool_dir)) {
		perror("mkdtemp");
		exit(2);
	}
	chmod(pool_dir, 01777);
	setenv("PHEAP_POOL", pool_dir, 1);
	if (!registered++)
		atexit(rm_pool);
	return pool_dir;
}

const char *
tu_id(const char *tag)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "test-%d-%s", (int)getpid(), tag);
	return buf;
}

static int
wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int
tu_child(int (*fn)(void *), void *arg)
{
	fflush(NULL);
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	return wait_child(pid);
}

struct as_nobody {
	int (*fn)(void *);
	void *arg;
};

static int
nobody(void *p)
{
	struct as_nobody *a = p;

	if (setgroups(0, NULL) || setegid(65534) || seteuid(65534))
		return 99;
	return a->fn(a->arg);
}

int
tu_child_as_nobody(int (*fn)(void *), void *arg)
{
	struct as_nobody a = { fn, arg };

	return tu_child(nobody, &a);
}

/*
 * The probe keeps what it reads: valgrind's JIT drops a load whose value
 * is never used -- and with it the fault the probe is looking for.
 */
static volatile char probe_sink;

static int
probe(void *p)
{
	volatile char *c = p;

	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	if (((uintptr_t)p & 1)) {	/* odd address: write probe */
		c = (volatile char *)((uintptr_t)p & ~(uintptr_t)1);
		*c = *c;
	} else {
		probe_sink = *c;
	}
	return 0;
}

int
tu_faults(const void *addr, int write)
{
	uintptr_t a = (uintptr_t)addr & ~(uintptr_t)1;
	int r = tu_child(probe, (void *)(a | (write ? 1 : 0)));

	return r == 128 + SIGSEGV || r == 128 + SIGBUS;
}

#define TU_BASE ((char *)0x2a0002000000UL)
#define TU_PG PHEAP_PAGE_SIZE

static int
follow_child(const char *id, int reattach, int to_parent, int from_parent)
{
	char c;
	int ok = 1;

	if (reattach)
		ok = pdetach() == 0 && pattach(id, strlen(id), PHEAP_ATTACH) == 0;
	/* ready; then wait until the parent grew to 3 pages */
	if (write(to_parent, "r", 1) != 1 || read(from_parent, &c, 1) != 1)
		return 1;
	ok = ok && strcmp(TU_BASE + 2 * TU_PG, "grown") == 0;
	strcpy(TU_BASE + 2 * TU_PG + 64, "seen");
	if (write(to_parent, "g", 1) != 1 || read(from_parent, &c, 1) != 1)
		return 1;
	/* the parent shrank to one page */
	ok = ok && tu_faults(TU_BASE + TU_PG, 0) && !tu_faults(TU_BASE, 1);
	return ok ? 0 : 2;
}

void
tu_check_follow(const char *id, int reattach)
{
	int c2p[2], p2c[2];
	char r;

	CU_ASSERT_FATAL(pipe(c2p) == 0 && pipe(p2c) == 0);
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0)
		_exit(follow_child(id, reattach, c2p[1], p2c[0]));
	CU_ASSERT_EQUAL(read(c2p[0], &r, 1), 1);
	CU_ASSERT_EQUAL(pbrk((unsigned long)(TU_BASE + 3 * TU_PG)),
		(long)(TU_BASE + 3 * TU_PG));
	strcpy(TU_BASE + 2 * TU_PG, "grown");
	CU_ASSERT_EQUAL(write(p2c[1], "x", 1), 1);
	CU_ASSERT_EQUAL(read(c2p[0], &r, 1), 1);
	CU_ASSERT_STRING_EQUAL(TU_BASE + 2 * TU_PG + 64, "seen");
	CU_ASSERT_EQUAL(pbrk((unsigned long)(TU_BASE + TU_PG)),
		(long)(TU_BASE + TU_PG));
	CU_ASSERT_EQUAL(write(p2c[1], "x", 1), 1);
	CU_ASSERT_EQUAL(wait_child(pid), 0);
	for (int i = 0; i < 2; i++) {
		close(c2p[i]);
		close(p2c[i]);
	}
}

int
tu_valgrind(void)
{
	const char *e = getenv("PHEAP_TEST_VALGRIND");

#ifdef RUNNING_ON_VALGRIND
	if (RUNNING_ON_VALGRIND)
		return 1;
#endif
	return e && *e && strcmp(e, "0") != 0;
}

const char *
tu_path(void)
{
	static struct pheap_info info;

	if (pheap_info(&info))
		return "";
	return info.path;
}

int
tu_main(const char *suite, const struct tu_test *tests)
{
	CU_pSuite s;
	unsigned fails;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	s = CU_add_suite(suite, NULL, NULL);
	for (; tests->name; tests++)
		CU_add_test(s, tests->name, tests->fn);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	fails = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return fails ? 1 : 0;
}
