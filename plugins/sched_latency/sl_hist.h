/* SPDX-License-Identifier: MIT */
/*
 * Histogram arithmetic for the sched_latency layout (sched_latency.h):
 * bucket bounds, the bucket of a value, percentiles with linear
 * interpolation inside a bucket, and runqlat's log2-microsecond slot of a
 * bucket. Pure functions; unit-tested without BPF.
 */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_NB 104 /* == SL_HIST_BUCKETS */

/* Lower bound of bucket b in ns (inclusive). */
uint64_t sl_hist_lo_ns(unsigned b);
/* Upper bound of bucket b in ns (exclusive); the last bucket is open-ended
 * and reports twice its lower bound. */
uint64_t sl_hist_hi_ns(unsigned b);
/* The bucket the BPF side puts ns into. */
unsigned sl_hist_bucket(uint64_t ns);
/* libbpf-tools runqlat slot (floor(log2(us)), 0 for < 2 us) of bucket b. */
unsigned sl_hist_runqlat_slot(unsigned b);

struct sl_pct {
	uint64_t samples;
	double p50_us, p90_us, p99_us, p999_us; /* NaN when samples == 0 */
	unsigned p50_bucket, p99_bucket;         /* for cross-checks */
};

/* Total of h[0..SL_NB). */
uint64_t sl_hist_total(const uint64_t *h);
/* Value below which a fraction q (0 < q <= 1) of the samples lie, in us,
 * interpolated inside its bucket; NaN when h is empty. *ret_bucket (may be
 * NULL) receives the bucket holding that rank. */
double sl_hist_quantile_us(const uint64_t *h, double q, unsigned *ret_bucket);
void sl_hist_percentiles(const uint64_t *h, struct sl_pct *out);

#endif
