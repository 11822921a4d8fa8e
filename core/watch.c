/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "metrics_query.h"
#include "metrics_tools.h"
#include "jbuf.h"
#include "watch_impl.h"

static struct watch_set watchset;

static const char *op_text(enum cond_op op)
{
	static const char *const t[] = { ">", ">=", "<", "<=" };

	return t[op];
}

int watch_condition_parse(const struct metric *m, const char *text, struct condition *c, char *err,
			  size_t errlen)
{
	char stat[16], unit[24];
	const char *p = text;
	size_t n = 0;

	while (*p == ' ')
		p++;
	while ((isalnum((unsigned char)*p) || *p == '.') && n < sizeof(stat) - 1)
		stat[n++] = *p++;
	stat[n] = '\0';
	while (*p == ' ')
		p++;
	if (metrics_query_stat_parse(stat, &c->stat)) {
		snprintf(err, errlen,
			 "condition '%s': expected '<stat> <op> <threshold>' such as 'p99 > 2ms'; "
			 "'%s' is not a statistic",
			 text, stat);
		return -EINVAL;
	}
	if (!metrics_query_stat_valid_for(c->stat, m->type)) {
		snprintf(err, errlen, "condition '%s': %s is a %s; use %s", text, m->name,
			 metrics_type_name(m->type),
			 m->type == SMCP_METRIC_GAUGE	  ? "value, mean, min or max"
			 : m->type == SMCP_METRIC_COUNTER ? "rate, increase, max or min"
							  : "p50, p90, p95, p99, p999, mean, "
							    "max, min, rate or count");
		return -EINVAL;
	}
	if ((p[0] == '>' || p[0] == '<') && p[1] != '>' && p[1] != '<') {
		c->op = p[0] == '>' ? (p[1] == '=' ? OP_GE : OP_GT) : (p[1] == '=' ? OP_LE : OP_LT);
		p += p[1] == '=' ? 2 : 1;
	} else {
		snprintf(err, errlen, "condition '%s': the operator must be >, >=, < or <=", text);
		return -EINVAL;
	}
	if (metrics_text_parse_quantity(p, metrics_query_stat_unit(c->stat, m, unit, sizeof(unit)),
					&c->threshold, err, errlen))
		return -EINVAL;
	snprintf(c->text, sizeof(c->text), "%s %s %s", metrics_query_stat_name(c->stat),
		 op_text(c->op), p + strspn(p, " "));
	return 0;
}

static bool cond_met(const struct condition *c, double v)
{
	if (isnan(v))
		return false;
	switch (c->op) {
	case OP_GT:
		return v > c->threshold;
	case OP_GE:
		return v >= c->threshold;
	case OP_LT:
		return v < c->threshold;
	case OP_LE:
		return v <= c->threshold;
	}
	return false;
}

/* Back on the good side by the hysteresis margin (no data counts as good). */
static bool cond_clear(const struct watch *w, double v)
{
	double margin = fabs(w->cond.threshold) * w->hysteresis_pct / 100;

	if (isnan(v))
		return true;
	if (w->cond.op == OP_GT || w->cond.op == OP_GE)
		return v < w->cond.threshold - margin;
	return v > w->cond.threshold + margin;
}

/* ------------------------------------------------------------ evaluation */

void watch_refresh_group(struct watch *w, const struct metric *m)
{
	if (w->gm == m && w->gen == metrics_view()->generation)
		return;
	w->ng = 0;
	w->gm = m;
	w->gen = metrics_view()->generation;
	if (!m)
		return;
	if (w->gcap < m->n_series) {
		struct series **g = realloc(w->g, m->n_series * sizeof(*g));

		if (!g) {
			w->gen = metrics_view()->generation - 1; /* try again next tick */
			return;
		}
		w->g = g;
		w->gcap = m->n_series;
	}
	for (uint32_t i = 0; i < m->n_series; i++)
		if (metrics_query_selector_match(&w->sel, m->series[i]))
			w->g[w->ng++] = m->series[i];
}

static uint64_t secs_to_steps(double secs)
{
	double st = metrics_step_secs();

	return (uint64_t)ceil(secs / st - 1e-9);
}

static double evaluate(struct watch *w, uint64_t step)
{
	const struct metric *m = metrics_find(w->metric);
	uint64_t n = secs_to_steps(w->window_secs), from;
	struct qacc a;
	double v;

	watch_refresh_group(w, m);
	if (!m || !w->ng)
		return NAN;
	if (n < 1)
		n = 1;
	from = step + 1 > n ? step + 1 - n : 0;
	metrics_query_qacc_init(&a, m, TIER_FINE);
	metrics_query_qacc_add(&a, m, w->g, w->ng, TIER_FINE, from, step, w->agg);
	v = metrics_query_qacc_stat(&a, m, w->cond.stat);
	if (m->type == SMCP_METRIC_HISTOGRAM && w->cond.stat != ST_COUNT &&
	    w->cond.stat != ST_RATE && a.n_obs < w->min_samples)
		return NAN;
	return v;
}

/* ------------------------------------------------------------- events */

/* ,"k": before a member of the event object (every member but the first) */
static void key(struct jbuf *b, const char *k)
{
	jbuf_put(b, ",", 1);
	jbuf_strz(b, k);
	jbuf_put(b, ":", 1);
}

static void put_str(struct jbuf *b, const char *k, const char *v)
{
	key(b, k);
	jbuf_strz(b, v);
}

static void put_num(struct jbuf *b, const char *k, double v)
{
	key(b, k);
	jbuf_double(b, isfinite(v) ? metrics_text_round_sig(v) : v); /* null when not finite */
}

uint64_t watch_oldest_seq(void)
{
	return watchset.next_seq > watchset.cap ? watchset.next_seq - watchset.cap : 1;
}

/* The event as text, written once (what watch_status and
 * watches://breaches copy into their answers as they are). */
static void write_event(struct jbuf *b, const struct watch *w, bool breach, int64_t ms,
			const char *u, const char *vt, const char *pt, double held,
			const cJSON *ctx, bool cut)
{
	char when[40];

	metrics_text_format_time(ms, when, sizeof(when));
	jbuf_puts(b, "{\"seq\":");
	jbuf_uint(b, watchset.next_seq);
	put_str(b, "kind", breach ? "breach" : "clear");
	key(b, "watch_id");
	jbuf_uint(b, w->id);
	if (*w->name)
		put_str(b, "name", w->name);
	put_str(b, "metric", w->metric);
	if (*w->labels)
		put_str(b, "labels", w->labels);
	put_str(b, "condition", w->cond.text);
	put_str(b, "time", when);
	key(b, "unix_ms");
	jbuf_int(b, ms);
	put_str(b, "unit", u);
	put_num(b, "value", w->value);
	put_str(b, "value_text", vt);
	put_num(b, "threshold", w->cond.threshold);
	if (breach) {
		put_num(b, "held_secs", held);
		key(b, "context");
		if (cut)
			jbuf_strz(b, "(cut: larger than 8 KiB)");
		else
			jbuf_cjson(b, ctx); /* null when there is none */
	} else {
		put_num(b, "peak", w->peak);
		put_str(b, "peak_text", pt);
		put_num(b, "breach_secs", held);
	}
	jbuf_put(b, "}", 1);
}

/* The same breach or clear in events://stream, where a model that only
 * subscribes reads it: small (the context stays in watch_status, under
 * the seq given), so it always fits the stream's event size. */
static void stream_event(const struct watch *w, bool breach, uint64_t seq, const char *vt,
			 double held)
{
	const struct smcp_host_api *api = watchset.api;
	struct smcp_json *j = api->event_begin(watchset.core, breach ? "watch.breach" :
									 "watch.clear");

	if (!j)
		return;
	api->json_uint(j, "watch_id", w->id);
	if (*w->name)
		api->json_string(j, "name", w->name);
	api->json_string(j, "metric", w->metric);
	if (*w->labels)
		api->json_string(j, "labels", w->labels);
	api->json_string(j, "condition", w->cond.text);
	api->json_string(j, "value_text", vt);
	api->json_double(j, breach ? "held_secs" : "breach_secs", held);
	api->json_uint(j, "watch_status_cursor", seq);
	(void)api->event_commit(watchset.core, j);
}

static void publish(const struct watch *w, bool breach, uint64_t step, cJSON *ctx)
{
	const struct metric *m = metrics_find(w->metric);
	char unit[24], vt[48], pt[48];
	int64_t ms = metrics_step_unix_ms(step + 1);
	const char *u = m ? metrics_query_stat_unit(w->cond.stat, m, unit, sizeof(unit)) : "1";
	double held = (double)(step + 1 - w->since) * metrics_step_secs();
	struct breach *b;
	struct jbuf out;
	char *text;

	metrics_text_format_quantity(w->value, u, vt, sizeof(vt));
	metrics_text_format_quantity(w->peak, u, pt, sizeof(pt));
	if (!watchset.next_seq)
		watchset.next_seq = 1;
	jbuf_init(&out, EVENT_MAX_BYTES);
	write_event(&out, w, breach, ms, u, vt, pt, held, ctx, false);
	if (jbuf_over(&out)) {
		/* a context that big is cut rather than the breach lost */
		jbuf_free(&out);
		write_event(&out, w, breach, ms, u, vt, pt, held, NULL, true);
	}
	cJSON_Delete(ctx);
	text = jbuf_take(&out, NULL);
	if (!text)
		return;
	b = &watchset.ring[watchset.next_seq % watchset.cap];
	free(b->text);
	b->text = text;
	b->seq = watchset.next_seq++;
	if (breach) {
		watchset.breaches_total++;
		log_msg(SMCP_LOG_WARNING, "watch",
			"watch %u%s%s breached: %s%s%s%s = %s (%s) for %.3gs; watch_status "
			"cursor %llu has the context",
			w->id, *w->name ? " " : "", w->name, w->metric, *w->labels ? "{" : "",
			w->labels, *w->labels ? "}" : "", vt, w->cond.text, held,
			(unsigned long long)(b->seq));
	} else {
		watchset.clears_total++;
		log_msg(SMCP_LOG_NOTICE, "watch", "watch %u%s%s cleared after %.3gs (peak %s)",
			w->id, *w->name ? " " : "", w->name, held, pt);
	}
	if (watchset.api && watchset.core) {
		watchset.api->notify_resource_updated(watchset.core, BREACHES_URI);
		stream_event(w, breach, b->seq, vt, held);
	}
}

const char *watch_state_name(enum watch_state s)
{
	return s == W_FIRING ? "firing" : s == W_PENDING ? "pending" : "ok";
}

void watch_tick(uint64_t step)
{
	for (uint32_t i = 0; i < watchset.n; i++) {
		struct watch *w = watchset.w[i];
		double v = evaluate(w, step);
		bool worse;

		w->value = v;
		switch (w->state) {
		case W_OK:
			if (!cond_met(&w->cond, v))
				break;
			w->state = W_PENDING;
			w->since = step;
			/* for_secs may be 0 */
			__attribute__((fallthrough));
		case W_PENDING:
			if (!cond_met(&w->cond, v)) {
				w->state = W_OK;
				break;
			}
			if ((double)(step - w->since) * metrics_step_secs() + 1e-9 < w->for_secs)
				break;
			w->state = W_FIRING;
			w->clearing = false;
			w->peak = v;
			w->episodes++;
			publish(w, true, step, watch_context_snapshot(w->window_secs, step));
			break;
		case W_FIRING:
			worse = w->cond.op == OP_GT || w->cond.op == OP_GE ? v > w->peak
									   : v < w->peak;
			if (!isnan(v) && (isnan(w->peak) || worse))
				w->peak = v;
			if (!cond_clear(w, v)) {
				w->clearing = false;
				break;
			}
			if (!w->clearing) {
				w->clearing = true;
				w->clear_since = step;
			}
			if ((double)(step - w->clear_since) * metrics_step_secs() + 1e-9 <
			    w->clear_secs)
				break;
			w->state = W_OK;
			publish(w, false, step, NULL);
			break;
		}
	}
}

static struct watch *find_watch(int64_t id, uint32_t *ret_i)
{
	for (uint32_t i = 0; i < watchset.n; i++)
		if (watchset.w[i]->id == id) {
			*ret_i = i;
			return watchset.w[i];
		}
	return NULL;
}

int watch_add(const struct watch_def *d, char *err, size_t errlen)
{
	const struct metric *m = metrics_find(d->metric);
	uint32_t unused;
	struct watch *w;

	if (!m) {
		snprintf(err, errlen,
			 "no metric '%s': read metrics://catalog (or call query_history without a "
			 "metric) for the names",
			 d->metric);
		return -ENOENT;
	}
	if (watchset.n >= watchset.max) {
		snprintf(err, errlen,
			 "%u watches exist, the most allowed ([core] max_watches); delete one with "
			 "watch_delete first",
			 watchset.n);
		return -ENOSPC;
	}
	if (d->id && find_watch(d->id, &unused)) {
		snprintf(err, errlen, "watch %u exists", d->id);
		return -EEXIST;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	if (metrics_query_selector_parse(&w->sel, m, *d->labels ? d->labels : NULL, err, errlen) ||
	    watch_condition_parse(m, d->condition, &w->cond, err, errlen)) {
		free(w);
		return -EINVAL;
	}
	w->agg = m->type == SMCP_METRIC_GAUGE ? AGG_AVG : AGG_SUM;
	if (*d->agg && metrics_query_agg_parse(d->agg, &w->agg)) {
		free(w);
		snprintf(err, errlen, "agg: one of sum, avg, max, min");
		return -EINVAL;
	}
	w->id = d->id ? d->id : watchset.next_id + 1;
	if (w->id > watchset.next_id)
		watchset.next_id = w->id;
	snprintf(w->name, sizeof(w->name), "%s", d->name);
	snprintf(w->metric, sizeof(w->metric), "%s", m->name);
	metrics_query_selector_format(&w->sel, m, w->labels, sizeof(w->labels));
	w->for_secs = d->for_secs;
	w->window_secs = d->window_secs < metrics_step_secs() ? metrics_step_secs()
							      : d->window_secs;
	w->clear_secs = d->clear_secs;
	w->hysteresis_pct = d->hysteresis_pct;
	w->min_samples = d->min_samples;
	w->value = NAN;
	w->peak = NAN;
	w->created_ms = d->created_ms ? d->created_ms : metrics_now_unix_ms();
	w->gen = metrics_view()->generation - 1;
	watchset.w[watchset.n++] = w;
	watchset.generation++;
	watch_refresh_group(w, m);
	return (int)w->id;
}

uint32_t watch_count(void)
{
	return watchset.n;
}

uint32_t watch_generation(void)
{
	return watchset.generation;
}

void watch_get_def(uint32_t i, struct watch_def *d)
{
	const struct watch *w = watchset.w[i];
	const struct metric *m = metrics_find(w->metric);

	*d = (struct watch_def){
		.id = w->id,
		.for_secs = w->for_secs,
		.window_secs = w->window_secs,
		.clear_secs = w->clear_secs,
		.hysteresis_pct = w->hysteresis_pct,
		.min_samples = w->min_samples,
		.created_ms = w->created_ms,
	};
	snprintf(d->name, sizeof(d->name), "%s", w->name);
	snprintf(d->metric, sizeof(d->metric), "%s", w->metric);
	/* w->labels is cut for display; the selector itself is whole */
	if (m)
		metrics_query_selector_format(&w->sel, m, d->labels, sizeof(d->labels));
	else
		snprintf(d->labels, sizeof(d->labels), "%s", w->labels);
	snprintf(d->condition, sizeof(d->condition), "%s", w->cond.text);
	snprintf(d->agg, sizeof(d->agg), "%s", metrics_query_agg_name(w->agg));
}

const struct watch *watch_find(int64_t id)
{
	uint32_t i;

	return find_watch(id, &i);
}

const struct watch *watch_at(uint32_t i)
{
	return i < watchset.n ? watchset.w[i] : NULL;
}

int watch_delete(int64_t id)
{
	struct watch *w;
	uint32_t i;

	w = find_watch(id, &i);
	if (!w)
		return -ENOENT;
	memmove(&watchset.w[i], &watchset.w[i + 1], (watchset.n - i - 1) * sizeof(*watchset.w));
	watchset.n--;
	watchset.generation++;
	free(w->g);
	free(w);
	return 0;
}

void watch_log(struct watch_log *ret)
{
	if (!watchset.next_seq)
		watchset.next_seq = 1;
	*ret = (struct watch_log){
		.next_seq = watchset.next_seq,
		.oldest_seq = watch_oldest_seq(),
		.breaches_total = watchset.breaches_total,
		.clears_total = watchset.clears_total,
		.capacity = watchset.cap,
		.max_watches = watchset.max,
	};
}

const char *watch_event(uint64_t seq)
{
	return seq < watchset.next_seq && seq >= watch_oldest_seq()
		       ? watchset.ring[seq % watchset.cap].text
		       : NULL;
}

void watch_set_host(struct smcp_host *core, const struct smcp_host_api *api)
{
	watchset.core = core;
	watchset.api = api;
}

static void on_step(void *ctx, uint64_t step)
{
	watch_tick(step);
}

int watch_store_init(uint32_t max_watches, uint32_t breach_ring)
{
	int err;

	watch_store_fini();
	watchset.max = max_watches;
	watchset.cap = breach_ring;
	watchset.w = calloc(max_watches, sizeof(*watchset.w));
	watchset.ring = calloc(breach_ring, sizeof(*watchset.ring));
	if (!watchset.w || !watchset.ring) {
		watch_store_fini();
		return -ENOMEM;
	}
	watchset.next_seq = 1;
	/* evaluated after every recorded step: the store calls us, knowing
	 * nothing of watches */
	err = metrics_on_step(on_step, NULL);
	if (err)
		watch_store_fini();
	return err;
}

void watch_store_fini(void)
{
	for (uint32_t i = 0; i < watchset.n; i++) {
		free(watchset.w[i]->g);
		free(watchset.w[i]);
	}
	if (watchset.ring)
		for (uint32_t i = 0; i < watchset.cap; i++)
			free(watchset.ring[i].text);
	free(watchset.w);
	free(watchset.ring);
	memset(&watchset, 0, sizeof(watchset));
}
