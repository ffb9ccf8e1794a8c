/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * archive.h -- the format of a pheap archive (pheapctl export --archive,
 * import --archive): a pheap's header fields and heap bytes, each part
 * checksummed, so that a damaged byte anywhere is found -- and, in the
 * data, located to its chunk -- before anything is created from it.
 *
 * An archive is, in this order and nothing after:
 *
 *   struct ar_header     512 bytes
 *   chunk 0 .. n-1       each struct ar_chunk (16 bytes) and its data:
 *                        chunk k holds heap bytes [k * chunk_size,
 *                        k * chunk_size + len); every chunk is chunk_size
 *                        bytes of data but the last, which holds the rest;
 *                        n = data_len / chunk_size rounded up (0 for an
 *                        empty heap)
 *   struct ar_trailer    32 bytes
 *
 * so its size is 512 + 16 n + data_len + 32, and truncation and trailing
 * bytes are both damage.  Every integer is little-endian, of the width
 * its type says; every structure has no implicit padding (the asserts in
 * archive.c).  The checksum is CRC-32C (crc32c.h).  The checksums of the
 * chunks and of the trailer are seeded with the header's checksum, so a
 * chunk or a trailer spliced in from another archive is damage too.
 *
 * Version 1 is the only one; a reader refuses any other (a later version
 * would change the number, never reinterpret a field of this one).
 */
#ifndef PHEAPCTL_ARCHIVE_H
#define PHEAPCTL_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include <pheap.h>

#define AR_VERSION	1
#define AR_HEADER_SIZE	512
#define AR_CHUNK_HEAD	16
#define AR_TRAILER_SIZE	32
#define AR_CHUNK_SIZE	(1U << 20)	/* what export writes */
#define AR_CHUNK_MIN	(1U << 12)	/* what import accepts */
#define AR_CHUNK_MAX	(1U << 26)

/* the header, at offset 0 */
struct ar_header {
	uint8_t  magic[8];	/*   0 "PHEAPARC" */
	uint32_t version;	/*   8 AR_VERSION */
	uint32_t header_size;	/*  12 AR_HEADER_SIZE */
	uint32_t chunk_size;	/*  16 data bytes per chunk: a power of two
				 *     in [AR_CHUNK_MIN, AR_CHUNK_MAX] */
	uint32_t id_len;	/*  20 the id's length: 1..PHEAP_ID_LEN_LIMIT */
	uint64_t base;		/*  24 the heap's base address: not 0, a
				 *     PHEAP_PAGE_SIZE multiple */
	uint64_t brk;		/*  32 its break: base + data_len */
	uint64_t capacity;	/*  40 its capacity where it was archived
				 *     (informational), at least data_len */
	uint64_t data_len;	/*  48 heap bytes archived, [0, brk - base):
				 *     a PHEAP_PAGE_SIZE multiple, at most
				 *     PHEAP_MAX_PAGES pages */
	uint64_t ctime_ns;	/*  56 the pheap's creation, ns since the Epoch
				 *     (informational; 0 unknown) */
	uint64_t archived_ns;	/*  64 when the archive was written, ns since
				 *     the Epoch (informational) */
	uint32_t mode;		/*  72 permission bits, 0777 at most */
	uint32_t uid;		/*  76 the owner (informational: an import
				 *     belongs to whoever imports) */
	uint32_t gid;		/*  80 its group (informational) */
	uint32_t flags;		/*  84 0 (none defined in version 1) */
	uint8_t  id[PHEAP_ID_LEN_LIMIT]; /* 88 the id, id_len bytes, the
				 *     rest zero */
	uint8_t  reserved[164];	/* 344 zero */
	uint32_t checksum;	/* 508 CRC-32C of bytes [0, 508) */
};

/* before the data of each chunk */
struct ar_chunk {
	uint64_t offset;	/*   0 the heap offset of its data:
				 *     k * chunk_size for chunk k */
	uint32_t len;		/*   8 its data bytes: chunk_size, or the
				 *     rest for the last chunk */
	uint32_t checksum;	/*  12 CRC-32C, seeded with the header's
				 *     checksum, of bytes [0, 12) here and then
				 *     of the len data bytes that follow */
};

/* after the last chunk, and the end of the archive */
struct ar_trailer {
	uint8_t  magic[8];	/*   0 "PHEAPEND" */
	uint64_t data_len;	/*   8 the header's data_len */
	uint64_t chunks;	/*  16 the number of chunks, n */
	uint32_t digest;	/*  24 CRC-32C, seeded with the header's
				 *     checksum, of the n chunk checksums in
				 *     order (each 4 bytes, little-endian) */
	uint32_t checksum;	/*  28 CRC-32C, seeded with the header's
				 *     checksum, of bytes [0, 28) */
};

/* an archive's header, decoded and validated (native byte order) */
struct ar_meta {
	char id[PHEAP_ID_LEN_LIMIT];
	size_t id_len;
	uint64_t base, brk, capacity, data_len, ctime_ns, archived_ns;
	uint32_t chunk_size, mode, uid, gid;
	uint32_t hsum;		/* the header's checksum: the others' seed */
};

/* why a check failed: a sentence for the user */
#define AR_WHY 256

/* encodes the header of m (its chunk_size and every field set) into out,
 * and sets m->hsum */
void ar_header_encode(struct ar_meta *m, void *out);
/* decodes and validates a header: 0, or -1 with the reason in why */
int ar_header_decode(const void *in, struct ar_meta *m, char why[AR_WHY]);

/* the number of chunks, the data bytes of chunk k, the archive offset of
 * chunk k (k = chunks: of the trailer), the archive's whole size */
uint64_t ar_chunks(const struct ar_meta *m);
uint32_t ar_chunk_len(const struct ar_meta *m, uint64_t k);
uint64_t ar_chunk_pos(const struct ar_meta *m, uint64_t k);
uint64_t ar_size(const struct ar_meta *m);

/* encodes the head of chunk k, whose data is data, into head; returns its
 * checksum (for the digest) */
uint32_t ar_chunk_encode(const struct ar_meta *m, uint64_t k,
	const void *data, void *head);
/* validates chunk k: 0 and *sum its checksum, or -1 with the reason */
int ar_chunk_check(const struct ar_meta *m, uint64_t k, const void *head,
	const void *data, uint32_t *sum, char why[AR_WHY]);

/* the digest before any chunk, and after one more with checksum sum */
uint32_t ar_digest_start(const struct ar_meta *m);
uint32_t ar_digest_add(uint32_t digest, uint32_t sum);

/* encodes the trailer; validates it against m and the digest computed
 * while reading: 0, or -1 with the reason */
void ar_trailer_encode(const struct ar_meta *m, uint32_t digest, void *out);
int ar_trailer_check(const struct ar_meta *m, uint32_t digest,
	const void *in, char why[AR_WHY]);

#endif
