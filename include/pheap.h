/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheap.h -- persistent heaps on persistent memory (libpheap-pmem)
 *
 * The VPM system-call API (pattach, pdetach, pchmod, pbrk) in user space.
 * See pattach(3), pbrk(3) and libpheap-pmem(7).
 */
#ifndef PHEAP_H
#define PHEAP_H 1

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* pattach() flags: exactly one of CREATE and ATTACH; RDONLY only with ATTACH */
#define PHEAP_CREATE		0x1UL
#define PHEAP_ATTACH		0x2UL
#define PHEAP_RDONLY		0x4UL

/* static limits, as in the VPM kernel */
#define PHEAP_COUNT_LIMIT	16		/* pheaps in one pool */
#define PHEAP_ID_LEN_LIMIT	256		/* bytes in an id */
#define PHEAP_PAGE_SIZE		(2UL << 20)	/* break granularity */
#define PHEAP_MAX_PAGES		524288UL	/* pages per pheap (1 TiB) */

/* struct pheap_info.backend */
#define PHEAP_BACKEND_FILE	1	/* file on a non-DAX file system */
#define PHEAP_BACKEND_FSDAX	2	/* file on a DAX (-o dax) file system */
#define PHEAP_BACKEND_DEVDAX	3	/* device-dax character device */

struct pheap_info {
	char		id[PHEAP_ID_LEN_LIMIT];	/* the id; id_len bytes */
	size_t		id_len;
	void		*base;		/* start of the heap */
	void		*brk;		/* [base, brk) is the heap */
	size_t		capacity;	/* largest size pbrk can reach now */
	unsigned long	mode;		/* permission bits, 0777 at most */
	uid_t		uid;		/* owner */
	gid_t		gid;		/* group */
	int		backend;	/* PHEAP_BACKEND_* */
	int		rdonly;		/* attached with PHEAP_RDONLY */
	char		path[PATH_MAX];	/* backing file or device */
	int		unsafe_shutdown; /* the pmem under it lost power
					  * unsafely since the last read-write
					  * attach (see pattach(3)) */
	int		follow_error;	/* 0, or -errno while this process
					  * could not map the durable break
					  * (see pbrk(3)) */
};

int pattach(const char *guid, size_t len, unsigned long flag);
int pdetach(void);
int pchmod(unsigned long mode);
long pbrk(unsigned long addr);
void *pheap_base(void);
int pheap_info(struct pheap_info *info);
int ppersist(const void *addr, size_t len);
const char *pheap_errormsg(void);

/* pheap_format_device() flags */
#define PHEAP_FORMAT_FORCE	0x1UL	/* even over a pheap or a damaged header */
#define PHEAP_FORMAT_CLEAR	0x2UL	/* remove the header: leave the pool */

/* prepares a device-dax device (/dev/daxX.Y) to hold one pheap */
int pheap_format_device(const char *path, unsigned long flags);

/* ---- LIBPHEAP_PMEM_1.1 ---- */

/*
 * Offline access: a pheap's bytes read, written and zeroed without
 * attaching it -- no address claimed, usable while other processes are
 * attached, and by a process attached to any pheap (this one too).
 * Offsets are from the heap's base; a range must lie in [0, break).
 * See pheap_open(3) and pheap_pread(3).
 */
struct pheap_handle;	/* opaque, like a file descriptor */

/* flags: 0 (read-write) or PHEAP_RDONLY */
int pheap_open(const char *guid, size_t len, unsigned long flags,
	struct pheap_handle **h);
ssize_t pheap_pread(struct pheap_handle *h, void *buf, size_t count,
	unsigned long offset);
/* durable when it returns */
ssize_t pheap_pwrite(struct pheap_handle *h, const void *buf, size_t count,
	unsigned long offset);
/* durable when it returns */
int pheap_pzero(struct pheap_handle *h, unsigned long offset,
	unsigned long len);
int pheap_stat(struct pheap_handle *h, struct pheap_info *info);
int pheap_close(struct pheap_handle *h);

/* pheap_destroy() flags */
#define PHEAP_DESTROY_WAIT	0x1UL	/* until no process is attached */

/* destroys the pheap: 0 gone, 1 pending (processes still attached) */
int pheap_destroy(const char *guid, size_t len, unsigned long flags);

/* struct pheap_entry.state */
#define PHEAP_STATE_OK		1	/* a pheap */
#define PHEAP_STATE_DAMAGED	2	/* no valid header copy */
#define PHEAP_STATE_DESTROYED	3	/* destroyed, processes still attached */
#define PHEAP_STATE_FREE	4	/* a formatted device holding none */
#define PHEAP_STATE_UNREADABLE	5	/* the caller may not read it */
#define PHEAP_STATE_CREATING	6	/* being created (PHEAP_LIST_ALL) */
#define PHEAP_STATE_DEBRIS	7	/* left by a crashed creation (_ALL) */

/* struct pheap_entry.copy[].state */
#define PHEAP_COPY_VALID	1	/* the header in use, or the same */
#define PHEAP_COPY_STALE	2	/* valid, but older than the other */
#define PHEAP_COPY_BAD		3	/* a header, damaged (checksum, field) */
#define PHEAP_COPY_NONE		4	/* no header there */

/* one entry of the pool, as pheap_pool_stat() and pheap_pool_list() see it */
struct pheap_entry {
	char		path[PATH_MAX];	/* file or device */
	int		state;		/* PHEAP_STATE_* */
	int		backend;	/* PHEAP_BACKEND_*; 0: not readable,
					 * only path, file_mode, uid, gid,
					 * backing_size, attached are known */
	char		id[PHEAP_ID_LEN_LIMIT];	/* id_len bytes */
	size_t		id_len;
	void		*base;
	size_t		size;		/* break - base */
	size_t		capacity;	/* as pheap_info().capacity */
	unsigned long	mode;		/* the header's permission bits */
	unsigned long	file_mode;	/* the file's or device node's */
	uid_t		uid;		/* owner: the file's (see SECURITY in */
	gid_t		gid;		/* libpheap-pmem(7)), or the header's */
	uid_t		hdr_uid;	/* the header's owner */
	gid_t		hdr_gid;
	int		trusted;	/* the header agrees with its file */
	long long	ctime_ns;	/* creation, ns since the Epoch */
	int		attached;	/* processes attached, -1 unknown */
	unsigned long long seq;		/* update count of the header in use */
	struct {
		int	state;		/* PHEAP_COPY_* */
		unsigned long long seq;
	}		copy[2];	/* at offsets 0 and 4096 */
	unsigned long long backing_size; /* bytes in the file or device */
	unsigned long long data_off;	/* where the heap starts in it */
	int		size_ok;	/* it holds data_off + size */
	unsigned long long usc;		/* unsafe shutdown count recorded */
	int		unsafe_shutdown; /* 1 it changed since, 0 no, -1 unknown */
	int		badblocks;	/* 1 known bad blocks in the heap */
	long		reserved[8];	/* zero */
};

/* describes the pool entry (a pheap file, or a device) at path */
int pheap_pool_stat(const char *path, struct pheap_entry *st);

/* pheap_pool_list() flags */
#define PHEAP_LIST_ALL		0x1UL	/* also pheaps being created, debris */

/* calls fn for each entry of the pool, until fn returns non-zero */
int pheap_pool_list(int (*fn)(const struct pheap_entry *st, void *arg),
	void *arg, unsigned long flags);

/* gives the pheap to another owner and group (root only; -1: unchanged) */
int pheap_chown(const char *guid, size_t len, uid_t uid, gid_t gid);

/* pheap_repair() results, or-ed */
#define PHEAP_REPAIRED_COPY	0x1	/* a header copy rewritten */
#define PHEAP_REPAIRED_OWNER	0x2	/* the header's owner: the file's */
#define PHEAP_REPAIRED_MODE	0x4	/* the file's mode: the header's */
#define PHEAP_REPAIRED_DEBRIS	0x8	/* a creation's leftover removed */

/* repairs the pool entry at path (flags: 0); what it did, or -errno */
int pheap_repair(const char *path, unsigned long flags);

#ifdef __cplusplus
}
#endif

#endif /* PHEAP_H */
