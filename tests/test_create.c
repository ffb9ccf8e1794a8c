/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_create.c -- PHEAP_CREATE in a pool shared by many processes and
 * users (issue #10, item 3), with real processes racing real creations:
 *  - a process holding flock() on the pool directory blocks no creation
 *    (any user can open a 1777 directory; creators used to flock it);
 *  - creators racing for the last free places: the pool ends at exactly
 *    16 pheaps; racing for one id: exactly one wins, in one directory or
 *    across two directories listed in opposite orders;
 *  - a pheap published but not yet committed (two names, its creator's
 *    witness lock) is absent to pattach, and present once the witness goes;
 *  - the debris of a killed creator is removed by its owner's next
 *    creation, and another user's is left alone (as root);
 *  - what counts toward the 16 (as root): files named like pheaps that the
 *    creator cannot read count, readable junk, FIFOs and directories do not.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "util.h"

#define LOCK_CREATE_BYTE 12290	/* src/lock.h */
#define RACERS 8

static int
create_id(const char *id)
{
	int ret = pattach(id, strlen(id), PHEAP_CREATE);

	return ret ? ret : pdetach();
}

static int
create_in_time(void *id)
{
	alarm(10);	/* before the fix: waited forever */
	return create_id(id) ? 1 : 0;
}

static void
test_dir_flock(void)
{
	const char *dir = tu_pool();
	int p[2];
	char c;

	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	pid_t holder = fork();
	if (holder == 0) {
		/* as root: the holder is another user, nobody */
		if (geteuid() == 0 && (setgroups(0, NULL) ||
				setresgid(65534, 65534, 65534) ||
				setresuid(65534, 65534, 65534)))
			_exit(2);
		int fd = open(dir, O_RDONLY);

		if (fd < 0 || flock(fd, LOCK_EX) || write(p[1], "l", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	double t = tu_ms();
	CU_ASSERT_EQUAL(tu_child(create_in_time, "despite-flock"), 0);
	CU_ASSERT(tu_ms() - t < 2000);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	close(p[0]);
	close(p[1]);
}

/* RACERS children released at once, each creating ids[i]; the codes */
static void
race(const char *const *ids, int *codes)
{
	int go[2];
	pid_t pid[RACERS];

	CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
	for (int i = 0; i < RACERS; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			char c;

			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(99);
			int ret = create_id(ids[i]);
			if (ret && ret != -EINVAL && ret != -ENOSPC)
				fprintf(stderr, "create: %d %s\n", ret,
					pheap_errormsg());
			_exit(ret == 0 ? 0 : ret == -EINVAL ? 1 :
				ret == -ENOSPC ? 2 : 3);
		}
	}
	close(go[0]);
	close(go[1]);		/* all go */
	for (int i = 0; i < RACERS; i++) {
		int st;

		waitpid(pid[i], &st, 0);
		codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 100;
	}
}

/* pheap files (by name) in dir */
static int
count_pheaps(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (dp && (de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);

		n += l > 6 && strcmp(de->d_name + l - 6, ".pheap") == 0 &&
			de->d_name[0] != '.';
	}
	if (dp)
		closedir(dp);
	return n;
}

static void
test_race_for_the_last_places(void)
{
	char names[RACERS][32];
	const char *ids[RACERS];
	int codes[RACERS];

	for (int round = 0; round < 3; round++) {
		const char *dir = tu_pool();
		int won = 0;

		for (int i = 0; i < PHEAP_COUNT_LIMIT - 3; i++) {
			snprintf(names[0], sizeof(names[0]), "old-%d", i);
			CU_ASSERT_EQUAL_FATAL(create_id(names[0]), 0);
		}
		for (int i = 0; i < RACERS; i++) {
			snprintf(names[i], sizeof(names[i]), "new-%d", i);
			ids[i] = names[i];
		}
		race(ids, codes);
		for (int i = 0; i < RACERS; i++) {
			CU_ASSERT(codes[i] == 0 || codes[i] == 2);
			won += codes[i] == 0;
		}
		CU_ASSERT(won >= 1 && won <= 3);
		CU_ASSERT(count_pheaps(dir) == PHEAP_COUNT_LIMIT - 3 + won);
		CU_ASSERT(count_pheaps(dir) <= PHEAP_COUNT_LIMIT);
	}
}

static void
test_race_for_one_id(void)
{
	const char *ids[RACERS];
	int codes[RACERS];

	for (int i = 0; i < RACERS; i++)
		ids[i] = "contested";
	for (int round = 0; round < 3; round++) {
		const char *dir = tu_pool();
		int won = 0;

		race(ids, codes);
		for (int i = 0; i < RACERS; i++) {
			CU_ASSERT(codes[i] == 0 || codes[i] == 1);
			won += codes[i] == 0;
		}
		CU_ASSERT_EQUAL(won, 1);
		CU_ASSERT_EQUAL(count_pheaps(dir), 1);
	}
}

/* half the racers list the two directories one way, half the other */
static void
test_race_across_orders(void)
{
	char a[4096], b[4096], ab[8200], ba[8200];
	int won = 0, n = 0;

	snprintf(a, sizeof(a), "%s", tu_pool());
	CU_ASSERT_EQUAL_FATAL(mkdir(strcat(strcpy(b, a), "/second"), 0777), 0);
	snprintf(ab, sizeof(ab), "%s:%s", a, b);
	snprintf(ba, sizeof(ba), "%s:%s", b, a);
	for (int round = 0; round < 5; round++) {
		char id[32];
		int go[2];
		pid_t pid[RACERS];

		snprintf(id, sizeof(id), "both-ways-%d", round);
		CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
		for (int i = 0; i < RACERS; i++) {
			pid[i] = fork();
			if (pid[i] == 0) {
				char c;

				setenv("PHEAP_POOL", i % 2 ? ab : ba, 1);
				close(go[1]);
				if (read(go[0], &c, 1) != 0)
					_exit(99);
				_exit(create_id(id) == 0 ? 0 : 1);
			}
		}
		close(go[0]);
		close(go[1]);
		for (int i = 0; i < RACERS; i++) {
			int st;

			waitpid(pid[i], &st, 0);
			won += WIFEXITED(st) && WEXITSTATUS(st) == 0;
		}
		n = count_pheaps(a) + count_pheaps(b);
		CU_ASSERT_EQUAL(n, round + 1);	/* one pheap per id, whatever */
	}
	CU_ASSERT(won <= 5);
}

/* holds the creator's witness on path's file until killed */
static pid_t
witness(const char *path, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			.l_start = LOCK_CREATE_BYTE, .l_len = 1 };
		int fd = open(path, O_RDWR);

		if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) ||
				write(ready, "w", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	return pid;
}

static void
test_uncommitted_is_absent(void)
{
	struct pheap_info info;
	char path[4096], tmp[4200];
	int p[2];
	char c;

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach("half-made", 9, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pheap_info(&info), 0);
	snprintf(path, sizeof(path), "%s", info.path);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* as between publish and commit: two names, a live witness */
	snprintf(tmp, sizeof(tmp), "%.*s/.tmp-99999999-halfmade",
		(int)(strrchr(path, '/') - path), path);
	CU_ASSERT_EQUAL_FATAL(link(path, tmp), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	pid_t w = witness(path, p[1]);
	CU_ASSERT_EQUAL(read(p[0], &c, 1), 1);
	CU_ASSERT_EQUAL(pattach("half-made", 9, PHEAP_ATTACH), -EINVAL);
	/* its creator died: the pheap exists, the hidden name is debris */
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	CU_ASSERT_EQUAL(pattach("half-made", 9, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(create_id("another"), 0);
	CU_ASSERT_EQUAL(access(tmp, F_OK), -1);		/* removed */
	CU_ASSERT_EQUAL(access(path, F_OK), 0);		/* kept */
	close(p[0]);
	close(p[1]);
}

/* root's debris: nobody's creation leaves it, root's removes it */
static int
leave_debris(void *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	return fd < 0 || write(fd, "x", 1) != 1;
}

static void
test_others_debris(void)
{
	char path[4200];

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	snprintf(path, sizeof(path), "%s/.tmp-99999999-roots", tu_pool());
	CU_ASSERT_EQUAL(leave_debris(path), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(create_in_time, "by-nobody"), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	/* its owner's next creation removes it (no witness on it) */
	CU_ASSERT_EQUAL(create_id("by-root"), 0);
	CU_ASSERT_EQUAL(access(path, F_OK), -1);
}

/* 16 files named like pheaps, of the given mode (0: a FIFO, 1: a dir) */
static int
plant(void *arg)
{
	int mode = (int)(intptr_t)arg;
	char pn[64], path[4200];

	for (int i = 0; i < PHEAP_COUNT_LIMIT; i++) {
		/* the names a pheap would have: 32 hex digits and .pheap */
		snprintf(pn, sizeof(pn), "%08x%024x.pheap", (unsigned)mode + 1,
			(unsigned)i + 1);
		snprintf(path, sizeof(path), "%s/%s", getenv("PHEAP_POOL"), pn);
		int ret = mode == 0 ? mkfifo(path, 0644) : mode == 1 ?
			mkdir(path, 0755) : close(open(path, O_WRONLY | O_CREAT |
			O_EXCL, mode));
		if (ret)
			return 1;
	}
	return 0;
}

static int
create_as_bob(void *id)
{
	if (setgroups(0, NULL) || setresgid(1002, 1002, 1002) ||
			setresuid(1002, 1002, 1002))
		return 10;
	int ret = create_id(id);
	return ret == 0 ? 0 : ret == -ENOSPC ? 2 : 3;
}

static void
test_what_counts(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	tu_pool();
	/* junk bob can read, FIFOs, directories: nothing */
	CU_ASSERT_EQUAL(tu_child_as_nobody(plant, (void *)(intptr_t)0644), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(plant, (void *)(intptr_t)0), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(plant, (void *)(intptr_t)1), 0);
	CU_ASSERT_EQUAL(tu_child(create_as_bob, "bobs-first"), 0);
	/* files bob cannot read may be pheaps of others: they count */
	tu_pool();
	CU_ASSERT_EQUAL(tu_child_as_nobody(plant, (void *)(intptr_t)0600), 0);
	CU_ASSERT_EQUAL(tu_child(create_as_bob, "bobs-second"), 2);
	/* root reads them: junk to root */
	CU_ASSERT_EQUAL(create_id("roots"), 0);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "a flock on the pool directory blocks no creation", test_dir_flock },
		{ "racing for the last places: 16, no more", test_race_for_the_last_places },
		{ "racing for one id: one wins", test_race_for_one_id },
		{ "racing for one id across pool orders", test_race_across_orders },
		{ "a pheap not yet committed is absent", test_uncommitted_is_absent },
		{ "another user's debris", test_others_debris },
		{ "what counts toward the 16", test_what_counts },
		{ NULL, NULL }
	};

	return tu_main("create", tests);
}
