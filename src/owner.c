/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * owner.c -- who owns a pheap, and when its header is believed.
 *
 * A file's owner is its st_uid, and the header must name the same uid.
 * The file's mode may be narrower than the header's (pchmod narrows the
 * file first: a crash leaves it so until the owner's next attach), and may
 * have u+w beyond it (pchmod by an owner attached read-only lends it for
 * an instant); any other bit beyond the header's means somebody made the
 * file more permissive than the pheap's owner asked.  A header that
 * disagrees is believed by nobody but the file's owner and root, who may
 * put it right (attach.c); to anybody else it is not this user's pheap:
 * pattach refuses it with EACCES and never reports a forged owner.
 *
 * A device node usually belongs to root (udev): there the header's owner
 * is believed when the node belongs to root -- only whom the administrator
 * let write the node could have written its header -- or to that owner.
 * Which backings are such nodes is their backend's to say (backend.h:
 * header_owner; backend_devdax.c).
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owner.h"

#define LENT	S_IWUSR		/* what pchmod lends the owner for an instant */

int
owner_of(const struct dev *d, const struct hdr *h, struct owner *o)
{
	struct stat sb;

	if (fstat(d->fd, &sb))
		return err_sys(errno, "fstat %s", d->path);
	o->uid = sb.st_uid;
	o->gid = sb.st_gid;
	o->mode = sb.st_mode & 0777;
	if (dev_owner_in_header(d, &sb)) {
		o->uid = h->uid;
		o->gid = h->gid;
	}
	return 0;
}

/* the header names the file's owner, and no mode bit the file lacks but
 * the one pchmod lends */
static int
owner_agrees(const struct owner *o, const struct hdr *h)
{
	return o->uid == h->uid && (o->mode & ~h->mode & ~LENT) == 0;
}

int
owner_trust(const struct owner *o, const struct hdr *h, uid_t me,
	const char *path)
{
	if (owner_agrees(o, h))
		return 0;
	if (me == 0 || me == o->uid)
		return 1;
	return err_set(EACCES, "%s: its header names owner %u and mode %03o, "
		"its file belongs to uid %u with mode %03o: not trusted",
		path, h->uid, h->mode, o->uid, o->mode);
}

int
owner_report(const struct dev *d, const struct hdr *h, struct owner *o)
{
	int ret = owner_of(d, h, o);

	if (ret == 0 && owner_agrees(o, h))
		o->mode = h->mode;
	return ret;
}

int
owner_is_me(const struct dev *d, const struct hdr *h, uid_t *owner)
{
	struct owner o;

	if (owner_of(d, h, &o))
		return 0;
	*owner = o.uid;
	return geteuid() == 0 || geteuid() == o.uid;
}

int
owner_open_rw(const struct dev *d, struct dev *w, int lend, int *lent)
{
	struct stat sb;
	int fd = dev_reopen(d, 0), ret;

	*lent = -1;
	if (lend && fd == -EACCES && fstat(d->fd, &sb) == 0 &&
			sb.st_uid == geteuid() &&
			fchmod(d->fd, (sb.st_mode & 0777) | LENT) == 0) {
		*lent = (int)(sb.st_mode & 0777);
		fd = dev_reopen(d, 0);
	}
	if (fd < 0)
		return fd;
	ret = dev_init(w, fd, d->path, 0);
	if (ret == 0 && (ret = dev_map_area(w)) != 0)
		dev_close(w);
	return ret;
}
