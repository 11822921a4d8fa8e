/* SPDX-License-Identifier: MIT */
/*
 * fleet: questions about many machines, answered by the Prometheus (or
 * Thanos, Mimir, VictoriaMetrics: its HTTP API) that already scrapes their
 * schedmcp services' /metrics (docs/http.md). schedmcp builds no
 * distributed system of its own: each tool is one or two PromQL queries.
 *
 *   fleet_worst_hosts        the hosts with the worst run-queue latency now
 *   fleet_compare            this host against the fleet's distribution
 *   fleet_scheduler_changes  hosts whose scheduler changed in a window
 *   fleet_host_history       one host's history of one metric
 *
 * Without [plugin fleet] url it registers nothing and says so in its
 * status. Queries run on host workers (fleet_query.c) with a timeout: a
 * Prometheus that is down or slow is a clear error, never a stalled loop.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <schedmcp/plugin.h>

#include "fleet_query.h"

#define MAX_TOKEN 512

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "url", SMCP_CONFIG_STRING, NULL,
	  "Prometheus-compatible HTTP API to query, e.g. http://prometheus:9090 (unset: the "
	  "plugin is disabled)", 0, 0 },
	{ sizeof(struct smcp_config_key), "timeout_ms", SMCP_CONFIG_INT, "5000",
	  "how long a query may take before the tool answers with an error", 100, 60000 },
	{ sizeof(struct smcp_config_key), "token_file", SMCP_CONFIG_PATH, NULL,
	  "bearer token for the Prometheus API (first line of the file), if it needs one", 0,
	  0 },
	{ sizeof(struct smcp_config_key), "latency_metric", SMCP_CONFIG_STRING,
	  "sched_runq_latency_ns", "the histogram the latency tools rank hosts by", 0, 0 },
	{ sizeof(struct smcp_config_key), "instance", SMCP_CONFIG_STRING, NULL,
	  "this host's instance label in Prometheus (unset: an instance starting with the "
	  "host name)", 0, 0 },
	{ sizeof(struct smcp_config_key), "max_hosts", SMCP_CONFIG_INT, "50",
	  "hosts listed in one answer at most", 1, 1000 },
	{ 0 },
};

enum kind { K_WORST, K_COMPARE, K_CHANGES, K_HISTORY };

static struct {
	const struct smcp_host_api *api;
	struct smcp_host *host;
	const char *url, *metric, *instance;
	char token[MAX_TOKEN];
	bool has_token;
	bool curl_up;
	int64_t timeout_ms, max_hosts;
	char hostname[256];
} fl;

struct job {
	enum kind kind;
	struct smcp_call *call;
	struct smcp_result *res;
	bool cancelled;
	char promql[1024];
	char window[32];
	double quantile;
	int64_t k;
	char instance[256];
	struct fleet_query q[3]; /* history: histogram, then gauge, then counter */
	int n_q, answered;	 /* queries prepared, the one that answered */
	int err;
};

/* ------------------------------------------------------------ inputs */

/* A PromQL duration: digits and a unit, at most a year or so. */
static bool duration_ok(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n < 7 && s[n] && !s[n + 1] && strchr("smhdw", s[n]);
}

static bool metric_name_ok(const char *s)
{
	if (!*s || strlen(s) > 200 || (*s >= '0' && *s <= '9'))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:") ==
	       strlen(s);
}

/* A label value inside "...": backslash and quote escaped; control
 * characters refused. */
static int escape_value(const char *s, char *out, size_t len)
{
	size_t o = 0;

	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || o + 3 >= len)
			return -EINVAL;
		if (*s == '\\' || *s == '"')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o] = '\0';
	return 0;
}

static int args_common(struct job *j, const struct smcp_args *a, const char *dflt_window)
{
	const char *w = dflt_window;

	(void)fl.api->arg_string(a, "window", &w);
	if (!duration_ok(w)) {
		fl.api->result_error(j->res, "window '%s' is not a duration such as 5m, 1h or 2d",
				     w);
		return -EINVAL;
	}
	snprintf(j->window, sizeof(j->window), "%s", w);
	j->quantile = 0.99;
	(void)fl.api->arg_double(a, "quantile", &j->quantile);
	if (!(j->quantile > 0 && j->quantile < 1)) {
		fl.api->result_error(j->res, "quantile must be between 0 and 1 (0.99 for p99)");
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ answers */

static const cJSON *results(const struct fleet_query *q)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(q->data, "result");

	return cJSON_IsArray(r) ? r : NULL;
}

static const char *label(const cJSON *series, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(series, "metric"), name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* An instant vector sample's value ("value": [ts, "1.5"]); NaN if none. */
static double sample(const cJSON *series)
{
	const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(series, "value"), 1);

	return cJSON_IsString(v) ? strtod(v->valuestring, NULL) : NAN;
}

struct host_value {
	const char *instance;
	double v;
};

static int by_value_desc(const void *a, const void *b)
{
	double x = ((const struct host_value *)a)->v, y = ((const struct host_value *)b)->v;

	return (x < y) - (x > y);
}

/* The hosts of a vector with a finite value, worst first; *n their count. */
static struct host_value *host_values(const struct fleet_query *q, size_t *n)
{
	const cJSON *r = results(q), *s;
	struct host_value *hv = calloc((size_t)cJSON_GetArraySize(r) + 1, sizeof(*hv));

	*n = 0;
	if (!hv)
		return NULL;
	cJSON_ArrayForEach(s, r) {
		double v = sample(s);

		if (isfinite(v))
			hv[(*n)++] = (struct host_value){ label(s, "instance"), v };
	}
	qsort(hv, *n, sizeof(*hv), by_value_desc);
	return hv;
}

static bool is_me(const char *instance)
{
	size_t n = strlen(fl.hostname);

	if (fl.instance)
		return !strcmp(instance, fl.instance);
	return n && !strncmp(instance, fl.hostname, n) && (!instance[n] || instance[n] == ':' ||
							  instance[n] == '.');
}

static int answer_worst(struct job *j)
{
	struct smcp_json *o = fl.api->result_json(j->res);
	size_t n;
	struct host_value *hv = host_values(&j->q[0], &n);

	if (!hv || !o)
		return -ENOMEM;
	fl.api->json_string(o, "metric", fl.metric);
	fl.api->json_double(o, "quantile", j->quantile);
	fl.api->json_string(o, "window", j->window);
	fl.api->json_string(o, "unit", "ns");
	fl.api->json_string(o, "promql", j->promql);
	fl.api->json_array(o, "hosts");
	for (size_t i = 0; i < n && i < (size_t)j->k; i++) {
		fl.api->json_object(o, NULL);
		fl.api->json_string(o, "instance", hv[i].instance);
		fl.api->json_double(o, "value", hv[i].v);
		fl.api->json_end(o);
	}
	fl.api->json_end(o);
	if (!n)
		fl.api->json_string(o, "note", "no host has samples of this metric in the window "
						"(is Prometheus scraping their /metrics?)");
	free(hv);
	return 0;
}

static int answer_compare(struct job *j)
{
	struct smcp_json *o = fl.api->result_json(j->res);
	size_t n, me = SIZE_MAX;
	struct host_value *hv = host_values(&j->q[0], &n);

	if (!hv || !o)
		return -ENOMEM;
	for (size_t i = 0; i < n && me == SIZE_MAX; i++)
		if (j->instance[0] ? !strcmp(hv[i].instance, j->instance) : is_me(hv[i].instance))
			me = i;
	fl.api->json_string(o, "metric", fl.metric);
	fl.api->json_double(o, "quantile", j->quantile);
	fl.api->json_string(o, "window", j->window);
	fl.api->json_string(o, "unit", "ns");
	fl.api->json_uint(o, "hosts", n);
	if (n) {
		fl.api->json_object(o, "fleet");
		fl.api->json_double(o, "worst", hv[0].v);
		fl.api->json_double(o, "median", hv[n / 2].v);
		fl.api->json_double(o, "best", hv[n - 1].v);
		fl.api->json_end(o);
	}
	if (me == SIZE_MAX) {
		fl.api->json_null(o, "this_host");
		fl.api->json_string(o, "note",
				    "this host is not among the instances Prometheus has (set "
				    "[plugin fleet] instance, or pass instance)");
	} else {
		fl.api->json_object(o, "this_host");
		fl.api->json_string(o, "instance", hv[me].instance);
		fl.api->json_double(o, "value", hv[me].v);
		/* 1: the worst host of the fleet */
		fl.api->json_uint(o, "rank_from_worst", me + 1);
		fl.api->json_double(o, "worse_than_pct",
				    n > 1 ? 100.0 * (double)(n - 1 - me) / (double)(n - 1) : 0);
		fl.api->json_end(o);
	}
	fl.api->json_string(o, "promql", j->promql);
	free(hv);
	return 0;
}

static int answer_changes(struct job *j)
{
	struct smcp_json *o = fl.api->result_json(j->res);
	const cJSON *r = results(&j->q[0]), *s, *t;
	size_t listed = 0, hosts = 0;

	if (!o)
		return -ENOMEM;
	fl.api->json_string(o, "window", j->window);
	fl.api->json_array(o, "changed");
	/* one series per (instance, class, ops) seen in the window: an
	 * instance with two or more changed its scheduler */
	cJSON_ArrayForEach(s, r) {
		const char *inst = label(s, "instance");
		int seen = 0;
		bool first = true;

		cJSON_ArrayForEach(t, r) {
			if (!strcmp(label(t, "instance"), inst)) {
				seen++;
				if (t != s && seen == 1)
					first = false;
			}
		}
		if (!first)
			continue; /* reported with its first series */
		hosts++;
		if (seen < 2 || listed == (size_t)fl.max_hosts)
			continue;
		listed++;
		fl.api->json_object(o, NULL);
		fl.api->json_string(o, "instance", inst);
		fl.api->json_array(o, "schedulers");
		cJSON_ArrayForEach(t, r) {
			char what[256];

			if (strcmp(label(t, "instance"), inst))
				continue;
			snprintf(what, sizeof(what), "%s/%s", label(t, "class"), label(t, "ops"));
			fl.api->json_string(o, NULL, what);
		}
		fl.api->json_end(o);
		fl.api->json_end(o);
	}
	fl.api->json_end(o);
	fl.api->json_uint(o, "hosts_seen", hosts);
	fl.api->json_string(o, "promql", j->promql);
	return 0;
}

static int answer_history(struct job *j)
{
	const struct fleet_query *q = &j->q[j->answered];
	const cJSON *s = cJSON_GetArrayItem(results(q), 0), *v;
	struct smcp_json *o = fl.api->result_json(j->res);
	static const char *const how[] = { "quantile of the histogram", "gauge",
					   "per-second rate of the counter" };

	if (!o)
		return -ENOMEM;
	fl.api->json_string(o, "instance", j->instance);
	fl.api->json_string(o, "as", how[j->answered]);
	fl.api->json_string(o, "window", j->window);
	fl.api->json_array(o, "points");
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(s, "values")) {
		const cJSON *ts = cJSON_GetArrayItem(v, 0), *val = cJSON_GetArrayItem(v, 1);

		if (!cJSON_IsNumber(ts) || !cJSON_IsString(val))
			continue;
		fl.api->json_object(o, NULL);
		fl.api->json_double(o, "t", ts->valuedouble);
		fl.api->json_double(o, "value", strtod(val->valuestring, NULL));
		fl.api->json_end(o);
	}
	fl.api->json_end(o);
	fl.api->json_string(o, "promql", j->promql);
	return 0;
}

/* ------------------------------------------------------------ the jobs */

static void job_free(struct job *j)
{
	for (int i = 0; i < j->n_q; i++)
		fleet_query_clear(&j->q[i]);
	free(j);
}

/* On a worker: the queries, in order, until one answers with a series. */
static int job_work(void *data)
{
	struct job *j = data;
	int err = 0;

	for (int i = 0; i < j->n_q; i++) {
		err = fleet_query_run(&j->q[i]);
		j->answered = i;
		if (err || j->kind != K_HISTORY || cJSON_GetArraySize(results(&j->q[i])) > 0)
			break;
	}
	return err;
}

static void job_done(void *data, int err)
{
	struct job *j = data;
	static int (*const answer[])(struct job *) = { answer_worst, answer_compare,
						     answer_changes, answer_history };

	int rc = 0;

	if (j->cancelled) {
		job_free(j);
		return;
	}
	/* Prometheus's trouble is the tool's answer (isError), not a failure */
	if (err)
		fl.api->result_error(j->res, "%s (%s)", j->q[j->answered].error, fl.url);
	else if (j->kind == K_HISTORY && !cJSON_GetArraySize(results(&j->q[j->answered])))
		fl.api->result_error(j->res, "Prometheus has no series of that metric for "
				     "instance %s in the window", j->instance);
	else
		rc = answer[j->kind](j);
	(void)fl.api->call_complete(j->call, rc);
	job_free(j);
}

static void job_cancelled(void *data, struct smcp_call *call)
{
	((struct job *)data)->cancelled = true; /* freed when its work is done */
}

static int add_query(struct job *j, const char *path, const char *promql, const char *extra)
{
	struct fleet_query *q = &j->q[j->n_q];

	q->url = fleet_query_url(fl.url, path, promql, extra);
	if (!q->url)
		return -ENOMEM;
	q->token = fl.has_token ? fl.token : NULL;
	q->timeout_ms = (long)fl.timeout_ms;
	j->n_q++;
	return 0;
}

static int submit(struct job *j)
{
	int err = fl.api->work_submit(fl.host, job_work, job_done, j);

	if (!err)
		err = fl.api->call_on_cancel(j->call, job_cancelled, j);
	if (err) {
		/* not submitted (the queue is full): say so */
		fl.api->result_error(j->res, "too many fleet queries are running: try again");
		job_free(j);
		return 0;
	}
	return SMCP_PENDING;
}

/* The worst, compare and changes tools: j->promql as one instant query */
static int submit_instant(struct job *j)
{
	if (add_query(j, "/api/v1/query", j->promql, "")) {
		job_free(j);
		return -ENOMEM;
	}
	return submit(j);
}

static struct job *job_new(enum kind kind, struct smcp_call *call, struct smcp_result *res)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j) {
		j->kind = kind;
		j->call = call;
		j->res = res;
	}
	return j;
}

/* histogram_quantile over each instance's rate: the latency tools' query;
 * with topk > 0, only the topk worst instances */
static void latency_promql(struct job *j, int64_t topk)
{
	int n = topk > 0 ? snprintf(j->promql, sizeof(j->promql), "topk(%lld, ", (long long)topk)
			 : 0;

	snprintf(j->promql + n, sizeof(j->promql) - n,
		 "histogram_quantile(%g, sum by (instance, le) (rate(%s_bucket[%s])))%s",
		 j->quantile, fl.metric, j->window, topk > 0 ? ")" : "");
}

static int tool_worst(void *data, struct smcp_call *call, const struct smcp_args *a,
		      struct smcp_result *res)
{
	struct job *j = job_new(K_WORST, call, res);

	if (!j)
		return -ENOMEM;
	j->k = 5;
	(void)fl.api->arg_int(a, "k", &j->k);
	if (j->k < 1 || j->k > fl.max_hosts)
		j->k = j->k < 1 ? 1 : fl.max_hosts;
	if (args_common(j, a, "5m")) {
		free(j);
		return 0;
	}
	latency_promql(j, j->k);
	return submit_instant(j);
}

static int tool_compare(void *data, struct smcp_call *call, const struct smcp_args *a,
			struct smcp_result *res)
{
	struct job *j = job_new(K_COMPARE, call, res);
	const char *inst = NULL;

	if (!j)
		return -ENOMEM;
	if (args_common(j, a, "5m")) {
		free(j);
		return 0;
	}
	if (!fl.api->arg_string(a, "instance", &inst))
		snprintf(j->instance, sizeof(j->instance), "%s", inst);
	latency_promql(j, 0);
	return submit_instant(j);
}

static int tool_changes(void *data, struct smcp_call *call, const struct smcp_args *a,
			struct smcp_result *res)
{
	struct job *j = job_new(K_CHANGES, call, res);

	if (!j)
		return -ENOMEM;
	if (args_common(j, a, "1h")) {
		free(j);
		return 0;
	}
	snprintf(j->promql, sizeof(j->promql), "count_over_time(scheduler_info[%s])", j->window);
	return submit_instant(j);
}

static int tool_history(void *data, struct smcp_call *call, const struct smcp_args *a,
			struct smcp_result *res)
{
	struct job *j = job_new(K_HISTORY, call, res);
	const char *inst = NULL, *metric = fl.metric, *step = "60s";
	char esc[520], extra[128], promql[3][1024];
	int64_t range_s, step_s;
	time_t now = time(NULL);
	int err = 0;

	if (!j)
		return -ENOMEM;
	if (args_common(j, a, "1h"))
		goto refused;
	(void)fl.api->arg_string(a, "instance", &inst);
	(void)fl.api->arg_string(a, "metric", &metric);
	(void)fl.api->arg_string(a, "step", &step);
	if (!inst || escape_value(inst, esc, sizeof(esc))) {
		fl.api->result_error(res, "instance: the host's instance label, as "
					  "fleet_worst_hosts lists it, is required");
		goto refused;
	}
	if (!metric_name_ok(metric)) {
		fl.api->result_error(res, "metric '%s' is not a metric name", metric);
		goto refused;
	}
	if (!duration_ok(step)) {
		fl.api->result_error(res, "step '%s' is not a duration such as 60s or 5m", step);
		goto refused;
	}
	snprintf(j->instance, sizeof(j->instance), "%s", inst);
	/* whole seconds for start, end and step; at most 1000 points */
	{
		char unit = j->window[strlen(j->window) - 1], sunit = step[strlen(step) - 1];
		int64_t mult[128] = { ['s'] = 1, ['m'] = 60, ['h'] = 3600, ['d'] = 86400,
				      ['w'] = 604800 };

		range_s = strtoll(j->window, NULL, 10) * mult[(unsigned char)unit];
		step_s = strtoll(step, NULL, 10) * mult[(unsigned char)sunit];
	}
	if (step_s < 1 || range_s / step_s > 1000) {
		fl.api->result_error(res, "window / step gives more than 1000 points: take a "
					  "larger step");
		goto refused;
	}
	snprintf(extra, sizeof(extra), "&start=%lld&end=%lld&step=%lld",
		 (long long)(now - range_s), (long long)now, (long long)step_s);
	snprintf(promql[0], sizeof(promql[0]),
		 "histogram_quantile(%g, sum by (le) (rate(%s_bucket{instance=\"%s\"}[%llds])))",
		 j->quantile, metric, esc, (long long)(step_s < 60 ? 60 : step_s));
	snprintf(promql[1], sizeof(promql[1]), "%s{instance=\"%s\"}", metric, esc);
	snprintf(promql[2], sizeof(promql[2]), "sum(rate(%s{instance=\"%s\"}[%llds]))", metric,
		 esc, (long long)(step_s < 60 ? 60 : step_s));
	for (int i = 0; i < 3 && !err; i++)
		err = add_query(j, "/api/v1/query_range", promql[i], extra);
	snprintf(j->promql, sizeof(j->promql), "%s", promql[0]);
	if (err) {
		job_free(j);
		return err;
	}
	return submit(j);
refused:
	job_free(j);
	return 0;
}

/* ------------------------------------------------------------ set-up */

#define WINDOW_ARG                                                                                 \
	"\"window\":{\"type\":\"string\",\"description\":\"PromQL duration of the rate window, "  \
	"e.g. 5m\"}"
#define QUANTILE_ARG "\"quantile\":{\"type\":\"number\",\"description\":\"0..1, default 0.99\"}"

static const struct smcp_tool_desc tools[] = {
	{ .sz = sizeof(struct smcp_tool_desc), .name = "fleet_worst_hosts",
	  .title = "Worst hosts by run-queue latency",
	  .description = "The k hosts of the fleet (every schedmcp Prometheus scrapes) with the "
			 "highest run-queue latency quantile over the window, worst first, in "
			 "ns. Example: {\"k\":5,\"window\":\"5m\"} -> hosts [{instance, value}]",
	  .input_schema = "{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"integer\","
			  "\"description\":\"hosts to list (default 5)\"}," WINDOW_ARG ","
			  QUANTILE_ARG "}}",
	  .flags = SMCP_TOOL_READ_ONLY, .call = tool_worst },
	{ .sz = sizeof(struct smcp_tool_desc), .name = "fleet_compare",
	  .title = "This host against the fleet",
	  .description = "This host's run-queue latency quantile against the fleet's: its value, "
			 "rank from the worst, the share of hosts it is worse than, and the "
			 "fleet's worst, median and best (ns)",
	  .input_schema = "{\"type\":\"object\",\"properties\":{\"instance\":{\"type\":\"string\","
			  "\"description\":\"the host to compare (default: this one)\"},"
			  WINDOW_ARG "," QUANTILE_ARG "}}",
	  .flags = SMCP_TOOL_READ_ONLY, .call = tool_compare },
	{ .sz = sizeof(struct smcp_tool_desc), .name = "fleet_scheduler_changes",
	  .title = "Hosts whose scheduler changed",
	  .description = "Hosts that ran more than one scheduler (sched_ext ops or fair) within "
			 "the window, each with the schedulers seen, from scheduler_info",
	  .input_schema = "{\"type\":\"object\",\"properties\":{" WINDOW_ARG "}}",
	  .flags = SMCP_TOOL_READ_ONLY, .call = tool_changes },
	{ .sz = sizeof(struct smcp_tool_desc), .name = "fleet_host_history",
	  .title = "One host's history of a metric",
	  .description = "One host's history of a catalog metric from Prometheus: a histogram as "
			 "its quantile, a gauge as is, a counter as a per-second rate. Example: "
			 "{\"instance\":\"web3:8787\",\"metric\":\"sched_runq_latency_ns\","
			 "\"window\":\"6h\",\"step\":\"5m\"} -> points [{t, value}]",
	  .input_schema = "{\"type\":\"object\",\"properties\":{\"instance\":{\"type\":\"string\"},"
			  "\"metric\":{\"type\":\"string\"},\"step\":{\"type\":\"string\"},"
			  WINDOW_ARG "," QUANTILE_ARG "},\"required\":[\"instance\"]}",
	  .flags = SMCP_TOOL_READ_ONLY, .call = tool_history },
};

static int read_token(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(fl.token, sizeof(fl.token), f))
		fl.token[0] = '\0';
	fclose(f);
	n = strcspn(fl.token, "\r\n");
	fl.token[n] = '\0';
	fl.has_token = n > 0;
	return n ? 0 : -EINVAL;
}

static int fleet_init(struct smcp_host *h, const struct smcp_host_api *api)
{
	const char *tf = NULL;
	char why[300];
	int err;

	fl.api = api;
	fl.host = h;
	if (api->config_string(h, "url", &fl.url) || !fl.url || !*fl.url) {
		/* disabled, and says why; registers nothing */
		(void)api->set_status(h, true,
				      "no [plugin fleet] url: set it to a Prometheus API that "
				      "scrapes your hosts' /metrics (docs/plugins/fleet.md)");
		return 0;
	}
	if (strncmp(fl.url, "http://", 7) && strncmp(fl.url, "https://", 8)) {
		(void)api->set_status(h, false, "url must start with http:// or https://");
		return -EINVAL;
	}
	fl.timeout_ms = smcp_config_int_or(h, api, "timeout_ms", 5000);
	fl.max_hosts = smcp_config_int_or(h, api, "max_hosts", 50);
	(void)api->config_string(h, "latency_metric", &fl.metric);
	(void)api->config_string(h, "instance", &fl.instance);
	if (!metric_name_ok(fl.metric)) {
		(void)api->set_status(h, false, "latency_metric is not a metric name");
		return -EINVAL;
	}
	if (!api->config_string(h, "token_file", &tf) && tf && (err = read_token(tf))) {
		snprintf(why, sizeof(why), "token_file: %s", err == -EINVAL ? "empty"
								    : strerror(-err));
		(void)api->set_status(h, false, why);
		return err;
	}
	if (gethostname(fl.hostname, sizeof(fl.hostname)) < 0)
		fl.hostname[0] = '\0';
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		(void)api->set_status(h, false, "libcurl did not initialise");
		return -EIO;
	}
	fl.curl_up = true;
	return smcp_register_tools(h, api, tools, SMCP_COUNT(tools));
}

static void fleet_fini(struct smcp_host *h)
{
	if (fl.curl_up)
		curl_global_cleanup();
	explicit_bzero(fl.token, sizeof(fl.token));
	memset(&fl, 0, sizeof(fl));
}

SMCP_PLUGIN_DEFINE("fleet", "0.1.0",
		   "fleet questions (worst hosts, this host against the fleet, scheduler changes, "
		   "a host's history) answered by a Prometheus-compatible API",
		   .config_keys = keys, .init = fleet_init, .fini = fleet_fini)
