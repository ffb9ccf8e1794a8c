/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lock.c -- OFD byte-range locks.  Unlike classic POSIX locks they belong
 * to the open file description, not the process: closing another fd of the
 * same file does not drop them, and a forked child shares them until it
 * reopens the file (which the library does, see attach.c).
 */
#include <errno.h>
#include <string.h>

#include "lock.h"

static int
setlk(int fd, int cmd, long byte, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));	/* l_pid must be 0 for OFD locks */
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	return fcntl(fd, cmd, &fl);
}

int
lock_take(int fd, long byte, short type)
{
	while (setlk(fd, F_OFD_SETLKW, byte, type)) {
		if (errno != EINTR)
			return err_sys(errno, "locking the pheap");
	}
	return 0;
}

void
lock_drop(int fd, long byte)
{
	setlk(fd, F_OFD_SETLK, byte, F_UNLCK);
}
