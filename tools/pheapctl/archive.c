/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * archive.c -- encoding and validation of pheap archives (the format is
 * described field by field in archive.h).  No I/O here: export.c writes
 * archives, import_archive.c reads them, and both go through these calls.
 * Everything decoded is untrusted: every field is checked, every size
 * computed without overflow, before anything else believes it.
 */
#include <endian.h>
#include <stdio.h>
#include <string.h>

#include "archive.h"
#include "crc32c.h"

static const uint8_t head_magic[8] = { 'P', 'H', 'E', 'A', 'P', 'A', 'R', 'C' };
static const uint8_t tail_magic[8] = { 'P', 'H', 'E', 'A', 'P', 'E', 'N', 'D' };

_Static_assert(sizeof(struct ar_header) == AR_HEADER_SIZE, "header size");
_Static_assert(offsetof(struct ar_header, chunk_size) == 16, "chunk_size");
_Static_assert(offsetof(struct ar_header, base) == 24, "base offset");
_Static_assert(offsetof(struct ar_header, data_len) == 48, "data_len");
_Static_assert(offsetof(struct ar_header, archived_ns) == 64, "archived_ns");
_Static_assert(offsetof(struct ar_header, mode) == 72, "mode offset");
_Static_assert(offsetof(struct ar_header, flags) == 84, "flags offset");
_Static_assert(offsetof(struct ar_header, id) == 88, "id offset");
_Static_assert(offsetof(struct ar_header, reserved) == 344, "reserved");
_Static_assert(offsetof(struct ar_header, checksum) == AR_HEADER_SIZE - 4,
	"the header's checksum is its last field");
_Static_assert(sizeof(struct ar_chunk) == AR_CHUNK_HEAD, "chunk head size");
_Static_assert(offsetof(struct ar_chunk, len) == 8, "chunk len offset");
_Static_assert(offsetof(struct ar_chunk, checksum) == 12, "chunk checksum");
_Static_assert(sizeof(struct ar_trailer) == AR_TRAILER_SIZE, "trailer size");
_Static_assert(offsetof(struct ar_trailer, chunks) == 16, "chunks offset");
_Static_assert(offsetof(struct ar_trailer, digest) == 24, "digest offset");
_Static_assert(offsetof(struct ar_trailer, checksum) == AR_TRAILER_SIZE - 4,
	"the trailer's checksum is its last field");
_Static_assert(AR_CHUNK_SIZE >= AR_CHUNK_MIN && AR_CHUNK_SIZE <= AR_CHUNK_MAX &&
	(AR_CHUNK_SIZE & (AR_CHUNK_SIZE - 1)) == 0, "export's chunk size");

#define MAX_DATA ((uint64_t)PHEAP_MAX_PAGES * PHEAP_PAGE_SIZE)

void
ar_header_encode(struct ar_meta *m, void *out)
{
	struct ar_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, head_magic, sizeof(h.magic));
	h.version = htole32(AR_VERSION);
	h.header_size = htole32(AR_HEADER_SIZE);
	h.chunk_size = htole32(m->chunk_size);
	h.id_len = htole32((uint32_t)m->id_len);
	h.base = htole64(m->base);
	h.brk = htole64(m->brk);
	h.capacity = htole64(m->capacity);
	h.data_len = htole64(m->data_len);
	h.ctime_ns = htole64(m->ctime_ns);
	h.archived_ns = htole64(m->archived_ns);
	h.mode = htole32(m->mode);
	h.uid = htole32(m->uid);
	h.gid = htole32(m->gid);
	memcpy(h.id, m->id, m->id_len);
	m->hsum = crc32c(0, &h, offsetof(struct ar_header, checksum));
	h.checksum = htole32(m->hsum);
	memcpy(out, &h, sizeof(h));
}

static int
all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 0;
	return 1;
}

/* the fields of a header whose checksum is right: -1 and why if wrong */
static int
header_fields(const struct ar_header *h, char why[AR_WHY])
{
	uint32_t cs = le32toh(h->chunk_size), n = le32toh(h->id_len);
	uint64_t base = le64toh(h->base), brk = le64toh(h->brk);
	uint64_t len = le64toh(h->data_len);
	const char *bad = NULL;

	if (le32toh(h->header_size) != AR_HEADER_SIZE)
		bad = "header_size";
	else if (cs < AR_CHUNK_MIN || cs > AR_CHUNK_MAX || (cs & (cs - 1)))
		bad = "chunk_size";
	else if (n < 1 || n > PHEAP_ID_LEN_LIMIT || !all_zero(h->id + n,
			sizeof(h->id) - n))
		bad = "id_len or id";
	else if (!base || base % PHEAP_PAGE_SIZE)
		bad = "base";
	else if (len % PHEAP_PAGE_SIZE || len > MAX_DATA)
		bad = "data_len";
	else if (brk < base || brk - base != len)
		bad = "brk (not base + data_len)";
	else if (le64toh(h->capacity) < len)
		bad = "capacity (below data_len)";
	else if (le32toh(h->mode) > 0777)
		bad = "mode";
	else if (h->flags || !all_zero(h->reserved, sizeof(h->reserved)))
		bad = "flags or reserved bytes (not zero)";
	if (!bad)
		return 0;
	snprintf(why, AR_WHY, "the header's %s is invalid", bad);
	return -1;
}

int
ar_header_decode(const void *in, struct ar_meta *m, char why[AR_WHY])
{
	struct ar_header h;

	memcpy(&h, in, sizeof(h));
	if (memcmp(h.magic, head_magic, sizeof(h.magic))) {
		snprintf(why, AR_WHY, "not a pheap archive (no PHEAPARC at "
			"its start)");
		return -1;
	}
	/* another version may place its checksum elsewhere: a version
	 * number is believed only with a version-1 checksum that is right */
	m->hsum = crc32c(0, &h, offsetof(struct ar_header, checksum));
	if (le32toh(h.version) != AR_VERSION) {
		snprintf(why, AR_WHY, le32toh(h.checksum) == m->hsum ?
			"archive format version %u (this pheapctl reads %d)" :
			"archive format version %u (this pheapctl reads %d), or "
			"a damaged header", le32toh(h.version), AR_VERSION);
		return -1;
	}
	if (le32toh(h.checksum) != m->hsum) {
		snprintf(why, AR_WHY, "the header (bytes 0 to %d) is damaged: "
			"checksum mismatch", AR_HEADER_SIZE - 1);
		return -1;
	}
	if (header_fields(&h, why))
		return -1;
	m->id_len = le32toh(h.id_len);
	memcpy(m->id, h.id, m->id_len);
	m->base = le64toh(h.base);
	m->brk = le64toh(h.brk);
	m->capacity = le64toh(h.capacity);
	m->data_len = le64toh(h.data_len);
	m->ctime_ns = le64toh(h.ctime_ns);
	m->archived_ns = le64toh(h.archived_ns);
	m->chunk_size = le32toh(h.chunk_size);
	m->mode = le32toh(h.mode);
	m->uid = le32toh(h.uid);
	m->gid = le32toh(h.gid);
	return 0;
}

/* ---- geometry: data_len <= 1 TiB and chunk_size >= 4 KiB keep every
 * value here far from overflowing 64 bits ---- */

uint64_t
ar_chunks(const struct ar_meta *m)
{
	return (m->data_len + m->chunk_size - 1) / m->chunk_size;
}

uint32_t
ar_chunk_len(const struct ar_meta *m, uint64_t k)
{
	uint64_t off = k * m->chunk_size, rest = m->data_len - off;

	return rest < m->chunk_size ? (uint32_t)rest : m->chunk_size;
}

uint64_t
ar_chunk_pos(const struct ar_meta *m, uint64_t k)
{
	return AR_HEADER_SIZE + k * (AR_CHUNK_HEAD + (uint64_t)m->chunk_size);
}

uint64_t
ar_size(const struct ar_meta *m)
{
	return AR_HEADER_SIZE + ar_chunks(m) * AR_CHUNK_HEAD + m->data_len +
		AR_TRAILER_SIZE;
}

/* ---- chunks ---- */

static uint32_t
chunk_sum(const struct ar_meta *m, const struct ar_chunk *c, const void *data,
	uint32_t len)
{
	uint32_t sum = crc32c(m->hsum, c, offsetof(struct ar_chunk, checksum));

	return crc32c(sum, data, len);
}

uint32_t
ar_chunk_encode(const struct ar_meta *m, uint64_t k, const void *data,
	void *head)
{
	struct ar_chunk c;
	uint32_t len = ar_chunk_len(m, k);

	c.offset = htole64(k * m->chunk_size);
	c.len = htole32(len);
	c.checksum = htole32(chunk_sum(m, &c, data, len));
	memcpy(head, &c, sizeof(c));
	return le32toh(c.checksum);
}

int
ar_chunk_check(const struct ar_meta *m, uint64_t k, const void *head,
	const void *data, uint32_t *sum, char why[AR_WHY])
{
	struct ar_chunk c;
	uint64_t off = k * m->chunk_size;
	uint32_t len = ar_chunk_len(m, k);
	const char *bad = NULL;

	memcpy(&c, head, sizeof(c));
	if (le64toh(c.offset) != off || le32toh(c.len) != len)
		bad = "its offset or length field is wrong";
	else if ((*sum = chunk_sum(m, &c, data, len)) != le32toh(c.checksum))
		bad = "checksum mismatch";
	if (!bad)
		return 0;
	snprintf(why, AR_WHY, "chunk %llu of %llu (heap bytes %#llx to %#llx, "
		"archive bytes %llu to %llu) is damaged: %s",
		(unsigned long long)k, (unsigned long long)ar_chunks(m),
		(unsigned long long)off, (unsigned long long)(off + len - 1),
		(unsigned long long)ar_chunk_pos(m, k),
		(unsigned long long)(ar_chunk_pos(m, k) + AR_CHUNK_HEAD + len - 1),
		bad);
	return -1;
}

uint32_t
ar_digest_start(const struct ar_meta *m)
{
	return m->hsum;
}

uint32_t
ar_digest_add(uint32_t digest, uint32_t sum)
{
	uint32_t le = htole32(sum);

	return crc32c(digest, &le, sizeof(le));
}

/* ---- the trailer ---- */

void
ar_trailer_encode(const struct ar_meta *m, uint32_t digest, void *out)
{
	struct ar_trailer t;

	memcpy(t.magic, tail_magic, sizeof(t.magic));
	t.data_len = htole64(m->data_len);
	t.chunks = htole64(ar_chunks(m));
	t.digest = htole32(digest);
	t.checksum = htole32(crc32c(m->hsum, &t,
		offsetof(struct ar_trailer, checksum)));
	memcpy(out, &t, sizeof(t));
}

int
ar_trailer_check(const struct ar_meta *m, uint32_t digest, const void *in,
	char why[AR_WHY])
{
	struct ar_trailer t;
	const char *bad = NULL;

	memcpy(&t, in, sizeof(t));
	if (le32toh(t.checksum) != crc32c(m->hsum, &t,
			offsetof(struct ar_trailer, checksum)))
		bad = "checksum mismatch";
	else if (memcmp(t.magic, tail_magic, sizeof(t.magic)) ||
			le64toh(t.data_len) != m->data_len ||
			le64toh(t.chunks) != ar_chunks(m))
		bad = "its fields do not match the header";
	else if (le32toh(t.digest) != digest)
		bad = "the digest of the chunks' checksums does not match";
	if (!bad)
		return 0;
	snprintf(why, AR_WHY, "the trailer (archive bytes %llu to %llu) is "
		"damaged: %s", (unsigned long long)ar_chunk_pos(m, ar_chunks(m)),
		(unsigned long long)(ar_size(m) - 1), bad);
	return -1;
}
