/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheap-list.c -- a persistent linked list kept across runs.
 *
 * Each run attaches the pheap "example-list" (creating it the first time),
 * appends one node and prints the list.  Nodes point at each other with
 * plain C pointers: the pheap is mapped at the same base address in every
 * process, so pointers stored in it stay valid from run to run.
 *
 *   cc pheap-list.c $(pkg-config --cflags --libs libpheap-pmem)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pheap.h>

#define ID "example-list"
#define MAGIC 0x7473696c70616568ULL	/* "heaplist" */

struct node {
	struct node *next;
	unsigned long run;
	char when[32];
};

struct root {			/* at the base of the pheap */
	uint64_t magic;
	unsigned long runs;
	struct node *head, *tail;
	char *free;		/* bump allocator: next free byte */
};

static void
die(const char *what, long err)
{
	fprintf(stderr, "pheap-list: %s: %s (%s)\n", what, strerror((int)-err),
		pheap_errormsg());
	exit(1);
}

/* allocates from the heap, growing it with pbrk when needed */
static void *
palloc(struct root *r, size_t size)
{
	long brk = pbrk(0);
	char *p = r->free;

	if ((long)(p + size) > brk) {
		long nb = pbrk((unsigned long)(p + size));
		if (nb < 0)
			die("pbrk", nb);
	}
	r->free = p + size;
	return p;
}

int
main(void)
{
	int ret = pattach(ID, strlen(ID), PHEAP_ATTACH);

	if (ret == -EINVAL)	/* not there yet */
		ret = pattach(ID, strlen(ID), PHEAP_CREATE);
	if (ret)
		die("pattach", ret);

	struct root *r = pheap_base();
	if (pbrk(0) == (long)r) {	/* new, empty pheap */
		long nb = pbrk((unsigned long)r + 1);
		if (nb < 0)
			die("pbrk", nb);
	}
	if (r->magic != MAGIC) {	/* fresh memory reads as zero */
		r->free = (char *)(r + 1);
		r->magic = MAGIC;
	}

	struct node *n = palloc(r, sizeof(*n));
	time_t now = time(NULL);

	n->next = NULL;
	n->run = ++r->runs;
	strftime(n->when, sizeof(n->when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (r->tail)
		r->tail->next = n;
	else
		r->head = n;
	r->tail = n;

	long brk = pbrk(0);
	ret = ppersist(r, (size_t)(brk - (long)r));
	if (ret)
		die("ppersist", ret);

	printf("pheap %s at %p, break %#lx: %lu run(s)\n", ID, (void *)r,
		(unsigned long)brk, r->runs);
	for (struct node *p = r->head; p; p = p->next)
		printf("  run %lu at %s (node %p)\n", p->run, p->when, (void *)p);
	ret = pdetach();
	if (ret)
		die("pdetach", ret);
	return 0;
}
