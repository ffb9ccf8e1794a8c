/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * interrupt.c -- SIGINT, SIGTERM and SIGHUP while work that must clean up
 * after itself runs (an export writing FILE, an import --archive from its
 * creation on): the signal is noted, not obeyed at once; the work sees it
 * at its next step (ctl_signalled), fails and cleans up -- the part-written
 * FILE removed, the half-imported pheap destroyed -- and the signal is then
 * raised again with its default action, so the process still dies of it.
 * A signal that was ignored (a background job's SIGINT) stays ignored.
 * SIGKILL cannot be caught: then a part-written FILE, or a new pheap of
 * mode 0600, is left.
 */
#include <signal.h>
#include <string.h>

#include "pheapctl.h"

static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define NSIGS ((int)(sizeof(sigs) / sizeof(sigs[0])))

static volatile sig_atomic_t noted;
static struct sigaction saved[NSIGS];
static int held;

static void
note(int sig)
{
	noted = sig;
}

void
ctl_hold_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NSIGS; i++) {
		sigaction(sigs[i], NULL, &saved[i]);
		if (saved[i].sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
	held = 1;
}

int
ctl_signalled(void)
{
	return noted;
}

void
ctl_release_signals(void)
{
	int sig = noted;

	if (!held)
		return;
	for (int i = 0; i < NSIGS; i++)
		sigaction(sigs[i], &saved[i], NULL);
	held = 0;
	if (sig) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}
