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

int watch_store_init(uint32_t max_watches, uint32_t breach_ring);
void watch_store_fini(void);
/* Register watch_create, watch_delete, watch_status and watches://breaches. */
int watch_init(struct smcp_host *core, const struct smcp_host_api *api);
/* Evaluate every watch on the history up to step (just recorded). */
void watch_tick(uint64_t step);

#endif
