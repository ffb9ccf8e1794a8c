/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * destroy.h -- the end of a pheap: pheap_destroy() marks it destroyed at
 * once, its storage goes when no process is attached any more (destroy.c
 * says who frees it, and why a crash never loses or half-frees one).
 */
#ifndef PHEAP_DESTROY_H
#define PHEAP_DESTROY_H

#include <sys/stat.h>

#include "dev.h"

/* the hidden name a destroyed pheap's file takes in its directory */
#define DESTROYED_PREFIX ".destroyed-"

/* 1 if a process holds an epoch lock on the pheap open on d: attached */
PHEAP_HIDDEN int destroy_attached(const struct dev *d);
/* 1 if the pheap is destroyed: its header says so, or its file bears a
 * destroyed name (a destroyer that crashed before writing the header) */
PHEAP_HIDDEN int destroy_is(const struct hdr_found *f, const char *name);

/*
 * Frees a destroyed pheap nobody is attached to, if it is the caller's
 * (the owner's, or root's), and is quiet otherwise: 1 freed, 0 not (still
 * attached, or not the caller's, or not destroyed), -errno on failure.
 */
/* the file dir/name (dfd open on dir): a destroyed name, or a destroyed
 * header still under its pheap's name (hidden first) */
PHEAP_HIDDEN int destroy_reap_file(int dfd, const char *dir, const char *name);
/* the device at path: it gets a free header */
PHEAP_HIDDEN int destroy_reap_dev(const char *path);
/* the destroyed pheap whose file or device was sb (its path was path when
 * it was opened): after the last detach */
PHEAP_HIDDEN void destroy_reap_gone(const char *path, const struct stat *sb);

#endif
