/* SPDX-License-Identifier: MIT */
/* Metrics for the core's history and watches (docs/metrics.md, "sysstat"),
 * and the windows read back from that history. */
#ifndef SMCP_SYSSTAT_METRICS_H
#define SMCP_SYSSTAT_METRICS_H

#include <schedmcp/plugin.h>

#include "stat_window.h"

/* Shares of the CPU time that passed (per-mode increases, any unit). */
struct stat_metrics_cpu_split {
	double pct[CPU_NR_FIELDS];
	double busy; /* 100 - idle - iowait */
};

/* false when no time passed */
bool stat_metrics_cpu_split(const double *d, struct stat_metrics_cpu_split *ret);
/* b - a per mode into d[CPU_NR_FIELDS] (ticks), never negative. */
void stat_metrics_cpu_delta(const struct cpu_times *a, const struct cpu_times *b, double *d);

/* Register the metrics (inside init, after the first sample, which is
 * published as the counters' baseline; s is borrowed for the plugin's
 * life). -errno. */
int stat_metrics_init(struct smcp_host *host, const struct smcp_host_api *api,
		      const struct sampler *s);
/* Publish the newest sample: once per step, from the collect callback. */
void stat_metrics_publish(void);
/* The steps some series read holds over a window (0: none of them holds
 * data there), their length and the end of the newest. */
struct win_span {
	uint32_t steps;
	double step_s;
	uint64_t end_ns;
};

/* The machine's figures over the last window_ms of the core's history into
 * w (the increases and means), and the span they cover into *sp. */
void stat_metrics_totals(uint64_t window_ms, struct win *w, struct win_span *sp);
/* Each interface's increases over the same into w->net and w->net_seen. */
void stat_metrics_ifaces(uint64_t window_ms, struct win *w, struct win_span *sp);
/* Mean run-queue figures over the newest window_ms of the core's history:
 * false unless both are known over all of it. */
bool stat_metrics_procs(uint64_t window_ms, double *running, double *blocked);
/* Steps of history the core holds for these series, and their length. */
uint32_t stat_metrics_history(double *step_s);
void stat_metrics_fini(void);

#endif
