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

/* prepares a device-dax device (/dev/daxX.Y) to hold one pheap */
int pheap_format_device(const char *path, unsigned long flags);

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

#ifdef __cplusplus
}
#endif

#endif /* PHEAP_H */
