/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * manage.c -- pheapctl create, destroy, chmod, chown and resize: each the
 * library call a program would make.  chmod and resize attach to the
 * pheap, call pchmod(3) or pbrk(3) -- which reach every attached process
 * and take the break lock -- and detach; chmod attaches read-only when the
 * owner may not write its own pheap.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "pheapctl.h"

/* the positional arguments of a subcommand */
struct args {
	const char *pos[2];
	int npos;
};

/* want positional arguments; the flags in known[] (NULL-terminated) set
 * seen[k]; -1 after --help, 0, or EXIT_USAGE */
static int
parse(int argc, char **argv, const char *syn, const char *help,
	const char *const *known, int *seen, struct args *a, int want)
{
	a->npos = 0;
	for (int i = 1; i < argc; i++) {
		int p = ctl_pool_opt(argc, argv, &i), k = 0;

		if (p < 0)
			return ctl_usage("--pool needs a value");
		if (p)
			continue;
		if (ctl_is_help(argv[i]))
			return ctl_help(syn, help) - EXIT_OK - 1;
		while (known && known[k] && strcmp(argv[i], known[k]))
			k++;
		if (known && known[k]) {
			seen[k] = i;
			continue;
		}
		if (argv[i][0] == '-' && argv[i][1])
			return ctl_usage("unknown option '%s'", argv[i]);
		if (a->npos == want)
			return ctl_usage("too many arguments");
		a->pos[a->npos++] = argv[i];
	}
	return a->npos == want ? 0 : ctl_usage("%s", want == 1 ?
		"an id is needed" : "an id and a value are needed");
}

static int
id_arg(const char *arg, char id[PHEAP_ID_LEN_LIMIT], size_t *len)
{
	if (ctl_parse_id(arg, id, len))
		return ctl_usage("'%s' is not an id (1 to %d bytes; \\\\ and "
			"\\xHH for others)", arg, PHEAP_ID_LEN_LIMIT);
	return 0;
}

/* ---- create ---- */

struct create_opts {
	unsigned long long size;
	unsigned long mode;
	int has_size, has_mode;
};

static int
create_opts(int argc, char **argv, const char **idarg, struct create_opts *o)
{
	static const char help[] =
		"A new pheap (pattach(3) PHEAP_CREATE), owned by the caller.\n\n"
		"  --size S     its size (bytes; K, M, G, T: binary units)\n"
		"  --mode M     its permissions (octal; else 0644 & ~umask)\n"
		"  --base ADDR  its base address (as PHEAP_BASE)\n";
	const char *syn = "ID [--size S] [--mode M] [--base ADDR]";

	for (int i = 1; i < argc; i++) {
		int p = ctl_pool_opt(argc, argv, &i);
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (p < 0)
			return ctl_usage("--pool needs a value");
		if (p)
			continue;
		if (ctl_is_help(opt))
			return ctl_help(syn, help) - 1;
		if (opt[0] != '-' || !opt[1]) {
			if (*idarg)
				return ctl_usage("too many arguments");
			*idarg = opt;
			continue;
		}
		if (!val || (strcmp(opt, "--size") && strcmp(opt, "--mode") &&
				strcmp(opt, "--base")))
			return ctl_usage(val ? "unknown option '%s'" :
				"'%s' needs a value", opt);
		i++;
		if (!strcmp(opt, "--size") && (o->has_size = 1) &&
				ctl_parse_size(val, &o->size))
			return ctl_usage("--size %s: not a size", val);
		if (!strcmp(opt, "--mode") && (o->has_mode = 1) &&
				ctl_parse_mode(val, &o->mode))
			return ctl_usage("--mode %s: not an octal mode", val);
		if (!strcmp(opt, "--base") && setenv("PHEAP_BASE", val, 1))
			return ctl_usage("--base %s", val);
	}
	return *idarg ? 0 : ctl_usage("an id is needed");
}

int
cmd_create(int argc, char **argv)
{
	struct create_opts o = { 0 };
	const char *idarg = NULL;
	char id[PHEAP_ID_LEN_LIMIT];
	size_t len;
	long ret = create_opts(argc, argv, &idarg, &o);

	if (ret)
		return ret < 0 ? EXIT_OK : (int)ret;
	if ((ret = id_arg(idarg, id, &len)) != 0)
		return (int)ret;
	ret = pattach(id, len, PHEAP_CREATE);
	if (ret)
		return ctl_fail(idarg, pheap_errormsg());
	if (o.has_mode)
		ret = pchmod(o.mode);
	if (ret == 0 && o.has_size)
		ret = pbrk((unsigned long)pheap_base() + o.size);
	if (ret < 0) {
		/* not half made: undone, with the reason kept */
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", pheap_errormsg());
		pdetach();
		pheap_destroy(id, len, 0);
		return ctl_fail(idarg, msg);
	}
	if (pdetach())
		return ctl_fail(idarg, pheap_errormsg());
	return EXIT_OK;
}

/* ---- destroy ---- */

int
cmd_destroy(int argc, char **argv)
{
	static const char *const known[] = { "--wait", NULL };
	static const char help[] =
		"Destroys the pheap, as ipcrm(1) a segment: nobody finds it from\n"
		"now on, and its storage is freed when the last attached process\n"
		"detaches or dies (list shows it destroyed-pending until then).\n"
		"Its owner or root only.\n\n"
		"  --wait  return only once its storage is freed\n";
	int seen[2] = { 0 }, ret;
	char id[PHEAP_ID_LEN_LIMIT];
	size_t len;
	struct args a;

	ret = parse(argc, argv, "[--wait] ID", help, known, seen, &a, 1);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = id_arg(a.pos[0], id, &len)) != 0)
		return ret;
	ret = pheap_destroy(id, len, seen[0] ? PHEAP_DESTROY_WAIT : 0);
	if (ret < 0)
		return ctl_fail(a.pos[0], pheap_errormsg());
	if (ret == 1)
		printf("%s: destroyed; freed when the processes attached to it "
			"detach\n", a.pos[0]);
	return EXIT_OK;
}

/* ---- chmod, resize: attached for a moment ---- */

/* attaches read-write, or read-only if rdonly_ok and writing is refused */
static int
attach(const char *idarg, const char *id, size_t len, int rdonly_ok)
{
	int ret = pattach(id, len, PHEAP_ATTACH);

	if (ret == -EACCES && rdonly_ok)
		ret = pattach(id, len, PHEAP_ATTACH | PHEAP_RDONLY);
	return ret ? ctl_fail(idarg, pheap_errormsg()) : 0;
}

/* detaches, keeping the failure of what was done meanwhile (ret) */
static int
detach(const char *idarg, long ret)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", pheap_errormsg());
	if (pdetach() && ret >= 0)
		return ctl_fail(idarg, pheap_errormsg());
	return ret < 0 ? ctl_fail(idarg, msg) : EXIT_OK;
}

int
cmd_chmod(int argc, char **argv)
{
	static const char help[] =
		"Changes the pheap's permissions (octal), as pchmod(3): in its\n"
		"header and on its file.  Its owner or root only.\n";
	char id[PHEAP_ID_LEN_LIMIT];
	unsigned long mode;
	size_t len;
	struct args a;
	int ret = parse(argc, argv, "ID MODE", help, NULL, NULL, &a, 2);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = id_arg(a.pos[0], id, &len)) != 0)
		return ret;
	if (ctl_parse_mode(a.pos[1], &mode))
		return ctl_usage("'%s' is not an octal mode within 0777",
			a.pos[1]);
	if ((ret = attach(a.pos[0], id, len, 1)) != 0)
		return ret;
	return detach(a.pos[0], pchmod(mode));
}

int
cmd_resize(int argc, char **argv)
{
	static const char help[] =
		"Sets the pheap's size (bytes; K, M, G, T: binary units; rounded\n"
		"up to 2 MiB), as pbrk(3): in every attached process, durably.\n";
	char id[PHEAP_ID_LEN_LIMIT];
	unsigned long long size;
	size_t len;
	struct args a;
	int ret = parse(argc, argv, "ID SIZE", help, NULL, NULL, &a, 2);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = id_arg(a.pos[0], id, &len)) != 0)
		return ret;
	if (ctl_parse_size(a.pos[1], &size))
		return ctl_usage("'%s' is not a size", a.pos[1]);
	if ((ret = attach(a.pos[0], id, len, 0)) != 0)
		return ret;
	return detach(a.pos[0], pbrk((unsigned long)pheap_base() + size));
}

/* ---- chown ---- */

static int
owner_arg(const char *arg, uid_t *uid, gid_t *gid)
{
	char user[256], *colon;
	struct passwd *pw;
	char *end;

	snprintf(user, sizeof(user), "%s", arg);
	colon = strchr(user, ':');
	*gid = (gid_t)-1;
	if (colon) {
		struct group *gr = getgrnam(colon + 1);

		*colon = '\0';
		if (gr)
			*gid = gr->gr_gid;
		else if (!colon[1] || (*gid = (gid_t)strtoul(colon + 1, &end,
				10), *end))
			return -1;
	}
	pw = getpwnam(user);
	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	*uid = (uid_t)strtoul(user, &end, 10);
	return !*user || *end ? -1 : 0;
}

int
cmd_chown(int argc, char **argv)
{
	static const char help[] =
		"Gives the pheap to USER (and GROUP), names or numbers: its file\n"
		"and its header.  Root only.\n";
	char id[PHEAP_ID_LEN_LIMIT];
	size_t len;
	uid_t uid;
	gid_t gid;
	struct args a;
	int ret = parse(argc, argv, "ID USER[:GROUP]", help, NULL, NULL, &a, 2);

	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	if ((ret = id_arg(a.pos[0], id, &len)) != 0)
		return ret;
	if (owner_arg(a.pos[1], &uid, &gid))
		return ctl_usage("'%s': no such user or group", a.pos[1]);
	if (pheap_chown(id, len, uid, gid))
		return ctl_fail(a.pos[0], pheap_errormsg());
	return EXIT_OK;
}
