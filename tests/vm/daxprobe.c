/*
 * daxprobe -- smoke test for the VM harness (tests/vm/run-vm.sh).
 *
 * Runs inside the guest. Maps the pmem that run-vm.sh set up with libpmem2
 * and checks that it behaves like persistent memory:
 *
 *   daxprobe write    map, report, write a pattern, persist it, read it back
 *   daxprobe verify   map, report, check the pattern a previous boot wrote
 *
 * The target comes from PHEAP_VM_DEV: a character device (devdax, mapped
 * whole) or a directory (fsdax; the file daxprobe.dat in it is used).
 * Reports the libpmem2 store granularity and the KernelPageSize and VmFlags
 * of the mapping from /proc/self/smaps.
 *
 * Exit status: 0 ok, 1 error (cannot open/map...), 2 pattern mismatch.
 *
 * Built by tests/vm/smoke-test.sh with: cc -O2 -o daxprobe daxprobe.c -lpmem2
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpmem2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAGIC 0x31424f5250584144ULL /* "DAXPROB1" */
#define PATTERN_LEN (1u << 20)		  /* bytes of pattern after the header */
#define FILE_SIZE (8u << 20)		  /* fsdax file size */

struct probe_header {
	uint64_t magic;
	uint64_t seed;
	uint64_t len;
};

/* xorshift64: deterministic pattern, different for every 8-byte word. */
static uint64_t
next_word(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static const char *
granularity_name(enum pmem2_granularity g)
{
	switch (g) {
	case PMEM2_GRANULARITY_BYTE:
		return "BYTE (eADR: CPU caches are persistent)";
	case PMEM2_GRANULARITY_CACHE_LINE:
		return "CACHE_LINE (flush cache lines, e.g. CLWB, then fence)";
	case PMEM2_GRANULARITY_PAGE:
		return "PAGE (msync/fsync needed: NOT real DAX)";
	}
	return "unknown";
}

/*
 * Print the smaps lines KernelPageSize and VmFlags of the mapping that
 * contains addr (VmFlags "sf" = MAP_SYNC, "dd"/"io"... depend on the kernel).
 */
static void
report_smaps(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in_map = 0;
	uintptr_t a = (uintptr_t)addr;

	if (f == NULL) {
		perror("daxprobe: /proc/self/smaps");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		uintptr_t start, end;

		/* A mapping header looks like "start-end perms offset ...". */
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &start, &end) == 2 &&
		    strchr(line, ':') != NULL && line[0] != ' ' &&
		    strncmp(line, "VmFlags", 7) != 0) {
			in_map = (a >= start && a < end);
			if (in_map)
				printf("daxprobe: smaps mapping: %s", line);
			continue;
		}
		if (in_map && (strncmp(line, "KernelPageSize:", 15) == 0 ||
			       strncmp(line, "VmFlags:", 8) == 0))
			printf("daxprobe: smaps %s", line);
	}
	fclose(f);
}

static int
open_target(const char *dev, int *is_devdax)
{
	struct stat st;
	int fd;

	if (stat(dev, &st) != 0) {
		fprintf(stderr, "daxprobe: stat %s: %s\n", dev, strerror(errno));
		return -1;
	}
	if (S_ISCHR(st.st_mode)) {
		*is_devdax = 1;
		fd = open(dev, O_RDWR);
		if (fd < 0)
			fprintf(stderr, "daxprobe: open %s: %s\n", dev, strerror(errno));
		return fd;
	}
	if (S_ISDIR(st.st_mode)) {
		char path[4096];
		int err;

		*is_devdax = 0;
		snprintf(path, sizeof(path), "%s/daxprobe.dat", dev);
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0) {
			fprintf(stderr, "daxprobe: open %s: %s\n", path, strerror(errno));
			return -1;
		}
		/* Allocate the blocks now: no holes to fault in later. */
		err = posix_fallocate(fd, 0, FILE_SIZE);
		if (err != 0) {
			fprintf(stderr, "daxprobe: fallocate %s: %s\n", path, strerror(err));
			close(fd);
			return -1;
		}
		printf("daxprobe: file %s (%u bytes)\n", path, FILE_SIZE);
		return fd;
	}
	fprintf(stderr, "daxprobe: %s is neither a character device nor a directory\n", dev);
	return -1;
}

int
main(int argc, char **argv)
{
	const char *dev = getenv("PHEAP_VM_DEV");
	struct pmem2_source *src = NULL;
	struct pmem2_config *cfg = NULL;
	struct pmem2_map *map = NULL;
	struct probe_header hdr;
	int is_devdax = 0, write_mode, fd, ret = 1;
	size_t src_size = 0, align = 0;
	unsigned char *base;

	if (argc != 2 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "verify") != 0)) {
		fprintf(stderr, "usage: daxprobe write|verify   (target: $PHEAP_VM_DEV)\n");
		return 1;
	}
	write_mode = strcmp(argv[1], "write") == 0;
	if (dev == NULL || *dev == '\0') {
		fprintf(stderr, "daxprobe: PHEAP_VM_DEV is not set (run me via run-vm.sh)\n");
		return 1;
	}
	printf("daxprobe: mode=%s dev=%s action=%s\n",
	       getenv("PHEAP_VM_MODE") ? getenv("PHEAP_VM_MODE") : "?", dev, argv[1]);

	fd = open_target(dev, &is_devdax);
	if (fd < 0)
		return 1;

	if (pmem2_source_from_fd(&src, fd) != 0) {
		fprintf(stderr, "daxprobe: pmem2_source_from_fd: %s\n", pmem2_errormsg());
		goto out;
	}
	if (pmem2_source_size(src, &src_size) == 0 && pmem2_source_alignment(src, &align) == 0)
		printf("daxprobe: source size=%zu alignment=%zu\n", src_size, align);
	if (pmem2_config_new(&cfg) != 0) {
		fprintf(stderr, "daxprobe: pmem2_config_new: %s\n", pmem2_errormsg());
		goto out;
	}
	/*
	 * PAGE is the weakest requirement: pmem2_map_new then succeeds on any
	 * file, and the granularity it reports tells what we really got.
	 */
	if (pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) != 0) {
		fprintf(stderr, "daxprobe: set granularity: %s\n", pmem2_errormsg());
		goto out;
	}
	if (pmem2_map_new(&map, cfg, src) != 0) {
		fprintf(stderr, "daxprobe: pmem2_map_new: %s\n", pmem2_errormsg());
		goto out;
	}
	base = pmem2_map_get_address(map);
	printf("daxprobe: mapped %zu bytes at %p\n", pmem2_map_get_size(map), (void *)base);
	printf("daxprobe: store granularity: %s\n",
	       granularity_name(pmem2_map_get_store_granularity(map)));
	report_smaps(base);

	if (pmem2_map_get_store_granularity(map) == PMEM2_GRANULARITY_PAGE) {
		fprintf(stderr, "daxprobe: FAIL: mapping is not DAX (page granularity)\n");
		goto out;
	}
	if (pmem2_map_get_size(map) < sizeof(hdr) + PATTERN_LEN) {
		fprintf(stderr, "daxprobe: mapping too small\n");
		goto out;
	}

	{
		pmem2_persist_fn persist = pmem2_get_persist_fn(map);
		pmem2_memcpy_fn pmem_memcpy = pmem2_get_memcpy_fn(map);
		uint64_t *words = (uint64_t *)(base + sizeof(hdr));
		uint64_t state;
		size_t i, n = PATTERN_LEN / sizeof(uint64_t);

		if (write_mode) {
			hdr.magic = PROBE_MAGIC;
			hdr.seed = (uint64_t)time(NULL) | 1; /* a new pattern every run */
			hdr.len = PATTERN_LEN;
			/* Pattern first, persisted; then the header that vouches for it. */
			state = hdr.seed;
			for (i = 0; i < n; i++)
				words[i] = next_word(&state);
			persist(words, PATTERN_LEN);
			pmem_memcpy(base, &hdr, sizeof(hdr), 0); /* copies + persists */
			printf("daxprobe: wrote and persisted %u bytes (seed %#" PRIx64 ")\n",
			       PATTERN_LEN, hdr.seed);
		}

		memcpy(&hdr, base, sizeof(hdr));
		if (hdr.magic != PROBE_MAGIC || hdr.len != PATTERN_LEN) {
			printf("daxprobe: FAIL: no pattern header (magic %#" PRIx64 ")\n", hdr.magic);
			ret = 2;
			goto out;
		}
		state = hdr.seed;
		for (i = 0; i < n; i++) {
			if (words[i] != next_word(&state)) {
				printf("daxprobe: FAIL: pattern mismatch at word %zu\n", i);
				ret = 2;
				goto out;
			}
		}
		printf("daxprobe: pattern OK (%u bytes, seed %#" PRIx64 ")\n", PATTERN_LEN, hdr.seed);
	}
	ret = 0;
out:
	if (map != NULL)
		pmem2_map_delete(&map);
	if (cfg != NULL)
		pmem2_config_delete(&cfg);
	if (src != NULL)
		pmem2_source_delete(&src);
	close(fd);
	return ret;
}
