/* SPDX-License-Identifier: BSD-3-Clause */
/* util.c -- shared helpers for the CUnit test programs */

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <time.h>
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
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		_exit(follow_child(id, reattach, c2p[1], p2c[0]));
	}
	/* our copies closed: a dead child is EOF here, not a hang */
	close(c2p[1]);
	close(p2c[0]);
	c2p[1] = p2c[0] = -1;
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
	int st = wait_child(pid);
	if (st != 0)
		fprintf(stderr, "follow child exited with %d (128+signal)\n", st);
	CU_ASSERT_EQUAL(st, 0);
	close(c2p[0]);
	close(p2c[1]);
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

	/* a dead peer is a failed assertion, not a SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
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

/* ---- peers ---- */

static __thread sigjmp_buf *volatile touch_jmp;
int tu_sigbus_fatal;

static void
touch_trap(int sig)
{
	if (sig == SIGBUS && tu_sigbus_fatal)
		_exit(128 + SIGBUS);
	if (touch_jmp)
		siglongjmp(*touch_jmp, 1);
	_exit(128 + sig);
}

int
tu_touch_faults(volatile char *addr, int write)
{
	struct sigaction sa, old_segv, old_bus;
	sigjmp_buf jb;
	int faulted = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = touch_trap;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(jb, 1) == 0) {
		touch_jmp = &jb;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (write)
			*addr = *addr;
		else
			(void)*addr;
	} else {
		faulted = 1;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	touch_jmp = NULL;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return faulted;
}

double
tu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct toucher {
	pthread_t th;
	volatile char *addr;
	volatile int stop;
	long segv;
};

/* reads [addr, addr + 2 MiB) in a loop: SIGSEGV is counted (the range may
 * be beyond the break), SIGBUS kills the process (freed storage mapped) */
static void *
reader_main(void *arg)
{
	struct toucher *t = arg;

	tu_sigbus_fatal = 1;
	for (unsigned long i = 0; !t->stop; i++)
		t->segv += tu_touch_faults(t->addr + (i * 4096) % (2UL << 20), 0);
	return NULL;
}

/* writes one byte in a loop; a fault kills the process: the parent sees
 * the signal */
static void *
toucher_main(void *arg)
{
	struct toucher *t = arg;

	while (!t->stop)
		t->addr[0]++;
	return NULL;
}

struct cmdmsg {
	char op;
	unsigned long arg;
};

static long
peer_do(struct toucher *t, char op, unsigned long arg)
{
	char *base = pheap_base();
	struct pheap_info info;

	switch (op) {
	case 'b':
		return pbrk(arg);
	case 'r':
	case 'w':
		return tu_touch_faults(base + arg, op == 'w');
	case 'g':
		return tu_touch_faults(base + arg, 0) ? -1 :
			(long)(unsigned char)base[arg];
	case 'm':
		return pheap_info(&info) ? -1 : (long)info.mode;
	case 'e':
		return pheap_info(&info) ? -1 : info.follow_error;
	case 'c':
		return pchmod(arg);
	case 'l':
		return (unsigned char)base[arg];
	case 's':
		base[arg >> 8] = (char)(arg & 0xff);
		return 0;
	case 'd':
		return pdetach();
	case 'T':
		t->addr = base + arg;
		t->stop = 0;
		return pthread_create(&t->th, NULL, toucher_main, t);
	case 'R':
		t->addr = base + arg;
		t->stop = 0;
		t->segv = 0;
		return pthread_create(&t->th, NULL, reader_main, t);
	case 't':
		t->stop = 1;
		return pthread_join(t->th, NULL);
	}
	return -1;
}

static int
peer_main(int cmd, int ans, const char *id, int rdonly)
{
	struct toucher t;
	struct cmdmsg m;
	long r;

	if (pheap_base() && pdetach())
		return 4;
	r = pattach(id, strlen(id), PHEAP_ATTACH | (rdonly ? PHEAP_RDONLY : 0));
	if (write(ans, &r, sizeof(r)) != sizeof(r) || r)
		return 1;
	while (read(cmd, &m, sizeof(m)) == sizeof(m) && m.op != 'q') {
		r = peer_do(&t, m.op, m.arg);
		if (write(ans, &r, sizeof(r)) != sizeof(r))
			return 3;
	}
	return 0;
}

int
tu_peer_start(struct tu_peer *p, const char *id, int rdonly)
{
	int c[2], a[2];
	long r = TU_PEER_DEAD;

	if (pipe(c) || pipe(a))
		return -1;
	fflush(NULL);
	p->pid = fork();
	if (p->pid == 0) {
		close(c[1]);
		close(a[0]);
		_exit(peer_main(c[0], a[1], id, rdonly));
	}
	close(c[0]);
	close(a[1]);
	p->cmd = c[1];
	p->ans = a[0];
	if (read(p->ans, &r, sizeof(r)) != sizeof(r) || r) {
		tu_peer_stop(p);
		return -1;
	}
	return 0;
}

long
tu_peer_cmd(struct tu_peer *p, char op, unsigned long arg)
{
	struct cmdmsg m = { op, arg };
	long r;

	if (write(p->cmd, &m, sizeof(m)) != sizeof(m) ||
			read(p->ans, &r, sizeof(r)) != sizeof(r)) {
		pid_t pid = p->pid;
		int st = tu_peer_stop(p);

		fprintf(stderr, "peer %d died: status %d (128+signal)\n",
			(int)pid, st);
		CU_FAIL("peer died");
		return TU_PEER_DEAD;
	}
	return r;
}

int
tu_peer_stop(struct tu_peer *p)
{
	int st;

	struct cmdmsg m = { 'q', 0 };

	if (p->pid <= 0)
		return -1;
	/* other peers may hold copies of our pipe: say it, not only EOF */
	if (write(p->cmd, &m, sizeof(m)) != sizeof(m)) {
		/* dead already: reaped below */
	}
	close(p->cmd);
	close(p->ans);
	st = wait_child(p->pid);
	p->pid = -1;
	return st;
}

static int
thp_off(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	return strstr(buf, "[never]") != NULL;
}

int
tu_pmd_percent(const void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	unsigned long rss = 0, pmd = 0, v;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	if (!f || thp_off()) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, z;

		if (sscanf(line, "%lx-%lx ", &a, &z) == 2 && strchr(line, ' ') >
				strchr(line, '-')) {
			in = a >= lo && z <= hi;
			continue;
		}
		if (in && sscanf(line, "Rss: %lu", &v) == 1)
			rss += v;
		if (in && sscanf(line, "FilePmdMapped: %lu", &v) == 1)
			pmd += v;
	}
	fclose(f);
	return rss ? (int)(pmd * 100 / rss) : -1;
}

int
tu_count_names(const char *dir, const char *prefix, const char *suffix)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int count = 0;

	while (dp && (de = readdir(dp)) != NULL) {
		size_t n = strlen(de->d_name), k = suffix ? strlen(suffix) : 0;

		count += (!prefix || !strncmp(de->d_name, prefix,
			strlen(prefix))) && (!suffix || (n > k &&
			!strcmp(de->d_name + n - k, suffix)));
	}
	if (dp)
		closedir(dp);
	return count;
}
