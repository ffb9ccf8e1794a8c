/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * xfer.h -- what export and import share: their arguments (xfer.c) and
 * the FILE side of the transfer (datafile.c); import --archive.
 */
#ifndef PHEAPCTL_XFER_H
#define PHEAPCTL_XFER_H

#include <sys/types.h>

#include "pheapctl.h"

/* heap bytes moved per call of pheap_pread/pheap_pwrite */
#define XFER_BUF (1U << 20)

/* the arguments of export and import */
struct xfer {
	int archive;			/* --archive */
	int has_offset, has_length;
	unsigned long long offset;	/* --offset O */
	unsigned long long length;	/* --length L (export) */
	const char *pos[2];		/* positional: ID FILE, FILE ID */
	int npos;
};

/* parses argv; --length only if with_length.  -1 after --help, 0, or
 * EXIT_USAGE (the positional arguments are counted by the caller) */
int xfer_parse(int argc, char **argv, const char *syn, const char *help,
	int with_length, struct xfer *x);

/* the id argument, or EXIT_USAGE */
int xfer_id(const char *arg, char id[PHEAP_ID_LEN_LIMIT], size_t *len);

/* import --archive FILE [ID] (import_archive.c): the exit status */
int import_archive(const struct xfer *x);

/* ---- datafile.c: FILE, '-' the standard input or output ---- */

/* FILE for writing: created with mode (less the umask) or truncated;
 * 0 or EXIT_FAIL (said) */
int data_out_open(const char *file, unsigned long mode, int *fd);
/* the export is complete: made durable (a regular file) and closed; 0 or
 * EXIT_FAIL (said) */
int data_out_close(const char *file, int fd);
/* the export failed: closed, and a regular FILE removed */
void data_out_abort(const char *file, int fd);

/* FILE for reading, and its size; one that is not a regular file (a
 * pipe, the standard input) is first copied to an unlinked temporary
 * file, at most limit bytes (more: *size is limit + 1).  0 or EXIT_FAIL */
int data_in_open(const char *file, unsigned long long limit, int *fd,
	unsigned long long *size);

/* n bytes, fewer only at the end of the file; -1 (errno) on error */
ssize_t data_read(int fd, void *buf, size_t n);
/* all n bytes; 0, or -1 (errno) */
int data_write(int fd, const void *buf, size_t n);

#endif
