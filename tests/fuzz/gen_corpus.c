/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gen_corpus.c -- writes the seed corpus of the fuzz targets:
 *   <dir>/header/seed-*  headers made by hdr_encode (fuzz_header's format)
 *   <dir>/pool/seed-*    pools whose files the library itself made with
 *                        pattach and pbrk (fuzz_pool's format)
 * Usage: gen_corpus <dir>   (make fuzz-corpus)
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pheap.h"
#include "header.h"
#include "pool.h"
#include "fuzz_pool.h"

#define PG PHEAP_PAGE_SIZE

static const struct { const char *id; size_t len; } ids[FZ_NIDS] = FZ_IDS_INIT;
static const char *out;

static void
die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s (%s)\n", what, strerror(errno),
		pheap_errormsg());
	exit(1);
}

static void
put(const char *sub, const char *name, const uint8_t *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/seed-%s", out, sub, name);
	f = fopen(path, "we");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f))
		die(path);
}

/* ---- headers: control byte, copy 0, copy 1 ---- */

static struct hdr
sample(void)
{
	struct hdr h;

	memset(&h, 0, sizeof(h));
	h.seq = 3;
	h.base = 0x2a0002000000ULL;
	h.brk = 4 * PG;
	h.capacity = HDR_MAX_SPAN;
	h.data_off = HDR_AREA_SIZE;
	h.ctime_ns = 1700000000000000000ULL;
	h.uid = 1000;
	h.gid = 100;
	h.mode = 0640;
	h.id_len = 6;
	memcpy(h.id, "fuzz-a", 6);
	return h;
}

static void
header_seed(const char *name, uint8_t ctl, const struct hdr *a,
	const struct hdr *b)
{
	uint8_t buf[1 + 2 * HDR_COPY_SIZE];

	buf[0] = ctl;
	hdr_encode(a, buf + 1);
	hdr_encode(b, buf + 1 + HDR_COPY_SIZE);
	put("header", name, buf, sizeof(buf));
}

static void
headers(void)
{
	struct hdr h = sample(), old = sample(), dev = sample();

	header_seed("file", 0x00, &h, &h);
	old.seq = 2;
	old.brk = 2 * PG;
	header_seed("file-older-copy1", 0x40, &h, &old);
	header_seed("file-torn", 0x80, &h, &h);
	/* a 128 MiB devdax, formatted and free, and one with a pheap */
	dev.capacity = 62 * PG;
	dev.brk = 0;
	dev.id_len = 0;
	memset(dev.id, 0, sizeof(dev.id));
	header_seed("devdax-free", 0x10, &dev, &dev);
	dev = sample();
	dev.capacity = 62 * PG;
	header_seed("devdax", 0x10 | 0xc0, &dev, &dev);
	/* a 1 GiB aligned device */
	dev = sample();
	dev.data_off = HDR_MAX_DATA_OFF;
	dev.base = 0x2a0040000000ULL;	/* a unit multiple, as created there */
	header_seed("gib-aligned", 0x20, &dev, &dev);
	/* a 256-byte id; the highest base a full-size heap may have */
	h = sample();
	h.id_len = PHEAP_ID_LEN_LIMIT;
	for (int i = 0; i < PHEAP_ID_LEN_LIMIT; i++)
		h.id[i] = (uint8_t)i;
	h.base = HDR_ADDR_MAX - HDR_MAX_SPAN - HDR_RSV_EXTRA - PG;
	header_seed("long-id-top-base", 0x00, &h, &h);
	/* a destroyed pheap (version 2: flags), beside its live copy */
	h = sample();
	old = sample();
	h.seq = 4;
	h.flags = HDR_F_DESTROYED;
	header_seed("destroyed", 0x00, &h, &h);
	header_seed("destroyed-older-copy1", 0x40, &h, &old);
}

/* ---- pools: files the library made ---- */

struct rec {
	uint8_t buf[4 + 2 * HDR_COPY_SIZE + 16];
	size_t len;
};

/* a record holding the copies and runtime words of the pheap file at path */
static void
record_of(const char *path, uint8_t sel, uint8_t sizesel, struct rec *r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 2 * HDR_COPY_SIZE + 16;

	if (fd < 0)
		die(path);
	r->buf[0] = sel;
	r->buf[1] = sizesel;
	r->buf[2] = (uint8_t)n;
	r->buf[3] = (uint8_t)(n >> 8);
	if (pread(fd, r->buf + 4, HDR_COPY_SIZE, 0) != HDR_COPY_SIZE ||
			pread(fd, r->buf + 4 + HDR_COPY_SIZE, HDR_COPY_SIZE,
				HDR_SLOT_SIZE) != HDR_COPY_SIZE ||
			pread(fd, r->buf + 4 + 2 * HDR_COPY_SIZE, 16,
				HDR_RUNTIME_OFF) != 16)
		die(path);
	close(fd);
	r->len = 4 + n;
}

/* makes pheap i in the pool at break pages, returns its file */
static void
make(const char *dir, int i, unsigned pages, char path[PATH_MAX])
{
	char pn[POOL_NAME_LEN + 1];

	if (pattach(ids[i].id, ids[i].len, PHEAP_CREATE))
		die("pattach");
	if (pages && pbrk((unsigned long)pheap_base() + pages * PG) < 0)
		die("pbrk");
	if (pdetach())
		die("pdetach");
	pool_name(ids[i].id, ids[i].len, pn);
	snprintf(path, PATH_MAX, "%s/%s", dir, pn);
}

static void
pool_seed(const char *name, uint8_t ctl, const struct rec *r, int n)
{
	uint8_t buf[1 + POOL_FUZZ_MAX_FILES * sizeof(r->buf)];
	size_t len = 1;

	buf[0] = ctl;
	for (int i = 0; i < n; i++) {
		memcpy(buf + len, r[i].buf, r[i].len);
		len += r[i].len;
	}
	put("pool", name, buf, len);
}

static void
pools(void)
{
	char dir[] = "/tmp/gen-corpus-XXXXXX";
	char path[PATH_MAX], cmd[PATH_MAX + 16];
	struct rec r[POOL_FUZZ_MAX_FILES];

	if (!mkdtemp(dir))
		die("mkdtemp");
	setenv("PHEAP_POOL", dir, 1);
	make(dir, 0, 1, path);
	record_of(path, 0, FZ_SIZE_BRK, &r[0]);
	pool_seed("one", 0, r, 1);
	pool_seed("one-create-it", FZ_CTL_CREATE_FIRST, r, 1);
	make(dir, 1, 0, path);
	record_of(path, 1, FZ_SIZE_BRK, &r[1]);
	make(dir, 2, 2, path);
	record_of(path, 2, FZ_SIZE_BRK, &r[2]);
	pool_seed("three", 3, r, 3);
	/* the same pheaps beside leftovers and strangers */
	r[3] = r[0];
	r[3].buf[0] = FZ_NAME_TMP;
	r[4] = r[1];
	r[4].buf[0] = FZ_NAME_ZERO | FZ_KIND_FIFO << FZ_KIND_SHIFT;
	r[5] = r[2];
	r[5].buf[0] = FZ_NAME_UPPER;
	pool_seed("mixed", 0, r, 6);
	/* a file one page shorter than its break; id 0's copies under id 2's name */
	r[0].buf[1] = FZ_SIZE_SHORT | 1 << 2;
	r[1] = r[0];
	r[1].buf[0] = 2;
	r[1].buf[1] = FZ_SIZE_AREA | 1 << 2;
	pool_seed("short-and-renamed", 1, r, 2);
	/* the stamp flag: a header for whatever id the name stands for */
	r[0].buf[0] = 3 | FZ_STAMP_ID;
	r[0].buf[1] = FZ_SIZE_BRK;
	pool_seed("stamped-new-id", FZ_NEW_ID, r, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		die("rm");
}

int
main(int argc, char **argv)
{
	char d[PATH_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus <corpus dir>\n");
		return 2;
	}
	out = argv[1];
	unsetenv("PHEAP_BASE");
	snprintf(d, sizeof(d), "%s/header", out);
	mkdir(out, 0755);
	mkdir(d, 0755);
	snprintf(d, sizeof(d), "%s/pool", out);
	mkdir(d, 0755);
	headers();
	pools();
	return 0;
}
