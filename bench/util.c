/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c -- the small helpers pheap-bench's figures share: statistics,
 * allocation, labels, progress lines, populating a mapping, pipe I/O, child
 * processes, and the bench's own pbrk/pattach wrappers that die on error.
 * Nothing here is measured by itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

volatile uint64_t sink;

/* ---- statistics ---- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* v is sorted in place */
double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* the p-th percentile, nearest rank; v is sorted in place */
double
percentile(double *v, int n, double p)
{
	int k;

	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	k = (int)(p / 100.0 * n + 0.999999) - 1;
	if (k < 0)
		k = 0;
	if (k >= n)
		k = n - 1;
	return v[k];
}

/* ---- memory ---- */

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (!p)
		die("out of memory");
	return p;
}

/* n samples, zeroed: one per repetition, say */
double *
samples_alloc(int n)
{
	return xcalloc((size_t)n, sizeof(double));
}

/* zeroed memory that forked processes share with the bench */
void *
shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		SYS_FAIL("mmap results");
	return p;
}

/* ---- text ---- */

/* 1 GiB, 8 MiB, 3 KiB... for labels */
const char *
human(uint64_t b, char *buf, size_t len)
{
	if (b >= GiB && b % GiB == 0)
		snprintf(buf, len, "%" PRIu64 " GiB", b / GiB);
	else if (b >= MiB && b % MiB == 0)
		snprintf(buf, len, "%" PRIu64 " MiB", b / MiB);
	else if (b >= KiB && b % KiB == 0)
		snprintf(buf, len, "%" PRIu64 " KiB", b / KiB);
	else
		snprintf(buf, len, "%" PRIu64 " B", b);
	return buf;
}

void
progress(const char *fmt, ...)
{
	va_list ap;

	fputs("pheap-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* MADV_POPULATE_*, or one touch per page where the kernel lacks it */
void
populate(void *p, uint64_t len, int write)
{
	if (madvise(p, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ)) {
		if (errno != EINVAL)
			SYS_FAIL("madvise(MADV_POPULATE)");
		for (uint64_t off = 0; off < len; off += SWEEP) {
			if (write)
				((volatile char *)p)[off] = ((volatile char *)p)[off];
			else
				(void)((volatile char *)p)[off];
		}
	}
}

/* ---- pipes and processes ---- */

void
write_all(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			SYS_FAIL("write to pipe");
		b += n;
		len -= (size_t)n;
	}
}

/* 1 if len bytes were read, 0 at end of file */
int
read_all(int fd, void *buf, size_t len)
{
	char *b = buf;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			SYS_FAIL("read from pipe");
		if (n == 0)
			return 0;
		b += n;
		len -= (size_t)n;
	}
	return 1;
}

void
wait_ok(pid_t pid, const char *who)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			SYS_FAIL("waitpid");
	if (WIFSIGNALED(status))
		die("%s (pid %d) was killed by signal %d (%s)", who, (int)pid,
			WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (WEXITSTATUS(status))
		die("%s (pid %d) failed with exit status %d", who, (int)pid,
			WEXITSTATUS(status));
}

/* first thing in a forked process: die() exits it alone, and a watchdog
 * ends it should a pbrk hang or the bench die */
void
child_start(void)
{
	in_child = 1;
	alarm(o.quick ? 60 : 900);
}

/* ---- the pheap ---- */

void
heap_attach(void)
{
	int ret = pattach(heap_id, strlen(heap_id), PHEAP_ATTACH);

	if (ret)
		API_FAIL("pattach(PHEAP_ATTACH)", ret);
	attached = 1;
}

void
heap_detach(void)
{
	int ret = pdetach();

	attached = 0;
	if (ret)
		API_FAIL("pdetach", ret);
}

/* sets the break to base + len */
void
heap_set(uint64_t len)
{
	long r = pbrk(heap_base + len);

	if (r < 0)
		API_FAIL("pbrk", r);
	if ((uint64_t)r != heap_base + len)
		die("pbrk(%#" PRIxPTR " + %#" PRIx64 ") returned %#lx", heap_base,
			len, (unsigned long)r);
}

/* the break */
long
brk_query(void)
{
	long q = pbrk(0);

	if (q < 0)
		API_FAIL("pbrk(query)", q);
	return q;
}

uint64_t
heap_len(void)
{
	return (uint64_t)brk_query() - heap_base;
}

/* a pbrk grow of 2 MiB above the break q, then the shrink back to q */
void
brk_pair(long q)
{
	long r = pbrk((unsigned long)q + STEP);

	if (r < 0)
		API_FAIL("pbrk(grow)", r);
	r = pbrk((unsigned long)q);
	if (r < 0)
		API_FAIL("pbrk(shrink)", r);
}
