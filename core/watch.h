/* SPDX-License-Identifier: MIT */
/*
 * Watches: a condition on a metric ("p99 > 2ms") that must hold for
 * for_secs before it fires, evaluated on the history at every sample tick.
 * A firing watch records one breach (with a context snapshot read from the
 * metrics flagged SMCP_METRIC_CONTEXT) and stays firing until the value is
 * back past the threshold by hysteresis_pct for clear_secs, which records a
 * clear. Breaches reach clients three ways: watch_status (a cursor over the
 * bounded breach ring), notifications/message at warning level (logger
 * "watch"), and notifications/resources/updated on watches://breaches.
 */
#ifndef SMCP_WATCH_H
#define SMCP_WATCH_H

#include <schedmcp/plugin.h>
#include <stdint.h>

/* Room for a selector as metrics_query_selector_format() writes it: 8 matchers of a
 * 63-byte label, "!=" and a 63-byte pattern, comma-separated. */
#define WATCH_LABELS_MAX 1040

/* A watch's definition: what watch_create took, with the labels and the
 * condition as the watch formatted them (they parse back to the same
 * watch). Kept across restarts by core/persist.c. */
struct watch_def {
	uint32_t id; /* 0: the next free id */
	char name[64];
	char metric[SMCP_METRIC_NAME_MAX + 1];
	char labels[WATCH_LABELS_MAX];
	char condition[96];
	char agg[8]; /* sum, avg, max, min; "": the metric type's default */
	double for_secs, window_secs, clear_secs, hysteresis_pct;
	uint32_t min_samples;
	int64_t created_ms; /* 0: now */
};

/* Create a watch from d. Returns its id, or -ENOENT (no such metric),
 * -ENOSPC (max_watches), -EINVAL (labels, condition or agg), -EEXIST (id
 * taken), -ENOMEM; err says why in words a model can act on. */
int watch_add(const struct watch_def *d, char *err, size_t errlen);
/* The watches there are, and the definition of the i-th (0-based). */
uint32_t watch_count(void);
void watch_get_def(uint32_t i, struct watch_def *d);
/* Bumped whenever a watch is created or deleted. */
uint32_t watch_generation(void);

/* The watches' memory, attached to the metric store (metrics_on_step);
 * after metrics_store_init(). */
int watch_store_init(uint32_t max_watches, uint32_t breach_ring);
void watch_store_fini(void);
/* watch_store_init() with the configured limits, and register watch_create,
 * watch_delete, watch_status and watches://breaches. */
int watch_tools_init(struct smcp_host *core, const struct smcp_host_api *api);
/* Evaluate every watch on the history up to step (just recorded). */
void watch_tick(uint64_t step);

#endif
