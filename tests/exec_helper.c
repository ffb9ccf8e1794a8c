/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * exec_helper.c -- run by test_fork after exec: exit 0 when the pheap is
 * (argv[1] == "attached") or is not ("detached") mapped as expected.
 */
#include <stdio.h>
#include <string.h>

#include "pheap.h"

int
main(int argc, char **argv)
{
	char *base = pheap_base();

	if (argc < 2)
		return 2;
	if (strcmp(argv[1], "detached") == 0)
		return base == NULL ? 0 : 1;
	if (!base) {
		fprintf(stderr, "exec_helper: not attached: %s\n", pheap_errormsg());
		return 1;
	}
	if (strcmp(base, "before exec") != 0)
		return 3;
	if (strcmp(argv[1], "readonly") == 0) {
		struct pheap_info info;

		if (pheap_info(&info) || !info.rdonly)
			return 5;
		return pdetach() == 0 ? 0 : 4;
	}
	strcpy(base, "after exec");
	return pdetach() == 0 ? 0 : 4;
}
