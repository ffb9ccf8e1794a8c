/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_security.c -- a pool shared between users (issue #10), with real
 * uids (forked children that setresuid, so run as root; skipped else):
 *  - a planted pheap: one user creates an id, makes it world-writable and
 *    rewrites its header to name another user as owner with mode 0600;
 *    that user must not attach to it believing it is theirs;
 *  - a writer takes ownership in the header: the true owner (the file's)
 *    still may pchmod, the writer may not, and is refused the pheap;
 *  - readers that read-lock every byte of the pheap's file, or attach and
 *    stop: the owner's pbrk, pchmod and pattach still complete in bounded
 *    time, and pchmod revokes them.
 * Linked with the library's objects: the attacker writes headers with the
 * library's own encoder (the format is public anyway).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pheap.h"
#include "dev.h"
#include "util.h"

#define ALICE	1001
#define BOB	1002

static int
become(uid_t u)
{
	return setgroups(0, NULL) || setresgid(u, u, u) || setresuid(u, u, u);
}

/* rewrites both header copies of the pheap file at path: owner, mode */
static int
forge(const char *path, uid_t uid, unsigned mode)
{
	struct dev d;
	struct hdr_found f;
	int ret = dev_open(&d, path, 0);

	if (ret)
		return ret;
	ret = hdr_load(&d.io, &f);
	if (ret == 0 && f.ok) {
		f.hdr.uid = uid;
		f.hdr.mode = mode;
		ret = hdr_store(&d.io, &f.hdr, &f.slot);
	}
	dev_close(&d);
	return ret;
}

static char path[4096];

/* alice creates the id, opens it to all, and forges bob's ownership */
static int
alice_plants(void *id)
{
	struct pheap_info info;

	if (become(ALICE) || pattach(id, strlen(id), PHEAP_CREATE) ||
			pchmod(0666) || pheap_info(&info))
		return 1;
	snprintf(path, sizeof(path), "%s", info.path);
	if (pdetach())
		return 2;
	return forge(info.path, BOB, 0600) ? 3 : 0;
}

static int
bob_attaches(void *id)
{
	struct pheap_info info;
	int ret;

	if (become(BOB))
		return 1;
	if (pattach(id, strlen(id), PHEAP_CREATE) != -EINVAL)
		return 2;	/* it exists */
	ret = pattach(id, strlen(id), PHEAP_ATTACH);
	if (ret == 0) {
		/* the victim would believe it: report what it sees */
		pheap_info(&info);
		fprintf(stderr, "bob attached; owner %u mode %lo ",
			(unsigned)info.uid, info.mode);
		return 3;
	}
	return ret == -EACCES && strstr(pheap_errormsg(), "not trusted") ? 0 : 4;
}

static void
test_planted(void)
{
	const char *id = "victim-ledger";

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(tu_child(alice_plants, (void *)id), 0);
	CU_ASSERT_EQUAL(tu_child(bob_attaches, (void *)id), 0);
}

/* alice owns a pheap open to all; bob rewrites its header's owner */
static int
alice_shares(void *id)
{
	struct pheap_info info;

	if (become(ALICE) || pattach(id, strlen(id), PHEAP_CREATE) ||
			pchmod(0666) || pheap_info(&info))
		return 1;
	return pdetach() ? 2 : 0;
}

static int
bob_takes(void *id)
{
	struct pheap_info info;

	if (become(BOB) || pattach(id, strlen(id), PHEAP_ATTACH) ||
			pheap_info(&info))
		return 1;
	if (forge(info.path, BOB, 0666))
		return 2;
	/* bob is still not the owner, whatever the header says */
	if (pheap_info(&info) || info.uid != ALICE || pchmod(0600) != -EACCES)
		return 3;
	if (pdetach())
		return 4;
	/* nor may he attach to it now */
	return pattach(id, strlen(id), PHEAP_ATTACH) == -EACCES ? 0 : 5;
}

static int
alice_revokes(void *id)
{
	struct pheap_info info;

	if (become(ALICE) || pattach(id, strlen(id), PHEAP_ATTACH))
		return 1;
	if (pchmod(0600) || pheap_info(&info) || info.uid != ALICE ||
			info.mode != 0600)
		return 2;
	return pdetach() ? 3 : 0;
}

static void
test_writer_takes_ownership(void)
{
	const char *id = "shared-ledger";

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(tu_child(alice_shares, (void *)id), 0);
	CU_ASSERT_EQUAL(tu_child(bob_takes, (void *)id), 0);
	CU_ASSERT_EQUAL(tu_child(alice_revokes, (void *)id), 0);
}

/* nobody read-locks every byte of path, then waits to be killed */
static pid_t
lock_all_as_nobody(const char *file, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
		int fd;

		if (become(65534) || (fd = open(file, O_RDONLY)) < 0 ||
				fcntl(fd, F_OFD_SETLK, &fl) || write(ready, "l", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	return pid;
}

/* nobody attaches read-only, then stops itself */
static pid_t
attach_and_stop_as_nobody(const char *id, int ready)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (pdetach() || become(65534) ||
				pattach(id, strlen(id), PHEAP_ATTACH | PHEAP_RDONLY) ||
				write(ready, "a", 1) != 1)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	return pid;
}

static unsigned long
top(char *base, int pages)
{
	return (unsigned long)(base + pages * PHEAP_PAGE_SIZE);
}

static int
reattach(void *id)
{
	return pdetach() || pattach(id, strlen(id), PHEAP_ATTACH) ? 1 : 0;
}

static void
test_readers_cannot_freeze(void)
{
	const char *id = "frozen";
	struct pheap_info info;
	struct stat sb;
	char c;
	int p[2];
	double t;

	if (geteuid() != 0) {
		fprintf(stderr, "(needs root; skipped) ");
		return;
	}
	tu_pool();
	setenv("PHEAP_WAIT_MS", "300", 1);
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	char *b = pheap_base();
	CU_ASSERT_EQUAL(pbrk(top(b, 2)), (long)top(b, 2));
	CU_ASSERT_EQUAL(pchmod(0644), 0);
	CU_ASSERT_EQUAL_FATAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
	pid_t locker = lock_all_as_nobody(info.path, p[1]);
	pid_t stopped = attach_and_stop_as_nobody(id, p[1]);
	CU_ASSERT(read(p[0], &c, 1) == 1 && read(p[0], &c, 1) == 1);
	b[0] = 'x';
	/* each call of the owner's: within a few bounds, whatever they hold */
	t = tu_ms();
	CU_ASSERT_EQUAL(pbrk(top(b, 4)), (long)top(b, 4));
	CU_ASSERT_EQUAL(pbrk(top(b, 1)), (long)top(b, 1));
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	CU_ASSERT(tu_ms() - t < 3000);
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.mode, 0600);
	CU_ASSERT(stat(info.path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	t = tu_ms();
	CU_ASSERT_EQUAL(tu_child(reattach, (void *)id), 0);
	CU_ASSERT(tu_ms() - t < 3000);
	CU_ASSERT_EQUAL(b[0], 'x');
	kill(locker, SIGKILL);
	kill(stopped, SIGKILL);
	waitpid(locker, NULL, 0);
	waitpid(stopped, NULL, 0);
	close(p[0]);
	close(p[1]);
	CU_ASSERT_EQUAL(pdetach(), 0);
	unsetenv("PHEAP_WAIT_MS");
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "a planted pheap is nobody else's", test_planted },
		{ "a writer cannot take ownership", test_writer_takes_ownership },
		{ "readers cannot freeze the owner", test_readers_cannot_freeze },
		{ NULL, NULL }
	};

	return tu_main("security", tests);
}
