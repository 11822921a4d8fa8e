/* SPDX-License-Identifier: MIT */
/* The context snapshot of a breach: the newest values of the metrics plugins
 * flag SMCP_METRIC_CONTEXT (busiest processes by latency, the scheduler in
 * charge, CPU load), read from the history, never from the plugins. */
#include <math.h>
#include <stdlib.h>

#include "watch_impl.h"

struct ranked {
	const struct series *s;
	double key;
};

static int by_key_desc(const void *a, const void *b)
{
	double x = ((const struct ranked *)a)->key, y = ((const struct ranked *)b)->key;

	return (x < y) - (x > y);
}

static cJSON *labels_json(const struct series *s)
{
	cJSON *o = cJSON_CreateObject();

	for (uint32_t i = 0; o && i < s->m->n_labels; i++)
		cJSON_AddStringToObject(o, s->m->label[i], series_label(s, i));
	return o;
}

static void add_num(cJSON *o, const char *k, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, k, metrics_text_round_sig(v));
	else
		cJSON_AddNullToObject(o, k);
}

/* The latest values of one CONTEXT metric, busiest series first. */
static cJSON *context_metric(const struct metric *m, uint64_t from, uint64_t to)
{
	cJSON *o = cJSON_CreateObject(), *arr;
	struct ranked *r;
	uint32_t n = 0;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", metrics_type_name(m->type));
	cJSON_AddStringToObject(o, "unit", m->unit);
	arr = cJSON_AddArrayToObject(o, "series");
	r = calloc(m->n_series ? m->n_series : 1, sizeof(*r));
	if (!r || !arr)
		goto out;
	for (uint32_t i = 0; i < m->n_series; i++) {
		struct series *s = m->series[i];
		struct qacc a;
		double key;

		metrics_query_qacc_init(&a, m, TIER_FINE);
		metrics_query_qacc_add(&a, m, &s, 1, TIER_FINE, from, to, AGG_SUM);
		if (!a.slots)
			continue;
		if (m->type == SMCP_METRIC_HISTOGRAM)
			key = a.n_obs ? metrics_query_qacc_stat(&a, m, ST_MEAN) * (double)a.n_obs
				      : 0;
		else if (m->type == SMCP_METRIC_COUNTER)
			key = metrics_query_qacc_stat(&a, m, ST_RATE);
		else
			key = metrics_query_qacc_stat(&a, m, ST_VALUE);
		r[n++] = (struct ranked){ s, isfinite(key) ? key : -INFINITY };
	}
	qsort(r, n, sizeof(*r), by_key_desc);
	for (uint32_t i = 0; i < n && i < CONTEXT_TOP; i++) {
		struct series *s = (struct series *)r[i].s;
		cJSON *e = cJSON_CreateObject();
		struct qacc a;

		if (!e)
			break;
		metrics_query_qacc_init(&a, m, TIER_FINE);
		metrics_query_qacc_add(&a, m, &s, 1, TIER_FINE, from, to, AGG_SUM);
		if (m->n_labels)
			cJSON_AddItemToObject(e, "labels", labels_json(s));
		if (m->type == SMCP_METRIC_HISTOGRAM) {
			cJSON_AddNumberToObject(e, "n", (double)a.n_obs);
			add_num(e, "p50", metrics_query_qacc_stat(&a, m, ST_P50));
			add_num(e, "p99", metrics_query_qacc_stat(&a, m, ST_P99));
			add_num(e, "mean", metrics_query_qacc_stat(&a, m, ST_MEAN));
		} else if (m->type == SMCP_METRIC_COUNTER) {
			add_num(e, "rate_per_s", metrics_query_qacc_stat(&a, m, ST_RATE));
		} else {
			add_num(e, "value", metrics_query_qacc_stat(&a, m, ST_VALUE));
		}
		cJSON_AddItemToArray(arr, e);
	}
	if (n > CONTEXT_TOP)
		cJSON_AddNumberToObject(o, "more_series", n - CONTEXT_TOP);
out:
	free(r);
	return o;
}

cJSON *watch_context_snapshot(double window_secs, uint64_t step)
{
	uint64_t n =
		(uint64_t)ceil((window_secs < 10 ? 10 : window_secs) / metrics_step_secs() - 1e-9);
	uint64_t from = step + 1 > n ? step + 1 - n : 0;
	cJSON *ctx = cJSON_CreateObject();
	uint32_t used = 0;

	if (!ctx)
		return NULL;
	cJSON_AddNumberToObject(
		ctx, "window_secs",
		metrics_text_round_sig((double)(step + 1 - from) * metrics_step_secs()));
	for (uint32_t i = 0; i < metrics_view()->n_metrics && used < CONTEXT_METRICS; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead || !(m->flags & SMCP_METRIC_CONTEXT))
			continue;
		cJSON_AddItemToObject(ctx, m->name, context_metric(m, from, step));
		used++;
	}
	if (!used)
		cJSON_AddStringToObject(
			ctx, "note",
			"no plugin publishes context metrics (per-process latency, "
			"scheduler, CPU load); schedmcp://plugins says which plugins are "
			"loaded and why the others are not");
	return ctx;
}
