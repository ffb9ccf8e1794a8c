/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * procs.c -- which processes are attached to a pheap, as far as /proc
 * lets this user see.
 *
 * An attached process holds an open file description read lock on one of
 * the 64 epoch bytes at offsets 12352 to 12415 of the pheap's file or
 * device, for as long as it is attached (libpheap-pmem(7), "Several
 * processes").  /proc/PID/fdinfo/FD lists the locks of that descriptor;
 * /proc/PID/fd/FD leads to its file.  Other users' processes are visible
 * to root only: the library's count (pheap_pool_stat().attached, from
 * /proc/locks) may then be larger than what is found here.
 */
#include <ctype.h>
#include <limits.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pheapctl.h"

#define EPOCH0	12352	/* libpheap-pmem(7) */
#define NEPOCH	64

/* 1 if /proc/pid/fdinfo/fd shows an OFD read lock on an epoch byte */
static int
holds_epoch(const char *pid, const char *fd)
{
	char path[PATH_MAX], line[256], rw[16];
	long long start;
	int yes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo/%s", pid, fd);
	f = fopen(path, "re");
	while (f && !yes && fgets(line, sizeof(line), f))
		yes = strncmp(line, "lock:", 5) == 0 && strstr(line, "OFDLCK") &&
			!strstr(line, "->") && sscanf(line, "lock: %*d: %*s "
			"%*s %15s %*d %*s %lld", rw, &start) == 2 &&
			strcmp(rw, "READ") == 0 && start >= EPOCH0 &&
			start < EPOCH0 + NEPOCH;
	if (f)
		fclose(f);
	return yes;
}

/* 1 if process pid has an attached descriptor of the file sb */
static int
attached(const char *pid, const struct stat *sb)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat fsb;
	DIR *dp;
	int yes = 0;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	dp = opendir(path);
	while (dp && !yes && (de = readdir(dp)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, de->d_name);
		yes = stat(path, &fsb) == 0 && fsb.st_dev == sb->st_dev &&
			fsb.st_ino == sb->st_ino && fsb.st_rdev == sb->st_rdev &&
			holds_epoch(pid, de->d_name);
	}
	if (dp)
		closedir(dp);
	return yes;
}

int
ctl_attached_pids(const char *path, pid_t *pids, int max)
{
	struct dirent *de;
	struct stat sb;
	DIR *dp;
	int n = 0;

	if (stat(path, &sb) || !(dp = opendir("/proc")))
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
				!attached(de->d_name, &sb))
			continue;
		if (n < max)
			pids[n] = (pid_t)atoi(de->d_name);
		n++;
	}
	closedir(dp);
	return n;
}
