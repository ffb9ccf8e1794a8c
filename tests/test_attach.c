/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_attach.c -- pattach/pdetach/pchmod and the pool: every errno of the
 * contract, permissions with a second uid, read-only attach, the 16-pheap
 * limit, racing creators, damaged headers, 1000 attach cycles.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define DEFAULT_BASE ((char *)0x2a0002000000UL)

/*
 * Under valgrind (make check-valgrind) every attach costs seconds: the
 * library claims capacity + 4 MiB (1 TiB and more) of address space, and
 * memcheck marks each 64 KiB of such a range, above its 128 GiB primary
 * map, one by one in its auxiliary map when it is mapped and again when
 * it is unmapped.  The loops that attach hundreds of times run a few
 * rounds there instead.
 */
static int
rounds(int n, int under_valgrind)
{
	return tu_valgrind() ? under_valgrind : n;
}

static int
create(const char *id)
{
	return pattach(id, strlen(id), PHEAP_CREATE);
}

static int
attach(const char *id, unsigned long extra)
{
	return pattach(id, strlen(id), PHEAP_ATTACH | extra);
}

static void
test_args(void)
{
	char big[PHEAP_ID_LEN_LIMIT + 1];

	tu_pool();
	memset(big, 'x', sizeof(big));
	CU_ASSERT_EQUAL(pattach(NULL, 3, PHEAP_CREATE), -EFAULT);
	CU_ASSERT_EQUAL(pattach("abc", 0, PHEAP_CREATE), -EINVAL);
	CU_ASSERT_EQUAL(pattach(big, sizeof(big), PHEAP_CREATE), -EINVAL);
	CU_ASSERT_EQUAL(pattach("abc", 3, 0), -EINVAL);
	CU_ASSERT_EQUAL(pattach("abc", 3, PHEAP_CREATE | PHEAP_ATTACH), -EINVAL);
	CU_ASSERT_EQUAL(pattach("abc", 3, PHEAP_CREATE | PHEAP_RDONLY), -EINVAL);
	CU_ASSERT_EQUAL(pattach("abc", 3, PHEAP_ATTACH | 0x100), -EINVAL);
	CU_ASSERT_STRING_NOT_EQUAL(pheap_errormsg(), "");
	CU_ASSERT_EQUAL(pattach("abc", 3, PHEAP_ATTACH), -EINVAL); /* absent */
	CU_ASSERT_EQUAL(pdetach(), -EINVAL);
	CU_ASSERT_EQUAL(pchmod(0600), -EINVAL);
	CU_ASSERT_EQUAL(pbrk(0), -EINVAL);
	CU_ASSERT_PTR_NULL(pheap_base());
	/* a 256-byte id of arbitrary bytes, NUL included, works */
	for (size_t i = 0; i < PHEAP_ID_LEN_LIMIT; i++)
		big[i] = (char)i;
	CU_ASSERT_EQUAL(pattach(big, PHEAP_ID_LEN_LIMIT, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pattach(big, PHEAP_ID_LEN_LIMIT, PHEAP_ATTACH), 0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.id_len, PHEAP_ID_LEN_LIMIT);
	CU_ASSERT_EQUAL(memcmp(info.id, big, PHEAP_ID_LEN_LIMIT), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* a prefix of it is another id */
	CU_ASSERT_EQUAL(pattach(big, 255, PHEAP_ATTACH), -EINVAL);
}

static void
test_create_attach(void)
{
	struct pheap_info info;
	mode_t um = umask(022);

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("one"), 0);
	CU_ASSERT_EQUAL(create("two"), -EINVAL);	/* already attached */
	CU_ASSERT_EQUAL(attach("one", 0), -EINVAL);
	CU_ASSERT_PTR_EQUAL(pheap_base(), DEFAULT_BASE);
	CU_ASSERT_EQUAL(pbrk(0), (long)DEFAULT_BASE);	/* size 0 */
	CU_ASSERT_EQUAL_FATAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.id_len, 3);
	CU_ASSERT_EQUAL(memcmp(info.id, "one", 3), 0);
	CU_ASSERT_PTR_EQUAL(info.base, DEFAULT_BASE);
	CU_ASSERT_PTR_EQUAL(info.brk, DEFAULT_BASE);
	CU_ASSERT_EQUAL(info.mode, 0644);
	CU_ASSERT_EQUAL(info.uid, geteuid());
	CU_ASSERT_EQUAL(info.gid, getegid());
	CU_ASSERT(info.backend == PHEAP_BACKEND_FILE || info.backend == PHEAP_BACKEND_FSDAX);
	/* in make check-vm's fsdax guest the pool is on a -o dax mount */
	const char *kind = getenv("PHEAP_VM_KIND");
	if (kind && strcmp(kind, "fsdax") == 0)
		CU_ASSERT_EQUAL(info.backend, PHEAP_BACKEND_FSDAX);
	CU_ASSERT_EQUAL(info.rdonly, 0);
	CU_ASSERT(info.capacity > 0 && info.capacity <= PHEAP_MAX_PAGES * PG);
	CU_ASSERT(info.capacity % PG == 0);
	CU_ASSERT_EQUAL(info.unsafe_shutdown, 0);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(info.path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0644);	/* kernel-enforced */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(create("one"), -EINVAL);	/* exists */
	umask(077);
	CU_ASSERT_EQUAL(create("umasked"), 0);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.mode, 0600);
	CU_ASSERT_EQUAL(pdetach(), 0);
	umask(um);
}

static void
test_default_pool(void)
{
	char home[] = "/tmp/pheap-home-XXXXXX";
	char path[300];
	struct stat sb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(home));
	unsetenv("PHEAP_POOL");
	unsetenv("XDG_DATA_HOME");
	char *old = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", home, 1);
	CU_ASSERT_EQUAL(create("default"), 0);
	snprintf(path, sizeof(path), "%s/.local/share/pheap", home);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT(S_ISDIR(sb.st_mode));
	CU_ASSERT_EQUAL(strncmp(tu_path(), path, strlen(path)), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	setenv("XDG_DATA_HOME", home, 1);
	CU_ASSERT_EQUAL(create("xdg"), 0);
	snprintf(path, sizeof(path), "%s/pheap/", home);
	CU_ASSERT_EQUAL(strncmp(tu_path(), path, strlen(path)), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	unsetenv("XDG_DATA_HOME");
	if (old)
		setenv("HOME", old, 1);
	free(old);
	snprintf(path, sizeof(path), "rm -rf %s", home);
	CU_ASSERT_EQUAL(system(path), 0);
}

static void
test_eexist(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("busy"), 0);
	CU_ASSERT(pbrk((unsigned long)DEFAULT_BASE + PG) > 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* something of ours sits where the pheap goes */
	char *p = mmap(DEFAULT_BASE + PG, 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CU_ASSERT_PTR_EQUAL_FATAL(p, DEFAULT_BASE + PG);
	strcpy(p, "mine");
	/*
	 * valgrind does not pass MAP_FIXED_NOREPLACE on as such: it takes
	 * the address for a hint, looks for room elsewhere, finds no free
	 * 1 TiB in its client address space and fails the reservation with
	 * EINVAL.  The attach fails all the same and our mapping is left
	 * alone (checked below); only the errno cannot be EEXIST there.
	 */
	int r = attach("busy", 0);
	if (tu_valgrind()) {
		CU_ASSERT(r < 0);
	} else {
		CU_ASSERT_EQUAL(r, -EEXIST);
	}
	CU_ASSERT_PTR_NULL(pheap_base());
	/* a create that cannot map creates nothing */
	r = create("busy2");
	if (tu_valgrind()) {
		CU_ASSERT(r < 0);
	} else {
		CU_ASSERT_EQUAL(r, -EEXIST);
	}
	CU_ASSERT_STRING_NOT_EQUAL(pheap_errormsg(), "");
	munmap(p, 4096);
	CU_ASSERT_EQUAL(attach("busy2", 0), -EINVAL);
	CU_ASSERT_EQUAL(create("busy2"), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	p = mmap(DEFAULT_BASE + PG, 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	strcpy(p, "mine");
	CU_ASSERT_STRING_EQUAL(p, "mine");	/* untouched */
	munmap(p, 4096);
	CU_ASSERT_EQUAL(attach("busy", 0), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_cycles(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("cycle"), 0);
	CU_ASSERT(pbrk((unsigned long)DEFAULT_BASE + 2 * PG) > 0);
	strcpy(DEFAULT_BASE, "kept");
	CU_ASSERT_EQUAL(pdetach(), 0);
	for (int i = 0, n = rounds(1000, 3); i < n; i++) {
		int r = attach("cycle", 0);

		CU_ASSERT_EQUAL_FATAL(r, 0);
		if (i % 100 == 0)
			CU_ASSERT_STRING_EQUAL(DEFAULT_BASE, "kept");
		CU_ASSERT_EQUAL_FATAL(pdetach(), 0);
	}
	/* nothing left behind in the address space */
	CU_ASSERT(tu_faults(DEFAULT_BASE, 0));
	void *p = mmap(DEFAULT_BASE, PG * 4, PROT_READ, MAP_PRIVATE |
		MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	CU_ASSERT_PTR_EQUAL(p, DEFAULT_BASE);
	munmap(p, PG * 4);
}

/* ---- permissions, with a second uid ---- */

struct perm_case {
	const char *id;
	unsigned long flag;
	int expect;
};

static int
nobody_attach(void *arg)
{
	struct perm_case *c = arg;
	int r = pattach(c->id, strlen(c->id), c->flag);

	if (r != c->expect) {
		fprintf(stderr, "nobody: pattach(%s, %#lx) = %d, want %d: %s\n",
			c->id, c->flag, r, c->expect, pheap_errormsg());
		return 1;
	}
	if (r == 0 && pdetach())
		return 2;
	return 0;
}

static int
as_nobody(const char *id, unsigned long flag, int expect)
{
	struct perm_case c = { id, flag, expect };

	return tu_child_as_nobody(nobody_attach, &c);
}

static int
nobody_pchmod(void *arg)
{
	const char *id = arg;

	if (pattach(id, strlen(id), PHEAP_ATTACH | PHEAP_RDONLY))
		return 1;
	return pchmod(0666) == -EACCES ? 0 : 2;
}

static void
test_permissions(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "(needs root for a second uid; skipped) ");
		return;
	}
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("priv"), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* 0644: others read only */
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_ATTACH, -EACCES), 0);
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_ATTACH | PHEAP_RDONLY, 0), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(nobody_pchmod, "priv"), 0);
	/* 0600: existence still shows, as EACCES rather than "not found" */
	CU_ASSERT_EQUAL_FATAL(attach("priv", 0), 0);
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	CU_ASSERT_EQUAL(pchmod(01777), -EINVAL);
	struct stat sb;
	CU_ASSERT_EQUAL(stat(tu_path(), &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_ATTACH | PHEAP_RDONLY, -EACCES), 0);
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_ATTACH, -EACCES), 0);
	CU_ASSERT_EQUAL(as_nobody("absent", PHEAP_ATTACH, -EINVAL), 0);
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_CREATE, -EINVAL), 0);
	/* 0666: everyone read-write; the mode survives detach */
	CU_ASSERT_EQUAL_FATAL(attach("priv", 0), 0);
	CU_ASSERT_EQUAL(pchmod(0666), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(as_nobody("priv", PHEAP_ATTACH, 0), 0);
	/* a pheap nobody creates is nobody's */
	CU_ASSERT_EQUAL(as_nobody("theirs", PHEAP_CREATE, 0), 0);
	CU_ASSERT_EQUAL_FATAL(attach("theirs", PHEAP_RDONLY), 0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.uid, 65534);
	CU_ASSERT_EQUAL(info.gid, 65534);
	CU_ASSERT_EQUAL(pchmod(0640), 0);	/* root may */
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static int
owner_rdonly_pchmod(void *arg)
{
	(void)arg;
	if (pattach("own", 3, PHEAP_ATTACH | PHEAP_RDONLY))
		return 1;
	if (pchmod(0444))
		return 2;
	if (pchmod(0604))	/* the owner, attached read-only, with 0444 */
		return 3;
	return pdetach() ? 4 : 0;
}

static void
test_owner_pchmod_rdonly(void)
{
	if (geteuid() != 0)
		return;
	tu_pool();
	CU_ASSERT_EQUAL(as_nobody("own", PHEAP_CREATE, 0), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(owner_rdonly_pchmod, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(attach("own", PHEAP_RDONLY), 0);
	struct pheap_info info;
	struct stat sb;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.mode, 0604);
	CU_ASSERT_EQUAL(stat(info.path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0604);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_rdonly(void)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("ro"), 0);
	long b = pbrk((unsigned long)DEFAULT_BASE + PG);
	CU_ASSERT_EQUAL(b, (long)(DEFAULT_BASE + PG));
	strcpy(DEFAULT_BASE, "data");
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(attach("ro", PHEAP_RDONLY), 0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.rdonly, 1);
	CU_ASSERT_STRING_EQUAL(DEFAULT_BASE, "data");
	CU_ASSERT_FALSE(tu_faults(DEFAULT_BASE, 0));
	CU_ASSERT(tu_faults(DEFAULT_BASE, 1));	/* writes fault */
	CU_ASSERT_EQUAL(pbrk(0), b);	/* query */
	CU_ASSERT_EQUAL(pbrk((unsigned long)b), b);	/* no change */
	CU_ASSERT_EQUAL(pbrk((unsigned long)b - 1), b);	/* rounds to it */
	CU_ASSERT_EQUAL(pbrk((unsigned long)b + 1), -EACCES);
	CU_ASSERT_EQUAL(pbrk((unsigned long)DEFAULT_BASE), -EACCES);
	CU_ASSERT_EQUAL(pbrk(~0UL), -EACCES);	/* would change it */
	CU_ASSERT_EQUAL(pbrk(0), b);
	CU_ASSERT_EQUAL(ppersist(DEFAULT_BASE, 16), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/* ---- the pool: limit, races, damage ---- */

static void
test_limit(void)
{
	char id[32];

	tu_pool();
	for (int i = 0; i < PHEAP_COUNT_LIMIT; i++) {
		snprintf(id, sizeof(id), "limit-%d", i);
		CU_ASSERT_EQUAL_FATAL(create(id), 0);
		CU_ASSERT_EQUAL_FATAL(pdetach(), 0);
	}
	CU_ASSERT_EQUAL(create("limit-16"), -ENOSPC);
	CU_ASSERT_EQUAL(create("limit-3"), -EINVAL);	/* exists beats full */
	/* a damaged entry does not count: corrupt one, then there is room */
	CU_ASSERT_EQUAL_FATAL(attach("limit-0", 0), 0);
	char path[PATH_MAX];
	strcpy(path, tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	int fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, "XXXXXXXX", 8, 0), 8);
	CU_ASSERT_EQUAL(pwrite(fd, "XXXXXXXX", 8, 4096), 8);
	close(fd);
	CU_ASSERT_EQUAL(attach("limit-0", 0), -EINVAL);	/* magic gone: unknown */
	CU_ASSERT_EQUAL(attach("limit-1", 0), 0);	/* others fine */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(create("limit-16"), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(create("limit-17"), -ENOSPC);
	/* never reformatted */
	char buf[8];
	fd = open(path, O_RDONLY);
	CU_ASSERT_EQUAL(pread(fd, buf, 8, 0), 8);
	CU_ASSERT_EQUAL(memcmp(buf, "XXXXXXXX", 8), 0);
	close(fd);
}

static int
racer(void *arg)
{
	int r = pattach(arg, strlen(arg), PHEAP_CREATE);

	if (r == 0)
		return pdetach() ? 3 : 0;
	return r == -EINVAL ? 1 : 2;
}

static void
test_create_race(void)
{
	enum { N = 8, ROUNDS = 20 };

	tu_pool();
	for (int round = 0, n = rounds(ROUNDS, 2); round < n; round++) {
		char id[32];
		pid_t pid[N];
		int won = 0, lost = 0;

		snprintf(id, sizeof(id), "race-%d", round % 10);
		if (round == 10)
			tu_pool();
		for (int i = 0; i < N; i++) {
			pid[i] = fork();
			if (pid[i] == 0)
				_exit(racer(id));
		}
		for (int i = 0; i < N; i++) {
			int st;
			waitpid(pid[i], &st, 0);
			CU_ASSERT(WIFEXITED(st));
			won += WEXITSTATUS(st) == 0;
			lost += WEXITSTATUS(st) == 1;
		}
		CU_ASSERT_EQUAL(won, 1);
		CU_ASSERT_EQUAL(lost, N - 1);
	}
}

static void
flip(const char *path, off_t off, unsigned char mask)
{
	unsigned char c;
	int fd = open(path, O_RDWR);

	CU_ASSERT_EQUAL(pread(fd, &c, 1, off), 1);
	c ^= mask;
	CU_ASSERT_EQUAL(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void
test_damage(void)
{
	char path[PATH_MAX];

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(create("victim"), 0);
	CU_ASSERT(pbrk((unsigned long)DEFAULT_BASE + 3 * PG) > 0);
	strcpy(path, tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(create("bystander"), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);

	/* offsets tried under valgrind: magic, seq, brk, id_len, id, padding, reserved */
	static const off_t vg_offs[] = { 0, 16, 32, 84, 88, 100, 300, 500 };
	int noffs = rounds(512 / 4, sizeof(vg_offs) / sizeof(vg_offs[0]));
#define OFF(k) (tu_valgrind() ? vg_offs[k] : (off_t)(k) * 4)

	/* every field, one bit in one copy: repaired from the other copy */
	for (int k = 0; k < noffs; k++) {
		off_t off = OFF(k);

		flip(path, off, 0x10);
		CU_ASSERT_EQUAL(attach("victim", 0), 0);
		CU_ASSERT_EQUAL(pbrk(0), (long)(DEFAULT_BASE + 3 * PG));
		CU_ASSERT_EQUAL(pdetach(), 0);
		flip(path, off, 0x10);
	}
	/* the same bit in both copies: EUCLEAN, or not found where it hit
	 * the magic or the id; never a crash, never the wrong pheap */
	for (int k = 0; k < noffs; k++) {
		off_t off = OFF(k);

		flip(path, off, 0x10);
		flip(path, 4096 + off, 0x10);
		int r = attach("victim", 0);
		int want = (off < 8 || (off >= 84 && off < 88 + 8)) ? -EINVAL : -EUCLEAN;
		if (off >= 88 && off < 88 + 8)	/* inside the id "victim" */
			want = -EINVAL;
		if (off == 84)			/* id_len */
			want = -EINVAL;
		if (off >= 96 && off < 504)	/* id padding, reserved */
			want = -EUCLEAN;
		CU_ASSERT_EQUAL(r, want);
		if (r != want)
			fprintf(stderr, "offset %ld: got %d want %d (%s)\n",
				(long)off, r, want, pheap_errormsg());
		if (r == 0)
			pdetach();
		CU_ASSERT_EQUAL(attach("bystander", 0), 0);
		CU_ASSERT_EQUAL(pdetach(), 0);
		flip(path, off, 0x10);
		flip(path, 4096 + off, 0x10);
	}
	/* random bytes over both copies: not found or damaged, never a crash */
	srand(7);
	unsigned char saved[8192], junk[8192];
	int fd = open(path, O_RDWR);
	CU_ASSERT_EQUAL(pread(fd, saved, sizeof(saved), 0), (ssize_t)sizeof(saved));
	for (int i = 0, n = rounds(200, 4); i < n; i++) {
		for (size_t j = 0; j < sizeof(junk); j++)
			junk[j] = (unsigned char)rand();
		if (i & 1)
			memcpy(junk, saved, 96);	/* keep magic..id */
		CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
		int r = attach("victim", 0);
		CU_ASSERT(r == -EINVAL || r == -EUCLEAN);
		if (r == 0)
			pdetach();
	}
	CU_ASSERT_EQUAL(pwrite(fd, saved, sizeof(saved), 0), (ssize_t)sizeof(saved));
	/* a file too short for its break is damaged, not a SIGBUS */
	CU_ASSERT_EQUAL(ftruncate(fd, 2 * MiB + PG), 0);
	CU_ASSERT_EQUAL(attach("victim", 0), -EUCLEAN);
	/* too short for its runtime page, both copies valid (make fuzz found
	 * the SIGBUS there): damaged too, read-write and read-only */
	CU_ASSERT_EQUAL(ftruncate(fd, 8192), 0);
	CU_ASSERT_EQUAL(attach("victim", 0), -EUCLEAN);
	CU_ASSERT_EQUAL(attach("victim", PHEAP_RDONLY), -EUCLEAN);
	close(fd);
	CU_ASSERT_EQUAL(attach("bystander", 0), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_hostile_entries(void)
{
	char path[PATH_MAX];
	const char *dir = tu_pool();

	CU_ASSERT_EQUAL_FATAL(create("real"), 0);
	strcpy(path, tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* a FIFO, a directory and a symlink where pheaps might be */
	char p2[PATH_MAX];
	snprintf(p2, sizeof(p2), "%s/00000000000000000000000000000000.pheap", dir);
	CU_ASSERT_EQUAL(mkfifo(p2, 0666), 0);
	/* one in the way of an id's own file name: never replaced */
	char fifo_path[PATH_MAX];
	CU_ASSERT_EQUAL_FATAL(create("fifo-victim"), 0);
	strcpy(fifo_path, tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(unlink(fifo_path), 0);
	CU_ASSERT_EQUAL(mkfifo(fifo_path, 0666), 0);
	CU_ASSERT_EQUAL(create("fifo-victim"), -ENOSPC);
	CU_ASSERT_EQUAL(attach("fifo-victim", 0), -EINVAL);
	snprintf(p2, sizeof(p2), "%s/11111111111111111111111111111111.pheap", dir);
	CU_ASSERT_EQUAL(mkdir(p2, 0777), 0);
	snprintf(p2, sizeof(p2), "%s/22222222222222222222222222222222.pheap", dir);
	CU_ASSERT_EQUAL(symlink(path, p2), 0);
	CU_ASSERT_EQUAL(create("other"), 0);	/* scan survives them */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(attach("real", 0), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* the file of one id renamed to another id's name: not that id */
	char other[PATH_MAX];
	CU_ASSERT_EQUAL(attach("other", 0), 0);
	strcpy(other, tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(unlink(other), 0);
	CU_ASSERT_EQUAL(link(path, other), 0);
	CU_ASSERT_EQUAL(attach("other", 0), -EINVAL);
	CU_ASSERT_EQUAL(create("other"), -ENOSPC);	/* not overwritten */
}

/*
 * A crash inside pchmod can leave the file's mode behind the header's (the
 * file narrowed first).  The owner's attach puts it right.
 */
static void
test_mode_repaired_by_owner(void)
{
	struct stat sb;
	char path[PATH_MAX];

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("rep", 3, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pchmod(0644), 0);
	snprintf(path, sizeof(path), "%s", tu_path());
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(chmod(path, 0600), 0);		/* the crash's leftover */
	CU_ASSERT_EQUAL(pattach("rep", 3, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0644);
	CU_ASSERT_EQUAL(pdetach(), 0);
}

/*
 * A setuid-root program run by nobody, whose environment names nobody's
 * pool and pheap, a base, and directories: the library ignores them all
 * (AT_SECURE), as glibc ignores its own variables.  Before, the program
 * was attached to nobody's pheap before main().
 */
static int
run_secure(void *arg)
{
	char **v = arg;
	char *envp[] = { v[1], v[2], v[3], v[4], v[5], NULL };
	char *args[] = { v[0], v[6], NULL };

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 99;
	execve(v[0], args, envp);
	return 98;
}

static void
test_setuid_ignores_env(void)
{
	char dir[] = "/tmp/pheap-suid-XXXXXX", prog[64], hex[64] = "", e[5][128];
	const char *id = "nobodys";
	struct stat sb;

	if (geteuid() != 0 || stat("tests/secure_helper", &sb)) {
		fprintf(stderr, "(needs root and tests/secure_helper; skipped) ");
		return;
	}
	const char *pool = tu_pool();
	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	/* nobody's pheap in nobody's pool */
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pchmod(0666), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	for (size_t i = 0; i < strlen(id); i++)
		sprintf(hex + 2 * i, "%02x", (unsigned char)id[i]);
	snprintf(prog, sizeof(prog), "%s/helper", dir);
	snprintf(e[0], sizeof(e[0]), "PHEAP_EXEC_ATTACH=%s", hex);
	snprintf(e[1], sizeof(e[1]), "PHEAP_POOL=%s", pool);
	snprintf(e[2], sizeof(e[2]), "PHEAP_BASE=0x300000000000");
	snprintf(e[3], sizeof(e[3]), "XDG_DATA_HOME=%s/xdg", dir);
	snprintf(e[4], sizeof(e[4]), "HOME=%s", dir);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cp tests/secure_helper %s && chown 0:0 %s "
		"&& chmod 4755 %s && chmod 0755 %s", prog, prog, prog, dir);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	char *v[] = { prog, e[0], e[1], e[2], e[3], e[4], (char *)id };
	CU_ASSERT_EQUAL(tu_child(run_secure, v), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CU_ASSERT_EQUAL(system(cmd), 0);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "owner's attach repairs a mode left behind", test_mode_repaired_by_owner },
		{ "a setuid program ignores the environment", test_setuid_ignores_env },
		{ "argument errors", test_args },
		{ "create, attach, info", test_create_attach },
		{ "default pool directory", test_default_pool },
		{ "EEXIST when the range is taken", test_eexist },
		{ "1000 attach/detach cycles", test_cycles },
		{ "permissions with a second uid", test_permissions },
		{ "owner pchmod while read-only", test_owner_pchmod_rdonly },
		{ "read-only attach", test_rdonly },
		{ "16-pheap limit, damaged entries", test_limit },
		{ "racing creators: exactly one wins", test_create_race },
		{ "damaged headers", test_damage },
		{ "hostile pool entries", test_hostile_entries },
		{ NULL, NULL }
	};
	return tu_main("attach", tests);
}
