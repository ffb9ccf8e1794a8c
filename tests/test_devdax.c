/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_devdax.c -- the devdax backend on a real device-dax device.
 * Runs where PHEAP_TEST_DAXDEV names one (make check-vm boots a guest with
 * emulated pmem for it); skipped elsewhere.  The device is reformatted,
 * its pheaps destroyed (pending while a peer is attached, free after), and
 * it is unformatted and formatted again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(BASE[0], 0);
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
		{ "reformat needs force", test_reformat },
		{ "destroy: pending while attached, then free", test_destroy },
		{ "unformat: only a free device, never while attached", test_unformat },
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
