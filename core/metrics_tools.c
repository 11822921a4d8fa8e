/* SPDX-License-Identifier: MIT */
#include "metrics_tools.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/glob.h>

#include "host.h"
#include "metrics.h"
#include "metrics_heat.h"
#include "metrics_query.h"

#define CATALOG_MAX 200
#define MAX_POINTS 300
#define MAX_CELLS 6000 /* values in one answer, all series together */
#define AUTO_POINTS 30
#define MAX_COLS 6

static const struct smcp_host_api *api;
static struct smcp_host *core_host; /* owner of the drawing jobs */

/* ---------------------------------------------------------------- catalog */

void metrics_tools_write_labels(const struct smcp_host_api *a, struct smcp_json *j, const char *key,
				const struct series *s)
{
	a->json_object(j, key);
	for (uint32_t i = 0; i < s->m->n_labels; i++)
		a->json_string(j, s->m->label[i], series_label(s, i));
	a->json_end(j);
}

static void write_store(struct smcp_json *j)
{
	const struct history_geom *g = &metrics_view()->geom;
	double st = metrics_step_secs();
	char buf[96];

	api->json_object(j, "store");
	api->json_uint(j, "series", metrics_view()->n_series);
	api->json_uint(j, "max_series", metrics_view()->lim.max_series);
	api->json_uint(j, "top_n", metrics_view()->lim.top_n);
	api->json_uint(j, "bytes_used", metrics_view()->budget.used);
	api->json_uint(j, "bytes_max", metrics_view()->budget.max);
	api->json_uint(j, "series_refused", metrics_view()->refused_series);
	api->json_uint(j, "allocations_refused", metrics_view()->budget.refused);
	snprintf(buf, sizeof(buf), "%gs steps x %u (%g min)", st, g->fine_slots,
		 st * g->fine_slots / 60);
	api->json_string(j, "fine", buf);
	snprintf(buf, sizeof(buf), "%gs steps x %u (%g h)", st * g->factor, g->coarse_slots,
		 st * g->factor * g->coarse_slots / 3600);
	api->json_string(j, "coarse", buf);
	api->json_double(j, "tick_us_last",
			 metrics_text_round_sig((double)metrics_view()->tick_ns_last / 1e3));
	api->json_double(j, "tick_us_avg",
			 metrics_view()->ticks
				 ? metrics_text_round_sig((double)metrics_view()->tick_ns_sum /
							  1e3 / metrics_view()->ticks)
				 : 0);
	api->json_double(j, "tick_us_max",
			 metrics_text_round_sig((double)metrics_view()->tick_ns_max / 1e3));
	api->json_end(j);
}

static void write_catalog(struct smcp_json *j, const char *glob)
{
	uint32_t shown = 0, matched = 0;
	bool full = false;

	/* the store first: the list ends where the answer is full */
	write_store(j);
	api->json_array(j, "metrics");
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead || (glob && !smcp_glob_match(glob, m->name)))
			continue;
		if (matched++ >= CATALOG_MAX || full)
			continue;
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_string(j, "name", m->name);
		api->json_string(j, "type", metrics_type_name(m->type));
		api->json_string(j, "unit", m->unit);
		api->json_array(j, "labels");
		for (uint32_t k = 0; k < m->n_labels; k++)
			api->json_string(j, NULL, m->label[k]);
		api->json_end(j);
		api->json_string(j, "help", m->help);
		api->json_string(j, "plugin", m->owner->name);
		api->json_uint(j, "series", m->n_series);
		if (m->flags & SMCP_METRIC_TOP_N)
			api->json_bool(j, "top_n", true);
		if (m->flags & SMCP_METRIC_CONTEXT)
			api->json_bool(j, "context", true);
		if (m->refused)
			api->json_uint(j, "refused_publishes", m->refused);
		if (m->evicted)
			api->json_uint(j, "evicted_series", m->evicted);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j))
			full = true; /* max_result_bytes: count the rest */
		else
			shown++;
	}
	api->json_end(j);
	if (matched > shown) {
		char note[160];

		snprintf(note, sizeof(note),
			 "cut: %u of %u metrics shown; pass a glob as metric (e.g. \"sched_*\") "
			 "to narrow",
			 shown, matched);
		api->json_string(j, "cut", note);
	}
}

static int catalog_read(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);

	if (!j)
		return -ENOMEM;
	write_catalog(j, NULL);
	api->json_string(j, "note",
			 "Every metric the plugins publish, with the history the core keeps of it. "
			 "Read history://{name} for a summary or call query_history for a range; "
			 "what_changed compares two windows; watch_create alerts on a condition.");
	return 0;
}

/* ------------------------------------------------------------------ query */

struct qparams {
	const struct metric *m;
	struct selector sel;
	bool grouped, total; /* group_by given; "all" */
	int group_labels[SMCP_METRIC_MAX_LABELS];
	uint32_t n_group;
	int64_t start_ms, end_ms;
	double step_secs; /* 0: automatic */
	enum q_agg agg;
	enum q_stat cols[MAX_COLS];
	uint32_t n_cols;
	uint32_t limit;
};

struct group {
	char key[METRIC_LV_BYTES];
	struct series **s;
	uint32_t n, cap;
	struct series *first; /* for its labels */
	double rank;
};

static void default_cols(struct qparams *q, bool single_slot)
{
	static const enum q_stat hist[] = { ST_COUNT, ST_P50, ST_P99, ST_MEAN };
	static const enum q_stat gauge[] = { ST_MEAN, ST_MAX };

	switch (q->m->type) {
	case SMCP_METRIC_COUNTER:
		q->cols[0] = ST_RATE;
		q->n_cols = 1;
		break;
	case SMCP_METRIC_GAUGE:
		memcpy(q->cols, gauge, sizeof(gauge));
		q->n_cols = single_slot ? 1 : 2;
		if (single_slot)
			q->cols[0] = ST_VALUE;
		break;
	case SMCP_METRIC_HISTOGRAM:
		memcpy(q->cols, hist, sizeof(hist));
		q->n_cols = 4;
		break;
	}
}

/* The next word of a list separated by commas and spaces, cut to cap - 1
 * bytes, into out; its length (0 at the end) and *p moved past it. */
static size_t next_word(const char **p, char *out, size_t cap)
{
	size_t n = 0;

	while (**p == ' ' || **p == ',')
		(*p)++;
	while (**p && **p != ',' && **p != ' ' && n < cap - 1)
		out[n++] = *(*p)++;
	out[n] = '\0';
	return n;
}

static int parse_cols(struct qparams *q, const char *text, char *err, size_t errlen)
{
	const char *p = text;

	q->n_cols = 0;
	while (*p) {
		char name[16];
		enum q_stat st;

		if (!next_word(&p, name, sizeof(name)))
			break;
		if (metrics_query_stat_parse(name, &st) ||
		    !metrics_query_stat_valid_for(st, q->m->type)) {
			snprintf(err, errlen, "stats: '%s' is not a statistic of a %s", name,
				 metrics_type_name(q->m->type));
			return -EINVAL;
		}
		if (q->n_cols == MAX_COLS) {
			snprintf(err, errlen, "stats: at most %d", MAX_COLS);
			return -EINVAL;
		}
		q->cols[q->n_cols++] = st;
	}
	return 0;
}

static int parse_group_by(struct qparams *q, const char *text, char *err, size_t errlen)
{
	const char *p = text;

	q->grouped = true;
	q->n_group = 0;
	if (!*text || strcmp(text, "all") == 0 || strcmp(text, "*") == 0) {
		q->total = true;
		return 0;
	}
	while (*p) {
		char name[SMCP_METRIC_NAME_MAX + 1];
		int idx;

		if (!next_word(&p, name, sizeof(name)))
			break;
		idx = metrics_label_index(q->m, name);
		if (idx < 0 || q->n_group == SMCP_METRIC_MAX_LABELS) {
			char labels[200] = "";
			size_t k = 0;

			for (uint32_t i = 0; i < q->m->n_labels && k < sizeof(labels); i++)
				k += (size_t)snprintf(labels + k, sizeof(labels) - k, "%s%s",
						      i ? ", " : "", q->m->label[i]);
			snprintf(err, errlen,
				 "group_by: %s has no label '%s' (its labels: %s; or 'all' for one "
				 "total)",
				 q->m->name, name, *labels ? labels : "none");
			return -EINVAL;
		}
		q->group_labels[q->n_group++] = idx;
	}
	q->total = !q->n_group;
	return 0;
}

static void group_key(const struct qparams *q, const struct series *s, char *key, size_t len)
{
	size_t n = 0;

	key[0] = '\0';
	if (!q->grouped) {
		snprintf(key, len, "%p", (const void *)s);
		return;
	}
	for (uint32_t i = 0; i < q->n_group && n < len; i++)
		n += (size_t)snprintf(key + n, len - n, "%s\x1f",
				      series_label(s, (uint32_t)q->group_labels[i]));
}

static void groups_free(struct group *g, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(g[i].s);
	free(g);
}

/* Series matching the selector, gathered into groups; NULL on ENOMEM. */
static struct group *make_groups(const struct qparams *q, uint32_t *ret_n, uint32_t *ret_matched)
{
	const struct metric *m = q->m;
	struct group *g = calloc(m->n_series ? m->n_series : 1, sizeof(*g));
	uint32_t n = 0, matched = 0;

	if (!g)
		return NULL;
	for (uint32_t i = 0; i < m->n_series; i++) {
		struct series *s = m->series[i];
		char key[METRIC_LV_BYTES];
		struct group *gr = NULL;

		if (!metrics_query_selector_match(&q->sel, s))
			continue;
		matched++;
		group_key(q, s, key, sizeof(key));
		for (uint32_t k = 0; k < n && q->grouped; k++)
			if (strcmp(g[k].key, key) == 0)
				gr = &g[k];
		if (!gr) {
			gr = &g[n++];
			snprintf(gr->key, sizeof(gr->key), "%s", key);
			gr->first = s;
		}
		if (gr->n == gr->cap) {
			uint32_t cap = gr->cap ? gr->cap * 2 : 4;
			struct series **ns = realloc(gr->s, cap * sizeof(*ns));

			if (!ns) {
				groups_free(g, n);
				return NULL;
			}
			gr->s = ns;
			gr->cap = cap;
		}
		gr->s[gr->n++] = s;
	}
	*ret_n = n;
	*ret_matched = matched;
	return g;
}

static int by_rank_desc(const void *a, const void *b)
{
	double x = ((const struct group *)a)->rank, y = ((const struct group *)b)->rank;

	if (isnan(x))
		x = -INFINITY;
	if (isnan(y))
		y = -INFINITY;
	return (x < y) - (x > y);
}

void metrics_tools_write_num(struct smcp_json *j, const char *key, double v)
{
	if (isfinite(v))
		api->json_double(j, key, metrics_text_round_sig(v));
	else
		api->json_null(j, key);
}

static void write_group_labels(struct smcp_json *j, const struct qparams *q, const struct group *g)
{
	api->json_object(j, "labels");
	if (!q->grouped) {
		for (uint32_t i = 0; i < q->m->n_labels; i++)
			api->json_string(j, q->m->label[i], series_label(g->first, i));
	} else {
		for (uint32_t i = 0; i < q->n_group; i++)
			api->json_string(j, q->m->label[q->group_labels[i]],
					 series_label(g->first, (uint32_t)q->group_labels[i]));
	}
	api->json_end(j);
	if (q->grouped)
		api->json_uint(j, "series_combined", g->n);
}

static void write_summary(struct smcp_json *j, const struct metric *m, const struct qacc *a)
{
	static const enum q_stat hist[] = { ST_COUNT, ST_RATE, ST_MEAN, ST_P50,
					    ST_P90,   ST_P99,  ST_P999, ST_MAX };
	static const enum q_stat gauge[] = { ST_MEAN, ST_MIN, ST_MAX, ST_VALUE };
	static const enum q_stat counter[] = { ST_RATE, ST_MAX, ST_INCREASE };
	const enum q_stat *st = m->type == SMCP_METRIC_HISTOGRAM ? hist
				: m->type == SMCP_METRIC_GAUGE	 ? gauge
								 : counter;
	size_t n = m->type == SMCP_METRIC_HISTOGRAM ? 8 : m->type == SMCP_METRIC_GAUGE ? 4 : 3;

	api->json_object(j, "summary");
	for (size_t i = 0; i < n; i++) {
		const char *name = metrics_query_stat_name(st[i]);

		if (m->type == SMCP_METRIC_GAUGE && st[i] == ST_VALUE)
			name = "last";
		if (m->type == SMCP_METRIC_COUNTER && st[i] == ST_MAX)
			name = "peak_rate";
		metrics_tools_write_num(j, name, metrics_query_qacc_stat(a, m, st[i]));
	}
	api->json_end(j);
}

static double group_rank(const struct metric *m, const struct qacc *a)
{
	switch (m->type) {
	case SMCP_METRIC_HISTOGRAM:
		return a->n_obs ? metrics_query_qacc_stat(a, m, ST_P99) : NAN;
	case SMCP_METRIC_COUNTER:
		return metrics_query_qacc_stat(a, m, ST_RATE);
	default:
		return metrics_query_qacc_stat(a, m, ST_MEAN);
	}
}

/* The answer of query_history (and of a history://{metric} read). */
static int write_query(struct smcp_json *j, struct qparams *q, struct smcp_result *res)
{
	const struct metric *m = q->m;
	uint32_t ng = 0, matched = 0, shown, npoints;
	uint64_t per, span;
	struct group *g;
	struct qrange r;
	struct qacc *a;
	char buf[200], unit[24];
	bool size_cut = false;
	double slot_secs;

	if (!metrics_query_qrange_resolve(q->start_ms, q->end_ms, &r)) {
		return api->result_error(res,
					 "no history in that range yet (history starts %s and "
					 "steps are %gs); widen or move the range",
					 metrics_view()->any_step ? "with the first step" : "after one step",
					 metrics_step_secs());
	}
	slot_secs = metrics_step_secs() * (r.tier == TIER_COARSE ? metrics_view()->geom.factor : 1);
	span = r.to - r.from + 1;
	if (q->step_secs > 0)
		per = (uint64_t)ceil(q->step_secs / slot_secs - 1e-9);
	else
		per = (span + AUTO_POINTS - 1) / AUTO_POINTS;
	if (per < 1)
		per = 1;
	if (!q->n_cols)
		default_cols(q, per == 1 && r.tier == TIER_FINE);
	g = make_groups(q, &ng, &matched);
	a = malloc(sizeof(*a));
	if (!g || !a) {
		free(a);
		if (g)
			groups_free(g, ng);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ng; i++) {
		metrics_query_qacc_init(a, m, r.tier);
		metrics_query_qacc_add(a, m, g[i].s, g[i].n, r.tier, r.from, r.to, q->agg);
		g[i].rank = group_rank(m, a);
	}
	qsort(g, ng, sizeof(*g), by_rank_desc);
	shown = ng < q->limit ? ng : q->limit;
	/* keep every answer bounded: coarser points before fewer series */
	while ((span + per - 1) / per > MAX_POINTS ||
	       (uint64_t)shown * ((span + per - 1) / per) * (q->n_cols + 1) > MAX_CELLS)
		per++;
	npoints = (uint32_t)((span + per - 1) / per);

	api->json_string(j, "metric", m->name);
	api->json_string(j, "type", metrics_type_name(m->type));
	api->json_string(j, "unit", m->unit);
	api->json_string(j, "help", m->help);
	api->json_object(j, "range");
	metrics_text_format_time(metrics_query_slot_unix_ms(r.tier, r.from), buf, sizeof(buf));
	api->json_string(j, "start", buf);
	metrics_text_format_time(metrics_query_slot_unix_ms(r.tier, r.to + 1), buf, sizeof(buf));
	api->json_string(j, "end", buf);
	api->json_double(j, "step_secs", metrics_text_round_sig(per * slot_secs));
	api->json_string(j, "tier", r.tier == TIER_FINE ? "fine" : "coarse");
	if (r.clipped)
		api->json_string(j, "note",
				 "the range starts before the history kept; it was "
				 "cut to what exists");
	api->json_end(j);
	api->json_uint(j, "series_matched", matched);
	if (q->grouped)
		api->json_uint(j, "groups", ng);
	api->json_array(j, "columns");
	api->json_string(j, NULL, "t");
	for (uint32_t c = 0; c < q->n_cols; c++)
		api->json_string(j, NULL, metrics_query_stat_name(q->cols[c]));
	api->json_end(j);
	api->json_array(j, "column_units");
	api->json_string(j, NULL, "unix_s");
	for (uint32_t c = 0; c < q->n_cols; c++)
		api->json_string(j, NULL,
				 metrics_query_stat_unit(q->cols[c], m, unit, sizeof(unit)));
	api->json_end(j);
	api->json_array(j, "series");
	for (uint32_t i = 0; i < shown; i++) {
		metrics_query_qacc_init(a, m, r.tier);
		metrics_query_qacc_add(a, m, g[i].s, g[i].n, r.tier, r.from, r.to, q->agg);
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		write_group_labels(j, q, &g[i]);
		write_summary(j, m, a);
		api->json_array(j, "points");
		for (uint32_t p = 0; p < npoints; p++) {
			uint64_t from = r.from + p * per, to = from + per - 1;

			if (to > r.to)
				to = r.to;
			metrics_query_qacc_init(a, m, r.tier);
			metrics_query_qacc_add(a, m, g[i].s, g[i].n, r.tier, from, to, q->agg);
			if (!a->slots)
				continue; /* no data: no point */
			api->json_array(j, NULL);
			api->json_int(j, NULL, metrics_query_slot_unix_ms(r.tier, from) / 1000);
			for (uint32_t c = 0; c < q->n_cols; c++)
				metrics_tools_write_num(j, NULL,
							metrics_query_qacc_stat(a, m, q->cols[c]));
			api->json_end(j);
		}
		api->json_end(j);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j)) {
			shown = i; /* the answer is full (max_result_bytes) */
			size_cut = true;
			break;
		}
	}
	api->json_end(j);
	if (shown < ng) {
		snprintf(buf, sizeof(buf),
			 "cut: %u of %u %s shown, ranked by %s%s; narrow with labels or group_by, "
			 "or %s",
			 shown, ng, q->grouped ? "groups" : "series",
			 m->type == SMCP_METRIC_HISTOGRAM ? "p99"
			 : m->type == SMCP_METRIC_COUNTER ? "rate"
							  : "mean",
			 size_cut ? " (the answer size limit)" : "",
			 size_cut ? "a coarser step" : "raise limit (max 50)");
		api->json_string(j, "cut", buf);
	}
	if (!matched)
		api->json_string(j, "note",
				 m->n_series ? "no series matches labels"
					     : "the metric has no series yet");
	free(a);
	groups_free(g, ng);
	return 0;
}

/* A time argument given as text or as unix seconds. */
int metrics_tools_arg_time(const struct smcp_args *args, const char *name, const char *dflt,
			   int64_t now, int64_t *ret, char *err, size_t errlen)
{
	const char *s = dflt;
	double d;

	if (api->arg_string(args, name, &s) == -EINVAL) {
		if (api->arg_double(args, name, &d) || d < 1e9) {
			snprintf(err, errlen,
				 "%s: give a time such as \"-15m\", \"14:02\" or "
				 "unix seconds",
				 name);
			return -EINVAL;
		}
		*ret = (int64_t)(d * 1000);
		return 0;
	}
	if (metrics_text_parse_time(s, now, ret, err, errlen)) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, " (argument '%s')", name);
		return -EINVAL;
	}
	return 0;
}

int metrics_tools_arg_duration(const struct smcp_args *args, const char *name, const char *dflt,
			       int64_t *ret, char *err, size_t errlen)
{
	const char *s = dflt;
	double d;

	if (api->arg_string(args, name, &s) == -EINVAL) {
		if (api->arg_double(args, name, &d) || d <= 0)
			goto bad;
		*ret = (int64_t)(d * 1000);
		return 0;
	}
	if (!s) {
		*ret = 0;
		return 0;
	}
	if (metrics_text_parse_duration_ms(s, ret) == 0 && *ret > 0)
		return 0;
bad:
	snprintf(err, errlen, "%s: give a duration such as \"30s\", \"5m\", \"1h\" or seconds",
		 name);
	return -EINVAL;
}

static void unknown_metric(struct smcp_result *res, const char *name)
{
	char near[400];
	size_t n = 0;

	near[0] = '\0';
	for (uint32_t i = 0; i < metrics_view()->n_metrics && n < sizeof(near) - 80; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (!m->dead && (strstr(m->name, name) || strstr(name, m->name) ||
				 strncmp(m->name, name, 5) == 0))
			n += (size_t)snprintf(near + n, sizeof(near) - n, "%s%s", n ? ", " : "",
					      m->name);
	}
	api->result_error(res,
			  "no metric '%s'%s%s; read metrics://catalog (or call "
			  "query_history without metric) for every name",
			  name, *near ? ". Similar: " : "", near);
}

/* ------------------------------------------------------- the PNG answer */

/* A heat map drawn on a worker: built from the store on the loop (the
 * store is the loop's), then only pixels off it. */
struct heat_job {
	struct heat_map h;
	struct smcp_call *call;
	struct smcp_result *res;
	unsigned char *png;
	size_t png_len;
	bool cancelled;
};

static int heat_job_draw(void *data)
{
	struct heat_job *job = data;

	return draw_heat_png(&job->h.d, DRAW_PNG_TOOL_BYTES, &job->png, &job->png_len);
}

static void heat_job_done(void *data, int result)
{
	struct heat_job *job = data;
	int err = result;

	if (!job->cancelled) {
		if (!err)
			err = api->result_text(job->res, job->h.summary);
		if (!err)
			err = api->result_image(job->res, "image/png", job->png, job->png_len);
		if (err == -E2BIG)
			err = api->result_error(job->res, "the picture did not fit in %u KiB: "
							 "a shorter range or fewer series",
						 DRAW_PNG_TOOL_BYTES / 1024);
		(void)api->call_complete(job->call, err);
	}
	metrics_heat_free(&job->h);
	free(job->png);
	free(job);
}

static void heat_job_cancel(void *data, struct smcp_call *call)
{
	((struct heat_job *)data)->cancelled = true; /* done frees it */
}

static int query_png(struct smcp_call *call, struct qparams *q, const char *labels,
		     struct smcp_result *res)
{
	struct heat_job *job;
	char err[400];
	int ret;

	if (draw_png_missing())
		return api->result_error(res, "%s", draw_png_missing());
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	ret = metrics_heat_build(q->m, &q->sel, labels, q->start_ms, q->end_ms, &job->h, err,
				 sizeof(err));
	if (ret) {
		free(job);
		return ret == -ENODATA ? api->result_error(res, "%s", err) : ret;
	}
	job->call = call;
	job->res = res;
	ret = api->work_submit(core_host, heat_job_draw, heat_job_done, job);
	if (ret) {
		metrics_heat_free(&job->h);
		free(job);
		return ret == -EBUSY ? api->result_error(res, "busy drawing: try again") : ret;
	}
	(void)api->call_on_cancel(call, heat_job_cancel, job);
	return SMCP_PENDING;
}

static int tool_query(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	const char *format = NULL;
	const char *metric = NULL, *labels = NULL, *group_by = NULL, *agg = NULL, *stats = NULL;
	int64_t limit = 10, now = metrics_now_unix_ms(), step_ms = 0;
	struct qparams q = { 0 };
	struct smcp_json *j;
	char err[400];

	(void)api->arg_string(args, "metric", &metric);
	if (!metric || strpbrk(metric, "*?[")) {
		j = api->result_json(res);
		if (!j)
			return -ENOMEM;
		write_catalog(j, metric);
		api->json_string(j, "note", "Call again with one metric name for its history.");
		return 0;
	}
	q.m = metrics_find(metric);
	if (!q.m) {
		unknown_metric(res, metric);
		return 0;
	}
	(void)api->arg_string(args, "labels", &labels);
	(void)api->arg_string(args, "group_by", &group_by);
	(void)api->arg_string(args, "agg", &agg);
	(void)api->arg_string(args, "stats", &stats);
	(void)api->arg_int(args, "limit", &limit);
	q.limit = (uint32_t)limit;
	q.agg = q.m->type == SMCP_METRIC_GAUGE ? AGG_AVG : AGG_SUM;
	if (metrics_query_selector_parse(&q.sel, q.m, labels, err, sizeof(err)) ||
	    (group_by && parse_group_by(&q, group_by, err, sizeof(err))) ||
	    (stats && parse_cols(&q, stats, err, sizeof(err))) ||
	    metrics_tools_arg_time(args, "start", "-15m", now, &q.start_ms, err, sizeof(err)) ||
	    metrics_tools_arg_time(args, "end", "now", now, &q.end_ms, err, sizeof(err)) ||
	    metrics_tools_arg_duration(args, "step", NULL, &step_ms, err, sizeof(err)))
		return api->result_error(res, "%s", err);
	if (agg && metrics_query_agg_parse(agg, &q.agg))
		return api->result_error(res, "agg: one of sum, avg, max, min");
	if (q.end_ms <= q.start_ms)
		return api->result_error(res, "end must be after start");
	q.step_secs = (double)step_ms / 1000;
	if (api->arg_string(args, "format", &format) == 0 && strcmp(format, "png") == 0)
		return query_png(call, &q, labels, res);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	return write_query(j, &q, res);
}

static int history_read(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	const char *name = NULL;
	struct qparams q = { 0 };
	struct smcp_json *j;
	int64_t now = metrics_now_unix_ms();

	(void)api->arg_string(vars, "metric", &name);
	q.m = metrics_find(name);
	if (!q.m) {
		(void)api->result_error(res, "no metric '%s' is published here: "
					     "metrics://catalog lists them", name ? name : "");
		return -ENOENT;
	}
	q.limit = 10;
	q.agg = q.m->type == SMCP_METRIC_GAUGE ? AGG_AVG : AGG_SUM;
	q.start_ms = now - 15 * 60000;
	q.end_ms = now;
	q.step_secs = 60;
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_string(j, "note",
			 "The last 15 minutes at 1-minute points, top 10 series. "
			 "query_history takes any range, step, filter and grouping.");
	return write_query(j, &q, res);
}

int metrics_tools_complete(void *data, const char *arg, const char *prefix,
			   const struct smcp_args *context, struct smcp_completion *out)
{
	uint32_t total = 0;

	if (!arg || strcmp(arg, "metric") != 0)
		return 0;
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead || strncmp(m->name, prefix ? prefix : "", prefix ? strlen(prefix) : 0))
			continue;
		total++;
		(void)api->completion_add(out, m->name);
	}
	return api->completion_total(out, total);
}

/* ------------------------------------------------------------------ setup */

static const char query_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"metric\":{\"type\":\"string\",\"maxLength\":63},"
	"\"labels\":{\"type\":\"string\",\"maxLength\":200},"
	"\"group_by\":{\"type\":\"string\",\"maxLength\":100,\"description\":\"labels or "
	"'all'\"},"
	"\"start\":{\"type\":[\"string\",\"number\"],\"default\":\"-15m\"},"
	"\"end\":{\"type\":[\"string\",\"number\"]},"
	"\"step\":{\"type\":[\"string\",\"number\"]},"
	"\"stats\":{\"type\":\"string\",\"maxLength\":60,\"description\":\"e.g. 'p99,count'\"},"
	"\"agg\":{\"type\":\"string\",\"enum\":[\"sum\",\"avg\",\"max\",\"min\"]},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"default\":10},"
	"\"format\":{\"type\":\"string\",\"enum\":[\"png\"],\"description\":\"heat map image\"}"
	"},\"additionalProperties\":false}";

int metrics_tools_init(struct smcp_host *core, const struct smcp_host_api *a)
{
	struct smcp_resource_desc catalog = {
		.sz = sizeof(catalog),
		.uri = "metrics://catalog",
		.name = "metric_catalog",
		.title = "Metrics with history",
		.description = "Every metric plugins publish (name, type, unit, labels, series) "
			       "and the history store's limits and usage.",
		.mime_type = "application/json",
		.read = catalog_read,
	};
	struct smcp_resource_desc history = {
		.sz = sizeof(history),
		.uri = "history://{metric}",
		.name = "metric_history",
		.title = "Metric history",
		.description = "The last 15 minutes of one metric at 1-minute points, top 10 "
			       "series, with summaries (percentiles with sample counts for "
			       "histograms).",
		.mime_type = "application/json",
		.read = history_read,
		.complete = metrics_tools_complete,
	};
	struct smcp_tool_desc query = {
		.sz = sizeof(query),
		.name = "query_history",
		.description = "A metric's summary and points over time, per series or group. No "
			       "metric: the list.",
		.input_schema = query_schema,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = tool_query,
	};
	int err;

	api = a;
	core_host = core;
	/* said once here rather than in each of the three tools' schemas: a
	 * model reads tools/list before every conversation */
	err = api->add_instructions(core, "query_history, what_changed and watch_create take "
					  "times as '-15m', '14:02', ISO 8601 or unix seconds, "
					  "and labels as 'cpu=3,comm=nginx*,node!=1'.");
	if (!err)
		err = api->register_resource(core, &catalog);
	if (!err)
		err = api->register_template(core, &history);
	if (!err)
		err = api->register_tool(core, &query);
	if (!err)
		err = metrics_changed_init(core, api);
	return err;
}
