/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stat.c -- pheap_pool_stat(): what one pool entry (a pheap's file, or a
 * device) is, for tools such as pheapctl(1).
 *
 * Read-only and without any lock: it opens the backing read-only, reads
 * both header copies (each decoded and validated on its own, as untrusted
 * as everything read from the pool) and writes nothing.  What it reports
 * may be out of date as soon as it returns.
 *
 * The owner is the file's, as everywhere (owner.c); the header's owner
 * and mode are reported beside it, and trusted says whether they agree.
 * Attached processes are counted in /proc/locks: every attached process
 * holds an open file description read lock on one of the epoch bytes
 * (sync.c) for as long as it is attached.  A process that read-locks one
 * of those bytes without being attached is counted too, and one that
 * moves its lock to the next epoch may be counted twice for an instant:
 * the count is what the kernel says, not more.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "destroy.h"
#include "lock.h"
#include "owner.h"
#include "pool.h"

#define TMP_PREFIX ".tmp-"	/* pool_create.c */

/* open file description read locks on the epoch bytes of the file sb */
static int
count_attached(const struct stat *sb)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256], kind[16], rw[16];
	unsigned maj, min;
	unsigned long long ino;
	long long start;
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* "1: OFDLCK ADVISORY  READ -1 fe:00:1234 12352 12352";
		 * waiters ("1: -> OFDLCK ...") hold nothing */
		if (strstr(line, "->") || sscanf(line, "%*d: %15s %*s %15s "
				"%*d %x:%x:%llu %lld", kind, rw, &maj, &min,
				&ino, &start) != 6)
			continue;
		n += strcmp(kind, "OFDLCK") == 0 && strcmp(rw, "READ") == 0 &&
			maj == major(sb->st_dev) && min == minor(sb->st_dev) &&
			ino == sb->st_ino && start >= LOCK_EPOCH0 &&
			start < LOCK_EPOCH0 + LOCK_NEPOCH;
	}
	fclose(f);
	return n;
}

/* each copy: valid (in use, or the same), stale, damaged, or none */
static void
copies(const struct dev *d, struct pheap_entry *st)
{
	struct hdr c[HDR_NSLOTS];
	uint8_t a[HDR_COPY_SIZE], b[HDR_COPY_SIZE];
	int s[HDR_NSLOTS], best = -1;

	if (hdr_read_copies(&d->io, c, s))
		return;
	for (int i = 0; i < HDR_NSLOTS; i++)
		if (s[i] == 0 && (best < 0 || c[i].seq > c[best].seq))
			best = i;
	for (int i = 0; i < HDR_NSLOTS; i++) {
		st->copy[i].seq = c[i].seq;
		if (s[i] == -ENOENT)
			st->copy[i].state = PHEAP_COPY_NONE;
		else if (s[i])
			st->copy[i].state = PHEAP_COPY_BAD;
		else if (i == best)
			st->copy[i].state = PHEAP_COPY_VALID;
		else {
			hdr_encode(&c[i], a);
			hdr_encode(&c[best], b);
			st->copy[i].state = memcmp(a, b, sizeof(a)) == 0 ?
				PHEAP_COPY_VALID : PHEAP_COPY_STALE;
		}
	}
}

/* what the valid header h says, and what the backing says of it */
static void
describe(const struct dev *d, const struct hdr *h, struct pheap_entry *st)
{
	struct owner o;
	uint64_t usc;

	memcpy(st->id, h->id, h->id_len);
	st->id_len = h->id_len;
	st->base = (void *)(uintptr_t)h->base;
	st->size = h->brk;
	st->capacity = dev_capacity(d, h);
	st->mode = h->mode;
	st->hdr_uid = h->uid;
	st->hdr_gid = h->gid;
	st->ctime_ns = (long long)h->ctime_ns;
	st->seq = h->seq;
	st->data_off = h->data_off;
	st->usc = h->usc;
	st->size_ok = dev_check_size(d, h) == 0;
	st->badblocks = dev_check_badblocks(d, h) == -EIO;
	st->unsafe_shutdown = dev_usc(d, &usc) ? -1 :
		usc != h->usc && h->usc != 0;
	if (owner_of(d, h, &o) == 0) {
		st->uid = o.uid;
		st->gid = o.gid;
		st->trusted = owner_trust(&o, h, (uid_t)-1, d->path) == 0;
	}
}

/* the state of what was found under name */
static int
state_of(const struct dev *d, const struct hdr_found *f, const char *name)
{
	if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
		return lock_writer(d->fd, LOCK_CREATE) ? PHEAP_STATE_CREATING :
			PHEAP_STATE_DEBRIS;
	if (destroy_is(f, name))
		return PHEAP_STATE_DESTROYED;
	if (!f->ok)
		return PHEAP_STATE_DAMAGED;
	if (pool_in_creation(d))
		return PHEAP_STATE_CREATING;
	return f->hdr.id_len ? PHEAP_STATE_OK : PHEAP_STATE_FREE;
}

/* what the caller may not open: the file's owner and mode only (and
 * whether its name says destroyed) */
static int
unreadable(const char *path, struct pheap_entry *st)
{
	const char *slash = strrchr(path, '/');
	struct stat sb;

	if (stat(path, &sb))
		return err_sys(errno, "stat %s", path);
	st->state = strncmp(slash ? slash + 1 : path, DESTROYED_PREFIX,
		strlen(DESTROYED_PREFIX)) ? PHEAP_STATE_UNREADABLE :
		PHEAP_STATE_DESTROYED;
	st->file_mode = sb.st_mode & 0777;
	st->uid = sb.st_uid;
	st->gid = sb.st_gid;
	st->backing_size = (unsigned long long)sb.st_size;
	st->attached = count_attached(&sb);
	return 0;
}

static int
fill(const struct dev *d, struct pheap_entry *st)
{
	const char *slash = strrchr(d->path, '/');
	struct hdr_found f;
	struct stat sb;
	int ret = hdr_load(&d->io, &f);

	if (ret == 0 && fstat(d->fd, &sb))
		ret = err_sys(errno, "fstat %s", d->path);
	if (ret)
		return ret;
	copies(d, st);
	if (dev_is_standalone(&sb) && !f.ok &&
			st->copy[0].state == PHEAP_COPY_NONE &&
			st->copy[1].state == PHEAP_COPY_NONE)
		return err_set(ENODATA, "%s is not formatted for pheaps",
			d->path);
	st->state = state_of(d, &f, slash ? slash + 1 : d->path);
	st->backend = dev_kind(d, 0);
	st->file_mode = sb.st_mode & 0777;
	st->uid = sb.st_uid;
	st->gid = sb.st_gid;
	st->backing_size = dev_is_standalone(&sb) ? d->io.lim.max_capacity +
		d->io.lim.data_off : (unsigned long long)sb.st_size;
	st->attached = count_attached(&sb);
	if (f.ok) {
		describe(d, &f.hdr, st);
	} else if (f.nclaims) {	/* the id a damaged copy claims */
		memcpy(st->id, f.claim[0].id, f.claim[0].len);
		st->id_len = f.claim[0].len;
	}
	return 0;
}

int
pheap_pool_stat(const char *path, struct pheap_entry *st)
{
	struct dev d;
	int ret;

	if (!path || !st)
		return err_set(EFAULT, "%s is NULL", path ? "st" : "path");
	memset(st, 0, sizeof(*st));
	if (strlen(path) >= sizeof(st->path))
		return err_set(ENAMETOOLONG, "path too long: %s", path);
	strcpy(st->path, path);
	ret = dev_open(&d, path, 1);
	if (ret == -EACCES || ret == -EPERM)
		return unreadable(path, st);
	if (ret)
		return ret;
	ret = fill(&d, st);
	dev_close(&d);
	return ret;
}
