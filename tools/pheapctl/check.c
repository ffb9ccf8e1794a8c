/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * check.c -- pheapctl check: validates every entry of the pool (or those
 * named): both header copies, the backing's size against the header, the
 * file's (or node's) owner and mode against the header's, creations'
 * leftovers; with --repair, pheap_repair(3) puts right what can be --
 * under the break lock, so while processes are attached -- and nothing is
 * guessed: an entry with no valid header copy is reported, never touched.
 *
 * Exit status: 0 when every entry is healthy (after --repair: when every
 * problem found was repaired), 1 when a problem is left, 2 usage.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pheapctl.h"

#define MAX_PROBLEMS 8

struct findings {
	int n, fixable;
	char what[MAX_PROBLEMS][256];
};

static void
add(struct findings *f, int fixable, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
add(struct findings *f, int fixable, const char *fmt, ...)
{
	va_list ap;

	if (f->n == MAX_PROBLEMS)
		return;
	va_start(ap, fmt);
	vsnprintf(f->what[f->n++], sizeof(f->what[0]), fmt, ap);
	va_end(ap);
	f->fixable += fixable;
}

static void
header_findings(const struct pheap_entry *st, struct findings *f)
{
	for (int i = 0; i < 2; i++) {
		int s = st->copy[i].state, o = st->copy[1 - i].state;

		if (s == PHEAP_COPY_BAD)
			add(f, 1, "header copy %d (at %d) is damaged", i, i * 4096);
		else if (s == PHEAP_COPY_NONE)
			add(f, 1, "header copy %d (at %d) is missing", i, i * 4096);
		else if (s == PHEAP_COPY_STALE && o == PHEAP_COPY_VALID)
			add(f, 1, "header copy %d (at %d) is stale (sequence %llu, "
				"the other %llu)", i, i * 4096, st->copy[i].seq,
				st->copy[1 - i].seq);
	}
	if (st->state == PHEAP_STATE_FREE)
		return;
	if (st->hdr_uid != st->uid)
		add(f, 1, "the header names owner %u, the file belongs to %u",
			(unsigned)st->hdr_uid, (unsigned)st->uid);
	if (st->file_mode != st->mode)
		add(f, 1, "the file's mode is %04lo, the header's %04lo",
			st->file_mode, st->mode);
	if (!st->size_ok)
		add(f, 0, "the backing holds %llu bytes, the heap needs %llu",
			st->backing_size, st->data_off + st->size);
	if (st->badblocks)
		add(f, 0, "bad blocks inside the heap (ndctl clear-errors)");
	if (st->unsafe_shutdown == 1)
		add(f, 0, "an unsafe shutdown since the last read-write attach "
			"(data may be lost)");
}

static void
findings_of(const struct pheap_entry *st, struct findings *f)
{
	memset(f, 0, sizeof(*f));
	if (!st->backend)
		return;		/* not readable by the caller: not ours */
	switch (st->state) {
	case PHEAP_STATE_DAMAGED:
		add(f, 0, "no valid header copy: not touched (nothing to "
			"believe)");
		break;
	case PHEAP_STATE_DEBRIS:
		add(f, 1, "left by a creation that crashed");
		break;
	case PHEAP_STATE_OK:
	case PHEAP_STATE_FREE:
	case PHEAP_STATE_DESTROYED:
		header_findings(st, f);
		break;
	default:	/* unreadable (others'), being created: not ours */
		break;
	}
}

static void
name(const struct pheap_entry *st)
{
	printf("%s", st->path);
	if (st->id_len) {
		printf(" (");
		ctl_print_id(stdout, st->id, st->id_len);
		printf(")");
	}
}

struct run {
	int repair, dry, left;
};

/* reports st's problems, repairs them; counts what is left in r->left */
static int
check_one(const struct pheap_entry *st, void *arg)
{
	struct run *r = arg;
	struct findings f;
	int ret;

	findings_of(st, &f);
	for (int i = 0; i < f.n; i++) {
		name(st);
		printf(": %s\n", f.what[i]);
	}
	if (!f.n)
		return 0;
	if (!r->repair || !f.fixable || r->dry) {
		if (r->repair && f.fixable)
			printf("%s: would repair %d of %d\n", st->path,
				f.fixable, f.n);
		r->left++;
		return 0;
	}
	ret = pheap_repair(st->path, 0);
	if (ret < 0) {
		ctl_fail(st->path, pheap_errormsg());
		r->left++;
		return 0;
	}
	printf("%s: repaired%s%s%s%s\n", st->path,
		ret & PHEAP_REPAIRED_COPY ? " header" : "",
		ret & PHEAP_REPAIRED_OWNER ? " owner" : "",
		ret & PHEAP_REPAIRED_MODE ? " mode" : "",
		ret & PHEAP_REPAIRED_DEBRIS ? " (removed)" : "");
	r->left += f.n > f.fixable;
	return 0;
}

static const char help[] =
	"Validates every entry of the pool, or those named (an id, or a\n"
	"path: any argument with a '/'): both header copies, the backing's\n"
	"size, the file's owner and mode against the header's, leftovers of\n"
	"crashed creations (.tmp-*).  Exit 0: healthy; 1: problems left.\n\n"
	"  --repair   rewrite a damaged or stale copy from the valid one, put\n"
	"             the owner and mode right, remove leftovers whose creator\n"
	"             is gone (the owner's, or root); an entry with no valid\n"
	"             copy is reported, never touched\n"
	"  --dry-run  with --repair: say what would be repaired, change nothing\n";

int
cmd_check(int argc, char **argv)
{
	struct run r = { 0 };
	struct pheap_entry st;
	int n = 0, ret;

	for (int i = 1; i < argc; i++) {
		int done;

		if (ctl_common_opt(argc, argv, &i, "[--repair] [--dry-run] [ID|PATH...]", help, &done)) {
			if (done >= 0)
				return done;
			continue;
		}
		if (!strcmp(argv[i], "--repair"))
			r.repair = 1;
		else if (!strcmp(argv[i], "--dry-run"))
			r.dry = 1;
		else if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage("unknown option '%s'", argv[i]);
		else
			argv[++n] = argv[i];	/* the entries, in place */
	}
	if (n == 0 && (ret = pheap_pool_list(check_one, &r, PHEAP_LIST_ALL)))
		return ctl_fail("the pool", pheap_errormsg());
	for (int i = 1; i <= n; i++) {
		if ((ret = ctl_find(argv[i], &st)) != 0) {
			if (ret == EXIT_USAGE)
				return ret;
			r.left++;
			continue;
		}
		check_one(&st, &r);
	}
	return r.left ? EXIT_FAIL : EXIT_OK;
}
