/* SPDX-License-Identifier: MIT */
/*
 * Heat maps of metric history (issue 21): time on x; for a histogram, its
 * buckets on y and the observations of each (summed over the matching
 * series) as colour; for a gauge or counter, one row per matching series
 * (per CPU, say) and its mean or rate as colour. Built on the loop from
 * the store (cheap: one pass over the slots of the range), drawn by
 * libsmcp-draw anywhere (a worker for a PNG answer).
 */
#ifndef SMCP_METRICS_HEAT_H
#define SMCP_METRICS_HEAT_H

#include "draw/draw.h"
#include "metrics_query.h"

#define HEAT_MAX_COLS 120
#define HEAT_MAX_ROWS 128

struct heat_map {
	struct draw_heat d; /* points into the members below */
	double *cells;
	char **labels;
	uint32_t per;	     /* slots per column */
	struct qrange r;     /* the range read */
	uint32_t row0_bucket; /* histogram: the bucket of row 0 */
	double col_secs;
	char title[200], x_first[40], x_last[40], y_name[64], value_name[96];
	char summary[1024]; /* one paragraph for a model or a person */
};

/* m's history over [start_ms, end_ms) for the series sel matches (NULL:
 * all). 0; -ENODATA with err set (nothing in the range); -ENOMEM. */
int metrics_heat_build(const struct metric *m, const struct selector *sel, const char *sel_text,
		       int64_t start_ms, int64_t end_ms, struct heat_map *out, char *err,
		       size_t errlen);
void metrics_heat_free(struct heat_map *h); /* NULL-safe */
/* The column of step slot idx (of the tier read). */
uint32_t metrics_heat_col_of(const struct heat_map *h, uint64_t idx);

#endif
