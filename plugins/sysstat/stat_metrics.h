/* SPDX-License-Identifier: MIT */
/* Metrics for the core's history and watches (docs/metrics.md, "sysstat"). */
#ifndef SMCP_SYSSTAT_METRICS_H
#define SMCP_SYSSTAT_METRICS_H

#include <schedmcp/plugin.h>

#include "sample.h"

/* Shares of the CPU time that passed between two readings (stat_cpu.c). */
struct cpu_split {
	double pct[CPU_NR_FIELDS];
	double busy; /* 100 - idle - iowait */
};

/* false when no time passed between a and b */
bool cpu_split(const struct cpu_times *a, const struct cpu_times *b, struct cpu_split *ret);

/* Register the metrics and the collect callback (inside init, after the
 * first sample; s is borrowed for the plugin's life). 0 when the host has
 * no metric API; -errno. */
int stat_metrics_init(struct smcp_host *host, const struct smcp_host_api *api,
		      const struct sampler *s);
void stat_metrics_fini(void);

#endif
