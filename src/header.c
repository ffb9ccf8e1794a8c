/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * header.c -- the persistent pheap header.
 *
 * Two copies live at device offsets 0 and 4096, each in its own block so a
 * torn write can damage at most one.  Version seq is written durably to
 * slot seq % 2 -- the slot that does not hold the last durable version --
 * and only then mirrored into the other slot, without waiting for that to
 * be durable (io->write_lazy).  A crash therefore leaves the new version
 * intact in its slot, or the old one intact in the other, whatever became
 * of the torn or unwritten copy beside it, which the checksum rejects.
 * One durable write per update: that is one msync on a file, the price of
 * a pbrk.  Between updates the mirror makes both copies equal once written
 * back, so a later corruption of one copy is repaired by the other rather
 * than silently reverting to an older break.
 *
 * A copy must fit its backing (io->size): a file whose size the new break
 * needs is extended, and that size made durable by the same sync as the
 * copy (the journal commits it with the page) -- a crash between the page
 * reaching the disk and that commit leaves a copy that names storage the
 * file does not have.  Such a copy is not durable yet, and the older one is
 * the header (if no copy fits, the newest is, and the caller's size check
 * reports the damage).
 *
 * The unit (struct hdr_limits) is what the backing is mapped in: 2 MiB for
 * files and most devices, 1 GiB for a device with that alignment.  The
 * data starts one unit into the backing, and base and capacity are unit
 * multiples, so the heap can always be mapped in whole units; the break
 * keeps its 2 MiB granularity.  The format is the same for both: only the
 * values differ, and a 2 MiB header is exactly what it always was.
 *
 * Versions: a header without flags is written as version 1, exactly as
 * before flags existed, so every library reads it; one with a flag set
 * (HDR_F_DESTROYED) is written as version 2, which a version-1 library
 * takes for damaged -- it then neither attaches to a destroyed pheap nor
 * counts it, the safe reading.  A version-2 copy without flags, or with a
 * flag this library does not know, is not one this library wrote: damaged.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "header.h"

static const uint8_t hdr_magic[8] = { 'P', 'H', 'E', 'A', 'P', 'H', 'D', 'R' };

/* The on-media layout of one copy: little-endian, no implicit padding. */
struct hdr_media {
	uint8_t  magic[8];	/* "PHEAPHDR" */
	uint32_t version;	/* HDR_VERSION */
	uint32_t size;		/* sizeof(struct hdr_media) */
	uint64_t seq;		/* incremented by every update */
	uint64_t base;		/* virtual address of the heap, unit aligned */
	uint64_t brk;		/* break - base, PHEAP_PAGE_SIZE multiple */
	uint64_t capacity;	/* largest brk, unit multiple */
	uint64_t data_off;	/* device offset of the heap: one unit */
	uint64_t ctime_ns;	/* creation time, ns since the Epoch */
	uint64_t usc;		/* unsafe shutdown count (devdax), else 0 */
	uint32_t uid;		/* owner's uid */
	uint32_t gid;		/* owner's gid */
	uint32_t mode;		/* permission bits, 0777 at most */
	uint32_t id_len;	/* 1 .. PHEAP_ID_LEN_LIMIT */
	uint8_t  id[PHEAP_ID_LEN_LIMIT]; /* the id, zero padded */
	uint32_t flags;		/* HDR_F_*; version 2 only (zero in 1) */
	uint8_t  reserved[156];	/* zero */
	uint64_t checksum;	/* Fletcher-64 of all bytes above */
};

_Static_assert(sizeof(struct hdr_media) == HDR_COPY_SIZE, "header copy size");
_Static_assert(offsetof(struct hdr_media, seq) == 16, "seq offset");
_Static_assert(offsetof(struct hdr_media, uid) == 72, "uid offset");
_Static_assert(offsetof(struct hdr_media, id) == 88, "id offset");
_Static_assert(offsetof(struct hdr_media, flags) == 344, "flags offset");
_Static_assert(offsetof(struct hdr_media, checksum) == HDR_COPY_SIZE - 8,
	"checksum is the last field");
_Static_assert(HDR_RUNTIME_OFF >= HDR_NSLOTS * HDR_SLOT_SIZE, "runtime page");

/*
 * Fletcher-64 over little-endian 32-bit words; detects torn writes and
 * single-bit flips, and is cheap enough for every pbrk.
 */
uint64_t
hdr_checksum(const uint8_t *buf, size_t len)
{
	uint64_t lo = 0, hi = 0;

	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, buf + i, 4);
		lo += le32toh(w);
		hi += lo;
	}
	return (hi << 32) | (lo & 0xffffffffu);
}

void
hdr_encode(const struct hdr *h, uint8_t buf[HDR_COPY_SIZE])
{
	struct hdr_media m;

	memset(&m, 0, sizeof(m));
	memcpy(m.magic, hdr_magic, sizeof(m.magic));
	m.version = htole32(h->flags ? HDR_VERSION_FLAGS : HDR_VERSION);
	m.size = htole32(sizeof(m));
	m.seq = htole64(h->seq);
	m.base = htole64(h->base);
	m.brk = htole64(h->brk);
	m.capacity = htole64(h->capacity);
	m.data_off = htole64(h->data_off);
	m.ctime_ns = htole64(h->ctime_ns);
	m.usc = htole64(h->usc);
	m.uid = htole32(h->uid);
	m.gid = htole32(h->gid);
	m.mode = htole32(h->mode);
	m.id_len = htole32(h->id_len);
	m.flags = htole32(h->flags);
	memcpy(m.id, h->id, h->id_len <= sizeof(m.id) ? h->id_len : sizeof(m.id));
	memcpy(buf, &m, sizeof(m));
	m.checksum = htole64(hdr_checksum(buf, offsetof(struct hdr_media, checksum)));
	memcpy(buf, &m, sizeof(m));
}

/*
 * Decodes one copy.  Returns 0 when magic, version, size, checksum and id
 * length (0 .. PHEAP_ID_LEN_LIMIT) hold; -ENOENT when it is no header at
 * all; -EUCLEAN when it looks like one but is damaged (then h->id/id_len
 * hold the id it claims, if plausible, else h->id_len is 0).
 */
int
hdr_decode(const uint8_t buf[HDR_COPY_SIZE], struct hdr *h)
{
	struct hdr_media m;

	memcpy(&m, buf, sizeof(m));
	memset(h, 0, sizeof(*h));
	if (memcmp(m.magic, hdr_magic, sizeof(m.magic)) != 0)
		return -ENOENT;

	uint32_t id_len = le32toh(m.id_len);
	if (id_len >= 1 && id_len <= PHEAP_ID_LEN_LIMIT) {
		h->id_len = id_len;
		memcpy(h->id, m.id, id_len);
	}
	uint32_t version = le32toh(m.version);
	uint32_t flags = version == HDR_VERSION_FLAGS ? le32toh(m.flags) : 0;

	if ((version != HDR_VERSION && version != HDR_VERSION_FLAGS) ||
			le32toh(m.size) != sizeof(m))
		return -EUCLEAN;
	if (version == HDR_VERSION_FLAGS && (flags == 0 || (flags & ~HDR_F_KNOWN)))
		return -EUCLEAN;
	if (le64toh(m.checksum) !=
			hdr_checksum(buf, offsetof(struct hdr_media, checksum)))
		return -EUCLEAN;
	/* h->id_len stayed 0 for it: must not pass for a free device */
	if (id_len > PHEAP_ID_LEN_LIMIT)
		return -EUCLEAN;

	h->seq = le64toh(m.seq);
	h->base = le64toh(m.base);
	h->brk = le64toh(m.brk);
	h->capacity = le64toh(m.capacity);
	h->data_off = le64toh(m.data_off);
	h->ctime_ns = le64toh(m.ctime_ns);
	h->usc = le64toh(m.usc);
	h->uid = le32toh(m.uid);
	h->gid = le32toh(m.gid);
	h->mode = le32toh(m.mode);
	h->flags = flags;
	return 0;
}

static int
is_multiple(uint64_t v, uint64_t unit)
{
	/* unit 0 (a limits table that forgot it) allows nothing */
	return unit && (v & (unit - 1)) == 0;
}

static int
is_page_multiple(uint64_t v)
{
	return is_multiple(v, PHEAP_PAGE_SIZE);
}

int
hdr_validate(const struct hdr *h, const struct hdr_limits *lim)
{
	uint64_t max_capacity = lim->max_capacity, unit = lim->unit;

	if (h->id_len == 0 && lim->allow_free && h->brk == 0)
		;	/* formatted, free device */
	else if (h->id_len < 1 || h->id_len > PHEAP_ID_LEN_LIMIT)
		return err_set(EUCLEAN, "header: id length %u out of range",
			h->id_len);
	if ((h->flags & HDR_F_DESTROYED) && h->id_len == 0)
		return err_set(EUCLEAN, "header: a free device cannot be "
			"destroyed");
	if (h->mode & ~0777u)
		return err_set(EUCLEAN, "header: mode %#o has bits outside 0777",
			h->mode);
	if (h->data_off != lim->data_off)
		return err_set(EUCLEAN, "header: data offset %#llx is not %#llx",
			(unsigned long long)h->data_off,
			(unsigned long long)lim->data_off);
	if (!is_page_multiple(h->capacity) || !is_multiple(h->capacity, unit) ||
			h->capacity > HDR_MAX_SPAN || h->capacity > max_capacity)
		return err_set(EUCLEAN, "header: capacity %#llx invalid (limit %#llx)",
			(unsigned long long)h->capacity,
			(unsigned long long)max_capacity);
	if (!is_page_multiple(h->brk) || h->brk > h->capacity)
		return err_set(EUCLEAN, "header: break %#llx invalid (capacity %#llx)",
			(unsigned long long)h->brk,
			(unsigned long long)h->capacity);
	/* everything the process claims for it must stay in user space */
	if (!is_page_multiple(h->base) || !is_multiple(h->base, unit) ||
			h->base < HDR_ADDR_MIN ||
			h->base > HDR_ADDR_MAX ||
			/* the last page below 2^47 is not usable on x86-64 */
			HDR_ADDR_MAX - h->base < h->capacity + HDR_RSV_EXTRA + PHEAP_PAGE_SIZE)
		return err_set(EUCLEAN, "header: base address %#llx invalid",
			(unsigned long long)h->base);
	return 0;
}

/* the valid copy of highest seq; that fits the backing, if fit */
static int
newest(const struct hdr_io *io, const struct hdr *copy, const int *valid,
	int fit)
{
	uint64_t size = fit && io->size ? io->size(io->ctx) : UINT64_MAX;
	int best = -1;

	for (int s = 0; s < HDR_NSLOTS; s++) {
		if (!valid[s] || copy[s].data_off + copy[s].brk > size)
			continue;
		if (best < 0 || copy[s].seq > copy[best].seq)
			best = s;
	}
	return best;
}

int
hdr_read_copies(const struct hdr_io *io, struct hdr copy[HDR_NSLOTS],
	int state[HDR_NSLOTS])
{
	uint8_t buf[HDR_COPY_SIZE];

	for (int s = 0; s < HDR_NSLOTS; s++) {
		int ret = io->read(io->ctx, (uint64_t)s * HDR_SLOT_SIZE, buf,
			sizeof(buf));

		if (ret)
			return ret;
		state[s] = hdr_decode(buf, &copy[s]);
		if (state[s] == 0 && hdr_validate(&copy[s], &io->lim))
			state[s] = -EUCLEAN;
	}
	return 0;
}

int
hdr_load(const struct hdr_io *io, struct hdr_found *f)
{
	uint8_t buf[HDR_COPY_SIZE];
	struct hdr copy[HDR_NSLOTS];
	int valid[HDR_NSLOTS];
	int ret;

	memset(f, 0, sizeof(*f));
	for (int s = 0; s < HDR_NSLOTS; s++) {
		ret = io->read(io->ctx, (uint64_t)s * HDR_SLOT_SIZE, buf, sizeof(buf));
		if (ret)
			return ret;
		ret = hdr_decode(buf, &copy[s]);
		valid[s] = ret == 0 && hdr_validate(&copy[s], &io->lim) == 0;
		if (!valid[s] && ret != -ENOENT && copy[s].id_len) {
			f->claim[f->nclaims].len = copy[s].id_len;
			memcpy(f->claim[f->nclaims].id, copy[s].id, copy[s].id_len);
			f->nclaims++;
		}
	}
	int best = newest(io, copy, valid, 1);

	if (best < 0)
		best = newest(io, copy, valid, 0);
	if (best < 0)
		return 0;
	f->ok = 1;
	f->slot = best;
	f->hdr = copy[best];
	return 0;
}

int
hdr_match(const struct hdr_found *f, const void *id, size_t len)
{
	if (f->ok)
		return len && f->hdr.id_len == len && memcmp(f->hdr.id, id, len) == 0;
	for (int i = 0; i < f->nclaims; i++)
		if (f->claim[i].len == len && memcmp(f->claim[i].id, id, len) == 0)
			return -1;
	return 0;
}

int
hdr_load_id(const struct hdr_io *io, const void *id, size_t len,
	const char *path, struct hdr_found *f)
{
	int ret = hdr_load(io, f);

	if (ret == 0 && hdr_match(f, id, len) <= 0)
		ret = err_set(EUCLEAN, "pheap %s: header damaged", path);
	return ret;
}

static int
write_copy(int (*write)(void *, uint64_t, const void *, size_t), void *ctx,
	const struct hdr *h, int slot)
{
	uint8_t buf[HDR_COPY_SIZE];

	hdr_encode(h, buf);
	return write(ctx, (uint64_t)slot * HDR_SLOT_SIZE, buf, sizeof(buf));
}

int
hdr_store(const struct hdr_io *io, struct hdr *h, int *slot)
{
	int (*lazy)(void *, uint64_t, const void *, size_t) =
		io->write_lazy ? io->write_lazy : io->write;
	int ret;

	h->seq++;
	TH_POINT("hdr.store.copy");
	ret = write_copy(io->write, io->ctx, h, (int)(h->seq % HDR_NSLOTS));
	if (ret)
		return ret;
	*slot = (int)(h->seq % HDR_NSLOTS);
	/* the new version is durable: the mirror is redundancy only */
	TH_POINT("hdr.store.mirror");
	(void)write_copy(lazy, io->ctx, h, 1 - *slot);
	return 0;
}

int
hdr_format(const struct hdr_io *io, struct hdr *h)
{
	int ret;

	/* a new pheap: both copies durable, version 1 */
	h->seq = 1;
	ret = write_copy(io->write, io->ctx, h, 1);
	if (ret == 0)
		ret = write_copy(io->write, io->ctx, h, 0);
	return ret;
}
