/* SPDX-License-Identifier: MIT */
/* The notable-tail judge of a latency series (sl_judge.h). */
#include <math.h>
#include <string.h>

#include "sl_judge.h"

double sl_judge_baseline(double prev, double v, uint32_t steps, double floor)
{
	if (!steps)
		return v;
	if (steps < SL_JUDGE_WARMUP_STEPS)
		return fmin(prev, v);
	return prev + SL_JUDGE_EWMA_ALPHA * (fmin(v, 2 * fmax(prev, floor)) - prev);
}

bool sl_judge_step(struct sl_judge *j, const uint64_t *cum, uint64_t now_ns, bool judge,
		   uint64_t *delta, struct sl_verdict *out)
{
	uint64_t waits = 0, long_waits = 0;
	double tail, base, q, step_s = j->primed && now_ns > j->at_ns ?
						    (double)(now_ns - j->at_ns) / 1e9 : 0;
	bool notable;

	for (int b = 0; b < SL_NB; b++) {
		/* a series whose counts went back (its map entry was recreated)
		 * starts over from this step */
		delta[b] = cum[b] >= j->hist[b] ? cum[b] - j->hist[b] : 0;
		waits += delta[b];
	}
	memcpy(j->hist, cum, sizeof(j->hist));
	j->at_ns = now_ns;
	if (!j->primed) {
		j->primed = true;
		return false;
	}
	if (waits < SL_JUDGE_MIN_WAITS)
		return false;
	/* the tail judged: p99, but on a series with many short waits (a
	 * ping-pong makes 100k a second) the 20th longest, so a few hundred long
	 * waits behind CPU hogs are not hidden under the 1 % */
	q = waits > SL_JUDGE_TAIL_RANK * 100 ? 1.0 - (double)SL_JUDGE_TAIL_RANK / (double)waits :
					      0.99;
	tail = sl_hist_quantile_us(delta, q, NULL);
	if (isnan(tail))
		return false;
	for (int b = SL_NB - 1; b >= 0 && sl_hist_lo_ns((unsigned)b) >= SL_JUDGE_FLOOR_US * 1000;
	     b--)
		long_waits += delta[b];
	base = fmax(j->ewma_tail_us, SL_JUDGE_BASE_MIN_US);
	notable = judge && j->steps >= SL_JUDGE_WARMUP_STEPS && tail >= SL_JUDGE_FLOOR_US &&
		  tail >= SL_JUDGE_FACTOR * base && long_waits >= SL_JUDGE_MIN_LONG &&
		  (!j->last_ns || now_ns - j->last_ns >= SL_JUDGE_COOLDOWN_NS);
	if (notable) {
		*out = (struct sl_verdict){
			.tail_us = tail,
			.p99_us = sl_hist_quantile_us(delta, 0.99, NULL),
			.base_us = base,
			.step_s = step_s,
			.waits = waits,
			.long_waits = long_waits,
			.rank20 = q < 0.99,
		};
		j->last_ns = now_ns;
	}
	j->ewma_tail_us = sl_judge_baseline(j->ewma_tail_us, tail, j->steps, SL_JUDGE_BASE_MIN_US);
	j->steps++;
	return notable;
}
