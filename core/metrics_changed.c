/* SPDX-License-Identifier: MIT */
/* what_changed (two windows compared, the series that moved most) and the
 * monitor prompt (a watch and the polling loop around it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/glob.h>

#include "host.h"
#include "metrics.h"
#include "metrics_query.h"
#include "metrics_tools.h"

#define CHANGES_MIN_SAMPLES 20

static const struct smcp_host_api *api;

/* ---------------------------------------------------------- what_changed */

struct change {
	const struct series *s;
	enum q_stat stat;
	double before, after, score;
	uint64_t n_before, n_after;
};

static int by_score_desc(const void *a, const void *b)
{
	double x = ((const struct change *)a)->score, y = ((const struct change *)b)->score;

	return (x < y) - (x > y);
}

static void window_acc(struct qacc *a, const struct metric *m, struct series *s,
		       const struct qrange *r, bool ok)
{
	metrics_query_qacc_init(a, m, ok ? r->tier : TIER_FINE);
	if (ok)
		metrics_query_qacc_add(a, m, &s, 1, r->tier, r->from, r->to, AGG_SUM);
}

/* What counts as noise in a unit: below it a change is not worth naming. */
static double noise_floor(const char *unit)
{
	char base[16];
	size_t n;
	bool rate = false;
	double t = 0;

	snprintf(base, sizeof(base), "%s", unit ? unit : "1");
	n = strlen(base);
	if (n > 2 && strcmp(base + n - 2, "/s") == 0) {
		base[n - 2] = '\0';
		rate = true;
	}
	if (strcmp(base, "ns") == 0)
		t = 1;
	else if (strcmp(base, "us") == 0)
		t = 1e3;
	else if (strcmp(base, "ms") == 0)
		t = 1e6;
	else if (strcmp(base, "s") == 0)
		t = 1e9;
	if (t > 0)
		/* a latency: 10 us; time per second (CPU time): 1 % of a CPU */
		return (rate ? 1e7 : 1e4) / t;
	if (strcmp(base, "pct") == 0)
		return 1; /* one percentage point */
	if (strcmp(base, "bytes") == 0)
		return rate ? 4096 : 1048576;
	return rate ? 10 : 1; /* ten events a second (a scheduler's rates are hundreds) */
}

double metrics_changed_significance(double before, double after, const char *unit)
{
	double b, a;

	if (isnan(before) && isnan(after))
		return 0;
	b = isfinite(before) ? before : 0;
	a = isfinite(after) ? after : 0;
	return log2(1 + fabs(a - b) / (fmin(fabs(a), fabs(b)) + noise_floor(unit)));
}

static void consider(struct change *c, const struct metric *m, enum q_stat st, double b, double a)
{
	char unit[24];
	double r = metrics_changed_significance(b, a,
						metrics_query_stat_unit(st, m, unit, sizeof(unit)));

	if (r > c->score || (r == c->score && c->stat == ST__N)) {
		c->stat = st;
		c->before = b;
		c->after = a;
		c->score = r;
	}
}

static uint64_t steps_of(int64_t ms, int64_t step_ms)
{
	int64_t n = (ms + step_ms - 1) / step_ms;

	return n < 1 ? 1 : (uint64_t)n;
}

/* Steps [from, to] as slots of the fine tier when it holds from, else as
 * the coarse slots within them: wholly after from (after, which ends at
 * the newest) or wholly before to (before, which must end before after). */
static int to_slots(uint64_t from, uint64_t to, uint64_t fine_lo, bool is_before, struct qrange *r)
{
	uint64_t f = metrics_view()->geom.factor;

	if (from >= fine_lo) {
		*r = (struct qrange){ .tier = TIER_FINE, .from = from, .to = to };
		return 0;
	}
	if (is_before) {
		if ((to + 1) / f == 0 || (to + 1) / f - 1 < from / f)
			return -ERANGE;
		*r = (struct qrange){ .tier = TIER_COARSE, .from = from / f,
				      .to = (to + 1) / f - 1 };
		return 0;
	}
	*r = (struct qrange){ .tier = TIER_COARSE, .from = (from + f - 1) / f, .to = to / f };
	if (r->from > r->to)
		r->from = r->to;
	return 0;
}

int metrics_changed_plan(int64_t end_ms, int64_t window_ms, int64_t baseline_ms,
			 struct changed_plan *p, uint64_t *ret_have_steps)
{
	const struct history_geom *g = &metrics_view()->geom;
	uint64_t last = metrics_view()->last_step, cur_c, first, fine_lo, a1, have, ws, bs, a0;
	int64_t step_ms = (int64_t)(g->step_ns / 1000000), e;
	int err;

	*p = (struct changed_plan){ 0 };
	*ret_have_steps = 0;
	if (!metrics_view()->any_step || step_ms <= 0)
		return -ENOENT;
	e = metrics_unix_to_step(end_ms - 1);
	if (e < 0)
		return -ENOENT;
	a1 = (uint64_t)e > last ? last : (uint64_t)e;
	/* the oldest step kept: the coarse tier reaches furthest back */
	cur_c = last / g->factor;
	first = cur_c + 1 > g->coarse_slots ? (cur_c + 1 - g->coarse_slots) * g->factor : 0;
	fine_lo = last + 1 > g->fine_slots ? last + 1 - g->fine_slots : 0;
	if (a1 < first)
		return -ENOENT;
	have = a1 - first + 1;
	*ret_have_steps = have;
	if (have < 2)
		return -ENOENT;
	ws = steps_of(window_ms, step_ms);
	bs = steps_of(baseline_ms, step_ms);
	if (ws >= have) {
		/* after would leave before nothing: half each */
		ws = have / 2;
		bs = have - ws;
		p->shortened = true;
	} else if (ws + bs > have) {
		bs = have - ws;
		p->shortened = true;
	}
	a0 = a1 - ws + 1;
	err = to_slots(a0, a1, fine_lo, false, &p->after);
	if (!err)
		err = to_slots(a0 - bs, a0 - 1, fine_lo, true, &p->before);
	p->first_step = first;
	p->last_step = a1;
	return err;
}

/* One window of the answer: when it starts and ends, and how long it is. */
static void write_window(struct smcp_json *j, const char *key, const struct qrange *r)
{
	int64_t start = metrics_query_slot_unix_ms(r->tier, r->from),
		end = metrics_query_slot_unix_ms(r->tier, r->to + 1);
	char buf[64];

	api->json_object(j, key);
	metrics_text_format_time(start, buf, sizeof(buf));
	api->json_string(j, "start", buf);
	metrics_text_format_time(end, buf, sizeof(buf));
	api->json_string(j, "end", buf);
	api->json_double(j, "seconds", (double)(end - start) / 1000);
	api->json_end(j);
}

static int tool_changed(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	int64_t now = metrics_now_unix_ms(), end, window, baseline, limit = 10;
	const char *glob = NULL;
	struct change *ch = NULL;
	struct changed_plan plan;
	struct qrange ra, rb;
	uint64_t have = 0;
	uint32_t n = 0, cap = 0, compared = 0, shown = 0;
	struct qacc *A = NULL, *B = NULL;
	struct smcp_json *j;
	char err[400], buf[64], unit[24];
	int rc = 0;

	(void)api->arg_string(args, "metric", &glob);
	(void)api->arg_int(args, "limit", &limit);
	if (metrics_tools_arg_time(args, "end", "now", now, &end, err, sizeof(err)) ||
	    metrics_tools_arg_duration(args, "window", "5m", &window, err, sizeof(err)) ||
	    metrics_tools_arg_duration(args, "baseline", "1h", &baseline, err, sizeof(err)))
		return api->result_error(res, "%s", err);
	rc = metrics_changed_plan(end, window, baseline, &plan, &have);
	if (rc == -ENOENT)
		return api->result_error(res,
					 "history up to that time holds %llu step(s) of %gs: "
					 "what_changed needs two; wait a few seconds, or move end "
					 "later",
					 (unsigned long long)have, metrics_step_secs());
	if (rc == -ERANGE)
		return api->result_error(res,
					 "the baseline is older than the fine tier (%gs steps) "
					 "and shorter than one coarse step (%gs): give a "
					 "baseline of at least %gs",
					 metrics_step_secs(),
					 metrics_step_secs() * metrics_view()->geom.factor,
					 metrics_step_secs() * metrics_view()->geom.factor * 2);
	rc = 0;
	ra = plan.after;
	rb = plan.before;
	A = malloc(sizeof(*A));
	B = malloc(sizeof(*B));
	if (!A || !B) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead || (glob && !smcp_glob_match(glob, m->name)))
			continue;
		for (uint32_t k = 0; k < m->n_series; k++) {
			struct series *s = m->series[k];
			struct change c = { .s = s, .stat = ST__N, .score = -1 };

			window_acc(A, m, s, &ra, true);
			window_acc(B, m, s, &rb, true);
			if (!A->slots && !B->slots)
				continue;
			compared++;
			if (m->type == SMCP_METRIC_HISTOGRAM) {
				c.n_before = B->n_obs;
				c.n_after = A->n_obs;
				if (A->n_obs >= CHANGES_MIN_SAMPLES &&
				    B->n_obs >= CHANGES_MIN_SAMPLES)
					consider(&c, m, ST_P99,
						 metrics_query_qacc_stat(B, m, ST_P99),
						 metrics_query_qacc_stat(A, m, ST_P99));
				consider(&c, m, ST_RATE,
					 B->slots ? metrics_query_qacc_stat(B, m, ST_RATE) : NAN,
					 A->slots ? metrics_query_qacc_stat(A, m, ST_RATE) : NAN);
			} else {
				enum q_stat st = m->type == SMCP_METRIC_COUNTER ? ST_RATE : ST_MEAN;

				consider(&c, m, st, metrics_query_qacc_stat(B, m, st),
					 metrics_query_qacc_stat(A, m, st));
			}
			if (c.score <= 0)
				continue;
			if (n == cap) {
				uint32_t nc = cap ? cap * 2 : 64;
				struct change *x = realloc(ch, nc * sizeof(*x));

				if (!x) {
					rc = -ENOMEM;
					goto out;
				}
				ch = x;
				cap = nc;
			}
			ch[n++] = c;
		}
	}
	if (n)
		qsort(ch, n, sizeof(*ch), by_score_desc);
	j = api->result_json(res);
	if (!j) {
		rc = -ENOMEM;
		goto out;
	}
	write_window(j, "before", &rb);
	write_window(j, "after", &ra);
	api->json_object(j, "history");
	api->json_double(j, "available_s",
			 (double)(plan.last_step - plan.first_step + 1) * metrics_step_secs());
	metrics_text_format_time(metrics_step_unix_ms(plan.first_step), buf, sizeof(buf));
	api->json_string(j, "oldest", buf);
	if (plan.shortened) {
		snprintf(err, sizeof(err),
			 "history up to end holds %gs, less than window + baseline (%gs + %gs): "
			 "the windows were shortened to what exists",
			 (double)(plan.last_step - plan.first_step + 1) * metrics_step_secs(),
			 (double)window / 1000, (double)baseline / 1000);
		api->json_string(j, "note", err);
	}
	api->json_end(j);
	api->json_uint(j, "series_compared", compared);
	api->json_uint(j, "series_changed", n);
	api->json_array(j, "changes");
	for (uint32_t i = 0; i < n && i < (uint32_t)limit; i++) {
		const struct metric *m = ch[i].s->m;
		const char *u = metrics_query_stat_unit(ch[i].stat, m, unit, sizeof(unit));

		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_string(j, "metric", m->name);
		if (m->n_labels)
			metrics_tools_write_labels(api, j, "labels", ch[i].s);
		api->json_string(j, "stat", metrics_query_stat_name(ch[i].stat));
		api->json_string(j, "unit", u);
		metrics_tools_write_num(j, "before", ch[i].before);
		metrics_tools_write_num(j, "after", ch[i].after);
		metrics_text_format_quantity(ch[i].before, u, buf, sizeof(buf));
		api->json_string(j, "before_text", buf);
		metrics_text_format_quantity(ch[i].after, u, buf, sizeof(buf));
		api->json_string(j, "after_text", buf);
		if (isfinite(ch[i].before) && ch[i].before != 0 && isfinite(ch[i].after))
			api->json_double(j, "change_pct",
					 metrics_text_round_sig(100 * (ch[i].after - ch[i].before) /
								fabs(ch[i].before)));
		else
			api->json_string(j, "change",
					 isnan(ch[i].before) || ch[i].before == 0 ? "appeared"
										  : "vanished");
		if (m->type == SMCP_METRIC_HISTOGRAM) {
			api->json_uint(j, "samples_before", ch[i].n_before);
			api->json_uint(j, "samples_after", ch[i].n_after);
		}
		api->json_double(j, "significance", metrics_text_round_sig(ch[i].score));
		api->json_end(j);
		if (!smcp_json_item_fits(api, j))
			break; /* the answer is full (max_result_bytes) */
		shown++;
	}
	api->json_end(j);
	if (n > shown) {
		snprintf(err, sizeof(err),
			 "cut: %u of %u changed series shown; narrow with metric "
			 "(a glob) or raise limit (max 50)",
			 shown, n);
		api->json_string(j, "cut", err);
	}
	api->json_string(j, "method",
			 "Each series is compared on one statistic (counters: rate; gauges: mean; "
			 "histograms: p99 when both windows have 20 samples, else rate) and ranked "
			 "by significance: log2(1 + |after - before| / (the smaller + a noise "
			 "floor of its unit: 10 us, 1 percentage point, 10/s)). The windows do "
			 "not overlap.");
out:
	free(A);
	free(B);
	free(ch);
	return rc;
}

/* ---------------------------------------------------------------- prompt */

static bool is_latency(const struct metric *m)
{
	return m->type == SMCP_METRIC_HISTOGRAM &&
	       (strcmp(m->unit, "ns") == 0 || strcmp(m->unit, "us") == 0 ||
		strcmp(m->unit, "ms") == 0 || strcmp(m->unit, "s") == 0);
}

static int monitor_get(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const char *threshold = "2ms", *metric = NULL;
	const struct metric *pick = NULL;
	char *text = NULL, lat[512] = "", ctx[512] = "";
	size_t nl = 0, nc = 0;
	int err;

	(void)api->arg_string(args, "threshold", &threshold);
	(void)api->arg_string(args, "metric", &metric);
	if (metric && !(pick = metrics_find(metric))) {
		api->result_error(res, "no metric '%s'; see metrics://catalog", metric);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->dead)
			continue;
		if (is_latency(m) && nl < sizeof(lat) - 80) {
			nl += (size_t)snprintf(lat + nl, sizeof(lat) - nl, "%s%s", nl ? ", " : "",
					       m->name);
			if (!pick && !(m->flags & SMCP_METRIC_TOP_N))
				pick = m;
		}
		if ((m->flags & SMCP_METRIC_CONTEXT) && nc < sizeof(ctx) - 80)
			nc += (size_t)snprintf(ctx + nc, sizeof(ctx) - nc, "%s%s", nc ? ", " : "",
					       m->name);
	}
	api->result_description(res, "Watch the scheduler and report breaches with their context");
	api->result_role(res, SMCP_ROLE_USER);
	if (!pick) {
		err = asprintf(
			&text,
			"Monitor the CPU scheduler on this machine and alert me when it "
			"misbehaves.\n\nNo latency metric is published right now (no loaded "
			"plugin publishes one). Read metrics://catalog to see "
			"what is published; if a useful gauge or counter exists, create a "
			"watch on it with watch_create, then poll watch_status with the "
			"returned next_cursor every 30-60 seconds and tell me about each "
			"breach. Otherwise, read schedmcp://plugins and tell me which plugin "
			"is missing and why.");
	} else {
		err = asprintf(
			&text,
			"Monitor the CPU scheduler on this machine and alert me when run-queue "
			"latency misbehaves.\n\n"
			"1. Create a watch: watch_create {\"metric\": \"%s\", \"condition\": "
			"\"p99 > %s\", \"for_secs\": 10}. Latency metrics available: %s. Add "
			"\"labels\" (e.g. \"cpu=3\") to watch part of the machine.\n"
			"2. Poll watch_status with the next_cursor of the previous answer every "
			"30-60 seconds; keep the cursor so no breach is read twice or missed.\n"
			"3. For each breach event: read its context (busiest processes by latency, "
			"current scheduler, CPU load%s%s), then call what_changed with \"end\" set "
			"to the breach time and \"window\": \"5m\" to see what moved, and "
			"query_history on %s with \"group_by\": \"cpu\" (or \"llc\") around that "
			"time to see where it happened.\n"
			"4. Tell me briefly: when, how bad (p99 against the threshold, with sample "
			"counts), which processes and CPUs, what changed, and a likely cause. Say "
			"when the watch clears.\n"
			"5. When I say stop, delete the watch with watch_delete.",
			pick->name, threshold, lat, nc ? ": " : "", ctx, pick->name);
	}
	if (err < 0)
		return -ENOMEM;
	err = api->result_text(res, text);
	free(text);
	return err;
}

static const char changed_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"window\":{\"type\":[\"string\",\"number\"],\"default\":\"5m\"},"
	"\"baseline\":{\"type\":[\"string\",\"number\"],\"default\":\"1h\"},"
	"\"end\":{\"type\":[\"string\",\"number\"]},"
	"\"metric\":{\"type\":\"string\",\"maxLength\":63,\"description\":\"glob\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"default\":10}"
	"},\"additionalProperties\":false}";

int metrics_changed_init(struct smcp_host *core, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg monitor_args[] = {
		{ sizeof(struct smcp_prompt_arg), "threshold",
		  "p99 run-queue latency that counts as a breach, e.g. '2ms' "
		  "(default)",
		  false, SMCP_ARG_STRING },
		{ sizeof(struct smcp_prompt_arg),
		  "metric", "latency metric to watch (default: the system-wide one)", false,
		  SMCP_ARG_STRING },
	};
	struct smcp_tool_desc changed = {
		.sz = sizeof(changed),
		.name = "what_changed",
		.description = "Series that moved most from baseline to the window after it.",
		.input_schema = changed_schema,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = tool_changed,
	};
	struct smcp_prompt_desc monitor = {
		.sz = sizeof(monitor),
		.name = "monitor",
		.title = "Monitor the scheduler and alert me",
		.description = "Set up a latency watch and poll it, reporting each breach with "
			       "its context and what changed.",
		.args = monitor_args,
		.n_args = 2,
		.get = monitor_get,
		.complete = metrics_tools_complete,
	};
	int err;

	api = a;
	err = api->register_tool(core, &changed);
	if (!err)
		err = api->register_prompt(core, &monitor);
	return err;
}
