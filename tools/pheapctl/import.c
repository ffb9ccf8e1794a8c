/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * import.c -- pheapctl import: FILE's bytes written into a pheap's heap at
 * an offset, through the offline data API -- pheap_open(3) read-write and
 * pheap_pwrite(3) -- so durable when import returns, and while processes
 * are attached: they see the bytes as they land, with the byte-level
 * concurrency of pheap_pwrite(3).  Import grows nothing: FILE must fit
 * below the break, and that is checked before the first byte is written
 * (if it does not fit, nothing is).  A shrink by another process during
 * the import fails it, with what was written before left in place.
 *
 * import --archive, a new pheap from an archive, is import_archive.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfer.h"

/* where the bytes go */
struct dst {
	const char *idarg, *file;
	struct pheap_handle *h;
	unsigned long long off, len;	/* [off, off + len) of the heap */
};

/* len bytes of fd to the heap: 0 or EXIT_FAIL */
static int
copy_in(const struct dst *d, int fd)
{
	char *buf = malloc(XFER_BUF), msg[160];
	unsigned long long done = 0;
	struct progress p;
	int ret = buf ? 0 : ctl_fail(d->idarg, strerror(ENOMEM));

	progress_start(&p, "import", d->len);
	while (ret == 0 && done < d->len) {
		size_t n = d->len - done < XFER_BUF ? d->len - done : XFER_BUF;
		ssize_t r = data_read(fd, buf, n);

		if (r != (ssize_t)n) {
			ret = ctl_fail(d->file, r < 0 ? strerror(errno) :
				"it shrank during the import");
			break;
		}
		r = pheap_pwrite(d->h, buf, n, d->off + done);
		if (r >= 0 && r < (ssize_t)n)
			r = -ERANGE;
		if (r == -ERANGE) {
			snprintf(msg, sizeof(msg), "the heap shrank below "
				"offset %#llx during the import (the bytes "
				"before are written)", d->off + done + n);
			ret = ctl_fail(d->idarg, msg);
		} else if (r < 0) {
			ret = ctl_fail(d->idarg, pheap_errormsg());
		}
		done += n;
		progress_step(&p, done);
	}
	progress_end(&p);
	free(buf);
	return ret;
}

/* FILE fits in the heap at off: 0, or EXIT_FAIL with nothing written */
static int
fits(const struct dst *d, unsigned long long size, unsigned long long fsize)
{
	char msg[256];

	if (d->off > size)
		snprintf(msg, sizeof(msg), "offset %#llx is past the heap's "
			"end, %#llx: nothing written", d->off, size);
	else if (fsize > size - d->off)
		snprintf(msg, sizeof(msg), "%s does not fit at offset %#llx: "
			"the heap ends at %#llx (import grows nothing; pheapctl "
			"resize does): nothing written", d->file, d->off, size);
	else
		return 0;
	return ctl_fail(d->idarg, msg);
}

/* the heap [0, size) open on d->h: FILE into it */
static int
import_into(struct dst *d, unsigned long long size)
{
	unsigned long long fsize = 0;
	int fd = -1, ret = fits(d, size, 0);

	/* a pipe is read up to a little more than fits, not for ever */
	if (ret == 0)
		ret = data_in_open(d->file, size - d->off, &fd, &fsize);
	if (ret == 0)
		ret = fits(d, size, fsize);
	d->len = fsize;
	if (ret == 0)
		ret = copy_in(d, fd);
	if (fd >= 0 && fd != STDIN_FILENO)
		close(fd);
	return ret;
}

static int
import_raw(const struct xfer *x)
{
	struct dst d = { .file = x->pos[0], .idarg = x->pos[1],
		.off = x->offset };
	struct pheap_info info;
	char id[PHEAP_ID_LEN_LIMIT];
	size_t len;
	int ret;

	if (x->npos != 2)
		return ctl_usage("a file and an id are needed");
	if ((ret = xfer_id(d.idarg, id, &len)) != 0)
		return ret;
	if (pheap_open(id, len, 0, &d.h))
		return ctl_fail(d.idarg, pheap_errormsg());
	if (pheap_stat(d.h, &info))
		ret = ctl_fail(d.idarg, pheap_errormsg());
	else
		ret = import_into(&d, (unsigned long long)((char *)info.brk -
			(char *)info.base));
	pheap_close(d.h);
	return ret;
}

int
cmd_import(int argc, char **argv)
{
	static const char help[] =
		"Writes FILE's bytes ('-': standard input) into the pheap's heap\n"
		"at offset O (default 0), durably, without attaching it:\n"
		"processes attached meanwhile see the bytes as they land.  The\n"
		"heap is not grown: FILE must fit below its break, or nothing\n"
		"is written.\n\n"
		"  --offset O  where in the heap\n"
		"  --archive   FILE is an archive (pheapctl export --archive):\n"
		"              it is verified whole, then made a new pheap at the\n"
		"              archived base, break and mode, under ID if given\n"
		"              (else the archived id); a damaged archive or an\n"
		"              existing id creates nothing\n";
	const char *syn = "[--offset O] FILE ID | --archive FILE [ID]";
	struct xfer x;
	int ret = xfer_parse(argc, argv, syn, help, 0, &x);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	return x.archive ? import_archive(&x) : import_raw(&x);
}
