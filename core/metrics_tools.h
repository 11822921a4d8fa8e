/* SPDX-License-Identifier: MIT */
/*
 * What clients see of the metric history: the metrics://catalog resource,
 * the history://{metric} template, the query_history and what_changed tools
 * and the monitor prompt, registered through the core's host record.
 */
#ifndef SMCP_METRICS_TOOLS_H
#define SMCP_METRICS_TOOLS_H

#include <schedmcp/plugin.h>

struct series;

int metrics_tools_init(struct smcp_host *core, const struct smcp_host_api *api);

/* what_changed and the monitor prompt (metrics_changed.c). */
int metrics_changed_init(struct smcp_host *core, const struct smcp_host_api *api);

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
