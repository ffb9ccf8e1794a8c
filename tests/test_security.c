/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_security.c -- a pool shared between users (issue #10), with real
 * uids (forked children that setresuid, so run as root; skipped else):
 *  - a planted pheap: one user creates an id, makes it world-writable and
 *    rewrites its header to name another user as owner with mode 0600;
 *    that user must not attach to it believing it is theirs;
 *  - a writer takes ownership in the header: the true owner (the file's)
 *    still may pchmod, the writer may not, and is refused the pheap.
 * Linked with the library's objects: the attacker writes headers with the
 * library's own encoder (the format is public anyway).
 */
#include <errno.h>
#include <grp.h>
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

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "a planted pheap is nobody else's", test_planted },
		{ "a writer cannot take ownership", test_writer_takes_ownership },
		{ NULL, NULL }
	};

	return tu_main("security", tests);
}
