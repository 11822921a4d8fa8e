/* SPDX-License-Identifier: MIT */
#include "sl_hist.h"

#include <math.h>

uint64_t sl_hist_lo_ns(unsigned b)
{
	unsigned k, s;

	if (b < 4)
		return 250ull * b;
	if (b >= SL_NB)
		b = SL_NB - 1;
	k = (b - 4) / 4;
	s = (b - 4) % 4;
	return 250ull * (4 + s) << k;
}

uint64_t sl_hist_hi_ns(unsigned b)
{
	return b + 1 < SL_NB ? sl_hist_lo_ns(b + 1) : 2 * sl_hist_lo_ns(b);
}

unsigned sl_hist_bucket(uint64_t ns)
{
	uint64_t q = ns / 250;
	unsigned k;

	if (q < 4)
		return (unsigned)q;
	k = 63 - (unsigned)__builtin_clzll(q) - 2;
	if (k >= (SL_NB - 4) / 4)
		return SL_NB - 1;
	return 4 + 4 * k + (unsigned)((q >> k) - 4);
}

unsigned sl_hist_runqlat_slot(unsigned b)
{
	/* buckets 0..7 are below 2 us: runqlat's slot 0 (log2(0) = log2(1) = 0) */
	return b < 8 ? 0 : (b - 4) / 4;
}

uint64_t sl_hist_total(const uint64_t *h)
{
	uint64_t t = 0;

	for (unsigned b = 0; b < SL_NB; b++)
		t += h[b];
	return t;
}

double sl_hist_quantile_us(const uint64_t *h, double q, unsigned *ret_bucket)
{
	uint64_t total = sl_hist_total(h), cum = 0;
	double rank;

	if (!total)
		return NAN;
	rank = ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	for (unsigned b = 0; b < SL_NB; b++) {
		double lo, hi, frac;

		if (!h[b] || (double)(cum + h[b]) < rank) {
			cum += h[b];
			continue;
		}
		lo = (double)sl_hist_lo_ns(b);
		hi = (double)sl_hist_hi_ns(b);
		/* samples spread evenly over the bucket: the i-th of n sits at
		 * (i - 0.5) / n of its width */
		frac = (rank - (double)cum - 0.5) / (double)h[b];
		if (ret_bucket)
			*ret_bucket = b;
		return (lo + (hi - lo) * frac) / 1000.0;
	}
	return NAN; /* not reached: rank <= total */
}

void sl_hist_percentiles(const uint64_t *h, struct sl_pct *out)
{
	out->samples = sl_hist_total(h);
	out->p50_bucket = out->p99_bucket = 0;
	out->p50_us = sl_hist_quantile_us(h, 0.50, &out->p50_bucket);
	out->p90_us = sl_hist_quantile_us(h, 0.90, NULL);
	out->p99_us = sl_hist_quantile_us(h, 0.99, &out->p99_bucket);
	out->p999_us = sl_hist_quantile_us(h, 0.999, NULL);
}
