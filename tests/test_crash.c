/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_crash.c -- every crash point of every operation, in three variants.
 *
 * Linked with the test-only build (src/testhook.h).  For each operation and
 * each k = 1, 2, ... a forked child prepares a pool, then runs the
 * operation with a crash (SIGKILL) at its k-th persist point, until a run
 * completes without reaching k: the operation has k - 1 points.  Variants:
 *   kill     the process dies; everything it wrote stays (page cache);
 *   drop     also a power cut: the parent replaces the pool by the shadow
 *            of what the durability calls had made durable;
 *   drop+wb  a power cut after every dirty page was written back but no
 *            metadata (size, name, mode) committed since the last sync
 *            (testhook.c says precisely what these model).
 * After each run (crashed, or completed: then the state must be the new one,
 * in every variant) a fresh process checks the pool:
 *   - the pheap attaches (create: its id is absent, or a valid pheap of
 *     size 0), nothing else in the pool is lost, no id is duplicated;
 *   - the break is the old or the new one (completed: the new one);
 *   - the file is 2 MiB + break, or -- the one allowed leftover -- 2 MiB +
 *     the larger of old and new break after a crashed grow or shrink; then
 *     the next grow must discard it: the range reads zero;
 *   - data written and ppersist()ed before the operation is intact;
 *   - header mode old or new; the file's mode, before the owner's next
 *     attach repairs it, no more permissive than the old or the new mode;
 *   - the next create leaves no creation debris (.tmp-*) in the pool;
 *   - pheap_destroy: the pheap is live and intact, or gone, and the next
 *     look at the pool frees what a crash left (no .destroyed-* file).
 * For pbrk (kill variant) a second attached process survives each crash:
 * see follower_check().  The test prints the points of each operation,
 * the allowed outcomes it met, and the total (tests/README.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pheap.h"
#include "pool.h"
#include "state.h"
#include "testhook.h"
#include "util.h"

#define BASE ((char *)0x2a0002000000UL)
#define B(x) (0x2a0002000000UL + (unsigned long)(x))	/* integer: gcc 12 -fsanitize=undefined ICEs on constant pointer sums */
#define AREA HDR_AREA_SIZE
#define ID "crash-heap"
#define KEEP "crash-keep"
#define NEXT "crash-next"
#define MAX_POINTS 64
#define NOBODY 65534

enum variant { V_KILL, V_DROP, V_WB, V_N };
static const char *const vname[V_N] = { "kill", "drop", "drop+wb" };

struct scen {
	const char *name;
	int (*setup)(const struct scen *);
	int (*op)(const struct scen *);
	uint64_t old_brk, new_brk;	/* break before and after */
	uint64_t data_len;		/* pattern written before the op */
	uint64_t spare;			/* storage a crash may leave, if more
					 * than the larger break */
	unsigned old_mode, new_mode;
	int nobody;			/* setup and op run as uid 65534 */
	int create;			/* the op creates ID */
	int usc;			/* the op is an attach seeing a new USC */
	int follower;			/* kill: a forked process stays attached */
	int destroy;			/* the op destroys ID (nobody attached) */
	/* results */
	int points[V_N];
	int leftovers[V_N];		/* runs that left storage past the break */
	int widened[V_N];		/* runs that left the file more permissive */
	int wider[V_N];			/* runs that left the file wider than
					 * its header's mode */
	char trace[MAX_POINTS][64];
};

/* shared with the forked children */
struct shared {
	unsigned long count;		/* points the op child reached */
	int leftover, widened, wider;	/* set by the checker */
	char msg[1024];
	char fmsg[1024];		/* the follower's */
	pid_t follower;
};

static struct shared *sh;
static int fl_cmd[2] = { -1, -1 }, fl_res[2] = { -1, -1 };
static char top[256], pool[300], shadow[300], tracef[300];
static int total_runs;

/* ---- helpers ---- */

__attribute__((format(printf, 1, 2))) static int
fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	return 1;
}

static void
fill(uint64_t len)
{
	char *base = pheap_base();

	for (uint64_t b = 0; b < len; b += 4096)
		memset(base + b, (int)((b >> 12) * 31 + 7) & 0xff, 4096);
}

/* first offset in [from, to) that is not the pattern (or zero), or to */
static uint64_t
verify(uint64_t from, uint64_t to, int zero)
{
	for (uint64_t b = from; b < to; b += 4096) {
		int v = zero ? 0 : (int)((b >> 12) * 31 + 7) & 0xff;

		for (uint64_t i = 0; i < 4096; i += 512)
			if (BASE[b + i] != (char)v || BASE[b + 4095] != (char)v)
				return b + i;
	}
	return to;
}

static void
empty_dir(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *de;
	char p[600];

	while (dp && (de = readdir(dp)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (dp)
		closedir(dp);
}

/* counts pool entries: *.pheap files and .tmp-* debris */
static void
count_entries(int *pheaps, int *debris)
{
	*pheaps = tu_count_names(pool, NULL, ".pheap");
	*debris = tu_count_names(pool, ".tmp-", NULL);
}

static int
stat_id(const char *id, struct stat *sb)
{
	char name[POOL_NAME_LEN + 1], p[600];

	pool_name(id, strlen(id), name);
	snprintf(p, sizeof(p), "%s/%s", pool, name);
	return stat(p, sb);
}

static int
become_nobody(void)
{
	return setgroups(0, NULL) || setegid(NOBODY) || seteuid(NOBODY);
}

/* ---- setups and operations (in the op child) ---- */

/* creates id with len bytes of pattern under brk, durable, left attached */
static int
make_heap(const char *id, uint64_t brk, uint64_t len)
{
	if (pattach(id, strlen(id), PHEAP_CREATE) || pbrk(B(brk)) != (long)B(brk))
		return 1;
	fill(len);
	return ppersist(BASE, len) ? 1 : 0;
}

static int
setup_heap(const struct scen *s)
{
	return make_heap(ID, s->old_brk, s->data_len);
}

static int
op_brk(const struct scen *s)
{
	return pbrk(B(s->new_brk)) == (long)B(s->new_brk) ? 0 : 1;
}

static int
op_chmod(const struct scen *s)
{
	return pchmod(s->new_mode);
}

/* the owner, not root, attached read-only to a pheap of mode old_mode */
static int
setup_owner_rdonly(const struct scen *s)
{
	if (setup_heap(s) || pchmod(s->old_mode) || pdetach())
		return 1;
	return pattach(ID, strlen(ID), PHEAP_ATTACH | PHEAP_RDONLY) ? 1 : 0;
}

/* another pheap with data, and debris of a creation that died */
static int
setup_create(const struct scen *s)
{
	char p[600];
	int fd;

	if (make_heap(KEEP, s->old_brk, s->data_len) || pdetach())
		return 1;
	snprintf(p, sizeof(p), "%s/.tmp-99999999-debris.pheap", pool);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0 || write(fd, "debris", 6) != 6)
		return 1;
	return close(fd);
}

static int
op_create(const struct scen *s)
{
	(void)s;
	return pattach(ID, strlen(ID), PHEAP_CREATE);
}

/* ID seen last with unsafe shutdown count 5, detached */
static int
setup_usc(const struct scen *s)
{
	testhook_inject_usc(1, 5);
	return setup_heap(s) || pdetach();
}

/* ID at 3 pages of data whose shrink to one page died before its round:
 * the header says one page, the storage is still three */
static int
setup_orphan(const struct scen *s)
{
	int status;
	pid_t pid;

	if (make_heap(ID, 3 * PG, 3 * PG) || pdetach())
		return 1;
	(void)s;
	pid = fork();
	if (pid == 0) {
		if (pattach(ID, strlen(ID), PHEAP_ATTACH))
			_exit(1);
		testhook_crash_at(5);	/* shrink: its brk.publish */
		pbrk(B(PG));
		_exit(2);
	}
	return pid < 0 || waitpid(pid, &status, 0) != pid ||
		!WIFSIGNALED(status);
}

static int
op_attach(const struct scen *s)
{
	(void)s;
	return pattach(ID, strlen(ID), PHEAP_ATTACH);
}

static int
op_attach_usc(const struct scen *s)
{
	(void)s;
	testhook_inject_usc(1, 6);
	return pattach(ID, strlen(ID), PHEAP_ATTACH);
}

/* ID with data, detached: nobody attached */
static int
setup_destroy(const struct scen *s)
{
	return setup_heap(s) || pdetach();
}

static int
op_destroy(const struct scen *s)
{
	(void)s;
	return pheap_destroy(ID, strlen(ID), 0);
}

/* ID with data, detached, its copy 1 damaged by a stray write */
static int
setup_repair(const struct scen *s)
{
	char name[POOL_NAME_LEN + 1], p[600];
	int fd;

	if (setup_heap(s) || pdetach())
		return 1;
	pool_name(ID, strlen(ID), name);
	snprintf(p, sizeof(p), "%s/%s", pool, name);
	fd = open(p, O_WRONLY);
	if (fd < 0 || pwrite(fd, "stray", 5, HDR_SLOT_SIZE + 100) != 5)
		return 1;
	return fsync(fd) || close(fd);
}

static int
op_repair(const struct scen *s)
{
	char name[POOL_NAME_LEN + 1], p[600];

	(void)s;
	pool_name(ID, strlen(ID), name);
	snprintf(p, sizeof(p), "%s/%s", pool, name);
	return pheap_repair(p, 0) == PHEAP_REPAIRED_COPY ? 0 : 1;
}

/* ---- checks (in a fresh process, after the crash) ---- */

/* the file's mode before any repair: within the old or the new mode */
static int
check_file_mode(const struct scen *s, unsigned fm)
{
	if ((fm & ~s->old_mode) == 0 || (fm & ~s->new_mode) == 0)
		return 0;
	/* chmod.c lends a non-root owner S_IWUSR while it writes the header */
	fm &= ~(unsigned)S_IWUSR;
	if (s->nobody && getenv("PHEAP_TEST_STRICT") == NULL &&
			((fm & ~s->old_mode) == 0 || (fm & ~s->new_mode) == 0)) {
		sh->widened = 1;
		return 0;
	}
	return fail("file mode %#o more permissive than old %#o and new %#o",
		fm, s->old_mode, s->new_mode);
}

/* size, data, and the one allowed leftover: storage past the break */
static int
check_storage(const struct scen *s, uint64_t size, uint64_t b)
{
	uint64_t hi = s->old_brk > s->new_brk ? s->old_brk : s->new_brk;

	hi = hi > s->spare ? hi : s->spare;
	uint64_t keep = b < s->data_len ? b : s->data_len, bad;
	struct stat sb;

	if ((bad = verify(0, keep, 0)) != keep)
		return fail("data lost at heap offset %#llx", (unsigned long long)bad);
	if (b > keep && (bad = verify(keep, b, 1)) != b)
		return fail("grown memory not zero at %#llx", (unsigned long long)bad);
	if (size == AREA + b)
		return 0;
	if (size != AREA + hi || hi <= b)
		return fail("file is %llu bytes with break %#llx (old %#llx, "
			"new %#llx)", (unsigned long long)size,
			(unsigned long long)b, (unsigned long long)s->old_brk,
			(unsigned long long)s->new_brk);
	/* left by a crashed grow or shrink: the next grow must discard it */
	sh->leftover = 1;
	if (pbrk(B(hi)) != (long)B(hi))
		return fail("regrow over the leftover: %s", pheap_errormsg());
	if ((bad = verify(b, hi, 1)) != hi)
		return fail("leftover storage not zeroed by the next grow at "
			"%#llx", (unsigned long long)bad);
	if (stat_id(ID, &sb) || (uint64_t)sb.st_size != AREA + hi)
		return fail("file size %lld after regrow", (long long)sb.st_size);
	return 0;
}

/* a next creation works and leaves no debris; pheaps expected in total */
static int
check_next_create(int expect)
{
	int n, debris, ret = pattach(NEXT, strlen(NEXT), PHEAP_CREATE);

	if (ret)
		return fail("next create: %d %s", ret, pheap_errormsg());
	if (pdetach())
		return fail("pdetach after next create");
	count_entries(&n, &debris);
	if (debris)
		return fail("%d debris files after the next create", debris);
	if (n != expect)
		return fail("%d pheap files in the pool, expected %d", n, expect);
	return 0;
}

/*
 * The kernel should never grant more than the durable header says: after a
 * kill, the file's mode is within the header's (chmod.c narrows the file
 * before writing the header).  After a power cut a chmod not yet fsync()ed
 * may be lost: counted, not an error (old mode, owner repairs it).
 */
static int
file_vs_header(const struct scen *s, unsigned fm, unsigned hm, enum variant v)
{
	if (s->nobody)
		fm &= ~(unsigned)S_IWUSR;	/* counted as widened above */
	if ((fm & ~hm) == 0)
		return 0;
	if (v != V_KILL) {
		sh->wider = 1;
		return 0;
	}
	return fail("file mode %#o wider than the header's %#o", fm, hm);
}

static int
check_heap(const struct scen *s, int done, enum variant v)
{
	struct pheap_info info;
	struct stat sb, now;
	int ret;

	if (stat_id(ID, &sb))
		return fail("the pheap's file is gone");
	if (check_file_mode(s, sb.st_mode & 0777))
		return 1;
	if (s->usc)
		testhook_inject_usc(1, 6);
	ret = pattach(ID, strlen(ID), PHEAP_ATTACH);
	if (ret)
		return fail("pattach: %d %s", ret, pheap_errormsg());
	pheap_info(&info);
	uint64_t b = (uint64_t)((char *)info.brk - BASE);
	if (b != s->new_brk && (done || b != s->old_brk))
		ret = fail("break %#llx is neither old %#llx nor new %#llx%s",
			(unsigned long long)b, (unsigned long long)s->old_brk,
			(unsigned long long)s->new_brk, done ? " (completed)" : "");
	else if (info.mode != s->new_mode && (done || info.mode != s->old_mode))
		ret = fail("header mode %#lo is neither old %#o nor new %#o",
			info.mode, s->old_mode, s->new_mode);
	else if (s->usc && done && info.unsafe_shutdown)
		ret = fail("new unsafe shutdown count not recorded");
	else if (file_vs_header(s, sb.st_mode & 0777, (unsigned)info.mode, v))
		ret = 1;
	else if (stat_id(ID, &now) || (now.st_mode & 0777) != info.mode)
		ret = fail("file mode %#o not repaired to %#lo by attach",
			now.st_mode & 0777, info.mode);
	else
		ret = check_storage(s, (uint64_t)sb.st_size, b);
	if (pdetach() && !ret)
		ret = fail("pdetach: %s", pheap_errormsg());
	return ret ? ret : check_next_create(2);
}

static int
check_created(const struct scen *s, int done)
{
	struct stat sb;
	int exists = stat_id(ID, &sb) == 0, ret;

	if (pattach(KEEP, strlen(KEEP), PHEAP_ATTACH) ||
			pbrk(0) != (long)B(s->old_brk))
		return fail("the other pheap: %s", pheap_errormsg());
	if (verify(0, s->data_len, 0) != s->data_len || pdetach())
		return fail("the other pheap lost data");
	if (done && !exists)
		return fail("the created pheap is gone");
	ret = pattach(ID, strlen(ID), PHEAP_ATTACH);
	if (exists && (ret || pbrk(0) != (long)BASE ||
			sb.st_size != (off_t)AREA || (sb.st_mode & 0777) != 0644))
		return fail("created pheap: %d, size %lld, mode %#o: %s", ret,
			(long long)sb.st_size, sb.st_mode & 0777, pheap_errormsg());
	if (!exists && ret != -EINVAL)
		return fail("absent id attaches: %d", ret);
	if (ret == 0 && pdetach())
		return fail("pdetach");
	if (check_next_create(2 + exists))
		return 1;
	ret = pattach(ID, strlen(ID), PHEAP_CREATE);
	if (ret != (exists ? -EINVAL : 0))
		return fail("create again: %d, expected %d: %s", ret,
			exists ? -EINVAL : 0, pheap_errormsg());
	return ret == 0 && pdetach() ? fail("pdetach") : 0;
}

static int
look(const struct pheap_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return 0;
}

/* files of destroyed pheaps in the pool */
static int
count_destroyed(void)
{
	DIR *dp = opendir(pool);
	struct dirent *de;
	int n = 0;

	while (dp && (de = readdir(dp)) != NULL)
		n += strncmp(de->d_name, ".destroyed-", 11) == 0;
	if (dp)
		closedir(dp);
	return n;
}

/*
 * pheap_destroy: the pheap is live, its data intact, or gone (completed:
 * gone); either way the next look at the pool (a listing, by the owner)
 * leaves no destroyed storage behind, and the id is free iff it is gone.
 */
static int
check_destroyed(const struct scen *s, int done)
{
	struct stat sb;
	int ret = pattach(ID, strlen(ID), PHEAP_ATTACH), live = ret == 0;

	if (done && live)
		return fail("the destroyed pheap still attaches");
	if (!live && ret != -EINVAL)
		return fail("pattach: %d %s", ret, pheap_errormsg());
	if (live && (pbrk(0) != (long)B(s->old_brk) ||
			verify(0, s->data_len, 0) != s->data_len))
		return fail("the pheap that was not destroyed changed");
	if (live && pdetach())
		return fail("pdetach: %s", pheap_errormsg());
	if (pheap_pool_list(look, NULL, PHEAP_LIST_ALL))
		return fail("pheap_pool_list: %s", pheap_errormsg());
	if (count_destroyed())
		return fail("%d destroyed files left after a look at the pool",
			count_destroyed());
	if ((stat_id(ID, &sb) == 0) != live)
		return fail("the id's file %s", live ? "is gone" : "is there");
	return check_next_create(1 + live);
}

/* ---- the enumeration ---- */

struct check_arg {
	const struct scen *s;
	int done;
	enum variant v;
};

static int
checker(void *p)
{
	struct check_arg *a = p;

	if (a->s->destroy)
		return check_destroyed(a->s, a->done);
	return a->s->create ? check_created(a->s, a->done) :
		check_heap(a->s, a->done, a->v);
}

/*
 * The follower: attached while another process changes the break and dies.
 * It maps the old or the new break; memory below both stays intact; its
 * next pbrk, to the durable break, brings it there.  It is forked from the
 * process that dies and keeps the attachment it inherited (before main's
 * sync rewrite its pbrk hung once that process was gone, tests/README.md);
 * PHEAP_TEST_REATTACH_FOLLOWER=1 makes it attach on its own instead.
 */
static int
follower_check(const struct scen *s, int done)
{
	uint64_t have = (uint64_t)pbrk(0) - B(0), lo = s->data_len, d;
	struct hdr_found f;

	if (have != s->new_brk && (done || have != s->old_brk))
		return snprintf(sh->fmsg, sizeof(sh->fmsg), "follower maps "
			"%#llx", (unsigned long long)have);
	lo = lo < s->old_brk ? lo : s->old_brk;
	lo = lo < s->new_brk ? lo : s->new_brk;
	if (verify(0, lo, 0) != lo)
		return snprintf(sh->fmsg, sizeof(sh->fmsg), "follower: data lost");
	if (hdr_load(&st.dev.io, &f) || !f.ok)
		return snprintf(sh->fmsg, sizeof(sh->fmsg), "follower: header");
	d = f.hdr.brk;
	lo = d < s->data_len ? d : s->data_len;
	if (pbrk(B(d)) != (long)B(d) || pbrk(0) != (long)B(d))
		return snprintf(sh->fmsg, sizeof(sh->fmsg), "follower: pbrk to "
			"the durable break %#llx: %s", (unsigned long long)d,
			pheap_errormsg());
	if (verify(0, lo, 0) != lo || verify(lo, d, 1) != d)
		return snprintf(sh->fmsg, sizeof(sh->fmsg), "follower: data "
			"after its pbrk to %#llx", (unsigned long long)d);
	return pdetach() ? snprintf(sh->fmsg, sizeof(sh->fmsg), "pdetach") : 0;
}

/* forks the follower, which waits for the parent's word */
static int
start_follower(const struct scen *s)
{
	char c;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fl_cmd[1]);
		close(fl_res[0]);
		if (getenv("PHEAP_TEST_REATTACH_FOLLOWER") && (pdetach() ||
				pattach(ID, strlen(ID), PHEAP_ATTACH)))
			_exit(1);
		c = 'r';
		if (write(fl_res[1], &c, 1) != 1 || read(fl_cmd[0], &c, 1) != 1)
			_exit(1);
		c = follower_check(s, c == 'd') ? 'F' : 'P';
		_exit(write(fl_res[1], &c, 1) == 1 ? 0 : 1);
	}
	sh->follower = pid;
	/* attached before the op starts */
	if (read(fl_res[0], &c, 1) != 1 || c != 'r')
		return -1;
	for (int i = 0; i < 2; i++) {
		close(fl_cmd[i]);
		close(fl_res[i]);
	}
	return 0;
}

/* tells the follower the op is over; 0 if its checks passed */
static int
finish_follower(int done)
{
	struct pollfd p = { .fd = fl_res[0], .events = POLLIN };
	char c = done ? 'd' : 'c';
	int ok = write(fl_cmd[1], &c, 1) == 1 && poll(&p, 1, 10000) == 1 &&
		read(fl_res[0], &c, 1) == 1 && c == 'P';

	close(fl_cmd[1]);
	close(fl_res[0]);
	fl_cmd[1] = fl_res[0] = -1;
	if (!ok && !sh->fmsg[0])
		snprintf(sh->fmsg, sizeof(sh->fmsg), "follower did not answer");
	if (!ok && sh->follower > 0)
		kill(sh->follower, SIGKILL);	/* it may hold the pheap's locks */
	return ok ? 0 : -1;
}

static int
op_child(const struct scen *s, enum variant v, unsigned long k, int tfd)
{
	int ret;

	if (s->nobody && become_nobody())
		return 20;
	if (s->setup(s))
		return 21;
	if (v != V_KILL && testhook_shadow_begin(pool, shadow))
		return 22;
	if (fl_cmd[0] >= 0 && start_follower(s))
		return 24;
	testhook_trace_fd(tfd);
	testhook_crash_at(k);
	ret = s->op(s);
	sh->count = testhook_count();
	return ret ? 23 : 0;
}

/* the trace of the last run: its lines into s->trace if keep; the last
 * line into last */
static int
read_trace(struct scen *s, int keep, char *last, size_t len)
{
	FILE *f = fopen(tracef, "r");
	char line[64];
	int n = 0;

	snprintf(last, len, "(none)");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(last, len, "%s", line);
		if (keep && n < MAX_POINTS)
			snprintf(s->trace[n], sizeof(s->trace[n]), "%s", line);
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

/* runs the op with a crash at point k: 1 crashed, 0 completed, -1 failed */
static int
run_op(const struct scen *s, enum variant v, unsigned long k)
{
	int status, tfd;
	pid_t pid;

	empty_dir(pool);
	empty_dir(shadow);
	tfd = open(tracef, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (tfd < 0)
		return -1;
	sh->count = 0;
	sh->fmsg[0] = '\0';
	sh->follower = 0;
	if (v == V_KILL && s->follower && (pipe(fl_cmd) || pipe(fl_res)))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(op_child(s, v, k, tfd));
	close(tfd);
	if (fl_cmd[0] >= 0) {
		close(fl_cmd[0]);
		close(fl_res[1]);
		fl_cmd[0] = fl_res[1] = -1;
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(sh->msg, sizeof(sh->msg), "op child status %#x", status);
	return -1;
}

/* one run at point k and its check; 1 crashed, 0 completed, -1 failed */
static int
crash_once(struct scen *s, enum variant v, unsigned long k)
{
	char point[64];
	struct check_arg a = { s, 0, v };
	int r = run_op(s, v, k);

	if (r < 0)
		return -1;
	read_trace(s, r == 0 && v == V_KILL, point, sizeof(point));
	a.done = r == 0;
	if (a.done && sh->count != k - 1) {
		printf("  %s: completed after %lu points at k=%lu\n", s->name,
			sh->count, k);
		return -1;
	}
	if (fl_cmd[1] >= 0 && finish_follower(a.done)) {
		printf("\n  FAIL %s [%s] crash at point %lu (%s): %s\n", s->name,
			vname[v], k, a.done ? "none, completed" : point, sh->fmsg);
		CU_FAIL("follower check");
	}
	if (v != V_KILL && testhook_shadow_restore(pool, shadow, v == V_WB))
		return -1;
	sh->leftover = sh->widened = sh->wider = 0;
	sh->msg[0] = '\0';
	total_runs++;
	if (tu_child(checker, &a)) {
		printf("\n  FAIL %s [%s] crash at point %lu (%s): %s\n", s->name,
			vname[v], k, a.done ? "none, completed" : point, sh->msg);
		CU_FAIL("crash state check");
	}
	s->leftovers[v] += sh->leftover;
	s->widened[v] += sh->widened;
	s->wider[v] += sh->wider;
	return r;
}

static void
enumerate(struct scen *s)
{
	for (int v = 0; v < V_N; v++) {
		unsigned long k;
		int r = 1;

		for (k = 1; k <= MAX_POINTS && r == 1; k++)
			r = crash_once(s, (enum variant)v, k);
		if (r != 0) {
			printf("\n  %s [%s]: run failed at k=%lu: %s\n", s->name,
				vname[v], k - 1, sh->msg);
			CU_FAIL("enumeration did not complete");
			continue;
		}
		s->points[v] = (int)(k - 2);
	}
	if (s->points[V_KILL] != s->points[V_DROP] ||
			s->points[V_KILL] != s->points[V_WB])
		CU_FAIL("the variants reached different numbers of points");
}

/* ---- the operations ---- */

static struct scen scens[] = {
	{ .name = "create (pattach PHEAP_CREATE, debris in the pool)",
	  .setup = setup_create, .op = op_create, .data_len = PG,
	  .old_brk = PG, .new_brk = PG,	/* of the other pheap */
	  .old_mode = 0644, .new_mode = 0644, .create = 1 },
	{ .name = "pbrk grow 2 -> 6 MiB", .setup = setup_heap, .op = op_brk,
	  .follower = 1,
	  .old_brk = PG, .new_brk = 3 * PG, .data_len = PG,
	  .old_mode = 0644, .new_mode = 0644 },
	{ .name = "pbrk shrink 6 -> 2 MiB", .setup = setup_heap, .op = op_brk,
	  .follower = 1,
	  .old_brk = 3 * PG, .new_brk = PG, .data_len = 3 * PG,
	  .old_mode = 0644, .new_mode = 0644 },
	{ .name = "pbrk shrink 4 MiB -> 0", .setup = setup_heap, .op = op_brk,
	  .follower = 1,
	  .old_brk = 2 * PG, .new_brk = 0, .data_len = 2 * PG,
	  .old_mode = 0644, .new_mode = 0644 },
	{ .name = "pchmod 0644 -> 0600 (the test's user)", .setup = setup_heap,
	  .op = op_chmod, .old_brk = PG, .new_brk = PG, .data_len = PG,
	  .old_mode = 0644, .new_mode = 0600 },
	{ .name = "pchmod 0444 -> 0440 (owner, attached read-only)",
	  .setup = setup_owner_rdonly, .op = op_chmod, .old_brk = PG,
	  .new_brk = PG, .data_len = PG, .old_mode = 0444, .new_mode = 0440,
	  .nobody = 1 },
	{ .name = "pattach finishing a dead shrink's round",
	  .setup = setup_orphan, .op = op_attach, .old_brk = PG,
	  .new_brk = PG, .data_len = PG, .spare = 3 * PG,
	  .old_mode = 0644, .new_mode = 0644 },
	{ .name = "pattach recording a new unsafe shutdown count",
	  .setup = setup_usc, .op = op_attach_usc, .old_brk = PG,
	  .new_brk = PG, .data_len = PG, .old_mode = 0644, .new_mode = 0644,
	  .usc = 1 },
	{ .name = "pheap_destroy (nobody attached)",
	  .setup = setup_destroy, .op = op_destroy, .old_brk = PG,
	  .new_brk = PG, .data_len = PG, .old_mode = 0644, .new_mode = 0644,
	  .destroy = 1 },
	{ .name = "pheap_repair of a damaged copy",
	  .setup = setup_repair, .op = op_repair, .old_brk = PG,
	  .new_brk = PG, .data_len = PG, .old_mode = 0644, .new_mode = 0644 },
};
#define NSCENS (sizeof(scens) / sizeof(scens[0]))

static void test_create(void) { enumerate(&scens[0]); }
static void test_grow(void) { enumerate(&scens[1]); }
static void test_shrink(void) { enumerate(&scens[2]); }
static void test_shrink0(void) { enumerate(&scens[3]); }
static void test_chmod(void) { enumerate(&scens[4]); }

static void
test_chmod_owner(void)
{
	/* the owner is uid 65534; only root can become it, and check after */
	if (geteuid() != 0) {
		printf("skipped: needs root ");
		return;
	}
	enumerate(&scens[5]);
}
static void test_orphan(void) { enumerate(&scens[6]); }
static void test_usc(void) { enumerate(&scens[7]); }
static void test_destroy(void) { enumerate(&scens[8]); }
static void test_repair(void) { enumerate(&scens[9]); }

static void
test_summary(void)
{
	int sum = 0, per = 0;

	printf("\n  crash points per operation, each tried in every variant "
		"(%s, %s, %s), the completed run checked too:\n",
		vname[V_KILL], vname[V_DROP], vname[V_WB]);
	for (size_t i = 0; i < NSCENS; i++) {
		const struct scen *s = &scens[i];

		per += s->points[V_KILL];
		for (int v = 0; v < V_N; v++)
			sum += s->points[v];
		printf("  %-50s %2d point%s\n", s->name, s->points[V_KILL],
			s->points[V_KILL] == 1 ? "" : "s");
		printf("      runs (kill/drop/drop+wb) leaving: storage past "
			"the break %d/%d/%d, owner write %d/%d/%d, file wider "
			"than header %d/%d/%d\n", s->leftovers[V_KILL],
			s->leftovers[V_DROP], s->leftovers[V_WB],
			s->widened[V_KILL], s->widened[V_DROP], s->widened[V_WB],
			s->wider[V_KILL], s->wider[V_DROP], s->wider[V_WB]);
		for (int p = 0; p < s->points[V_KILL]; p++)
			printf("%s%s", p ? " " : "      ", s->trace[p]);
		printf("\n");
	}
	printf("  crash points: %d per variant, %d tried in all; state "
		"checks: %d\n", per, sum, total_runs);
	CU_ASSERT(sum > 0);
}

static void
cleanup(void)
{
	empty_dir(pool);
	empty_dir(shadow);
	unlink(tracef);
	rmdir(pool);
	rmdir(shadow);
	rmdir(top);
}

int
main(void)
{
	static const struct tu_test tests[] = {
		{ "crash in create", test_create },
		{ "crash in pbrk grow", test_grow },
		{ "crash in pbrk shrink", test_shrink },
		{ "crash in pbrk shrink to 0", test_shrink0 },
		{ "crash in pchmod", test_chmod },
		{ "crash in pchmod (owner, read-only)", test_chmod_owner },
		{ "crash in pattach finishing an orphan round", test_orphan },
		{ "crash in the USC update of pattach", test_usc },
		{ "crash in pheap_destroy", test_destroy },
		{ "crash in pheap_repair", test_repair },
		{ "summary", test_summary },
		{ NULL, NULL }
	};
	const char *t = getenv("PHEAP_TEST_DIR");

	snprintf(top, sizeof(top), "%s/pheap-crash-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(top))
		return 2;
	snprintf(pool, sizeof(pool), "%s/pool", top);
	snprintf(shadow, sizeof(shadow), "%s/shadow", top);
	snprintf(tracef, sizeof(tracef), "%s/trace", top);
	if (mkdir(pool, 0700) || chmod(pool, 01777) || mkdir(shadow, 0700) ||
			chmod(shadow, 0777) || chmod(top, 0755))
		return 2;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	setenv("PHEAP_POOL", pool, 1);
	umask(022);
	if (getenv("PHEAP_TEST_KEEP") == NULL)
		atexit(cleanup);
	return tu_main("crash", tests);
}
