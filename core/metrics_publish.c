/* SPDX-License-Identifier: MIT */
/* The host API members that publish values into the store: the hot path.
 * After a series exists nothing here allocates. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <schedmcp/search.h>

#include "metrics.h"

static void touched(struct series *s, double activity)
{
	s->pub_step = metrics_view()->next_step;
	if (activity > 0)
		s->score += activity;
}

int metrics_publish_set(struct smcp_host *h, int id, const char *const *lv, double value)
{
	struct metric *m = metrics_metric_of(h, id);
	struct series *s;
	int err;

	if (!m)
		return -ENOENT;
	if (m->type == SMCP_METRIC_HISTOGRAM || isinf(value) ||
	    (m->type == SMCP_METRIC_COUNTER && isnan(value)))
		return -EINVAL;
	s = metrics_series_get(m, lv, m->type == SMCP_METRIC_GAUGE ? value : 0, &err);
	if (!s)
		return err;
	if (m->type == SMCP_METRIC_GAUGE) {
		s->cur = value;
		s->score = value;
		s->pub_step = metrics_view()->next_step;
		return 0;
	}
	if (s->have_base) {
		/* a decrease is a reset: everything since counts */
		double d = value >= s->base ? value - s->base : value;

		s->cur += d;
		s->delta_seen = true;
		touched(s, d);
	} else {
		touched(s, 0);
	}
	s->base = value;
	s->have_base = true;
	return 0;
}

int metrics_publish_add(struct smcp_host *h, int id, const char *const *lv, double delta)
{
	struct metric *m = metrics_metric_of(h, id);
	struct series *s;
	int err;

	if (!m)
		return -ENOENT;
	if (m->type == SMCP_METRIC_HISTOGRAM || !isfinite(delta) ||
	    (m->type == SMCP_METRIC_COUNTER && delta < 0))
		return -EINVAL;
	s = metrics_series_get(m, lv, delta, &err);
	if (!s)
		return err;
	/* a restored gauge's value is unknown (NaN) until published */
	s->cur = (isnan(s->cur) ? 0 : s->cur) + delta;
	if (m->type == SMCP_METRIC_GAUGE) {
		s->score = s->cur;
		s->pub_step = metrics_view()->next_step;
		return 0;
	}
	s->delta_seen = true;
	touched(s, delta);
	return 0;
}

static double hist_activity(const struct metric *m, const uint64_t *c, double sum)
{
	double n = 0;

	if (isfinite(sum))
		return sum;
	/* no sum: weigh each count by its bucket's lower bound */
	for (uint32_t i = 1; i < m->nb; i++)
		n += (double)c[i] * m->bounds[i - 1];
	return n + (double)c[0] * m->bounds[0] / 2;
}

int metrics_publish_hist(struct smcp_host *h, int id, const char *const *lv, const uint64_t *counts,
			 uint32_t n, double sum, uint32_t flags)
{
	struct metric *m = metrics_metric_of(h, id);
	bool delta = flags & SMCP_HIST_DELTA;
	struct series *s;
	double act = 0;
	int err;

	if (!m)
		return -ENOENT;
	if (m->type != SMCP_METRIC_HISTOGRAM || !counts || n != m->nb || isinf(sum))
		return -EINVAL;
	if (delta)
		act = hist_activity(m, counts, sum);
	s = metrics_series_get(m, lv, act, &err);
	if (!s)
		return err;
	if (delta) {
		for (uint32_t i = 0; i < n; i++)
			s->hcur[i] += counts[i];
		s->hsum_cur += sum;
		s->delta_seen = true;
		touched(s, act);
		return 0;
	}
	if (s->have_base) {
		bool reset = false;

		for (uint32_t i = 0; i < n && !reset; i++)
			reset = counts[i] < s->hbase[i];
		for (uint32_t i = 0; i < n; i++)
			s->hcur[i] += reset ? counts[i] : counts[i] - s->hbase[i];
		s->hsum_cur += reset || !(sum >= s->hsum_base) ? sum : sum - s->hsum_base;
		s->delta_seen = true;
		touched(s, reset ? hist_activity(m, counts, sum)
				 : (isfinite(sum) ? sum - s->hsum_base : 0));
	} else {
		touched(s, 0);
	}
	memcpy(s->hbase, counts, n * sizeof(*counts));
	s->hsum_base = sum;
	s->have_base = true;
	return 0;
}

/* bsearch-style comparison of a value with a bucket's upper bound */
static int cmp_bound(const void *value, const void *bound)
{
	double v = *(const double *)value, b = *(const double *)bound;

	return v < b ? -1 : v > b;
}

int metrics_publish_observe(struct smcp_host *h, int id, const char *const *lv, double value)
{
	struct metric *m = metrics_metric_of(h, id);
	struct series *s;
	size_t b;
	int err;

	if (!m)
		return -ENOENT;
	if (m->type != SMCP_METRIC_HISTOGRAM || !isfinite(value))
		return -EINVAL;
	s = metrics_series_get(m, lv, value, &err);
	if (!s)
		return err;
	/* first bucket whose upper bound is above value; the last takes the rest */
	b = smcp_upper_bound(&value, m->bounds, m->nb - 1, sizeof(*m->bounds), cmp_bound);
	s->hcur[b]++;
	s->hsum_cur += value;
	s->delta_seen = true;
	touched(s, value);
	return 0;
}
