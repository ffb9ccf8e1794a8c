/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_header.c -- libFuzzer target for the on-media header: hdr_decode,
 * hdr_validate against several backings' limits, hdr_load / hdr_match /
 * hdr_load_id through an in-memory device, and hdr_store (whole and torn)
 * on whatever hdr_load accepted.
 *
 * Input: one control byte, then copy 0 and copy 1 (512 bytes each, short
 * input is zero padded).  They are placed at device offsets 0 and 4096 of
 * an 8 KiB image (two 4 KiB slots).  Random bytes almost never carry a
 * valid Fletcher-64, so unless the control byte says otherwise the
 * checksum of each copy is recomputed after the mutation: the validation
 * behind it is what gets fuzzed.
 *
 * Control byte:
 *   0x01, 0x02  keep copy 0 / copy 1 checksum as given (no fix-up)
 *   0x04        copy 1 := copy 0 (the steady state: both copies equal)
 *   0x08        force magic, version and size of both copies
 *   0x30        which limits hdr_load uses (see lims[])
 *   0xc0        where a torn hdr_store is cut (see below)
 *
 * Besides "no crash, no sanitizer report", every result is checked
 * against an independent statement of what a valid header is.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"

#define IMG_SIZE (HDR_NSLOTS * HDR_SLOT_SIZE)
#define PG PHEAP_PAGE_SIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct memdev {
	uint8_t img[IMG_SIZE];
	long budget;		/* bytes writes may still store; <0: any */
	int writes;
};

#define CHECK(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static int
mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct memdev *m = ctx;

	/* the header lives in the two slots: nothing else may be read */
	CHECK(off <= IMG_SIZE && len <= IMG_SIZE - off);
	memcpy(buf, m->img + off, len);
	return 0;
}

static int
mem_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct memdev *m = ctx;
	size_t n = len;

	CHECK(off <= IMG_SIZE && len <= IMG_SIZE - off);
	/* a copy never straddles a slot */
	CHECK(off % HDR_SLOT_SIZE == 0 && len == HDR_COPY_SIZE);
	m->writes++;
	if (m->budget >= 0 && (long)n > m->budget)
		n = (size_t)m->budget;
	memcpy(m->img + off, buf, n);
	if (m->budget >= 0) {
		m->budget -= (long)n;
		if (n < len)
			return -EIO;	/* "power lost" */
	}
	return 0;
}

/* the backings a header may be read from */
static const struct hdr_limits lims[4] = {
	{ HDR_MAX_SPAN, HDR_AREA_SIZE, 0, PG },		/* a file */
	{ 62 * PG, HDR_AREA_SIZE, 1, PG },		/* a 128 MiB devdax */
	{ HDR_MAX_SPAN, HDR_MAX_DATA_OFF, 1, HDR_MAX_DATA_OFF }, /* 1 GiB aligned device */
	{ 0, HDR_AREA_SIZE, 1, PG },			/* a device with no room */
};

static void
fix_checksum(uint8_t *copy)
{
	uint64_t c = htole64(hdr_checksum(copy, HDR_COPY_SIZE - 8));

	memcpy(copy + HDR_COPY_SIZE - 8, &c, 8);
}

static uint32_t
raw32(const uint8_t *copy, size_t off)
{
	uint32_t v;

	memcpy(&v, copy + off, 4);
	return le32toh(v);
}

/* what a valid header is, stated independently of hdr_validate */
static int
oracle_valid(const struct hdr *h, uint32_t raw_id_len,
	const struct hdr_limits *l)
{
	int free_dev = raw_id_len == 0 && l->allow_free && h->brk == 0;

	if (!free_dev && (raw_id_len < 1 || raw_id_len > PHEAP_ID_LEN_LIMIT))
		return 0;
	if (free_dev && h->flags)	/* a free device is never destroyed */
		return 0;
	if (h->mode > 0777 || h->data_off != l->data_off)
		return 0;
	if (h->capacity % PG || h->capacity % l->unit || h->capacity > HDR_MAX_SPAN ||
			h->capacity > l->max_capacity)
		return 0;
	if (h->brk % PG || h->brk > h->capacity)
		return 0;
	if (h->base % PG || h->base % l->unit || h->base < HDR_ADDR_MIN)
		return 0;
	/* capacity <= 1 TiB: no overflow in 64 bits for any 47-bit base */
	if (h->base > HDR_ADDR_MAX ||
			h->base + h->capacity + HDR_RSV_EXTRA + PG > HDR_ADDR_MAX)
		return 0;
	return 1;
}

static void
check_decoded(const uint8_t *copy, int ret, const struct hdr *h)
{
	CHECK(ret == 0 || ret == -ENOENT || ret == -EUCLEAN);
	CHECK(h->id_len <= PHEAP_ID_LEN_LIMIT);
	if (ret == -ENOENT) {
		CHECK(memcmp(copy, "PHEAPHDR", 8) != 0);
		CHECK(h->id_len == 0);
		return;
	}
	CHECK(memcmp(copy, "PHEAPHDR", 8) == 0);
	if (h->id_len)
		CHECK(memcmp(h->id, copy + 88, h->id_len) == 0);
	if (ret)
		return;
	/* a decoded copy says exactly what its bytes say */
	uint8_t re[HDR_COPY_SIZE];
	struct hdr back;

	/* version 1 without flags, version 2 with known ones */
	CHECK(raw32(copy, 12) == HDR_COPY_SIZE);
	CHECK((raw32(copy, 8) == HDR_VERSION && h->flags == 0) ||
		(raw32(copy, 8) == HDR_VERSION_FLAGS && h->flags != 0 &&
		 (h->flags & ~HDR_F_KNOWN) == 0 && h->flags == raw32(copy, 344)));
	CHECK(h->id_len == raw32(copy, 84) || h->id_len == 0);
	hdr_encode(h, re);
	CHECK(hdr_decode(re, &back) == 0);
	CHECK(memcmp(&back, h, sizeof(back)) == 0);
	CHECK(memcmp(re, copy, 88) == 0 || h->id_len == 0);
}

/* a store to a loaded header, whole or cut after `cut` bytes */
static void
check_store(struct memdev *m, const struct hdr_io *io,
	const struct hdr_found *f, long cut)
{
	struct hdr_found after;
	struct hdr old = f->hdr, nh = f->hdr;
	int slot = f->slot;
	uint8_t before[IMG_SIZE];

	memcpy(before, m->img, sizeof(before));
	/* a legal new break, as pbrk would make it (a free device has
	 * none: a new unsafe shutdown count then) */
	if (nh.id_len)
		nh.brk = nh.brk + PG <= nh.capacity ? nh.brk + PG : 0;
	else
		nh.usc++;
	m->budget = cut;
	m->writes = 0;
	int ret = hdr_store(io, &nh, &slot);
	m->budget = -1;
	CHECK(m->writes >= 1 && m->writes <= 2);
	CHECK(hdr_load(io, &after) == 0);
	if (cut < 0) {
		/* a complete store: both copies hold the new header */
		CHECK(ret == 0);
		CHECK(after.ok);
		CHECK(memcmp(&after.hdr, &nh, sizeof(nh)) == 0);
		CHECK(memcmp(m->img, m->img + HDR_SLOT_SIZE, HDR_COPY_SIZE) == 0);
		CHECK(hdr_match(&after, old.id, old.id_len) == (old.id_len > 0));
		return;
	}
	/*
	 * Torn: from the steady state (both copies the same valid bytes)
	 * the header read back is exactly the old or the new one.
	 */
	if (memcmp(before, before + HDR_SLOT_SIZE, HDR_COPY_SIZE) != 0)
		return;
	CHECK(after.ok);
	if (cut >= HDR_COPY_SIZE) {
		CHECK(memcmp(&after.hdr, &nh, sizeof(nh)) == 0);
	} else {
		CHECK(ret < 0);
		CHECK(memcmp(&after.hdr, &old, sizeof(old)) == 0 ||
			memcmp(&after.hdr, &nh, sizeof(nh)) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct memdev m;
	uint8_t copy[HDR_NSLOTS][HDR_COPY_SIZE];
	uint8_t ctl = size ? data[0] : 0;

	memset(&m, 0, sizeof(m));
	m.budget = -1;
	memset(copy, 0, sizeof(copy));
	if (size > 1) {
		size_t n = size - 1 < sizeof(copy) ? size - 1 : sizeof(copy);
		memcpy(copy, data + 1, n);
	}
	if (ctl & 0x04)
		memcpy(copy[1], copy[0], HDR_COPY_SIZE);
	for (int s = 0; s < HDR_NSLOTS; s++) {
		if (ctl & 0x08) {
			uint32_t v = htole32(HDR_VERSION), sz = htole32(HDR_COPY_SIZE);

			memcpy(copy[s], "PHEAPHDR", 8);
			memcpy(copy[s] + 8, &v, 4);
			memcpy(copy[s] + 12, &sz, 4);
		}
		if (!(ctl & (1 << s)))
			fix_checksum(copy[s]);
		memcpy(m.img + s * HDR_SLOT_SIZE, copy[s], HDR_COPY_SIZE);
	}

	/* decode and validate each copy on its own */
	struct hdr h[HDR_NSLOTS];
	int dret[HDR_NSLOTS];

	for (int s = 0; s < HDR_NSLOTS; s++) {
		dret[s] = hdr_decode(copy[s], &h[s]);
		check_decoded(copy[s], dret[s], &h[s]);
		for (size_t l = 0; l < sizeof(lims) / sizeof(lims[0]); l++) {
			int v = hdr_validate(&h[s], &lims[l]);

			CHECK(v == 0 || v == -EUCLEAN);
			if (dret[s] == 0)
				CHECK((v == 0) == oracle_valid(&h[s],
					raw32(copy[s], 84), &lims[l]));
		}
	}

	/* both copies, as a backing reads them */
	struct hdr_io io = { .read = mem_read, .write = mem_write, .ctx = &m,
		.lim = lims[(ctl >> 4) & 3] };
	struct hdr_found f;
	int valid[HDR_NSLOTS];

	CHECK(hdr_load(&io, &f) == 0);
	for (int s = 0; s < HDR_NSLOTS; s++)
		valid[s] = dret[s] == 0 &&
			oracle_valid(&h[s], raw32(copy[s], 84), &io.lim);
	CHECK(f.ok == (valid[0] || valid[1]));
	CHECK(f.nclaims >= 0 && f.nclaims <= HDR_NSLOTS);
	for (int i = 0; i < f.nclaims; i++)
		CHECK(f.claim[i].len >= 1 && f.claim[i].len <= PHEAP_ID_LEN_LIMIT);
	if (f.ok) {
		int s = f.slot;

		CHECK(s == 0 || s == 1);
		CHECK(valid[s]);
		CHECK(memcmp(&f.hdr, &h[s], sizeof(f.hdr)) == 0);
		CHECK(!valid[1 - s] || h[1 - s].seq <= h[s].seq);
		/* the id it holds is found, other ids are not */
		if (f.hdr.id_len) {
			uint8_t id[PHEAP_ID_LEN_LIMIT];
			uint32_t len = f.hdr.id_len;
			struct hdr_found again;

			memcpy(id, f.hdr.id, len);
			CHECK(hdr_match(&f, id, len) == 1);
			CHECK(hdr_load_id(&io, id, len, "fuzz", &again) == 0);
			CHECK(memcmp(&again, &f, sizeof(f)) == 0);
		}
		CHECK(hdr_match(&f, "", 0) == 0);
		CHECK(hdr_match(&f, "\xff", 1) == (f.hdr.id_len == 1 &&
			f.hdr.id[0] == 0xff));
	} else {
		/* a damaged header is claimed by the ids its copies show */
		for (int i = 0; i < f.nclaims; i++)
			CHECK(hdr_match(&f, f.claim[i].id, f.claim[i].len) == -1);
		struct hdr_found again;

		CHECK(hdr_load_id(&io, "x", 1, "fuzz", &again) == -EUCLEAN);
	}

	/* an update of what was accepted: whole, then cut short */
	if (f.ok) {
		static const long cuts[4] = { 0, 100, HDR_COPY_SIZE - 1,
			HDR_COPY_SIZE + 200 };
		uint8_t saved[IMG_SIZE];
		struct hdr_found g;

		memcpy(saved, m.img, sizeof(saved));
		check_store(&m, &io, &f, -1);
		memcpy(m.img, saved, sizeof(saved));
		CHECK(hdr_load(&io, &g) == 0 && g.ok);
		check_store(&m, &io, &g, cuts[ctl >> 6]);
	}
	return 0;
}
