/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheap-format -- prepare device-dax devices for pheaps: another name of
 * `pheapctl format`, the same code (tools/pheapctl/device.c, linked in).
 *
 *   pheap-format [--force] /dev/daxX.Y...
 */
#include "pheapctl/pheapctl.h"

int
main(int argc, char **argv)
{
	ctl_cmd = "format";
	return cmd_format(argc, argv);
}
