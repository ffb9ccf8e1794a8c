/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * format.h -- free headers on standalone backings (format.c): what
 * pheap_format_device() writes, and what a destroyed device gets back
 * once nobody is attached (destroy.c).
 */
#ifndef PHEAP_FORMAT_H
#define PHEAP_FORMAT_H

#include "dev.h"

/* writes a free header (no pheap) over f, what hdr_load found on the
 * read-write d, with the break lock held: a sequence number newer than
 * f's, so it wins over either copy */
PHEAP_HIDDEN int format_free(struct dev *d, const struct hdr_found *f);

#endif
