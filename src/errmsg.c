/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * errmsg.c -- thread-local error text, like pmem2_errormsg(): the library
 * never prints, it leaves the last failure's explanation here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libpmem2.h>

#include "pheap.h"
#include "errmsg.h"

#define ERRMSG_LEN 512

static __thread char errmsg[ERRMSG_LEN];

static void
vformat(const char *fmt, va_list ap)
{
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
}

int
err_set(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
	return -err;
}

int
err_sys(int err, const char *fmt, ...)
{
	va_list ap;
	char ebuf[128];
	size_t n;

	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
	n = strlen(errmsg);
	/* the GNU strerror_r returns a pointer that may not be ebuf */
	snprintf(errmsg + n, sizeof(errmsg) - n, ": %s",
		strerror_r(err, ebuf, sizeof(ebuf)));
	return -err;
}

int
err_pmem2(int ret, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	/* libpmem2 returns -errno for system errors, its own codes below */
	int e = ret < 0 && ret > -4096 ? -ret : EIO;

	if (ret == PMEM2_E_MAPPING_EXISTS)
		e = EEXIST;
	va_start(ap, fmt);
	vformat(fmt, ap);
	va_end(ap);
	n = strlen(errmsg);
	snprintf(errmsg + n, sizeof(errmsg) - n, ": %s", pmem2_errormsg());
	return -e;
}

void
err_clear(void)
{
	errmsg[0] = '\0';
}

const char *
pheap_errormsg(void)
{
	return errmsg;
}
