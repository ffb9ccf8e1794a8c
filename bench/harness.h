/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.h -- what a figure of pheap-bench sees of the harness: the
 * options, the bench's pheap and baseline file, the figure descriptor, the
 * result rows and notes, and the helpers that several figures share
 * (timing, fault counts, medians, pipes, child processes).
 *
 * A figure is one file bench/figN_topic.c that defines one
 * `const struct figure` and adds rows with add_row(); bench/figures.c lists
 * the descriptors.  See bench/README.md, "Adding a figure".
 */
#ifndef PHEAP_BENCH_HARNESS_H
#define PHEAP_BENCH_HARNESS_H

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "pheap.h"

/* older headers (the kernel has had them since 5.14) */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define STEP PHEAP_PAGE_SIZE		/* break granularity: 2 MiB */
#define SWEEP 4096ULL			/* one byte per 4 KiB page */

/* ---- figures ---- */

struct figure {
	int num;		/* its digit in --only (1-9) */
	const char *name;	/* short topic, e.g. "attach" */
	const char *desc;	/* what it measures against what, one line */
	void (*run)(void);	/* called with the bench's pheap detached, its
				 * break at --size; leaves it so */
	void (*after)(void);	/* optional: called once every figure ran,
				 * the pheap emptied (break at its base) */
};

extern const struct figure *const figures[];	/* figures.c, NULL-ended */

/* ---- options (harness.c) ---- */

struct opts {
	int quick, json, reps;
	uint64_t size;		/* figures 1-4 */
	uint64_t rand_size;	/* figure 7 */
	uint64_t nreads;	/* figure 7 */
	int lat_samples;	/* figure 5, per kind */
	int samples8;		/* figure 8, pbrk pairs per repetition */
	double dur3, dur6;	/* seconds per repetition */
	unsigned only;		/* bit i: run figure i; 0 = all */
};

extern struct opts o;

/* ---- the bench's pheap, its files, its cleanup (harness.c) ---- */

extern pid_t main_pid;
extern int in_child;			/* set in every forked process */
extern volatile sig_atomic_t attached;
extern char heap_id[64];
extern uintptr_t heap_base;
extern char pool_dir[PATH_MAX];		/* where the baseline files go */
extern char base_path[PATH_MAX];	/* the baseline file, --size bytes */
extern int base_fd;
extern int shm_id;			/* a SysV segment to remove, or -1 */

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
int base_open(void);
int scratch_open(void);

/* an API call that returned ret < 0 */
#define API_FAIL(call, ret) \
	die("%s: %s (%s)", call, pheap_errormsg(), strerror((int)-(ret)))
#define SYS_FAIL(what) die("%s: %s", what, strerror(errno))

/* ---- helpers (util.c) ---- */

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* minor faults of the calling thread so far */
static inline long
minflt_thread(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

extern volatile uint64_t sink;	/* reads go here, so they are not dropped */

double median(double *v, int n);
double percentile(double *v, int n, double p);
void *xcalloc(size_t n, size_t sz);
double *samples_alloc(int n);
void *shared_alloc(size_t len);
const char *human(uint64_t b, char *buf, size_t len);
void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void populate(void *p, uint64_t len, int write);
void write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);
void wait_ok(pid_t pid, const char *who);
void child_start(void);

void heap_attach(void);
void heap_detach(void);
void heap_set(uint64_t len);
uint64_t heap_len(void);
long brk_query(void);
void brk_pair(long q);

/* ---- results (report.c) ---- */

enum goal_kind { G_NONE, G_RATIO_LE, G_RATIO_GE, G_VALUE_LE, G_VALUE_GE };

struct row {
	char fig[8];
	char name[112];
	char unit[12];
	double value;
	int has_base;
	double base;
	char base_name[64];
	enum goal_kind goal;
	double goal_x;
	char goal_text[48];
	int prec;		/* decimals in the table */
	int lower;		/* the value is a lower bound (a cut) */
};

struct row *add_row(const char *fig, const char *unit, int prec, double value,
	const char *name_fmt, ...) __attribute__((format(printf, 5, 6)));
void set_base(struct row *r, double base, const char *name);
void set_goal(struct row *r, enum goal_kind g, double x, const char *text);
void add_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_header(void);
void print_results(void);

/* ---- the machine (machine.c) ---- */

struct machine {
	char cpu[128];
	int ncpu;
	double mem_gib;
	char kernel[256];
	char fstype[32];
	char mnt_opts[256];
	char mnt_point[PATH_MAX];
	int backend;
	char date[64];
	char load0[64], load1[64];	/* /proc/loadavg at start and end */
};

extern struct machine m;

uint64_t proc_kib(const char *path, const char *key);

/* ---- 2 MiB mappings (smaps.c) ---- */

struct huge_share {
	uint64_t rss;		/* resident bytes of the VMAs */
	uint64_t huge;		/* of which mapped with 2 MiB pages */
};

struct huge_share smaps_huge(const void *lo, const void *hi);
double huge_pct(struct huge_share s);
void read_loadavg(char *buf, size_t len);
void machine_probe(void);

#endif
