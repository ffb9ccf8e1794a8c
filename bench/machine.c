/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * machine.c -- what pheap-bench says about the machine a run measured: the
 * CPU, memory, kernel, the pool's file system and mount options, and the
 * load average at the start and the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "harness.h"

struct machine m;

/* the number after "key:" in a /proc file of such lines (kB), 0 if none */
uint64_t
proc_kib(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t kl = strlen(key);
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void
fs_of(const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	size_t best = 0;

	snprintf(m.fstype, sizeof(m.fstype), "?");
	if (!f)
		return;
	/* id parent maj:min root mountpoint options ... - fstype source superopts */
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], opts[256], fst[32], src[256], sopts[512] = "";
		char *dash = strstr(line, " - ");
		size_t l;

		if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s %255s", mp, opts) != 2)
			continue;
		if (sscanf(dash + 3, "%31s %255s %511s", fst, src, sopts) < 2)
			continue;
		l = strlen(mp);
		if (strncmp(dir, mp, l) != 0 || (dir[l] != '/' && dir[l] != '\0' &&
				strcmp(mp, "/") != 0))
			continue;
		if (l < best)
			continue;
		best = l;
		snprintf(m.mnt_point, sizeof(m.mnt_point), "%s", mp);
		snprintf(m.fstype, sizeof(m.fstype), "%s", fst);
		if (snprintf(m.mnt_opts, sizeof(m.mnt_opts), "%s,%s", opts,
				sopts) >= (int)sizeof(m.mnt_opts))
			strcpy(m.mnt_opts + sizeof(m.mnt_opts) - 4, "...");
	}
	fclose(f);
}

void
read_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;

	snprintf(buf, len, "?");
	if (!f)
		return;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

void
machine_probe(void)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	struct utsname u;
	time_t t = time(NULL);

	snprintf(m.cpu, sizeof(m.cpu), "unknown");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *c = strchr(line, ':');

				if (c) {
					c++;
					while (*c == ' ' || *c == '\t')
						c++;
					c[strcspn(c, "\n")] = '\0';
					snprintf(m.cpu, sizeof(m.cpu), "%s", c);
				}
				break;
			}
		fclose(f);
	}
	m.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	m.mem_gib = (double)proc_kib("/proc/meminfo", "MemTotal") / (1024.0 * 1024.0);
	if (uname(&u) == 0)
		if (snprintf(m.kernel, sizeof(m.kernel), "%s %s %s %s", u.sysname,
				u.release, u.version, u.machine) >= (int)sizeof(m.kernel))
			strcpy(m.kernel + sizeof(m.kernel) - 4, "...");
	strftime(m.date, sizeof(m.date), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
	fs_of(pool_dir);
	read_loadavg(m.load0, sizeof(m.load0));
}
