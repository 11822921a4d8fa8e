/* SPDX-License-Identifier: MIT */
/* The metrics of the persistence seeds: tests/metrics/test-persist.c writes
 * its stores (and `metrics-persist --seed DIR` the fuzz corpus) from them,
 * tests/fuzz/fuzz_persist.c restores payloads into them. Defined once so
 * that the fuzzer's store is the one the seeds were written from. Test code
 * only. */
#ifndef SMCP_TEST_SEED_STORE_H
#define SMCP_TEST_SEED_STORE_H

#include <math.h>

#include "host.h"
#include "metrics.h"

#define SEED_NB 8 /* buckets of the two histograms */

/* SEED_SAME: the metrics as the seeds have them. SEED_CHANGED: the gauge
 * renamed, the counter with other labels, the histogram with one bucket
 * less: what a restore must set aside. */
enum seed_variant { SEED_SAME, SEED_CHANGED };

/* What metrics_api_register() returned for each (negative: refused). */
struct seed_ids {
	int gauge, events, cum, lat, proc;
};

/* 60 s of 1 s steps and 500 s of 10 s, room for every test's series. */
static inline struct metrics_limits seed_limits(void)
{
	return (struct metrics_limits){ .step_ms = 1000,
					.fine_slots = 60,
					.coarse_slots = 50,
					.coarse_factor = 10,
					.max_bytes = 64 << 20,
					.max_series = 5000,
					.top_n = 5,
					.max_watches = 8,
					.breach_ring = 16 };
}

/* Register the five metrics as plug (in init): t_gauge_pct{cpu},
 * t_events_total{cpu}, t_cum_total, t_lat_ns{cpu} and the top-N
 * t_proc_lat_ns{pid}, both histograms with bounds 10 * 2^i ns and +Inf. */
static inline void seed_register(struct smcp_host *plug, enum seed_variant v,
				 struct seed_ids *ret_ids)
{
	static const char *const cpu[] = { "cpu" }, *const node[] = { "node" };
	static const char *const pid[] = { "pid" };
	static const double bounds[SEED_NB] = { 10, 20, 40, 80, 160, 320, 640, INFINITY };
	struct smcp_metric_desc d = { .sz = sizeof(d), .labels = cpu, .n_labels = 1 };

	plug->in_init = true;
	d.name = v == SEED_SAME ? "t_gauge_pct" : "t_gauge2_pct"; /* renamed */
	d.type = SMCP_METRIC_GAUGE;
	d.unit = "pct";
	ret_ids->gauge = metrics_api_register(plug, &d);
	d.unit = NULL;
	d.name = "t_events_total";
	d.type = SMCP_METRIC_COUNTER;
	d.labels = v == SEED_SAME ? cpu : node; /* other labels */
	ret_ids->events = metrics_api_register(plug, &d);
	d.name = "t_cum_total";
	d.labels = NULL;
	d.n_labels = 0;
	ret_ids->cum = metrics_api_register(plug, &d);
	d.name = "t_lat_ns";
	d.type = SMCP_METRIC_HISTOGRAM;
	d.labels = cpu;
	d.n_labels = 1;
	d.bucket_bounds = bounds;
	d.n_buckets = v == SEED_SAME ? SEED_NB : SEED_NB - 1; /* other buckets */
	ret_ids->lat = metrics_api_register(plug, &d);
	d.name = "t_proc_lat_ns";
	d.labels = pid;
	d.n_buckets = SEED_NB;
	d.flags = SMCP_METRIC_TOP_N;
	ret_ids->proc = metrics_api_register(plug, &d);
	plug->in_init = false;
}

#endif
