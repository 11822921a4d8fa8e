/* SPDX-License-Identifier: MIT */
/*
 * What clients see of the metric history: the metrics://catalog resource,
 * the history://{metric} template, the query_history and what_changed tools
 * and the monitor prompt, registered through the core's host record.
 */
#ifndef SMCP_METRICS_TOOLS_H
#define SMCP_METRICS_TOOLS_H

#include <schedmcp/plugin.h>

#include "metrics_query.h"

struct series;

int metrics_tools_init(struct smcp_host *core, const struct smcp_host_api *api);

/* what_changed and the monitor prompt (metrics_changed.c). */
int metrics_changed_init(struct smcp_host *core, const struct smcp_host_api *api);

/*
 * How far apart two values of a statistic in unit are, for ranking what
 * changed: log2(1 + |after - before| / (min(|before|, |after|) + floor)),
 * where floor is what counts as noise in that unit (10 us of latency, one
 * percentage point, ten events per second). So 0 -> 0.04 % scores 0.06 and
 * a p99 of 58 us -> 12 ms scores 7.5. A NaN (no data) counts as 0; both
 * NaN: 0.
 */
double metrics_changed_significance(double before, double after, const char *unit);

/*
 * The two windows of what_changed, in steps that never overlap: after ends
 * at end_ms (the newest step at most) and spans window_ms; before ends
 * where after begins and spans baseline_ms, in coarse slots wholly before
 * after's first step when it reaches past the fine tier. When history is
 * shorter than both, before starts at the oldest step kept and, if after
 * would leave it nothing, the history is halved between them (shortened
 * then says so). 0, or -ENOENT (fewer than 2 steps of history up to
 * end_ms: *ret_have_steps says how many) or -ERANGE (a baseline shorter
 * than one coarse slot, beyond the fine tier).
 */
struct changed_plan {
	struct qrange before, after;
	uint64_t first_step, last_step; /* the history that exists up to end_ms */
	bool shortened;			/* the windows are shorter than asked */
};
int metrics_changed_plan(int64_t end_ms, int64_t window_ms, int64_t baseline_ms,
			 struct changed_plan *p, uint64_t *ret_have_steps);

/* Shared by metrics_tools.c and metrics_changed.c: a number rounded to 4
 * significant digits, or null; a time argument (text or unix seconds) and a
 * duration argument (text or seconds) with dflt when absent (0 or -EINVAL
 * with err set); completion of metric names. */
void metrics_tools_write_num(struct smcp_json *j, const char *key, double v);
int metrics_tools_arg_time(const struct smcp_args *args, const char *name, const char *dflt,
			   int64_t now, int64_t *ret, char *err, size_t errlen);
int metrics_tools_arg_duration(const struct smcp_args *args, const char *name, const char *dflt,
			       int64_t *ret, char *err, size_t errlen);
int metrics_tools_complete(void *data, const char *arg, const char *prefix,
			   const struct smcp_args *context, struct smcp_completion *out);

/* Write the labels of series s as a JSON object member "labels". */
void metrics_tools_write_labels(const struct smcp_host_api *api, struct smcp_json *j,
				const char *key, const struct series *s);

#endif
