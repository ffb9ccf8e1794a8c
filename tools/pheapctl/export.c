/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * export.c -- pheapctl export: a heap's bytes to FILE, raw (a range, by
 * default the whole heap) or as an archive (archive.h: the header's fields
 * and the bytes, checksummed), through the offline data API -- a
 * read-only pheap_open(3) and pheap_pread(3) -- so nothing is attached and
 * processes attached meanwhile go on undisturbed.  What they store during
 * the export is read with the byte-level concurrency of pheap_pread(3): a
 * byte written meanwhile may be exported old or new.
 *
 * The heap is [0, break) as the export starts; a shrink below the range
 * during the export fails it, and FILE is removed: an export is all the
 * bytes asked for, or nothing.  So does SIGINT, SIGTERM or SIGHUP
 * (interrupt.c), raised again once FILE is removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "archive.h"
#include "xfer.h"

/* the pheap exported */
struct src {
	const char *idarg;
	struct pheap_handle *h;
	struct pheap_info info;
	unsigned long long size;	/* break - base */
};

/* n heap bytes at off, all of them: 0 or EXIT_FAIL */
static int
read_heap(struct src *s, void *buf, size_t n, unsigned long long off)
{
	ssize_t r;
	char msg[128];

	if (ctl_signalled())
		return ctl_fail(s->idarg, "interrupted");
	r = pheap_pread(s->h, buf, n, off);
	if (r == (ssize_t)n)
		return 0;
	if (r >= 0 || r == -ERANGE) {
		snprintf(msg, sizeof(msg), "the heap shrank below offset %#llx "
			"during the export", off + n);
		return ctl_fail(s->idarg, msg);
	}
	return ctl_fail(s->idarg, pheap_errormsg());
}

/* FILE is not the pheap's own file (truncating it would destroy it) */
static int
not_the_pheap(const struct src *s, const char *file)
{
	struct stat a, b;

	if (strcmp(file, "-") && stat(file, &a) == 0 &&
			stat(s->info.path, &b) == 0 && a.st_dev == b.st_dev &&
			a.st_ino == b.st_ino)
		return ctl_fail(file, "this is the pheap's own backing");
	return 0;
}

static int
export_raw(struct src *s, const struct xfer *x, const char *file)
{
	unsigned long long off = x->offset, len, done;
	char *buf, msg[160];
	struct progress p;
	int fd = -1, ret;

	if (off > s->size || (x->has_length && x->length > s->size - off)) {
		if (x->has_length)
			snprintf(msg, sizeof(msg), "the range %#llx+%#llx is not "
				"inside the heap [0, %#llx)", off, x->length,
				s->size);
		else
			snprintf(msg, sizeof(msg), "offset %#llx is past the "
				"heap's end, %#llx", off, s->size);
		return ctl_fail(s->idarg, msg);
	}
	len = x->has_length ? x->length : s->size - off;
	if (!(buf = malloc(XFER_BUF)))
		return ctl_fail(s->idarg, strerror(ENOMEM));
	ret = data_out_open(file, s->info.mode, &fd);
	progress_start(&p, "export", len);
	for (done = 0; ret == 0 && done < len; ) {
		size_t n = len - done < XFER_BUF ? len - done : XFER_BUF;

		ret = read_heap(s, buf, n, off + done);
		if (ret == 0 && data_write(fd, buf, n))
			ret = ctl_fail(file, strerror(errno));
		done += n;
		progress_step(&p, done);
	}
	progress_end(&p);
	free(buf);
	if (ret && fd >= 0)
		data_out_abort(file, fd);
	return ret ? ret : data_out_close(file, fd);
}

/* the archive's header fields, from the pheap's */
static void
meta_of(const struct src *s, struct ar_meta *m)
{
	struct pheap_entry st;
	struct timespec now;

	memset(m, 0, sizeof(*m));
	memcpy(m->id, s->info.id, s->info.id_len);
	m->id_len = s->info.id_len;
	m->base = (uintptr_t)s->info.base;
	m->brk = (uintptr_t)s->info.brk;
	m->capacity = s->info.capacity;
	m->data_len = s->size;
	m->mode = (uint32_t)s->info.mode;
	m->uid = (uint32_t)s->info.uid;
	m->gid = (uint32_t)s->info.gid;
	m->chunk_size = AR_CHUNK_SIZE;
	clock_gettime(CLOCK_REALTIME, &now);
	m->archived_ns = (uint64_t)now.tv_sec * 1000000000ULL +
		(uint64_t)now.tv_nsec;
	/* the creation time is not in pheap_info: the pool entry's, if it
	 * is still this pheap's (else 0, unknown: it is informational) */
	if (pheap_pool_stat(s->info.path, &st) == 0 &&
			st.id_len == m->id_len && !memcmp(st.id, m->id, m->id_len))
		m->ctime_ns = (uint64_t)st.ctime_ns;
}

/* every chunk, then the trailer: 0 or EXIT_FAIL */
static int
write_chunks(struct src *s, const struct ar_meta *m, const char *file,
	int fd, unsigned char *buf)
{
	uint32_t digest = ar_digest_start(m);
	unsigned char tail[AR_TRAILER_SIZE];
	struct progress p;
	int ret = 0;

	progress_start(&p, "export", m->data_len);
	for (uint64_t k = 0; ret == 0 && k < ar_chunks(m); k++) {
		uint32_t len = ar_chunk_len(m, k);

		ret = read_heap(s, buf + AR_CHUNK_HEAD, len, k * m->chunk_size);
		if (ret)
			break;
		digest = ar_digest_add(digest, ar_chunk_encode(m, k,
			buf + AR_CHUNK_HEAD, buf));
		if (data_write(fd, buf, AR_CHUNK_HEAD + len))
			ret = ctl_fail(file, strerror(errno));
		progress_step(&p, k * m->chunk_size + len);
	}
	progress_end(&p);
	ar_trailer_encode(m, digest, tail);
	if (ret == 0 && data_write(fd, tail, sizeof(tail)))
		ret = ctl_fail(file, strerror(errno));
	return ret;
}

static int
export_archive(struct src *s, const char *file)
{
	unsigned char head[AR_HEADER_SIZE], *buf;
	struct ar_meta m;
	int fd = -1, ret;

	meta_of(s, &m);
	ar_header_encode(&m, head);
	if (!(buf = malloc(AR_CHUNK_HEAD + m.chunk_size)))
		return ctl_fail(s->idarg, strerror(ENOMEM));
	ret = data_out_open(file, s->info.mode, &fd);
	if (ret == 0 && data_write(fd, head, sizeof(head)))
		ret = ctl_fail(file, strerror(errno));
	if (ret == 0)
		ret = write_chunks(s, &m, file, fd, buf);
	free(buf);
	if (ret && fd >= 0)
		data_out_abort(file, fd);
	return ret ? ret : data_out_close(file, fd);
}

int
cmd_export(int argc, char **argv)
{
	static const char help[] =
		"Writes the pheap's heap bytes to FILE ('-': standard output),\n"
		"without attaching it: processes may be attached meanwhile (a\n"
		"byte they write during the export may be exported old or new).\n"
		"FILE is created with the pheap's permissions.\n\n"
		"  --offset O  from heap offset O (default 0)\n"
		"  --length L  L bytes (default: up to the break)\n"
		"  --archive   the whole heap as an archive: its id, base, break,\n"
		"              mode and more, and the bytes, all checksummed\n"
		"              (pheapctl import --archive makes a pheap of it)\n";
	const char *syn = "[--archive | --offset O] [--length L] ID FILE";
	char id[PHEAP_ID_LEN_LIMIT];
	struct src s = { 0 };
	struct xfer x;
	size_t len;
	int ret = xfer_parse(argc, argv, syn, help, 1, &x);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if (x.npos != 2)
		return ctl_usage("an id and a file are needed");
	if ((ret = xfer_id(x.pos[0], id, &len)) != 0)
		return ret;
	s.idarg = x.pos[0];
	if (pheap_open(id, len, PHEAP_RDONLY, &s.h))
		return ctl_fail(s.idarg, pheap_errormsg());
	if (pheap_stat(s.h, &s.info)) {
		ret = ctl_fail(s.idarg, pheap_errormsg());
	} else if ((ret = not_the_pheap(&s, x.pos[1])) == 0) {
		s.size = (unsigned long long)((char *)s.info.brk -
			(char *)s.info.base);
		ctl_hold_signals();	/* a part-written FILE is removed */
		ret = x.archive ? export_archive(&s, x.pos[1]) :
			export_raw(&s, &x, x.pos[1]);
		ctl_release_signals();
	}
	pheap_close(s.h);
	return ret;
}
