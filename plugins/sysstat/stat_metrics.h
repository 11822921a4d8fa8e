/* SPDX-License-Identifier: MIT */
/* Metrics for the core's history and watches (docs/metrics.md, "sysstat"),
 * and the windows read back from that history. */
#ifndef SMCP_SYSSTAT_METRICS_H
#define SMCP_SYSSTAT_METRICS_H

#include <schedmcp/plugin.h>

#include "stat_window.h"

/* Shares of the CPU time that passed (per-mode increases, any unit). */
struct cpu_split {
	double pct[CPU_NR_FIELDS];
	double busy; /* 100 - idle - iowait */
};

/* false when no time passed */
bool cpu_split(const double *d, struct cpu_split *ret);
/* b - a per mode into d[CPU_NR_FIELDS] (ticks), never negative. */
void cpu_delta(const struct cpu_times *a, const struct cpu_times *b, double *d);

/* Register the metrics (inside init, after the first sample, which is
 * published as the counters' baseline; s is borrowed for the plugin's
 * life). -errno. */
int stat_metrics_init(struct smcp_host *host, const struct smcp_host_api *api,
		      const struct sampler *s);
/* Publish the newest sample: once per step, from the collect callback. */
void stat_metrics_publish(void);
/* Fill w (its id, cpu and net scratch set by the caller) with the last
 * window_ms of the core's history: covered_s, complete, end_ns, the
 * increases and means. want: WIN_WANT_*. -ENODATA when it holds none. */
int stat_metrics_window(uint64_t window_ms, unsigned want, struct win *w);
/* Steps of history the core holds for these series, and their length. */
uint32_t stat_metrics_history(double *step_s);
void stat_metrics_fini(void);

#endif
