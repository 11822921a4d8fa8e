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
#include "result.h"

/* An event larger than this is a plugin bug; it is refused, not truncated. */
#define EVENT_MAX_BYTES 4096
#define NOTIFY_INTERVAL_MS 1000
#define STREAM_RECENT 20

struct event {
	uint64_t seq;
	char *text; /* the serialized event object */
	char type[48];
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
	struct smcp_json *j;

	if (!h || !type || !*type || strlen(type) >= sizeof(ev.ring[0].type) || !ev.ring) {
		ev.refused++;
		return NULL;
	}
	j = malloc(sizeof(*j));
	if (!j || json_writer_init(j)) {
		free(j);
		return NULL;
	}
	cJSON_AddStringToObject(j->root, "type", type);
	cJSON_AddStringToObject(j->root, "source", h->name);
	return j;
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
	struct timespec ts;
	struct event *e;
	cJSON *type;
	char *text;
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
	cJSON_AddNumberToObject(j->root, "seq", (double)ev.next_seq);
	cJSON_AddNumberToObject(j->root, "unix_ms",
				(double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000));
	text = cJSON_PrintUnformatted(j->root);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	if (strlen(text) > EVENT_MAX_BYTES) {
		free(text);
		ev.refused++;
		err = -E2BIG;
		goto out;
	}
	e = slot(ev.next_seq);
	if (e->text)
		ev.evicted++;
	free(e->text);
	e->text = text;
	e->seq = ev.next_seq++;
	type = cJSON_GetObjectItemCaseSensitive(j->root, "type");
	snprintf(e->type, sizeof(e->type), "%s", type->valuestring);
	ev.dirty = true;
	/* coalesce: at most one updated notification per interval */
	if (!ev.notify_timer) {
		int id = ev.api->timer_add(ev.core, NOTIFY_INTERVAL_MS, false, notify_tick, NULL);

		ev.notify_timer = id > 0 ? id : 0;
	}
out:
	json_writer_release(j);
	free(j);
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
		api->json_raw(j, NULL, e->text);
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
			    "every event in order.");
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
	"\"cursor\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"next_cursor from the previous call; omit to start at the oldest retained event\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},"
	"\"type\":{\"type\":\"string\",\"maxLength\":47,\"description\":\"only events whose type starts with this, e.g. 'sched.'\"}"
	"},\"additionalProperties\":false}";

static const char poll_output[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"events\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}},"
	"\"next_cursor\":{\"type\":\"integer\"},\"has_more\":{\"type\":\"boolean\"},"
	"\"missed\":{\"type\":\"integer\"},\"published_total\":{\"type\":\"integer\"},"
	"\"evicted_total\":{\"type\":\"integer\"}},"
	"\"required\":[\"events\",\"next_cursor\",\"has_more\",\"missed\"]}";

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
		.title = "Read the live event stream",
		.description = "Events published since a cursor, oldest first, for clients that cannot "
			       "subscribe. Returns {events, next_cursor, has_more, missed}; pass "
			       "next_cursor back to continue. 'missed' counts events that left the "
			       "bounded ring before you read them.",
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
	ev.next_seq = 0;
	ev.notify_timer = 0;
}
