/* SPDX-License-Identifier: MIT */
#include "metrics_query.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <schedmcp/glob.h>

/* ----------------------------------------------------------- selectors */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static void list_labels(const struct metric *m, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < m->n_labels && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", m->label[i]);
	if (!m->n_labels)
		snprintf(buf, len, "none");
}

int metrics_query_selector_parse(struct selector *sel, const struct metric *m, const char *text,
				 char *err, size_t errlen)
{
	const char *p = text;
	char labels[256];

	sel->n = 0;
	if (!text)
		return 0;
	for (p = skip_ws(p); *p; p = skip_ws(p)) {
		char name[SMCP_METRIC_NAME_MAX + 1];
		size_t n = 0, v = 0;
		bool neg = false;
		int idx;

		while (*p && *p != '=' && *p != '!' && *p != ',' && *p != ' ' &&
		       n < sizeof(name) - 1)
			name[n++] = *p++;
		name[n] = '\0';
		p = skip_ws(p);
		if (*p == '!') {
			neg = true;
			p++;
		}
		if (*p != '=' || !n) {
			snprintf(err, errlen,
				 "labels: expected name=value or name!=value pairs separated by "
				 "commas (e.g. \"cpu=3,comm=kworker*\"), at '%s'",
				 text);
			return -EINVAL;
		}
		p = skip_ws(p + 1);
		idx = metrics_label_index(m, name);
		if (idx < 0) {
			list_labels(m, labels, sizeof(labels));
			snprintf(err, errlen, "labels: %s has no label '%s' (its labels: %s)",
				 m->name, name, labels);
			return -EINVAL;
		}
		if (sel->n == SELECTOR_MAX) {
			snprintf(err, errlen, "labels: at most %d matchers", SELECTOR_MAX);
			return -EINVAL;
		}
		sel->mt[sel->n].label = idx;
		sel->mt[sel->n].neg = neg;
		while (*p && *p != ',' && v < sizeof(sel->mt[0].pat) - 1)
			sel->mt[sel->n].pat[v++] = *p++;
		while (v && sel->mt[sel->n].pat[v - 1] == ' ')
			v--;
		sel->mt[sel->n].pat[v] = '\0';
		if (*p && *p != ',') {
			snprintf(err, errlen, "labels: value of '%s' is too long", name);
			return -EINVAL;
		}
		sel->n++;
		if (*p == ',')
			p++;
	}
	return 0;
}

bool metrics_query_selector_match(const struct selector *sel, const struct series *s)
{
	for (uint32_t i = 0; i < sel->n; i++) {
		bool hit = smcp_glob_match(sel->mt[i].pat,
					   series_label(s, (uint32_t)sel->mt[i].label));

		if (hit == sel->mt[i].neg)
			return false;
	}
	return true;
}

void metrics_query_selector_format(const struct selector *sel, const struct metric *m, char *buf,
				   size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < sel->n && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s%s=%s", i ? "," : "",
				      m->label[sel->mt[i].label], sel->mt[i].neg ? "!" : "",
				      sel->mt[i].pat);
}

static const char *const agg_names[] = { "sum", "avg", "max", "min" };

const char *metrics_query_agg_name(enum q_agg a)
{
	return a <= AGG_MIN ? agg_names[a] : "?";
}

int metrics_query_agg_parse(const char *s, enum q_agg *ret)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, agg_names[i]) == 0) {
			*ret = (enum q_agg)i;
			return 0;
		}
	return -EINVAL;
}

/* ------------------------------------------------------- accumulation */

void metrics_query_qacc_init(struct qacc *a, const struct metric *m, enum history_tier t)
{
	a->nb = m->nb;
	memset(a->counts, 0, m->nb * sizeof(a->counts[0]));
	a->n_obs = 0;
	a->sum = 0;
	a->slots = 0;
	a->vsum = 0;
	a->vmin = INFINITY;
	a->vmax = -INFINITY;
	a->vlast = NAN;
	a->slot_secs = metrics_step_secs() * (t == TIER_COARSE ? metrics_view()->geom.factor : 1);
}

static void combine(struct coarse_cell *acc, const struct coarse_cell *c, uint32_t k,
		    enum q_agg agg)
{
	if (!k) {
		*acc = *c;
		return;
	}
	switch (agg) {
	case AGG_SUM:
	case AGG_AVG:
		acc->mean += c->mean;
		acc->min += c->min;
		acc->max += c->max;
		break;
	case AGG_MAX:
		acc->mean = fmaxf(acc->mean, c->mean);
		acc->min = fmaxf(acc->min, c->min);
		acc->max = fmaxf(acc->max, c->max);
		break;
	case AGG_MIN:
		acc->mean = fminf(acc->mean, c->mean);
		acc->min = fminf(acc->min, c->min);
		acc->max = fminf(acc->max, c->max);
		break;
	}
}

void metrics_query_qacc_add(struct qacc *a, const struct metric *m, struct series *const *g,
			    uint32_t ng, enum history_tier t, uint64_t from, uint64_t to,
			    enum q_agg agg)
{
	for (uint64_t idx = from; idx <= to; idx++) {
		struct coarse_cell acc = { 0, 0, 0 }, c;
		bool any = false;
		uint32_t k = 0;

		for (uint32_t i = 0; i < ng; i++) {
			if (m->nb) {
				any |= history_get_hist(&g[i]->h, &metrics_view()->geom, t, idx, a->counts,
							&a->sum, &a->n_obs);
				continue;
			}
			if (!history_get_scalar(&g[i]->h, &metrics_view()->geom, t, idx, &c))
				continue;
			combine(&acc, &c, k++, agg);
		}
		if (m->nb) {
			a->slots += any;
			continue;
		}
		if (!k)
			continue;
		if (agg == AGG_AVG) {
			acc.mean /= (float)k;
			acc.min /= (float)k;
			acc.max /= (float)k;
		}
		a->slots++;
		a->vsum += acc.mean;
		a->vmin = fmin(a->vmin, acc.min);
		a->vmax = fmax(a->vmax, acc.max);
		a->vlast = acc.mean;
	}
}

/* -------------------------------------------------------- statistics */

static const char *const stat_names[ST__N] = {
	"value", "mean", "min", "max", "rate", "increase",
	"count", "p50",	 "p90", "p95", "p99",  "p999",
};

const char *metrics_query_stat_name(enum q_stat s)
{
	return s < ST__N ? stat_names[s] : "?";
}

int metrics_query_stat_parse(const char *s, enum q_stat *ret)
{
	for (int i = 0; i < ST__N; i++)
		if (strcasecmp(s, stat_names[i]) == 0) {
			*ret = (enum q_stat)i;
			return 0;
		}
	if (strcasecmp(s, "p99.9") == 0) {
		*ret = ST_P999;
		return 0;
	}
	if (strcasecmp(s, "avg") == 0) {
		*ret = ST_MEAN;
		return 0;
	}
	return -EINVAL;
}

bool metrics_query_stat_valid_for(enum q_stat s, enum smcp_metric_type t)
{
	switch (t) {
	case SMCP_METRIC_GAUGE:
		return s == ST_VALUE || s == ST_MEAN || s == ST_MIN || s == ST_MAX;
	case SMCP_METRIC_COUNTER:
		return s == ST_RATE || s == ST_INCREASE || s == ST_MIN || s == ST_MAX;
	case SMCP_METRIC_HISTOGRAM:
		return s != ST_VALUE && s != ST_INCREASE;
	}
	return false;
}

const char *metrics_query_stat_unit(enum q_stat s, const struct metric *m, char *buf, size_t len)
{
	if (m->type == SMCP_METRIC_HISTOGRAM)
		return s == ST_RATE ? "1/s" : s == ST_COUNT ? "1" : m->unit;
	if (m->type == SMCP_METRIC_COUNTER && s != ST_INCREASE) {
		snprintf(buf, len, "%s/s", m->unit);
		return buf;
	}
	return m->unit;
}

double metrics_query_hist_quantile(const uint64_t *c, uint32_t nb, const double *bounds, double q)
{
	uint64_t total = 0, cum = 0;
	double rank;

	for (uint32_t i = 0; i < nb; i++)
		total += c[i];
	if (!total)
		return NAN;
	rank = q * (double)total;
	for (uint32_t i = 0; i < nb; i++) {
		double lo = i ? bounds[i - 1] : 0, hi = bounds[i];

		if (!c[i] || (double)(cum + c[i]) < rank) {
			cum += c[i];
			continue;
		}
		if (isinf(hi))
			return lo;
		return lo + (hi - lo) * (rank - (double)cum) / (double)c[i];
	}
	return isinf(bounds[nb - 1]) ? (nb > 1 ? bounds[nb - 2] : 0) : bounds[nb - 1];
}

static double hist_mean(const struct qacc *a, const struct metric *m)
{
	double s = 0;

	if (!a->n_obs)
		return NAN;
	if (isfinite(a->sum))
		return a->sum / (double)a->n_obs;
	for (uint32_t i = 0; i < m->nb; i++) {
		double lo = i ? m->bounds[i - 1] : 0, hi = m->bounds[i];

		s += (double)a->counts[i] * (isinf(hi) ? lo : (lo + hi) / 2);
	}
	return s / (double)a->n_obs;
}

static double hist_edge(const struct qacc *a, const struct metric *m, bool top)
{
	for (uint32_t k = 0; k < m->nb; k++) {
		uint32_t i = top ? m->nb - 1 - k : k;

		if (!a->counts[i])
			continue;
		if (!top)
			return i ? m->bounds[i - 1] : 0;
		return isinf(m->bounds[i]) ? (i ? m->bounds[i - 1] : 0) : m->bounds[i];
	}
	return NAN;
}

double metrics_query_qacc_stat(const struct qacc *a, const struct metric *m, enum q_stat s)
{
	double fine_secs = metrics_step_secs();

	if (!a->slots)
		return NAN;
	if (m->type == SMCP_METRIC_HISTOGRAM) {
		static const double qs[] = { [ST_P50] = 0.5,
					     [ST_P90] = 0.9,
					     [ST_P95] = 0.95,
					     [ST_P99] = 0.99,
					     [ST_P999] = 0.999 };

		switch (s) {
		case ST_COUNT:
			return (double)a->n_obs;
		case ST_RATE:
			return (double)a->n_obs / (a->slots * a->slot_secs);
		case ST_MEAN:
			return hist_mean(a, m);
		case ST_MIN:
			return hist_edge(a, m, false);
		case ST_MAX:
			return hist_edge(a, m, true);
		case ST_P50:
		case ST_P90:
		case ST_P95:
		case ST_P99:
		case ST_P999:
			return metrics_query_hist_quantile(a->counts, m->nb, m->bounds, qs[s]);
		default:
			return NAN;
		}
	}
	if (m->type == SMCP_METRIC_COUNTER) {
		/* fine and coarse cells both hold increases per fine step */
		switch (s) {
		case ST_RATE:
			return a->vsum / a->slots / fine_secs;
		case ST_INCREASE:
			return a->vsum * (a->slot_secs / fine_secs);
		case ST_MAX:
			return a->vmax / fine_secs;
		case ST_MIN:
			return a->vmin / fine_secs;
		default:
			return NAN;
		}
	}
	switch (s) {
	case ST_VALUE:
		return a->vlast;
	case ST_MEAN:
		return a->vsum / a->slots;
	case ST_MIN:
		return a->vmin;
	case ST_MAX:
		return a->vmax;
	default:
		return NAN;
	}
}

/* -------------------------------------------------------------- ranges */

int64_t metrics_query_slot_unix_ms(enum history_tier t, uint64_t idx)
{
	return metrics_step_unix_ms(t == TIER_COARSE ? idx * metrics_view()->geom.factor : idx);
}

bool metrics_query_qrange_resolve(int64_t start_ms, int64_t end_ms, struct qrange *r)
{
	const struct history_geom *g = &metrics_view()->geom;
	int64_t s0, s1;
	uint64_t fine_lo, cur_c, coarse_lo, c0;

	if (!metrics_view()->any_step || end_ms <= start_ms)
		return false;
	s0 = metrics_unix_to_step(start_ms);
	s1 = metrics_unix_to_step(end_ms - 1);
	if (s1 < 0)
		return false;
	if ((uint64_t)s1 > metrics_view()->last_step)
		s1 = (int64_t)metrics_view()->last_step;
	r->clipped = s0 < 0;
	if (s0 < 0)
		s0 = 0;
	if (s0 > s1)
		return false;
	fine_lo = metrics_view()->last_step + 1 > g->fine_slots ? metrics_view()->last_step + 1 - g->fine_slots : 0;
	if ((uint64_t)s0 >= fine_lo) {
		r->tier = TIER_FINE;
		r->from = (uint64_t)s0;
		r->to = (uint64_t)s1;
		return true;
	}
	cur_c = metrics_view()->last_step / g->factor;
	coarse_lo = cur_c + 1 > g->coarse_slots ? cur_c + 1 - g->coarse_slots : 0;
	c0 = (uint64_t)s0 / g->factor;
	if (c0 < coarse_lo) {
		c0 = coarse_lo;
		r->clipped = true;
	}
	r->tier = TIER_COARSE;
	r->from = c0;
	r->to = (uint64_t)s1 / g->factor;
	return r->from <= r->to;
}

/* ------------------------------------------------- plugins' own windows */

/*
 * A scalar series' fine steps from..newest, read straight from its float per
 * step (history.h's layout): what metrics_query_qacc_add() gives for one series, without
 * its per-step calls. A plugin that answers from its windows reads a few
 * dozen of them per answer, each up to 60 steps, so this is its hot path.
 */
static int scalar_window(const struct metric *m, const struct series *s, uint64_t from,
			 struct smcp_metric_window *w)
{
	const struct history_geom *g = &metrics_view()->geom;
	uint64_t to = s->h.last < metrics_view()->last_step ? s->h.last : metrics_view()->last_step;
	double sum = 0, min = INFINITY, max = -INFINITY;
	uint64_t first = 0, last = 0;
	uint32_t n = 0;

	for (uint64_t idx = from; idx <= to; idx++) {
		float v = s->h.fine[idx % g->fine_slots];

		if (isnan(v))
			continue;
		sum += v;
		min = v < min ? v : min;
		max = v > max ? v : max;
		first = n ? first : idx;
		last = idx;
		n++;
	}
	/* A counter's span, not its count: a step the loop did not close
	 * (starved for more than a step on a loaded machine) holds no value,
	 * and the next close carries its increase, so "per second" divides
	 * by the time the increase covers, gaps inside included. A gauge's
	 * mean is over the steps that hold a value. */
	w->steps = m->type == SMCP_METRIC_COUNTER && n ? (uint32_t)(last - first + 1) : n;
	if (!n)
		return 0;
	w->value = m->type == SMCP_METRIC_GAUGE ? sum / n : sum;
	w->min = min;
	w->max = max;
	return 0;
}

int metrics_query_window(struct smcp_host *h, int id, const char *const *lv, uint64_t window_ms,
			 struct smcp_metric_window *w)
{
	const struct metrics_store *st = metrics_view();
	struct metric *m = metrics_metric_of(h, id);
	const struct series *s;
	uint64_t steps, from, oldest;
	struct qacc a;

	if (!w || w->sz < sizeof(*w))
		return -EINVAL;
	if (!m)
		return -ENOENT;
	if (w->counts && w->n_counts != m->nb)
		return -EINVAL;
	s = metrics_series_find(m, lv);
	if (!s)
		return -ENOENT;
	w->step_s = metrics_step_secs();
	w->end_ns = st->t0_ns + (st->last_step + 1) * st->geom.step_ns;
	w->steps = 0;
	w->value = w->min = w->max = NAN;
	w->count = 0;
	if (!st->any_step || !s->h.any)
		return 0;
	steps = (window_ms * 1000000 + st->geom.step_ns / 2) / st->geom.step_ns;
	steps = steps < 1 ? 1 : steps > st->geom.fine_slots ? st->geom.fine_slots : steps;
	from = st->last_step + 1 > steps ? st->last_step + 1 - steps : 0;
	oldest = history_coverage(&s->h, &st->geom, TIER_FINE);
	if (!m->nb)
		return scalar_window(m, s, from > oldest ? from : oldest, w);
	metrics_query_qacc_init(&a, m, TIER_FINE);
	metrics_query_qacc_add(&a, m, (struct series *const *)&s, 1, TIER_FINE,
			       from > oldest ? from : oldest, st->last_step, AGG_SUM);
	w->steps = a.slots;
	if (!a.slots)
		return 0;
	if (m->type == SMCP_METRIC_HISTOGRAM) {
		for (uint32_t i = 0; w->counts && i < m->nb; i++)
			w->counts[i] += a.counts[i];
		w->count = a.n_obs;
		w->value = a.sum;
	} else {
		w->value = m->type == SMCP_METRIC_GAUGE ? a.vsum / a.slots : a.vsum;
		w->min = a.vmin;
		w->max = a.vmax;
	}
	return 0;
}
