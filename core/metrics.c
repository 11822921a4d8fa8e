/* SPDX-License-Identifier: MIT */
/* The metric store: families, series and their table, registration, the
 * sample tick, and setup. Publishing is in metrics_publish.c. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "log.h"
#include "loop.h"
#include "privs.h"
#include "metrics_tools.h"
#include "util.h"

/* Per-slot byte allowances of histogram rings: well above what the latency
 * histograms of a busy CPU need (see bench/history), so rings rarely wrap. */
#define FINE_HIST_BYTES 192
#define COARSE_HIST_BYTES 256
/* A series not published for this long records "no data". */
#define STALE_MIN_NS 5000000000ull
#define STALE_STEPS 5
#define TOP_N_MARGIN 1.25
#define COLLECTORS_PER_PLUGIN 8

static struct metrics_store mstore;
static struct {
	void (*fn)(void *ctx, uint64_t step);
	void *ctx;
} observers[METRICS_MAX_OBSERVERS];
static uint32_t n_observers;

static struct metrics_limits configured = {
	.step_ms = 1000,
	.fine_slots = 900,
	.coarse_slots = 1440,
	.coarse_factor = 60,
	.max_bytes = 64ull << 20,
	.max_series = 4096,
	.top_n = 20,
	.max_watches = 32,
	.breach_ring = 256,
};

struct collector {
	struct smcp_host *owner;
	smcp_collect_fn cb;
	void *data;
};

static struct collector collectors[METRICS_MAX_COLLECTORS];
static uint32_t n_collectors;
static bool warned_limit;

/* ------------------------------------------------------------ config */

void metrics_configure(const struct config_section *core, const struct smcp_config_key *keys)
{
	configured.step_ms = config_key_int(core, keys, "history_step_ms");
	configured.fine_slots = (uint32_t)config_key_int(core, keys, "history_fine_slots");
	configured.coarse_slots = (uint32_t)config_key_int(core, keys, "history_coarse_slots");
	configured.coarse_factor = (uint32_t)config_key_int(core, keys, "history_coarse_factor");
	configured.max_bytes = config_key_int(core, keys, "history_max_mb") << 20;
	configured.max_series = (uint32_t)config_key_int(core, keys, "metrics_max_series");
	configured.top_n = (uint32_t)config_key_int(core, keys, "metrics_top_n");
	configured.max_watches = (uint32_t)config_key_int(core, keys, "max_watches");
	configured.breach_ring = (uint32_t)config_key_int(core, keys, "watch_breach_ring");
}

/* ------------------------------------------------------------- names */

static bool valid_name(const char *s)
{
	size_t n = 0;

	if (!s || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return false;
	return n <= SMCP_METRIC_NAME_MAX;
}

static bool valid_unit(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_' ||
		      s[n] == '/'))
			return false;
	return n > 0 && n < sizeof(((struct metric *)0)->unit);
}

static const char *const metric_type_names[] = {
	[SMCP_METRIC_COUNTER] = "counter",
	[SMCP_METRIC_GAUGE] = "gauge",
	[SMCP_METRIC_HISTOGRAM] = "histogram",
};

const char *metrics_type_name(enum smcp_metric_type t)
{
	return UTIL_ENUM_NAME(metric_type_names, t, "?");
}

int metrics_label_index(const struct metric *m, const char *name)
{
	for (uint32_t i = 0; i < m->n_labels; i++)
		if (strcmp(m->label[i], name) == 0)
			return (int)i;
	return -1;
}

struct metric *metrics_find(const char *name)
{
	if (!name)
		return NULL;
	for (uint32_t i = 0; i < mstore.n_metrics; i++)
		if (!mstore.m[i]->dead && strcmp(mstore.m[i]->name, name) == 0)
			return mstore.m[i];
	return NULL;
}

/* -------------------------------------------------------------- time */

double metrics_step_secs(void)
{
	return (double)mstore.geom.step_ns / 1e9;
}

int64_t metrics_step_unix_ms(uint64_t step)
{
	return mstore.t0_unix_ms + (int64_t)(step * (mstore.geom.step_ns / 1000000));
}

int64_t metrics_unix_to_step(int64_t unix_ms)
{
	int64_t d = unix_ms - mstore.t0_unix_ms, st = (int64_t)(mstore.geom.step_ns / 1000000);

	return d < 0 ? -1 - (-d - 1) / st : d / st;
}

int64_t metrics_now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ series */

struct packed {
	char buf[METRIC_LV_BYTES];
	uint8_t off[SMCP_METRIC_MAX_LABELS];
	uint16_t len;
	uint32_t hash;
};

static int pack_labels(const struct metric *m, const char *const *lv, struct packed *p)
{
	p->len = 0;
	if (m->n_labels && !lv)
		return -EINVAL;
	for (uint32_t i = 0; i < m->n_labels; i++) {
		size_t n;

		if (!lv[i])
			return -EINVAL;
		n = strnlen(lv[i], SMCP_METRIC_VALUE_MAX + 1);
		if (n > SMCP_METRIC_VALUE_MAX || p->len + n + 1 > sizeof(p->buf))
			return -EINVAL;
		p->off[i] = (uint8_t)p->len;
		memcpy(p->buf + p->len, lv[i], n + 1);
		p->len = (uint16_t)(p->len + n + 1);
	}
	p->hash = smcp_hash_bytes(p->buf, p->len);
	return 0;
}

/* A stored series index against a probe: the packed labels searched for
 * (the index's hash already matched). */
static bool series_is(uint64_t idx, uint64_t probe, void *ctx)
{
	const struct metric *m = ctx;
	const struct packed *p = (const struct packed *)(uintptr_t)probe;
	const struct series *s = m->series[idx];

	return s->lv_len == p->len && memcmp(s->lv, p->buf, p->len) == 0;
}

/* The index of the series with labels p, or -1. */
static int64_t series_find(const struct metric *m, const struct packed *p)
{
	const struct smcp_hashmap_entry *e = smcp_hashmap_find_hashed(&m->index, (uintptr_t)p,
								      p->hash);

	return e ? (int64_t)e->key : -1;
}

static void series_set_labels(struct series *s, const struct packed *p)
{
	memcpy(s->lv, p->buf, p->len);
	memcpy(s->lv_off, p->off, sizeof(s->lv_off));
	s->lv_len = p->len;
	s->hash = p->hash;
}

static void series_clear_state(struct series *s)
{
	s->delta_seen = s->have_delta = s->have_base = false;
	s->cur = s->base = s->score = s->last_score = 0;
	s->hsum_cur = s->hsum_base = 0;
	s->total = s->hsum_total = 0;
	if (s->hcur) {
		memset(s->hcur, 0, s->m->nb * sizeof(*s->hcur));
		memset(s->hbase, 0, s->m->nb * sizeof(*s->hbase));
		memset(s->htotal, 0, s->m->nb * sizeof(*s->htotal));
	}
}

static void series_free(struct series *s)
{
	if (!s)
		return;
	history_free(&s->h, &mstore.budget);
	history_budget_give(&mstore.budget, s->bytes);
	free(s->hcur);
	free(s->hbase);
	free(s->htotal);
	free(s);
}

static struct series *series_new(struct metric *m, const struct packed *p)
{
	size_t bytes = sizeof(struct series) + 3 * m->nb * sizeof(uint64_t);
	struct series *s;

	if (!history_budget_take(&mstore.budget, bytes))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		history_budget_give(&mstore.budget, bytes);
		return NULL;
	}
	s->m = m;
	s->bytes = bytes;
	if (m->nb) {
		s->hcur = calloc(m->nb, sizeof(*s->hcur));
		s->hbase = calloc(m->nb, sizeof(*s->hbase));
		s->htotal = calloc(m->nb, sizeof(*s->htotal));
	}
	if ((m->nb && (!s->hcur || !s->hbase || !s->htotal)) ||
	    history_init(&s->h, &mstore.geom, m->nb, mstore.next_step, &mstore.budget)) {
		series_free(s);
		return NULL;
	}
	s->first_step = mstore.next_step;
	series_set_labels(s, p);
	return s;
}

/* Replace the least active top-N series by a newcomer of activity score;
 * returns its index, or -1 when the newcomer is not more active by the margin. */
static int top_n_replace(struct metric *m, const struct packed *p, double score)
{
	struct packed victim;
	struct series *s;
	uint32_t min = 0;

	if (!m->n_series)
		return -1;
	for (uint32_t i = 1; i < m->n_series; i++)
		if (m->series[i]->last_score < m->series[min]->last_score)
			min = i;
	s = m->series[min];
	if (!(score > 0) || score <= s->last_score * TOP_N_MARGIN)
		return -1;
	victim.len = s->lv_len;
	victim.hash = s->hash;
	memcpy(victim.buf, s->lv, s->lv_len);
	smcp_hashmap_remove(&m->index, smcp_hashmap_find_hashed(&m->index, (uintptr_t)&victim,
								 victim.hash));
	series_set_labels(s, p);
	series_clear_state(s);
	history_reset(&s->h, &mstore.geom, mstore.next_step);
	s->first_step = mstore.next_step;
	/* protect it until its first step is recorded */
	s->last_score = score;
	/* cannot fail: it takes the place just freed, no growth */
	(void)smcp_hashmap_add_hashed(&m->index, min, p->hash, 0, NULL);
	m->evicted++;
	mstore.generation++;
	return (int)min;
}

static void refuse(struct metric *m, const char *why)
{
	m->refused++;
	mstore.refused_series++;
	if (!warned_limit) {
		warned_limit = true;
		log_msg(SMCP_LOG_WARNING, "core",
			"metric %s: a new series was refused (%s); further refusals are only "
			"counted (metrics://catalog)",
			m->name, why);
	}
}

struct series *metrics_series_find(const struct metric *m, const char *const *lv)
{
	struct packed p;
	int64_t idx;

	if (pack_labels(m, lv, &p))
		return NULL;
	idx = series_find(m, &p);
	return idx >= 0 ? m->series[idx] : NULL;
}

struct series *metrics_series_get(struct metric *m, const char *const *lv, double score, int *err)
{
	struct packed p;
	struct series *s;
	int64_t idx;

	*err = pack_labels(m, lv, &p);
	if (*err)
		return NULL;
	idx = series_find(m, &p);
	if (idx >= 0)
		return m->series[idx];
	*err = -ENOSPC;
	if ((m->flags & SMCP_METRIC_TOP_N) && m->n_series >= mstore.lim.top_n) {
		int i = top_n_replace(m, &p, score);

		if (i < 0) {
			m->refused++;
			return NULL;
		}
		*err = 0;
		return m->series[i];
	}
	if (mstore.n_series >= mstore.lim.max_series) {
		refuse(m, "metrics_max_series reached");
		return NULL;
	}
	if (m->n_series == m->cap_series) {
		uint32_t cap = m->cap_series ? m->cap_series * 2 : 8;
		struct series **n = realloc(m->series, cap * sizeof(*n));

		if (!n) {
			*err = -ENOMEM;
			return NULL;
		}
		m->series = n;
		m->cap_series = cap;
	}
	/* room first, so a series made is always indexed */
	*err = smcp_hashmap_reserve(&m->index, m->n_series + 1);
	if (*err)
		return NULL;
	s = series_new(m, &p);
	if (!s) {
		*err = -ENOSPC;
		refuse(m, "history_max_mb reached");
		return NULL;
	}
	(void)smcp_hashmap_add_hashed(&m->index, m->n_series, p.hash, 0, NULL); /* reserved */
	m->series[m->n_series++] = s;
	mstore.n_series++;
	mstore.generation++;
	*err = 0;
	return s;
}

/* ------------------------------------------------------- registration */

struct metric *metrics_metric_of(struct smcp_host *h, int id)
{
	struct metric *m;

	if (id <= 0 || (uint32_t)id > mstore.n_metrics)
		return NULL;
	m = mstore.m[id - 1];
	return m->owner == h && !m->dead ? m : NULL;
}

#define DESC_HAS(d, f) ((d)->sz >= offsetof(struct smcp_metric_desc, f) + sizeof((d)->f))

static int check_desc(const struct smcp_metric_desc *d)
{
	if (!DESC_HAS(d, n_labels) || !valid_name(d->name))
		return -EINVAL;
	if (metrics_find(d->name))
		return -EEXIST;
	if (d->type < SMCP_METRIC_COUNTER || d->type > SMCP_METRIC_HISTOGRAM)
		return -EINVAL;
	if (d->unit && !valid_unit(d->unit))
		return -EINVAL;
	if (d->n_labels > SMCP_METRIC_MAX_LABELS || (d->n_labels && !d->labels))
		return -EINVAL;
	for (uint32_t i = 0; i < d->n_labels; i++) {
		if (!valid_name(d->labels[i]))
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (strcmp(d->labels[i], d->labels[j]) == 0)
				return -EINVAL;
	}
	if (d->type != SMCP_METRIC_HISTOGRAM)
		return 0;
	if (!DESC_HAS(d, n_buckets) || !d->bucket_bounds || !d->n_buckets ||
	    d->n_buckets > SMCP_METRIC_MAX_BUCKETS)
		return -EINVAL;
	for (uint32_t i = 0; i < d->n_buckets; i++) {
		double b = d->bucket_bounds[i];

		if (isnan(b) || b <= (i ? d->bucket_bounds[i - 1] : 0) ||
		    (isinf(b) && i != d->n_buckets - 1))
			return -EINVAL;
	}
	return 0;
}

int metrics_api_register(struct smcp_host *h, const struct smcp_metric_desc *d)
{
	struct metric *m;
	int err;

	if (!h || !d)
		return -EINVAL;
	if (!h->in_init) {
		log_msg(SMCP_LOG_ERROR, h->name, "refused to register metric '%s' outside init()",
			DESC_HAS(d, name) && d->name ? d->name : "?");
		return -EPERM;
	}
	err = check_desc(d);
	if (!err && mstore.n_metrics >= METRICS_MAX_FAMILIES)
		err = -ENOSPC;
	if (err) {
		log_msg(SMCP_LOG_ERROR, h->name, "cannot register metric '%s': %s",
			DESC_HAS(d, name) && d->name ? d->name : "?", strerror(-err));
		return err;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* bounded by metrics_max_series and metrics_top_n, checked before adding */
	smcp_hashmap_init(&m->index, NULL, series_is, m, 0);
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	snprintf(m->unit, sizeof(m->unit), "%s", d->unit ? d->unit : "1");
	m->help = strndup(d->help ? d->help : "", 400);
	m->type = d->type;
	m->flags = d->flags;
	m->n_labels = d->n_labels;
	for (uint32_t i = 0; i < d->n_labels; i++)
		snprintf(m->label[i], sizeof(m->label[i]), "%s", d->labels[i]);
	m->owner = h;
	if (d->type == SMCP_METRIC_HISTOGRAM) {
		m->nb = d->n_buckets;
		m->bounds = malloc(m->nb * sizeof(*m->bounds));
		if (m->bounds)
			memcpy(m->bounds, d->bucket_bounds, m->nb * sizeof(*m->bounds));
	}
	if (!m->help || (m->nb && !m->bounds)) {
		free(m->help);
		free(m->bounds);
		free(m);
		return -ENOMEM;
	}
	if (!(mstore.n_metrics % 16)) {
		struct metric **n = realloc(mstore.m, (mstore.n_metrics + 16) * sizeof(*n));

		if (!n) {
			free(m->help);
			free(m->bounds);
			free(m);
			return -ENOMEM;
		}
		mstore.m = n;
	}
	mstore.m[mstore.n_metrics++] = m;
	m->id = (int)mstore.n_metrics;
	return m->id;
}

int metrics_api_collect(struct smcp_host *h, smcp_collect_fn cb, void *data)
{
	uint32_t mine = 0;

	if (!h || !cb)
		return -EINVAL;
	if (!h->in_init)
		return -EPERM;
	for (uint32_t i = 0; i < n_collectors; i++)
		mine += collectors[i].owner == h;
	if (mine >= COLLECTORS_PER_PLUGIN || n_collectors >= METRICS_MAX_COLLECTORS)
		return -ENOSPC;
	collectors[n_collectors++] = (struct collector){ h, cb, data };
	return 0;
}

/* Drop the metrics and collectors of a plugin that failed or went away. */
static void metric_kill(struct metric *m)
{
	for (uint32_t i = 0; i < m->n_series; i++)
		series_free(m->series[i]);
	mstore.n_series -= m->n_series;
	free(m->series);
	smcp_hashmap_free(&m->index);
	m->series = NULL;
	m->n_series = m->cap_series = 0;
	m->dead = true;
	mstore.generation++;
}

static bool owner_alive(const struct smcp_host *h)
{
	return h->state == PLUGIN_LOADED || h->state == PLUGIN_DEGRADED;
}

static void reap_dead(void)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < mstore.n_metrics; i++)
		if (!mstore.m[i]->dead && !owner_alive(mstore.m[i]->owner))
			metric_kill(mstore.m[i]);
	for (uint32_t i = 0; i < n_collectors; i++)
		if (owner_alive(collectors[i].owner))
			collectors[j++] = collectors[i];
	n_collectors = j;
}

/* --------------------------------------------------------------- tick */

/* Free the series whose whole history has aged out (not published for as
 * long as the coarse tier reaches back): a metric keyed by something that
 * comes and goes (an interface, a DSQ) must not keep them for ever. */
static void sweep_expired(uint64_t step)
{
	uint64_t keep = (uint64_t)mstore.geom.coarse_slots * mstore.geom.factor;

	for (uint32_t i = 0; i < mstore.n_metrics; i++) {
		struct metric *m = mstore.m[i];
		uint32_t j = 0, n = m->n_series;

		for (uint32_t k = 0; k < n; k++) {
			struct series *s = m->series[k];

			if (step > s->pub_step + keep) {
				series_free(s);
				mstore.n_series--;
			} else {
				m->series[j++] = s;
			}
		}
		if (j == n)
			continue;
		m->n_series = j;
		/* the survivors moved down: index them again (the table is kept) */
		smcp_hashmap_clear(&m->index);
		for (uint32_t k = 0; k < j; k++)
			(void)smcp_hashmap_add_hashed(&m->index, k, m->series[k]->hash, 0, NULL);
		mstore.generation++;
	}
}

static void series_close(struct series *s, uint64_t step, uint64_t stale_steps)
{
	const struct metric *m = s->m;
	bool stale = step > s->pub_step + stale_steps;

	if (m->type == SMCP_METRIC_GAUGE) {
		history_put_scalar(&s->h, &mstore.geom, step, stale ? NAN : s->cur);
	} else if (m->type == SMCP_METRIC_COUNTER) {
		double v = s->delta_seen ? s->cur : (s->have_delta && !stale ? 0 : NAN);

		history_put_scalar(&s->h, &mstore.geom, step, v);
		if (isfinite(v))
			s->total += v;
		s->cur = 0;
	} else {
		bool known = s->delta_seen || (s->have_delta && !stale);

		history_put_hist(&s->h, &mstore.geom, step, known ? s->hcur : NULL, s->hsum_cur,
				 &mstore.budget);
		for (uint32_t i = 0; known && i < m->nb; i++)
			s->htotal[i] += s->hcur[i];
		if (known && isfinite(s->hsum_cur))
			s->hsum_total += s->hsum_cur;
		memset(s->hcur, 0, m->nb * sizeof(*s->hcur));
		s->hsum_cur = 0;
	}
	s->have_delta |= s->delta_seen;
	s->delta_seen = false;
	s->last_score = s->score;
	if (m->type != SMCP_METRIC_GAUGE)
		s->score = 0;
}

void metrics_tick(uint64_t now_ns)
{
	uint64_t step, stale_steps;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	reap_dead();
	/* the step that just ended: the one whose end is nearest, so that a
	 * timer firing a little late (or early) still closes the right step.
	 * A restored timeline's t0_ns can lie before the monotonic clock's
	 * zero (metrics_continue): the difference is taken modulo 2^64. */
	if ((int64_t)(now_ns - mstore.t0_ns) < 0)
		return;
	step = (now_ns - mstore.t0_ns + mstore.geom.step_ns / 2) / mstore.geom.step_ns;
	if (!step)
		return;
	step--;
	/* a second tick in one step collects nothing: one collect per step */
	if (mstore.any_step && step <= mstore.last_step)
		return;
	for (uint32_t i = 0; i < n_collectors; i++) {
		uint64_t caps = privs_enter(collectors[i].owner);

		collectors[i].cb(collectors[i].data, now_ns);
		privs_leave(caps);
	}
	/* a series not published for STALE_STEPS steps (and 5 s) has no data */
	stale_steps = STALE_MIN_NS / mstore.geom.step_ns;
	if (stale_steps < STALE_STEPS)
		stale_steps = STALE_STEPS;
	for (uint32_t i = 0; i < mstore.n_metrics; i++) {
		struct metric *m = mstore.m[i];

		for (uint32_t j = 0; j < m->n_series; j++)
			series_close(m->series[j], step, stale_steps);
	}
	mstore.last_step = step;
	mstore.any_step = true;
	mstore.next_step = step + 1;
	if (step % mstore.geom.factor == 0)
		sweep_expired(step);
	for (uint32_t i = 0; i < n_observers; i++)
		observers[i].fn(observers[i].ctx, step);
	clock_gettime(CLOCK_MONOTONIC, &b);
	mstore.tick_ns_last =
		(uint64_t)((b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec));
	if (mstore.tick_ns_last > mstore.tick_ns_max)
		mstore.tick_ns_max = mstore.tick_ns_last;
	mstore.tick_ns_sum += mstore.tick_ns_last;
	mstore.ticks++;
}

static void on_tick(void *data)
{
	metrics_tick(loop_now_ns());
}

/* ------------------------------------------------------ restored state */

/* The first tick of a restored timeline, on a step boundary: from here the
 * repeating tick keeps that phase. */
static void on_phase(void *data)
{
	int id;

	mstore.timer = 0;
	metrics_tick(loop_now_ns());
	id = mstore.api->timer_add(mstore.core, mstore.lim.step_ms, true, on_tick, NULL);
	if (id > 0)
		mstore.timer = id;
	else
		log_err("cannot restart the metric sample tick: %s; history stops here",
			strerror(-id));
}

int metrics_continue(int64_t t0_unix_ms, uint64_t last_step, uint64_t now_ns, int64_t now_unix_ms)
{
	uint64_t step_ms = mstore.geom.step_ns / 1000000, cur, since_ns, delay_ms;
	int id = 0;

	if (mstore.any_step)
		return -EBUSY;
	if (!step_ms || now_unix_ms < t0_unix_ms)
		return -ERANGE;
	cur = (uint64_t)(now_unix_ms - t0_unix_ms) / step_ms;
	if (cur <= last_step)
		return -ERANGE;
	since_ns = (uint64_t)(now_unix_ms - t0_unix_ms) * 1000000;
	/* tick on the restored timeline's step boundaries, as a fresh start
	 * does on its own: a tick half a step off would close some steps
	 * twice and skip others */
	if (mstore.timer > 0 && mstore.api) {
		delay_ms = ((cur + 1) * mstore.geom.step_ns - since_ns + 999999) / 1000000;
		id = mstore.api->timer_add(mstore.core, delay_ms ? delay_ms : 1, false, on_phase,
					   NULL);
		if (id < 0)
			return id;
		(void)mstore.api->timer_remove(mstore.core, mstore.timer);
		mstore.timer = id;
	}
	mstore.t0_unix_ms = t0_unix_ms;
	mstore.t0_ns = now_ns - since_ns; /* may wrap: see metrics_tick */
	mstore.next_step = cur;
	mstore.last_step = last_step;
	mstore.any_step = true;
	/* series the plugins created in init() start at the new step */
	for (uint32_t i = 0; i < mstore.n_metrics; i++) {
		struct metric *m = mstore.m[i];

		for (uint32_t j = 0; j < m->n_series; j++) {
			struct series *s = m->series[j];

			history_reset(&s->h, &mstore.geom, cur);
			s->first_step = s->pub_step = cur;
		}
	}
	mstore.generation++;
	return 0;
}

struct series *metrics_series_restore(struct metric *m, const char *const *lv, uint64_t first_step,
				      uint64_t pub_step, double last_score, int *err)
{
	size_t bytes = sizeof(struct series) + 3 * m->nb * sizeof(uint64_t) +
		       history_base_bytes(&mstore.geom, m->nb);
	struct series *s;
	struct packed p;
	int64_t i;

	*err = pack_labels(m, lv, &p);
	if (*err)
		return NULL;
	i = series_find(m, &p);
	if (i >= 0) {
		/* created in init(): its publishing state stays, its history is restored */
		s = m->series[i];
		s->first_step = first_step;
		s->last_score = last_score;
		return s;
	}
	/* the limits a publish meets, checked first so that a series left
	 * out here is not counted as a plugin's refused publish */
	*err = -ENOSPC;
	if (((m->flags & SMCP_METRIC_TOP_N) && m->n_series >= mstore.lim.top_n) ||
	    mstore.n_series >= mstore.lim.max_series ||
	    mstore.budget.used + bytes > mstore.budget.max)
		return NULL;
	s = metrics_series_get(m, lv, 0, err);
	if (!s)
		return NULL;
	s->first_step = first_step;
	s->pub_step = pub_step;
	s->last_score = last_score;
	/* nothing is known of a gauge's value until its plugin publishes it
	 * again: no data, not the zero a new series starts from */
	if (m->type == SMCP_METRIC_GAUGE)
		s->cur = NAN;
	return s;
}

/* ------------------------------------------------------- setup, teardown */

int metrics_store_init(const struct metrics_limits *lim, uint64_t t0_ns)
{
	mstore = (struct metrics_store){ .lim = *lim };
	mstore.geom = (struct history_geom){
		.step_ns = lim->step_ms * 1000000ull,
		.fine_slots = lim->fine_slots,
		.coarse_slots = lim->coarse_slots,
		.factor = lim->coarse_factor,
		.fine_hist_bytes = FINE_HIST_BYTES,
		.coarse_hist_bytes = COARSE_HIST_BYTES,
	};
	mstore.budget.max = lim->max_bytes;
	mstore.t0_ns = t0_ns;
	mstore.t0_unix_ms = metrics_now_unix_ms();
	n_collectors = 0;
	n_observers = 0;
	warned_limit = false;
	return 0;
}

void metrics_store_fini(void)
{
	for (uint32_t i = 0; i < mstore.n_metrics; i++) {
		struct metric *m = mstore.m[i];

		metric_kill(m);
		free(m->help);
		free(m->bounds);
		free(m);
	}
	free(mstore.m);
	n_collectors = 0;
	n_observers = 0;
	mstore = (struct metrics_store){ 0 };
}

const struct metrics_store *metrics_view(void)
{
	return &mstore;
}

struct metrics_store *metrics_store_for_tests(void)
{
	return &mstore;
}

struct history_budget *metrics_budget(void)
{
	return &mstore.budget;
}

void metrics_bump_generation(void)
{
	mstore.generation++;
}

const struct metrics_limits *metrics_configured(void)
{
	return &configured;
}

int metrics_on_step(void (*fn)(void *ctx, uint64_t step), void *ctx)
{
	if (n_observers >= METRICS_MAX_OBSERVERS)
		return -ENOSPC;
	observers[n_observers].fn = fn;
	observers[n_observers++].ctx = ctx;
	return 0;
}

int metrics_init(struct smcp_host *core, const struct smcp_host_api *api)
{
	int err = metrics_store_init(&configured, loop_now_ns());

	if (err)
		return err;
	mstore.core = core;
	mstore.api = api;
	mstore.timer = api->timer_add(core, configured.step_ms, true, on_tick, NULL);
	return mstore.timer > 0 ? 0 : mstore.timer;
}

void metrics_fini(void)
{
	/* the timer belongs to the core's host record; the loader removes it */
	metrics_store_fini();
}
