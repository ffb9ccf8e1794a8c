/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * datafile.c -- the FILE of export and import: '-' is the standard output
 * or input.  An export's FILE is created with the pheap's permissions (an
 * export is as readable as the pheap, no more), made durable before
 * export says it is done, and removed if the export fails (it would be a
 * part of the heap).  An import's FILE that is not a regular file is read
 * once into a temporary file first: import must know its size before it
 * writes a byte (nothing is written if it does not fit), and an archive
 * is read twice (verified, then written).  So is a regular file that is
 * the standard input not at its start (a seek back must find the start).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer.h"

static int
is_std(const char *file)
{
	return strcmp(file, "-") == 0;
}

int
data_out_open(const char *file, unsigned long mode, int *fd)
{
	if (is_std(file)) {
		*fd = STDOUT_FILENO;
		return 0;
	}
	*fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		(mode_t)(mode & 0666));
	return *fd < 0 ? ctl_fail(file, strerror(errno)) : 0;
}

int
data_out_close(const char *file, int fd)
{
	struct stat sb;
	int ret = 0;

	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fdatasync(fd))
		ret = ctl_fail(file, strerror(errno));
	if (!is_std(file) && close(fd) && !ret)
		ret = ctl_fail(file, strerror(errno));
	return ret;
}

void
data_out_abort(const char *file, int fd)
{
	struct stat sb;

	if (is_std(file))
		return;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		unlink(file);
	close(fd);
}

ssize_t
data_read(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
data_write(int fd, const void *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf = (const char *)buf + w;
		n -= (size_t)w;
	}
	return 0;
}

/* an unlinked file in $TMPDIR (or /tmp) */
static int
temp_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/pheapctl-XXXXXX", dir && *dir ? dir :
		"/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

/* in copied to a temporary file, at most limit + 1 bytes */
static int
spool(const char *file, int in, unsigned long long limit, int *fd)
{
	char *buf = malloc(XFER_BUF);
	unsigned long long total = 0;
	int tmp = temp_file(), err = buf ? 0 : ENOMEM;
	ssize_t n = 1;

	if (tmp < 0)
		err = errno;
	while (!err && total <= limit && n > 0) {
		n = data_read(in, buf, XFER_BUF);
		if (n < 0 || (n > 0 && data_write(tmp, buf, (size_t)n)))
			err = errno;
		total += n > 0 ? (unsigned long long)n : 0;
	}
	free(buf);
	if (!err && lseek(tmp, 0, SEEK_SET))
		err = errno;
	if (err) {
		if (tmp >= 0)
			close(tmp);
		return ctl_fail(file, strerror(err));
	}
	*fd = tmp;
	return 0;
}

int
data_in_open(const char *file, unsigned long long limit, int *fd,
	unsigned long long *size)
{
	int in = is_std(file) ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	int ret;

	if (in < 0 || fstat(in, &sb))
		return ctl_fail(file, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		ret = ctl_fail(file, strerror(EISDIR));
	} else if (S_ISREG(sb.st_mode) && lseek(in, 0, SEEK_CUR) == 0) {
		*fd = in;
		*size = (unsigned long long)sb.st_size;
		return 0;
	} else {
		ret = spool(file, in, limit, fd);
		if (ret == 0 && fstat(*fd, &sb))
			ret = ctl_fail(file, strerror(errno));
		if (ret == 0)
			*size = (unsigned long long)sb.st_size;
	}
	if (in != STDIN_FILENO)
		close(in);
	return ret;
}
