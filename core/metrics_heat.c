/* SPDX-License-Identifier: MIT */
/* Heat maps of metric history: see metrics_heat.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_heat.h"

struct row {
	struct series *s;
	double rank;
	char key[96];
};

void metrics_heat_free(struct heat_map *h)
{
	if (!h)
		return;
	for (uint32_t i = 0; h->labels && i < h->d.rows; i++)
		free(h->labels[i]);
	free(h->labels);
	free(h->cells);
	memset(h, 0, sizeof(*h));
}

uint32_t metrics_heat_col_of(const struct heat_map *h, uint64_t idx)
{
	return (uint32_t)((idx - h->r.from) / h->per);
}

/* Accumulate column c of the ns series in ser into a. */
static void add_column(struct qacc *a, const struct metric *m, struct series *const *ser,
		       uint32_t ns, const struct heat_map *h, uint32_t c)
{
	uint64_t from = h->r.from + (uint64_t)c * h->per, to = from + h->per - 1;

	metrics_query_qacc_init(a, m, h->r.tier);
	metrics_query_qacc_add(a, m, ser, ns, h->r.tier, from, to > h->r.to ? h->r.to : to,
			       AGG_SUM);
}

static void series_key(const struct metric *m, const struct series *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < m->n_labels && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", m->label[i],
				      series_label(s, i));
}

/* Rows in label order, numbers as numbers: cpu 2 below cpu 10. */
static int by_key(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	const char *p = strchr(x->key, '='), *q = strchr(y->key, '=');
	char *e1, *e2;
	double u, v;

	if (p && q) {
		u = strtod(p + 1, &e1);
		v = strtod(q + 1, &e2);
		if (e1 != p + 1 && e2 != q + 1 && u != v)
			return u < v ? -1 : 1;
	}
	return strcmp(x->key, y->key);
}

static int by_rank(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	return x->rank < y->rank ? 1 : x->rank > y->rank ? -1 : 0;
}

static void put_times(struct heat_map *h, uint32_t cols)
{
	metrics_text_format_time(metrics_query_slot_unix_ms(h->r.tier, h->r.from), h->x_first,
				 sizeof(h->x_first));
	metrics_text_format_time(metrics_query_slot_unix_ms(h->r.tier, h->r.to + 1), h->x_last,
				 sizeof(h->x_last));
	h->d.x_first = h->x_first;
	h->d.x_last = h->x_last;
	h->d.cols = cols;
}

static int build_hist(const struct metric *m, struct series **ser, uint32_t ns, const char *what,
		      struct heat_map *h, uint32_t cols, char *err, size_t errlen)
{
	uint32_t lo = UINT32_MAX, hi = 0, nb = m->nb, best_c = 0, best_b = 0, peak_c = 0;
	double *full = calloc((size_t)cols * nb, sizeof(double)), best = -1, peak = -1, total = 0;
	struct qacc *a = malloc(sizeof(*a));
	char q1[32], q2[32], when[40], p99[32], bl[32];
	int ret = -ENOMEM;

	if (!full || !a)
		goto out;
	for (uint32_t c = 0; c < cols; c++) {
		/* per second: the newest column may hold fewer slots than the
		 * others, and must not look paler for it */
		uint64_t from = h->r.from + (uint64_t)c * h->per;
		double secs = (double)(h->r.to - from + 1 < h->per ? h->r.to - from + 1 : h->per) *
			      h->col_secs / h->per;
		double q;

		add_column(a, m, ser, ns, h, c);
		if (!a->slots) {
			for (uint32_t b = 0; b < nb; b++)
				full[(size_t)b * cols + c] = NAN;
			continue;
		}
		for (uint32_t b = 0; b < nb && b < a->nb; b++) {
			double v = (double)a->counts[b] / secs;

			full[(size_t)b * cols + c] = v;
			total += (double)a->counts[b];
			if (v > 0) {
				lo = b < lo ? b : lo;
				hi = b > hi ? b : hi;
			}
			if (v > best) {
				best = v;
				best_c = c;
				best_b = b;
			}
		}
		q = metrics_query_qacc_stat(a, m, ST_P99);
		if (!isnan(q) && q > peak) {
			peak = q;
			peak_c = c;
		}
	}
	if (lo == UINT32_MAX) {
		snprintf(err, errlen, "no observations of %s in that range: widen it", m->name);
		ret = -ENODATA;
		goto out;
	}
	/* the buckets that saw something, and one empty on either side */
	lo = lo ? lo - 1 : 0;
	hi = hi + 1 < nb ? hi + 1 : hi;
	if (hi - lo + 1 > HEAT_MAX_ROWS)
		lo = hi + 1 - HEAT_MAX_ROWS;
	h->d.rows = hi - lo + 1;
	h->row0_bucket = lo;
	h->cells = malloc(sizeof(double) * cols * h->d.rows);
	h->labels = calloc(h->d.rows, sizeof(char *));
	if (!h->cells || !h->labels)
		goto out;
	memcpy(h->cells, full + (size_t)lo * cols, sizeof(double) * cols * h->d.rows);
	for (uint32_t r = 0; r < h->d.rows; r++) {
		char v[32];

		if (isinf(m->bounds[lo + r]))
			snprintf(v, sizeof(v), "+Inf");
		else
			metrics_text_format_quantity(m->bounds[lo + r], m->unit, v, sizeof(v));
		if (asprintf(&h->labels[r], "<= %s", v) < 0) {
			h->labels[r] = NULL;
			goto out;
		}
	}
	metrics_text_format_quantity(lo ? m->bounds[lo - 1] : 0, m->unit, q1, sizeof(q1));
	metrics_text_format_quantity(m->bounds[hi], m->unit, q2, sizeof(q2));
	snprintf(h->y_name, sizeof(h->y_name), "%s bucket", m->unit[0] ? m->unit : "value");
	snprintf(h->value_name, sizeof(h->value_name), "observations/s");
	snprintf(h->title, sizeof(h->title), "%s, %s", m->name, what);
	metrics_text_format_time(metrics_query_slot_unix_ms(h->r.tier, h->r.from +
							    (uint64_t)best_c * h->per),
				 when, sizeof(when));
	metrics_text_format_quantity(peak, m->unit, p99, sizeof(p99));
	if (isinf(m->bounds[best_b]))
		snprintf(bl, sizeof(bl), "+Inf");
	else
		metrics_text_format_quantity(m->bounds[best_b], m->unit, bl, sizeof(bl));
	snprintf(h->summary, sizeof(h->summary),
		 "Heat map of %s (%s) from %s to %s: %u columns of %g s, rows are buckets from "
		 "%s to %s, colour is observations per second in each bucket and column (log "
		 "scale), %.0f in all. The hottest cell is %.4g observations/s in the bucket up "
		 "to %s at %s "
		 "(column %u). The worst column's p99 is %s, at column %u.",
		 m->name, what, h->x_first, h->x_last, h->d.cols, h->col_secs, q1,
		 isinf(m->bounds[hi]) ? "+Inf" : q2, total, best, bl, when,
		 best_c, isnan(peak) || peak < 0 ? "unknown" : p99, peak_c);
	h->d.log_scale = true;
	ret = 0;
out:
	free(full);
	free(a);
	return ret;
}

static int build_rows(const struct metric *m, struct series **ser, uint32_t ns, const char *what,
		      struct heat_map *h, uint32_t cols, char *err, size_t errlen)
{
	enum q_stat st = m->type == SMCP_METRIC_COUNTER ? ST_RATE : ST_MEAN;
	struct row *rows = calloc(ns ? ns : 1, sizeof(*rows));
	struct qacc *a = malloc(sizeof(*a));
	double best = -INFINITY;
	uint32_t best_r = 0, best_c = 0;
	char ubuf[24], v[32], when[40];
	const char *unit;
	int ret = -ENOMEM;

	if (!rows || !a)
		goto out;
	for (uint32_t i = 0; i < ns; i++) {
		rows[i].s = ser[i];
		metrics_query_qacc_init(a, m, h->r.tier);
		metrics_query_qacc_add(a, m, &ser[i], 1, h->r.tier, h->r.from, h->r.to, AGG_SUM);
		rows[i].rank = a->slots ? metrics_query_qacc_stat(a, m, st) : -INFINITY;
		if (isnan(rows[i].rank))
			rows[i].rank = -INFINITY;
		series_key(m, ser[i], rows[i].key, sizeof(rows[i].key));
	}
	/* the busiest rows when there are too many, then in label order */
	qsort(rows, ns, sizeof(*rows), by_rank);
	h->d.rows = ns < HEAT_MAX_ROWS ? ns : HEAT_MAX_ROWS;
	qsort(rows, h->d.rows, sizeof(*rows), by_key);
	h->cells = malloc(sizeof(double) * cols * h->d.rows);
	h->labels = calloc(h->d.rows, sizeof(char *));
	if (!h->cells || !h->labels)
		goto out;
	for (uint32_t r = 0; r < h->d.rows; r++) {
		h->labels[r] = strdup(rows[r].key[0] ? rows[r].key : "(all)");
		if (!h->labels[r])
			goto out;
		for (uint32_t c = 0; c < cols; c++) {
			double x;

			add_column(a, m, &rows[r].s, 1, h, c);
			x = a->slots ? metrics_query_qacc_stat(a, m, st) : NAN;
			h->cells[(size_t)r * cols + c] = x;
			if (!isnan(x) && x > best) {
				best = x;
				best_r = r;
				best_c = c;
			}
		}
	}
	if (best == -INFINITY) {
		snprintf(err, errlen, "no data of %s in that range: widen it", m->name);
		ret = -ENODATA;
		goto out;
	}
	unit = metrics_query_stat_unit(st, m, ubuf, sizeof(ubuf));
	snprintf(h->y_name, sizeof(h->y_name), "series");
	snprintf(h->value_name, sizeof(h->value_name), "%s (%s)", metrics_query_stat_name(st),
		 unit);
	snprintf(h->title, sizeof(h->title), "%s, %s", m->name, what);
	metrics_text_format_quantity(best, unit, v, sizeof(v));
	metrics_text_format_time(metrics_query_slot_unix_ms(h->r.tier, h->r.from +
							    (uint64_t)best_c * h->per),
				 when, sizeof(when));
	snprintf(h->summary, sizeof(h->summary),
		 "Heat map of %s (%s) from %s to %s: %u columns of %g s, one row per series (%u "
		 "of %u shown), colour is the %s of each column. The highest is %s for %s at %s "
		 "(column %u).",
		 m->name, what, h->x_first, h->x_last, h->d.cols, h->col_secs, h->d.rows, ns,
		 metrics_query_stat_name(st), v, h->labels[best_r], when, best_c);
	ret = 0;
out:
	free(rows);
	free(a);
	return ret;
}

int metrics_heat_build(const struct metric *m, const struct selector *sel, const char *sel_text,
		       int64_t start_ms, int64_t end_ms, struct heat_map *out, char *err,
		       size_t errlen)
{
	struct series **ser = NULL;
	uint32_t ns = 0, cols;
	uint64_t span;
	char what[160];
	int ret;

	memset(out, 0, sizeof(*out));
	if (!metrics_query_qrange_resolve(start_ms, end_ms, &out->r)) {
		snprintf(err, errlen, "no history in that range yet; widen or move the range");
		return -ENODATA;
	}
	span = out->r.to - out->r.from + 1;
	out->per = (uint32_t)((span + HEAT_MAX_COLS - 1) / HEAT_MAX_COLS);
	cols = (uint32_t)((span + out->per - 1) / out->per);
	out->col_secs = metrics_step_secs() * out->per *
			(out->r.tier == TIER_COARSE ? metrics_view()->geom.factor : 1);
	ser = calloc(m->n_series ? m->n_series : 1, sizeof(*ser));
	if (!ser)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->n_series; i++)
		if (!sel || metrics_query_selector_match(sel, m->series[i]))
			ser[ns++] = m->series[i];
	if (!ns) {
		free(ser);
		snprintf(err, errlen, "no series of %s matches %s", m->name,
			 sel_text && *sel_text ? sel_text : "(no labels)");
		return -ENODATA;
	}
	snprintf(what, sizeof(what), "%s%s", sel_text && *sel_text ? sel_text : "all series",
		 m->type == SMCP_METRIC_HISTOGRAM && ns > 1 ? " summed" : "");
	put_times(out, cols);
	if (m->type == SMCP_METRIC_HISTOGRAM)
		ret = build_hist(m, ser, ns, what, out, cols, err, errlen);
	else
		ret = build_rows(m, ser, ns, what, out, cols, err, errlen);
	free(ser);
	if (ret) {
		metrics_heat_free(out);
		return ret;
	}
	out->d.title = out->title;
	out->d.y_name = out->y_name;
	out->d.value_name = out->value_name;
	out->d.cells = out->cells;
	out->d.row_labels = (const char *const *)out->labels;
	return 0;
}
