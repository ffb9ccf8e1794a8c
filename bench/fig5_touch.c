/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig5_touch.c -- figure 5: how long process B's first touch of memory
 * that process A just grew takes, from A's CLOCK_MONOTONIC stamp right
 * after pbrk returns, through a pipe, to B's one-byte write done (us,
 * median and p99), against the same handshake where B writes memory it
 * wrote before.  5a: B's write alone.  5b: minor faults per touch in B.
 * B is forked, so attached by inheritance; the two kinds alternate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define TOUCH_MAX 4096		/* samples per kind */

struct touch_msg {
	uint64_t addr;		/* 0: stop */
	uint64_t t_ns;		/* CLOCK_MONOTONIC when A sent it */
	uint32_t kind;		/* 0 grown memory, 1 old memory */
	uint32_t pad;
};

struct touch_res {
	double lat[2][TOUCH_MAX];	/* A's timestamp to B's touch done */
	double tch[2][TOUCH_MAX];	/* the touch alone */
	long faults[2];
	int n[2];
};

/* process B as A sees it */
struct proc_b {
	pid_t pid;
	int to_b, to_a;		/* A's ends of the two pipes */
};

static const char *b_touching;	/* what B is touching, for its fault handler */

static char *
put_mem(char *b, const char *s, size_t len)
{
	memcpy(b, s, len);
	return b + len;
}

static char *
put_hex(char *b, uint64_t v)
{
	*b++ = '0';
	*b++ = 'x';
	for (int sh = 60; sh >= 0; sh -= 4)
		*b++ = "0123456789abcdef"[(v >> sh) & 15];
	return b;
}

/* SIGSEGV/SIGBUS in B: say what it means, async-signal-safely */
static void
b_fault(int sig, siginfo_t *si, void *uc)
{
	static const char m1[] = "pheap-bench: process B: ";
	static const char m2[] = " at ";
	static const char m3[] = " touching ";
	char buf[256], *b = buf;

	(void)uc;
	b = put_mem(b, m1, sizeof(m1) - 1);
	b = put_mem(b, sig == SIGBUS ? "SIGBUS" : "SIGSEGV", sig == SIGBUS ? 6 : 7);
	b = put_mem(b, m2, sizeof(m2) - 1);
	b = put_hex(b, (uint64_t)(uintptr_t)si->si_addr);
	b = put_mem(b, m3, sizeof(m3) - 1);
	if (b_touching) {
		size_t l = strlen(b_touching);

		b = put_mem(b, b_touching, l > 120 ? 120 : l);
	}
	*b++ = '\n';
	if (write(2, buf, (size_t)(b - buf)) < 0) {
		/* nothing to do */
	}
	_exit(3);
}

/* process B: touches what A names, one message at a time, until told to stop */
static void
touch_child(int rfd, int wfd, struct touch_res *res)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = b_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	struct touch_msg msg;
	struct pheap_info info;
	char ack = 'k';
	int ret;

	child_start();
	/* attached by inheritance: the library gave us our own sync thread */
	ret = pheap_info(&info);
	if (ret)
		API_FAIL("pheap_info in process B", ret);
	b_touching = "the heap's base";
	((volatile char *)info.base)[0] = 1;	/* "old memory", written before */
	write_all(wfd, &ack, 1);
	while (read_all(rfd, &msg, sizeof(msg)) && msg.addr) {
		uint64_t tw = now_ns();
		long f0 = minflt_thread();

		b_touching = msg.kind ? "memory mapped before" : "memory A's pbrk "
			"just grew (pbrk returned before B's mapping followed)";

		((volatile char *)(uintptr_t)msg.addr)[0] = 1;
		uint64_t t = now_ns();
		long f1 = minflt_thread();
		int k = msg.kind & 1;

		if (res->n[k] < TOUCH_MAX) {
			res->tch[k][res->n[k]] = (double)(t - tw) / 1e3;
			res->lat[k][res->n[k]++] = (double)(t - msg.t_ns) / 1e3;
		}
		res->faults[k] += f1 - f0;
		write_all(wfd, &ack, 1);
	}
	ret = pdetach();
	if (ret)
		API_FAIL("pdetach in process B", ret);
	_exit(0);
}

/* forks B, which says when it is ready */
static void
start_b(struct proc_b *b, struct touch_res *res)
{
	int to_b[2], to_a[2];

	if (pipe2(to_b, O_CLOEXEC) || pipe2(to_a, O_CLOEXEC))
		SYS_FAIL("pipe");
	fflush(NULL);
	b->pid = fork();
	if (b->pid < 0)
		SYS_FAIL("fork");
	if (b->pid == 0) {
		close(to_b[1]);
		close(to_a[0]);
		touch_child(to_b[0], to_a[1], res);
	}
	close(to_b[0]);
	close(to_a[1]);
	b->to_b = to_b[1];
	b->to_a = to_a[0];
}

static void
b_died(struct proc_b *b) __attribute__((noreturn));

static void
b_died(struct proc_b *b)
{
	close(b->to_b);
	wait_ok(b->pid, "process B");
	die("process B exited early");
}

/* 2n touches, the kinds alternating; the break is cur between them */
static void
send_touches(struct proc_b *b, int n, uint64_t cur)
{
	struct timespec gap = { 0, 300000 };	/* let B block in read() */
	char ack;

	for (int i = 0; i < 2 * n; i++) {
		/* alternate the two kinds so that drift hits both alike */
		struct touch_msg msg = { 0, 0, (uint32_t)(i & 1), 0 };

		nanosleep(&gap, NULL);
		if (msg.kind == 0) {
			long nb = pbrk(heap_base + cur + STEP);

			if (nb < 0)
				API_FAIL("pbrk(grow)", nb);
			msg.t_ns = now_ns();
			msg.addr = (uint64_t)nb - STEP;	/* first byte of the new range */
		} else {
			msg.t_ns = now_ns();
			msg.addr = heap_base;
		}
		write_all(b->to_b, &msg, sizeof(msg));
		if (!read_all(b->to_a, &ack, 1))
			b_died(b);
		if (msg.kind == 0)
			heap_set(cur);
	}
}

static void
fig5_rows(struct touch_res *res)
{
	double med[2], p99[2], tmed[2], tp99[2];
	struct row *r;

	for (int k = 0; k < 2; k++) {
		if (res->n[k] == 0)
			die("process B recorded no samples");
		med[k] = median(res->lat[k], res->n[k]);
		p99[k] = percentile(res->lat[k], res->n[k], 99);
		tmed[k] = median(res->tch[k], res->n[k]);
		tp99[k] = percentile(res->tch[k], res->n[k], 99);
	}
	r = add_row("5", "us", 1, med[0], "B's first touch of memory A just grew, median");
	set_base(r, med[1], "same handshake, memory already mapped");
	set_goal(r, G_VALUE_LE, 50, "<= 50 us");
	r = add_row("5", "us", 1, p99[0], "B's first touch of memory A just grew, p99");
	set_base(r, p99[1], "same handshake, memory already mapped");
	r = add_row("5a", "us", 1, tmed[0], "  of which the touch itself, median");
	set_base(r, tmed[1], "touch of memory B wrote before");
	r = add_row("5a", "us", 1, tp99[0], "  of which the touch itself, p99");
	set_base(r, tp99[1], "touch of memory B wrote before");
	r = add_row("5b", "faults", 2, (double)res->faults[0] / res->n[0],
		"  minor faults per first touch in B");
	set_base(r, (double)res->faults[1] / res->n[1], "touch of memory B wrote before");
}

static void
fig5(void)
{
	int N = o.lat_samples;
	struct touch_res *res;
	struct touch_msg stop = { 0, 0, 0, 0 };
	struct proc_b b;
	uint64_t cur;
	char ack;

	progress("figure 5: process B's first touch of memory A grew (%d samples)", N);
	if (N > TOUCH_MAX)
		N = TOUCH_MAX;
	res = shared_alloc(sizeof(*res));
	memset(res, 0, sizeof(*res));
	heap_attach();
	cur = heap_len();
	if (cur == 0) {
		heap_set(STEP);
		cur = STEP;
	}
	start_b(&b, res);
	if (!read_all(b.to_a, &ack, 1))
		b_died(&b);
	send_touches(&b, N, cur);
	write_all(b.to_b, &stop, sizeof(stop));
	close(b.to_b);
	close(b.to_a);
	wait_ok(b.pid, "process B");
	heap_detach();
	fig5_rows(res);
	munmap(res, sizeof(*res));
}

const struct figure fig5_touch = {
	.num = 5, .name = "touch", .run = fig5,
	.desc = "process B's first touch of memory A just grew (us) vs old memory",
};
