/* SPDX-License-Identifier: MIT */
/*
 * Is this step's run-queue latency tail notable? One judge per series (a
 * CPU, a DSQ), fed the series' cumulative wait histogram once a step: the
 * step's tail against an adaptive baseline of the series' own usual tail.
 * Pure (no BPF, no host): sl_notable.c uses it for CPUs and DSQs, the unit
 * tests drive it with synthetic histograms.
 */
#ifndef SL_JUDGE_H
#define SL_JUDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "sl_hist.h"

#define SL_JUDGE_WARMUP_STEPS 3     /* steps of baseline before anything is judged */
#define SL_JUDGE_MIN_WAITS 20       /* a step tail of fewer waits says nothing */
#define SL_JUDGE_TAIL_RANK 20       /* past TAIL_RANK * 100 waits: the 20th longest */
#define SL_JUDGE_MIN_LONG 3         /* waits over the floor needed: one is noise */
#define SL_JUDGE_FLOOR_US 1000.0    /* never notable below 1 ms */
#define SL_JUDGE_BASE_MIN_US 100.0  /* the baseline used is at least this */
#define SL_JUDGE_FACTOR 4.0         /* notable at this multiple of the baseline */
#define SL_JUDGE_EWMA_ALPHA 0.1     /* ~10 steps to follow a new normal */
#define SL_JUDGE_COOLDOWN_NS (30ull * 1000000000ull) /* per series */

struct sl_judge {
	uint64_t hist[SL_NB]; /* cumulative histogram at the last step */
	double ewma_tail_us;
	uint32_t steps;       /* steps with enough waits to judge */
	uint64_t last_ns;     /* last notable step */
	uint64_t at_ns;       /* when hist was taken */
	bool primed;          /* hist holds a step: the next one can be judged */
};

struct sl_verdict {
	double tail_us, p99_us, base_us;
	double step_s; /* the step judged */
	uint64_t waits, long_waits;
	bool rank20; /* tail is the 20th longest wait, not the p99 */
};

/* The baseline after one more step of value v: the least value seen while
 * warming up (the daemon often starts in a busy moment), then an EWMA that
 * takes a step at most twice the baseline, so one burst does not lift it
 * far and a new normal is still followed (10 % a step). */
double sl_judge_baseline(double prev, double v, uint32_t steps, double floor);

/* One step of series j, whose cumulative histogram is now cum (the first
 * step only records it: what came before is of unknown length). judge: this
 * step may be reported (false when the caller has no room to report it:
 * the baseline still learns). Returns true, with
 * *out filled, when the step's tail is notable; delta (SL_NB, scratch) gets
 * the step's histogram. */
bool sl_judge_step(struct sl_judge *j, const uint64_t *cum, uint64_t now_ns, bool judge,
		   uint64_t *delta, struct sl_verdict *out);

#endif
