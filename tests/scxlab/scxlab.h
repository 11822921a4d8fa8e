/* SPDX-License-Identifier: MIT */
/* Types and ids shared by the lab's test schedulers (BPF side) and their
 * loader, scxlab-sched (user side). Fixed-width types only. */
#ifndef SCXLAB_H
#define SCXLAB_H

/* DSQ ids of the lab schedulers: distinct per scheduler, so one daemon run
 * can tell them apart in stats://aggregated/dsq. */
#define SCXLAB_FIFO_DSQ 1000
#define SCXLAB_VTIME_WAKE_DSQ 2000
#define SCXLAB_VTIME_BATCH_DSQ 2001
#define SCXLAB_PCPU_DSQ_BASE 3000
/* The per-CPU scheduler makes DSQs for this many CPUs at most (CPUs above
 * share them modulo): its dispatch loop is verified once per CPU, and the
 * BPF verifier is slow in the lab's TCG guest. */
#define SCXLAB_MAX_CPUS 8

/* Why the kernel stopped the scheduler (ops.exit). */
struct scxlab_exit {
	__s64 kind; /* enum scx_exit_kind; 0 while running */
	__s64 exit_code;
	char reason[128];
	char msg[256];
};

#define SCXLAB_NDSQ 4 /* counter slots; the per-CPU scheduler folds CPUs >= 3 in slot 3 */

/* What the scheduler itself did, per DSQ slot. */
struct scxlab_counts {
	__u64 inserted[SCXLAB_NDSQ];
	__u64 moved[SCXLAB_NDSQ]; /* move_to_local that found a task */
};

#endif
