/* SPDX-License-Identifier: MIT */
#include "events.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "loop.h"
#include "registry.h"
#include "result.h"

/* An event larger than this is a plugin bug; it is refused, not truncated. */
#define EVENT_MAX_BYTES 4096
#define NOTIFY_INTERVAL_MS 1000
#define STREAM_RECENT 20

struct event {
	uint64_t seq;
	char *text; /* the event object as written, kept as text */
	uint32_t len;
	char type[48];
};

/*
 * One event being written: the text goes straight into storage (an event
 * is bounded), and is copied once, to its exact size, into the ring. One
 * spare writer is kept, so publishing allocates only the text it keeps.
 */
struct ev_writer {
	struct smcp_json j; /* first: the plugin holds &j */
	char type[48];
	char storage[EVENT_MAX_BYTES + 1];
};

static struct {
	struct smcp_host *core;
	const struct smcp_host_api *api;
	struct event *ring;
	uint32_t cap;
	uint64_t next_seq; /* seq of the next event; events are numbered from 1 */
	uint64_t evicted;  /* events pushed out of the ring before anyone could read them */
	uint64_t refused;  /* events refused (too large, bad type) */
	bool dirty;        /* published since the last notification */
	int notify_timer;
	struct ev_writer *spare;
} ev;

static struct event *slot(uint64_t seq)
{
	return &ev.ring[seq % ev.cap];
}

static uint64_t oldest_seq(void)
{
	return ev.next_seq > ev.cap ? ev.next_seq - ev.cap : 1;
}

struct smcp_json *events_begin(struct smcp_host *h, const char *type)
{
	struct ev_writer *w;

	if (!h || !type || !*type || strlen(type) >= sizeof(ev.ring[0].type) || !ev.ring) {
		ev.refused++;
		return NULL;
	}
	w = ev.spare ? ev.spare : malloc(sizeof(*w));
	ev.spare = NULL;
	if (!w)
		return NULL;
	/* past the limit the event is refused, not cut */
	jbuf_init_on(&w->j.own, w->storage, sizeof(w->storage), EVENT_MAX_BYTES);
	(void)result_json_writer_open(&w->j, &w->j.own);
	snprintf(w->type, sizeof(w->type), "%s", type);
	(void)result_api_json_string(&w->j, "type", type);
	(void)result_api_json_string(&w->j, "source", h->name);
	return &w->j;
}

static void notify_tick(void *data)
{
	ev.notify_timer = 0;
	if (ev.dirty) {
		ev.dirty = false;
		ev.api->notify_resource_updated(ev.core, "events://stream");
	}
}

int events_commit(struct smcp_host *h, struct smcp_json *j)
{
	struct ev_writer *w = (struct ev_writer *)j;
	struct timespec ts;
	struct event *e;
	char *text;
	size_t len = 0;
	int err = 0;

	if (!j)
		return -EINVAL;
	if (j->err || j->depth != 1) {
		err = j->err ? j->err : -EINVAL;
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!ev.next_seq)
		ev.next_seq = 1;
	(void)result_api_json_uint(j, "seq", ev.next_seq);
	(void)result_api_json_uint(j, "unix_ms",
				   (uint64_t)ts.tv_sec * 1000 + (uint64_t)(ts.tv_nsec / 1000000));
	err = result_json_writer_close(j);
	if (err)
		goto out;
	if (jbuf_over(&j->own)) {
		ev.refused++;
		err = -E2BIG;
		goto out;
	}
	text = jbuf_take(&j->own, &len);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	e = slot(ev.next_seq);
	if (e->text)
		ev.evicted++;
	free(e->text);
	e->text = text;
	e->len = (uint32_t)len;
	e->seq = ev.next_seq++;
	memcpy(e->type, w->type, sizeof(e->type));
	ev.dirty = true;
	/* coalesce: at most one updated notification per interval */
	if (!ev.notify_timer) {
		int id = ev.api->timer_add(ev.core, NOTIFY_INTERVAL_MS, false, notify_tick, NULL);

		ev.notify_timer = id > 0 ? id : 0;
	}
out:
	result_json_writer_release(j);
	if (!ev.spare)
		ev.spare = w;
	else
		free(w);
	return err;
}

static bool type_matches(const struct event *e, const char *prefix)
{
	return !prefix || strncmp(e->type, prefix, strlen(prefix)) == 0;
}

/* Write events with seq >= from matching prefix, up to limit; returns the
 * cursor to continue from. */
static uint64_t write_events(struct smcp_json *j, uint64_t from, uint32_t limit,
			     const char *prefix, bool *ret_more)
{
	const struct smcp_host_api *api = ev.api;
	uint64_t seq, n = 0;

	*ret_more = false;
	if (from < oldest_seq())
		from = oldest_seq();
	api->json_array(j, "events");
	for (seq = from; seq < ev.next_seq; seq++) {
		struct event *e = slot(seq);

		if (!type_matches(e, prefix))
			continue;
		if (n == limit) {
			*ret_more = true;
			break;
		}
		/* a page that would pass max_result_bytes ends here instead */
		smcp_json_item_begin(api, j);
		result_json_put_trusted(j, NULL, e->text, e->len);
		if (!smcp_json_item_fits(api, j)) {
			*ret_more = true;
			break;
		}
		n++;
	}
	api->json_end(j);
	return seq;
}

static void write_counters(struct smcp_json *j)
{
	const struct smcp_host_api *api = ev.api;
	uint64_t published = ev.next_seq ? ev.next_seq - 1 : 0;

	api->json_uint(j, "published_total", published);
	api->json_uint(j, "oldest_seq", published ? oldest_seq() : 0);
	api->json_uint(j, "latest_seq", published);
	api->json_uint(j, "ring_capacity", ev.cap);
	api->json_uint(j, "evicted_total", ev.evicted);
	api->json_uint(j, "refused_total", ev.refused);
}

/* The plugins' tools that put events into the stream when asked: those
 * whose description names it (the core knows no plugin by name). */
static void write_turn_on_with(struct smcp_json *j)
{
	const struct registry *r = registry_view();

	ev.api->json_array(j, "turn_on_with");
	for (size_t i = 0; i < r->n_tools; i++) {
		const struct reg_tool *t = r->tools[i];

		if (t->owner != ev.core && t->description &&
		    strstr(t->description, "events://stream"))
			ev.api->json_string(j, NULL, t->name);
	}
	ev.api->json_end(j);
}

static int stream_read(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	struct smcp_json *j = ev.api->result_json(res);
	uint64_t from = ev.next_seq > STREAM_RECENT ? ev.next_seq - STREAM_RECENT : 1;
	bool more;

	if (!j)
		return -ENOMEM;
	write_counters(j);
	ev.api->json_string(j, "note",
			    "The most recent events. Subscribe to this URI for update notifications "
			    "(at most one per second), or call poll_events with a cursor to read "
			    "every event in order. Without setup the stream carries notable events "
			    "only (latency outliers, migration bursts, scheduler changes, watch "
			    "breaches: a few a minute). Raw per-event streams (every switch, "
			    "wakeup, migration) are off until turned on with a tool in "
			    "turn_on_with.");
	write_turn_on_with(j);
	write_events(j, from, STREAM_RECENT, NULL, &more);
	return 0;
}

static int poll_events(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const struct smcp_host_api *api = ev.api;
	int64_t cursor = 0, limit = 100;
	const char *prefix = NULL;
	struct smcp_json *j;
	uint64_t next, from;
	bool more;

	(void)api->arg_int(args, "cursor", &cursor);
	(void)api->arg_int(args, "limit", &limit);
	(void)api->arg_string(args, "type", &prefix);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	from = cursor > 0 ? (uint64_t)cursor : oldest_seq();
	if (from > ev.next_seq && ev.next_seq) {
		return api->result_error(res,
					 "cursor %lld is ahead of the stream (latest event is %llu); "
					 "use the next_cursor of a previous answer or omit cursor",
					 (long long)cursor, (unsigned long long)(ev.next_seq - 1));
	}
	api->json_uint(j, "missed", from < oldest_seq() ? oldest_seq() - from : 0);
	next = write_events(j, from, (uint32_t)limit, prefix, &more);
	api->json_uint(j, "next_cursor", next ? next : 1);
	api->json_bool(j, "has_more", more);
	write_counters(j);
	return 0;
}

static const char poll_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"cursor\":{\"type\":\"integer\",\"minimum\":0},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},"
	"\"type\":{\"type\":\"string\",\"maxLength\":47,\"description\":\"prefix, e.g. 'sched.'\"}"
	"},\"additionalProperties\":false}";

static const char poll_output[] =
	"{\"type\":\"object\",\"required\":[\"events\",\"next_cursor\",\"has_more\",\"missed\"]}";

int events_init(struct smcp_host *core, const struct smcp_host_api *api, uint32_t capacity)
{
	struct smcp_resource_desc stream = {
		.sz = sizeof(stream),
		.uri = "events://stream",
		.name = "event_stream",
		.title = "Live event stream",
		.description = "Recent live events from all plugins with stream counters. Subscribe "
			       "for notifications/resources/updated, or poll with poll_events.",
		.mime_type = "application/json",
		.read = stream_read,
	};
	struct smcp_tool_desc poll = {
		.sz = sizeof(poll),
		.name = "poll_events",
		.description = "Live events after cursor, oldest first; pass next_cursor back.",
		.input_schema = poll_schema,
		.output_schema = poll_output,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = poll_events,
	};
	int err;

	ev.core = core;
	ev.api = api;
	ev.cap = capacity;
	ev.ring = calloc(capacity, sizeof(*ev.ring));
	if (!ev.ring)
		return -ENOMEM;
	err = api->register_resource(core, &stream);
	if (!err)
		err = api->register_tool(core, &poll);
	return err;
}

void events_fini(void)
{
	if (ev.ring)
		for (uint32_t i = 0; i < ev.cap; i++)
			free(ev.ring[i].text);
	free(ev.ring);
	ev.ring = NULL;
	free(ev.spare);
	ev.spare = NULL;
	ev.next_seq = 0;
	ev.notify_timer = 0;
}
