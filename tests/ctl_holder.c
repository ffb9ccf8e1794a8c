/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_holder.c -- run by tests/test_pheapctl.sh: a process attached to a
 * pheap while pheapctl works on it.
 *
 *   ctl_holder ID [ro]
 *
 * Attaches (read-only with "ro"), writes "attached BREAK" on stdout, then
 * reads commands on stdin, one per line: "size" prints the break as this
 * process sees it (pbrk(0)) minus the base; "touch" writes the last byte
 * of the heap; "peek OFF" prints the 16 bytes at heap offset OFF (C syntax:
 * 0x for hexadecimal) in hexadecimal, as this process reads them through its
 * mapping, or "range" if they are not below the break; "detach" detaches
 * and answers "detached".  At end of input
 * it exits (detaching if still attached).  Exit 0, or 1 with the library's
 * message on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pheap.h"

/* "peek OFF": the 16 bytes there, in hexadecimal */
static void
peek(const char *arg, long brk)
{
	const volatile unsigned char *p;
	unsigned long off = strtoul(arg, NULL, 0);
	unsigned long size = pheap_base() ? (unsigned long)(brk -
		(long)pheap_base()) : 0;

	if (size < 16 || off > size - 16) {
		printf("range\n");
		return;
	}
	p = (const volatile unsigned char *)pheap_base() + off;
	for (int i = 0; i < 16; i++)
		printf("%02x", p[i]);
	printf("\n");
}

static int
fail(const char *what)
{
	fprintf(stderr, "ctl_holder: %s: %s\n", what, pheap_errormsg());
	return 1;
}

int
main(int argc, char **argv)
{
	char line[64];
	unsigned long flag = PHEAP_ATTACH;

	if (argc < 2)
		return 2;
	if (argc > 2 && strcmp(argv[2], "ro") == 0)
		flag |= PHEAP_RDONLY;
	if (pattach(argv[1], strlen(argv[1]), flag))
		return fail("pattach");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("attached %ld\n", pbrk(0) - (long)pheap_base());
	while (fgets(line, sizeof(line), stdin)) {
		long brk = pbrk(0);

		if (strncmp(line, "size", 4) == 0) {
			printf("%ld\n", brk - (long)pheap_base());
		} else if (strncmp(line, "touch", 5) == 0 && brk > (long)pheap_base()) {
			((volatile char *)brk)[-1] = 1;
			printf("touched\n");
		} else if (strncmp(line, "peek ", 5) == 0) {
			peek(line + 5, brk);
		} else if (strncmp(line, "detach", 6) == 0) {
			if (pdetach())
				return fail("pdetach");
			printf("detached\n");
		}
	}
	if (pheap_base())
		pdetach();
	return 0;
}
