/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_reboot.c -- durability across a reboot: "write" formats the device
 * (or uses the directory) in PHEAP_POOL, creates a pheap, writes and
 * ppersists a pattern and exits without pdetach; "verify", after the
 * machine restarted, finds break and pattern intact.  make check-vm runs
 * the two halves in two boots of a guest with an emulated NVDIMM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pheap.h"

#define BASE ((char *)0x2a0002000000UL)
#define PG PHEAP_PAGE_SIZE
#define PAGES 8

static int
fail(const char *what)
{
	printf("reboot: %s: %s\n", what, pheap_errormsg());
	printf("reboot: 0 passed, 1 failed\n");
	return 1;
}

int
main(int argc, char **argv)
{
	const char *pool = getenv("PHEAP_POOL");
	struct stat sb;

	if (argc != 2 || !pool)
		return 2;
	if (strcmp(argv[1], "write") == 0) {
		if (stat(pool, &sb) == 0 && S_ISCHR(sb.st_mode) &&
				pheap_format_device(pool, PHEAP_FORMAT_FORCE))
			return fail("format");
		if (pattach("reboot", 6, PHEAP_CREATE))
			return fail("create");
		if (pbrk((unsigned long)BASE + PAGES * PG) != (long)(BASE + PAGES * PG))
			return fail("pbrk");
		for (size_t o = 0; o < PAGES * PG; o += 4096)
			BASE[o] = (char)(o / 4096 * 13 + 1);
		if (ppersist(BASE, PAGES * PG))
			return fail("ppersist");
		printf("reboot: pattern written, exiting without pdetach\n");
		return 0;
	}
	if (pattach("reboot", 6, PHEAP_ATTACH))
		return fail("attach after reboot");
	if (pbrk(0) != (long)(BASE + PAGES * PG))
		return fail("break after reboot");
	for (size_t o = 0; o < PAGES * PG; o += 4096)
		if (BASE[o] != (char)(o / 4096 * 13 + 1))
			return fail("pattern after reboot");
	struct pheap_info info;
	const char *kind = getenv("PHEAP_VM_KIND");
	int want = !kind ? 0 : strcmp(kind, "devdax") == 0 ?
		PHEAP_BACKEND_DEVDAX : PHEAP_BACKEND_FSDAX;

	if (pheap_info(&info) || (kind && info.backend != want))
		return fail("backend after reboot");
	printf("reboot: backend %d, break and pattern intact\n", info.backend);
	printf("reboot: 1 passed, 0 failed\n");
	return pdetach() ? 1 : 0;
}
