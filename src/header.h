/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * header.h -- the persistent pheap header: format, validation and
 * crash-safe updates.  The header knows nothing of files or devices: the
 * backend hands it a read and a durable-write function.
 */
#ifndef PHEAP_HEADER_H
#define PHEAP_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "pheap.h"
#include "errmsg.h"
#include "testhook.h"

#define HDR_VERSION	1		/* a header without flags */
#define HDR_VERSION_FLAGS 2		/* a header with flags (header.c) */
#define HDR_COPY_SIZE	512		/* encoded size of one copy */
#define HDR_SLOT_SIZE	4096		/* each copy in its own 4 KiB block */
#define HDR_NSLOTS	2
#define HDR_RUNTIME_OFF	8192		/* shared, volatile page (see sync.h) */
#define HDR_AREA_SIZE	PHEAP_PAGE_SIZE	/* data starts here, 2 MiB aligned */
#define HDR_MAX_SPAN	(PHEAP_MAX_PAGES * PHEAP_PAGE_SIZE)
/* a 1 GiB aligned device: the kernel maps it only in 1 GiB units, so
 * its header area is one unit and the data starts there */
#define HDR_MAX_DATA_OFF (1UL << 30)

/* address space claimed beyond the heap's capacity (PROT_NONE), as
 * pattach(3) documents: it once held libpmem2's reservation slack, which
 * the library no longer uses (reservation.c), and PHEAP_BASE's bounds
 * count it */
#define HDR_RSV_EXTRA	(2 * PHEAP_PAGE_SIZE)

/* lowest and highest user addresses a pheap may occupy (x86-64, 47 bits) */
#define HDR_ADDR_MIN	(1UL << 32)
#define HDR_ADDR_MAX	(1UL << 47)

/* The decoded, validated header (native byte order). */
struct hdr {
	uint64_t seq;		/* update counter */
	uint64_t base;		/* virtual address of the heap */
	uint64_t brk;		/* bytes in use: break - base */
	uint64_t capacity;	/* largest brk this backing can hold */
	uint64_t data_off;	/* device offset of the first heap byte */
	uint64_t ctime_ns;	/* creation time */
	uint64_t usc;		/* unsafe shutdown count seen last (devdax) */
	uint32_t uid, gid;	/* owner */
	uint32_t mode;		/* permission bits */
	uint32_t id_len;
	uint32_t flags;		/* HDR_F_* */
	uint8_t id[PHEAP_ID_LEN_LIMIT];
};

/* struct hdr.flags */
#define HDR_F_DESTROYED	0x1u	/* pheap_destroy(): storage freed once no
				 * process is attached (destroy.c) */
#define HDR_F_KNOWN	HDR_F_DESTROYED

/* what a backing allows in a header */
struct hdr_limits {
	uint64_t max_capacity;	/* largest hdr.capacity */
	uint64_t data_off;	/* the only valid hdr.data_off */
	int allow_free;		/* id_len 0: a formatted device with no pheap */
	/* the backing is mapped in units of this many bytes (a power of two:
	 * PHEAP_PAGE_SIZE, or a device's 1 GiB alignment): hdr.base and
	 * hdr.capacity are multiples of it, the break only of
	 * PHEAP_PAGE_SIZE */
	uint64_t unit;
};

struct hdr_io {
	/* reads len bytes at device offset off; 0 or -errno */
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	/* writes and makes durable; 0 or -errno */
	int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
	/* optional: writes, durable whenever the backing gets to it */
	int (*write_lazy)(void *ctx, uint64_t off, const void *buf, size_t len);
	/* optional: the backing's size now (a copy naming more is not
	 * durable yet: see header.c) */
	uint64_t (*size)(void *ctx);
	void *ctx;
	struct hdr_limits lim;
};

/*
 * What was found on a device: the newest valid copy (ok), or for a
 * damaged header the ids its copies claim, so a lookup can tell
 * "damaged pheap you asked for" from "not a pheap".
 */
struct hdr_found {
	int ok;				/* hdr is valid */
	int slot;			/* slot hdr was read from */
	struct hdr hdr;
	int nclaims;			/* damaged copies with a plausible id */
	struct { uint32_t len; uint8_t id[PHEAP_ID_LEN_LIMIT]; } claim[HDR_NSLOTS];
};

/* decodes and validates each copy on its own: state[s] 0 valid, -ENOENT
 * no header there, -EUCLEAN damaged; 0 or -errno on I/O failure */
PHEAP_HIDDEN int hdr_read_copies(const struct hdr_io *io,
	struct hdr copy[HDR_NSLOTS], int state[HDR_NSLOTS]);
/* reads both copies; 0 (see found->ok) or -errno on I/O failure */
PHEAP_HIDDEN int hdr_load(const struct hdr_io *io, struct hdr_found *found);
/* hdr_load() of the pheap id on the device at path: -EUCLEAN unless the
 * header is valid and holds this id */
PHEAP_HIDDEN int hdr_load_id(const struct hdr_io *io, const void *id,
	size_t len, const char *path, struct hdr_found *found);
/* does the header (valid or damaged) belong to this id? 1 valid, -1 damaged, 0 no */
PHEAP_HIDDEN int hdr_match(const struct hdr_found *f, const void *id, size_t len);
/* validates h against the backing's limits; 0 or -EUCLEAN with a message */
PHEAP_HIDDEN int hdr_validate(const struct hdr *h, const struct hdr_limits *lim);
/*
 * Makes h (seq is bumped here) the durable header: one durable write of
 * the copy in slot seq % 2, then the other mirrored lazily, so a crash at
 * any instant leaves the old or the new header readable.  *slot is set to
 * the durable copy's slot.
 */
PHEAP_HIDDEN int hdr_store(const struct hdr_io *io, struct hdr *h, int *slot);
/* writes the first header of a new pheap (both copies, seq 1) */
PHEAP_HIDDEN int hdr_format(const struct hdr_io *io, struct hdr *h);

/* encoding, exposed for the tests */
PHEAP_HIDDEN void hdr_encode(const struct hdr *h, uint8_t buf[HDR_COPY_SIZE]);
PHEAP_HIDDEN int hdr_decode(const uint8_t buf[HDR_COPY_SIZE], struct hdr *h);
PHEAP_HIDDEN uint64_t hdr_checksum(const uint8_t *buf, size_t len);

#endif
