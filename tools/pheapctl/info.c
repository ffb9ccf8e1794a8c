/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * info.c -- pheapctl info: everything about one pheap -- every header
 * field, each copy's state, the backing (file system and mount options
 * from /proc/self/mountinfo, or the device's alignment and NUMA node from
 * libdaxctl), unsafe shutdowns, bad blocks, attached processes.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <daxctl/libdaxctl.h>

#include "pheapctl.h"

#define MAX_PIDS 256

/* what holds the pheap, beyond pheap_pool_stat() */
struct backing {
	char fstype[64], source[PATH_MAX], mnt[PATH_MAX], opts[1024];
	int is_dev;
	char devname[32];
	unsigned long long devsize, align;
	int node;
	int npids;
	pid_t pids[MAX_PIDS];
};

/* the mount of file st: the longest mount point in which it lies */
static void
mount_of(const char *path, const struct stat *sb, struct backing *b)
{
	char line[4096], mp[PATH_MAX], opts[1024], fs[64], src[PATH_MAX];
	char real[PATH_MAX];
	unsigned maj, min;
	size_t best = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f || !realpath(path, real)) {
		if (f)
			fclose(f);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *dash = strstr(line, " - ");
		size_t n;

		if (!dash || sscanf(line, "%*d %*d %u:%u %*s %4095s %1023s",
				&maj, &min, mp, opts) != 4 ||
				sscanf(dash + 3, "%63s %4095s", fs, src) != 2 ||
				maj != major(sb->st_dev) || min != minor(sb->st_dev))
			continue;
		n = strlen(mp);
		if (strncmp(real, mp, n) || (real[n] != '/' && real[n] &&
				strcmp(mp, "/")) || n < best)
			continue;
		best = n;
		snprintf(b->mnt, sizeof(b->mnt), "%s", mp);
		snprintf(b->opts, sizeof(b->opts), "%s", opts);
		snprintf(b->fstype, sizeof(b->fstype), "%s", fs);
		snprintf(b->source, sizeof(b->source), "%s", src);
	}
	fclose(f);
}

/* the dax device rdev, from libdaxctl */
static void
dax_of(dev_t rdev, struct backing *b)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *region;
	struct daxctl_dev *dev;

	if (daxctl_new(&ctx))
		return;
	daxctl_region_foreach(ctx, region)
		daxctl_dev_foreach(region, dev) {
			if ((unsigned)daxctl_dev_get_major(dev) != major(rdev) ||
					(unsigned)daxctl_dev_get_minor(dev) !=
					minor(rdev))
				continue;
			snprintf(b->devname, sizeof(b->devname), "%s",
				daxctl_dev_get_devname(dev));
			b->devsize = daxctl_dev_get_size(dev);
			b->align = daxctl_dev_get_align(dev);
			if (!b->align)
				b->align = daxctl_region_get_align(region);
			b->node = daxctl_dev_get_target_node(dev);
		}
	daxctl_unref(ctx);
}

static void
backing_of(const struct pheap_entry *st, struct backing *b)
{
	struct stat sb;

	memset(b, 0, sizeof(*b));
	b->node = -1;
	b->npids = ctl_attached_pids(st->path, b->pids, MAX_PIDS);
	if (stat(st->path, &sb))
		return;
	b->is_dev = S_ISCHR(sb.st_mode);
	if (b->is_dev)
		dax_of(sb.st_rdev, b);
	else
		mount_of(st->path, &sb, b);
}

static void
iso_time(long long ns, char *buf, size_t n)
{
	time_t t = (time_t)(ns / 1000000000LL);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, n, "?");
}

static const char *
tristate(int v, const char *yes, const char *no)
{
	return v < 0 ? "unknown" : v ? yes : no;
}

static void
text_backing(const struct backing *b)
{
	if (b->is_dev) {
		printf("device:          %s, %llu bytes, alignment %llu, NUMA "
			"node %d\n", b->devname[0] ? b->devname : "?",
			b->devsize, b->align, b->node);
		return;
	}
	printf("file system:     %s (%s) on %s\n", b->fstype[0] ? b->fstype :
		"?", b->source, b->mnt);
	printf("mount options:   %s\n", b->opts);
}

static void
text_head(const struct pheap_entry *st)
{
	char u[64], g[64], hu[64], hg[64], t[64];

	printf("path:            %s\nstate:           %s\nid:              ",
		st->path, ctl_state(st->state));
	ctl_print_id(stdout, st->id, st->id_len);
	printf("\nbackend:         %s\n", ctl_backend(st->backend));
	printf("owner:           %s (%u), group %s (%u)\n",
		ctl_user(st->uid, u, sizeof(u)), (unsigned)st->uid,
		ctl_group(st->gid, g, sizeof(g)), (unsigned)st->gid);
	printf("header owner:    %s (%u), group %s (%u), %s\n",
		ctl_user(st->hdr_uid, hu, sizeof(hu)), (unsigned)st->hdr_uid,
		ctl_group(st->hdr_gid, hg, sizeof(hg)), (unsigned)st->hdr_gid,
		st->trusted ? "trusted" : "NOT trusted (differs from the file)");
	printf("mode:            %04lo (file: %04lo)\n", st->mode,
		st->file_mode);
	iso_time(st->ctime_ns, t, sizeof(t));
	printf("created:         %s (%lld ns)\n", t, st->ctime_ns);
}

static void
info_text(const struct pheap_entry *st, const struct backing *b)
{
	text_head(st);
	printf("base:            %#lx\nsize:            %zu\n"
		"capacity:        %zu\ndata offset:     %llu\n"
		"backing size:    %llu (%s)\nsequence:        %llu\n",
		(unsigned long)st->base, st->size, st->capacity, st->data_off,
		st->backing_size, st->size_ok ? "holds the heap" :
		"TOO SMALL for the heap", st->seq);
	for (int i = 0; i < 2; i++)
		printf("copy %d (at %d):  %s, sequence %llu\n", i, i * 4096,
			ctl_copy(st->copy[i].state), st->copy[i].seq);
	printf("unsafe shutdown: %s (count recorded: %llu)\n",
		tristate(st->unsafe_shutdown, "YES, since the last attach",
		"no"), st->usc);
	printf("bad blocks:      %s\n", st->badblocks ? "YES, in the heap" :
		"none known");
	text_backing(b);
	printf("attached:        %d", st->attached);
	for (int i = 0; i < b->npids && i < MAX_PIDS; i++)
		printf("%s%d", i ? "," : " (pids ", (int)b->pids[i]);
	printf("%s\n", b->npids > 0 ? ")" : "");
}

static void
json_kv(const char *key, const char *val)
{
	printf(",\n  \"%s\": ", key);
	json_str(stdout, val, strlen(val));
}

static void
json_head(const struct pheap_entry *st)
{
	char u[64], g[64], t[64], id[CTL_ID_TEXT];

	printf("{\n  \"path\": ");
	json_str(stdout, st->path, strlen(st->path));
	json_kv("state", ctl_state(st->state));
	ctl_id_text(id, st->id, st->id_len);
	json_kv("id", id);
	printf(",\n  \"id_hex\": ");
	json_hex(stdout, st->id, st->id_len);
	json_kv("backend", ctl_backend(st->backend));
	json_kv("owner", ctl_user(st->uid, u, sizeof(u)));
	printf(",\n  \"uid\": %u", (unsigned)st->uid);
	json_kv("group", ctl_group(st->gid, g, sizeof(g)));
	printf(",\n  \"gid\": %u,\n  \"header_uid\": %u,\n  "
		"\"header_gid\": %u,\n  \"trusted\": %s", (unsigned)st->gid,
		(unsigned)st->hdr_uid, (unsigned)st->hdr_gid,
		st->trusted ? "true" : "false");
	printf(",\n  \"mode\": \"%04lo\",\n  \"file_mode\": \"%04lo\"",
		st->mode, st->file_mode);
	iso_time(st->ctime_ns, t, sizeof(t));
	json_kv("created", t);
	printf(",\n  \"ctime_ns\": %lld", st->ctime_ns);
}

static void
json_backing(const struct backing *b)
{
	if (b->is_dev) {
		printf(",\n  \"device\": {\"name\": ");
		json_str(stdout, b->devname, strlen(b->devname));
		printf(", \"size\": %llu, \"align\": %llu, \"numa_node\": "
			"%d}", b->devsize, b->align, b->node);
		return;
	}
	printf(",\n  \"filesystem\": {\"type\": ");
	json_str(stdout, b->fstype, strlen(b->fstype));
	printf(", \"source\": ");
	json_str(stdout, b->source, strlen(b->source));
	printf(", \"mountpoint\": ");
	json_str(stdout, b->mnt, strlen(b->mnt));
	printf(", \"options\": ");
	json_str(stdout, b->opts, strlen(b->opts));
	printf("}");
}

static void
info_json(const struct pheap_entry *st, const struct backing *b)
{
	json_head(st);
	printf(",\n  \"base\": \"%#lx\",\n  \"size\": %zu,\n  "
		"\"capacity\": %zu,\n  \"data_offset\": %llu,\n  "
		"\"backing_size\": %llu,\n  \"size_ok\": %s,\n  "
		"\"seq\": %llu,\n  \"copies\": [", (unsigned long)st->base,
		st->size, st->capacity, st->data_off, st->backing_size,
		st->size_ok ? "true" : "false", st->seq);
	for (int i = 0; i < 2; i++)
		printf("%s{\"offset\": %d, \"state\": \"%s\", \"seq\": "
			"%llu}", i ? ", " : "", i * 4096,
			ctl_copy(st->copy[i].state), st->copy[i].seq);
	printf("],\n  \"unsafe_shutdown\": %s,\n  \"usc\": %llu,\n  "
		"\"badblocks\": %s", st->unsafe_shutdown < 0 ? "null" :
		st->unsafe_shutdown ? "true" : "false", st->usc,
		st->badblocks ? "true" : "false");
	json_backing(b);
	printf(",\n  \"attached\": ");
	if (st->attached < 0)
		printf("null");
	else
		printf("%d", st->attached);
	printf(",\n  \"pids\": ");
	if (b->npids < 0)
		printf("null");
	for (int i = 0; i < b->npids && i < MAX_PIDS; i++)
		printf("%s%d", i ? ", " : "[", (int)b->pids[i]);
	printf("%s\n}\n", b->npids < 0 ? "" : b->npids ? "]" : "[]");
}

int
cmd_info(int argc, char **argv)
{
	static const char help[] =
		"Everything about the pheap with this id, or the pool entry at\n"
		"PATH (any argument with a '/'): its header, field by field, and\n"
		"each of its two copies; its backing; attached processes.\n\n"
		"  --json  one JSON document\n";
	const char *arg = NULL;
	struct pheap_entry st;
	struct backing b;
	int json = 0, ret;

	for (int i = 1; i < argc; i++) {
		int done;

		if (ctl_common_opt(argc, argv, &i, "[--json] ID|PATH", help, &done)) {
			if (done >= 0)
				return done;
			continue;
		}
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage("unknown option '%s'", argv[i]);
		else if (arg)
			return ctl_usage("one id or path only");
		else
			arg = argv[i];
	}
	if (!arg)
		return ctl_usage("an id or a path is needed");
	if ((ret = ctl_find(arg, &st)) != 0)
		return ret;
	if (!st.backend)
		return ctl_fail(arg, "permission denied");
	backing_of(&st, &b);
	if (json)
		info_json(&st, &b);
	else
		info_text(&st, &b);
	return EXIT_OK;
}
