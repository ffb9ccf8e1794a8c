/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * harness.c -- pheap-bench: libpheap-pmem against the plain kernel
 * primitives it is built from, measured in one run on one backing (the pool
 * directory).  This file is the harness: the options, the bench's pheap
 * and baseline file, their removal on exit, error or signal, and the run
 * of the figures that bench/figures.c lists.
 *
 * Every figure is the median of several repetitions and is printed next to
 * a baseline measured in the same run, on the same file system where that
 * makes sense; ratio = value / baseline, in the row's unit.
 *
 * Usage: pheap-bench [--quick] [--json] [--reps N] [--size BYTES] [--only LIST]
 * The pool is PHEAP_POOL (the library's rules); baseline files go next to
 * the bench's pheap.  Everything the bench creates is removed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

struct opts o;

/* ---- state the cleanup needs (also from a signal handler) ---- */

pid_t main_pid;
int in_child;
volatile sig_atomic_t attached;
static char pheap_path[PATH_MAX];
char base_path[PATH_MAX];
int shm_id = -1;

char pool_dir[PATH_MAX];
char heap_id[64];
uintptr_t heap_base;

/* removes the pheap, the baseline file and the segment; async-signal-safe */
static void
remove_files(void)
{
	if (pheap_path[0])
		unlink(pheap_path);
	if (base_path[0])
		unlink(base_path);
	if (shm_id >= 0)
		shmctl(shm_id, IPC_RMID, NULL);
}

static void
cleanup(void)
{
	if (in_child || getpid() != main_pid)
		return;
	if (attached) {
		attached = 0;
		(void)pdetach();
	}
	remove_files();
	pheap_path[0] = '\0';
	base_path[0] = '\0';
	shm_id = -1;
}

static void
on_signal(int sig)
{
	static const char msg[] = "pheap-bench: timed out (a figure took longer "
		"than its watchdog; a pbrk or pattach may be hung)\n";

	if (sig == SIGALRM && write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	/* async-signal-safe part only: files and the segment, no pdetach */
	if (!in_child && getpid() == main_pid)
		remove_files();
	signal(sig, SIG_DFL);
	raise(sig);
}

void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pheap-bench%s: ", in_child ? " (child)" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (in_child)
		_exit(1);
	cleanup();
	exit(1);
}

/* ---- the bench's files in the pool ---- */

int base_fd = -1;

/* creates <pool>/pheap-bench-<pid>-<what>.dat, named in path; its descriptor */
static int
pool_file_create(char *path, size_t len, const char *what)
{
	int fd;

	if (snprintf(path, len, "%s/pheap-bench-%d-%s.dat", pool_dir,
			(int)main_pid, what) >= (int)len) {
		path[0] = '\0';
		die("pool path too long");
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die("creating %s: %s", path, strerror(errno));
	return fd;
}

/* a scratch file in the pool, 2 MiB long, already unlinked */
int
scratch_open(void)
{
	char path[PATH_MAX];
	int fd = pool_file_create(path, sizeof(path), "scratch");

	unlink(path);	/* the descriptor keeps it while we need it */
	if (ftruncate(fd, (off_t)STEP))
		SYS_FAIL("ftruncate scratch file");
	return fd;
}

/* a new descriptor of the baseline file */
int
base_open(void)
{
	int fd = open(base_path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		SYS_FAIL("open baseline file");
	return fd;
}

/* the baseline file: size bytes, allocated, written once and clean */
static void
make_base_file(uint64_t size)
{
	void *p;
	int err;

	base_fd = pool_file_create(base_path, sizeof(base_path), "baseline");
	err = posix_fallocate(base_fd, 0, (off_t)size);
	if (err)
		die("posix_fallocate %s: %s", base_path, strerror(err));
	/* the same state as the pheap: written once, clean, in the page cache */
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, base_fd, 0);
	if (p == MAP_FAILED)
		SYS_FAIL("mmap baseline file");
	populate(p, size, 1);
	if (msync(p, size, MS_SYNC))
		SYS_FAIL("msync baseline file");
	munmap(p, size);
}

/* ---- options ---- */

static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
		"usage: pheap-bench [--quick] [--json] [--reps N] [--size BYTES] "
		"[--only LIST]\n"
		"  --quick        tiny sizes, 1 repetition (a smoke test, < 10 s)\n"
		"  --json         one JSON document on stdout instead of the table\n"
		"  --reps N       repetitions per figure (default 5); median reported\n"
		"  --size BYTES   heap size for figures 1-4 (default 1 GiB; k/m/g "
		"suffixes; rounded up to 2 MiB)\n"
		"  --only LIST    run only these figures, e.g. 1,5,8\n"
		"The pool is PHEAP_POOL (default ~/.local/share/pheap).\n");
	exit(code);
}

static uint64_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		usage(2);
	switch (tolower((unsigned char)*end)) {
	case 'k': v <<= 10; end++; break;
	case 'm': v <<= 20; end++; break;
	case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		usage(2);
	return v;
}

/* the --only bit of every figure there is */
static unsigned
all_figures(void)
{
	unsigned bits = 0;

	for (const struct figure *const *f = figures; *f; f++)
		bits |= 1u << (*f)->num;
	return bits;
}

/* LIST: figure digits, with commas between; each must name a figure */
static unsigned
parse_only(const char *list)
{
	unsigned bits = 0;

	for (const char *c = list; *c; c++)
		if (*c >= '1' && *c <= '9' && (all_figures() & (1u << (*c - '0'))))
			bits |= 1u << (*c - '0');
		else if (*c != ',')
			usage(2);
	return bits;
}

/* the sizes and counts of a full run or of --quick (--reps and --size are
 * applied after); keeps what parse_args has set: quick, json, only */
static void
set_defaults(void)
{
	static const struct opts full = {
		.reps = 5, .size = GiB, .rand_size = 4 * GiB, .nreads = 20000000,
		.lat_samples = 300, .samples8 = 40, .dur3 = 1.0, .dur6 = 1.0,
	};
	static const struct opts quick = {
		.reps = 1, .size = 8 * MiB, .rand_size = 64 * MiB, .nreads = 200000,
		.lat_samples = 10, .samples8 = 3, .dur3 = 0.05, .dur6 = 0.05,
	};
	struct opts d = o.quick ? quick : full;

	d.quick = o.quick;
	d.json = o.json;
	d.only = o.only;
	o = d;
}

static void
parse_args(int argc, char **argv)
{
	int reps = -1;
	uint64_t size = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--quick") == 0)
			o.quick = 1;
		else if (strcmp(a, "--json") == 0)
			o.json = 1;
		else if (strcmp(a, "--reps") == 0 && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (strcmp(a, "--size") == 0 && i + 1 < argc)
			size = parse_size(argv[++i]);
		else if (strcmp(a, "--only") == 0 && i + 1 < argc)
			o.only |= parse_only(argv[++i]);
		else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			usage(0);
		else
			usage(2);
	}
	set_defaults();
	if (reps == 0 || reps < -1 || reps > 1000)
		usage(2);
	if (reps > 0)
		o.reps = reps;
	if (size) {
		o.size = (size + STEP - 1) & ~(STEP - 1);
		if (o.size > 64 * GiB)
			usage(2);
	}
	if (!o.only)
		o.only = all_figures();
}

/* ---- the run ---- */

/* a device-dax pheap: the baselines go in the first directory of the pool */
static void
devdax_pool_dir(const char *heap_path)
{
	const char *env = getenv("PHEAP_POOL");
	struct stat sb;

	snprintf(pool_dir, sizeof(pool_dir), "%s", getenv("TMPDIR") &&
		*getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	while (env && *env) {
		size_t l = strcspn(env, ":");

		if (l && l < sizeof(pool_dir)) {
			char d[PATH_MAX];

			memcpy(d, env, l);
			d[l] = '\0';
			if (stat(d, &sb) == 0 && S_ISDIR(sb.st_mode)) {
				snprintf(pool_dir, sizeof(pool_dir), "%s", d);
				break;
			}
		}
		env += l + (env[l] == ':');
	}
	add_note("device-dax pheap %s: baseline files are in %s, not on "
		"the same backing", heap_path, pool_dir);
}

/* the bench's own pheap, created and attached; where its files go */
static void
heap_create(struct pheap_info *info)
{
	int ret;

	snprintf(heap_id, sizeof(heap_id), "pheap-bench-%d", (int)main_pid);
	ret = pattach(heap_id, strlen(heap_id), PHEAP_CREATE);
	if (ret)
		API_FAIL("pattach(PHEAP_CREATE)", ret);
	attached = 1;
	ret = pheap_info(info);
	if (ret)
		API_FAIL("pheap_info", ret);
	snprintf(pheap_path, sizeof(pheap_path), "%s", info->path);
	heap_base = (uintptr_t)info->base;
	if (pheap_base() != info->base)
		die("pheap_base() %p != pheap_info().base %p", pheap_base(), info->base);
	m.backend = info->backend;
	snprintf(pool_dir, sizeof(pool_dir), "%s", info->path);
	char *slash = strrchr(pool_dir, '/');

	if (slash && slash != pool_dir)
		*slash = '\0';
	if (info->backend == PHEAP_BACKEND_DEVDAX)
		devdax_pool_dir(info->path);
}

/* the pheap, grown to --size and populated, detached; the baseline file */
static void
setup(void)
{
	struct pheap_info info;
	int ret;
	long r;

	heap_create(&info);
	machine_probe();
	if (!o.json)
		print_header();
	progress("pool %s, creating a %" PRIu64 " MiB pheap and a baseline file",
		pool_dir, o.size / MiB);
	if (o.size > info.capacity)
		die("--size %" PRIu64 " exceeds the pheap's capacity %zu (free space "
			"on the pool's file system)", o.size, info.capacity);
	r = pbrk(heap_base + o.size);
	if (r < 0)
		API_FAIL("pbrk(grow to --size)", r);
	ret = pdetach();
	attached = 0;
	if (ret)
		API_FAIL("pdetach", ret);
	make_base_file(o.size);
}

static int
selected(const struct figure *f)
{
	return (o.only & (1u << f->num)) != 0;
}

/* each selected figure under its watchdog, then their after parts */
static void
run_figures(void)
{
	const struct figure *const *f;

	for (f = figures; *f; f++)
		if (selected(*f)) {
			alarm(o.quick ? 60 : 1800);	/* watchdog */
			(*f)->run();
		}
	alarm(o.quick ? 60 : 600);
	/* shrink to nothing, detach, remove: the pool is as we found it */
	heap_attach();
	heap_set(0);
	heap_detach();
	for (f = figures; *f; f++)
		if (selected(*f) && (*f)->after)
			(*f)->after();
}

int
main(int argc, char **argv)
{
	uint64_t t0;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	main_pid = getpid();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGALRM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	setup();
	t0 = now_ns();
	run_figures();
	close(base_fd);
	cleanup();
	read_loadavg(m.load1, sizeof(m.load1));
	add_note("benchmark time %.1f s (after setup); load average at the end: %s "
		"on %d CPUs", (double)(now_ns() - t0) / 1e9, m.load1, m.ncpu);
	print_results();
	return 0;
}
