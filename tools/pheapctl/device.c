/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device.c -- pheapctl format and unformat: a device-DAX device enters
 * the pool (pheap_format_device(3) writes it a free header) or leaves it
 * (PHEAP_FORMAT_CLEAR).  pheap-format(1) is the same as format.
 */
#include <string.h>

#include "pheapctl.h"

static int
run(int argc, char **argv, unsigned long flags, const char *help)
{
	int force = 0, n = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		if (ctl_is_help(argv[i]))
			return ctl_help("[--force] DEVICE...", help);
		if (!strcmp(argv[i], "--force"))
			force = 1;
		else if (argv[i][0] == '-')
			return ctl_usage("unknown option '%s'", argv[i]);
		else
			n++;
	}
	if (!n)
		return ctl_usage("a device is needed (/dev/daxX.Y)");
	if (force)
		flags |= PHEAP_FORMAT_FORCE;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		if (pheap_format_device(argv[i], flags))
			failed = ctl_fail(argv[i], pheap_errormsg());
	}
	return failed;
}

int
cmd_format(int argc, char **argv)
{
	return run(argc, argv, 0,
		"Writes a free pheap header to each device: it joins the pool\n"
		"(a PHEAP_CREATE may claim it).  One that is formatted and free\n"
		"already is left as it is.\n\n"
		"  --force  even over a pheap or a damaged header (destroys it)\n");
}

int
cmd_unformat(int argc, char **argv)
{
	return run(argc, argv, PHEAP_FORMAT_CLEAR,
		"Removes the header of each device: it leaves the pool, and is\n"
		"written by nobody.  A device that was never formatted is left\n"
		"as it is.\n\n"
		"  --force  even one holding a pheap, if nobody is attached\n");
}
