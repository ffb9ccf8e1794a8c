/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * figures.c -- the figures pheap-bench runs, in this order.  Each is a
 * struct figure defined in its own file; adding one is its name here, in
 * the declaration and in the table, and its file in bench/Makefile.inc.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stddef.h>

#include "harness.h"

extern const struct figure fig1_attach, fig2_grow, fig3_pair, fig4_faults,
	fig5_touch, fig6_concurrent, fig7_random, fig8_persist, fig9_ppersist;

const struct figure *const figures[] = {
	&fig1_attach,
	&fig2_grow,
	&fig3_pair,
	&fig4_faults,
	&fig5_touch,
	&fig6_concurrent,
	&fig7_random,
	&fig8_persist,
	&fig9_ppersist,
	NULL
};
