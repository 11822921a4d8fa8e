/* SPDX-License-Identifier: MIT */
/* The watch tools (watch_create, watch_delete, watch_status) and the
 * watches://breaches resource. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"
#include "result.h"
#include "watch_impl.h"

/* the host API, for the tools' answers */
static const struct smcp_host_api *tapi;

static void write_watch(struct smcp_json *j, const struct watch *w)
{
	const struct smcp_host_api *api = tapi;
	const struct metric *m = metrics_find(w->metric);
	char unit[24], vt[48], since[40];

	api->json_object(j, NULL);
	api->json_uint(j, "id", w->id);
	if (*w->name)
		api->json_string(j, "name", w->name);
	api->json_string(j, "metric", w->metric);
	api->json_string(j, "labels", *w->labels ? w->labels : NULL);
	api->json_string(j, "condition", w->cond.text);
	if (w->ng > 1 && m && m->type != SMCP_METRIC_HISTOGRAM)
		api->json_string(j, "agg", metrics_query_agg_name(w->agg));
	api->json_double(j, "for_secs", w->for_secs);
	api->json_double(j, "window_secs", w->window_secs);
	api->json_double(j, "clear_secs", w->clear_secs);
	api->json_double(j, "hysteresis_pct", w->hysteresis_pct);
	api->json_string(j, "state", m ? watch_state_name(w->state) : "metric_gone");
	metrics_text_format_quantity(
		w->value, m ? metrics_query_stat_unit(w->cond.stat, m, unit, sizeof(unit)) : "1",
		vt, sizeof(vt));
	api->json_double(j, "value", metrics_text_round_sig(w->value));
	api->json_string(j, "value_text", vt);
	if (w->state != W_OK) {
		metrics_text_format_time(metrics_step_unix_ms(w->since), since, sizeof(since));
		api->json_string(j, "since", since);
	}
	api->json_uint(j, "series", w->ng);
	api->json_uint(j, "breaches", w->episodes);
	api->json_end(j);
}

/* An event is JSON the core wrote: copied into the answer as it is, not
 * parsed again. */
static void put_event(struct smcp_json *j, uint64_t seq)
{
	const char *text = watch_event(seq);

	if (text)
		(void)result_json_put_trusted(j, NULL, text, strlen(text));
}

static void write_watches(struct smcp_json *j)
{
	tapi->json_array(j, "watches");
	for (uint32_t i = 0; i < watch_count(); i++)
		write_watch(j, watch_at(i));
	tapi->json_end(j);
}

static void write_counters(struct smcp_json *j)
{
	const struct smcp_host_api *api = tapi;
	struct watch_log l;
	uint64_t latest;

	watch_log(&l);
	latest = l.next_seq - 1;
	api->json_uint(j, "latest_seq", latest);
	api->json_uint(j, "oldest_seq", latest ? l.oldest_seq : 0);
	api->json_uint(j, "breaches_total", l.breaches_total);
	api->json_uint(j, "clears_total", l.clears_total);
	api->json_uint(j, "ring_capacity", l.capacity);
	api->json_uint(j, "max_watches", l.max_watches);
}

static int tool_create(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const struct smcp_host_api *api = tapi;
	const char *metric = NULL, *cond = NULL, *labels = NULL, *name = NULL, *agg = NULL;
	double for_secs = 10, window = 10, clear = -1, hyst = 10;
	int64_t min_samples = 20;
	struct watch_def *d;
	const struct watch *w;
	struct smcp_json *j;
	char err[320];
	int id;

	(void)api->arg_string(args, "metric", &metric);
	(void)api->arg_string(args, "condition", &cond);
	(void)api->arg_string(args, "labels", &labels);
	(void)api->arg_string(args, "name", &name);
	(void)api->arg_double(args, "for_secs", &for_secs);
	(void)api->arg_double(args, "window_secs", &window);
	(void)api->arg_double(args, "clear_secs", &clear);
	(void)api->arg_double(args, "hysteresis_pct", &hyst);
	(void)api->arg_int(args, "min_samples", &min_samples);
	(void)api->arg_string(args, "agg", &agg);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "");
	snprintf(d->metric, sizeof(d->metric), "%s", metric ? metric : "");
	snprintf(d->labels, sizeof(d->labels), "%s", labels ? labels : "");
	snprintf(d->condition, sizeof(d->condition), "%s", cond ? cond : "");
	snprintf(d->agg, sizeof(d->agg), "%s", agg ? agg : "");
	d->for_secs = for_secs;
	d->window_secs = window;
	d->clear_secs = clear >= 0 ? clear : for_secs;
	d->hysteresis_pct = hyst;
	d->min_samples = (uint32_t)min_samples;
	id = watch_add(d, err, sizeof(err));
	free(d);
	if (id == -ENOMEM)
		return id;
	if (id < 0)
		return api->result_error(res, "%s", err);
	w = watch_find(id);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_string(j, "status", "created");
	api->json_array(j, "watch");
	write_watch(j, w);
	api->json_end(j);
	api->json_string(
		j, "next",
		w->ng ? "Poll watch_status with the returned next_cursor (every 30-60 s) to "
			"see breaches; each carries a context snapshot."
		      : "No series matches yet: the watch starts evaluating when one appears. "
			"Poll watch_status with a cursor to see breaches.");
	return 0;
}

static int tool_delete(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const struct smcp_host_api *api = tapi;
	int64_t id = 0;
	struct smcp_json *j;

	(void)api->arg_int(args, "id", &id);
	if (watch_delete(id))
		return api->result_error(res, "no watch %lld; watch_status lists them",
					 (long long)id);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_string(j, "status", "deleted");
	api->json_int(j, "id", id);
	api->json_uint(j, "watches_left", watch_count());
	return 0;
}

static int tool_status(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const struct smcp_host_api *api = tapi;
	int64_t cursor = 0, limit = 10;
	uint64_t from, seq, n = 0;
	struct watch_log l;
	struct smcp_json *j;
	bool more = false;

	(void)api->arg_int(args, "cursor", &cursor);
	(void)api->arg_int(args, "limit", &limit);
	watch_log(&l);
	from = cursor > 0 ? (uint64_t)cursor : l.oldest_seq;
	if (from > l.next_seq)
		return api->result_error(res,
					 "cursor %lld is ahead of the breach log (latest is %llu); "
					 "use a next_cursor you were given, or omit cursor",
					 (long long)cursor,
					 (unsigned long long)(l.next_seq - 1));
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	write_watches(j);
	api->json_uint(j, "missed", from < l.oldest_seq ? l.oldest_seq - from : 0);
	if (from < l.oldest_seq)
		from = l.oldest_seq;
	api->json_array(j, "events");
	for (seq = from; seq < l.next_seq; seq++) {
		if (n == (uint64_t)limit) {
			more = true;
			break;
		}
		smcp_json_item_begin(api, j);
		put_event(j, seq);
		if (!smcp_json_item_fits(api, j)) {
			more = true; /* the page is full: max_result_bytes */
			break;
		}
		n++;
	}
	api->json_end(j);
	api->json_uint(j, "next_cursor", seq);
	api->json_bool(j, "has_more", more);
	write_counters(j);
	if (!watch_count())
		api->json_string(j, "note",
				 "No watches. Create one with watch_create, e.g. "
				 "{metric: \"sched_runq_latency_ns\", condition: "
				 "\"p99 > 2ms\", for_secs: 10}.");
	return 0;
}

static int breaches_read(void *data, struct smcp_call *call, const char *uri,
			 const struct smcp_args *vars, struct smcp_result *res)
{
	const struct smcp_host_api *api = tapi;
	struct smcp_json *j = api->result_json(res);
	struct watch_log l;
	uint64_t from;

	if (!j)
		return -ENOMEM;
	watch_log(&l);
	write_watches(j);
	write_counters(j);
	api->json_string(j, "note",
			 "The newest breach and clear events (up to 10). Subscribe to "
			 "this URI for an update at every breach, or poll watch_status "
			 "with a cursor to read them all in order.");
	from = l.next_seq > 10 ? l.next_seq - 10 : 1;
	if (from < l.oldest_seq)
		from = l.oldest_seq;
	api->json_array(j, "events");
	for (uint64_t seq = from; seq < l.next_seq; seq++)
		put_event(j, seq);
	api->json_end(j);
	return 0;
}

static const char create_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"metric\":{\"type\":\"string\",\"maxLength\":63},"
	"\"condition\":{\"type\":\"string\",\"maxLength\":80,\"description\":\"e.g. "
	"'p99 > 2ms', 'value >= 90%', 'rate < 50k'\"},"
	"\"labels\":{\"type\":\"string\",\"maxLength\":200},"
	"\"agg\":{\"type\":\"string\",\"enum\":[\"sum\",\"avg\",\"max\",\"min\"]},"
	"\"for_secs\":{\"type\":\"number\",\"minimum\":0,\"maximum\":86400,\"default\":10},"
	"\"window_secs\":{\"type\":\"number\",\"minimum\":0,\"maximum\":900,\"default\":10},"
	"\"clear_secs\":{\"type\":\"number\",\"minimum\":0,\"maximum\":86400},"
	"\"hysteresis_pct\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100,\"default\":10},"
	"\"min_samples\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000,\"default\":20},"
	"\"name\":{\"type\":\"string\",\"maxLength\":60}"
	"},\"required\":[\"metric\",\"condition\"],\"additionalProperties\":false}";

static const char delete_schema[] =
	"{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":1}},"
	"\"required\":[\"id\"],\"additionalProperties\":false}";

static const char status_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"cursor\":{\"type\":\"integer\",\"minimum\":0},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50,\"default\":10}"
	"},\"additionalProperties\":false}";

static const char status_output[] =
	"{\"type\":\"object\","
	"\"required\":[\"watches\",\"events\",\"next_cursor\",\"has_more\",\"missed\"]}";

int watch_tools_init(struct smcp_host *core, const struct smcp_host_api *api)
{
	struct smcp_resource_desc breaches = {
		.sz = sizeof(breaches),
		.uri = BREACHES_URI,
		.name = "watch_breaches",
		.title = "Watch breaches",
		.description = "Watches with their state and the newest breach/clear events, each "
			       "breach with a context snapshot (busiest processes by latency, "
			       "scheduler, CPU load). Subscribe for an update at every breach.",
		.mime_type = "application/json",
		.read = breaches_read,
	};
	struct smcp_tool_desc create = {
		.sz = sizeof(create),
		.name = "watch_create",
		.description = "Alert when condition holds for for_secs; poll watch_status.",
		.input_schema = create_schema,
		.flags = 0,
		.call = tool_create,
	};
	struct smcp_tool_desc del = {
		.sz = sizeof(del),
		.name = "watch_delete",
		.description = "Delete a watch.",
		.input_schema = delete_schema,
		.flags = SMCP_TOOL_DESTRUCTIVE | SMCP_TOOL_IDEMPOTENT,
		.call = tool_delete,
	};
	struct smcp_tool_desc status = {
		.sz = sizeof(status),
		.name = "watch_status",
		.description = "Watch states, and breaches after cursor with their context.",
		.input_schema = status_schema,
		.output_schema = status_output,
		.flags = SMCP_TOOL_READ_ONLY,
		.call = tool_status,
	};
	int err;

	const struct metrics_limits *lim = metrics_configured();

	tapi = api;
	err = watch_store_init(lim->max_watches, lim->breach_ring);
	if (err)
		return err;
	/* after the store init, which starts from nothing */
	watch_set_host(core, api);
	err = api->register_resource(core, &breaches);
	if (!err)
		err = api->register_tool(core, &create);
	if (!err)
		err = api->register_tool(core, &del);
	if (!err)
		err = api->register_tool(core, &status);
	return err;
}
