/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * owner.h -- who owns a pheap, and when its header is believed.
 *
 * The kernel's word is the one that cannot be forged: the owner and mode
 * of the backing file (or device node).  Anyone who may write the file may
 * write its header too, so the header's owner and mode are only believed
 * where they agree with the file's.
 */
#ifndef PHEAP_OWNER_H
#define PHEAP_OWNER_H

#include <sys/types.h>

#include "dev.h"

struct owner {
	uid_t uid;		/* the owner: the file's */
	gid_t gid;
	unsigned mode;		/* the file's permission bits */
};

/* the owner of the pheap open on d whose header is h */
PHEAP_HIDDEN int owner_of(const struct dev *d, const struct hdr *h,
	struct owner *o);
/*
 * 0: the header agrees with the file; 1: it does not, and me (the file's
 * owner, or root) may put it right; -EACCES with a message: it does not,
 * and it is not me's to trust.
 */
PHEAP_HIDDEN int owner_trust(const struct owner *o, const struct hdr *h,
	uid_t me, const char *path);
/*
 * What pheap_info and pheap_stat report of the pheap open on d whose
 * header is h: never a forged owner -- the file's owner and group (the
 * header's, where the backend says it names them); the header's mode if
 * the header agrees with the file, else the file's.  0 or -errno.
 */
PHEAP_HIDDEN int owner_report(const struct dev *d, const struct hdr *h,
	struct owner *o);

/* 1 if the caller is the owner of the pheap open on d (h: its header),
 * or root; *owner: the owner */
PHEAP_HIDDEN int owner_is_me(const struct dev *d, const struct hdr *h,
	uid_t *owner);
/*
 * A read-write open of d's backing into w, its header area mapped, for
 * its owner or root: with lend, an owner without write permission lends
 * itself u+w for it (*lent: the mode to put back, -1 if nothing was lent),
 * as pchmod does.
 */
PHEAP_HIDDEN int owner_open_rw(const struct dev *d, struct dev *w, int lend,
	int *lent);

#endif
