/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_devdax.c -- the devdax backend on a real device-dax device, 2 MiB or
 * 1 GiB aligned: the device's own alignment (sysfs) is the unit, and says
 * which cases run.  Runs where PHEAP_TEST_DAXDEV names one (make check-vm
 * boots a guest with emulated pmem for each alignment); skipped elsewhere.
 * The device is reformatted.
 *
 * On a 1 GiB device the kernel maps only whole units: the heap's mapping
 * goes on past the break to the next 1 GiB boundary (the tail), which reads
 * as zero, is not heap, and is zeroed by every grow into it.  "the kernel
 * maps a 1 GiB device in whole units" measures, without the library, what
 * Linux permits inside such a mapping: the library's choice rests on it.
 * Linked with the test build (testhook.h) for one crash point: a shrink
 * killed before it zeroed the tail.
 * Also the offline calls (pheap_open(3) and co.) on the device: reads
 * through a read-only range mapping under mcsafe_copy (read-only handles
 * too), writes through libpmem2's pwrite_mcsafe, the break -- not the
 * device's size -- bounding them, several threads at once.  And its pheaps
 * destroyed (pending while a peer is attached, free after), the device
 * unformatted and formatted again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "testhook.h"
#include "util.h"

#define DEFAULT_BASE 0x2a0002000000UL	/* POOL_DEFAULT_BASE */
#define B(x) ((unsigned long)(base + (x)))

static const char *devpath;
static uint64_t unit;		/* the device's alignment: 2 MiB or 1 GiB */
static char *base;		/* pheap_base() of the pheap attached last */

static uint64_t
round_unit(uint64_t v)
{
	return (v + unit - 1) & ~(unit - 1);
}

/* the alignment the kernel maps the device in; 0 if unknown */
static uint64_t
dev_align(void)
{
	unsigned long long a = 0;
	struct stat sb;
	char p[96];
	FILE *f;

	if (stat(devpath, &sb))
		return 0;
	snprintf(p, sizeof(p), "/sys/dev/char/%u:%u/align",
		major(sb.st_rdev), minor(sb.st_rdev));
	f = fopen(p, "r");
	if (f && fscanf(f, "%llu", &a) != 1)
		a = 0;
	if (f)
		fclose(f);
	return a && a < PG ? PG : a;	/* a 4 KiB device is used as 2 MiB */
}

/* the device's first unit (header area), mapped; NULL if it cannot be */
static unsigned char *
map_head(int prot)
{
	int fd = open(devpath, prot & PROT_WRITE ? O_RDWR : O_RDONLY);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, unit, prot, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* a checksum of the device's first 2 MiB */
static unsigned long
head_sum(void)
{
	unsigned char *p = map_head(PROT_READ);
	unsigned long sum = 0;

	if (!p)
		return 0;
	for (size_t i = 0; i < PG; i++)
		sum = sum * 31 + p[i];
	munmap(p, unit);
	return sum;
}

static void
scribble_head(void)
{
	unsigned char *p = map_head(PROT_READ | PROT_WRITE);

	CU_ASSERT_FATAL(p != NULL);
	for (size_t i = 0; i < PG; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	msync(p, PG, MS_SYNC);
	munmap(p, unit);
}

/*
 * 1 if the heap holds byte c all over [off, off + len): every word of a
 * range up to 8 MiB, one word a page of a larger one (a whole GiB scanned
 * word by word takes seconds under the VM's emulation)
 */
static int
holds(uint64_t off, uint64_t len, unsigned char c)
{
	uint64_t w;
	size_t step = len <= 8 * MiB ? sizeof(w) : 4096;

	memset(&w, c, sizeof(w));
	for (uint64_t o = 0; o + sizeof(w) <= len; o += step)
		if (*(volatile uint64_t *)(base + off + o) != w)
			return 0;
	return len < sizeof(w) ||
		*(volatile uint64_t *)(base + off + len - sizeof(w)) == w;
}

static void
fill(uint64_t off, uint64_t len, unsigned char c)
{
	memset(base + off, c, len);
	CU_ASSERT_EQUAL(ppersist(base + off, len), 0);
}

/* the mapping past the break brk: the tail up to the unit boundary reads
 * as zero (none with 2 MiB units), and the unit after it faults */
static int
tail_ok(uint64_t brk)
{
	uint64_t end = round_unit(brk);

	if (end > brk && (tu_faults(base + brk, 0) || !holds(brk, end - brk, 0)))
		return 0;
	return tu_faults(base + end, 0);
}

/* KernelPageSize of the heap's mapping, in kB */
static unsigned long
kernel_page_kib(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256], start[32];
	unsigned long kib = 0;
	int in = 0;

	snprintf(start, sizeof(start), "%lx-", (unsigned long)base);
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, start, strlen(start)) == 0)
			in = 1;
		else if (in && sscanf(line, "KernelPageSize: %lu kB", &kib) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kib;
}

static void
test_unformatted_untouched(void)
{
	scribble_head();
	unsigned long before = head_sum();

	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_CREATE), -ENOSPC);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_ATTACH), -EINVAL);
	CU_ASSERT_EQUAL(head_sum(), before);
	CU_ASSERT_EQUAL(pheap_format_device("/dev/null", 0), -EUCLEAN);
}

/* shrink, then regrow: zero where the old data was */
static void
shrink_regrow_zero(void)
{
	fill(PG, 2 * PG, 0x5a);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	/* beyond the break: unmapped, or on a 1 GiB device the tail, zero */
	CU_ASSERT(tail_ok(PG));
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	CU_ASSERT(holds(PG, 2 * PG, 0));
}

static void
test_format_create_grow(void)
{
	struct pheap_info info;

	CU_ASSERT_EQUAL_FATAL(pheap_format_device(devpath, 0), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, 0), 0);	/* idempotent */
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_CREATE), 0);
	base = pheap_base();
	/* the default base, rounded up to the unit */
	CU_ASSERT_EQUAL((uint64_t)(uintptr_t)base, round_unit(DEFAULT_BASE));
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.backend, PHEAP_BACKEND_DEVDAX);
	CU_ASSERT_STRING_EQUAL(info.path, devpath);
	CU_ASSERT(info.capacity >= 64 * MiB);
	CU_ASSERT_EQUAL(info.capacity % unit, 0);
	CU_ASSERT_EQUAL(info.unsafe_shutdown, 0);
	fprintf(stderr, "(unit %lu MiB, base %p, capacity %zu MiB) ",
		(unsigned long)(unit >> 20), (void *)base, info.capacity >> 20);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	/* huge pages of the device's alignment, as DAX should */
	CU_ASSERT_EQUAL(kernel_page_kib(), unit >> 10);
	/* to the device's capacity, and not a page further */
	CU_ASSERT_EQUAL(pbrk(B(info.capacity)), B(info.capacity));
	base[info.capacity - 1] = 7;
	CU_ASSERT_EQUAL(pbrk(B(info.capacity + PG)), -ENOMEM);
	CU_ASSERT_EQUAL(pbrk(0), B(info.capacity));
	shrink_regrow_zero();
	strcpy(base, "on devdax");
	/* pchmod reaches the device node, where the kernel enforces it */
	struct stat sb;
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	CU_ASSERT_EQUAL(stat(devpath, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.mode, 0600);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_STRING_EQUAL(base, "on devdax");
	CU_ASSERT_EQUAL(pbrk(0), B(3 * PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* one pheap per device */
	CU_ASSERT_EQUAL(pattach("dd2", 3, PHEAP_CREATE), -ENOSPC);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_CREATE), -EINVAL);
}

/* 1 GiB: another process, attached on its own, follows across units */
static void
gib_follow(void)
{
	struct tu_peer p;

	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, "dd", 0), 0);
	/* it maps the first unit: the tail reads zero, the next unit faults */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'g', 2 * PG), 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'r', unit), 1);
	/* a grow across the boundary reaches it, data and zeroed tail */
	CU_ASSERT_EQUAL(pbrk(B(unit + PG)), B(unit + PG));
	base[unit + 64] = 0x42;
	base[PG + 5] = 9;
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'g', unit + 64), 0x42);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'g', PG + 5), 9);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'g', unit + 2 * PG), 0);
	/* its shrink reaches us: the second unit goes, the tail reads zero */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(PG)), (long)B(PG));
	CU_ASSERT(tu_touch_faults(base + unit, 0));
	CU_ASSERT_EQUAL(base[PG + 5], 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'r', unit), 1);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'g', PG + 5), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
}

static void
test_second_process(void)
{
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	base = pheap_base();
	if (unit == PG) {
		CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
		tu_check_follow("dd", 1);
	} else {
		gib_follow();
	}
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/*
 * 1 GiB: the break crosses a unit boundary both ways; what is written past
 * it is not heap (zeroed by the next grow); a shrink leaves zero behind it
 */
static void
test_gib_boundary(void)
{
	const uint64_t U = unit;

	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(B(U - PG)), B(U - PG));
	fill(U - 3 * PG, PG, 0x11);		/* kept throughout */
	fill(U - 2 * PG, PG, 0x33);		/* shrunk away later */
	CU_ASSERT(tail_ok(U - PG));
	memset(base + U - PG, 0x77, PG);	/* past the break */
	CU_ASSERT_EQUAL(pbrk(B(U + PG)), B(U + PG));
	CU_ASSERT(holds(U - 3 * PG, PG, 0x11));
	CU_ASSERT(holds(U - 2 * PG, PG, 0x33));
	CU_ASSERT(holds(U - PG, 2 * PG, 0));	/* the write past it: gone */
	CU_ASSERT(tail_ok(U + PG));		/* the new unit's tail */
	CU_ASSERT_EQUAL(kernel_page_kib(), U >> 10);
	fill(U - PG, 2 * PG, 0x22);		/* across the boundary */
	/* below the boundary: the second unit goes, its data with it */
	CU_ASSERT_EQUAL(pbrk(B(U - 2 * PG)), B(U - 2 * PG));
	CU_ASSERT(holds(U - 3 * PG, PG, 0x11));
	CU_ASSERT(tail_ok(U - 2 * PG));		/* 0x33 and 0x22: zero */
	/* a regrow inside the mapped unit zeroes what was written there */
	memset(base + U - 2 * PG, 0x77, PG);
	CU_ASSERT_EQUAL(pbrk(B(U - PG)), B(U - PG));
	CU_ASSERT(holds(U - 2 * PG, PG, 0));
	CU_ASSERT(tail_ok(U - PG));
	/* the next attach maps the same: data, zero tail, nothing after */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(U - PG));
	CU_ASSERT(holds(U - 3 * PG, PG, 0x11));
	CU_ASSERT(holds(U - 2 * PG, PG, 0));
	CU_ASSERT(tail_ok(U - PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/* 1 if the device holds byte c all over heap bytes [off, off + len) of the
 * first unit, read without the library */
static int
device_holds(uint64_t off, uint64_t len, unsigned char c)
{
	int fd = open(devpath, O_RDONLY);
	unsigned char *p;
	int ok = 1;

	if (fd < 0)
		return 0;
	p = mmap(NULL, unit, PROT_READ, MAP_SHARED, fd, (off_t)unit);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	for (uint64_t o = off; o < off + len && ok; o++)
		ok = p[o] == c;
	munmap(p, unit);
	return ok;
}

/* a child: learns which crash point of its shrink zeroes the tail, then
 * shrinks again and is killed there (SIGKILL) */
static int
shrink_dies_before_zero(void *arg)
{
	const uint64_t U = unit;
	unsigned long k = 0;

	(void)arg;
	if (pattach("dd", 2, PHEAP_ATTACH))
		return 1;
	base = pheap_base();
	if (pbrk(B(U - PG)) != (long)B(U - PG))
		return 1;
	testhook_crash_at(0);
	if (pbrk(B(U - 2 * PG)) != (long)B(U - 2 * PG))
		return 2;
	for (unsigned long i = 0; i < testhook_count() && !k; i++)
		if (strcmp(testhook_trace(i), "rsv.zero") == 0)
			k = i + 1;
	if (!k || pbrk(B(U - PG)) != (long)B(U - PG))
		return 3;
	memset(base + U - 2 * PG, 0x44, PG);
	if (ppersist(base + U - 2 * PG, PG))
		return 4;
	testhook_crash_at(k);
	pbrk(B(U - 2 * PG));
	return 5;
}

/*
 * 1 GiB: a shrink killed after its new break is durable but before it
 * zeroed the tail: the next read-write attach finishes its round, and
 * zeroes the tail first
 */
static void
test_gib_killed_shrink(void)
{
	const uint64_t U = unit;

	CU_ASSERT_EQUAL(tu_child(shrink_dies_before_zero, NULL), 128 + SIGKILL);
	/* the heap's old bytes, past the durable break now */
	CU_ASSERT(device_holds(U - 2 * PG, PG, 0x44));
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(U - 2 * PG));
	CU_ASSERT(holds(U - 3 * PG, PG, 0x11));
	CU_ASSERT(tail_ok(U - 2 * PG));
	CU_ASSERT(device_holds(U - 2 * PG, PG, 0));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static const char *
said(int err)
{
	return err ? strerror(err) : "allowed";
}

/*
 * What Linux permits inside a 1 GiB device-dax mapping, without the
 * library: the ground for mapping whole units and leaving the tail
 * accessible (see reservation.c)
 */
static void
test_gib_kernel_units(void)
{
	int fd = open(devpath, O_RDONLY);

	CU_ASSERT_FATAL(fd >= 0);
	char *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, (off_t)unit);
	int e_small = p == MAP_FAILED ? errno : 0;

	if (p != MAP_FAILED)
		munmap(p, PG);
	p = mmap(NULL, unit, PROT_READ, MAP_SHARED, fd, (off_t)unit);
	close(fd);
	CU_ASSERT_FATAL(p != MAP_FAILED);
	char *tail = p + unit - PG;
	int e_prot = mprotect(tail, PG, PROT_NONE) ? errno : 0;
	int e_unmap = munmap(tail, PG) ? errno : 0;
	int e_fixed = mmap(tail, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED ? errno : 0;
	int e_dontneed = madvise(tail, PG, MADV_DONTNEED) ? errno : 0;
	int e_whole = mprotect(p, unit, PROT_NONE) ? errno : 0;

	fprintf(stderr, "\n    measured, a 1 GiB devdax mapping: mmap of 2 MiB: "
		"%s; of 2 MiB at its end: mprotect PROT_NONE: %s, munmap: %s, "
		"mmap MAP_FIXED over it: %s, MADV_DONTNEED: %s; mprotect "
		"PROT_NONE of the whole unit: %s\n    ", said(e_small),
		said(e_prot), said(e_unmap), said(e_fixed), said(e_dontneed),
		said(e_whole));
	CU_ASSERT_EQUAL(e_small, EINVAL);
	CU_ASSERT_NOT_EQUAL(e_prot, 0);
	CU_ASSERT_NOT_EQUAL(e_unmap, 0);
	CU_ASSERT_NOT_EQUAL(e_fixed, 0);
	CU_ASSERT_EQUAL(e_whole, 0);
	CU_ASSERT(tu_faults(tail, 0));		/* the whole unit: it works */
	munmap(p, unit);
}

static void
test_reformat(void)
{
	/* udev resets node modes at boot: attach puts the header's back */
	struct stat sb;
	CU_ASSERT_EQUAL(chmod(devpath, 0666), 0);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_ATTACH | PHEAP_RDONLY), 0);
	CU_ASSERT_EQUAL(stat(devpath, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pdetach(), 0);

	CU_ASSERT_EQUAL(pheap_format_device(devpath, 0), -EEXIST);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_ATTACH), 0);	/* still there */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, PHEAP_FORMAT_FORCE), 0);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_ATTACH), -EINVAL);
	/* PHEAP_BASE, rounded up to the unit */
	setenv("PHEAP_BASE", "0x2b0000200000", 1);
	CU_ASSERT_EQUAL(pattach("new", 3, PHEAP_CREATE), 0);
	unsetenv("PHEAP_BASE");
	base = pheap_base();
	CU_ASSERT_EQUAL((uint64_t)(uintptr_t)base, round_unit(0x2b0000200000));
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	/* not the old pheap's data: neither in the heap nor past it */
	CU_ASSERT(holds(0, PG, 0));
	CU_ASSERT(tail_ok(PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static struct pheap_handle *
open_h(const char *id, unsigned long flags)
{
	struct pheap_handle *h = NULL;

	CU_ASSERT_EQUAL_FATAL(pheap_open(id, strlen(id), flags, &h), 0);
	return h;
}

static void
test_offline(void)
{
	struct pheap_info info, st;
	char buf[16];

	CU_ASSERT_EQUAL_FATAL(pattach("new", 3, PHEAP_ATTACH), 0);
	base = pheap_base();
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	strcpy(base + PG, "dax bytes");
	CU_ASSERT_EQUAL(ppersist(base + PG, 10), 0);
	struct pheap_handle *h = open_h("new", 0);

	CU_ASSERT_EQUAL(pheap_pread(h, buf, 10, PG), 10);
	CU_ASSERT_STRING_EQUAL(buf, "dax bytes");
	/* written offline, seen through this process's own DAX mapping */
	CU_ASSERT_EQUAL(pheap_pwrite(h, "offline", 8, 2 * PG + 100), 8);
	CU_ASSERT_STRING_EQUAL(base + 2 * PG + 100, "offline");
	/* a range across a 2 MiB unit of the device */
	static char big[PG + 8192];
	CU_ASSERT_EQUAL(pheap_pread(h, big, sizeof(big), PG - 4096),
		(ssize_t)sizeof(big));
	CU_ASSERT_STRING_EQUAL(big + 4096, "dax bytes");
	CU_ASSERT_EQUAL(pheap_pzero(h, PG, 16), 0);
	CU_ASSERT_EQUAL(base[PG], 0);
	CU_ASSERT_EQUAL(pheap_stat(h, &st), 0);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(st.backend, PHEAP_BACKEND_DEVDAX);
	CU_ASSERT_STRING_EQUAL(st.path, devpath);
	CU_ASSERT_PTR_EQUAL(st.brk, base + 3 * PG);
	CU_ASSERT_EQUAL(st.capacity, info.capacity);
	/* the device does not shrink: the break bounds the calls */
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, 3 * PG), -ERANGE);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, 2 * PG), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pwrite(h, "x", 1, 2 * PG), -ERANGE);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* read-only handles read too (libpmem2's pread_mcsafe could not) */
	struct pheap_handle *ro = open_h("new", PHEAP_RDONLY);

	CU_ASSERT_EQUAL(pheap_pread(ro, buf, 4, 0), 4);
	CU_ASSERT_EQUAL(pheap_pwrite(ro, "x", 1, 0), -EACCES);
	CU_ASSERT_EQUAL(pheap_close(ro), 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

static void *
dax_reader(void *arg)
{
	struct pheap_handle *h = arg;
	char buf[4096];
	long bad = 0;

	for (int i = 0; i < 100; i++)
		bad += pheap_pread(h, buf, sizeof(buf), (i % 16) * 4096) != 4096
			|| buf[0] != 'T';
	return (void *)bad;
}

static void
test_offline_threads(void)
{
	pthread_t th[4];
	static char fill[16 * 4096];
	struct pheap_handle *h = open_h("new", 0);

	memset(fill, 'T', sizeof(fill));
	CU_ASSERT_EQUAL(pheap_pwrite(h, fill, sizeof(fill), 0),
		(ssize_t)sizeof(fill));
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, dax_reader, h);
	for (int i = 0; i < 4; i++) {
		void *bad;

		pthread_join(th[i], &bad);
		CU_ASSERT_EQUAL((long)bad, 0);
	}
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* the state pheap_pool_stat gives the device, and its attached count; or
 * pheap_pool_stat's error */
static int
dev_state(int *attached)
{
	struct pheap_entry st;
	int ret = pheap_pool_stat(devpath, &st);

	if (ret)
		return ret;
	if (attached)
		*attached = st.attached;
	return st.state;
}

static int
nop(const struct pheap_entry *st, void *arg)
{
	(void)st;
	(void)arg;
	return 0;
}

/* destroyed while attached: pending, then free when the peer detaches,
 * or when it is killed and the pool is looked at */
static void
test_destroy(void)
{
	struct tu_peer p;
	int att = 0;

	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, "new", 0), 0);
	CU_ASSERT_EQUAL(pheap_destroy("new", 3, 0), 1);
	CU_ASSERT_EQUAL(dev_state(&att), PHEAP_STATE_DESTROYED);
	CU_ASSERT_EQUAL(att, 1);
	CU_ASSERT_EQUAL(pattach("new", 3, PHEAP_ATTACH), -EINVAL);
	CU_ASSERT_EQUAL(pattach("x", 1, PHEAP_CREATE), -ENOSPC);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(2 * PG)), (long)B(2 * PG));
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'd', 0), 0);	/* frees it */
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
	CU_ASSERT_EQUAL(dev_state(NULL), PHEAP_STATE_FREE);
	CU_ASSERT_EQUAL_FATAL(pattach("x", 1, PHEAP_CREATE), 0);
	base = pheap_base();
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(base[0], 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, "x", 1), 0);
	CU_ASSERT_EQUAL(pheap_destroy("x", 1, 0), 1);
	kill(p.pid, SIGKILL);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 128 + SIGKILL);
	CU_ASSERT_EQUAL(dev_state(NULL), PHEAP_STATE_DESTROYED);
	CU_ASSERT_EQUAL(pheap_pool_list(nop, NULL, 0), 0);	/* a look */
	CU_ASSERT_EQUAL(dev_state(NULL), PHEAP_STATE_FREE);
}

/* unformat: a free device leaves the pool; one in use only by force,
 * and never while attached */
static void
test_unformat(void)
{
	struct tu_peer p;

	CU_ASSERT_EQUAL_FATAL(pattach("u", 1, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, PHEAP_FORMAT_CLEAR),
		-EEXIST);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, "u", 0), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, PHEAP_FORMAT_CLEAR |
		PHEAP_FORMAT_FORCE), -EBUSY);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
	CU_ASSERT_EQUAL(pheap_destroy("u", 1, 0), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, PHEAP_FORMAT_CLEAR), 0);
	CU_ASSERT_EQUAL(dev_state(NULL), -ENODATA);
	CU_ASSERT_EQUAL(pattach("u", 1, PHEAP_CREATE), -ENOSPC);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, PHEAP_FORMAT_CLEAR), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, 0), 0);
	CU_ASSERT_EQUAL(dev_state(NULL), PHEAP_STATE_FREE);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "an unformatted device is left untouched", test_unformatted_untouched },
		{ "format, create, grow to capacity, regrow zero", test_format_create_grow },
		{ "a second process sees grow and shrink", test_second_process },
		{ "1 GiB: across the unit boundary, the tail past the break", test_gib_boundary },
		{ "1 GiB: a shrink killed before zeroing the tail", test_gib_killed_shrink },
		{ "1 GiB: the kernel maps the device in whole units", test_gib_kernel_units },
		{ "reformat needs force", test_reformat },
		{ "offline: read, write, zero, stat; the break bounds them",
			test_offline },
		{ "offline: threads on one handle", test_offline_threads },
		{ "destroy: pending while attached, then free", test_destroy },
		{ "unformat: only a free device, never while attached", test_unformat },
	};
	const size_t ntests = sizeof(tests) / sizeof(tests[0]);
	struct tu_test run[sizeof(tests) / sizeof(tests[0]) + 1];
	size_t n = 0;

	devpath = getenv("PHEAP_TEST_DAXDEV");
	if (!devpath || !*devpath) {
		printf("test_devdax: PHEAP_TEST_DAXDEV not set (make check-vm "
			"sets it); skipped\n");
		return 77;
	}
	unit = dev_align();
	if (unit != PG && unit != (1UL << 30)) {
		printf("test_devdax: %s: alignment %#lx unknown\n", devpath,
			(unsigned long)unit);
		return 1;
	}
	/* the 1 GiB cases on a 1 GiB device only */
	for (size_t i = 0; i < ntests; i++)
		if (unit > PG || strncmp(tests[i].name, "1 GiB:", 6) != 0)
			run[n++] = tests[i];
	run[n] = (struct tu_test){ NULL, NULL };
	setenv("PHEAP_POOL", devpath, 1);
	return tu_main("devdax", run);
}
