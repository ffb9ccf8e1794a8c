/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_powercut.c -- durability of pbrk across a power cut.  make check-vm
 * runs the two halves in two QEMU processes on one emulated NVDIMM image:
 *
 *   cut      creates a pheap in the pool PHEAP_POOL, moves the break
 *            (64 MiB, 8 MiB, 96 MiB), writes and ppersists a pattern, and
 *            right after the last pbrk returns prints
 *            "POWERCUT-READY brk=0x... journal-commits-in-last-pbrk=N"
 *            and sleeps forever: no pdetach, no
 *            exit, no sync.  The harness kills QEMU (not this program) as
 *            soon as it sees the line: a power cut.
 *   verify BRK
 *            in the next boot: attach works, the break is BRK (what pbrk
 *            returned before the cut), the file is exactly header area +
 *            break long, the pattern is intact, the heap beyond it reads
 *            zero, and the break can still be moved.
 *
 * PHEAP_POWERCUT_BACKEND=file|fsdax makes both halves insist on that backend.
 * Prints "powercut: N passed, M failed" (verify) like the other programs.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pheap.h"

#define MIB (1UL << 20)
#define HDR_AREA (2 * MIB)	/* a file's header area, before the heap */
#define PATTERN_LEN (8 * MIB)	/* the pattern fills what the shrink keeps */
static const unsigned long steps[] = { 64 * MIB, 8 * MIB, 96 * MIB };
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))
static const char id[] = "powercut";

static int passed, failed;

static void
check(int ok, const char *what)
{
	if (ok) {
		passed++;
	} else {
		failed++;
		const char *msg = pheap_errormsg();

		printf("powercut: FAILED: %s%s%s%s\n", what,
			msg && *msg ? " (last error: " : "", msg ? msg : "",
			msg && *msg ? ")" : "");
	}
}

static int
report(void)
{
	printf("powercut: %d passed, %d failed\n", passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

static unsigned char
pattern(size_t off)
{
	return (unsigned char)(off / 4096 * 29 + off % 4096 / 64 + 7);
}

/*
 * Journal commits so far of the (only) ext4 file system mounted, from
 * /proc/fs/jbd2/DEV/info ("N transactions (M requested), ..."); -1 if none.
 * Reading it commits nothing.  A diagnostic: tells whether the last pbrk
 * committed the journal (through the library's sync, or a MAP_SYNC fault).
 */
static long
journal_commits(void)
{
	glob_t g;
	long n = -1;

	if (glob("/proc/fs/jbd2/*/info", 0, NULL, &g) == 0) {
		FILE *f = fopen(g.gl_pathv[0], "r");

		if (f) {
			if (fscanf(f, "%ld transactions", &n) != 1)
				n = -1;
			fclose(f);
		}
		globfree(&g);
	}
	return n;
}

/*
 * PHEAP_POWERCUT_BACKEND=file|fsdax, if set: the backend the pheap must
 * have (a page-cache run that silently got DAX, or the reverse, would test
 * something else).  0 if it matches or is not set.
 */
static int
wrong_backend(void)
{
	const char *want = getenv("PHEAP_POWERCUT_BACKEND");
	struct pheap_info info;
	int b;

	if (!want || !*want)
		return 0;
	b = strcmp(want, "file") == 0 ? PHEAP_BACKEND_FILE :
		strcmp(want, "fsdax") == 0 ? PHEAP_BACKEND_FSDAX :
		PHEAP_BACKEND_DEVDAX;
	if (pheap_info(&info) == 0 && info.backend == b)
		return 0;
	printf("powercut: backend is %d, not %s\n", info.backend, want);
	return 1;
}

static int
cut(void)
{
	struct stat sb;
	const char *pool = getenv("PHEAP_POOL");
	char *base;
	long brk = 0, commits = -1;

	if (pool && stat(pool, &sb) == 0 && S_ISCHR(sb.st_mode) &&
			pheap_format_device(pool, PHEAP_FORMAT_FORCE)) {
		printf("powercut: format %s: %s\n", pool, pheap_errormsg());
		return 1;
	}
	if (pattach(id, sizeof(id) - 1, PHEAP_CREATE)) {
		printf("powercut: create: %s\n", pheap_errormsg());
		return 1;
	}
	if (wrong_backend())
		return 1;
	base = pheap_base();
	for (size_t i = 0; i < NSTEPS; i++) {
		if (i == NSTEPS - 1)
			commits = journal_commits();
		brk = pbrk((unsigned long)base + steps[i]);
		if (brk != (long)(base + steps[i])) {
			printf("powercut: pbrk to %lu MiB: %s\n",
				steps[i] / MIB, pheap_errormsg());
			return 1;
		}
		if (i == 0) {
			/* one cache line per 64 bytes: every line differs */
			for (size_t o = 0; o < PATTERN_LEN; o += 64)
				base[o] = (char)pattern(o);
			if (ppersist(base, PATTERN_LEN)) {
				printf("powercut: ppersist: %s\n",
					pheap_errormsg());
				return 1;
			}
		}
	}
	/* nothing between pbrk's return and the cut: not even stdio buffers */
	if (commits >= 0)
		commits = journal_commits() - commits;
	char line[96];
	int n = snprintf(line, sizeof(line),
		"POWERCUT-READY brk=%#lx journal-commits-in-last-pbrk=%ld\n",
		(unsigned long)brk, commits);

	if (write(STDOUT_FILENO, line, (size_t)n) != n)
		return 1;
	for (;;)
		pause();
}

static int
verify(const char *want_str)
{
	char *end;
	unsigned long want = strtoul(want_str, &end, 0);
	struct pheap_info info;
	struct stat sb;

	if (*want_str == '\0' || *end != '\0') {
		printf("powercut: bad expected break '%s'\n", want_str);
		return 2;
	}
	int ret = pattach(id, sizeof(id) - 1, PHEAP_ATTACH);

	check(ret == 0, "attach after the power cut");
	if (ret)
		return report();
	char *base = pheap_base();
	long brk = pbrk(0);

	printf("powercut: break after the power cut %#lx (%lu MiB), "
		"expected %#lx\n", (unsigned long)brk,
		(unsigned long)(brk - (long)base) / MIB, want);
	check((unsigned long)brk == want, "break is what pbrk returned");
	check(pheap_info(&info) == 0, "pheap_info");
	check(!wrong_backend(), "backend");
	printf("powercut: backend %d, %s\n", info.backend, info.path);
	if (stat(info.path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		printf("powercut: %s is a device: no file size to check\n",
			info.path);
	} else if (stat(info.path, &sb) == 0) {
		printf("powercut: file size %lld, expected %lu\n",
			(long long)sb.st_size, HDR_AREA + (want - (unsigned long)base));
		check((unsigned long)sb.st_size ==
			HDR_AREA + (want - (unsigned long)base),
			"file size is header area + break");
	} else {
		check(0, "stat of the pool file");
	}
	if ((unsigned long)brk < (unsigned long)base + PATTERN_LEN) {
		check(0, "pattern (break too small to hold it)");
		return report();
	}
	size_t bad = 0;

	for (size_t o = 0; o < PATTERN_LEN; o += 64)
		bad += (unsigned char)base[o] != pattern(o);
	if (bad)
		printf("powercut: %zu of %lu pattern bytes wrong\n", bad,
			PATTERN_LEN / 64);
	check(bad == 0, "ppersisted pattern intact");
	bad = 0;
	for (size_t o = PATTERN_LEN; o < (size_t)(brk - (long)base); o += 4096)
		bad += base[o] != 0;
	check(bad == 0, "heap beyond the pattern reads zero");

	/* the break still moves, in both directions */
	unsigned long up = (unsigned long)base + 128 * MIB;
	unsigned long down = (unsigned long)base + 16 * MIB;

	check(pbrk(up) == (long)up, "grow to 128 MiB");
	if (pbrk(0) == (long)up)
		memset(base + 96 * MIB, 0x5a, 32 * MIB);
	check(pbrk(down) == (long)down, "shrink to 16 MiB");
	bad = 0;
	for (size_t o = 0; o < PATTERN_LEN; o += 64)
		bad += (unsigned char)base[o] != pattern(o);
	check(bad == 0, "pattern intact after grow and shrink");
	check(pdetach() == 0, "pdetach");
	if (stat(info.path, &sb) == 0 && S_ISREG(sb.st_mode))
		check((unsigned long)sb.st_size == HDR_AREA + 16 * MIB,
			"file size after the shrink");
	return report();
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "cut") == 0)
		return cut();
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return verify(argv[2]);
	fprintf(stderr, "usage: PHEAP_POOL=DIR %s cut | verify BREAK\n",
		argv[0]);
	return 2;
}
