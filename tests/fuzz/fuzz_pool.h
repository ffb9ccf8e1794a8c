/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_pool.h -- the input format of fuzz_pool, shared with the corpus
 * generator.
 *
 * An input is one control byte, then up to POOL_FUZZ_MAX_FILES records,
 * each planting one entry in a fresh pool directory:
 *
 *   byte 0      name and kind (FZ_NAME_*, FZ_KIND_*, FZ_STAMP_ID, FZ_RAW)
 *   byte 1      file size (FZ_SIZE_*, and a page count in bits 2..3)
 *   bytes 2..3  length n of the contents, little-endian
 *   n bytes     contents: copy 0 of the header (512 bytes, at offset 0),
 *               copy 1 (512 bytes, at 4096), the rest (at most 4 KiB) at
 *               8192, where the shared runtime page lives
 *
 * Unless FZ_RAW is set, the checksum of each copy is recomputed after
 * the mutation (FZ_STAMP_ID first writes the id the name stands for into
 * both copies), so that headers get past the checksum and the validation
 * and mapping code behind it is what gets fuzzed.
 */
#ifndef FUZZ_POOL_H
#define FUZZ_POOL_H

/* the ids the target attaches to; FZ_NEW_ID is the one it creates */
#define FZ_NIDS		4
#define FZ_NEW_ID	3
#define FZ_IDS_INIT { \
	{ "fuzz-a", 6 }, \
	{ "fuzz-\0\xff", 7 }, \
	{ "b", 1 }, \
	{ "fuzz-new", 8 }, \
}

/* control byte */
#define FZ_CTL_CREATE_FIRST	0x04	/* PHEAP_CREATE before the attaches */
/* bits 0..1: which id PHEAP_CREATE makes (FZ_NEW_ID, or one planted) */

/* record byte 0: bits 0..2 name */
#define FZ_NAME_ID0	0	/* pool_name() of ids[0..3] */
#define FZ_NAME_TMP	4	/* a creation leftover: ".tmp-1-<name of id 0>" */
#define FZ_NAME_UPPER	5	/* pool_name() of id 0 in upper case */
#define FZ_NAME_JUNK	6	/* "junk" */
#define FZ_NAME_ZERO	7	/* 32 zeros ".pheap": a pool name of no id */
/* bits 3..4 kind */
#define FZ_KIND_SHIFT	3
#define FZ_KIND_FILE	0
#define FZ_KIND_FILE2	1
#define FZ_KIND_FIFO	2
#define FZ_KIND_SYMLINK	3	/* to the first regular file planted */
#define FZ_STAMP_ID	0x20
#define FZ_RAW		0x40

/* record byte 1: bits 0..1 how the size is chosen, bits 2..3 pages n */
#define FZ_SIZE_AREA	0	/* header area + n pages */
#define FZ_SIZE_DATA	1	/* just the contents (shorter than the area) */
#define FZ_SIZE_SHORT	2	/* header area + n pages - 4 KiB */
#define FZ_SIZE_BRK	3	/* header area + the break copy 0 claims */

#define POOL_FUZZ_MAX_FILES	6
#define POOL_FUZZ_TAIL		4096	/* bytes at offset 8192 */

#endif
