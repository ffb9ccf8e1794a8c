/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * list.c -- pheapctl list: one row per entry of the pool, as ipcs -m
 * lists shared memory segments; --json for programs (one document, the
 * same keys in every entry, null where a value is unknown).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pheapctl.h"

#define MAX_PIDS 64

struct row {
	struct pheap_entry st;
	int npids;			/* -1: not asked or not known */
	pid_t pids[MAX_PIDS];
};

struct rows {
	struct row *r;
	size_t n, cap;
	int pids;			/* --pids */
	int nomem;
};

static int
collect(const struct pheap_entry *st, void *arg)
{
	struct rows *rs = arg;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 16;
		struct row *r = realloc(rs->r, cap * sizeof(*r));

		if (!r) {
			rs->nomem = 1;
			return -1;
		}
		rs->r = r;
		rs->cap = cap;
	}
	struct row *row = &rs->r[rs->n++];

	row->st = *st;
	row->npids = rs->pids ? ctl_attached_pids(st->path, row->pids,
		MAX_PIDS) : -1;
	return 0;
}

static int
by_path(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->st.path,
		((const struct row *)b)->st.path);
}

static void
json_row(FILE *f, const struct row *row)
{
	const struct pheap_entry *st = &row->st;
	int known = st->backend != 0;
	char b[64], id[CTL_ID_TEXT];

	fputs("    {\"id\": ", f);
	if (st->id_len) {
		ctl_id_text(id, st->id, st->id_len);
		json_str(f, id, strlen(id));
		fputs(", \"id_hex\": ", f);
		json_hex(f, st->id, st->id_len);
	} else {
		fputs("null, \"id_hex\": null", f);
	}
	fputs(", \"path\": ", f);
	json_str(f, st->path, strlen(st->path));
	fprintf(f, ", \"state\": \"%s\", \"backend\": ", ctl_state(st->state));
	if (known)
		fprintf(f, "\"%s\"", ctl_backend(st->backend));
	else
		fputs("null", f);
	fputs(", \"owner\": ", f);
	ctl_user(st->uid, b, sizeof(b));
	json_str(f, b, strlen(b));
	fprintf(f, ", \"uid\": %u, \"group\": ", (unsigned)st->uid);
	ctl_group(st->gid, b, sizeof(b));
	json_str(f, b, strlen(b));
	fprintf(f, ", \"gid\": %u, \"mode\": \"%04lo\"", (unsigned)st->gid,
		known ? st->mode : st->file_mode);
	if (known && st->state != PHEAP_STATE_DAMAGED)
		fprintf(f, ", \"size\": %zu, \"capacity\": %zu, \"base\": "
			"\"%#lx\"", st->size, st->capacity,
			(unsigned long)st->base);
	else
		fputs(", \"size\": null, \"capacity\": null, \"base\": null", f);
	if (st->attached >= 0)
		fprintf(f, ", \"attached\": %d", st->attached);
	else
		fputs(", \"attached\": null", f);
	fputs(", \"pids\": ", f);
	if (row->npids < 0)
		fputs("null", f);
	for (int i = 0; i < row->npids && i < MAX_PIDS; i++)
		fprintf(f, "%s%d", i ? ", " : "[", (int)row->pids[i]);
	if (row->npids >= 0)
		fputs(row->npids ? "]" : "[]", f);
	fputs("}", f);
}

static void
print_json(const struct rows *rs)
{
	printf("{\n  \"pheaps\": [");
	for (size_t i = 0; i < rs->n; i++) {
		printf("%s\n", i ? "," : "");
		json_row(stdout, &rs->r[i]);
	}
	printf("%s]\n}\n", rs->n ? "\n  " : "");
}

/* ---- the table ---- */

enum { C_ID, C_OWNER, C_GROUP, C_MODE, C_SIZE, C_CAP, C_BACKEND, C_BASE,
	C_ATT, C_PIDS, C_STATE, C_PATH, NCOLS };

static const char *const heads[NCOLS] = { "ID", "OWNER", "GROUP", "MODE",
	"SIZE", "CAPACITY", "BACKEND", "BASE", "ATTACHED", "PIDS", "STATE",
	"PATH" };

#define CELL CTL_ID_TEXT

static void
size_cell(char *c, unsigned long long v, int human)
{
	if (human)
		ctl_human(c, CELL, v);
	else
		snprintf(c, CELL, "%llu", v);
}

static void
pids_cell(char *c, const struct row *row)
{
	size_t n = 0;

	snprintf(c, CELL, "%s", row->npids < 0 ? "?" : row->npids ? "" : "-");
	for (int i = 0; i < row->npids && i < MAX_PIDS && n + 16 < CELL; i++)
		n += (size_t)snprintf(c + n, CELL - n, "%s%d", i ? "," : "",
			(int)row->pids[i]);
}

static void
cells(const struct row *row, int human, char c[NCOLS][CELL])
{
	const struct pheap_entry *st = &row->st;
	int known = st->backend && st->state != PHEAP_STATE_DAMAGED;
	char id[CTL_ID_TEXT];

	ctl_id_text(id, st->id, st->id_len);
	snprintf(c[C_ID], CELL, "%s", st->id_len ? id : "-");
	ctl_user(st->uid, c[C_OWNER], CELL);
	ctl_group(st->gid, c[C_GROUP], CELL);
	snprintf(c[C_MODE], CELL, "%04lo", st->backend ? st->mode :
		st->file_mode);
	strcpy(c[C_SIZE], "-");
	strcpy(c[C_CAP], "-");
	strcpy(c[C_BASE], "-");
	if (known) {
		size_cell(c[C_SIZE], st->size, human);
		size_cell(c[C_CAP], st->capacity, human);
		snprintf(c[C_BASE], CELL, "%#lx", (unsigned long)st->base);
	}
	snprintf(c[C_BACKEND], CELL, "%s", ctl_backend(st->backend));
	snprintf(c[C_ATT], CELL, st->attached < 0 ? "?" : "%d", st->attached);
	pids_cell(c[C_PIDS], row);
	snprintf(c[C_STATE], CELL, "%s", ctl_state(st->state));
	c[C_PATH][0] = '\0';	/* printed from st: it may be long */
}

static void
print_line(char c[NCOLS][CELL], const int *w, int pids, const char *path)
{
	for (int k = 0; k < C_PATH; k++)
		if (k != C_PIDS || pids)
			printf("%-*s  ", w[k], c[k]);
	printf("%s\n", path);
}

static void
print_table(const struct rows *rs, int human)
{
	char (*c)[NCOLS][CELL] = calloc(rs->n + 1, sizeof(*c));
	int w[NCOLS] = { 0 };

	if (!c)
		return;
	for (int k = 0; k < NCOLS; k++)
		snprintf(c[0][k], CELL, "%s", heads[k]);
	for (size_t i = 0; i < rs->n; i++)
		cells(&rs->r[i], human, c[i + 1]);
	for (size_t i = 0; i <= rs->n; i++)
		for (int k = 0; k < NCOLS; k++)
			if ((int)strlen(c[i][k]) > w[k])
				w[k] = (int)strlen(c[i][k]);
	for (size_t i = 0; i <= rs->n; i++)
		print_line(c[i], w, rs->pids, i ? rs->r[i - 1].st.path :
			heads[C_PATH]);
	free(c);
}

static const char help[] =
	"One row per entry of the pool: pheaps, destroyed pheaps still\n"
	"attached (destroyed-pending), damaged ones, free devices.\n\n"
	"  -u, --human  sizes in K, M, G, T\n"
	"  --pids       the attached processes (those /proc shows this user)\n"
	"  --json       one JSON document: {\"pheaps\": [{...}, ...]}\n";

int
cmd_list(int argc, char **argv)
{
	struct rows rs = { 0 };
	int human = 0, json = 0, ret;

	for (int i = 1; i < argc; i++) {
		int done;

		if (ctl_common_opt(argc, argv, &i, "[-u] [--pids] [--json]", help, &done)) {
			if (done >= 0)
				return done;
			continue;
		}
		if (!strcmp(argv[i], "-u") || !strcmp(argv[i], "--human"))
			human = 1;
		else if (!strcmp(argv[i], "--pids"))
			rs.pids = 1;
		else if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			return ctl_usage("unknown argument '%s'", argv[i]);
	}
	ret = pheap_pool_list(collect, &rs, 0);
	if (ret) {
		free(rs.r);
		return ctl_fail("the pool", rs.nomem ? "out of memory" :
			pheap_errormsg());
	}
	qsort(rs.r, rs.n, sizeof(*rs.r), by_path);
	if (json)
		print_json(&rs);
	else
		print_table(&rs, human);
	free(rs.r);
	return EXIT_OK;
}
