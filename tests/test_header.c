/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_header.c -- the on-media header: encoding, validation, and that an
 * update interrupted at any byte leaves the old or the new header.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "util.h"

#define DEVSZ (3 * HDR_SLOT_SIZE)

static const struct hdr_limits file_lim = { HDR_MAX_SPAN, HDR_AREA_SIZE, 0, PG };

/* an in-memory device whose writes can be cut short, like a crash */
struct memdev {
	uint8_t data[DEVSZ];
	long budget;		/* bytes that may still be written; <0: no limit */
};

static int
mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct memdev *m = ctx;

	memcpy(buf, m->data + off, len);
	return 0;
}

static int
mem_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct memdev *m = ctx;
	size_t n = len;

	if (m->budget >= 0 && (long)n > m->budget)
		n = (size_t)m->budget;
	memcpy(m->data + off, buf, n);
	if (m->budget >= 0) {
		m->budget -= (long)n;
		if (n < len)
			return -EIO;	/* "crashed" */
	}
	return 0;
}

static struct hdr_io
mem_io(struct memdev *m)
{
	struct hdr_io io = { .read = mem_read, .write = mem_write, .ctx = m,
		.lim = { HDR_MAX_SPAN, HDR_AREA_SIZE, 0, PG } };

	return io;
}

static struct hdr
sample(void)
{
	struct hdr h;

	memset(&h, 0, sizeof(h));
	h.base = 0x2a0002000000ULL;
	h.brk = 4 * PG;
	h.capacity = HDR_MAX_SPAN;
	h.data_off = HDR_AREA_SIZE;
	h.uid = 1000;
	h.gid = 100;
	h.mode = 0640;
	h.id_len = 5;
	memcpy(h.id, "hello", 5);
	return h;
}

static void
test_roundtrip(void)
{
	uint8_t buf[HDR_COPY_SIZE];
	struct hdr h = sample(), d;

	h.seq = 7;
	hdr_encode(&h, buf);
	CU_ASSERT_EQUAL(hdr_decode(buf, &d), 0);
	CU_ASSERT_EQUAL(memcmp(&h, &d, sizeof(h)), 0);
	CU_ASSERT_EQUAL(hdr_validate(&d, &file_lim), 0);
	/* little-endian on media, at the documented offsets */
	CU_ASSERT_EQUAL(memcmp(buf, "PHEAPHDR", 8), 0);
	CU_ASSERT_EQUAL(buf[16], 7);
	CU_ASSERT_EQUAL(buf[80], 0xa0);	/* mode 0640 = 0x1a0 */
	CU_ASSERT_EQUAL(buf[81], 0x01);
}

static void
test_validate(void)
{
	struct hdr h;

#define BAD(field, value) do { \
		h = sample(); h.field = value; \
		CU_ASSERT_EQUAL(hdr_validate(&h, &file_lim), -EUCLEAN); \
	} while (0)
	BAD(id_len, 0);
	BAD(id_len, PHEAP_ID_LEN_LIMIT + 1);
	BAD(mode, 01777);
	BAD(data_off, 4096);
	BAD(capacity, HDR_MAX_SPAN + PG);
	BAD(capacity, 3 * MiB);
	BAD(brk, 3 * MiB);
	BAD(brk, HDR_MAX_SPAN + PG);
	BAD(base, 0x2a0002001000ULL);
	BAD(base, 0);
	BAD(base, HDR_ADDR_MAX - PG);
#undef BAD
	h = sample();
	h.capacity = 8 * PG;
	struct hdr_limits dev8 = { 8 * PG, HDR_AREA_SIZE, 1, PG };
	struct hdr_limits dev6 = { 6 * PG, HDR_AREA_SIZE, 1, PG };
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev8), 0);
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev6), -EUCLEAN);
	h.brk = 10 * PG;
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev8), -EUCLEAN);
	/* a free device: id_len 0 only where allowed, and only empty */
	h = sample();
	h.id_len = 0;
	h.brk = 0;
	h.capacity = 8 * PG;
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev8), 0);
	CU_ASSERT_EQUAL(hdr_validate(&h, &file_lim), -EUCLEAN);
	h.brk = PG;
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev8), -EUCLEAN);
	h = sample();
	h.data_off = 1UL << 30;
	CU_ASSERT_EQUAL(hdr_validate(&h, &file_lim), -EUCLEAN);
}

/* a version-1 copy, as libraries before flags wrote it */
static void
encode_v1(const struct hdr *h, uint8_t buf[HDR_COPY_SIZE])
{
	uint32_t v1 = htole32(1);
	uint64_t sum;

	hdr_encode(h, buf);
	memcpy(buf + 8, &v1, 4);
	memset(buf + 344, 0, 4);
	sum = htole64(hdr_checksum(buf, HDR_COPY_SIZE - 8));
	memcpy(buf + HDR_COPY_SIZE - 8, &sum, 8);
}

/*
 * Flags (HDR_F_DESTROYED) are backward compatible: a header without them
 * is still version 1, byte for byte; one with them is version 2, which a
 * version-1 reader rejects (the safe reading); a version-2 copy without
 * flags or with an unknown one is damage.
 */
static void
test_flags_version(void)
{
	uint8_t buf[HDR_COPY_SIZE], old[HDR_COPY_SIZE];
	struct hdr h = sample(), d;
	uint32_t v, f;

	hdr_encode(&h, buf);
	encode_v1(&h, old);
	CU_ASSERT_EQUAL(memcmp(buf, old, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(hdr_decode(old, &d), 0);
	CU_ASSERT_EQUAL(d.flags, 0);
	h.flags = HDR_F_DESTROYED;
	hdr_encode(&h, buf);
	memcpy(&v, buf + 8, 4);
	memcpy(&f, buf + 344, 4);
	CU_ASSERT_EQUAL(le32toh(v), 2);
	CU_ASSERT_EQUAL(le32toh(f), HDR_F_DESTROYED);
	CU_ASSERT_EQUAL(hdr_decode(buf, &d), 0);
	CU_ASSERT_EQUAL(d.flags, HDR_F_DESTROYED);
	CU_ASSERT_EQUAL(memcmp(&h, &d, sizeof(h)), 0);
	CU_ASSERT_EQUAL(hdr_validate(&d, &file_lim), 0);
	/* a version-1 reader would find version 2 and call it damaged: in
	 * version 1 the flags word is reserved and ignored */
	h.flags = 0;
	encode_v1(&h, old);
	memset(old + 344, 0xff, 4);
	uint64_t sum = htole64(hdr_checksum(old, HDR_COPY_SIZE - 8));
	memcpy(old + HDR_COPY_SIZE - 8, &sum, 8);
	CU_ASSERT_EQUAL(hdr_decode(old, &d), 0);
	CU_ASSERT_EQUAL(d.flags, 0);
	/* version 2 without a flag, or with an unknown one: damage */
	h.flags = HDR_F_DESTROYED;
	hdr_encode(&h, buf);
	for (uint32_t bad = 0; bad <= 2; bad += 2) {
		f = htole32(bad);
		memcpy(buf + 344, &f, 4);
		sum = htole64(hdr_checksum(buf, HDR_COPY_SIZE - 8));
		memcpy(buf + HDR_COPY_SIZE - 8, &sum, 8);
		CU_ASSERT_EQUAL(hdr_decode(buf, &d), -EUCLEAN);
	}
	/* a free device is never destroyed */
	struct hdr_limits dev8 = { 8 * PG, HDR_AREA_SIZE, 1 };

	h = sample();
	h.capacity = 8 * PG;
	h.brk = 0;
	h.id_len = 0;
	h.flags = HDR_F_DESTROYED;
	CU_ASSERT_EQUAL(hdr_validate(&h, &dev8), -EUCLEAN);
}

/*
 * A 1 GiB aligned device is mapped in 1 GiB units: its data starts 1 GiB in,
 * base and capacity are 1 GiB multiples, and the break keeps its 2 MiB
 * granularity.  What a 2 MiB device or a file accepts is unchanged.
 */
static void
test_validate_gib_unit(void)
{
	const uint64_t GiB = 1UL << 30;
	struct hdr_limits gib = { 2 * GiB, GiB, 1, GiB };
	struct hdr h = sample();

	h.base = 0x2a0040000000ULL;
	h.capacity = 2 * GiB;
	h.data_off = GiB;
	h.brk = GiB + PG;
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), 0);
	h.brk = PG;
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), 0);
	h.brk = 2 * GiB;
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), 0);
	h.brk = GiB + PG;
	h.base = 0x2a0002000000ULL;	/* 2 MiB aligned, not 1 GiB */
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), -EUCLEAN);
	h.base = 0x2a0040000000ULL;
	h.capacity = GiB + PG;		/* within the device, not a unit */
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), -EUCLEAN);
	h.capacity = 2 * GiB;
	h.data_off = HDR_AREA_SIZE;	/* a 2 MiB device's layout */
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), -EUCLEAN);
	/* ... which a 2 MiB device, and only it, accepts as before */
	struct hdr_limits mib = { 2 * GiB, HDR_AREA_SIZE, 1, PG };
	CU_ASSERT_EQUAL(hdr_validate(&h, &mib), 0);
	h.base = 0x2a0002000000ULL;
	CU_ASSERT_EQUAL(hdr_validate(&h, &mib), 0);
	/* a free 1 GiB device, as pheap_format_device writes it */
	h = sample();
	h.id_len = 0;
	h.brk = 0;
	h.base = 0x2a0040000000ULL;
	h.capacity = 2 * GiB;
	h.data_off = GiB;
	CU_ASSERT_EQUAL(hdr_validate(&h, &gib), 0);
	/* a table without a unit allows no header at all */
	struct hdr_limits none = { 2 * GiB, GiB, 1, 0 };
	CU_ASSERT_EQUAL(hdr_validate(&h, &none), -EUCLEAN);
}

/*
 * An id length beyond the limit under a valid checksum is damage, not a
 * free device: decoding must not turn it into id_len 0 (found by
 * tests/fuzz/fuzz_header).
 */
static void
test_id_len_out_of_range(void)
{
	struct memdev m = { .budget = -1 };
	struct hdr_io io = mem_io(&m);
	struct hdr h = sample(), d;
	struct hdr_found f;
	uint8_t buf[HDR_COPY_SIZE];

	io.lim.allow_free = 1;
	h.brk = 0;
	h.id_len = 0;		/* a formatted, free device ... */
	hdr_encode(&h, buf);
	CU_ASSERT_EQUAL(hdr_decode(buf, &d), 0);
	CU_ASSERT_EQUAL(hdr_validate(&d, &io.lim), 0);
	for (uint32_t bad = PHEAP_ID_LEN_LIMIT + 1; bad; bad <<= 1) {
		uint32_t le = htole32(bad);
		uint64_t sum;

		memcpy(buf + 84, &le, 4);	/* ... whose id_len is garbage */
		sum = htole64(hdr_checksum(buf, HDR_COPY_SIZE - 8));
		memcpy(buf + HDR_COPY_SIZE - 8, &sum, 8);
		CU_ASSERT_EQUAL(hdr_decode(buf, &d), -EUCLEAN);
		memcpy(m.data, buf, sizeof(buf));
		memcpy(m.data + HDR_SLOT_SIZE, buf, sizeof(buf));
		CU_ASSERT_EQUAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FALSE(f.ok);
		CU_ASSERT_EQUAL(f.nclaims, 0);
	}
}

static void
test_every_bit_flip(void)
{
	struct memdev m = { .budget = -1 };
	struct hdr_io io = mem_io(&m);
	struct hdr h = sample();
	struct hdr_found f;

	CU_ASSERT_EQUAL(hdr_format(&io, &h), 0);
	/* one flipped bit in one copy: the other copy answers, unchanged */
	for (int bit = 0; bit < HDR_COPY_SIZE * 8; bit++) {
		int slot = bit & 1;
		uint8_t *p = m.data + slot * HDR_SLOT_SIZE + bit / 8;

		*p ^= (uint8_t)(1u << (bit % 8));
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FATAL(f.ok);
		CU_ASSERT_EQUAL(f.hdr.brk, h.brk);
		CU_ASSERT_EQUAL(f.hdr.seq, h.seq);
		CU_ASSERT_EQUAL(hdr_match(&f, "hello", 5), 1);
		*p ^= (uint8_t)(1u << (bit % 8));
	}
	/* the same bit flipped in both copies: never valid, never a crash */
	for (int bit = 0; bit < HDR_COPY_SIZE * 8; bit++) {
		for (int slot = 0; slot < 2; slot++)
			m.data[slot * HDR_SLOT_SIZE + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FALSE(f.ok);
		/* the id is claimed only where the id itself is intact */
		int m_ = hdr_match(&f, "hello", 5);
		CU_ASSERT(m_ == 0 || m_ == -1);
		for (int slot = 0; slot < 2; slot++)
			m.data[slot * HDR_SLOT_SIZE + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

static void
test_random_garbage(void)
{
	struct memdev m = { .budget = -1 };
	struct hdr_io io = mem_io(&m);
	struct hdr_found f;

	srand(42);
	for (int i = 0; i < 2000; i++) {
		for (size_t j = 0; j < sizeof(m.data); j++)
			m.data[j] = (uint8_t)rand();
		if (i & 1)	/* a valid magic makes the decoder go further */
			memcpy(m.data, "PHEAPHDR", 8);
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FALSE(f.ok);
		CU_ASSERT(hdr_match(&f, "hello", 5) <= 0);
	}
}

/*
 * Crash during an update after every possible number of written bytes:
 * the header read afterwards is exactly the old or the new one, and once
 * the new one has been seen it never goes back.
 */
static void
test_torn_updates(void)
{
	for (long cut = 0; cut <= 2 * HDR_COPY_SIZE; cut++) {
		struct memdev m = { .budget = -1 };
		struct hdr_io io = mem_io(&m);
		struct hdr h = sample(), n;
		struct hdr_found f;

		CU_ASSERT_EQUAL_FATAL(hdr_format(&io, &h), 0);
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		n = f.hdr;
		n.brk = 6 * PG;
		m.budget = cut;
		int ret = hdr_store(&io, &n, &f.slot);
		m.budget = -1;
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FATAL(f.ok);
		CU_ASSERT(f.hdr.brk == 4 * PG || f.hdr.brk == 6 * PG);
		if (cut >= HDR_COPY_SIZE)	/* first copy complete: new */
			CU_ASSERT_EQUAL(f.hdr.brk, 6 * PG);
		if (cut < HDR_COPY_SIZE) {
			CU_ASSERT_EQUAL(f.hdr.brk, 4 * PG);
			CU_ASSERT(ret < 0);
		}
		/* a later update still works and wins */
		n = f.hdr;
		n.brk = 8 * PG;
		CU_ASSERT_EQUAL(hdr_store(&io, &n, &f.slot), 0);
		CU_ASSERT_EQUAL(hdr_load(&io, &f), 0);
		CU_ASSERT_EQUAL(f.hdr.brk, 8 * PG);
	}
}

static void
test_checksum_sensitivity(void)
{
	uint8_t a[64] = { 0 }, b[64] = { 0 };

	b[63] = 1;
	CU_ASSERT_NOT_EQUAL(hdr_checksum(a, 64), hdr_checksum(b, 64));
	b[63] = 0;
	b[0] = 1;
	CU_ASSERT_NOT_EQUAL(hdr_checksum(a, 64), hdr_checksum(b, 64));
}

/* a lazy write the crash lost: nothing reaches the medium */
static int
mem_lost(void *ctx, uint64_t off, const void *buf, size_t len)
{
	(void)ctx;
	(void)off;
	(void)buf;
	(void)len;
	return 0;
}

/*
 * The mirror is never relied on: with every lazy write lost, each update
 * still survives, and a crash anywhere in the next one's durable write
 * leaves it or the new one -- the durable write never goes to the slot of
 * the last durable version.
 */
static void
test_mirror_lost(void)
{
	for (long cut = 0; cut <= HDR_COPY_SIZE; cut += 7) {
		struct memdev m = { .budget = -1 };
		struct hdr_io io = mem_io(&m);
		struct hdr h = sample(), n;
		struct hdr_found f;

		io.write_lazy = mem_lost;
		CU_ASSERT_EQUAL_FATAL(hdr_format(&io, &h), 0);
		for (uint64_t b = 1; b <= 5; b++) {
			CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
			n = f.hdr;
			n.brk = b * PG;
			CU_ASSERT_EQUAL(hdr_store(&io, &n, &f.slot), 0);
		}
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_EQUAL(f.hdr.brk, 5 * PG);
		n = f.hdr;
		n.brk = 7 * PG;
		m.budget = cut;
		(void)hdr_store(&io, &n, &f.slot);
		m.budget = -1;
		CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
		CU_ASSERT_FATAL(f.ok);
		CU_ASSERT_EQUAL(f.hdr.brk, cut == HDR_COPY_SIZE ? 7 * PG : 5 * PG);
	}
}

static uint64_t backing_size;

static uint64_t
mem_size(void *ctx)
{
	(void)ctx;
	return backing_size;
}

/*
 * A copy that names more storage than the backing has is not durable yet
 * (its page reached the medium before the size did): the other copy is
 * the header -- and if no copy fits, the newest still is, for the size
 * check to report.
 */
static void
test_copy_beyond_size(void)
{
	struct memdev m = { .budget = -1 };
	struct hdr_io io = mem_io(&m);
	struct hdr h = sample(), n;
	struct hdr_found f;

	io.size = mem_size;
	io.write_lazy = mem_lost;	/* the crash came before the mirror */
	backing_size = UINT64_MAX;
	CU_ASSERT_EQUAL_FATAL(hdr_format(&io, &h), 0);	/* brk 4 pages */
	CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
	n = f.hdr;
	n.brk = 6 * PG;
	CU_ASSERT_EQUAL(hdr_store(&io, &n, &f.slot), 0);
	backing_size = HDR_AREA_SIZE + 5 * PG;	/* the size did not make it */
	CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
	CU_ASSERT(f.ok && f.hdr.brk == 4 * PG);
	backing_size = HDR_AREA_SIZE + 6 * PG;
	CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
	CU_ASSERT(f.ok && f.hdr.brk == 6 * PG);
	backing_size = HDR_AREA_SIZE + PG;	/* truncated under us */
	CU_ASSERT_EQUAL_FATAL(hdr_load(&io, &f), 0);
	CU_ASSERT(f.ok && f.hdr.brk == 6 * PG);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "encode/decode round trip", test_roundtrip },
		{ "validation of every field", test_validate },
		{ "a 1 GiB unit: base, capacity, data offset", test_validate_gib_unit },
		{ "id length out of range is damage", test_id_len_out_of_range },
		{ "flags: version 2, version 1 unchanged", test_flags_version },
		{ "single bit flips are repaired by the mirror", test_every_bit_flip },
		{ "random garbage is never a header", test_random_garbage },
		{ "torn updates leave old or new", test_torn_updates },
		{ "the mirror is never relied on", test_mirror_lost },
		{ "a copy beyond the backing's size is not believed", test_copy_beyond_size },
		{ "checksum sees first and last word", test_checksum_sensitivity },
		{ NULL, NULL }
	};
	return tu_main("header", tests);
}
