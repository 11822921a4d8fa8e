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

/* Relative change in [0, 1]: 1 when a value appears from or falls to zero. */
static double rel_change(double b, double a)
{
	double top = fmax(fabs(a), fabs(b));

	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b) ? 0 : 1;
	return top > 0 ? fabs(a - b) / top : 0;
}

static void consider(struct change *c, enum q_stat st, double b, double a)
{
	double r = rel_change(b, a);

	if (r > c->score || (r == c->score && c->stat == ST__N)) {
		c->stat = st;
		c->before = b;
		c->after = a;
		c->score = r;
	}
}

static int tool_changed(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	int64_t now = metrics_now_unix_ms(), end, window, baseline, limit = 10;
	const char *glob = NULL;
	struct change *ch = NULL;
	struct qrange ra, rb;
	bool oka, okb;
	uint32_t n = 0, cap = 0, compared = 0;
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
	oka = metrics_query_qrange_resolve(end - window, end, &ra);
	okb = metrics_query_qrange_resolve(end - window - baseline, end - window, &rb);
	if (!oka || !okb)
		return api->result_error(res,
					 "history does not cover both windows yet (%s window is "
					 "empty); try a shorter window or baseline",
					 !oka ? "the after" : "the before");
	A = malloc(sizeof(*A));
	B = malloc(sizeof(*B));
	if (!A || !B) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];
		uint32_t first = n;
		double top = 0;

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
					consider(&c, ST_P99, metrics_query_qacc_stat(B, m, ST_P99),
						 metrics_query_qacc_stat(A, m, ST_P99));
				consider(&c, ST_RATE,
					 B->slots ? metrics_query_qacc_stat(B, m, ST_RATE) : NAN,
					 A->slots ? metrics_query_qacc_stat(A, m, ST_RATE) : NAN);
			} else {
				enum q_stat st = m->type == SMCP_METRIC_COUNTER ? ST_RATE : ST_MEAN;

				consider(&c, st, metrics_query_qacc_stat(B, m, st),
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
			top = fmax(top, fmax(isnan(c.before) ? 0 : fabs(c.before),
					     isnan(c.after) ? 0 : fabs(c.after)));
		}
		/* weigh by the series' size within its metric: a tiny series
		 * doubling matters less than a big one moving by half */
		for (uint32_t k = first; k < n; k++) {
			double size = fmax(isnan(ch[k].before) ? 0 : fabs(ch[k].before),
					   isnan(ch[k].after) ? 0 : fabs(ch[k].after));

			ch[k].score *= top > 0 ? sqrt(size / top) : 1;
		}
	}
	if (n)
		qsort(ch, n, sizeof(*ch), by_score_desc);
	j = api->result_json(res);
	if (!j) {
		rc = -ENOMEM;
		goto out;
	}
	api->json_object(j, "before");
	metrics_text_format_time(metrics_query_slot_unix_ms(rb.tier, rb.from), buf, sizeof(buf));
	api->json_string(j, "start", buf);
	metrics_text_format_time(metrics_query_slot_unix_ms(rb.tier, rb.to + 1), buf, sizeof(buf));
	api->json_string(j, "end", buf);
	api->json_end(j);
	api->json_object(j, "after");
	metrics_text_format_time(metrics_query_slot_unix_ms(ra.tier, ra.from), buf, sizeof(buf));
	api->json_string(j, "start", buf);
	metrics_text_format_time(metrics_query_slot_unix_ms(ra.tier, ra.to + 1), buf, sizeof(buf));
	api->json_string(j, "end", buf);
	api->json_end(j);
	api->json_uint(j, "series_compared", compared);
	api->json_uint(j, "series_changed", n);
	api->json_array(j, "changes");
	for (uint32_t i = 0; i < n && i < (uint32_t)limit; i++) {
		const struct metric *m = ch[i].s->m;
		const char *u = metrics_query_stat_unit(ch[i].stat, m, unit, sizeof(unit));

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
		api->json_end(j);
	}
	api->json_end(j);
	if (n > (uint32_t)limit) {
		snprintf(err, sizeof(err),
			 "cut: %u of %u changed series shown; narrow with metric "
			 "(a glob) or raise limit (max 50)",
			 (uint32_t)limit, n);
		api->json_string(j, "cut", err);
	}
	api->json_string(j, "method",
			 "Each series is compared on one statistic (counters: rate; gauges: mean; "
			 "histograms: p99 when both windows have 20 samples, else rate) and ranked "
			 "by relative change weighted by the series' size within its metric.");
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
