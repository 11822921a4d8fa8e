/* SPDX-License-Identifier: MIT */
/*
 * Reading the metric store: label selectors, time and duration parsing,
 * accumulating slots of several series over a range, the statistics of a
 * range (rate, mean, percentiles...), watch conditions, and numbers shown
 * with their unit. Shared by the history tools and the watches.
 */
#ifndef SMCP_METRICS_QUERY_H
#define SMCP_METRICS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "metrics_text.h"

#define SELECTOR_MAX 8

/* "cpu=3,comm=kworker*,node!=1": each value a glob (smcp_glob_match). */
struct selector {
	uint32_t n;
	struct {
		int label;
		bool neg;
		char pat[SMCP_METRIC_VALUE_MAX + 1];
	} mt[SELECTOR_MAX];
};

/* 0 or -EINVAL with err set (names the bad part and the metric's labels). */
int metrics_query_selector_parse(struct selector *sel, const struct metric *m, const char *text,
				 char *err, size_t errlen);
bool metrics_query_selector_match(const struct selector *sel, const struct series *s);
/* "cpu=3,comm=x" for s (labels of the metric, or the group's labels). */
void metrics_query_selector_format(const struct selector *sel, const struct metric *m, char *buf,
				   size_t len);

/* How series are combined slot by slot. */
enum q_agg { AGG_SUM = 0, AGG_AVG, AGG_MAX, AGG_MIN };
int metrics_query_agg_parse(const char *s, enum q_agg *ret);
const char *metrics_query_agg_name(enum q_agg a);

/* Accumulated slots of a group of series. */
struct qacc {
	uint32_t nb;
	uint64_t counts[HISTORY_MAX_BUCKETS]; /* histogram */
	uint64_t n_obs;
	double sum;			/* histogram: observed values; NaN unknown */
	uint32_t slots;			/* slots with data */
	double vsum, vmin, vmax, vlast; /* scalar: combined values per slot */
	double slot_secs;		/* the length of one slot of the tier read */
};

void metrics_query_qacc_init(struct qacc *a, const struct metric *m, enum history_tier t);
/* Add slots [from, to] of tier t of the ng series in g, combined by agg. */
void metrics_query_qacc_add(struct qacc *a, const struct metric *m, struct series *const *g,
			    uint32_t ng, enum history_tier t, uint64_t from, uint64_t to,
			    enum q_agg agg);

enum q_stat {
	ST_VALUE = 0, /* gauge: the newest value */
	ST_MEAN,      /* gauge: mean; histogram: mean observed value */
	ST_MIN,
	ST_MAX,
	ST_RATE,     /* counter: increase per second; histogram: observations per second */
	ST_INCREASE, /* counter: increase over the range */
	ST_COUNT,    /* histogram: observations */
	ST_P50,
	ST_P90,
	ST_P95,
	ST_P99,
	ST_P999,
	ST__N,
};
const char *metrics_query_stat_name(enum q_stat s);
int metrics_query_stat_parse(const char *s, enum q_stat *ret);
bool metrics_query_stat_valid_for(enum q_stat s, enum smcp_metric_type t);
/* The unit of a statistic of m ("ns", "1/s"...). */
const char *metrics_query_stat_unit(enum q_stat s, const struct metric *m, char *buf, size_t len);
/* NaN when unknown (no data, no samples). */
double metrics_query_qacc_stat(const struct qacc *a, const struct metric *m, enum q_stat s);
/* Quantile q of counts[nb] over bounds, interpolated inside the bucket. */
double metrics_query_hist_quantile(const uint64_t *counts, uint32_t nb, const double *bounds,
				   double q);

/* Resolve a range of unix ms to tier slots; false when nothing is covered.
 * The fine tier is chosen when it still holds the start. */
struct qrange {
	enum history_tier tier;
	uint64_t from, to; /* slot indices, inclusive */
	bool clipped;	   /* the start was before what history holds */
};
bool metrics_query_qrange_resolve(int64_t start_ms, int64_t end_ms, struct qrange *r);
/* The unix ms where slot idx of tier t begins. */
int64_t metrics_query_slot_unix_ms(enum history_tier t, uint64_t idx);

#endif
