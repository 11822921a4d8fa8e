/* SPDX-License-Identifier: MIT */
/*
 * Each CPU's split by mode over the last 1 s, 10 s and 60 s: a private table,
 * the one place sysstat keeps its own window data instead of the core's
 * history.
 *
 * Why not the core: a series per CPU and mode costs about 21 KiB of history
 * at the default tiers (15 min of 1 s steps, 24 h of 1 min), so 8 modes x
 * 256 CPUs would be 2048 of the default 4096 series and about 43 MiB of the
 * 64 MiB history_max_mb, crowding out every other plugin's series on the
 * machines where the detail matters most. The per-CPU view needs only the
 * newest 60 s, never 15 min or 24 h, so it keeps just that: the tick
 * increases of the newest steps (uint32 per CPU and mode, one step per
 * core history step) and, per window, their running sums, so a read costs
 * one copy per CPU. 60 steps x 256 CPUs is about 0.5 MiB. The machine-wide
 * split stays in the core's history (cpu_seconds_total{mode}).
 */
#ifndef SMCP_SYSSTAT_PERCPU_H
#define SMCP_SYSSTAT_PERCPU_H

#include "sample.h"

/* The windows the table answers, as their lengths. */
enum { PERCPU_1S, PERCPU_10S, PERCPU_60S, PERCPU_NR };

/* With a history step under 100 ms the 60 s window would need more steps
 * than this; it then covers the newest PERCPU_MAX_STEPS steps. */
#define PERCPU_MAX_STEPS 600

struct percpu {
	int cpus;			   /* per-CPU arrays are this long */
	int cpus_seen;			   /* 1 + the highest CPU id seen so far */
	uint32_t depth;			   /* steps the ring holds */
	uint32_t win_steps[PERCPU_NR];	   /* steps in each window */
	uint64_t pushed;		   /* steps pushed so far */
	uint32_t head;			   /* ring slot the next step goes to */
	uint32_t *ring;			   /* depth x cpus x CPU_NR_FIELDS tick increases */
	uint8_t *valid;			   /* depth x cpus: the CPU was seen at both ends */
	uint64_t (*sum)[CPU_NR_FIELDS];	   /* PERCPU_NR x cpus: increases in the window */
	uint32_t *n_valid;		   /* PERCPU_NR x cpus: steps of the window with data */
	size_t bytes;			   /* what the table allocated */
};

/* Room for cpus CPUs at history steps of step_s seconds. 0 or -ENOMEM. */
int percpu_init(struct percpu *t, int cpus, double step_s);
void percpu_fini(struct percpu *t);

/* One history step: each CPU's increase from prev to newest (NULL or
 * without /proc/stat: a step without data, so the ring stays in step with
 * the core's history). */
void percpu_push(struct percpu *t, const struct sample *prev, const struct sample *newest);

/* The window of window_s seconds (1, 10 or 60) into d[cpu][mode] (ticks)
 * and seen[cpu] (some step of the window has data). Returns the steps the
 * window covers, 0 when none. */
uint32_t percpu_window(const struct percpu *t, unsigned window_s, double (*d)[CPU_NR_FIELDS],
		       uint8_t *seen);

#endif
