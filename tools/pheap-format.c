/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheap-format -- prepare device-dax devices for pheaps.
 *
 *   pheap-format [--force] /dev/daxX.Y...
 */
#include <stdio.h>
#include <string.h>

#include <pheap.h>

int
main(int argc, char **argv)
{
	unsigned long flags = 0;
	int i = 1, failed = 0;

	if (argc > 1 && strcmp(argv[1], "--force") == 0) {
		flags = PHEAP_FORMAT_FORCE;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: pheap-format [--force] /dev/daxX.Y...\n");
		return 2;
	}
	for (; i < argc; i++) {
		int ret = pheap_format_device(argv[i], flags);

		if (ret) {
			fprintf(stderr, "pheap-format: %s: %s\n", argv[i],
				pheap_errormsg());
			failed = 1;
		} else {
			printf("%s: formatted for pheaps\n", argv[i]);
		}
	}
	return failed;
}
