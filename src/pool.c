/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pool.c -- the pool of pheaps, and finding one in it.
 *
 * PHEAP_POOL is a colon-separated list of directories and device-dax
 * devices (default: the per-user ${XDG_DATA_HOME:-$HOME/.local/share}/pheap
 * and every dax device).  A device holds at most one pheap, found by the
 * id in its header; in a directory a pheap is the file
 * <dir>/<hash(id)>.pheap: the 128-bit hash makes a lookup one open() and
 * lets a caller without read permission get -EACCES (like SysV keys) rather
 * than "not found", without the id ever appearing in a file name.  The
 * header inside is the authority: a file whose header claims another id is
 * not this pheap, one still being created (pool_create.c) is not one
 * yet, and a destroyed one (destroy.c) is not one any more.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daxdev.h"
#include "destroy.h"
#include "lock.h"
#include "pool.h"

static uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
fnv1a64(const uint8_t *p, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h ^ len);
}

void
pool_name(const void *id, size_t len, char name[POOL_NAME_LEN + 1])
{
	uint64_t a = fnv1a64(id, len, 0xcbf29ce484222325ULL);
	uint64_t b = fnv1a64(id, len, 0x84222325cbf29ce4ULL ^ a);

	snprintf(name, POOL_NAME_LEN + 1, "%016llx%016llx.pheap",
		(unsigned long long)a, (unsigned long long)b);
}

int
pool_is_name(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return 0;
	return strcmp(s + 32, ".pheap") == 0;
}

static int
mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, mode);
		*p = '/';
		if (r && errno != EEXIST)
			return -errno;
	}
	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static int
pool_default(struct pool *p)
{
	const char *xdg = secure_getenv("XDG_DATA_HOME");
	const char *home = secure_getenv("HOME");
	char *dir = p->entry[0];
	int n;

	if (!home || !*home) {
		struct passwd *pw = getpwuid(geteuid());
		home = pw ? pw->pw_dir : "/";
	}
	if (xdg && *xdg == '/')
		n = snprintf(dir, PATH_MAX, "%s/pheap", xdg);
	else
		n = snprintf(dir, PATH_MAX, "%s/.local/share/pheap", home);
	if (n >= PATH_MAX)
		return err_set(ENAMETOOLONG, "default pool path too long");
	int ret = mkdir_p(dir, 0700);
	if (ret)
		return err_sys(-ret, "creating the default pool %s", dir);
	p->n = 1;
	/* formatted dax devices are found without configuration */
	p->n += daxdev_list(&p->entry[1], POOL_MAX_ENTRIES - 1);
	return 0;
}

int
pool_load(struct pool *p)
{
	const char *env = secure_getenv("PHEAP_POOL");

	p->n = 0;
	if (!env || !*env)
		return pool_default(p);
	while (*env) {
		const char *end = strchrnul(env, ':');
		size_t len = (size_t)(end - env);

		if (len >= PATH_MAX)
			return err_set(ENAMETOOLONG, "PHEAP_POOL entry too long");
		if (len && p->n == POOL_MAX_ENTRIES)
			return err_set(EINVAL, "PHEAP_POOL has more than %d entries",
				POOL_MAX_ENTRIES);
		if (len) {
			memcpy(p->entry[p->n], env, len);
			p->entry[p->n][len] = '\0';
			p->n++;
		}
		env = *end ? end + 1 : end;
	}
	if (p->n == 0)
		return pool_default(p);
	return 0;
}

enum pool_entry
pool_entry(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return POOL_OTHER;
	if (S_ISDIR(st.st_mode))
		return POOL_DIR;
	return dev_is_standalone(&st) ? POOL_DEV : POOL_OTHER;
}

/*
 * A device holds at most one pheap, its id in the header: read it
 * read-only first, so a caller allowed to read but not to write the
 * device gets -EACCES for its pheap rather than "not found".  (A device
 * the caller cannot read at all cannot tell its id: it is skipped.)
 */
static int
find_on_device(const char *path, const void *id, size_t len, int rdonly,
	struct dev *d, struct hdr_found *f)
{
	int ret = dev_open(d, path, 1);

	if (ret)
		return -ENOENT;
	ret = hdr_load(&d->io, f);
	/* a destroyed pheap is found by nobody (destroy.c) */
	int m = ret || destroy_is(f, NULL) ? 0 : hdr_match(f, id, len);
	dev_close(d);
	if (m < 0)
		return err_set(EUCLEAN, "pheap on %s has a damaged header", path);
	if (m == 0)
		return -ENOENT;
	ret = dev_open(d, path, rdonly);
	if (ret == -EACCES || ret == -EPERM)
		return err_set(EACCES, "pheap on %s: permission denied", path);
	if (ret == 0)
		ret = hdr_load(&d->io, f);
	if (ret == 0 && hdr_match(f, id, len) <= 0)
		ret = err_set(EUCLEAN, "pheap on %s changed under us", path);
	if (ret)
		dev_close(d);
	return ret;
}

int
pool_open_in(const char *dir, const char *name, int rdonly, struct dev *d)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return err_set(ENAMETOOLONG, "path too long in %s", dir);
	return dev_open(d, path, rdonly);
}

int
pool_check_id(const void *id, size_t len, unsigned long flags,
	unsigned long known)
{
	if (!id)
		return err_set(EFAULT, "guid is NULL");
	if (len < 1 || len > PHEAP_ID_LEN_LIMIT)
		return err_set(EINVAL, "id length %zu not in [1, %d]", len,
			PHEAP_ID_LEN_LIMIT);
	if (flags & ~known)
		return err_set(EINVAL, "unknown flags %#lx", flags & ~known);
	return 0;
}

int
pool_in_creation(const struct dev *d)
{
	struct stat sb;

	return fstat(d->fd, &sb) == 0 && sb.st_nlink > 1 &&
		lock_writer(d->fd, LOCK_CREATE);
}

int
pool_find(const void *id, size_t len, int rdonly, struct dev *d,
	struct hdr_found *f)
{
	struct pool p;
	char name[POOL_NAME_LEN + 1];
	int ret = pool_load(&p);

	if (ret)
		return ret;
	pool_name(id, len, name);
	for (int i = 0; i < p.n; i++) {
		enum pool_entry t = pool_entry(p.entry[i]);

		if (t == POOL_DEV) {
			ret = find_on_device(p.entry[i], id, len, rdonly, d, f);
			if (ret != -ENOENT)
				return ret;
			continue;
		}
		if (t != POOL_DIR)
			continue;
		ret = pool_open_in(p.entry[i], name, rdonly, d);
		if (ret == -EACCES || ret == -EPERM)
			return err_set(EACCES, "pheap %s/%s: permission denied",
				p.entry[i], name);
		if (ret)
			continue;
		ret = hdr_load(&d->io, f);
		if (ret == 0 && !pool_in_creation(d) && !destroy_is(f, NULL)) {
			int m = hdr_match(f, id, len);

			if (m > 0)
				return 0;
			if (m < 0) {
				dev_close(d);
				return err_set(EUCLEAN,
					"pheap %s has a damaged header", d->path);
			}
		}
		dev_close(d);
	}
	return err_set(EINVAL, "no pheap with this id in the pool");
}
