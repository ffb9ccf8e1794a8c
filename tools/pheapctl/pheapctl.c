/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheapctl -- manage the pheaps of a pool, as ipcs(1), ipcrm(1) and
 * lsipc(1) manage SysV shared memory, and pmempool(1) and daxctl(1) pmem
 * pools.  See pheapctl(1).
 *
 *   pheapctl [--pool P] SUBCOMMAND [ARG...]
 *
 * A thin client of the installed library: every subcommand is calls of the
 * public API (pheap.h), so it is safe while processes are attached exactly
 * as those calls are -- the library takes the break lock around every
 * header change, and destroying is the library's (pheap_destroy()).  The
 * listing comes from pheap_pool_list() (why a public call: pool_list.c).
 * Only the attached processes' ids come from /proc here (procs.c), from
 * the locks that libpheap-pmem(7) documents.
 */
#include <stdlib.h>
#include <string.h>

#include "pheapctl.h"

static const struct subcommand table[] = {
	{ "list", cmd_list,
		"one row per pheap of the pool" },
	{ "info", cmd_info,
		"everything about one pheap" },
	{ "create", cmd_create,
		"a new pheap" },
	{ "destroy", cmd_destroy,
		"destroy a pheap (freed once nobody is attached)" },
	{ "chmod", cmd_chmod, "change a pheap's permissions" },
	{ "chown", cmd_chown,
		"give a pheap to another owner (root)" },
	{ "resize", cmd_resize,
		"set a pheap's size, in every attached process" },
	{ "format", cmd_format,
		"prepare device-DAX devices for pheaps" },
	{ "unformat", cmd_unformat,
		"take device-DAX devices out of the pool" },
	{ "check", cmd_check,
		"validate the pool's entries, and repair them" },
	{ "export", cmd_export,
		"a heap's bytes, or an archive of the pheap, to a file" },
	{ "import", cmd_import,
		"a file's bytes into a heap, or an archive made a pheap" },
	{ NULL, NULL, NULL }
};

static int
usage(FILE *f)
{
	fprintf(f, "usage: pheapctl [--pool P] SUBCOMMAND [ARG...]\n\n");
	for (const struct subcommand *c = table; c->name; c++)
		fprintf(f, "  %-9s %s\n", c->name, c->summary);
	fprintf(f, "\n'pheapctl SUBCOMMAND --help' tells more; see "
		"pheapctl(1).\n");
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

int
main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && strcmp(argv[i], "--pool") == 0) {
		if (i + 1 >= argc || setenv("PHEAP_POOL", argv[i + 1], 1)) {
			fprintf(stderr, "pheapctl: --pool needs a value\n");
			return EXIT_USAGE;
		}
		i += 2;
	}
	if (i >= argc)
		return usage(stderr);
	if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
		return usage(stdout);
	for (const struct subcommand *c = table; c->name; c++)
		if (strcmp(argv[i], c->name) == 0) {
			ctl_cmd = c->name;
			return c->run(argc - i, argv + i);
		}
	fprintf(stderr, "pheapctl: unknown subcommand '%s'\n", argv[i]);
	return usage(stderr);
}
