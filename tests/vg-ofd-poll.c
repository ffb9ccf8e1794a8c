/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vg-ofd-poll.c -- preloaded by `make check-valgrind` only (see
 * tests/README.md): turns a blocking fcntl(F_OFD_SETLKW) into polling
 * F_OFD_SETLK with 1 ms sleeps.
 *
 * Why: valgrind runs one thread at a time and lets another run only while
 * the running one is in a system call it knows may block.  valgrind 3.19
 * knows that of F_SETLKW but not of F_OFD_SETLKW, so a thread waiting
 * there keeps every other thread of the process stopped.  pbrk waits,
 * with F_OFD_SETLKW, until every attached process -- its own sync thread
 * included -- has followed the new break: under valgrind the sync thread
 * never gets to run and the process hangs for good (even SIGTERM is not
 * delivered).  The same wait, polled with nanosleep (which valgrind knows
 * blocks), lets the sync thread run; the locks taken are the same.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>

int fcntl(int fd, int cmd, ...);
int fcntl64(int fd, int cmd, ...);

static int
call(const char *sym, int fd, int cmd, void *arg)
{
	int (*real)(int, int, ...) = (int (*)(int, int, ...))dlsym(RTLD_NEXT, sym);
	struct timespec ms = { 0, 1000000 };

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (cmd != F_OFD_SETLKW)
		return real(fd, cmd, arg);
	for (;;) {
		int r = real(fd, F_OFD_SETLK, arg);

		if (r == 0 || (errno != EAGAIN && errno != EACCES))
			return r;
		nanosleep(&ms, NULL);
	}
}

/* like glibc's, the third argument is taken as a pointer whatever cmd is */
int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return call("fcntl", fd, cmd, arg);
}

int
fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return call("fcntl64", fd, cmd, arg);
}
