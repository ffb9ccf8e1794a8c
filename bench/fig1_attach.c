/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fig1_attach.c -- figure 1: what pattach+pdetach of an existing, populated
 * heap of --size bytes costs (ms), against the kernel doing the same by
 * hand on a file of the same size on the same backing
 * (open+mmap(MAP_SHARED|MAP_POPULATE)+munmap+close) and against SysV shared
 * memory (shmget+shmat+MADV_POPULATE_WRITE+shmdt of an existing segment).
 * 1a and 1b split the pair; 1c, run after the other figures on the emptied
 * heap, is the fixed cost of the pair.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

#include "harness.h"

/* the samples, ns, one per repetition */
enum { PAIR, ATT, DET, MM, MAP, UNMAP, SHM, NT };

/* a SysV segment of size bytes that holds its pages; -1 if there is none */
static int
shm_setup(uint64_t size, key_t *keyp)
{
	void *p;

	for (int i = 0; i < 64; i++) {
		key_t key = (key_t)(((unsigned)main_pid << 8) ^ (unsigned)(0x5eb0 + i * 7919));

		shm_id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
		if (shm_id >= 0) {
			*keyp = key;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (shm_id < 0) {
		add_note("SysV baseline skipped: shmget(%" PRIu64 " bytes): %s "
			"(see /proc/sys/kernel/shmmax, shmall)", size, strerror(errno));
		return -1;
	}
	p = shmat(shm_id, NULL, 0);
	if (p == (void *)-1)
		SYS_FAIL("shmat");
	populate(p, size, 1);	/* the segment exists and holds its pages */
	shmdt(p);
	return 0;
}

/* pattach+pdetach of the bench's pheap: ns of each */
static void
attach_detach(double *att_ns, double *det_ns)
{
	uint64_t t0, t1, t2;
	int ret;

	t0 = now_ns();
	ret = pattach(heap_id, strlen(heap_id), PHEAP_ATTACH);
	if (ret)
		API_FAIL("pattach(PHEAP_ATTACH)", ret);
	attached = 1;
	t1 = now_ns();
	ret = pdetach();
	attached = 0;
	if (ret)
		API_FAIL("pdetach", ret);
	t2 = now_ns();
	*att_ns = (double)(t1 - t0);
	*det_ns = (double)(t2 - t1);
}

/* open+mmap(MAP_POPULATE) of len bytes of the baseline file, then
 * munmap+close: ns of each half */
static void
map_base(uint64_t len, double *map_ns, double *unmap_ns)
{
	uint64_t t0, t1, t2;
	void *p;
	int fd;

	t0 = now_ns();
	fd = base_open();
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		fd, 0);
	if (p == MAP_FAILED)
		SYS_FAIL("mmap(MAP_POPULATE) baseline file");
	t1 = now_ns();
	munmap(p, len);
	close(fd);
	t2 = now_ns();
	*map_ns = (double)(t1 - t0);
	*unmap_ns = (double)(t2 - t1);
}

/* shmget+shmat of the existing segment, populated for writing, shmdt: ns */
static double
map_shm(key_t key, uint64_t len)
{
	uint64_t t0 = now_ns();
	int id = shmget(key, len, 0600);
	void *p;

	if (id < 0)
		SYS_FAIL("shmget");
	p = shmat(id, NULL, 0);
	if (p == (void *)-1)
		SYS_FAIL("shmat");
	populate(p, len, 1);
	shmdt(p);
	return (double)(now_ns() - t0);
}

static void
fig1_rows(double *t[NT], int R, int have_shm, const char *hs)
{
	double h = median(t[PAIR], R) / 1e6;
	struct row *r;

	r = add_row("1", "ms", 2, h, "pattach+pdetach, existing %s pheap", hs);
	set_base(r, median(t[MM], R) / 1e6, "open+mmap(SHARED|POPULATE)+munmap+close");
	set_goal(r, G_RATIO_LE, 1.2, "<= 1.2x");
	if (have_shm) {
		r = add_row("1", "ms", 2, h, "pattach+pdetach, existing %s pheap", hs);
		set_base(r, median(t[SHM], R) / 1e6,
			"SysV shmget+shmat+MADV_POPULATE_WRITE+shmdt");
	}
	r = add_row("1a", "ms", 2, median(t[ATT], R) / 1e6, "  pattach alone");
	set_base(r, median(t[MAP], R) / 1e6, "open+mmap(SHARED|POPULATE)");
	r = add_row("1b", "ms", 2, median(t[DET], R) / 1e6, "  pdetach alone");
	set_base(r, median(t[UNMAP], R) / 1e6, "munmap+close");
}

/* pattach+pdetach of the --size pheap, against a file and a SysV segment */
static void
fig1(void)
{
	uint64_t S = o.size;
	int R = o.reps, have_shm;
	double *t[NT];
	key_t key = 0;
	char hs[32];

	for (int k = 0; k < NT; k++)
		t[k] = samples_alloc(R);
	progress("figure 1: pattach+pdetach of a %s pheap", human(S, hs, sizeof(hs)));
	have_shm = shm_setup(S, &key) == 0;
	/* warm-up, untimed: both sides start from the same cache state */
	heap_attach();
	heap_detach();
	for (int i = 0; i < R; i++) {
		attach_detach(&t[ATT][i], &t[DET][i]);
		t[PAIR][i] = t[ATT][i] + t[DET][i];
		map_base(S, &t[MAP][i], &t[UNMAP][i]);
		t[MM][i] = t[MAP][i] + t[UNMAP][i];
		if (have_shm)
			t[SHM][i] = map_shm(key, S);
	}
	if (have_shm) {
		shmctl(shm_id, IPC_RMID, NULL);
		shm_id = -1;
	}
	fig1_rows(t, R, have_shm, hs);
	for (int k = 0; k < NT; k++)
		free(t[k]);
}

/* 1c, the fixed part: pattach+pdetach of an empty pheap (break at base) */
static void
fig1_fixed(void)
{
	int R = o.reps;
	double *v = samples_alloc(R);
	double *b = samples_alloc(R);
	struct row *r;

	for (int i = 0; i < R; i++) {
		double a, d;

		attach_detach(&a, &d);
		v[i] = a + d;
		map_base(STEP, &a, &d);
		b[i] = a + d;
	}
	r = add_row("1c", "ms", 2, median(v, R) / 1e6,
		"  pattach+pdetach, empty pheap (fixed cost)");
	set_base(r, median(b, R) / 1e6, "open+mmap 2 MiB (POPULATE)+munmap+close");
	free(v);
	free(b);
}

const struct figure fig1_attach = {
	.num = 1, .name = "attach", .run = fig1, .after = fig1_fixed,
	.desc = "pattach+pdetach (ms) vs open+mmap(POPULATE)+munmap+close and SysV shm",
};
