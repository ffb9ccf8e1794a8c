/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_pool.c -- libFuzzer target for the pool scan and pattach: a fresh
 * pool directory per input, filled with the files the input describes
 * (see fuzz_pool.h), under the names the library looks for and some it
 * must ignore.  Then pattach(PHEAP_ATTACH) and (PHEAP_ATTACH |
 * PHEAP_RDONLY) of every id, and PHEAP_CREATE of one.
 *
 * Whatever the files hold, the library must not crash or hang, must
 * return one of its documented errors, and when it attaches it must map
 * exactly [base, break) of the pheap's own file, from the end of the
 * header area, and never beyond the end of the file (that would be a
 * SIGBUS waiting to happen): checked through stat() and /proc/self/maps,
 * and by touching the first and last byte below the break.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "pheap.h"
#include "header.h"
#include "pool.h"
#include "fuzz_pool.h"

#define PG PHEAP_PAGE_SIZE

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: check failed: %s (%s)\n", \
				__FILE__, __LINE__, #cond, pheap_errormsg()); \
			abort(); \
		} \
	} while (0)

static const struct { const char *id; size_t len; } ids[FZ_NIDS] = FZ_IDS_INIT;
static char top[PATH_MAX];	/* where pool directories are made */

/* FUZZ_POOL_STATS=1: how the calls ended, printed at exit */
static unsigned long n_attach[2][128], n_create[128];

static void
print_stats(void)
{
	fprintf(stderr, "fuzz_pool: pattach results (-errno: attach, "
		"attach rdonly, create):\n");
	for (int e = 0; e < 128; e++)
		if (n_attach[0][e] || n_attach[1][e] || n_create[e])
			fprintf(stderr, "  %3d: %lu %lu %lu\n", -e,
				n_attach[0][e], n_attach[1][e], n_create[e]);
}

static void
count(unsigned long *tab, int r)
{
	int e = -r;

	tab[e >= 0 && e < 128 ? e : 127]++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *t = getenv("FUZZ_POOL_TMP");
	struct stat sb;

	(void)argc;
	(void)argv;
	if (!t || !*t)
		t = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ?
			"/dev/shm" : "/tmp";
	snprintf(top, sizeof(top), "%s", t);
	unsetenv("PHEAP_BASE");
	unsetenv("PHEAP_EXEC_ATTACH");
	if (getenv("FUZZ_POOL_STATS"))
		atexit(print_stats);
	return 0;
}

static void
fix_checksum(uint8_t *copy)
{
	uint64_t c = htole64(hdr_checksum(copy, HDR_COPY_SIZE - 8));

	memcpy(copy + HDR_COPY_SIZE - 8, &c, 8);
}

static void
name_of(int sel, char name[PATH_MAX])
{
	char pn[POOL_NAME_LEN + 1];

	switch (sel) {
	case FZ_NAME_TMP:
		pool_name(ids[0].id, ids[0].len, pn);
		snprintf(name, PATH_MAX, ".tmp-99999999-%s", pn);
		break;
	case FZ_NAME_UPPER:
		pool_name(ids[0].id, ids[0].len, pn);
		for (char *p = pn; *p && *p != '.'; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		snprintf(name, PATH_MAX, "%s", pn);
		break;
	case FZ_NAME_JUNK:
		snprintf(name, PATH_MAX, "junk");
		break;
	case FZ_NAME_ZERO:
		snprintf(name, PATH_MAX, "%032d.pheap", 0);
		break;
	default:
		pool_name(ids[sel].id, ids[sel].len, pn);
		snprintf(name, PATH_MAX, "%s", pn);
	}
}

/* plants one record; returns the bytes it used */
static size_t
plant(const char *dir, const uint8_t *rec, size_t avail, char *first_file)
{
	uint8_t copy[HDR_NSLOTS][HDR_COPY_SIZE];
	uint8_t tail[POOL_FUZZ_TAIL];
	char name[PATH_MAX], path[PATH_MAX * 2];
	size_t n, used;
	int sel, kind;

	if (avail < 4)
		return avail;
	sel = rec[0] & 7;
	kind = (rec[0] >> FZ_KIND_SHIFT) & 3;
	n = (size_t)rec[2] | (size_t)rec[3] << 8;
	if (n > avail - 4)
		n = avail - 4;
	used = 4 + n;
	name_of(sel, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (kind == FZ_KIND_FIFO) {
		(void)mkfifo(path, 0644);
		return used;
	}
	if (kind == FZ_KIND_SYMLINK) {
		if (first_file[0])
			(void)symlink(first_file, path);
		else
			(void)mkdir(path, 0755);
		return used;
	}

	memset(copy, 0, sizeof(copy));
	memset(tail, 0, sizeof(tail));
	const uint8_t *p = rec + 4;
	size_t c0 = n < HDR_COPY_SIZE ? n : HDR_COPY_SIZE;
	memcpy(copy[0], p, c0);
	if (n > HDR_COPY_SIZE) {
		size_t c1 = n - HDR_COPY_SIZE;

		memcpy(copy[1], p + HDR_COPY_SIZE, c1 < HDR_COPY_SIZE ? c1 :
			HDR_COPY_SIZE);
	}
	if (n > 2 * HDR_COPY_SIZE) {
		size_t ct = n - 2 * HDR_COPY_SIZE;

		memcpy(tail, p + 2 * HDR_COPY_SIZE, ct < sizeof(tail) ? ct :
			sizeof(tail));
	}
	if ((rec[0] & FZ_STAMP_ID) && sel < FZ_NIDS) {
		uint32_t len = htole32((uint32_t)ids[sel].len);

		for (int s = 0; s < HDR_NSLOTS; s++) {
			memcpy(copy[s] + 84, &len, 4);
			memset(copy[s] + 88, 0, PHEAP_ID_LEN_LIMIT);
			memcpy(copy[s] + 88, ids[sel].id, ids[sel].len);
		}
	}
	if (!(rec[0] & FZ_RAW))
		for (int s = 0; s < HDR_NSLOTS; s++)
			fix_checksum(copy[s]);

	/* the size of the file: small, sparse */
	uint64_t brk0, size;
	memcpy(&brk0, copy[0] + 32, 8);
	brk0 = le64toh(brk0);
	uint64_t pages = (rec[1] >> 2) & 3;
	switch (rec[1] & 3) {
	case FZ_SIZE_AREA:
		size = HDR_AREA_SIZE + pages * PG;
		break;
	case FZ_SIZE_DATA:
		size = n < HDR_COPY_SIZE ? n : n < 2 * HDR_COPY_SIZE ?
			HDR_SLOT_SIZE + n - HDR_COPY_SIZE :
			HDR_NSLOTS * HDR_SLOT_SIZE + n - 2 * HDR_COPY_SIZE;
		break;
	case FZ_SIZE_SHORT:
		size = HDR_AREA_SIZE + pages * PG - 4096;
		break;
	default:
		size = HDR_AREA_SIZE + (brk0 <= 3 * PG ? brk0 : 0);
	}

	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return used;	/* the same name twice: the first one stays */
	CHECK(ftruncate(fd, (off_t)size) == 0);
	for (int s = 0; s < HDR_NSLOTS; s++)
		if ((uint64_t)s * HDR_SLOT_SIZE < size)
			CHECK(pwrite(fd, copy[s], HDR_COPY_SIZE,
				s * HDR_SLOT_SIZE) == HDR_COPY_SIZE);
	if (HDR_RUNTIME_OFF < size)
		CHECK(pwrite(fd, tail, sizeof(tail), HDR_RUNTIME_OFF) ==
			(ssize_t)sizeof(tail));
	/* writes past a short size grew the file: put the size back */
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
	if (!first_file[0])
		snprintf(first_file, PATH_MAX, "%s", path);
	return used;
}

static void
remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX * 2];

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path))
			CHECK(rmdir(path) == 0);
	}
	closedir(d);
	CHECK(rmdir(dir) == 0);
}

/* every byte of [lo, hi) is mapped from the file (dev, ino) at off + (a - lo) */
static int
mapped_from(uintptr_t lo, uintptr_t hi, dev_t dev, ino_t ino, uint64_t off)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 256];
	uintptr_t at = lo;

	CHECK(f != NULL);
	while (at < hi && fgets(line, sizeof(line), f)) {
		uintptr_t s, e;
		unsigned long long o, inode;
		unsigned maj, min;
		char perm[8];

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %x:%x %llu",
				&s, &e, perm, &o, &maj, &min, &inode) != 7)
			continue;
		if (e <= at || s > at)
			continue;
		if (makedev(maj, min) != dev || inode != ino ||
				o + (at - s) != off + (at - lo) || perm[0] != 'r')
			break;
		at = e;
	}
	fclose(f);
	return at >= hi;
}

static void
check_attached(size_t i, int rdonly, const char *dir)
{
	struct pheap_info info;
	struct stat sb;
	char want[PATH_MAX * 2], pn[POOL_NAME_LEN + 1];
	char *base = pheap_base();

	CHECK(base != NULL);
	CHECK(pheap_info(&info) == 0);
	CHECK(info.base == base);
	CHECK(info.id_len == ids[i].len && !memcmp(info.id, ids[i].id, info.id_len));
	CHECK(info.rdonly == rdonly);
	CHECK(info.mode <= 0777);
	CHECK(info.backend == PHEAP_BACKEND_FILE || info.backend == PHEAP_BACKEND_FSDAX);
	/* the file the id's name points at, nothing else */
	pool_name(ids[i].id, ids[i].len, pn);
	snprintf(want, sizeof(want), "%s/%s", dir, pn);
	CHECK(strcmp(info.path, want) == 0);

	long brk = pbrk(0);
	CHECK(brk == (long)(uintptr_t)info.brk);
	uint64_t len = (uint64_t)((char *)info.brk - base);
	CHECK((char *)info.brk >= base && len % PG == 0);
	CHECK(len <= info.capacity && info.capacity <= HDR_MAX_SPAN);
	CHECK((uintptr_t)base % PG == 0 && (uintptr_t)base >= HDR_ADDR_MIN);
	CHECK((uintptr_t)base + len <= HDR_ADDR_MAX);
	/* the heap lies inside its file: no mapping beyond its end */
	CHECK(stat(info.path, &sb) == 0 && S_ISREG(sb.st_mode));
	CHECK((uint64_t)sb.st_size >= HDR_AREA_SIZE + len);
	if (len) {
		CHECK(mapped_from((uintptr_t)base, (uintptr_t)base + len,
			sb.st_dev, sb.st_ino, HDR_AREA_SIZE));
		volatile char *first = base, *last = base + len - 1;
		char a = *first, b = *last;

		if (!rdonly) {
			*first = a;
			*last = b;
		}
	}
	CHECK(ppersist(base, len ? 1 : 0) == 0);
}

static void
attach_all(const char *dir)
{
	for (size_t i = 0; i < FZ_NIDS; i++) {
		for (int rdonly = 0; rdonly < 2; rdonly++) {
			int r = pattach(ids[i].id, ids[i].len,
				PHEAP_ATTACH | (rdonly ? PHEAP_RDONLY : 0));
			count(n_attach[rdonly], r);

			CHECK(r == 0 || r == -EINVAL || r == -EUCLEAN ||
				r == -EEXIST || r == -EACCES || r == -ENOMEM ||
				r == -EIO);
			if (r) {
				CHECK(pheap_base() == NULL);
				CHECK(pheap_errormsg()[0] != '\0');
				continue;
			}
			check_attached(i, rdonly, dir);
			CHECK(pdetach() == 0);
			CHECK(pheap_base() == NULL);
		}
	}
}

static void
create_one(size_t i, const char *dir)
{
	int r = pattach(ids[i].id, ids[i].len, PHEAP_CREATE);

	count(n_create, r);
	CHECK(r == 0 || r == -EINVAL || r == -ENOSPC || r == -EEXIST);
	if (r) {
		CHECK(pheap_base() == NULL);
		return;
	}
	CHECK(pbrk(0) == (long)(uintptr_t)pheap_base());
	check_attached(i, 0, dir);
	CHECK(pdetach() == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[PATH_MAX], first_file[PATH_MAX] = "";
	uint8_t ctl = size ? data[0] : 0;
	size_t off = 1;

	snprintf(dir, sizeof(dir), "%s/fuzz-pool-XXXXXX", top);
	CHECK(mkdtemp(dir) != NULL);
	setenv("PHEAP_POOL", dir, 1);
	for (int k = 0; k < POOL_FUZZ_MAX_FILES && off < size; k++)
		off += plant(dir, data + off, size - off, first_file);
	if (ctl & FZ_CTL_CREATE_FIRST) {
		create_one(ctl & 3, dir);
		attach_all(dir);
	} else {
		attach_all(dir);
		create_one(ctl & 3, dir);
	}
	remove_dir(dir);
	return 0;
}
