/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_devdax.c -- the devdax backend on a real device-dax device.
 * Runs where PHEAP_TEST_DAXDEV names one (make check-vm boots a guest with
 * emulated pmem for it); skipped elsewhere.  The device is reformatted.
 * Also the offline calls (pheap_open(3) and co.) on the device: reads
 * through a read-only range mapping under mcsafe_copy (read-only handles
 * too), writes through libpmem2's pwrite_mcsafe, the break -- not the
 * device's size -- bounding them, several threads at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) ((unsigned long)(BASE + (x)))

static const char *devpath;

/* a checksum of the device's first 2 MiB, read through a mapping */
static unsigned long
head_sum(void)
{
	int fd = open(devpath, O_RDONLY);
	unsigned long sum = 0;

	if (fd < 0)
		return 0;
	unsigned char *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	for (size_t i = 0; i < PG; i++)
		sum = sum * 31 + p[i];
	munmap(p, PG);
	return sum;
}

static void
scribble_head(void)
{
	int fd = open(devpath, O_RDWR);

	CU_ASSERT_FATAL(fd >= 0);
	unsigned char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CU_ASSERT_FATAL(p != MAP_FAILED);
	for (size_t i = 0; i < PG; i++)
		p[i] = (unsigned char)(i * 7 + 3);
	msync(p, PG, MS_SYNC);
	munmap(p, PG);
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

static int
kernel_page_2m(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0, ok = 0;

	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "2a0002000000-", 13) == 0)
			in = 1;
		else if (in && strncmp(line, "KernelPageSize:", 15) == 0) {
			ok = strstr(line, " 2048 kB") != NULL;
			break;
		}
	}
	if (f)
		fclose(f);
	return ok;
}

static void
test_format_create_grow(void)
{
	struct pheap_info info;

	CU_ASSERT_EQUAL_FATAL(pheap_format_device(devpath, 0), 0);
	CU_ASSERT_EQUAL(pheap_format_device(devpath, 0), 0);	/* idempotent */
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.backend, PHEAP_BACKEND_DEVDAX);
	CU_ASSERT_STRING_EQUAL(info.path, devpath);
	CU_ASSERT(info.capacity >= 64 * MiB);
	CU_ASSERT_EQUAL(info.capacity % PG, 0);
	CU_ASSERT_EQUAL(info.unsafe_shutdown, 0);
	fprintf(stderr, "(capacity %zu MiB) ", info.capacity >> 20);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT(kernel_page_2m());	/* huge pages, as DAX should */
	/* to the device's capacity, and not a page further */
	CU_ASSERT_EQUAL(pbrk(B(info.capacity)), B(info.capacity));
	BASE[info.capacity - 1] = 7;
	CU_ASSERT_EQUAL(pbrk(B(info.capacity + PG)), -ENOMEM);
	CU_ASSERT_EQUAL(pbrk(0), B(info.capacity));
	/* shrink, then regrow: zero where the old data was */
	memset(BASE + PG, 0x5a, 2 * PG);
	CU_ASSERT_EQUAL(ppersist(BASE + PG, 2 * PG), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT(tu_faults(BASE + PG, 0));
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	size_t nz = 0;
	for (size_t o = PG; o < 3 * PG; o++)
		nz += BASE[o] != 0;
	CU_ASSERT_EQUAL(nz, 0);
	strcpy(BASE, "on devdax");
	/* pchmod reaches the device node, where the kernel enforces it */
	struct stat sb;
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	CU_ASSERT_EQUAL(stat(devpath, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.mode, 0600);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_STRING_EQUAL(BASE, "on devdax");
	CU_ASSERT_EQUAL(pbrk(0), B(3 * PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* one pheap per device */
	CU_ASSERT_EQUAL(pattach("dd2", 3, PHEAP_CREATE), -ENOSPC);
	CU_ASSERT_EQUAL(pattach("dd", 2, PHEAP_CREATE), -EINVAL);
}

static void
test_second_process(void)
{
	CU_ASSERT_EQUAL_FATAL(pattach("dd", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	tu_check_follow("dd", 1);
	CU_ASSERT_EQUAL(pdetach(), 0);
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
	CU_ASSERT_EQUAL(pattach("new", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(BASE[0], 0);	/* not the old pheap's data */
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
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	strcpy(BASE + PG, "dax bytes");
	CU_ASSERT_EQUAL(ppersist(BASE + PG, 10), 0);
	struct pheap_handle *h = open_h("new", 0);

	CU_ASSERT_EQUAL(pheap_pread(h, buf, 10, PG), 10);
	CU_ASSERT_STRING_EQUAL(buf, "dax bytes");
	/* written offline, seen through this process's own DAX mapping */
	CU_ASSERT_EQUAL(pheap_pwrite(h, "offline", 8, 2 * PG + 100), 8);
	CU_ASSERT_STRING_EQUAL(BASE + 2 * PG + 100, "offline");
	/* a range across a 2 MiB unit of the device */
	static char big[PG + 8192];
	CU_ASSERT_EQUAL(pheap_pread(h, big, sizeof(big), PG - 4096),
		(ssize_t)sizeof(big));
	CU_ASSERT_STRING_EQUAL(big + 4096, "dax bytes");
	CU_ASSERT_EQUAL(pheap_pzero(h, PG, 16), 0);
	CU_ASSERT_EQUAL(BASE[PG], 0);
	CU_ASSERT_EQUAL(pheap_stat(h, &st), 0);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(st.backend, PHEAP_BACKEND_DEVDAX);
	CU_ASSERT_STRING_EQUAL(st.path, devpath);
	CU_ASSERT_PTR_EQUAL(st.brk, BASE + 3 * PG);
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

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "an unformatted device is left untouched", test_unformatted_untouched },
		{ "format, create, grow to capacity, regrow zero", test_format_create_grow },
		{ "a second process sees grow and shrink", test_second_process },
		{ "reformat needs force", test_reformat },
		{ "offline: read, write, zero, stat; the break bounds them",
			test_offline },
		{ "offline: threads on one handle", test_offline_threads },
		{ NULL, NULL }
	};

	devpath = getenv("PHEAP_TEST_DAXDEV");
	if (!devpath || !*devpath) {
		printf("test_devdax: PHEAP_TEST_DAXDEV not set (make check-vm "
			"sets it); skipped\n");
		return 77;
	}
	setenv("PHEAP_POOL", devpath, 1);
	return tu_main("devdax", tests);
}
