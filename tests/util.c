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
		(void)*c;
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
