/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pheapctl.h -- what the subcommands of pheapctl(1) share.
 *
 * One subcommand is one entry of the table in pheapctl.c and one function
 * here, in a file of its own (or with its close kin): a new subcommand is
 * one more of each.  Every subcommand gets argv from
 * its own name on, prints --help on stdout, and returns the exit status:
 * EXIT_OK, EXIT_FAIL (the operation failed: stderr names the id or path
 * and the library's reason), EXIT_USAGE.
 */
#ifndef PHEAPCTL_H
#define PHEAPCTL_H

#include <stdio.h>
#include <sys/types.h>

#include <pheap.h>

#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;	/* one line, for pheapctl --help */
};

/* ---- the subcommands ---- */
int cmd_list(int argc, char **argv);		/* list.c */
int cmd_info(int argc, char **argv);		/* info.c */
int cmd_create(int argc, char **argv);		/* manage.c */
int cmd_destroy(int argc, char **argv);
int cmd_chmod(int argc, char **argv);
int cmd_chown(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_format(int argc, char **argv);		/* device.c */
int cmd_unformat(int argc, char **argv);
int cmd_check(int argc, char **argv);		/* check.c */
int cmd_export(int argc, char **argv);		/* export.c */
int cmd_import(int argc, char **argv);		/* import.c */

/* ---- util.c ---- */

/* the subcommand running, for messages */
extern const char *ctl_cmd;

/* "pheapctl CMD: what: the library's message" on stderr; EXIT_FAIL */
int ctl_fail(const char *what, const char *msg);
/* "pheapctl CMD: message" and the usage hint on stderr; EXIT_USAGE */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* --help of the running subcommand on stdout; EXIT_OK */
int ctl_help(const char *synopsis, const char *text);
/* 1 if argv[*i] is --pool P (then PHEAP_POOL is P and *i is on P), 0 if
 * it is not, -1 if P is missing */
int ctl_pool_opt(int argc, char **argv, int *i);
/* 1 if arg is --help or -h */
int ctl_is_help(const char *arg);
/* --pool P or --help at argv[*i]: 1 if it was one (*done: the exit code to
 * return, or -1 to go on with the next argument), else 0 */
int ctl_common_opt(int argc, char **argv, int *i, const char *synopsis,
	const char *help, int *done);

/* an id typed as list prints it: bytes, "\\" and "\xHH"; 0 or -1 */
int ctl_parse_id(const char *arg, char id[PHEAP_ID_LEN_LIMIT], size_t *len);
/* the id printable: the inverse of ctl_parse_id */
void ctl_print_id(FILE *f, const char *id, size_t len);
/* the same into buf */
#define CTL_ID_TEXT (4 * PHEAP_ID_LEN_LIMIT + 1)
void ctl_id_text(char buf[CTL_ID_TEXT], const char *id, size_t len);
/* bytes with an optional K, M, G or T (binary) suffix; 0 or -1 */
int ctl_parse_size(const char *arg, unsigned long long *v);
/* an octal mode within 0777; 0 or -1 */
int ctl_parse_mode(const char *arg, unsigned long *mode);
/* "1.5G" for -u (human) */
void ctl_human(char *buf, size_t n, unsigned long long v);
/* user and group names, or numbers */
const char *ctl_user(uid_t uid, char *buf, size_t n);
const char *ctl_group(gid_t gid, char *buf, size_t n);

/* a JSON string (bytes beyond ASCII as \u00XX: still well-formed) */
void json_str(FILE *f, const char *s, size_t len);
/* an id's bytes in hexadecimal, as a JSON string */
void json_hex(FILE *f, const char *s, size_t len);

/* words of struct pheap_entry */
const char *ctl_state(int state);
const char *ctl_backend(int backend);
const char *ctl_copy(int state);

/* finds the pool entry of an id (not destroyed) or a path; 0 or EXIT_FAIL */
int ctl_find(const char *arg, struct pheap_entry *st);

/* ---- progress.c: a progress line for long work, on a terminal ---- */

struct progress {
	const char *what;
	unsigned long long total, done;
	int on;			/* stderr is a terminal */
	int drawn;		/* a line is on it */
	long long last_ns;	/* when it was last drawn */
};

/* starts; total bytes to do */
void progress_start(struct progress *p, const char *what,
	unsigned long long total);
/* done bytes of total are done: redrawn if a tenth of a second passed */
void progress_step(struct progress *p, unsigned long long done);
/* the last state and a newline, if anything was drawn */
void progress_end(struct progress *p);
/* a line being drawn ends here: a message follows */
void progress_interrupt(void);

/* ---- interrupt.c: SIGINT, SIGTERM, SIGHUP during work that cleans up ---- */

/* from now on such a signal is noted, not obeyed */
void ctl_hold_signals(void);
/* the signal noted (the work should stop and clean up), or 0 */
int ctl_signalled(void);
/* the signals' actions as they were; a noted signal is raised again */
void ctl_release_signals(void);

/* ---- procs.c ---- */

/* the processes attached to the pheap at path that this user may see;
 * the count (pids[] holds at most max), or -1 if /proc cannot tell */
int ctl_attached_pids(const char *path, pid_t *pids, int max);

#endif
