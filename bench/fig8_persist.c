/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig8_persist.c -- figure 8: the latency of one pbrk grow+shrink pair of
 * 2 MiB (median, p99, max; ms) while N = 0, 1, 4 threads of the same
 * process loop on ppersist of one page, against N = 0.  8a: the same for
 * fork+waitpid of a child that exits at once, in its own run.  8b: a
 * second process, attached by itself, times the pairs while the N threads
 * persist in the first.  Every operation is capped; one cut at the cap
 * counts as a lower bound, and its configuration stops there.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define F8_THREADS_MAX 4
#define F8_SAMPLES_MAX 4096
#define F8_NCONF 3

static const int f8_threads[F8_NCONF] = { 0, 1, 4 };

/* shared between the bench and its figure-8 processes */
struct f8_shared {
	int stop;		/* the bench: take no more samples */
	int op;			/* in progress: 0 a pbrk pair, 1 a fork, 2 the end */
	uint64_t t_op;		/* its start (CLOCK_MONOTONIC), 0 when none */
	int np, nf;		/* pbrk pairs and forks done */
	int cens_p, cens_f;	/* of which cut at the cap (1 at most) */
	uint64_t persists;	/* ppersist calls of all threads, so far */
	uint64_t t_threads;	/* when they started, 0 if none did */
	uint64_t persist_ns;	/* the time they ran (the bench sets it) */
	double pair[F8_SAMPLES_MAX];	/* us */
	double fork[F8_SAMPLES_MAX];	/* us */
};

enum f8_role { F8_SAME, F8_PERSIST, F8_PBRK };

struct f8_thr {
	pthread_t tid;
	volatile char *page;	/* the heap's first page */
	int idx;
	uint64_t calls;
	uint64_t *all;		/* f8_shared.persists */
	int err;
};

static int f8_quit;		/* the persisting threads stop */

/* dirty a byte of the first page, persist the page: one msync on FILE */
static void *
f8_persist_loop(void *arg)
{
	struct f8_thr *t = arg;

	while (!__atomic_load_n(&f8_quit, __ATOMIC_RELAXED)) {
		int ret;

		t->page[64 * t->idx]++;
		ret = ppersist((const void *)t->page, 4096);
		if (ret) {
			t->err = ret;
			break;
		}
		__atomic_store_n(&t->calls, t->calls + 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(t->all, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* starts n threads, returns once each has persisted once (or after 1 s) */
static void
f8_start(struct f8_thr *t, int n, struct f8_shared *sh)
{
	char *base = pheap_base();
	uint64_t t0 = now_ns();
	int ready;

	if (n)
		sh->t_threads = t0;
	for (int i = 0; i < n; i++) {
		t[i].page = base;
		t[i].idx = i;
		t[i].all = &sh->persists;
		if (pthread_create(&t[i].tid, NULL, f8_persist_loop, &t[i]))
			die("pthread_create failed");
	}
	do {
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
		ready = 1;
		for (int i = 0; i < n; i++)
			ready &= __atomic_load_n(&t[i].calls, __ATOMIC_RELAXED) > 0;
	} while (!ready && now_ns() - t0 < 1000000000ULL);
}

static void
f8_stop(struct f8_thr *t, int n)
{
	__atomic_store_n(&f8_quit, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++) {
		pthread_join(t[i].tid, NULL);
		if (t[i].err)
			API_FAIL("ppersist", t[i].err);
	}
}

static void
f8_op(struct f8_shared *sh, int op)
{
	__atomic_store_n(&sh->op, op, __ATOMIC_RELAXED);
	__atomic_store_n(&sh->t_op, op < 0 ? 0 : now_ns(), __ATOMIC_RELEASE);
}

/* one op: a pbrk grow+shrink pair of 2 MiB above q, or a fork+waitpid */
static void
f8_one(int op, long q)
{
	pid_t pid;

	if (op == 0) {
		brk_pair(q);
		return;
	}
	pid = fork();	/* a child that exits at once */
	if (pid < 0)
		SYS_FAIL("fork");
	if (pid == 0)
		_exit(0);
	wait_ok(pid, "the forked child of figure 8");
}

/* count ops (0 pbrk pairs, 1 forks), each timed; until the bench stops it */
static void
f8_sample(struct f8_shared *sh, int count, int op)
{
	long q = brk_query();

	for (int i = 0; i < count && !__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE); i++) {
		uint64_t t0;

		f8_op(sh, op);
		t0 = now_ns();
		f8_one(op, q);
		(op ? sh->fork : sh->pair)[i] = (double)(now_ns() - t0) / 1e3;
		__atomic_store_n(op ? &sh->nf : &sh->np, i + 1, __ATOMIC_RELEASE);
	}
	f8_op(sh, -1);
}

/* the break at least one step above the base: the page the threads persist */
static void
f8_floor(void)
{
	uintptr_t base = (uintptr_t)pheap_base();
	long q = brk_query(), r;

	if ((uintptr_t)q - base >= STEP)
		return;
	r = pbrk(base + STEP);
	if (r < 0)
		API_FAIL("pbrk(grow)", r);
}

/* a figure-8 process: attaches by itself, then plays its role */
static void
f8_child(enum f8_role role, int nthr, const int fds[3], struct f8_shared *sh,
	int count, int op)
{
	struct f8_thr t[F8_THREADS_MAX];
	char c = 'r';

	child_start();
	memset(t, 0, sizeof(t));
	heap_attach();
	f8_floor();
	if (role == F8_PBRK)
		nthr = 0;
	f8_start(t, nthr, sh);
	write_all(fds[0], &c, 1);
	if (read(fds[1], &c, 1) < 0)	/* EOF: go */
		SYS_FAIL("read start pipe");
	if (role != F8_PERSIST)
		f8_sample(sh, count, op);
	else if (read(fds[2], &c, 1) < 0)	/* EOF: stop */
		SYS_FAIL("read stop pipe");
	if (role != F8_PERSIST)
		f8_op(sh, 2);	/* the wind-down, under the bench's cap too */
	f8_stop(t, nthr);
	heap_detach();
	_exit(0);
}

/* ---- figure 8, the bench's side ---- */

struct f8_stat {
	double v[3];		/* median, p99, max, in ms */
	int low[3];		/* 1: a lower bound (an op cut at the cap) */
	int n;			/* samples */
};

static const char *const f8_stat_name[3] = { "median", "p99", "max" };

/* waits for want bytes on fd, at most cap_ns: 0, or -1 on timeout or EOF */
static int
f8_wait_ready(int fd, int want, uint64_t cap_ns)
{
	uint64_t t0 = now_ns();
	char c;

	while (want > 0) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint64_t el = now_ns() - t0;
		int r;

		if (el >= cap_ns)
			return -1;
		r = poll(&pfd, 1, (int)((cap_ns - el) / 1000000 + 1));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			SYS_FAIL("poll");
		if (r == 0 || !read_all(fd, &c, 1))
			return -1;
		want--;
	}
	return 0;
}

static void
f8_kill(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		while (pids[i] > 0 && waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
}

/* the op in progress was killed at the cap: a sample that is a lower bound */
static void
f8_censor(struct f8_shared *sh, double us)
{
	if (sh->op == 0 && sh->np < F8_SAMPLES_MAX) {
		sh->pair[sh->np++] = us;
		sh->cens_p = 1;
	} else if (sh->op == 1 && sh->nf < F8_SAMPLES_MAX) {
		sh->fork[sh->nf++] = us;
		sh->cens_f = 1;
	}
}

/*
 * Waits for *pid, at most cap_ns after the start of the op in progress (sh
 * set) or after the call (sh NULL), and stops the sampling at budget_ns.
 * 0 it exited with 0, 1 it was killed at the cap, 2 it failed.  *pid is
 * -1 after.
 */
static int
f8_watch(pid_t *pid, struct f8_shared *sh, uint64_t cap_ns, uint64_t budget_ns)
{
	struct timespec gap = { 0, 2000000 };
	uint64_t t0 = now_ns();

	for (;;) {
		int status;
		pid_t r = waitpid(*pid, &status, WNOHANG);
		uint64_t now = now_ns(), t = t0;

		if (r == *pid) {
			*pid = -1;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
		}
		if (r < 0 && errno != EINTR)
			SYS_FAIL("waitpid");
		if (sh && now - t0 > budget_ns)
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
		if (sh)
			t = __atomic_load_n(&sh->t_op, __ATOMIC_ACQUIRE);
		if (t && now > t + cap_ns) {
			f8_kill(pid, 1);
			*pid = -1;
			if (sh && __atomic_load_n(&sh->t_op, __ATOMIC_ACQUIRE) == t)
				f8_censor(sh, (double)(now_ns() - t) / 1e3);
			return 1;
		}
		nanosleep(&gap, NULL);
	}
}

/* the cap of one op, an attach, a wind-down; the sampling budget */
#define F8_CAP_S (o.quick ? 5 : 30)
#define F8_BUDGET_S (o.quick ? 2 : 30)
#define F8_CAP_NS ((uint64_t)F8_CAP_S * 1000000000ULL)

/*
 * One configuration: nthr threads ppersist in process A while A times
 * count pbrk pairs (kase 0) or forks (kase 1), or while a second process
 * B that attached by itself times count pbrk pairs (kase 2).  0 done, 1 an
 * op or a wind-down cut at the cap, 3 not ready within the cap.
 */
static int
f8_run(int nthr, int kase, struct f8_shared *sh, int count)
{
	int rdy[2], go[2], stp[2], fds[3], cross = kase == 2, np = cross ? 2 : 1, rc;
	uint64_t budget = (uint64_t)F8_BUDGET_S * 1000000000ULL;
	pid_t pids[2] = { -1, -1 };

	memset(sh, 0, sizeof(*sh));
	if (pipe2(rdy, O_CLOEXEC) || pipe2(go, O_CLOEXEC) || pipe2(stp, O_CLOEXEC))
		SYS_FAIL("pipe");
	fds[0] = rdy[1];
	fds[1] = go[0];
	fds[2] = stp[0];
	fflush(NULL);
	for (int i = 0; i < np; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			SYS_FAIL("fork");
		if (pids[i] == 0) {
			close(rdy[0]);
			close(go[1]);
			close(stp[1]);
			f8_child(!cross ? F8_SAME : i ? F8_PBRK : F8_PERSIST, nthr,
				fds, sh, count, kase == 1);
		}
	}
	close(rdy[1]);
	close(go[0]);
	close(stp[0]);
	rc = f8_wait_ready(rdy[0], np, F8_CAP_NS) ? 3 : 0;
	close(rdy[0]);
	close(go[1]);
	if (rc == 0)
		rc = f8_watch(&pids[np - 1], sh, F8_CAP_NS, budget);
	close(stp[1]);
	if (rc == 0 && cross)
		rc = f8_watch(&pids[0], NULL, F8_CAP_NS, 0);
	if (rc == 2) {
		f8_kill(pids, np);
		die("figure 8: a process failed (see its message above)");
	}
	f8_kill(pids, np);	/* those still running after a cut */
	if (sh->t_threads)
		sh->persist_ns = now_ns() - sh->t_threads;
	return rc;
}

/* median, p99, max in ms of v[0..n) (us), whose largest cens are bounds */
static void
f8_stats(double *v, int n, int cens, struct f8_stat *s)
{
	int k99 = (int)(0.99 * n + 0.999999) - 1;

	s->n = n;
	if (n == 0) {	/* not measured: the run was cut before */
		for (int j = 0; j < 3; j++) {
			s->v[j] = NAN;
			s->low[j] = 0;
		}
		return;
	}
	if (k99 < 0)
		k99 = 0;
	s->v[0] = median(v, n) / 1e3;
	s->v[1] = percentile(v, n, 99) / 1e3;
	s->v[2] = v[n - 1] / 1e3;
	s->low[0] = cens && n / 2 >= n - cens;
	s->low[1] = cens && k99 >= n - cens;
	s->low[2] = cens;
}

static void
f8_add_rows(const char *fig, const char *what, const char *where,
	const char *base_name, const struct f8_stat *s)
{
	for (int k = 0; k < F8_NCONF; k++)
		for (int j = 0; j < 3; j++) {
			struct row *r = add_row(fig, "ms", 2, s[k].v[j],
				"%s, N=%d ppersisting%s, %s", what, f8_threads[k],
				where, f8_stat_name[j]);

			set_base(r, s[0].v[j], base_name);
			r->lower = s[k].low[j];
		}
}

/* what a case measured: samples, the threads' persist rate, any cut */
static void
f8_note(const char *what, const struct f8_stat *s, const double *rate,
	const int *rc, int count)
{
	char cut[96] = "";
	size_t l = 0;

	for (int k = 0; k < F8_NCONF; k++)
		if (rc[k] && l < sizeof(cut))
			l += (size_t)snprintf(cut + l, sizeof(cut) - l, " N=%d%s",
				f8_threads[k], rc[k] == 3 ? " (not ready in time)" : "");
	add_note("figure %s: samples for N=0/1/4: %d/%d/%d of %d; "
		"ppersist calls/s per thread for N=1/4: %.0f/%.0f; killed at the "
		"%d s cap:%s", what, s[0].n, s[1].n, s[2].n, count, rate[1], rate[2],
		F8_CAP_S, l ? cut : " none");
}

static void
fig8(void)
{
	int count = o.reps * o.samples8, rc[3][F8_NCONF];
	struct f8_stat st[3][F8_NCONF];
	double rate[3][F8_NCONF];
	struct f8_shared *sh;

	if (count > F8_SAMPLES_MAX)
		count = F8_SAMPLES_MAX;
	progress("figure 8: pbrk and fork latency while 0, 1, 4 threads "
		"ppersist (%d samples each, %d s cap)", count, F8_CAP_S);
	/* the watchdog: every configuration may use all its caps */
	alarm((unsigned)(3 * F8_NCONF * (3 * F8_CAP_S + F8_BUDGET_S) + 60));
	sh = shared_alloc(sizeof(*sh));
	for (int c = 0; c < 3; c++)
		for (int k = 0; k < F8_NCONF; k++) {
			rc[c][k] = f8_run(f8_threads[k], c, sh, count);
			if (c == 1)
				f8_stats(sh->fork, sh->nf, sh->cens_f, &st[c][k]);
			else
				f8_stats(sh->pair, sh->np, sh->cens_p, &st[c][k]);
			rate[c][k] = sh->persist_ns && f8_threads[k] ?
				(double)sh->persists * 1e9 / (double)sh->persist_ns /
				f8_threads[k] : 0;
		}
	munmap(sh, sizeof(*sh));
	f8_add_rows("8", "pbrk grow+shrink pair", "", "no ppersist thread (N=0)",
		st[0]);
	f8_add_rows("8a", "  fork+waitpid", "", "no ppersist thread (N=0)", st[1]);
	f8_add_rows("8b", "pbrk pair in B", " in A",
		"no ppersist thread in A (N=0)", st[2]);
	f8_note("8, pbrk in A", st[0], rate[0], rc[0], count);
	f8_note("8a, fork in A", st[1], rate[1], rc[1], count);
	f8_note("8b, pbrk in B attached by itself", st[2], rate[2], rc[2], count);
}

const struct figure fig8_persist = {
	.num = 8, .name = "persist", .run = fig8,
	.desc = "pbrk pair and fork latency (ms) while N threads ppersist vs N = 0",
};
