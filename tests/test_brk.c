/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_brk.c -- pbrk and persistence: rounding, shrink to 0, regrown
 * memory reads zero, capacity, populated mappings, data that survives
 * detach and kill -9, ppersist.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) ((unsigned long)(BASE + (x)))

static long
minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* faults taken reading (or writing) one byte of every 4 KiB page */
static long
sweep_faults(char *p, size_t len, int write)
{
	long before = minflt();

	for (size_t o = 0; o < len; o += 4096) {
		if (write)
			((volatile char *)p)[o] = 1;
		else
			(void)((volatile char *)p)[o];
	}
	return minflt() - before;
}

static void
test_rounding(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("r", 1, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(0));
	CU_ASSERT_EQUAL(pbrk(B(0) - 1), B(0));		/* below base: query */
	CU_ASSERT_EQUAL(pbrk(B(1)), B(PG));		/* rounds up */
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));		/* exact */
	CU_ASSERT_EQUAL(pbrk(B(PG + 1)), B(2 * PG));
	CU_ASSERT_EQUAL(pbrk(B(5 * PG - 4096)), B(5 * PG));
	CU_ASSERT_EQUAL(pbrk(0), B(5 * PG));
	CU_ASSERT_EQUAL(pbrk(B(3 * PG - 7)), B(3 * PG));	/* shrink rounds too */
	CU_ASSERT(tu_faults(BASE + 3 * PG, 0));
	CU_ASSERT_FALSE(tu_faults(BASE + 3 * PG - 1, 1));
	CU_ASSERT_EQUAL(pbrk(B(0)), B(0));		/* shrink to 0 */
	CU_ASSERT(tu_faults(BASE, 0));
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_PTR_EQUAL(info.brk, BASE);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(info.path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 2 * MiB);		/* storage freed */
	/* beyond PHEAP_MAX_PAGES or the capacity: ENOMEM, break unchanged */
	CU_ASSERT_EQUAL(pbrk(B(PHEAP_MAX_PAGES * PG + 1)), -ENOMEM);
	/*
	 * info.capacity is the free space of a shared file system when
	 * pheap_info ran: if it grew since, this pbrk succeeds, fallocating
	 * and populating all of it.  Under valgrind seconds pass in between
	 * and that happened (79 GiB); test_full_fs checks the same on a
	 * tmpfs of its own.
	 */
	if (!tu_valgrind())
		CU_ASSERT_EQUAL(pbrk(B(info.capacity + PG)), -ENOMEM);
	CU_ASSERT_EQUAL(pbrk(~0UL), -ENOMEM);
	CU_ASSERT_EQUAL(pbrk(0), B(0));
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_zero_after_regrow(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("z", 1, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pbrk(B(4 * PG)), B(4 * PG));
	memset(BASE, 0xa5, 4 * PG);
	CU_ASSERT_EQUAL(ppersist(BASE, 4 * PG), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pbrk(B(4 * PG)), B(4 * PG));
	CU_ASSERT_EQUAL((unsigned char)BASE[PG - 1], 0xa5);	/* kept */
	size_t nz = 0;
	for (size_t o = PG; o < 4 * PG; o++)
		nz += BASE[o] != 0;
	CU_ASSERT_EQUAL(nz, 0);
	/* and the same after shrinking to 0 */
	CU_ASSERT_EQUAL(pbrk(B(0)), B(0));
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(BASE[0], 0);
	CU_ASSERT_EQUAL(BASE[PG - 1], 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/*
 * Storage beyond the break with old contents -- what a shrink leaves when
 * power is lost between its header write and its trim (the runtime page
 * that says a round is pending is not durable) -- never comes back: a grow
 * discards it and reads zero.
 */
static void
test_zero_over_stale_storage(void)
{
	static char junk[64 * 1024];
	int fd;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("zs", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pbrk(B(PG)), B(PG));
	memset(junk, 0x5a, sizeof(junk));
	fd = open(tu_path(), O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	for (size_t o = 0; o < 2 * PG; o += sizeof(junk))
		CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk),
			(off_t)(2 * MiB + PG + o)), (ssize_t)sizeof(junk));
	close(fd);
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	size_t nz = 0;
	for (size_t o = PG; o < 3 * PG; o++)
		nz += BASE[o] != 0;
	CU_ASSERT_EQUAL(nz, 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/* number of 4 KiB pages in [p, p + len) with no page-table entry */
static long
absent_pages(char *p, size_t len)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	long absent = 0;

	if (fd < 0)
		return -1;
	for (size_t o = 0; o < len; o += 4096) {
		uint64_t e = 0;
		off_t at = (off_t)(((uintptr_t)p + o) / 4096 * 8);

		if (pread(fd, &e, 8, at) != 8 || !(e >> 63))
			absent++;
	}
	close(fd);
	return absent;
}

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_FAULTS 0	/* ASan's shadow memory takes faults of its own */
#else
/* and so do valgrind's shadow memory and translations under valgrind */
#define COUNT_FAULTS (!tu_valgrind())
#endif

static void
test_populated(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("pop", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pbrk(B(16 * PG)), B(16 * PG));
	/* grown memory: page-table entries present and writable */
	CU_ASSERT_EQUAL(absent_pages(BASE, 16 * PG), 0);
	if (COUNT_FAULTS)
		CU_ASSERT(sweep_faults(BASE, 16 * PG, 1) < 16);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pattach("pop", 3, PHEAP_ATTACH), 0);
	/* after attach: reading takes no fault */
	CU_ASSERT_EQUAL(absent_pages(BASE, 16 * PG), 0);
	if (COUNT_FAULTS)
		CU_ASSERT(sweep_faults(BASE, 16 * PG, 0) < 16);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* control: the sweep does count faults on an unpopulated mapping */
	char *p = mmap(NULL, 16 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(p, 16 * PG, MADV_NOHUGEPAGE);
	CU_ASSERT(absent_pages(p, 16 * PG) > 1000);
	if (COUNT_FAULTS)
		CU_ASSERT(sweep_faults(p, 16 * PG, 0) > 1000);
	munmap(p, 16 * PG);
}

static void
test_survives_detach(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("keep", 4, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), B(3 * PG));
	for (size_t i = 0; i < 3 * PG; i += 4096)
		BASE[i] = (char)(i >> 12);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT(tu_faults(BASE, 0));
	CU_ASSERT_EQUAL_FATAL(pattach("keep", 4, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(3 * PG));
	int bad = 0;
	for (size_t i = 0; i < 3 * PG; i += 4096)
		bad += BASE[i] != (char)(i >> 12);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static int
writer_then_die(void *arg)
{
	(void)arg;
	if (pattach("k9", 2, PHEAP_ATTACH))
		return 1;
	if (pbrk(B(5 * PG)) != (long)B(5 * PG))
		return 2;
	strcpy(BASE + 5 * PG - 64, "persisted");
	if (ppersist(BASE + 5 * PG - 64, 16))
		return 3;
	kill(getpid(), SIGKILL);
	return 4;
}

static void
test_survives_kill9(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("k9", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(tu_child(writer_then_die, NULL), 128 + SIGKILL);
	CU_ASSERT_EQUAL_FATAL(pattach("k9", 2, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pbrk(0), B(5 * PG));
	CU_ASSERT_STRING_EQUAL(BASE + 5 * PG - 64, "persisted");
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_ppersist(void)
{
	tu_pool();
	CU_ASSERT_EQUAL(ppersist(BASE, 1), -EINVAL);	/* not attached */
	CU_ASSERT_EQUAL_FATAL(pattach("pp", 2, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(ppersist(BASE, 0), 0);
	CU_ASSERT_EQUAL(ppersist(BASE, 1), -EFAULT);	/* size 0 heap */
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(ppersist(BASE + 17, 100), 0);
	CU_ASSERT_EQUAL(ppersist(BASE, PG), 0);
	CU_ASSERT_EQUAL(ppersist(BASE, PG + 1), -EFAULT);
	CU_ASSERT_EQUAL(ppersist(BASE - 1, 2), -EFAULT);
	CU_ASSERT_EQUAL(ppersist((char *)~0UL - 4, 2), -EFAULT);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_full_fs(void)
{
	char dir[] = "/tmp/pheap-small-XXXXXX";

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	if (mount("tmpfs", dir, "tmpfs", 0, "size=24m")) {
		fprintf(stderr, "(cannot mount a small tmpfs: %m; skipped) ");
		rmdir(dir);
		return;
	}
	setenv("PHEAP_POOL", dir, 1);
	CU_ASSERT_EQUAL_FATAL(pattach("full", 4, PHEAP_CREATE), 0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT(info.capacity <= 22 * MiB);
	CU_ASSERT(info.capacity >= 16 * MiB);
	CU_ASSERT_EQUAL(pbrk(B(info.capacity)), B(info.capacity));
	CU_ASSERT_EQUAL(pbrk(B(info.capacity + PG)), -ENOMEM);
	CU_ASSERT_EQUAL(pbrk(0), B(info.capacity));
	memset(BASE, 1, info.capacity);	/* no SIGBUS: blocks are allocated */
	CU_ASSERT_EQUAL(pbrk(B(PG)), B(PG));
	CU_ASSERT_EQUAL(pdetach(), 0);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/* grows by 2 MiB until pbrk fails, writing and persisting everything it
 * got; 0 if the failure was -ENOMEM and no store ever faulted */
static int
grow_until_full(void *arg)
{
	struct pheap_info info;
	long r = 0;
	unsigned long n = 0;

	(void)arg;
	if (pattach("ext4-full", 9, PHEAP_CREATE) || pheap_info(&info))
		return 1;
	/* all the free space at once: the file system's own metadata does
	 * not fit any more, which only the populate finds out */
	r = pbrk(B(info.capacity));
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "to capacity %zu: %ld: %s\n", info.capacity, r,
			r < 0 ? pheap_errormsg() : "");
	if (r != -ENOMEM && r != (long)B(info.capacity))
		return 6;
	if (r > 0 && (memset(BASE, 1, info.capacity), pbrk(0) != r))
		return 7;
	if (r > 0 && pbrk(B(0)) != (long)B(0))
		return 8;
	while ((r = pbrk(B((n + 1) * PG))) == (long)B((n + 1) * PG)) {
		memset(BASE + n * PG, 0x5a, PG);	/* SIGBUS would kill us */
		if (ppersist(BASE + n * PG, PG))
			return 2;
		n++;
	}
	if (getenv("TEST_VERBOSE"))
		fprintf(stderr, "grew %lu pages, then %ld: %s\n", n, r,
			pheap_errormsg());
	if (r != -ENOMEM || n == 0)
		return 3;
	memset(BASE, 0xa5, n * PG);
	if (ppersist(BASE, n * PG) || pbrk(0) != (long)B(n * PG))
		return 4;
	return pdetach() ? 5 : 0;
}

/* fills the file system with another file meanwhile */
static int
filler(void *dir)
{
	char path[4200], buf[65536];
	int fd;

	snprintf(path, sizeof(path), "%s/filler", (char *)dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(buf, 1, sizeof(buf));
	while (fd >= 0 && write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
		usleep(200);
	return 0;
}

/*
 * The page cache grows by extending the file and populating for writing
 * (backend_file.c): on a real ext4 filling up -- by the heap and by
 * another writer racing it -- every pbrk either succeeds with storage that
 * takes every store and persists, or fails with ENOMEM.
 */
static void
test_full_ext4(void)
{
	char dir[] = "/tmp/pheap-ext4-XXXXXX", img[64], cmd[256];

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(img, sizeof(img), "%s.img", dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 96M %s && mkfs.ext4 -q -F -m 0 %s "
		"&& mount -o loop %s %s", img, img, img, dir);
	if (system(cmd)) {
		fprintf(stderr, "(cannot make an ext4 image; skipped) ");
		rmdir(dir);
		unlink(img);
		return;
	}
	chmod(dir, 01777);
	setenv("PHEAP_POOL", dir, 1);
	pid_t f = fork();
	if (f == 0)
		_exit(filler(dir));
	CU_ASSERT_EQUAL(tu_child_as_nobody(grow_until_full, NULL), 0);
	kill(f, SIGKILL);
	waitpid(f, NULL, 0);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	unlink(img);
}

/* attaches by itself, checks; after the parent's grow, checks again */
static int
follower_pmds(void *arg)
{
	int *p = arg;
	char c;

	if (pdetach() || pattach("thp", 3, PHEAP_ATTACH))
		return 1;
	if (tu_pmd_percent(BASE, 16 * PG) != 100)
		return 2;
	if (write(p[1], "a", 1) != 1 || read(p[0], &c, 1) != 1)
		return 3;
	for (int i = 0; i < 1000 && pbrk(0) != (long)B(32 * PG); i++)
		usleep(1000);
	return tu_pmd_percent(BASE, 32 * PG) == 100 ? 0 : 4;
}

/*
 * The FILE backend maps the heap with 2 MiB pages (reservation.c): after
 * grows in 2 MiB steps, after write-back, after an attach, and in a
 * process that followed a grow.
 */
static void
test_huge_mappings(void)
{
	struct pheap_info info;
	int p[2], q[2];
	char c;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("thp", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	for (unsigned long i = 1; i <= 16; i++)
		CU_ASSERT_EQUAL(pbrk(B(i * PG)), B(i * PG));
	if (info.backend != PHEAP_BACKEND_FILE ||
			tu_pmd_percent(BASE, 16 * PG) < 0) {
		fprintf(stderr, "(not the page cache, or THP off; skipped) ");
		CU_ASSERT_EQUAL(pdetach(), 0);
		return;
	}
	CU_ASSERT_EQUAL(tu_pmd_percent(BASE, 16 * PG), 100);
	memset(BASE, 7, 16 * PG);
	CU_ASSERT_EQUAL(ppersist(BASE, 16 * PG), 0);
	CU_ASSERT_EQUAL(tu_pmd_percent(BASE, 16 * PG), 100);
	CU_ASSERT_EQUAL_FATAL(pipe(p) || pipe(q), 0);
	int fds[2] = { q[0], p[1] };
	pid_t pid = fork();
	if (pid == 0)
		_exit(follower_pmds(fds));
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(pbrk(B(32 * PG)), B(32 * PG));
	CU_ASSERT_EQUAL(write(q[1], "g", 1), 1);
	int status;
	waitpid(pid, &status, 0);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pattach("thp", 3, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(tu_pmd_percent(BASE, 32 * PG), 100);
	CU_ASSERT_EQUAL(pdetach(), 0);
	for (int i = 0; i < 2; i++) {
		close(p[i]);
		close(q[i]);
	}
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "rounding, shrink to 0, ENOMEM", test_rounding },
		{ "regrown memory reads zero", test_zero_after_regrow },
		{ "stale storage beyond the break reads zero", test_zero_over_stale_storage },
		{ "mappings are populated", test_populated },
		{ "data and break survive detach", test_survives_detach },
		{ "ppersisted data survives kill -9", test_survives_kill9 },
		{ "ppersist ranges", test_ppersist },
		{ "full file system: ENOMEM, never SIGBUS", test_full_fs },
		{ "full ext4, raced by a writer: ENOMEM, never SIGBUS", test_full_ext4 },
		{ "the page cache heap is mapped with 2 MiB pages", test_huge_mappings },
		{ NULL, NULL }
	};
	return tu_main("brk", tests);
}
