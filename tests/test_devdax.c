/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_devdax.c -- the devdax backend on a real device-dax device.
 * Runs where PHEAP_TEST_DAXDEV names one (make check-vm boots a guest with
 * emulated pmem for it); skipped elsewhere.  The device is reformatted.
 */
#include <errno.h>
#include <fcntl.h>
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

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "an unformatted device is left untouched", test_unformatted_untouched },
		{ "format, create, grow to capacity, regrow zero", test_format_create_grow },
		{ "a second process sees grow and shrink", test_second_process },
		{ "reformat needs force", test_reformat },
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
