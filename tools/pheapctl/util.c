/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * util.c -- what pheapctl's subcommands share: messages and exit codes,
 * parsing ids, sizes and modes, printing ids and JSON, finding an entry.
 *
 * Ids are any bytes: they are printed with printable ASCII as itself, a
 * backslash as "\\" and every other byte as "\xHH", and typed the same
 * way, so what list prints can be pasted into any other subcommand.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pheapctl.h"

const char *ctl_cmd = "";

int
ctl_fail(const char *what, const char *msg)
{
	progress_interrupt();
	fprintf(stderr, "pheapctl %s: %s: %s\n", ctl_cmd, what, msg);
	return EXIT_FAIL;
}

int
ctl_usage(const char *fmt, ...)
{
	va_list ap;

	progress_interrupt();
	fprintf(stderr, "pheapctl %s: ", ctl_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(pheapctl %s --help tells how)\n", ctl_cmd);
	return EXIT_USAGE;
}

int
ctl_help(const char *synopsis, const char *text)
{
	printf("usage: pheapctl [--pool P] %s %s\n\n%s", ctl_cmd, synopsis,
		text);
	printf("  --pool P  the pool is P (a PHEAP_POOL list), not "
		"PHEAP_POOL's\n");
	return EXIT_OK;
}

int
ctl_pool_opt(int argc, char **argv, int *i)
{
	if (strcmp(argv[*i], "--pool") != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	++*i;
	return setenv("PHEAP_POOL", argv[*i], 1) ? -1 : 1;
}

int
ctl_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int
ctl_common_opt(int argc, char **argv, int *i, const char *synopsis,
	const char *help, int *done)
{
	int p = ctl_pool_opt(argc, argv, i);

	*done = -1;
	if (p < 0)
		*done = ctl_usage("--pool needs a value");
	else if (!p && ctl_is_help(argv[*i]))
		*done = ctl_help(synopsis, help);
	return p != 0 || *done >= 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
ctl_parse_id(const char *arg, char id[PHEAP_ID_LEN_LIMIT], size_t *len)
{
	size_t n = 0;

	for (const char *p = arg; *p; p++) {
		int c = (unsigned char)*p;

		if (c == '\\') {
			if (p[1] == '\\') {
				p++;
			} else if (p[1] == 'x' && hexval(p[2]) >= 0 &&
					hexval(p[3]) >= 0) {
				c = hexval(p[2]) << 4 | hexval(p[3]);
				p += 3;
			} else {
				return -1;
			}
		}
		if (n == PHEAP_ID_LEN_LIMIT)
			return -1;
		id[n++] = (char)c;
	}
	*len = n;
	return n ? 0 : -1;
}

void
ctl_print_id(FILE *f, const char *id, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c > ' ' && c < 0x7f)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

void
ctl_id_text(char buf[CTL_ID_TEXT], const char *id, size_t len)
{
	FILE *f = fmemopen(buf, CTL_ID_TEXT, "w");

	buf[0] = '\0';
	if (!f)
		return;
	ctl_print_id(f, id, len);
	fclose(f);
}

int
ctl_parse_size(const char *arg, unsigned long long *v)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long n;

	errno = 0;
	if (!isdigit((unsigned char)*arg))
		return -1;
	n = strtoull(arg, &end, 0);
	if (errno)
		return -1;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		int shift = u ? 10 * (int)(u - units + 1) : 0;

		if (!u || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1,
				"B")) || n > (~0ULL >> shift))
			return -1;
		n <<= shift;
	}
	*v = n;
	return 0;
}

int
ctl_parse_mode(const char *arg, unsigned long *mode)
{
	char *end;
	unsigned long m;

	if (!*arg || strspn(arg, "01234567") != strlen(arg))
		return -1;
	m = strtoul(arg, &end, 8);
	if (m > 0777)
		return -1;
	*mode = m;
	return 0;
}

void
ctl_human(char *buf, size_t n, unsigned long long v)
{
	static const char units[] = "BKMGTPE";
	double d = (double)v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu", v);
	else
		snprintf(buf, n, d < 10 && d != (long)d ? "%.1f%c" : "%.0f%c",
			d, units[u]);
}

const char *
ctl_user(uid_t uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, n, "%s", pw->pw_name);
	else
		snprintf(buf, n, "%u", (unsigned)uid);
	return buf;
}

const char *
ctl_group(gid_t gid, char *buf, size_t n)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, n, "%s", gr->gr_name);
	else
		snprintf(buf, n, "%u", (unsigned)gid);
	return buf;
}

void
json_str(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void
json_hex(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++)
		fprintf(f, "%02x", (unsigned char)s[i]);
	fputc('"', f);
}

const char *
ctl_state(int state)
{
	static const char *const names[] = {
		[PHEAP_STATE_OK] = "ok",
		[PHEAP_STATE_DAMAGED] = "damaged",
		[PHEAP_STATE_DESTROYED] = "destroyed-pending",
		[PHEAP_STATE_FREE] = "free device",
		[PHEAP_STATE_UNREADABLE] = "unreadable",
		[PHEAP_STATE_CREATING] = "creating",
		[PHEAP_STATE_DEBRIS] = "debris",
	};

	if (state < 0 || state >= (int)(sizeof(names) / sizeof(names[0])) ||
			!names[state])
		return "?";
	return names[state];
}

const char *
ctl_backend(int backend)
{
	switch (backend) {
	case PHEAP_BACKEND_FILE:
		return "file";
	case PHEAP_BACKEND_FSDAX:
		return "fsdax";
	case PHEAP_BACKEND_DEVDAX:
		return "devdax";
	default:
		return "-";
	}
}

const char *
ctl_copy(int state)
{
	switch (state) {
	case PHEAP_COPY_VALID:
		return "valid";
	case PHEAP_COPY_STALE:
		return "stale";
	case PHEAP_COPY_BAD:
		return "checksum bad";
	default:
		return "none";
	}
}

struct want {
	char id[PHEAP_ID_LEN_LIMIT];
	size_t len;
	struct pheap_entry *out;
	int found;
};

static int
match(const struct pheap_entry *st, void *arg)
{
	struct want *w = arg;

	if (st->state == PHEAP_STATE_DESTROYED || st->id_len != w->len ||
			memcmp(st->id, w->id, w->len))
		return 0;
	*w->out = *st;
	w->found = 1;
	return 1;
}

int
ctl_find(const char *arg, struct pheap_entry *st)
{
	struct want w = { .out = st };
	int ret;

	if (strchr(arg, '/')) {
		ret = pheap_pool_stat(arg, st);
		return ret ? ctl_fail(arg, pheap_errormsg()) : 0;
	}
	if (ctl_parse_id(arg, w.id, &w.len))
		return ctl_usage("'%s' is not an id (bytes, \\\\, \\xHH) "
			"nor a path", arg);
	ret = pheap_pool_list(match, &w, 0);
	if (ret < 0)
		return ctl_fail(arg, pheap_errormsg());
	if (!w.found)
		return ctl_fail(arg, "no pheap with this id in the pool");
	return 0;
}
