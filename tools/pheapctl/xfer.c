/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xfer.c -- the arguments of export and import: --archive, --offset O,
 * --length L (export), --pool P, --help, and up to two positional
 * arguments in any order with the options.  A lone '-' is a positional
 * argument (the standard input or output), not an option.
 */
#include <string.h>

#include "xfer.h"

/* --offset or --length with its value at argv[*i + 1]: 0 or EXIT_USAGE */
static int
value_opt(int argc, char **argv, int *i, struct xfer *x)
{
	const char *opt = argv[*i];
	int off = strcmp(opt, "--offset") == 0;
	unsigned long long *v = off ? &x->offset : &x->length;

	if (*i + 1 >= argc)
		return ctl_usage("'%s' needs a value", opt);
	++*i;
	if (ctl_parse_size(argv[*i], v))
		return ctl_usage("%s %s: not a number of bytes", opt, argv[*i]);
	if (off)
		x->has_offset = 1;
	else
		x->has_length = 1;
	return 0;
}

int
xfer_parse(int argc, char **argv, const char *syn, const char *help,
	int with_length, struct xfer *x)
{
	memset(x, 0, sizeof(*x));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int p = ctl_pool_opt(argc, argv, &i), ret;

		if (p < 0)
			return ctl_usage("--pool needs a value");
		if (p)
			continue;
		if (ctl_is_help(a))
			return ctl_help(syn, help) - EXIT_OK - 1;
		if (strcmp(a, "--archive") == 0) {
			x->archive = 1;
		} else if (strcmp(a, "--offset") == 0 || (with_length &&
				strcmp(a, "--length") == 0)) {
			if ((ret = value_opt(argc, argv, &i, x)) != 0)
				return ret;
		} else if (a[0] == '-' && a[1]) {
			return ctl_usage("unknown option '%s'", a);
		} else if (x->npos == 2) {
			return ctl_usage("too many arguments");
		} else {
			x->pos[x->npos++] = a;
		}
	}
	if (x->archive && (x->has_offset || x->has_length))
		return ctl_usage("--archive is the whole heap: no --offset or "
			"--length");
	return 0;
}

int
xfer_id(const char *arg, char id[PHEAP_ID_LEN_LIMIT], size_t *len)
{
	if (ctl_parse_id(arg, id, len))
		return ctl_usage("'%s' is not an id (1 to %d bytes; \\\\ and "
			"\\xHH for others)", arg, PHEAP_ID_LEN_LIMIT);
	return 0;
}
