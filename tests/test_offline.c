/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_offline.c -- a pheap's bytes without attaching it (pheap_open(3),
 * pheap_pread(3), pheap_pzero(3), pheap_stat(3)), with real processes,
 * files and mappings:
 *   peer      bytes written offline are seen by an attached process through
 *             its mapping, and bytes it stores are read back offline
 *   range     [0, break) or -ERANGE, also after another process shrank it
 *   race      writes racing shrinks in another process never leave the file
 *             longer than the durable break, and never fault; reads racing
 *             grows and shrinks (threads) never fault
 *   access    PHEAP_RDONLY handles cannot write; a user without permission
 *             gets -EACCES, a planted header is refused as pattach refuses it
 *   durable   what pheap_pwrite wrote is in the file once it returned, even
 *             if the writer is killed right after
 *   attached  usable while attached to another pheap and to the same one
 *   stat      pheap_stat's fields, from the durable header
 *   zero      pheap_pzero zeroes exactly its range, across chunks
 *   args      invalid arguments: -EFAULT, -EINVAL, with a message
 *   threads   many threads on one handle
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "header.h"	/* HDR_AREA_SIZE: where the heap starts in a file */
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) (0x2a0002000000UL + (unsigned long)(x))
#define DATA_OFF HDR_AREA_SIZE

/* a fresh pool holding the pheap id, of pages pages, nobody attached */
static void
make_pheap(const char *id, unsigned long pages)
{
	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL_FATAL(pbrk(B(pages * PG)), (long)B(pages * PG));
	CU_ASSERT_EQUAL_FATAL(pdetach(), 0);
}

static struct pheap_handle *
open_h(const char *id, unsigned long flags)
{
	struct pheap_handle *h = NULL;

	CU_ASSERT_EQUAL_FATAL(pheap_open(id, strlen(id), flags, &h), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	return h;
}

static const char *
path_of(struct pheap_handle *h)
{
	static struct pheap_info info;

	CU_ASSERT_EQUAL(pheap_stat(h, &info), 0);
	return info.path;
}

static off_t
size_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* ---- peer ---- */

static void
test_peer(void)
{
	const char *id = tu_id("peer");
	struct tu_peer p;
	char buf[16];

	make_pheap(id, 4);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	struct pheap_handle *h = open_h(id, 0);

	/* offline to the peer's mapping */
	CU_ASSERT_EQUAL(pheap_pwrite(h, "hello", 6, PG + 10), 6);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'l', PG + 10), 'h');
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'l', PG + 14), 'o');
	/* the last byte of the heap, both ways */
	CU_ASSERT_EQUAL(pheap_pwrite(h, "!", 1, 4 * PG - 1), 1);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'l', 4 * PG - 1), '!');
	/* the peer's plain stores, read offline */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 's', (2 * PG + 5) << 8 | 'Z'), 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 's', (2 * PG + 6) << 8 | 'q'), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 2, 2 * PG + 5), 2);
	CU_ASSERT_EQUAL(memcmp(buf, "Zq", 2), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 6, PG + 10), 6);
	CU_ASSERT_STRING_EQUAL(buf, "hello");
	/* a grow by the peer is readable at once, and reads as zero */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(5 * PG)), (long)B(5 * PG));
	memset(buf, 1, sizeof(buf));
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 16, 5 * PG - 16), 16);
	CU_ASSERT_EQUAL(buf[0] | buf[15], 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
}

/* ---- range ---- */

static void
test_range(void)
{
	const char *id = tu_id("range");
	struct tu_peer p;
	char buf[8] = "abcdefg";

	make_pheap(id, 3);
	struct pheap_handle *h = open_h(id, 0);
	const char *path = path_of(h);

	CU_ASSERT_EQUAL(pheap_pread(h, buf, 8, 3 * PG - 8), 8);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 8, 3 * PG - 7), -ERANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "not inside the heap"));
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 1, 3 * PG), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pzero(h, 3 * PG - 1, 2), -ERANGE);
	/* zero bytes at the break, not past it */
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 0, 3 * PG), 0);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 0, 3 * PG), 0);
	CU_ASSERT_EQUAL(pheap_pzero(h, 3 * PG, 0), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 0, 3 * PG + 1), -ERANGE);
	/* no wrap-around */
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 2, ~0UL), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, ~(size_t)0, 16), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pzero(h, 16, ~0UL), -ERANGE);
	/* another process shrinks it: the new break, read at each call */
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(PG)), (long)B(PG));
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, PG), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 1, 2 * PG), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 8, PG - 4), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 8, PG - 8), 8);
	CU_ASSERT_EQUAL(size_of(path), (off_t)(DATA_OFF + PG));
	/* and to 0 */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(0)), (long)B(0));
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, 0), -ERANGE);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 0, 0), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* ---- race ---- */

struct racer {
	struct pheap_handle *h;
	volatile int stop;
	unsigned long off, len;	/* what each call covers */
	int write;
	long ok, shorts, erange, other;
};

static void *
race_loop(void *arg)
{
	struct racer *r = arg;
	char *buf = malloc(r->len);

	memset(buf, 0x5a, r->len);
	while (!r->stop) {
		ssize_t n = r->write ?
			pheap_pwrite(r->h, buf, r->len, r->off) :
			pheap_pread(r->h, buf, r->len, r->off);

		if (n == (ssize_t)r->len)
			r->ok++;
		else if (n > 0)
			r->shorts++;
		else if (n == -ERANGE)
			r->erange++;
		else
			r->other++;
	}
	free(buf);
	return NULL;
}

/* until every racer has done a whole call (2 s at most) */
static void
wait_going(struct racer *r, int n, const long *before)
{
	double end = tu_ms() + 2000;

	for (int i = 0; i < n; i++)
		while (r[i].ok == before[i] && tu_ms() < end)
			usleep(100);
}

/* 4 writers of 4 KiB in the last 3 pages of a 4-page heap while a peer
 * shrinks it to 1 page and grows it back, rounds times: once the writers
 * stopped, the file holds exactly the durable break */
static void
test_race_write(void)
{
	const char *id = tu_id("racew");
	struct tu_peer p;
	struct racer r[4];
	pthread_t th[4];
	long before[4], ok = 0, out = 0, other = 0;
	int bad = 0;

	make_pheap(id, 4);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	struct pheap_handle *h = open_h(id, 0);
	const char *path = path_of(h);

	memset(r, 0, sizeof(r));
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < 4; i++) {
			r[i].h = h;
			r[i].stop = 0;
			r[i].off = (1 + i * 3 / 4) * PG + (round % 16) * 4096;
			r[i].len = 4096;
			r[i].write = 1;
			before[i] = r[i].ok;
			pthread_create(&th[i], NULL, race_loop, &r[i]);
		}
		wait_going(r, 4, before);
		bad += tu_peer_cmd(&p, 'b', B(PG)) != (long)B(PG);
		for (int i = 0; i < 4; i++) {
			r[i].stop = 1;
			pthread_join(th[i], NULL);
		}
		/* the writers are done: the file is the break, not longer */
		bad += size_of(path) != (off_t)(DATA_OFF + PG);
		bad += tu_peer_cmd(&p, 'b', B(4 * PG)) != (long)B(4 * PG);
	}
	for (int i = 0; i < 4; i++) {
		ok += r[i].ok + r[i].shorts;
		out += r[i].erange;
		other += r[i].other;
	}
	fprintf(stderr, "(%ld written, %ld out of range) ", ok, out);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT(ok > 0 && out > 0);	/* both sides of the race */
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
}

/* readers (threads) of 64 KiB in [PG, 4 PG) while a peer grows and
 * shrinks the heap between 1 and 4 pages */
static void
test_race_read(void)
{
	const char *id = tu_id("racer");
	struct tu_peer p;
	pthread_t th[4];
	struct racer r[4];
	long before[4] = { 0 };

	make_pheap(id, 4);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	struct pheap_handle *h = open_h(id, PHEAP_RDONLY);

	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){ h, 0, PG + (unsigned long)i * 3 * PG / 4,
			65536, 0, 0, 0, 0, 0 };
		pthread_create(&th[i], NULL, race_loop, &r[i]);
	}
	wait_going(r, 4, before);
	for (int round = 0; round < 60; round++) {
		unsigned long to = (round % 2 ? 4 : 1 + round % 3) * PG;

		CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(to)), (long)B(to));
	}
	long ok = 0, out = 0, other = 0;

	for (int i = 0; i < 4; i++) {
		r[i].stop = 1;
		pthread_join(th[i], NULL);
		ok += r[i].ok + r[i].shorts;
		out += r[i].erange;
		other += r[i].other;
	}
	fprintf(stderr, "(%ld read, %ld out of range) ", ok, out);
	CU_ASSERT(ok > 0 && out > 0);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
}

/* ---- access ---- */

static void
test_rdonly(void)
{
	const char *id = tu_id("ro");
	char buf[4];

	make_pheap(id, 1);
	struct pheap_handle *h = open_h(id, PHEAP_RDONLY);

	CU_ASSERT_EQUAL(pheap_pwrite(h, "x", 1, 0), -EACCES);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "PHEAP_RDONLY"));
	CU_ASSERT_EQUAL(pheap_pzero(h, 0, 1), -EACCES);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 4, 0), 4);
	struct pheap_info info;

	CU_ASSERT_EQUAL(pheap_stat(h, &info), 0);
	CU_ASSERT_TRUE(info.rdonly);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

struct who {
	const char *id;
	unsigned long flags;
};

/* pheap_open as the child's user: the result */
static int
open_as(void *arg)
{
	struct who *w = arg;
	struct pheap_handle *h;
	char c;
	int ret = pheap_open(w->id, strlen(w->id), w->flags, &h);

	if (ret == 0 && pheap_pread(h, &c, 1, 0) != 1)
		return 100;
	if (ret == 0)
		pheap_close(h);
	return -ret;
}

/* pattach as the child's user: the result */
static int
attach_as(void *arg)
{
	struct who *w = arg;

	return -pattach(w->id, strlen(w->id), PHEAP_ATTACH | w->flags);
}

static void
test_nobody(void)
{
	const char *id = tu_id("perm");
	struct who ro = { id, PHEAP_RDONLY }, rw = { id, 0 };

	if (geteuid() != 0) {
		fprintf(stderr, "(not root: skipped) ");
		return;
	}
	make_pheap(id, 1);	/* root's, 0644 & ~umask */
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pchmod(0600), 0);
	const char *path = tu_path();
	char file[4096];

	snprintf(file, sizeof(file), "%s", path);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &ro), EACCES);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &rw), EACCES);
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pchmod(0644), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &ro), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &rw), EACCES);
	/* a header that does not agree with its file (made writable by all
	 * behind the owner's back): refused by pheap_open as by pattach */
	CU_ASSERT_EQUAL(chmod(file, 0666), 0);
	CU_ASSERT_EQUAL(tu_child_as_nobody(attach_as, &rw), EACCES);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &rw), EACCES);
	CU_ASSERT_EQUAL(tu_child_as_nobody(open_as, &ro), EACCES);
	/* its owner still opens it */
	struct pheap_handle *h = open_h(id, 0);

	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* ---- durable ---- */

static int
write_then_die(void *arg)
{
	const char *id = arg;
	struct pheap_handle *h;

	if (pheap_open(id, strlen(id), 0, &h))
		return 1;
	if (pheap_pwrite(h, "survives kill -9", 17, PG + 123) != 17)
		return 2;
	raise(SIGKILL);		/* no close, no exit */
	return 3;
}

static void
test_durable(void)
{
	const char *id = tu_id("dur");
	char buf[17];

	make_pheap(id, 2);
	struct pheap_handle *h = open_h(id, PHEAP_RDONLY);
	int fd = open(path_of(h), O_RDONLY);

	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(tu_child(write_then_die, (void *)id), 128 + SIGKILL);
	/* plain pread on the file: the heap's byte 0 is at DATA_OFF */
	CU_ASSERT_EQUAL(pread(fd, buf, 17, DATA_OFF + PG + 123), 17);
	CU_ASSERT_STRING_EQUAL(buf, "survives kill -9");
	close(fd);
}

/* ---- attached ---- */

static void
test_attached_other(void)
{
	const char *a = tu_id("A"), *b = "other-B";
	char buf[8];

	make_pheap(a, 2);
	CU_ASSERT_EQUAL_FATAL(pattach(b, strlen(b), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(PG)), (long)B(PG));
	strcpy(BASE, "B's");
	struct pheap_handle *h = open_h(a, 0);

	CU_ASSERT_EQUAL(pheap_pwrite(h, "A's", 4, 100), 4);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 4, 100), 4);
	CU_ASSERT_STRING_EQUAL(buf, "A's");
	/* the attachment is untouched: still B, its bytes its own */
	CU_ASSERT_STRING_EQUAL(BASE, "B's");
	CU_ASSERT_EQUAL(BASE[100], 0);
	struct pheap_info info;

	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	CU_ASSERT_EQUAL(info.id_len, strlen(b));
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), (long)B(2 * PG));
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* and the other way round: opened first, then attached */
	h = open_h(a, PHEAP_RDONLY);
	CU_ASSERT_EQUAL_FATAL(pattach(b, strlen(b), PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 4, 100), 4);
	CU_ASSERT_STRING_EQUAL(buf, "A's");
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

static void
test_attached_same(void)
{
	const char *id = tu_id("same");
	char buf[8];

	make_pheap(id, 2);
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_ATTACH), 0);
	struct pheap_handle *h = open_h(id, 0);

	/* a write is seen through this process's own mapping, a store read */
	CU_ASSERT_EQUAL(pheap_pwrite(h, "mine", 5, PG + 7), 5);
	CU_ASSERT_STRING_EQUAL(BASE + PG + 7, "mine");
	strcpy(BASE + 3, "store");
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 6, 3), 6);
	CU_ASSERT_STRING_EQUAL(buf, "store");
	/* this process's break changes are the handle's too */
	CU_ASSERT_EQUAL(pbrk(B(3 * PG)), (long)B(3 * PG));
	CU_ASSERT_EQUAL(pheap_pwrite(h, "new", 4, 2 * PG), 4);
	CU_ASSERT_STRING_EQUAL(BASE + 2 * PG, "new");
	CU_ASSERT_EQUAL(pbrk(B(PG)), (long)B(PG));
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, PG), -ERANGE);
	/* the handle holds nothing pbrk or pdetach waits for */
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 6, 3), 6);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* ---- stat ---- */

static void
test_stat(void)
{
	const char *id = tu_id("stat");
	struct pheap_info info, att;
	struct tu_peer p;
	struct stat sb;

	make_pheap(id, 3);
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pheap_info(&att), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	struct pheap_handle *h = open_h(id, 0);

	CU_ASSERT_EQUAL(pheap_stat(h, &info), 0);
	CU_ASSERT_EQUAL(info.id_len, strlen(id));
	CU_ASSERT_EQUAL(memcmp(info.id, id, strlen(id)), 0);
	CU_ASSERT_PTR_EQUAL(info.base, BASE);
	CU_ASSERT_PTR_EQUAL(info.brk, BASE + 3 * PG);
	CU_ASSERT(info.capacity >= 3 * PG);
	CU_ASSERT_EQUAL(info.capacity % PG, 0);
	CU_ASSERT_STRING_EQUAL(info.path, att.path);
	CU_ASSERT_EQUAL(info.backend, att.backend);
	CU_ASSERT_EQUAL(stat(info.path, &sb), 0);
	CU_ASSERT_EQUAL(info.mode, sb.st_mode & 0777);
	CU_ASSERT_EQUAL(info.uid, sb.st_uid);
	CU_ASSERT_EQUAL(info.gid, sb.st_gid);
	CU_ASSERT_FALSE(info.rdonly);
	CU_ASSERT_EQUAL(info.unsafe_shutdown, 0);
	CU_ASSERT_EQUAL(info.follow_error, 0);
	/* another process's break and mode, at the next call */
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(5 * PG)), (long)B(5 * PG));
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'c', 0640), 0);
	CU_ASSERT_EQUAL(pheap_stat(h, &info), 0);
	CU_ASSERT_PTR_EQUAL(info.brk, BASE + 5 * PG);
	CU_ASSERT_EQUAL(info.mode, 0640);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* ---- zero ---- */

static void
test_zero(void)
{
	const char *id = tu_id("zero");
	size_t len = 6 * PG;	/* 12 MiB: more than one 8 MiB chunk */
	unsigned char *buf = malloc(len);

	make_pheap(id, 6);
	struct pheap_handle *h = open_h(id, 0);

	memset(buf, 0xab, len);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, len, 0), (ssize_t)len);
	/* [1, 10 MiB + 3) zeroed, every other byte kept */
	unsigned long from = 1, n = 5 * PG + 3;

	CU_ASSERT_EQUAL(pheap_pzero(h, from, n), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, len, 0), (ssize_t)len);
	size_t wrong = 0;

	for (size_t i = 0; i < len; i++)
		wrong += buf[i] != (i >= from && i < from + n ? 0 : 0xab);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(pheap_pzero(h, 0, 6 * PG), 0);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, 6 * PG - 1), 1);
	CU_ASSERT_EQUAL(buf[0], 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	free(buf);
}

/* ---- args ---- */

static void
test_args(void)
{
	const char *id = tu_id("args");
	struct pheap_handle *h = NULL;
	struct pheap_info info;
	char buf[4];

	make_pheap(id, 1);
	CU_ASSERT_EQUAL(pheap_open(NULL, 3, 0, &h), -EFAULT);
	CU_ASSERT_EQUAL(pheap_open(id, strlen(id), 0, NULL), -EFAULT);
	CU_ASSERT_EQUAL(pheap_open(id, 0, 0, &h), -EINVAL);
	CU_ASSERT_EQUAL(pheap_open(id, PHEAP_ID_LEN_LIMIT + 1, 0, &h), -EINVAL);
	CU_ASSERT_EQUAL(pheap_open(id, strlen(id), PHEAP_CREATE, &h), -EINVAL);
	CU_ASSERT_EQUAL(pheap_open(id, strlen(id), PHEAP_ATTACH, &h), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "unknown flags"));
	/* absent: as pattach(PHEAP_ATTACH) says it */
	CU_ASSERT_EQUAL(pheap_open("absent", 6, 0, &h), -EINVAL);
	CU_ASSERT_PTR_NULL(h);
	CU_ASSERT_EQUAL(pheap_pread(NULL, buf, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(pheap_pwrite(NULL, buf, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(pheap_pzero(NULL, 0, 1), -EFAULT);
	CU_ASSERT_EQUAL(pheap_stat(NULL, &info), -EFAULT);
	CU_ASSERT_EQUAL(pheap_close(NULL), -EFAULT);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "NULL"));
	h = open_h(id, 0);
	CU_ASSERT_EQUAL(pheap_pread(h, NULL, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(pheap_pwrite(h, NULL, 1, 0), -EFAULT);
	CU_ASSERT_EQUAL(pheap_pread(h, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(pheap_stat(h, NULL), -EFAULT);
	/* a header damaged behind the handle's back: -EUCLEAN, not bytes */
	int fd = open(path_of(h), O_RDWR);
	char junk[HDR_COPY_SIZE];

	memset(junk, 0x77, sizeof(junk));
	CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	CU_ASSERT_EQUAL(pwrite(fd, junk, sizeof(junk), HDR_SLOT_SIZE),
		(ssize_t)sizeof(junk));
	close(fd);
	CU_ASSERT_EQUAL(pheap_pread(h, buf, 1, 0), -EUCLEAN);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 1, 0), -EUCLEAN);
	CU_ASSERT_EQUAL(pheap_stat(h, &info), -EUCLEAN);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

/* ---- threads ---- */

struct worker {
	struct pheap_handle *h;
	int n;
	int bad;
};

static void *
work(void *arg)
{
	struct worker *w = arg;
	unsigned char out[4096], in[4096];
	struct pheap_info info;

	for (int i = 0; i < 200; i++) {
		unsigned long off = (unsigned long)w->n * 65536 + (i % 16) * 4096;

		memset(out, (w->n << 4) | (i & 15), sizeof(out));
		w->bad += pheap_pwrite(w->h, out, sizeof(out), off) != 4096;
		w->bad += pheap_pread(w->h, in, sizeof(in), off) != 4096;
		w->bad += memcmp(in, out, sizeof(in)) != 0;
		if (i % 50 == 0)
			w->bad += pheap_stat(w->h, &info) != 0 ||
				info.brk != BASE + PG;
	}
	return NULL;
}

static void
test_threads(void)
{
	const char *id = tu_id("thr");
	pthread_t th[8];
	struct worker w[8];

	make_pheap(id, 1);
	struct pheap_handle *h = open_h(id, 0);

	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ h, i, 0 };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	int bad = 0;

	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		bad += w[i].bad;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "an attached peer sees what is written, and its stores are "
			"read", test_peer },
		{ "[0, break) or ERANGE, also after another process's shrink",
			test_range },
		{ "writes racing shrinks never leave the file longer than "
			"the break", test_race_write },
		{ "reads racing grows and shrinks never fault",
			test_race_read },
		{ "a read-only handle cannot write", test_rdonly },
		{ "permission and a planted header, as another user",
			test_nobody },
		{ "a write is in the file when it returns, kill -9 or not",
			test_durable },
		{ "while attached to another pheap", test_attached_other },
		{ "while attached to the same pheap", test_attached_same },
		{ "pheap_stat: fields from the durable header", test_stat },
		{ "pheap_pzero zeroes its range, across chunks", test_zero },
		{ "invalid arguments and a damaged header", test_args },
		{ "many threads on one handle", test_threads },
		{ NULL, NULL }
	};
	return tu_main("offline", tests);
}
