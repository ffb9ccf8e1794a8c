/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * secure_helper.c -- run by test_attach as a setuid-root copy, by an
 * unprivileged user whose environment names its own pool and pheap
 * (AT_SECURE is set): the library must ignore PHEAP_EXEC_ATTACH,
 * PHEAP_POOL, PHEAP_BASE, XDG_DATA_HOME and HOME, as glibc ignores its own
 * variables.  Linked with the library's objects statically (a setuid
 * program finds no uninstalled shared library).  Exit 0 if all is well.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "pheap.h"

int
main(int argc, char **argv)
{
	struct stat sb;
	char xdg_pool[512];

	if (argc != 2 || !getauxval(AT_SECURE))
		return 10;	/* not what the test meant to run */
	if (pheap_base() != NULL)
		return 11;	/* attached by PHEAP_EXEC_ATTACH at load */
	if (pattach(argv[1], strlen(argv[1]), PHEAP_ATTACH) != -EINVAL)
		return 12;	/* found through PHEAP_POOL */
	snprintf(xdg_pool, sizeof(xdg_pool), "%s/pheap",
		getenv("XDG_DATA_HOME") ? getenv("XDG_DATA_HOME") : "/");
	if (stat(xdg_pool, &sb) == 0)
		return 13;	/* made the directory XDG_DATA_HOME names */
	return 0;
}
