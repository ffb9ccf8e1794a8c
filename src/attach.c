/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * attach.c -- pattach() and pdetach(), fork and exec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "pool.h"
#include "state.h"

#define FLAGS_KNOWN (PHEAP_CREATE | PHEAP_ATTACH | PHEAP_RDONLY)

struct state st = {
	.api = PTHREAD_MUTEX_INITIALIZER,
	.map = PTHREAD_RWLOCK_INITIALIZER,
	.lock_fd = -1,
	.dev = { .fd = -1 },
};

static int
check_flags(const char *guid, size_t len, unsigned long flag)
{
	if (!guid)
		return err_set(EFAULT, "guid is NULL");
	if (len < 1 || len > PHEAP_ID_LEN_LIMIT)
		return err_set(EINVAL, "id length %zu not in [1, %d]", len,
			PHEAP_ID_LEN_LIMIT);
	if (flag & ~FLAGS_KNOWN)
		return err_set(EINVAL, "unknown flags %#lx", flag & ~FLAGS_KNOWN);
	if (!(flag & PHEAP_CREATE) == !(flag & PHEAP_ATTACH))
		return err_set(EINVAL, "exactly one of PHEAP_CREATE and "
			"PHEAP_ATTACH is needed");
	if ((flag & PHEAP_CREATE) && (flag & PHEAP_RDONLY))
		return err_set(EINVAL, "PHEAP_RDONLY goes with PHEAP_ATTACH only");
	return 0;
}

/* the header is the truth; a crash inside pchmod may have left the file's
 * mode behind it: its owner (or root) puts it right */
static void
repair_mode(struct state *s)
{
	struct stat sb;
	uid_t me = geteuid();

	if (fstat(s->dev.fd, &sb) || (sb.st_mode & 0777) == s->hdr.mode)
		return;
	if (me == 0 || me == s->hdr.uid)
		(void)fchmod(s->dev.fd, s->hdr.mode);
}


uint64_t
state_mapped_len(struct state *s)
{
	uint64_t len;

	pthread_rwlock_rdlock(&s->map);
	len = rsv_len(s->rsv);
	pthread_rwlock_unlock(&s->map);
	return len;
}

static void
teardown(struct state *s)
{
	sync_stop(s);
	pthread_rwlock_wrlock(&s->map);
	rsv_delete(&s->rsv);
	pthread_rwlock_unlock(&s->map);
	s->rt = NULL;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	dev_close(&s->dev);	/* drops the epoch lock */
	s->attached = 0;
}

/*
 * Unsafe shutdowns: libpmem2 reads the DIMMs' unsafe shutdown count (USC)
 * where the platform reports it.  The header keeps the count seen at the
 * last read-write attach; a different count now means power was lost
 * without the caches being flushed since then, so even ppersist()ed data
 * may be gone.  We report it (pheap_info().unsafe_shutdown) and, attached
 * read-write, record the new count so it is reported once.
 */
static int
check_usc(struct state *s, const void *id, size_t len)
{
	struct hdr_found f;
	uint64_t usc;
	int ret;

	s->unsafe_shutdown = 0;
	if (dev_usc(&s->dev, &usc))
		return 0;	/* cannot tell here */
	ret = hdr_load(&s->dev.io, &f);
	if (ret || hdr_match(&f, id, len) <= 0 || f.hdr.usc == usc)
		return 0;	/* damage is found (and reported) later */
	s->unsafe_shutdown = f.hdr.usc != 0;
	if (s->rdonly)
		return 0;
	ret = lock_take(s->lock_fd, LOCK_BRK, F_WRLCK);
	if (ret)
		return ret;
	ret = hdr_load_id(&s->dev.io, id, len, s->dev.path, &f);
	if (ret == 0) {
		f.hdr.usc = usc;
		ret = hdr_store(&s->dev.io, &f.hdr, &f.slot);
	}
	lock_drop(s->lock_fd, LOCK_BRK);
	return ret;
}

/* maps the opened pheap; on failure everything is undone */
static int
attach_dev(struct state *s, const void *id, size_t len)
{
	struct hdr_found f;
	int ret;

	s->lock_fd = dev_reopen(&s->dev, s->rdonly);
	if (s->lock_fd < 0) {
		ret = s->lock_fd;
		goto fail;
	}
	ret = check_usc(s, id, len);
	if (ret)
		goto fail;
	/* no pbrk may run while we join: read LOCK_BRK */
	ret = lock_take(s->lock_fd, LOCK_BRK, F_RDLCK);
	if (ret)
		goto fail;
	ret = hdr_load_id(&s->dev.io, id, len, s->dev.path, &f);
	if (ret == 0)
		ret = dev_check_size(&s->dev, &f.hdr);
	if (ret == 0 && !s->rdonly)
		ret = dev_check_badblocks(&s->dev, &f.hdr);
	if (ret)
		goto unlock;
	s->hdr = f.hdr;
	repair_mode(s);
	ret = dev_map_area(&s->dev);
	if (ret)
		goto unlock;
	s->rt = (struct runtime *)((char *)s->dev.area + HDR_RUNTIME_OFF);
	ret = rsv_new(&s->rsv, s->hdr.base, s->hdr.capacity, s->dev.fd,
		s->hdr.data_off, s->rdonly);
	if (ret)
		goto unlock;
	ret = rsv_set_len(s->rsv, s->hdr.brk, RSV_POPULATE_READ);
	if (ret)
		goto unlock;
	s->backend = s->dev.devdax ? PHEAP_BACKEND_DEVDAX :
		rsv_is_dax(s->rsv) || dev_is_fsdax(&s->dev) ? PHEAP_BACKEND_FSDAX :
		PHEAP_BACKEND_FILE;
	ret = sync_join(s);
	if (ret)
		goto unlock;
	lock_drop(s->lock_fd, LOCK_BRK);
	ret = sync_start(s);
	if (ret)
		goto fail;
	s->attached = 1;
	return 0;
unlock:
	lock_drop(s->lock_fd, LOCK_BRK);
fail:
	teardown(s);
	return ret;
}

/*
 * A pheap we created but could not attach (its address range is taken
 * here, say) is removed again: a failed PHEAP_CREATE creates nothing.
 */
static void
uncreate(const char *path, const struct stat *made)
{
	struct stat now;

	if (stat(path, &now) || now.st_dev != made->st_dev ||
			now.st_ino != made->st_ino)
		return;
	if (S_ISREG(now.st_mode))
		unlink(path);
	else
		pheap_format_device(path, PHEAP_FORMAT_FORCE);
}

int
pattach(const char *guid, size_t len, unsigned long flag)
{
	struct hdr_found f;
	struct stat made;
	char path[PATH_MAX];
	int ret = check_flags(guid, len, flag);

	if (ret)
		return ret;
	pthread_mutex_lock(&st.api);
	if (st.attached) {
		ret = err_set(EINVAL, "already attached to a pheap");
		goto out;
	}
	st.rdonly = !!(flag & PHEAP_RDONLY);
	if (flag & PHEAP_CREATE)
		ret = pool_create(guid, len, &st.dev, &f);
	else
		ret = pool_find(guid, len, st.rdonly, &st.dev, &f);
	if (ret)
		goto out;
	strcpy(path, st.dev.path);
	if (fstat(st.dev.fd, &made))
		made.st_ino = 0;
	ret = attach_dev(&st, guid, len);
	if (ret && (flag & PHEAP_CREATE) && made.st_ino) {
		char msg[256];

		/* keep attach_dev's explanation */
		snprintf(msg, sizeof(msg), "%s", pheap_errormsg());
		uncreate(path, &made);
		err_set(-ret, "%s", msg);
	}
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}

int
pdetach(void)
{
	int ret = 0;

	pthread_mutex_lock(&st.api);
	if (!st.attached) {
		ret = err_set(EINVAL, "not attached to a pheap");
		goto out;
	}
	sync_stop(&st);
	pthread_rwlock_rdlock(&st.map);
	if (!st.rdonly)
		ret = rsv_persist(st.rsv, (void *)(uintptr_t)st.hdr.base,
			rsv_len(st.rsv));
	pthread_rwlock_unlock(&st.map);
	teardown(&st);
out:
	pthread_mutex_unlock(&st.api);
	return ret;
}

/* ---- fork and exec ---- */

static void
fork_prepare(void)
{
	pthread_mutex_lock(&st.api);
	pthread_rwlock_wrlock(&st.map);
}

static void
fork_parent(void)
{
	pthread_rwlock_unlock(&st.map);
	pthread_mutex_unlock(&st.api);
}

static void
fork_child(void)
{
	/* the thread that held them in the parent is gone in the child */
	pthread_mutex_init(&st.api, NULL);
	pthread_rwlock_init(&st.map, NULL);
	if (st.attached && sync_after_fork(&st)) {
		/* cannot follow break changes: do not pretend to be attached */
		st.thread_on = 0;
		teardown(&st);
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * PHEAP_EXEC_ATTACH=<id in hex>[:ro] attaches at load time: the opt-in
 * for a program that must find the pheap mapped after exec, as under the
 * VPM kernel.  Failure leaves the process detached; pheap_errormsg() says
 * why.
 */
static void
exec_attach(void)
{
	const char *v = getenv("PHEAP_EXEC_ATTACH");
	char id[PHEAP_ID_LEN_LIMIT];
	size_t n = 0;
	unsigned long flag = PHEAP_ATTACH;

	if (!v || !*v)
		return;
	for (; v[0] && v[0] != ':'; v += 2) {
		int hi = hexval(v[0]), lo = hi < 0 ? -1 : hexval(v[1]);

		if (lo < 0 || n == sizeof(id)) {
			err_set(EINVAL, "PHEAP_EXEC_ATTACH: bad hex id");
			return;
		}
		id[n++] = (char)(hi << 4 | lo);
	}
	if (*v == ':' && strcmp(v, ":ro") == 0)
		flag |= PHEAP_RDONLY;
	else if (*v) {
		err_set(EINVAL, "PHEAP_EXEC_ATTACH: unknown suffix %s", v);
		return;
	}
	(void)pattach(id, n, flag);
}

__attribute__((constructor)) static void
pheap_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	exec_attach();
}
