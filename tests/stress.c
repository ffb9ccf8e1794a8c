/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stress.c -- the soak test behind `make stress`; not part of `make check`.
 *
 * Many processes share one pheap for STRESS_SECONDS: read-write workers
 * move the break at random in [floor, floor + 64 MiB], write checksummed
 * records into their own slot below the floor (a range nobody ever
 * shrinks), ppersist them and publish the last durable sequence number;
 * they touch the grown range after their own grows, detach and re-attach,
 * fork children that read the floor range, call pheap_info, and run
 * threads that ppersist their slot over and over.  Read-only workers verify
 * records and check that pbrk refuses them.  The supervisor kills workers
 * with SIGKILL at random and restarts them, and reports every hang (an
 * operation over 5 s, with the worker's last operation and the kernel's
 * wchan/stack of each of its threads) and every fault (SIGSEGV/SIGBUS,
 * caught with the address and si_code).  After the run a fresh process
 * checks every record reported durable, the header, the break and the
 * file size, and that a shrink and a grow still complete.
 *
 * Why: the contract promises that memory below the break never faults
 * while others move the break, that durable data survives kill -9, that
 * no process can make pbrk wait more than a few seconds, and that a full
 * file system makes pbrk fail with ENOMEM rather than a later SIGBUS.
 * Unit tests check each promise once; this checks them all at once, for
 * a long time.  `--full-fs` runs the same on a small ext4 image (tmpfs
 * if that cannot be made) nearly filled by a filler file.
 *
 * Knobs (environment): STRESS_SECONDS (60; STRESS_FULLFS_SECONDS, 20,
 * with --full-fs), STRESS_PROCS (8, a quarter of them read-only),
 * STRESS_THREADS (ppersist threads per read-write worker, 2),
 * STRESS_PERSIST_US (pause of those threads between calls, 1000; 0 makes
 * them spin), STRESS_KILL_MS (mean time between kills, 1000),
 * STRESS_STOP_MS (mean time between SIGSTOPs of a worker for 6 s; off by
 * default: the contract bounds how long a stopped process may hold the
 * others, the pre-fix library does not), STRESS_SEED,
 * STRESS_FULLFS_LEAVE_MB (free space left by the filler, 24),
 * STRESS_FULLFS_TMPFS (1: tmpfs instead of a loop ext4 image),
 * PHEAP_TEST_DIR (where pools and images go, /tmp).
 * Last line: "stress: N passed, M failed"; exit status 1 on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pheap.h"

#define MiB		(1UL << 20)
#define PG		PHEAP_PAGE_SIZE
#define FLOOR		(8 * MiB)	/* never shrunk below during the run */
#define SPAN		(64 * MiB)	/* workers' breaks: [FLOOR, FLOOR+SPAN] */
#define NSTEPS		(SPAN / PG + 1)
#define MAX_PROCS	64
/* one worker's records: FLOOR / processes, whole 4 KiB pages */
#define SLOT_BYTES	((FLOOR / (uint64_t)B->nprocs) & ~4095ULL)
#define REC_SIZE	128
#define RING		(SLOT_BYTES / REC_SIZE)
#define REC_MAGIC	0x5354524553535245ULL
#define MAX_FAULTS	1024
/*
 * An operation this long hangs: 5 s -- or 8 s with SIGSTOP injection, where
 * a pbrk may queue behind a coordinator that waits the 2 s liveness bound
 * for a stopped process, then wait that bound itself for another process
 * stopped meanwhile (2 x 2 s + the work; see pbrk(3), Liveness).
 */
static unsigned long long HANG_NS = 5ULL * 1000000000ULL;
#define STUCK_NS	(20ULL * 1000000000ULL)	/* then it is killed */
#define STOP_NS		(15ULL * 1000000000ULL)
#define STOP_FOR_NS	(6ULL * 1000000000ULL)	/* a SIGSTOP lasts */
#define VERIFY_S	60
#define HDR_OFF		(2 * MiB)	/* data offset of a pheap file */

/* worker exit codes */
enum { EX_SEGV = 70, EX_BUS = 71, EX_ATTACH = 72, EX_SETUP = 73 };

/* what a worker is doing: its last operation, for hang reports */
enum op { OP_IDLE, OP_ATTACH, OP_DETACH, OP_PBRK, OP_QUERY, OP_RECORD,
	OP_VERIFY, OP_TOUCH, OP_FORK, OP_INFO, OP_CHMOD, OP_TPERSIST, OP_NUM };
static const char *const op_name[OP_NUM] = { "idle", "pattach", "pdetach",
	"pbrk", "pbrk(0)", "record+ppersist", "verify", "grown-touch",
	"fork+wait reader", "pheap_info", "pchmod", "thread ppersist" };

/* operation counters, per worker slot, kept across restarts */
enum cnt { C_ATTACH, C_DETACH, C_UP, C_DOWN, C_SAME, C_ENOMEM, C_EACCES,
	C_ROSAME, C_QUERY, C_RECORD, C_VERIFY, C_VSKIP, C_TOUCH, C_TLOST, C_FORK,
	C_CGROWN, C_CLOST, C_INFO, C_CHMOD, C_TPERSIST, C_EBUSY, C_NUM };
static const char *const cnt_name[C_NUM] = { "pattach", "pdetach",
	"pbrk-up", "pbrk-down", "pbrk-same", "pbrk-ENOMEM", "pbrk-EACCES(ro)",
	"pbrk-no-change(ro)", "pbrk(0)", "record+ppersist", "records-read-verified",
	"verify-inconclusive", "grown-touch", "grown-touch-lost-to-shrink",
	"fork-reader", "child-grown-read", "child-grown-read-lost-to-shrink",
	"pheap_info", "pchmod", "thread-ppersist",
	"EBUSY(holder stopped)" };

/* who took a fault */
enum who { W_MAIN, W_THREAD, W_CHILD, W_UNCAUGHT, W_CHILD_UNCAUGHT,
	W_VERIFIER, W_NUM };
static const char *const who_name[W_NUM] = { "worker main thread",
	"worker ppersist thread", "forked reader child",
	"worker killed by the signal (blocked: a library thread?)",
	"reader child killed by the signal", "verifier" };

struct rec {
	uint64_t magic, seq;
	uint32_t worker, pad;
	uint64_t payload[12];
	uint64_t sum;
};
_Static_assert(sizeof(struct rec) == REC_SIZE, "record size");

struct slot {
	int pid, ro, child;
	int op;
	uint64_t op_start, op_arg, progress;
	uint64_t t_busy;		/* ppersist thread: busy since, or 0 */
	uint64_t durable;		/* last durable record */
	uint64_t max_pbrk_ns;
	uint64_t cnt[C_NUM];
	int nfail;
	int stopped;		/* the supervisor has SIGSTOPped it */
};

struct fault {
	int worker, who, signo, code, op, pid;
	int straggler;		/* stopped by us, fault above the floor */
	uint64_t addr;
};

/* shared by the supervisor and all its processes (anonymous, shared) */
struct board {
	uint64_t base;
	int stop, fullfs, nprocs, threads, persist_us, printed;
	uint32_t brk_seen[NSTEPS];	/* breaks that pbrk was asked for */
	int nfaults;
	struct fault faults[MAX_FAULTS];
	int vpass, vfail;
	uint64_t vrecords;
	struct slot slot[MAX_PROCS];
};

static struct board *B;
static char g_id[64];
static int g_w = -1;		/* this worker's slot */
static unsigned g_seed;
static pid_t g_sup;
static __thread int tl_who = W_MAIN;

/*
 * A fault the current thread expects: jump back instead of failing.
 * Volatile, so that the compiler neither drops nor delays the stores
 * around the access that may fault.
 */
static __thread sigjmp_buf *volatile tl_jb;
static __thread volatile uint64_t tl_lo, tl_hi;

/* ---------------------------------------------------------------- util */

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

static unsigned
rnd(unsigned n)
{
	return n ? (unsigned)rand_r(&g_seed) % n : 0;
}

static unsigned long
env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	char *end;

	if (!v || !*v)
		return def;
	unsigned long n = strtoul(v, &end, 10);
	return *end ? def : n;
}

static char *
at(uint64_t off)
{
	return (char *)(uintptr_t)(B->base + off);
}

static int
brk_ok(long b)
{
	uint64_t off = (uint64_t)b - B->base;

	return b > 0 && (uint64_t)b >= B->base && off >= FLOOR &&
		off <= FLOOR + SPAN && off % PG == 0;
}

static void
note_brk(long b)
{
	if (brk_ok(b))
		__atomic_store_n(&B->brk_seen[((uint64_t)b - B->base - FLOOR) / PG],
			1, __ATOMIC_RELAXED);
}

/* async-signal-safe line building */
struct line {
	char s[256];
	size_t n;
};

static void
ln_str(struct line *l, const char *s)
{
	while (*s && l->n < sizeof(l->s) - 1)
		l->s[l->n++] = *s++;
}

static void
ln_num(struct line *l, uint64_t v, unsigned radix)
{
	char tmp[24];
	int i = 0;

	if (radix == 16)
		ln_str(l, "0x");
	do {
		tmp[i++] = "0123456789abcdef"[v % radix];
		v /= radix;
	} while (v);
	while (i && l->n < sizeof(l->s) - 1)
		l->s[l->n++] = tmp[--i];
}

static void
ln_out(struct line *l)
{
	l->s[l->n++] = '\n';
	if (write(STDERR_FILENO, l->s, l->n) < 0) {
		/* nowhere to report */
	}
}

/* a failed check inside a worker: counted, the first 60 printed */
__attribute__((format(printf, 1, 2)))
static void
wfail(const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	int n;

	__atomic_add_fetch(&B->slot[g_w].nfail, 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&B->printed, 1, __ATOMIC_RELAXED) >= 60)
		return;
	n = snprintf(msg, sizeof(msg), "stress: FAIL worker %d (pid %d): ",
		g_w, (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(msg) - 2)
		n = (int)sizeof(msg) - 2;
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, (size_t)n) < 0) {
		/* nowhere to report */
	}
}

/* ------------------------------------------------------------- records */

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t
rec_sum(const struct rec *r)
{
	const unsigned char *p = (const unsigned char *)r;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < offsetof(struct rec, sum); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static struct rec *
rec_at(int w, uint64_t seq)
{
	return (struct rec *)at((uint64_t)w * SLOT_BYTES +
		(seq % RING) * REC_SIZE);
}

static void
rec_fill(struct rec *r, int w, uint64_t seq)
{
	r->magic = REC_MAGIC;
	r->seq = seq;
	r->worker = (uint32_t)w;
	r->pad = 0;
	for (int i = 0; i < 12; i++)
		r->payload[i] = mix(seq * 131 + (uint64_t)w * 7919 + (uint64_t)i);
	r->sum = rec_sum(r);
}

/* 0 if record seq of worker w is intact where it belongs */
static int
rec_bad(int w, uint64_t seq)
{
	struct rec want, got;

	rec_fill(&want, w, seq);
	memcpy(&got, rec_at(w, seq), sizeof(got));
	return memcmp(&want, &got, sizeof(got)) != 0 || rec_sum(&got) != got.sum;
}

/* oldest sequence number still guaranteed in the ring when D is durable */
static uint64_t
ring_low(uint64_t d)
{
	return d > RING - 2 ? d - (RING - 2) : 1;
}

/* --------------------------------------------------------------- faults */

static void
fault_log(int who, int signo, int code, uint64_t addr)
{
	int i = __atomic_fetch_add(&B->nfaults, 1, __ATOMIC_RELAXED);
	struct slot *s = g_w >= 0 ? &B->slot[g_w] : NULL;

	if (i >= MAX_FAULTS)
		return;
	/*
	 * The contract: a process that has not followed a change within the
	 * bound (here: one we stopped for longer) loses, for itself alone,
	 * the guarantee of seeing it -- above the floor.  The floor, never
	 * shrunk, must never fault for anyone.
	 */
	int straggler = s && __atomic_load_n(&s->stopped, __ATOMIC_RELAXED) &&
		addr >= B->base + FLOOR;

	B->faults[i] = (struct fault){ .worker = g_w, .who = who,
		.signo = signo, .code = code, .pid = (int)getpid(),
		.op = s ? __atomic_load_n(&s->op, __ATOMIC_RELAXED) : 0,
		.straggler = straggler, .addr = addr };
}

static const char *
region(uint64_t a)
{
	if (a >= B->base && a < B->base + FLOOR)
		return "floor range";
	if (a >= B->base && a < B->base + FLOOR + SPAN + PG)
		return "grown range";
	return "outside the heap";
}

static const char *
code_name(int signo, int code)
{
	if (code == 0)
		return "";
	if (signo == SIGSEGV)
		return code == SEGV_MAPERR ? "/SEGV_MAPERR" :
			code == SEGV_ACCERR ? "/SEGV_ACCERR" : "/other";
	return code == BUS_ADRERR ? "/BUS_ADRERR" :
		code == BUS_ADRALN ? "/BUS_ADRALN" :
		code == BUS_OBJERR ? "/BUS_OBJERR" : "/other";
}

static void
on_fault(int sig, siginfo_t *si, void *uc)
{
	uint64_t a = (uint64_t)(uintptr_t)si->si_addr;
	struct line l = { .n = 0 };

	(void)uc;
	if (tl_jb && sig == SIGSEGV && a >= tl_lo && a < tl_hi)
		siglongjmp(*tl_jb, 1);
	fault_log(tl_who, sig, si->si_code, a);
	ln_str(&l, "stress: FAULT ");
	ln_str(&l, sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
	ln_str(&l, code_name(sig, si->si_code));
	ln_str(&l, " at ");
	ln_num(&l, a, 16);
	ln_str(&l, " (");
	ln_str(&l, region(a));
	ln_str(&l, ") in ");
	ln_str(&l, who_name[tl_who]);
	if (g_w >= 0) {
		ln_str(&l, " of worker ");
		ln_num(&l, (uint64_t)g_w, 10);
		ln_str(&l, B->slot[g_w].ro ? " (ro)" : " (rw)");
	}
	ln_str(&l, ", pid ");
	ln_num(&l, (uint64_t)getpid(), 10);
	if (g_w >= 0) {
		ln_str(&l, ", last op ");
		ln_str(&l, op_name[B->slot[g_w].op % OP_NUM]);
	}
	ln_out(&l);
	_exit(sig == SIGBUS ? EX_BUS : EX_SEGV);
}

static void
fault_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* 1 if reading addr raises SIGSEGV here (0: readable) */
static int
segv_at(const void *addr)
{
	sigjmp_buf jb;
	volatile int faulted = 0;

	tl_lo = (uint64_t)(uintptr_t)addr;
	tl_hi = tl_lo + 1;
	if (sigsetjmp(jb, 1) == 0) {
		tl_jb = &jb;
		(void)*(volatile const char *)addr;
	} else {
		faulted = 1;
	}
	tl_jb = NULL;
	return faulted;
}

/* ------------------------------------------------------------- workers */

static struct slot *
me(void)
{
	return &B->slot[g_w];
}

static void
op_begin(int op, uint64_t arg)
{
	struct slot *s = me();

	s->op_arg = arg;
	__atomic_store_n(&s->op_start, now_ns(), __ATOMIC_RELAXED);
	__atomic_store_n(&s->op, op, __ATOMIC_RELEASE);
}

static uint64_t
op_end(int cnt)
{
	struct slot *s = me();
	uint64_t took = now_ns() - s->op_start;

	__atomic_store_n(&s->op, OP_IDLE, __ATOMIC_RELEASE);
	if (cnt >= 0)
		__atomic_add_fetch(&s->cnt[cnt], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->progress, 1, __ATOMIC_RELAXED);
	return took;
}

/*
 * Held for reading around each thread ppersist, for writing around a
 * detach and re-attach; writers first, lest the harness starve itself.
 */
static pthread_rwlock_t g_attached =
	PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static volatile int g_thread_stop;

static int
wattach(void)
{
	unsigned long fl = PHEAP_ATTACH | (me()->ro ? PHEAP_RDONLY : 0);

	op_begin(OP_ATTACH, 0);
	int e = pattach(g_id, strlen(g_id), fl);
	op_end(C_ATTACH);
	if (e) {
		wfail("pattach: %d (%s)", e, pheap_errormsg());
		return e;
	}
	if ((uint64_t)(uintptr_t)pheap_base() != B->base) {
		wfail("pheap_base %p, not %#llx", pheap_base(),
			(unsigned long long)B->base);
		return -1;
	}
	return 0;
}

static void
wdetach(void)
{
	op_begin(OP_DETACH, 0);
	int e = pdetach();
	op_end(C_DETACH);
	if (e)
		wfail("pdetach: %d (%s)", e, pheap_errormsg());
}

/* ppersists this worker's whole slot again and again */
static void *
persist_thread(void *arg)
{
	struct slot *s = me();

	(void)arg;
	tl_who = W_THREAD;
	while (!g_thread_stop && !B->stop) {
		pthread_rwlock_rdlock(&g_attached);
		__atomic_store_n(&s->t_busy, now_ns(), __ATOMIC_RELAXED);
		int e = ppersist(at((uint64_t)g_w * SLOT_BYTES), SLOT_BYTES);
		__atomic_store_n(&s->t_busy, 0, __ATOMIC_RELAXED);
		pthread_rwlock_unlock(&g_attached);
		if (e)
			wfail("thread ppersist: %d (%s)", e, pheap_errormsg());
		else
			__atomic_add_fetch(&s->cnt[C_TPERSIST], 1,
				__ATOMIC_RELAXED);
		if (B->persist_us) {
			struct timespec t = { 0, 1000L * B->persist_us };
			nanosleep(&t, NULL);
		}
	}
	return NULL;
}

/*
 * After our own grow or a query: touch a few pages of [FLOOR, brk) (read
 * only if attached read-only).  Another process may shrink it meanwhile:
 * SIGSEGV there is allowed, SIGBUS never.
 */
static void
touch_grown(uint64_t brk)
{
	sigjmp_buf jb;
	uint64_t pages = (brk - FLOOR) / 4096;

	op_begin(OP_TOUCH, brk);
	/* a concurrent shrink by another process may take it away: allowed */
	tl_lo = B->base + FLOOR;
	tl_hi = B->base + FLOOR + SPAN + PG;
	if (sigsetjmp(jb, 1) == 0) {
		tl_jb = &jb;
		for (int i = 0; i < 4; i++) {
			volatile uint64_t *p = (volatile uint64_t *)at(FLOOR +
				rnd((unsigned)pages) * 4096 + (uint64_t)g_w * 8);
			if (!me()->ro)
				*p = (uint64_t)i;
			(void)*p;
		}
		tl_jb = NULL;
		op_end(C_TOUCH);
	} else {
		tl_jb = NULL;
		op_end(C_TLOST);
	}
}

static void
do_pbrk_rw(void)
{
	static uint64_t last = FLOOR;
	uint64_t want = FLOOR + rnd(NSTEPS) * PG;
	struct slot *s = me();

	op_begin(OP_PBRK, want);
	note_brk((long)(B->base + want));	/* durable if we die inside */
	long r = pbrk((unsigned long)(B->base + want));
	int c = want > last ? C_UP : want < last ? C_DOWN : C_SAME;
	if (r == -ENOMEM && B->fullfs)
		c = C_ENOMEM;
	/* the break lock's holder stopped inside pbrk/pchmod: the bound */
	if (r == -EBUSY && getenv("STRESS_STOP_MS"))
		c = C_EBUSY;
	uint64_t took = op_end(c);
	if (took > s->max_pbrk_ns)
		s->max_pbrk_ns = took;
	if (r == (long)(B->base + want)) {
		if (want > FLOOR && rnd(2))
			touch_grown(want);
		last = want;
	} else if (c != C_ENOMEM && c != C_EBUSY) {
		wfail("pbrk(base + %llu MiB) = %ld (%s)",
			(unsigned long long)(want / MiB), r, pheap_errormsg());
	}
}

static void
do_pbrk_ro(void)
{
	uint64_t want = FLOOR + rnd(NSTEPS) * PG;

	op_begin(OP_PBRK, want);
	long r = pbrk((unsigned long)(B->base + want));
	op_end(r == -EACCES ? C_EACCES : C_ROSAME);
	/* refused, or it was the break already */
	if (r != -EACCES && r != (long)(B->base + want))
		wfail("read-only pbrk(base + %llu MiB) = %ld (%s)",
			(unsigned long long)(want / MiB), r, pheap_errormsg());
}

static void
do_query(void)
{
	op_begin(OP_QUERY, 0);
	long r = pbrk(0);
	op_end(C_QUERY);
	if (!brk_ok(r))
		wfail("pbrk(0) = %#lx (%s)", (unsigned long)r, pheap_errormsg());
	else if ((uint64_t)r > B->base + FLOOR)
		touch_grown((uint64_t)r - B->base);
}

static void
do_record(void)
{
	struct slot *s = me();
	uint64_t seq = s->durable + 1;
	struct rec *r = rec_at(g_w, seq);

	op_begin(OP_RECORD, seq);
	rec_fill(r, g_w, seq);
	int e = ppersist(r, sizeof(*r));
	if (e == 0)
		__atomic_store_n(&s->durable, seq, __ATOMIC_RELEASE);
	op_end(C_RECORD);
	if (e)
		wfail("ppersist(record %llu): %d (%s)",
			(unsigned long long)seq, e, pheap_errormsg());
}

/* a random durable record of a random read-write worker */
static void
verify_one(void)
{
	int v = (int)rnd((unsigned)B->nprocs);
	uint64_t d = __atomic_load_n(&B->slot[v].durable, __ATOMIC_ACQUIRE);

	if (B->slot[v].ro || d == 0)
		return;
	uint64_t seq = d - rnd((unsigned)(d - ring_low(d) + 1));
	if (!rec_bad(v, seq)) {
		__atomic_add_fetch(&me()->cnt[C_VERIFY], 1, __ATOMIC_RELAXED);
		return;
	}
	/* the writer may have lapped the ring meanwhile: inconclusive */
	uint64_t d2 = __atomic_load_n(&B->slot[v].durable, __ATOMIC_ACQUIRE);
	if (d2 >= ring_low(d2) && seq < ring_low(d2)) {
		__atomic_add_fetch(&me()->cnt[C_VSKIP], 1, __ATOMIC_RELAXED);
		return;
	}
	wfail("record %llu of worker %d is damaged (durable %llu)",
		(unsigned long long)seq, v, (unsigned long long)d2);
}

static void
do_verify(void)
{
	op_begin(OP_VERIFY, 0);
	for (int i = 0; i < 8; i++)
		verify_one();
	op_end(-1);
}

static void
do_info(void)
{
	struct pheap_info in;

	op_begin(OP_INFO, 0);
	int e = pheap_info(&in);
	op_end(C_INFO);
	if (e) {
		wfail("pheap_info: %d (%s)", e, pheap_errormsg());
		return;
	}
	if ((uint64_t)(uintptr_t)in.base != B->base || !brk_ok((long)in.brk) ||
	    in.rdonly != me()->ro || in.id_len != strlen(g_id) ||
	    memcmp(in.id, g_id, in.id_len) != 0)
		wfail("pheap_info: base %p brk %p rdonly %d id_len %zu",
			in.base, in.brk, in.rdonly, in.id_len);
}

/*
 * In the forked child: read each page of [FLOOR, break), as the break was
 * at the start; a concurrent shrink may unmap it (SIGSEGV, allowed), but
 * it must never raise SIGBUS.
 */
static void
child_grown(void)
{
	sigjmp_buf jb;
	long b = pbrk(0);
	uint64_t end = brk_ok(b) ? (uint64_t)b - B->base : FLOOR;
	volatile uint64_t sum = 0;

	tl_lo = B->base + FLOOR;
	tl_hi = B->base + FLOOR + SPAN + PG;
	if (sigsetjmp(jb, 1) == 0) {
		tl_jb = &jb;
		for (uint64_t off = FLOOR; off < end; off += 4096)
			sum += *(volatile const uint64_t *)at(off);
		tl_jb = NULL;
		__atomic_add_fetch(&me()->cnt[C_CGROWN], 1, __ATOMIC_RELAXED);
	} else {
		tl_jb = NULL;
		__atomic_add_fetch(&me()->cnt[C_CLOST], 1, __ATOMIC_RELAXED);
	}
}

/* in the forked child: read the whole floor range, check some records */
static void
reader_child(void)
{
	volatile uint64_t sum = 0;

	tl_who = W_CHILD;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (uint64_t off = 0; off < FLOOR; off += 4096)
		sum += *(volatile const uint64_t *)at(off);
	for (int i = 0; i < 4; i++)
		verify_one();
	child_grown();
	if (rnd(2) && pdetach())
		_exit(3);
	_exit(0);
}

static void
child_status(pid_t c, int st)
{
	if (WIFEXITED(st) && (WEXITSTATUS(st) == EX_SEGV ||
	    WEXITSTATUS(st) == EX_BUS || WEXITSTATUS(st) == 0))
		return;	/* a fault was logged by the child itself */
	if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV ||
	    WTERMSIG(st) == SIGBUS)) {
		fault_log(W_CHILD_UNCAUGHT, WTERMSIG(st), 0, 0);
		return;
	}
	wfail("reader child %d: status %#x", (int)c, st);
}

static void
do_fork(void)
{
	int st;

	op_begin(OP_FORK, 0);
	pid_t c = fork();
	if (c == 0)
		reader_child();
	me()->child = c;
	if (c < 0) {
		op_end(-1);
		wfail("fork: %s", strerror(errno));
		return;
	}
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	me()->child = 0;
	op_end(C_FORK);
	child_status(c, st);
}

/* the owner (we run as the creator) may pchmod, even read-only */
static void
do_chmod(void)
{
	unsigned long mode = rnd(2) ? 0644 : 0664;

	op_begin(OP_CHMOD, mode);
	int e = pchmod(mode);
	op_end(e == -EBUSY && getenv("STRESS_STOP_MS") ? C_EBUSY : C_CHMOD);
	if (e && !(e == -EBUSY && getenv("STRESS_STOP_MS")))
		wfail("pchmod(%#lo): %d (%s)", mode, e, pheap_errormsg());
}

static void
do_reattach(void)
{
	pthread_rwlock_wrlock(&g_attached);
	wdetach();
	int e = wattach();
	pthread_rwlock_unlock(&g_attached);
	if (e)
		_exit(EX_ATTACH);
}

static void
worker_step(int ro)
{
	unsigned r = rnd(100);

	if (r < 30)
		ro ? do_pbrk_ro() : do_pbrk_rw();
	else if (r < 70)
		ro ? do_verify() : do_record();
	else if (r < 82)
		do_verify();
	else if (r < 86)
		do_fork();
	else if (r < 89)
		do_reattach();
	else if (r < 92)
		do_info();
	else if (r < 94)
		do_chmod();
	else
		do_query();
}

static void
worker_main(int w)
{
	pthread_t th[16];
	int ro = B->slot[w].ro, nth = ro ? 0 : B->threads;

	g_w = w;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != g_sup)
		_exit(EX_SETUP);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGALRM, SIG_DFL);	/* the watchdog is the supervisor's */
	fault_handlers();
	g_seed ^= (unsigned)getpid() * 2654435761U ^ (unsigned)now_ns();
	if (wattach())
		_exit(EX_ATTACH);
	for (int i = 0; i < nth; i++)
		if (pthread_create(&th[i], NULL, persist_thread, NULL))
			_exit(EX_SETUP);
	while (!__atomic_load_n(&B->stop, __ATOMIC_ACQUIRE))
		worker_step(ro);
	g_thread_stop = 1;
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	wdetach();
	_exit(0);	/* failed checks were counted in the slot */
}

/* ------------------------------------------------------------ verifier */

static int *g_pass, *g_fail;

__attribute__((format(printf, 2, 3)))
static int
check(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("stress: %s ", ok ? "PASS" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	(*(ok ? g_pass : g_fail))++;
	return ok;
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? -1 : sb.st_size;
}

static void
v_header(const struct pheap_info *in)
{
	char m0[8] = "", m1[8] = "";
	int fd = open(in->path, O_RDONLY);

	if (fd >= 0) {
		if (pread(fd, m0, 8, 0) != 8 || pread(fd, m1, 8, 4096) != 8)
			m0[0] = 0;
		close(fd);
	}
	check(memcmp(m0, "PHEAPHDR", 8) == 0 && memcmp(m1, "PHEAPHDR", 8) == 0,
		"header: both copies carry the magic");
	check((uint64_t)(uintptr_t)in->base == B->base &&
		in->id_len == strlen(g_id) && !memcmp(in->id, g_id, in->id_len) &&
		in->backend == PHEAP_BACKEND_FILE && !in->rdonly &&
		in->uid == geteuid() && in->mode <= 0777,
		"header: pheap_info base, id, backend, owner, mode");
}

static void
v_break(const struct pheap_info *in)
{
	long b = pbrk(0);
	uint64_t off = (uint64_t)b - B->base;
	off_t sz = file_size(in->path);

	check(b == (long)in->brk && brk_ok(b),
		"break %#lx (base + %llu MiB): >= floor, 2 MiB steps, <= floor + %lu MiB",
		(unsigned long)b, (unsigned long long)(off / MiB), SPAN / MiB);
	check(brk_ok(b) && B->brk_seen[(off - FLOOR) / PG],
		"break is one that a pbrk asked for");
	check(sz >= (off_t)(HDR_OFF + off), "file size %lld >= 2 MiB + break%s",
		(long long)sz, sz > (off_t)(HDR_OFF + off) ?
		" (longer: a pbrk was killed midway, allowed)" : "");
}

/* every record each read-write worker reported durable (within its ring) */
static int
v_records(int quiet)
{
	int bad_total = 0;

	for (int w = 0; w < B->nprocs; w++) {
		uint64_t d = B->slot[w].durable, n = 0, bad = 0;

		if (B->slot[w].ro)
			continue;
		for (uint64_t s = d ? ring_low(d) : 1; d && s <= d; s++, n++)
			bad += (uint64_t)rec_bad(w, s);
		B->vrecords += quiet ? 0 : n - bad;
		bad_total += (int)bad;
		if (!quiet)
			check(bad == 0 && d > 0,
				"worker %d: %llu durable records (up to seq %llu) intact, %llu damaged",
				w, (unsigned long long)(n - bad),
				(unsigned long long)d, (unsigned long long)bad);
	}
	return bad_total;
}

static int
all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static long
timed_pbrk(uint64_t off, uint64_t *ms)
{
	uint64_t t0 = now_ns();
	long r = pbrk((unsigned long)(B->base + off));

	*ms = (now_ns() - t0) / 1000000;
	return r;
}

static void
v_grow_shrink(const struct pheap_info *in)
{
	uint64_t ms, old = (uint64_t)pbrk(0) - B->base;
	long r = timed_pbrk(FLOOR, &ms);

	check(r == (long)(B->base + FLOOR) && ms < 5000,
		"shrink to the floor completes: %#lx in %llu ms", r,
		(unsigned long long)ms);
	check(old <= FLOOR || segv_at(at(FLOOR)), "range above the floor unmapped");
	r = timed_pbrk(FLOOR + 4 * MiB, &ms);
	check(r == (long)(B->base + FLOOR + 4 * MiB) && ms < 5000,
		"grow by 4 MiB completes: %#lx in %llu ms", r,
		(unsigned long long)ms);
	if (r == (long)(B->base + FLOOR + 4 * MiB)) {
		check(all_zero(at(FLOOR), 4 * MiB), "grown range reads as zero");
		memset(at(FLOOR), 0x5a, 4 * MiB);
	}
	r = timed_pbrk(FLOOR, &ms);
	check(r == (long)(B->base + FLOOR) && ms < 5000 && segv_at(at(FLOOR)),
		"shrink back completes, unmaps: %#lx in %llu ms", r,
		(unsigned long long)ms);
	check(file_size(in->path) == (off_t)(HDR_OFF + FLOOR),
		"file size %lld == 2 MiB + break after the shrink",
		(long long)file_size(in->path));
}

static void
verifier_main(void)
{
	struct pheap_info in;

	g_pass = &B->vpass;
	g_fail = &B->vfail;
	tl_who = W_VERIFIER;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(VERIFY_S);
	fault_handlers();
	int e = pattach(g_id, strlen(g_id), PHEAP_ATTACH);

	if (!check(e == 0, "verifier attaches (%d%s%s)", e, e ? ": " : "",
	    e ? pheap_errormsg() : "") ||
	    !check(pheap_info(&in) == 0, "pheap_info"))
		_exit(1);
	v_header(&in);
	v_break(&in);
	v_records(0);
	v_grow_shrink(&in);
	check(v_records(1) == 0, "records intact after the grow and shrink");
	check(pdetach() == 0, "pdetach");
	check(pattach(g_id, strlen(g_id), PHEAP_ATTACH | PHEAP_RDONLY) == 0 &&
		pbrk(0) == (long)(B->base + FLOOR) && pdetach() == 0,
		"re-attached read-only: the break is durable");
	_exit(B->vfail ? 1 : 0);
}

/* ---------------------------------------------------------- supervisor */

struct sup {
	pid_t pid[MAX_PROCS];
	int killed[MAX_PROCS];
	uint64_t hang_start[MAX_PROCS], thang_start[MAX_PROCS];
	uint64_t last_prog[MAX_PROCS], prog_since[MAX_PROCS];
	uint64_t cont_at[MAX_PROCS];	/* stopped by us until then */
	int stops;
	int kills, restarts, deaths, hangs, hang_stop, hang_idle, dumps;
	int hang_op[OP_NUM];
	int pass, fail;
	int ro_n;
};

static struct sup S;
static volatile sig_atomic_t g_interrupted;
static char g_mnt[400];		/* mounted here, if non-empty */

static void
kill_all(void)
{
	for (int w = 0; w < MAX_PROCS; w++)
		if (S.pid[w] > 0)
			kill(-S.pid[w], SIGKILL);
}

static void
on_watchdog(int sig)
{
	static const char m[] = "stress: WATCHDOG: run over its time budget, "
		"killing everything\n";

	(void)sig;
	kill_all();
	if (write(STDERR_FILENO, m, sizeof(m) - 1) < 0) {
		/* nothing to do */
	}
	if (g_mnt[0])
		umount2(g_mnt, MNT_DETACH);
	_exit(3);
}

static void
on_interrupt(int sig)
{
	(void)sig;
	g_interrupted = 1;
}

static void
spawn(int w)
{
	struct slot *s = &B->slot[w];

	/* what a killed predecessor was doing is no hang of the new one */
	s->op = OP_IDLE;
	s->t_busy = 0;
	s->child = 0;
	fflush(NULL);
	pid_t p = fork();

	if (p == 0)
		worker_main(w);
	if (p > 0)
		setpgid(p, p);
	S.pid[w] = p;
	__atomic_store_n(&B->slot[w].stopped, 0, __ATOMIC_RELAXED);
	S.killed[w] = 0;
	S.prog_since[w] = 0;
	S.cont_at[w] = 0;
	s->pid = p;
}

static void
print_file_line(const char *label, const char *path, int lines)
{
	char buf[2048];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *p = buf, *nl; *p && lines-- > 0; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		printf("stress:       %s %s\n", label, p);
		if (!nl)
			break;
	}
}

/* where each thread of pid is, as the kernel tells */
static void
dump_proc(pid_t pid)
{
	char dir[64], path[400];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			printf("stress:     thread %s:\n", de->d_name);
			snprintf(path, sizeof(path), "%s/%s/comm", dir, de->d_name);
			print_file_line("comm", path, 1);
			snprintf(path, sizeof(path), "%s/%s/wchan", dir, de->d_name);
			print_file_line("wchan", path, 1);
			snprintf(path, sizeof(path), "%s/%s/stack", dir, de->d_name);
			print_file_line("stack", path, 6);
		}
	closedir(d);
}

static void
report_hang(int w, const char *what, uint64_t ns)
{
	struct slot *s = &B->slot[w];

	printf("stress: HANG worker %d (pid %d, %s): %s for %.1f s "
		"(last op %s, arg %#llx)\n", w, (int)S.pid[w],
		s->ro ? "ro" : "rw", what, (double)ns / 1e9,
		op_name[s->op % OP_NUM], (unsigned long long)s->op_arg);
	if (++S.dumps > 12)
		return;		/* enough detail */
	dump_proc(S.pid[w]);
	if (s->child > 0) {
		printf("stress:   its reader child %d:\n", s->child);
		dump_proc(s->child);
	}
	fflush(stdout);
}

static void
watch_one(int w, uint64_t now)
{
	struct slot *s = &B->slot[w];
	int op = __atomic_load_n(&s->op, __ATOMIC_ACQUIRE);
	uint64_t st = __atomic_load_n(&s->op_start, __ATOMIC_RELAXED);
	uint64_t tb = __atomic_load_n(&s->t_busy, __ATOMIC_RELAXED);

	if (op != OP_IDLE && now > st + HANG_NS && S.hang_start[w] != st) {
		S.hang_start[w] = st;
		S.hangs++;
		S.hang_op[op % OP_NUM]++;
		report_hang(w, op_name[op % OP_NUM], now - st);
	}
	if (tb && now > tb + HANG_NS && S.thang_start[w] != tb) {
		S.thang_start[w] = tb;
		S.hangs++;
		S.hang_op[OP_TPERSIST]++;
		report_hang(w, "thread ppersist", now - tb);
	}
	uint64_t prog = __atomic_load_n(&s->progress, __ATOMIC_RELAXED);
	if (prog != S.last_prog[w] || !S.prog_since[w]) {
		S.last_prog[w] = prog;
		S.prog_since[w] = now;
	} else if (op == OP_IDLE && now > S.prog_since[w] + 2 * HANG_NS) {
		S.prog_since[w] = now;
		S.hangs++;
		S.hang_idle++;
		report_hang(w, "no progress outside library calls", 2 * HANG_NS);
	}
	if (op != OP_IDLE && now > st + STUCK_NS && !S.killed[w]) {
		printf("stress: HANG worker %d stuck in %s for %.0f s: killed\n",
			w, op_name[op % OP_NUM], (double)(now - st) / 1e9);
		S.killed[w] = 2;	/* not counted as a random kill */
		kill(-S.pid[w], SIGKILL);
	}
}

static void
note_death(int w, int st)
{
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && S.killed[w]) {
		S.kills += S.killed[w] == 1;
		return;
	}
	if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV ||
	    WTERMSIG(st) == SIGBUS)) {
		g_w = w;
		fault_log(W_UNCAUGHT, WTERMSIG(st), 0, 0);
		g_w = -1;
		printf("stress: FAULT worker %d (pid %d) killed by %s (uncaught)\n",
			w, (int)S.pid[w], strsignal(WTERMSIG(st)));
		return;
	}
	if (WIFEXITED(st) && (WEXITSTATUS(st) == EX_SEGV ||
	    WEXITSTATUS(st) == EX_BUS))
		return;		/* logged by its handler */
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && B->stop)
		return;
	S.deaths++;
	printf("stress: FAIL worker %d (pid %d) ended with status %#x\n",
		w, (int)S.pid[w], st);
}

static void
reap(int restart)
{
	int st;
	pid_t p;

	while ((p = waitpid(-1, &st, WNOHANG)) > 0)
		for (int w = 0; w < B->nprocs; w++)
			if (S.pid[w] == p) {
				note_death(w, st);
				S.pid[w] = 0;
				if (restart) {
					S.restarts++;
					spawn(w);
				}
			}
}

static void
maybe_kill(uint64_t now, uint64_t *next, unsigned mean_ms)
{
	if (now < *next)
		return;
	*next = now + (uint64_t)rnd(2 * mean_ms + 1) * 1000000ULL;
	int w = (int)rnd((unsigned)B->nprocs);
	/* a worker we stopped must hold the others: not a kill victim */
	if (S.pid[w] > 0 && !S.killed[w] && !S.cont_at[w]) {
		S.killed[w] = 1;
		kill(-S.pid[w], SIGKILL);
	}
}

/* STRESS_STOP_MS: stop a random worker with SIGSTOP for STOP_FOR_NS */
static void
maybe_stop(uint64_t now, uint64_t *next, unsigned mean_ms)
{
	if (!mean_ms || now < *next)
		return;
	*next = now + (uint64_t)rnd(2 * mean_ms + 1) * 1000000ULL;
	int w = (int)rnd((unsigned)B->nprocs);
	if (S.pid[w] > 0 && !S.killed[w] && !S.cont_at[w]) {
		S.cont_at[w] = now + STOP_FOR_NS;
		S.stops++;
		__atomic_store_n(&B->slot[w].stopped, 1, __ATOMIC_RELAXED);
		kill(-S.pid[w], SIGSTOP);
	}
}

/* continues the stopped workers that are due (all if now == 0) */
static void
continue_due(uint64_t now)
{
	for (int w = 0; w < B->nprocs; w++) {
		struct slot *s = &B->slot[w];

		if (!S.cont_at[w] || (now && now < S.cont_at[w]))
			continue;
		S.cont_at[w] = 0;
		if (S.pid[w] > 0)
			kill(-S.pid[w], SIGCONT);
		/* its own operations were slow because we stopped it */
		S.hang_start[w] = __atomic_load_n(&s->op_start, __ATOMIC_RELAXED);
		S.thang_start[w] = __atomic_load_n(&s->t_busy, __ATOMIC_RELAXED);
		S.prog_since[w] = 0;
	}
}

static void
run_phase(unsigned secs)
{
	uint64_t t0 = now_ns(), end = t0 + secs * 1000000000ULL, next = t0;
	uint64_t next_stop = t0 + 2000000000ULL;
	unsigned mean = (unsigned)env_num("STRESS_KILL_MS", 1000);
	unsigned stop_ms = (unsigned)env_num("STRESS_STOP_MS", 0);

	if (stop_ms)
		HANG_NS = 8ULL * 1000000000ULL;

	for (int w = 0; w < B->nprocs; w++)
		spawn(w);
	while (!g_interrupted && now_ns() < end) {
		uint64_t now = now_ns();

		reap(1);
		maybe_kill(now, &next, mean);
		maybe_stop(now, &next_stop, stop_ms);
		continue_due(now);
		for (int w = 0; w < B->nprocs; w++)
			if (S.pid[w] > 0 && !S.cont_at[w])
				watch_one(w, now);
		sleep_ms(20);
	}
	continue_due(0);
}

static void
stop_phase(void)
{
	uint64_t t0 = now_ns();
	int left = 1;

	__atomic_store_n(&B->stop, 1, __ATOMIC_RELEASE);
	while (left && !g_interrupted && now_ns() < t0 + STOP_NS) {
		reap(0);
		left = 0;
		for (int w = 0; w < B->nprocs; w++)
			if (S.pid[w] > 0) {
				left = 1;
				watch_one(w, now_ns());
			}
		sleep_ms(20);
	}
	for (int w = 0; w < B->nprocs; w++)
		if (S.pid[w] > 0 && !g_interrupted) {
			S.hangs++;
			S.hang_stop++;
			report_hang(w, "not stopped", now_ns() - t0);
		}
	kill_all();
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	memset(S.pid, 0, sizeof(S.pid));
}

/* runs fn in a child, waits at most secs; returns its exit code or -1 */
static int
run_child(void (*fn)(void), unsigned secs)
{
	uint64_t end = now_ns() + secs * 1000000000ULL;
	int st;

	fflush(NULL);
	pid_t p = fork();
	if (p == 0) {
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		fn();
		_exit(0);
	}
	if (p < 0)
		return -1;
	setpgid(p, p);
	S.pid[MAX_PROCS - 1] = p;
	while (waitpid(p, &st, WNOHANG) == 0) {
		if (now_ns() > end || g_interrupted) {
			printf("stress: HANG child %d over %u s: killed\n", (int)p, secs);
			dump_proc(p);
			kill(-p, SIGKILL);
			waitpid(p, &st, 0);
			st = -1;
			break;
		}
		sleep_ms(20);
	}
	S.pid[MAX_PROCS - 1] = 0;
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
setup_main(void)
{
	long want;

	if (pattach(g_id, strlen(g_id), PHEAP_CREATE)) {
		fprintf(stderr, "stress: pattach(CREATE): %s\n", pheap_errormsg());
		_exit(1);
	}
	B->base = (uint64_t)(uintptr_t)pheap_base();
	want = (long)(B->base + FLOOR);
	if (pbrk((unsigned long)want) != want) {
		fprintf(stderr, "stress: pbrk(floor): %s\n", pheap_errormsg());
		_exit(2);
	}
	note_brk(want);
	_exit(pdetach() ? 3 : 0);
}

/* ------------------------------------------------------------- summary */

/* faults grouped by signal, si_code, region and who */
static void
print_faults(int n)
{
	char key[32][200];
	int count[32], kinds = 0;

	for (int i = 0; i < n && i < MAX_FAULTS; i++) {
		struct fault *f = &B->faults[i];
		char k[200];
		int j;

		snprintf(k, sizeof(k), "%s%s in %s, %s%s",
			f->signo == SIGBUS ? "SIGBUS" : "SIGSEGV",
			code_name(f->signo, f->code),
			f->addr ? region(f->addr) : "(address unknown)",
			who_name[f->who % W_NUM], f->worker < 0 ? "" :
			B->slot[f->worker].ro ? " (ro worker)" : " (rw worker)");
		for (j = 0; j < kinds && strcmp(key[j], k); j++)
			;
		if (j == kinds && kinds < 32) {
			strcpy(key[kinds], k);
			count[kinds++] = 0;
		}
		if (j < kinds)
			count[j]++;
	}
	for (int j = 0; j < kinds; j++)
		printf("stress:   %5d x %s\n", count[j], key[j]);
}

static void
print_ops(uint64_t *max_ms)
{
	uint64_t tot[C_NUM] = { 0 }, all = 0;

	*max_ms = 0;
	for (int w = 0; w < B->nprocs; w++) {
		for (int c = 0; c < C_NUM; c++)
			tot[c] += B->slot[w].cnt[c];
		if (B->slot[w].max_pbrk_ns / 1000000 > *max_ms)
			*max_ms = B->slot[w].max_pbrk_ns / 1000000;
	}
	for (int c = 0; c < C_NUM; c++)
		all += tot[c];
	printf("stress: operations: %llu in all\n", (unsigned long long)all);
	for (int c = 0; c < C_NUM; c++)
		printf("stress:   %-34s %llu\n", cnt_name[c],
			(unsigned long long)tot[c]);
	printf("stress: slowest pbrk: %llu ms\n", (unsigned long long)*max_ms);
}

static void
summarize(int nfaults)
{
	uint64_t max_ms, enomem = 0, bus = 0;
	int wfails = 0, idle = 0;

	print_ops(&max_ms);
	printf("stress: kills (SIGKILL at random) %d, restarts %d, "
		"SIGSTOPs for %llu s %d\n", S.kills, S.restarts,
		STOP_FOR_NS / 1000000000ULL, S.stops);
	printf("stress: hangs %d:", S.hangs);
	for (int o = 0; o < OP_NUM; o++)
		if (S.hang_op[o])
			printf(" %s > %llu s: %d;", op_name[o],
				HANG_NS / 1000000000ULL, S.hang_op[o]);
	printf(" no progress: %d; not stopped: %d\n", S.hang_idle, S.hang_stop);
	printf("stress: faults %d\n", nfaults);
	print_faults(nfaults);
	for (int w = 0; w < B->nprocs; w++) {
		struct slot *s = &B->slot[w];

		wfails += s->nfail;
		enomem += s->cnt[C_ENOMEM];
		idle += s->ro ? s->cnt[C_VERIFY] == 0 : s->durable == 0;
	}
	int strag = 0;

	for (int i = 0; i < nfaults && i < MAX_FAULTS; i++) {
		bus += B->faults[i].signo == SIGBUS;
		strag += B->faults[i].straggler;
	}
	printf("stress: records verified after the run: %llu\n",
		(unsigned long long)B->vrecords);
	printf("stress: faults of stragglers (SIGSTOPped past the bound, above "
		"the floor: allowed by the contract) %d\n", strag);
	check(nfaults - strag == 0, "no SIGSEGV/SIGBUS anywhere else (%d)",
		nfaults - strag);
	check(S.hangs == 0, "no hangs (%d)", S.hangs);
	check(wfails == 0, "no failed checks inside workers (%d)", wfails);
	check(S.deaths == 0, "no unexpected worker exits (%d)", S.deaths);
	check(idle == 0, "every worker made progress (%d idle)", idle);
	if (B->fullfs) {
		check(enomem > 0, "full file system: pbrk returned ENOMEM (%llu times)",
			(unsigned long long)enomem);
		check(bus == 0, "full file system: no SIGBUS (%llu)",
			(unsigned long long)bus);
	}
}

/* --------------------------------------------------------------- setup */

static int
rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p) && errno != ENOENT ? -1 : 0;
}

static void
unmount_it(void)
{
	if (!g_mnt[0])
		return;
	for (int i = 0; i < 50; i++) {
		if (umount2(g_mnt, 0) == 0) {
			g_mnt[0] = 0;
			return;
		}
		sleep_ms(100);
	}
	printf("stress: umount %s: %s; detaching lazily\n", g_mnt,
		strerror(errno));
	umount2(g_mnt, MNT_DETACH);
	g_mnt[0] = 0;
}

/*
 * A ~200 MiB ext4 image on a loop device (the realistic case), or a
 * 160 MiB tmpfs if that cannot be made or STRESS_FULLFS_TMPFS=1.
 */
static int
mount_small(const char *top, char *mnt, size_t len)
{
	char img[320], cmd[1200];
	int fd;

	snprintf(img, sizeof(img), "%s/fs.img", top);
	snprintf(mnt, len, "%s/mnt", top);
	if (mkdir(mnt, 0755))
		return -1;
	fd = env_num("STRESS_FULLFS_TMPFS", 0) ? -1 :
		open(img, O_RDWR | O_CREAT, 0600);
	if (fd >= 0 && ftruncate(fd, 200 * (off_t)MiB) == 0) {
		close(fd);
		snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F '%s' >/dev/null 2>&1 &&"
			" mount -o loop '%s' '%s' >/dev/null 2>&1", img, img, mnt);
		if (system(cmd) == 0) {
			snprintf(g_mnt, sizeof(g_mnt), "%s", mnt);
			printf("stress: full-fs: ext4 on a 200 MiB loop image at %s\n", mnt);
			return 0;
		}
	} else if (fd >= 0) {
		close(fd);
	}
	unlink(img);
	if (mount("stress", mnt, "tmpfs", 0, "size=160m") == 0) {
		snprintf(g_mnt, sizeof(g_mnt), "%s", mnt);
		printf("stress: full-fs: tmpfs of 160 MiB at %s\n", mnt);
		return 0;
	}
	return -1;
}

/* leaves about `leave` bytes free on the file system of dir */
static int
fill(const char *dir, uint64_t leave)
{
	char path[420];
	struct statvfs vs;

	snprintf(path, sizeof(path), "%s/filler", dir);
	if (statvfs(dir, &vs))
		return -1;
	uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize;
	if (avail <= leave)
		return 0;
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return -1;
	int e = posix_fallocate(fd, 0, (off_t)(avail - leave));
	close(fd);
	statvfs(dir, &vs);
	printf("stress: full-fs: filler of %llu MiB, %llu MiB left free\n",
		(unsigned long long)((avail - leave) / MiB),
		(unsigned long long)((uint64_t)vs.f_bavail * vs.f_frsize / MiB));
	return e ? -1 : 0;
}

static void
cleanup(const char *top)
{
	kill_all();
	unmount_it();
	if (top[0] && !getenv("PHEAP_TEST_KEEP"))
		nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
signals(unsigned budget)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_watchdog;
	sigaction(SIGALRM, &sa, NULL);
	alarm(budget);
}

/* makes the pool (and the small file system); 0, -1 error, 1 skip */
static int
prepare(char *top, size_t len, int fullfs)
{
	const char *t = getenv("PHEAP_TEST_DIR");
	char pool[400], mnt[340];

	snprintf(top, len, "%s/pheap-stress-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(top)) {
		perror("stress: mkdtemp");
		top[0] = 0;
		return -1;
	}
	snprintf(pool, sizeof(pool), "%s/pool", top);
	if (fullfs) {
		if (geteuid() != 0) {
			printf("stress: SKIP full-fs run: not root, cannot mount\n");
			return 1;
		}
		if (mount_small(top, mnt, sizeof(mnt))) {
			printf("stress: SKIP full-fs run: cannot mount ext4 or tmpfs\n");
			return 1;
		}
		snprintf(pool, sizeof(pool), "%s/pool", mnt);
	}
	if (mkdir(pool, 01777))
		return -1;
	setenv("PHEAP_POOL", pool, 1);
	printf("stress: pool %s\n", pool);
	return 0;
}

static int
run(int fullfs, unsigned secs, int nprocs)
{
	char top[300];
	int r = prepare(top, sizeof(top), fullfs);

	B->fullfs = fullfs;
	B->nprocs = nprocs;
	S.ro_n = nprocs >= 2 ? (nprocs + 3) / 4 : 0;
	for (int w = 0; w < nprocs; w++)
		B->slot[w].ro = w >= nprocs - S.ro_n;
	if (r == 0 && !check(run_child(setup_main, 30) == 0,
	    "setup: pheap created, break at the floor (%lu MiB)", FLOOR / MiB))
		r = -1;
	if (r == 0 && fullfs &&
	    fill(g_mnt, env_num("STRESS_FULLFS_LEAVE_MB", 24) * MiB))
		r = -1;
	if (r == 0) {
		printf("stress: %s run: %u s, %d processes (%d read-write with "
			"%d ppersist threads each, %d read-only), seed %u, "
			"%llu records per worker ring\n",
			fullfs ? "full-fs" : "main", secs, nprocs, nprocs - S.ro_n,
			B->threads, S.ro_n, g_seed, (unsigned long long)RING);
		fflush(stdout);
		run_phase(secs);
		stop_phase();
		if (g_interrupted) {
			check(0, "run interrupted: no verification");
		} else {
			int v = run_child(verifier_main, VERIFY_S + 30);
			check(v == 0 || v == 1, "verifier ran to its end (status %d)", v);
		}
		S.pass += B->vpass;
		S.fail += B->vfail;
		summarize(B->nfaults);
	}
	cleanup(top);
	if (r < 0)
		check(0, "preparing the %s run", fullfs ? "full-fs" : "main");
	printf("stress: %d passed, %d failed\n", S.pass, S.fail);
	return r > 0 ? 0 : S.fail || g_interrupted ? 1 : 0;
}

int
main(int argc, char **argv)
{
	int fullfs = argc > 1 && strcmp(argv[1], "--full-fs") == 0;
	unsigned secs = (unsigned)env_num(fullfs ? "STRESS_FULLFS_SECONDS" :
		"STRESS_SECONDS", fullfs ? 20 : 60);
	int nprocs = (int)env_num("STRESS_PROCS", 8);
	unsigned long threads = env_num("STRESS_THREADS", 2);

	if ((argc > 1 && !fullfs) || nprocs < 1 || nprocs > MAX_PROCS - 1 ||
	    threads > 16) {
		fprintf(stderr, "usage: %s [--full-fs]  (STRESS_PROCS: 1..%d, "
			"STRESS_THREADS: 0..16)\n", argv[0], MAX_PROCS - 1);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	B = mmap(NULL, sizeof(*B), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (B == MAP_FAILED)
		return 2;
	g_sup = getpid();
	B->threads = (int)threads;
	B->persist_us = (int)env_num("STRESS_PERSIST_US", 1000) % 1000000;
	g_seed = (unsigned)env_num("STRESS_SEED", (unsigned long)time(NULL));
	snprintf(g_id, sizeof(g_id), "stress-%d", (int)g_sup);
	g_pass = &S.pass;
	g_fail = &S.fail;
	signals(secs + 180);
	return run(fullfs, secs, nprocs);
}
