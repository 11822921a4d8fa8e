/* SPDX-License-Identifier: MIT */
/*
 * The mock host's metric API: just enough of the core's store (core/metrics*.c)
 * for plugins that answer their windows from it. One step per fake-clock
 * second from the plugin's first metric call; each step runs the collectors,
 * then records every series: a counter's increase (NaN before its first
 * one, 0 while it is published without moving), a gauge's value (NaN once
 * unpublished for STALE steps), a histogram's bucket counts. The newest
 * MOCK_STEPS steps are kept. Test code only.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

#define MOCK_METRICS 64
#define MOCK_SERIES 4096
#define MOCK_STEPS 256
#define MOCK_COLLECTORS 8
#define STALE 5

struct mseries {
	int metric;
	char key[SMCP_METRIC_MAX_LABELS * (SMCP_METRIC_VALUE_MAX + 1)];
	double cur, base, hsum_cur, hsum_base;
	bool have_base, delta_seen, have_delta;
	uint64_t pub_step;
	uint64_t *hcur, *hbase; /* nb */
	double val[MOCK_STEPS];	/* NaN: no data */
	uint64_t *hist;		/* MOCK_STEPS * nb */
};

static struct {
	enum smcp_metric_type type;
	uint32_t n_labels, nb;
} metrics[MOCK_METRICS];
static int n_metrics;
static struct mseries *series[MOCK_SERIES];
static int n_series;
static struct {
	smcp_collect_fn cb;
	void *data;
} collectors[MOCK_COLLECTORS];
static int n_collectors;
static uint64_t t0_ns, next_step; /* the step being filled */
uint64_t mock_window_reads;

int m_metric_register(struct smcp_host *h, const struct smcp_metric_desc *d)
{
	if (!h->in_init)
		return -EPERM;
	if (d->sz < sizeof(*d) || !d->name || d->n_labels > SMCP_METRIC_MAX_LABELS ||
	    (d->type == SMCP_METRIC_HISTOGRAM && (!d->n_buckets || !d->bucket_bounds)))
		return -EINVAL;
	if (n_metrics == MOCK_METRICS)
		return -ENOSPC;
	if (!n_metrics)
		t0_ns = h->now_ns;
	metrics[n_metrics].type = d->type;
	metrics[n_metrics].n_labels = d->n_labels;
	metrics[n_metrics].nb = d->type == SMCP_METRIC_HISTOGRAM ? d->n_buckets : 0;
	return ++n_metrics;
}

static int series_key(int id, const char *const *lv, char *key, size_t len)
{
	size_t n = 0;

	key[0] = '\0';
	for (uint32_t i = 0; i < metrics[id - 1].n_labels; i++) {
		size_t l = lv && lv[i] ? strlen(lv[i]) : SIZE_MAX;

		if (l > SMCP_METRIC_VALUE_MAX || n + l + 2 > len)
			return -EINVAL;
		memcpy(key + n, lv[i], l);
		n += l;
		key[n++] = '\x1f';
		key[n] = '\0';
	}
	return 0;
}

static struct mseries *find(int id, const char *const *lv, bool create, int *err)
{
	char key[sizeof(series[0]->key)];
	struct mseries *s;
	uint32_t nb;

	*err = id < 1 || id > n_metrics ? -ENOENT : series_key(id, lv, key, sizeof(key));
	if (*err)
		return NULL;
	for (int i = 0; i < n_series; i++)
		if (series[i]->metric == id && strcmp(series[i]->key, key) == 0)
			return series[i];
	*err = create ? (n_series == MOCK_SERIES ? -ENOSPC : -ENOMEM) : -ENOENT;
	if (!create || n_series == MOCK_SERIES)
		return NULL;
	nb = metrics[id - 1].nb;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->metric = id;
	strcpy(s->key, key);
	for (int i = 0; i < MOCK_STEPS; i++)
		s->val[i] = NAN;
	if (nb) {
		s->hcur = calloc(nb, sizeof(uint64_t));
		s->hbase = calloc(nb, sizeof(uint64_t));
		s->hist = calloc((size_t)MOCK_STEPS * nb, sizeof(uint64_t));
		if (!s->hcur || !s->hbase || !s->hist) {
			free(s->hcur);
			free(s->hbase);
			free(s->hist);
			free(s);
			return NULL;
		}
	}
	*err = 0;
	series[n_series++] = s;
	return s;
}

static int publish(int id, const char *const *lv, enum smcp_metric_type want, bool hist,
		   struct mseries **ret)
{
	int err;

	if (id < 1 || id > n_metrics)
		return -ENOENT;
	if ((metrics[id - 1].type == SMCP_METRIC_HISTOGRAM) != hist ||
	    (want && metrics[id - 1].type != want))
		return -EINVAL;
	*ret = find(id, lv, true, &err);
	if (*ret)
		(*ret)->pub_step = next_step;
	return err;
}

int m_metric_set(struct smcp_host *h, int id, const char *const *lv, double v)
{
	struct mseries *s;
	int err = publish(id, lv, 0, false, &s);

	if (err)
		return err;
	if (metrics[id - 1].type == SMCP_METRIC_GAUGE) {
		s->cur = v;
		return 0;
	}
	if (s->have_base) {
		s->cur += v >= s->base ? v - s->base : v;
		s->delta_seen = true;
	}
	s->base = v;
	s->have_base = true;
	return 0;
}

int m_metric_add(struct smcp_host *h, int id, const char *const *lv, double d)
{
	struct mseries *s;
	int err = publish(id, lv, 0, false, &s);

	if (err)
		return err;
	s->cur += d;
	s->delta_seen = true;
	return 0;
}

int m_metric_hist(struct smcp_host *h, int id, const char *const *lv,
			 const uint64_t *counts, uint32_t n, double sum, uint32_t flags)
{
	struct mseries *s;
	int err = publish(id, lv, 0, true, &s);

	if (err)
		return err;
	if (n != metrics[id - 1].nb)
		return -EINVAL;
	if (flags & SMCP_HIST_DELTA) {
		for (uint32_t i = 0; i < n; i++)
			s->hcur[i] += counts[i];
		s->hsum_cur += sum;
		s->delta_seen = true;
		return 0;
	}
	for (uint32_t i = 0; s->have_base && i < n; i++)
		s->hcur[i] += counts[i] - s->hbase[i];
	s->hsum_cur += s->have_base ? sum - s->hsum_base : 0;
	s->delta_seen |= s->have_base;
	memcpy(s->hbase, counts, n * sizeof(*counts));
	s->hsum_base = sum;
	s->have_base = true;
	return 0;
}

int m_metric_observe(struct smcp_host *h, int id, const char *const *lv, double v)
{
	return -EOPNOTSUPP; /* no plugin tested here observes single values */
}

/* One step ended: collect, then record every series. */
static void step(void *data)
{
	uint64_t slot = next_step % MOCK_STEPS;

	for (int i = 0; i < n_collectors; i++)
		collectors[i].cb(collectors[i].data, host.now_ns);
	for (int i = 0; i < n_series; i++) {
		struct mseries *s = series[i];
		uint32_t nb = metrics[s->metric - 1].nb;
		bool recent = next_step <= s->pub_step + STALE;

		if (metrics[s->metric - 1].type == SMCP_METRIC_GAUGE) {
			s->val[slot] = recent ? s->cur : NAN;
			continue;
		}
		s->val[slot] = s->delta_seen ? (nb ? s->hsum_cur : s->cur)
					     : s->have_delta && recent ? 0 : NAN;
		if (nb)
			memcpy(s->hist + slot * nb, s->hcur, nb * sizeof(uint64_t));
		s->have_delta |= s->delta_seen;
		s->delta_seen = false;
		s->cur = s->hsum_cur = 0;
		if (nb)
			memset(s->hcur, 0, nb * sizeof(uint64_t));
	}
	next_step++;
}

int m_metric_collect(struct smcp_host *h, smcp_collect_fn cb, void *data)
{
	if (!h->in_init)
		return -EPERM;
	if (n_collectors == MOCK_COLLECTORS)
		return -ENOSPC;
	if (!n_collectors) {
		/* the core's step tick, on the fake clock from the first metric */
		for (int i = 0; i < MAX_TIMERS; i++)
			if (!timers[i].id) {
				timers[i] = (struct timer){ -1, 1000000000ull,
							    t0_ns + 1000000000ull, true, step,
							    NULL };
				break;
			}
	}
	collectors[n_collectors].cb = cb;
	collectors[n_collectors++].data = data;
	return 0;
}

int m_metric_window(struct smcp_host *h, int id, const char *const *lv, uint64_t window_ms,
			   struct smcp_metric_window *w)
{
	struct mseries *s;
	uint64_t span = (window_ms + 500) / 1000, first = 0;
	uint32_t nb, n = 0;
	int err;

	if (!w || w->sz < sizeof(*w))
		return -EINVAL;
	mock_window_reads++;
	s = find(id, lv, false, &err);
	if (!s)
		return err;
	nb = metrics[id - 1].nb;
	if (w->counts && w->n_counts != nb)
		return -EINVAL;
	span = span < 1 ? 1 : span > MOCK_STEPS ? MOCK_STEPS : span;
	span = span > next_step ? next_step : span;
	w->end_ns = t0_ns + next_step * 1000000000ull;
	w->step_s = 1;
	w->steps = 0;
	w->value = w->min = w->max = NAN;
	w->count = 0;
	for (uint64_t k = next_step - span; k < next_step; k++) {
		double v = s->val[k % MOCK_STEPS];

		if (isnan(v))
			continue;
		w->value = n ? w->value + v : v;
		w->min = n ? fmin(w->min, v) : v;
		w->max = n ? fmax(w->max, v) : v;
		first = n ? first : k;
		n++;
		/* as the core: a counter's span from its first step with data */
		w->steps = metrics[id - 1].type == SMCP_METRIC_COUNTER ? (uint32_t)(k - first + 1)
								       : n;
		for (uint32_t b = 0; b < nb; b++) {
			uint64_t c = s->hist[(k % MOCK_STEPS) * nb + b];

			w->count += c;
			if (w->counts)
				w->counts[b] += c;
		}
	}
	if (n && metrics[id - 1].type == SMCP_METRIC_GAUGE)
		w->value /= n;
	return 0;
}

void mock_metrics_free(void)
{
	for (int i = 0; i < n_series; i++) {
		free(series[i]->hcur);
		free(series[i]->hbase);
		free(series[i]->hist);
		free(series[i]);
	}
	n_series = 0;
}
