/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_inject.c -- the NVDIMM-only paths, on plain files, through the
 * injection points of the test build (src/testhook.h):
 *  - bad blocks: a read-write attach over a bad block inside the heap
 *    [data_off, data_off + brk) fails with -EIO and says why; read-only
 *    attach still works (to save data); bad blocks outside the heap are
 *    harmless;
 *  - unsafe shutdown count: a change between two attaches is reported
 *    (pheap_info().unsafe_shutdown = 1) once: a read-write attach records
 *    the new count, a read-only one does not;
 *  - an offline write (pheap_pwrite) whose range another process shrinks
 *    away between the check of the break and the write: the write extends
 *    the file, and the writer trims it back before it returns -ERANGE (or
 *    a short count) -- made to happen every time with testhook_at.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "pheap.h"
#include "header.h"
#include "testhook.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) (0x2a0002000000UL + (unsigned long)(x))	/* integer: gcc 12 -fsanitize=undefined ICEs on constant pointer sums */
#define DATA_OFF HDR_AREA_SIZE

static int
unsafe_now(void)
{
	struct pheap_info info;

	return pheap_info(&info) == 0 ? info.unsafe_shutdown : -1;
}

static void
test_badblock(void)
{
	const char *id = tu_id("bb");
	size_t n = strlen(id);

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, n, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pbrk(B(2 * PG)), B(2 * PG));
	strcpy(BASE + PG, "saved");
	CU_ASSERT_EQUAL(pdetach(), 0);

	/* one 4 KiB bad block in the second page of the heap */
	testhook_inject_badblock(DATA_OFF + PG + 4096, 4096);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), -EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "bad blocks"));
	CU_ASSERT_PTR_NULL(pheap_base());
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH | PHEAP_RDONLY), 0);
	CU_ASSERT_STRING_EQUAL(BASE + PG, "saved");
	CU_ASSERT_EQUAL(pdetach(), 0);

	/* the first and the last byte of the heap count */
	testhook_inject_badblock(DATA_OFF, 1);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), -EIO);
	testhook_inject_badblock(DATA_OFF + 2 * PG - 1, 1);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), -EIO);

	/* outside the heap: in the header area, or at and past the break */
	testhook_inject_badblock(4096, DATA_OFF - 4096);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	testhook_inject_badblock(DATA_OFF + 2 * PG, PG);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), 0);
	/* a grow over the bad range is the caller's risk: not checked */
	CU_ASSERT_EQUAL(pdetach(), 0);
	testhook_inject_badblock(0, 0);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), 0);
	CU_ASSERT_STRING_EQUAL(BASE + PG, "saved");
	CU_ASSERT_EQUAL(pdetach(), 0);
}

static void
test_badblock_empty_heap(void)
{
	const char *id = tu_id("bb0");
	size_t n = strlen(id);

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, n, PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* break 0: no byte of the device is heap */
	testhook_inject_badblock(DATA_OFF, PG);
	CU_ASSERT_EQUAL(pattach(id, n, PHEAP_ATTACH), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	testhook_inject_badblock(0, 0);
}

/* attaches with the count usc injected; returns unsafe_shutdown, or -1 */
static int
attach_usc(const char *id, unsigned long flags, uint64_t usc)
{
	int ret, unsafe;

	testhook_inject_usc(1, usc);
	ret = pattach(id, strlen(id), flags);
	if (ret)
		return -100 + ret;
	unsafe = unsafe_now();
	return pdetach() ? -1 : unsafe;
}

static void
test_usc(void)
{
	const char *id = tu_id("usc");

	tu_pool();
	testhook_inject_usc(0, 0);	/* a plain file: no count */
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(unsafe_now(), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	/* the first count seen is recorded, not reported */
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 5), 0);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 5), 0);
	/* a change is reported once, by the read-write attach that sees it */
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 6), 1);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 6), 0);
	/* read-only: reported, not recorded, so reported again */
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH | PHEAP_RDONLY, 7), 1);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH | PHEAP_RDONLY, 7), 1);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 7), 1);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 7), 0);
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH | PHEAP_RDONLY, 7), 0);
	/* no count available (not an NVDIMM): nothing to say, nothing lost
	 * (on a DAX backend libpmem2 may read a real count: then skipped) */
	testhook_inject_usc(0, 0);
	CU_ASSERT_EQUAL(pattach(id, strlen(id), PHEAP_ATTACH), 0);
	struct pheap_info info;
	CU_ASSERT_EQUAL(pheap_info(&info), 0);
	int dax = info.backend != PHEAP_BACKEND_FILE;
	if (!dax)
		CU_ASSERT_EQUAL(unsafe_now(), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	if (dax)
		return;
	CU_ASSERT_EQUAL(attach_usc(id, PHEAP_ATTACH, 7), 0);
}

/* testhook_at's call: the peer shrinks the heap to one page */
static void
peer_shrinks(void *arg)
{
	tu_peer_cmd(arg, 'b', B(PG));
}

static off_t
size_of(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void
test_offline_write_vs_shrink(void)
{
	const char *id = tu_id("offw");
	struct pheap_handle *h;
	struct pheap_info info;
	struct tu_peer p;
	static char buf[8192];

	tu_pool();
	CU_ASSERT_EQUAL_FATAL(pattach(id, strlen(id), PHEAP_CREATE), 0);
	CU_ASSERT_EQUAL(pdetach(), 0);
	CU_ASSERT_EQUAL_FATAL(tu_peer_start(&p, id, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pheap_open(id, strlen(id), 0, &h), 0);
	CU_ASSERT_EQUAL(pheap_stat(h, &info), 0);
	/* wholly beyond the new break: -ERANGE, and the file is the break */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(4 * PG)), (long)B(4 * PG));
	testhook_at("dev.data.write", peer_shrinks, &p);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 4096, 3 * PG), -ERANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(pheap_errormsg(), "during the write"));
	CU_ASSERT_EQUAL(size_of(info.path), (off_t)(DATA_OFF + PG));
	/* across it: the part below it is written, the file is the break */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(4 * PG)), (long)B(4 * PG));
	memset(buf, 'w', sizeof(buf));
	testhook_at("dev.data.write", peer_shrinks, &p);
	CU_ASSERT_EQUAL(pheap_pwrite(h, buf, 8192, PG - 4096), 4096);
	CU_ASSERT_EQUAL(size_of(info.path), (off_t)(DATA_OFF + PG));
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'l', PG - 1), 'w');
	/* pheap_pzero likewise */
	CU_ASSERT_EQUAL(tu_peer_cmd(&p, 'b', B(4 * PG)), (long)B(4 * PG));
	testhook_at("dev.data.write", peer_shrinks, &p);
	CU_ASSERT_EQUAL(pheap_pzero(h, 2 * PG, PG), -ERANGE);
	CU_ASSERT_EQUAL(size_of(info.path), (off_t)(DATA_OFF + PG));
	testhook_at(NULL, NULL, NULL);
	CU_ASSERT_EQUAL(pheap_close(h), 0);
	CU_ASSERT_EQUAL(tu_peer_stop(&p), 0);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "bad block inside the heap: -EIO read-write, read-only works",
			test_badblock },
		{ "bad block under an empty heap", test_badblock_empty_heap },
		{ "unsafe shutdown count: reported once, recorded read-write",
			test_usc },
		{ "an offline write after a shrink's trim: trimmed again",
			test_offline_write_vs_shrink },
		{ NULL, NULL }
	};
	return tu_main("inject", tests);
}
