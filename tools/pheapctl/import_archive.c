/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * import_archive.c -- pheapctl import --archive FILE [ID]: an archive
 * (archive.h) made a new pheap of the pool -- on this machine or another
 * -- at the archived base address, with the archived break and mode, under
 * the archived id or ID.
 *
 * Verify first, then create.  The whole archive is read and checked
 * before anything is created: the header, every chunk, the trailer, and
 * that the file ends there.  A damaged archive (a checksum or a field
 * wrong, truncated, trailing bytes) creates nothing, not even for an
 * instant.  The other way -- create, write, destroy if a later chunk is
 * bad -- would show a half-imported pheap in the pool for as long as the
 * import takes, which another process of the importer could attach to;
 * verifying costs one more read of the archive, cheap next to writing the
 * heap durably.  The bytes are then read a second time and written, every
 * chunk checked again, since FILE may change between the two reads: if
 * it did, the new pheap is destroyed and import fails.  A FILE that
 * cannot be read twice (a pipe) was copied to a temporary file first
 * (datafile.c).
 *
 * The pheap is created by pattach(3) PHEAP_CREATE with PHEAP_BASE set to
 * the archived base, and mode 0600 (a umask of 077) until its bytes are
 * in: no other user sees it part-written.  pbrk(3) grows it to the
 * archived break -- a grown heap is zero, so chunks of zeros are not
 * written -- pheap_pwrite(3) writes the bytes (durable when it returns),
 * pchmod(3) gives it the archived mode, pdetach(3) leaves it.  A failure
 * after the creation destroys it with pheap_destroy(3) while still
 * attached: from then on nobody finds it, and our pdetach frees it.  The
 * archived owner is not restored: the pheap is the importer's (root may
 * give it away with pheapctl chown).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "xfer.h"

/* one import */
struct imp {
	const char *file;
	char idtxt[CTL_ID_TEXT];	/* the new pheap's id, printable */
	struct ar_meta m;
	int fd;
	unsigned char *buf;		/* a chunk: its head and data */
	struct pheap_handle *h;		/* the new pheap, while writing */
};

/* the header, and FILE's size against it: 0 or EXIT_FAIL */
static int
read_header(struct imp *im, unsigned long long fsize,
	unsigned char raw[AR_HEADER_SIZE])
{
	char why[AR_WHY];
	ssize_t r = data_read(im->fd, raw, AR_HEADER_SIZE);

	if (r < 0)
		return ctl_fail(im->file, strerror(errno));
	if (r < AR_HEADER_SIZE) {
		snprintf(why, sizeof(why), "truncated: %zd bytes, fewer than "
			"an archive's header", r);
		return ctl_fail(im->file, why);
	}
	if (ar_header_decode(raw, &im->m, why))
		return ctl_fail(im->file, why);
	if (fsize < ar_size(&im->m))
		snprintf(why, sizeof(why), "truncated: %llu bytes, the header "
			"says %llu", fsize, (unsigned long long)ar_size(&im->m));
	else if (fsize > ar_size(&im->m))
		snprintf(why, sizeof(why), "%llu bytes of trailing garbage "
			"after its end (%llu bytes)", fsize - ar_size(&im->m),
			(unsigned long long)ar_size(&im->m));
	else
		return 0;
	return ctl_fail(im->file, why);
}

/* chunk k's data into the new pheap, unless it is zeros: 0 or EXIT_FAIL */
static int
put(struct imp *im, uint64_t k, uint32_t len)
{
	const unsigned char *data = im->buf + AR_CHUNK_HEAD;
	ssize_t r;

	if (ctl_signalled())
		return ctl_fail(im->idtxt, "interrupted: the new pheap is "
			"destroyed");
	if (data[0] == 0 && memcmp(data, data + 1, len - 1) == 0)
		return 0;	/* the grown heap is zero there already */
	r = pheap_pwrite(im->h, data, len, k * im->m.chunk_size);
	if (r == (ssize_t)len)
		return 0;
	return ctl_fail(im->idtxt, r < 0 ? pheap_errormsg() :
		"the heap shrank during the import");
}

/* the trailer, and the end of FILE right after it: 0 or EXIT_FAIL */
static int
read_end(struct imp *im, uint32_t digest)
{
	unsigned char tail[AR_TRAILER_SIZE + 1];
	char why[AR_WHY];
	ssize_t r = data_read(im->fd, tail, sizeof(tail));

	if (r < 0)
		return ctl_fail(im->file, strerror(errno));
	if (r < AR_TRAILER_SIZE)
		return ctl_fail(im->file, "truncated: it ends inside the "
			"trailer");
	if (ar_trailer_check(&im->m, digest, tail, why))
		return ctl_fail(im->file, why);
	if (r > AR_TRAILER_SIZE)
		return ctl_fail(im->file, "trailing garbage after the trailer");
	return 0;
}

/* one pass over the chunks and the trailer, checking; with im->h, every
 * chunk is also written: 0 or EXIT_FAIL */
static int
walk(struct imp *im, const char *label)
{
	uint32_t digest = ar_digest_start(&im->m), sum = 0;
	char why[AR_WHY];
	struct progress p;
	int ret = 0;

	progress_start(&p, label, im->m.data_len);
	for (uint64_t k = 0; ret == 0 && k < ar_chunks(&im->m); k++) {
		uint32_t len = ar_chunk_len(&im->m, k);
		ssize_t r = data_read(im->fd, im->buf, AR_CHUNK_HEAD + len);

		if (r < 0) {
			ret = ctl_fail(im->file, strerror(errno));
		} else if (r < (ssize_t)(AR_CHUNK_HEAD + len)) {
			snprintf(why, sizeof(why), "truncated: it ends inside "
				"chunk %llu", (unsigned long long)k);
			ret = ctl_fail(im->file, why);
		} else if (ar_chunk_check(&im->m, k, im->buf, im->buf +
				AR_CHUNK_HEAD, &sum, why)) {
			ret = ctl_fail(im->file, why);
		} else if (im->h) {
			ret = put(im, k, len);
		}
		digest = ar_digest_add(digest, sum);
		progress_step(&p, k * im->m.chunk_size + len);
	}
	progress_end(&p);
	return ret ? ret : read_end(im, digest);
}

/* the new pheap: created, attached, grown, open for writing; 0 or
 * EXIT_FAIL (then nothing is left) */
static int
create(struct imp *im)
{
	char base[32], msg[256];
	struct pheap_info info;
	mode_t um;
	int ret = 0;

	snprintf(base, sizeof(base), "%#llx", (unsigned long long)im->m.base);
	if (setenv("PHEAP_BASE", base, 1))
		return ctl_fail(im->idtxt, strerror(errno));
	um = umask(077);
	if (pattach(im->m.id, im->m.id_len, PHEAP_CREATE))
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	umask(um);
	if (ret)
		return ret;
	if (pheap_info(&info)) {
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	} else if ((uintptr_t)info.base != im->m.base) {
		snprintf(msg, sizeof(msg), "the pool placed it at %p, not at "
			"the archived base %s (a device mapped in 1 GiB units "
			"needs a 1 GiB aligned base)", info.base, base);
		ret = ctl_fail(im->idtxt, msg);
	} else if (im->m.data_len && pbrk((unsigned long)(im->m.base +
			im->m.data_len)) < 0) {
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	} else if (pheap_open(im->m.id, im->m.id_len, 0, &im->h)) {
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	}
	return ret;
}

/* the new pheap is destroyed: nobody finds it, our pdetach frees it */
static void
undo(struct imp *im)
{
	if (im->h)
		pheap_close(im->h);
	im->h = NULL;
	pheap_destroy(im->m.id, im->m.id_len, 0);
	pdetach();
}

/* create, write, finish: the exit status */
static int
fill(struct imp *im, const unsigned char raw[AR_HEADER_SIZE])
{
	unsigned char again[AR_HEADER_SIZE];
	int ret;

	if ((ret = create(im)) != 0) {
		if (pheap_base())
			undo(im);	/* created, then refused */
		return ret;
	}
	if (lseek(im->fd, 0, SEEK_SET) || data_read(im->fd, again,
			sizeof(again)) != AR_HEADER_SIZE ||
			memcmp(raw, again, sizeof(again)))
		ret = ctl_fail(im->file, "it changed during the import");
	if (ret == 0)
		ret = walk(im, "import");
	if (ret == 0 && (ret = pheap_close(im->h)) != 0)
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	im->h = NULL;
	if (ret == 0 && pchmod(im->m.mode))
		ret = ctl_fail(im->idtxt, pheap_errormsg());
	if (ret) {
		undo(im);
		return ret;
	}
	return pdetach() ? ctl_fail(im->idtxt, pheap_errormsg()) : EXIT_OK;
}

/* verify, then create and write, with a signal noted meanwhile (and
 * raised again once the pheap is complete or destroyed) */
static int
run(struct imp *im, const unsigned char raw[AR_HEADER_SIZE])
{
	int ret = walk(im, "verify");

	if (ret)
		return ret;
	ctl_hold_signals();
	ret = fill(im, raw);
	ctl_release_signals();
	return ret;
}

int
import_archive(const struct xfer *x)
{
	struct imp im = { .file = x->pos[0], .fd = -1 };
	unsigned char raw[AR_HEADER_SIZE];
	char id[PHEAP_ID_LEN_LIMIT];
	unsigned long long fsize;
	size_t len = 0;
	int ret;

	if (x->npos < 1)
		return ctl_usage("an archive is needed");
	if (x->npos == 2 && (ret = xfer_id(x->pos[1], id, &len)) != 0)
		return ret;
	if ((ret = data_in_open(im.file, ULLONG_MAX, &im.fd, &fsize)) != 0)
		return ret;
	ret = read_header(&im, fsize, raw);
	if (ret == 0 && len) {
		memcpy(im.m.id, id, len);
		im.m.id_len = len;
	}
	ctl_id_text(im.idtxt, im.m.id, im.m.id_len);
	if (ret == 0 && !(im.buf = malloc(AR_CHUNK_HEAD + im.m.chunk_size)))
		ret = ctl_fail(im.file, strerror(ENOMEM));
	if (ret == 0)
		ret = run(&im, raw);
	free(im.buf);
	if (im.fd != STDIN_FILENO)
		close(im.fd);
	return ret;
}
