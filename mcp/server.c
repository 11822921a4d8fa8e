/* SPDX-License-Identifier: MIT */
/*
 * MCP protocol handling: message classification, the lifecycle, and the
 * methods. Calls into plugins go through the registry; a handler that
 * answers SMCP_PENDING keeps its request in the pending list until
 * call_complete() or a cancellation.
 */
#include "server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/host.h"
#include "../core/jbuf.h"
#include "../core/log.h"
#include "../core/privs.h"
#include "../core/loop.h"
#include "../core/registry.h"
#include "../core/result.h"
#include "../core/schema.h"
#include "../core/util.h"
#include <schedmcp/glob.h>
#include <schedmcp/jsontext.h>
#include "protocol.h"
#include "smcp-config.h"

#define MAX_JSON_DEPTH 64
/*
 * Values in one message (about: containers and commas outside strings;
 * an object member is one cJSON node with its key). cJSON spends ~64 bytes
 * per value, so a max_line_bytes line of "[0,0,0,...]" would otherwise cost
 * ~32 times its size (a tool call's arguments are no longer copied on top).
 */
#define MAX_JSON_VALUES 100000
#define CLIENT_REQUEST_TIMEOUT_MS 60000
#define MAX_CLIENT_REQUESTS 64

struct client_req {
	struct client_req *next;
	char id[32];
	struct request *owner;
	smcp_response_fn cb;
	void *data;
	int timer;
};

/* Room for an id's JSON text inside a request; a longer one is allocated. */
#define ID_INLINE 40
/* A read's answer is written into its request; room for a small one. */
#define READ_INLINE 1024

struct request {
	struct smcp_call call;
	struct mcp_session *s;
	struct request *next, *prev;
	/* the id as JSON text, for echoing and matching (what id_put writes) */
	char *id;
	size_t id_len;
	char id_inline[ID_INLINE];
	/* a read's answer, built in place: the envelope, then the body escaped
	 * straight into the "text" of its contents entry (result_json_into) */
	struct jbuf msg;
	size_t msg_head; /* where the contents entries start in msg */
	char msg_inline[READ_INLINE];
	cJSON *progress_token;
	double last_progress;
	uint64_t last_progress_ns; /* when the last progress notification was queued */
	bool has_progress;
	int defer_timer; /* response waiting one tick after progress */
	int defer_err;
	const char *what; /* tool/prompt name or uri, for messages */
};

/*
 * One client's session: everything that belongs to one conversation lives
 * here (negotiated revision, capabilities, subscriptions, log level,
 * requests in flight, requests we sent it); the registry, plugins, history
 * and watches are shared by all.
 */
struct mcp_session {
	struct mcp_session *next, *prev;
	uint64_t no; /* session number, for logs */
	struct mcp_peer peer;
	mcp_send_fn send;
	void *transport;
	bool initialized;    /* initialize answered */
	bool ready;	     /* notifications/initialized received */
	const char *version; /* negotiated */
	cJSON *client_caps;
	cJSON *client_info;
	struct request *pending;
	uint32_t n_pending;
	struct client_req *client_reqs;
	uint32_t n_client_reqs;
	uint64_t next_client_id;
	char **subs;
	uint32_t n_subs;
	enum smcp_log_level log_level;
	struct mcp_stats stats;
	mcp_observer_fn observer;
	void *observer_ctx;
};

static struct {
	struct mcp_limits lim;
	struct mcp_session *sessions;
	uint32_t n_sessions;
	uint64_t next_no;
	/* the session whose message is being handled (client_has_capability,
	 * the status resource's session block) */
	struct mcp_session *cur;
	struct mcp_totals totals;
} srv;

static const struct call_ops request_ops;
static void sink_level_update(void);
static void observe(struct mcp_session *s, enum mcp_session_event ev, const char *id);

/* ------------------------------------------------------------------ output */

/*
 * Every message is written once, as the text that goes to the client, into
 * a jbuf (on the stack while small): no tree is made and printed. What
 * still arrives as a cJSON tree (list items, initialize) is written from
 * the tree into the same buffer.
 */
#define MSG_INLINE 512

static void msg_send(struct mcp_session *s, struct jbuf *b, bool droppable)
{
	int err;

	if (b->err || jbuf_over(b)) {
		log_err("out of memory serialising a message");
		jbuf_free(b);
		return;
	}
	err = s->send(s->transport, b->p, b->len, droppable);
	if (err == -ENOBUFS)
		s->stats.dropped_notifications++;
	jbuf_free(b);
}

/*
 * A client id or progress token as JSON text. Integers are written as
 * integers so that large ones (up to 2^53-1) print exactly: cJSON would
 * print 9007199254740991 as 9.00719925474099e+15.
 */
static void id_put(struct jbuf *b, const cJSON *id)
{
	if (!id)
		jbuf_puts(b, "null");
	else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
		 fabs(id->valuedouble) <= 9007199254740991.0)
		jbuf_int(b, (int64_t)id->valuedouble);
	else if (cJSON_IsString(id))
		jbuf_strz(b, id->valuestring);
	else
		jbuf_cjson(b, id);
}

/* {"jsonrpc":"2.0","id":<id> */
static void msg_head(struct jbuf *b, const char *id, size_t id_len)
{
	jbuf_puts(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	if (id)
		jbuf_put(b, id, id_len);
	else
		jbuf_puts(b, "null");
}

static void msg_head_cjson(struct jbuf *b, const cJSON *id)
{
	jbuf_puts(b, "{\"jsonrpc\":\"2.0\",\"id\":");
	id_put(b, id);
}

/* Send a result; takes ownership of result. */
static void send_result(struct mcp_session *s, const cJSON *id, cJSON *result)
{
	char small[MSG_INLINE];
	struct jbuf b;

	if (!result) {
		log_err("out of memory building a result");
		return;
	}
	jbuf_init_on(&b, small, sizeof(small), JBUF_NO_LIMIT);
	msg_head_cjson(&b, id);
	jbuf_puts(&b, ",\"result\":");
	jbuf_cjson(&b, result);
	jbuf_puts(&b, "}");
	cJSON_Delete(result);
	msg_send(s, &b, false);
}

/* The error object of a response to the id written by head (text). */
static void send_error_text(struct mcp_session *s, const char *id, size_t id_len, int code,
			    const char *message, const cJSON *data)
{
	char small[MSG_INLINE];
	struct jbuf b;

	s->stats.errors_sent++;
	jbuf_init_on(&b, small, sizeof(small), JBUF_NO_LIMIT);
	msg_head(&b, id, id_len);
	jbuf_puts(&b, ",\"error\":{\"code\":");
	jbuf_int(&b, code);
	jbuf_puts(&b, ",\"message\":");
	jbuf_strz(&b, message);
	if (data) {
		jbuf_puts(&b, ",\"data\":");
		jbuf_cjson(&b, data);
	}
	jbuf_puts(&b, "}}");
	msg_send(s, &b, false);
}

static void send_error_data(struct mcp_session *s, const cJSON *id, int code, const char *message,
			    cJSON *data)
{
	char text[64];
	struct jbuf b;

	/* ids are short; a long one is written on the heap and freed */
	jbuf_init_on(&b, text, sizeof(text), JBUF_NO_LIMIT);
	if (id)
		id_put(&b, id);
	send_error_text(s, id ? b.p : NULL, b.len, code, message, data);
	jbuf_free(&b);
	cJSON_Delete(data);
}

__attribute__((format(printf, 4, 5))) static void send_error(struct mcp_session *s,
							     const cJSON *id, int code,
							     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error_data(s, id, code, msg, NULL);
}

/* {"jsonrpc":"2.0","method":"<method>" then params (if any) and "}" */
static void notification_head(struct jbuf *b, char *small, size_t size, const char *method)
{
	jbuf_init_on(b, small, size, JBUF_NO_LIMIT);
	jbuf_puts(b, "{\"jsonrpc\":\"2.0\",\"method\":");
	jbuf_strz(b, method);
}

static void send_notification(struct mcp_session *s, const char *method, cJSON *params, bool droppable)
{
	char small[MSG_INLINE];
	struct jbuf b;

	notification_head(&b, small, sizeof(small), method);
	if (params) {
		jbuf_puts(&b, ",\"params\":");
		jbuf_cjson(&b, params);
		cJSON_Delete(params);
	}
	jbuf_puts(&b, "}");
	msg_send(s, &b, droppable);
}

/* --------------------------------------------------------------- helpers */

static bool version_at_least(struct mcp_session *s, const char *v)
{
	/* revision strings are dates: they compare as strings */
	return s->version && strcmp(s->version, v) >= 0;
}

static const char *str_param(const cJSON *params, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_str(cJSON *o, const char *key, const char *val)
{
	if (val)
		cJSON_AddItemToObject(o, key, result_json_string_node(val));
}

/*
 * Cursors are opaque to clients: "p" + offset + "." + registry generation,
 * so a cursor from before a list change is refused instead of skipping or
 * repeating items silently.
 */
static int cursor_decode(const cJSON *params, size_t *ret_off)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(params, "cursor");
	unsigned long long off;
	unsigned gen;
	char tail;

	*ret_off = 0;
	if (!c || cJSON_IsNull(c))
		return 0;
	if (!cJSON_IsString(c) ||
	    sscanf(c->valuestring, "p%llu.%u%c", &off, &gen, &tail) != 2 ||
	    gen != registry_view()->generation)
		return -EINVAL;
	*ret_off = (size_t)off;
	return 0;
}

static void cursor_encode(cJSON *result, size_t next, size_t total)
{
	char buf[64];

	if (next >= total)
		return;
	snprintf(buf, sizeof(buf), "p%zu.%u", next, registry_view()->generation);
	cJSON_AddStringToObject(result, "nextCursor", buf);
}

/* ----------------------------------------------------------- lifecycle */

static const char *const versions[] = { SMCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26",
					"2024-11-05" };

bool mcp_protocol_supported(const char *version)
{
	for (size_t i = 0; version && i < ARRAY_SIZE(versions); i++)
		if (strcmp(version, versions[i]) == 0)
			return true;
	return false;
}

/* What the model reads first: the core's lines, then every plugin's
 * (host API add_instructions) in load order. */
static cJSON *build_instructions(void)
{
	char buf[4096];
	size_t n = 0;

	n += (size_t)snprintf(buf + n, sizeof(buf) - n,
			      "schedmcp observes the Linux CPU scheduler on this machine (read-only). ");
	if (registry_find_prompt("summarize_system"))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
				      "Start with the summarize_system prompt. ");
	for (size_t i = 0; i < registry_view()->n_instructions && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s ",
				      registry_view()->instructions[i]->text);
	if (n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n,
			 "schedmcp://plugins lists what is loaded and why anything is degraded. "
			 "Answers are bounded; when one is cut it says so and how to narrow it. "
			 "For live events, call poll_events with the returned cursor.");
	return result_json_string_node(buf);
}

static cJSON *handle_initialize(struct mcp_session *s, const cJSON *params, int *code, const char **msg)
{
	const char *asked = str_param(params, "protocolVersion");
	cJSON *r, *caps, *c;

	if (s->initialized) {
		*code = JSONRPC_INVALID_REQUEST;
		*msg = "already initialized (send initialize once per session)";
		return NULL;
	}
	if (!asked) {
		*code = JSONRPC_INVALID_PARAMS;
		*msg = "initialize: params.protocolVersion (string) is required";
		return NULL;
	}
	s->version = versions[0];
	for (size_t i = 0; i < ARRAY_SIZE(versions); i++)
		if (strcmp(asked, versions[i]) == 0)
			s->version = versions[i];
	cJSON_Delete(s->client_caps);
	cJSON_Delete(s->client_info);
	c = cJSON_GetObjectItemCaseSensitive(params, "capabilities");
	s->client_caps = cJSON_IsObject(c) ? cJSON_Duplicate(c, true) : cJSON_CreateObject();
	c = cJSON_GetObjectItemCaseSensitive(params, "clientInfo");
	s->client_info = cJSON_IsObject(c) ? cJSON_Duplicate(c, true) : NULL;

	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "protocolVersion", s->version);
	caps = cJSON_AddObjectToObject(r, "capabilities");
	c = cJSON_AddObjectToObject(caps, "resources");
	cJSON_AddBoolToObject(c, "subscribe", true);
	cJSON_AddBoolToObject(c, "listChanged", true);
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "tools"), "listChanged", true);
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(caps, "prompts"), "listChanged", true);
	cJSON_AddObjectToObject(caps, "logging");
	if (version_at_least(s, "2025-03-26"))
		cJSON_AddObjectToObject(caps, "completions");
	c = cJSON_AddObjectToObject(r, "serverInfo");
	cJSON_AddStringToObject(c, "name", "schedmcp");
	if (version_at_least(s, "2025-06-18"))
		cJSON_AddStringToObject(c, "title", "schedmcp: Linux scheduler observability");
	cJSON_AddStringToObject(c, "version", SMCP_VERSION);
	cJSON_AddItemToObject(r, "instructions", build_instructions());
	s->initialized = true;
	sink_level_update();
	observe(s, MCP_EV_INITIALIZED, NULL);
	return r;
}

/* -------------------------------------------------------------- lists */

static cJSON *list_page(struct mcp_session *s, const cJSON *params, const char *key, size_t total,
			cJSON *(*item)(struct mcp_session *s, size_t i, bool *skip), int *code,
			const char **msg)
{
	size_t off, i, emitted = 0;
	cJSON *r, *arr;

	if (cursor_decode(params, &off) || off > total) {
		*code = JSONRPC_INVALID_PARAMS;
		*msg = "invalid or stale cursor (lists changed or the cursor was not ours); "
		       "start again without a cursor";
		return NULL;
	}
	r = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(r, key);
	for (i = off; i < total && emitted < srv.lim.page_size; i++) {
		bool skip = false;
		cJSON *it = item(s, i, &skip);

		if (skip)
			continue;
		if (!it) {
			cJSON_Delete(r);
			*code = JSONRPC_INTERNAL_ERROR;
			*msg = "out of memory";
			return NULL;
		}
		cJSON_AddItemToArray(arr, it);
		emitted++;
	}
	/* a cursor only when something is left to list */
	while (i < total) {
		bool skip = false;
		cJSON *it = item(s, i, &skip);

		cJSON_Delete(it);
		if (!skip)
			break;
		i++;
	}
	cursor_encode(r, i, total);
	return r;
}

static cJSON *resource_item(struct mcp_session *s, struct reg_resource *res)
{
	cJSON *o = cJSON_CreateObject();

	add_str(o, res->is_template ? "uriTemplate" : "uri", res->uri);
	add_str(o, "name", res->name);
	if (version_at_least(s, "2025-06-18"))
		add_str(o, "title", res->title);
	add_str(o, "description", res->description);
	add_str(o, "mimeType", res->mime_type);
	return o;
}

static cJSON *plain_resource_item(struct mcp_session *s, size_t i, bool *skip)
{
	*skip = registry_view()->resources[i]->is_template;
	return *skip ? NULL : resource_item(s, registry_view()->resources[i]);
}

static cJSON *template_item(struct mcp_session *s, size_t i, bool *skip)
{
	*skip = !registry_view()->resources[i]->is_template;
	return *skip ? NULL : resource_item(s, registry_view()->resources[i]);
}

static cJSON *tool_item(struct mcp_session *s, size_t i, bool *skip)
{
	struct reg_tool *t = registry_view()->tools[i];
	cJSON *o = cJSON_CreateObject(), *a;
	bool ro = t->flags & SMCP_TOOL_READ_ONLY;

	add_str(o, "name", t->name);
	if (version_at_least(s, "2025-06-18"))
		add_str(o, "title", t->title);
	add_str(o, "description", t->description);
	cJSON_AddItemToObject(o, "inputSchema", cJSON_Duplicate(t->input_schema, true));
	if (t->output_schema && version_at_least(s, "2025-06-18"))
		cJSON_AddItemToObject(o, "outputSchema", cJSON_Duplicate(t->output_schema, true));
	/* hints that differ from the spec's defaults (readOnly false,
	 * destructive true, idempotent false, openWorld true), and only those
	 * that mean something: destructive and idempotent are read only when
	 * readOnly is false. A model reads tools/list before every
	 * conversation; each byte here is paid in every one. */
	if (version_at_least(s, "2025-03-26")) {
		a = cJSON_AddObjectToObject(o, "annotations");
		if (t->title && !version_at_least(s, "2025-06-18"))
			add_str(a, "title", t->title); /* no top-level title before */
		if (ro)
			cJSON_AddBoolToObject(a, "readOnlyHint", true);
		if (!ro && !(t->flags & SMCP_TOOL_DESTRUCTIVE))
			cJSON_AddBoolToObject(a, "destructiveHint", false);
		if (!ro && (t->flags & SMCP_TOOL_IDEMPOTENT))
			cJSON_AddBoolToObject(a, "idempotentHint", true);
		if (!(t->flags & SMCP_TOOL_OPEN_WORLD))
			cJSON_AddBoolToObject(a, "openWorldHint", false);
	}
	return o;
}

static cJSON *prompt_item(struct mcp_session *s, size_t i, bool *skip)
{
	struct reg_prompt *p = registry_view()->prompts[i];
	cJSON *o = cJSON_CreateObject(), *args;

	add_str(o, "name", p->name);
	if (version_at_least(s, "2025-06-18"))
		add_str(o, "title", p->title);
	add_str(o, "description", p->description);
	args = cJSON_AddArrayToObject(o, "arguments");
	for (size_t k = 0; k < p->n_args; k++) {
		cJSON *a = cJSON_CreateObject();

		add_str(a, "name", p->args[k].name);
		add_str(a, "description", p->args[k].description);
		cJSON_AddBoolToObject(a, "required", p->args[k].required);
		cJSON_AddItemToArray(args, a);
	}
	return o;
}

/* ---------------------------------------------------------------- calls */

static struct request *request_new(struct mcp_session *s, const cJSON *id, const cJSON *params, const char *what)
{
	struct request *r = calloc(1, sizeof(*r));
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");

	struct jbuf b;

	if (!r)
		return NULL;
	/* the id's text, inline when short: echoed in the answer, compared
	 * with later ids, told to the observer */
	jbuf_init_on(&b, r->id_inline, sizeof(r->id_inline), JBUF_NO_LIMIT);
	id_put(&b, id);
	if (b.err) {
		free(r);
		return NULL;
	}
	r->id = b.p;
	r->id_len = b.len;
	jbuf_init_on(&r->msg, r->msg_inline, sizeof(r->msg_inline), JBUF_NO_LIMIT);
	if (cJSON_IsString(tok) || cJSON_IsNumber(tok))
		r->progress_token = cJSON_Duplicate(tok, true);
	r->call.ops = &request_ops;
	r->call.ctx = r;
	r->s = s;
	r->what = what;
	return r;
}

static void observe(struct mcp_session *s, enum mcp_session_event ev, const char *id)
{
	if (s->observer)
		s->observer(s->observer_ctx, ev, id);
}

static void pending_add(struct request *r)
{
	struct mcp_session *s = r->s;

	observe(s, MCP_EV_PENDING, r->id);
	UTIL_DLIST_PUSH(s->pending, r);
	s->n_pending++;
}

static void pending_del(struct request *r)
{
	struct mcp_session *s = r->s;

	/* before the answer is written: a service that dies in between loses
	 * the answer, rather than giving the client a second one */
	observe(s, MCP_EV_SETTLED, r->id);
	if (r->prev)
		r->prev->next = r->next;
	else if (s->pending == r)
		s->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	s->n_pending--;
}

/* End the requests a call sent to the client: each callback hears
 * -ECANCELED once (the call is already finished, so it cannot complete it). */
static void client_reqs_drop(struct request *owner)
{
	struct mcp_session *s = owner->s;
	struct client_req **pp = &s->client_reqs;
	uint64_t caps;

	while (*pp) {
		struct client_req *c = *pp;

		if (c->owner != owner) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		s->n_client_reqs--;
		if (c->timer > 0)
			(void)loop_timer_remove(c->timer);
		caps = privs_enter(owner->call.owner);
		c->cb(c->data, &owner->call, -ECANCELED, NULL, "the request was cancelled");
		privs_leave(caps);
		free(c);
		pp = &s->client_reqs; /* the callback may have changed the list */
	}
}

static void request_free(struct request *r)
{
	if (r->defer_timer > 0)
		(void)loop_timer_remove(r->defer_timer);
	client_reqs_drop(r);
	result_release(&r->call.result);
	if (r->id != r->id_inline)
		free(r->id);
	jbuf_free(&r->msg);
	cJSON_Delete(r->progress_token);
	free(r);
}

__attribute__((format(printf, 3, 4))) static void request_error(struct request *r, int code,
								  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error_text(r->s, r->id, r->id_len, code, msg, NULL);
}

/* A part of the answer kept elsewhere: copied, or only counted when it was
 * over the limit itself (the answer is then refused anyway). */
static void put_part(struct jbuf *m, const struct jbuf *part)
{
	if (jbuf_over(part))
		jbuf_count(m, part->total);
	else
		jbuf_put(m, part->p, part->len);
}

/* A tool result with isError and one text, which says why. */
static void send_tool_error(struct request *r, const char *text)
{
	char small[MSG_INLINE];
	struct jbuf m;

	jbuf_init_on(&m, small, sizeof(small), JBUF_NO_LIMIT);
	msg_head(&m, r->id, r->id_len);
	jbuf_puts(&m, ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":");
	jbuf_strz(&m, text);
	jbuf_puts(&m, "}],\"isError\":true}}");
	msg_send(r->s, &m, false);
}

/*
 * The answer to a finished tool call, written once: the content items as
 * the plugin wrote them (or, with none, the JSON body as text: the spec
 * asks for it, for older clients), then the body itself as
 * structuredContent. Past max_result_bytes it is only counted, and the
 * model is asked to narrow its query instead.
 */
static void finish_tool(struct request *r, int err)
{
	struct smcp_result *res = &r->call.result;
	int st = result_status(res);
	const struct jbuf *body;
	char msg[512];
	struct jbuf m;

	if (err >= 0 && st) {
		log_msg(SMCP_LOG_ERROR, r->call.owner->name,
			"tool %s built an invalid result (%s); this is a plugin bug", r->what,
			strerror(-st));
		err = st;
	}
	if (err < 0) {
		snprintf(msg, sizeof(msg), "tool %s failed: %s", r->what,
			 res->error ? res->error : strerror(-err));
		send_tool_error(r, msg);
		return;
	}
	body = result_json_text(res);
	/* the envelope and id cost a few dozen bytes beyond the result */
	jbuf_init(&m, srv.lim.max_result_bytes + 128);
	/* one allocation: the items, the body twice (text and structured),
	 * some room for the escapes of the text */
	jbuf_reserve(&m, res->items.len + (body ? body->len * 2 + body->len / 8 : 0) + 256);
	msg_head(&m, r->id, r->id_len);
	jbuf_puts(&m, ",\"result\":{\"content\":[");
	if (res->n_items) {
		put_part(&m, &res->items);
	} else if (body) {
		jbuf_puts(&m, "{\"type\":\"text\",\"text\":\"");
		m.esc = true;
		put_part(&m, body);
		m.esc = false;
		jbuf_puts(&m, "\"}");
	}
	jbuf_puts(&m, "]");
	if (body && version_at_least(r->s, "2025-06-18")) {
		jbuf_puts(&m, ",\"structuredContent\":");
		put_part(&m, body);
	}
	jbuf_puts(&m, res->is_error ? ",\"isError\":true}}" : ",\"isError\":false}}");
	if (!jbuf_over(&m) || m.err) {
		msg_send(r->s, &m, false);
		return;
	}
	snprintf(msg, sizeof(msg),
		 "tool %s produced about %zu bytes, over this server's limit of %zu bytes "
		 "(max_result_bytes); narrow the query (a smaller limit, a filter, "
		 "summary detail) and call it again",
		 r->what, m.total, srv.lim.max_result_bytes);
	jbuf_free(&m);
	send_tool_error(r, msg);
}

/*
 * Before a read runs: its answer's envelope and the head of a JSON
 * contents entry go into r->msg, and the body, if the plugin writes one,
 * is escaped straight into that entry's "text" (a JSON string holding
 * JSON): written once, never printed and wrapped again.
 */
static void read_prepare(struct request *r, const char *uri)
{
	struct jbuf *m = &r->msg;

	m->limit = srv.lim.max_result_bytes + 128;
	msg_head(m, r->id, r->id_len);
	jbuf_puts(m, ",\"result\":{\"contents\":[");
	r->msg_head = m->len;
	jbuf_puts(m, "{\"uri\":");
	jbuf_strz(m, uri);
	jbuf_puts(m, ",\"mimeType\":\"application/json\",\"text\":\"");
	m->esc = true;
	result_json_into(&r->call.result, m);
	result_set_limit(&r->call.result, m->limit);
	/* the body lands escaped in m, after the envelope: m is the answer */
	result_set_page(&r->call.result, srv.lim.max_result_bytes, 1, 0);
}

static void finish_read(struct request *r, int err)
{
	struct mcp_session *s = r->s;
	struct smcp_result *res = &r->call.result;
	int st = err >= 0 ? result_status(res) : 0;
	struct jbuf *m = &r->msg;

	if (err == -ENOENT) {
		cJSON *data = cJSON_CreateObject();
		char msg[600];

		add_str(data, "uri", res->uri);
		/* the plugin's why (an unknown id, and where the valid ones are
		 * listed) goes into the message a model reads */
		if (res->error)
			add_str(data, "reason", res->error);
		snprintf(msg, sizeof(msg), "Resource not found%s%s", res->error ? ": " : "",
			 res->error ? res->error : "");
		send_error_text(s, r->id, r->id_len, MCP_RESOURCE_NOT_FOUND, msg, data);
		cJSON_Delete(data);
		return;
	}
	if (err < 0 || st) {
		request_error(r, JSONRPC_INTERNAL_ERROR, "reading %s failed: %s", r->what,
			      res->error ? res->error : strerror(-(err < 0 ? err : st)));
		return;
	}
	if (res->has_json) {
		result_json_end(res);
		m->esc = false;
		jbuf_puts(m, "\"}");
		if (res->n_items)
			jbuf_puts(m, ",");
	} else {
		m->esc = false;
		jbuf_truncate(m, r->msg_head);
	}
	put_part(m, &res->items);
	jbuf_puts(m, "]}}");
	if (!jbuf_over(m) || m->err) {
		msg_send(s, m, false);
		return;
	}
	request_error(r, JSONRPC_INTERNAL_ERROR,
		      "%s is about %zu bytes, over this server's limit of %zu bytes "
		      "(max_result_bytes); read a narrower resource or use the matching tool "
		      "with a limit",
		      r->what, m->total, srv.lim.max_result_bytes);
}

static void finish_prompt(struct request *r, int err)
{
	struct smcp_result *res = &r->call.result;
	int st = err >= 0 ? result_status(res) : 0;
	struct jbuf m;

	if (err == -EINVAL) {
		request_error(r, JSONRPC_INVALID_PARAMS, "prompt %s: %s", r->what,
			      res->error ? res->error : "invalid arguments");
		return;
	}
	if (err < 0 || st) {
		request_error(r, JSONRPC_INTERNAL_ERROR, "prompt %s failed: %s", r->what,
			      res->error ? res->error : strerror(-(err < 0 ? err : st)));
		return;
	}
	jbuf_init(&m, JBUF_NO_LIMIT);
	msg_head(&m, r->id, r->id_len);
	jbuf_puts(&m, ",\"result\":{");
	if (res->description) {
		jbuf_puts(&m, "\"description\":");
		jbuf_strz(&m, res->description);
		jbuf_puts(&m, ",");
	}
	jbuf_puts(&m, "\"messages\":[");
	put_part(&m, &res->items);
	jbuf_puts(&m, "]}}");
	msg_send(r->s, &m, false);
}

static void finish(struct request *r, int err)
{
	switch (r->call.result.kind) {
	case RESULT_TOOL:
		finish_tool(r, err);
		break;
	case RESULT_READ:
		finish_read(r, err);
		break;
	case RESULT_PROMPT:
		finish_prompt(r, err);
		break;
	}
}

/* Run a handler's return value: answer now or keep the request pending. */
static void settle(struct request *r, int ret)
{
	if (ret == SMCP_PENDING) {
		r->call.pending = true;
		pending_add(r);
		return;
	}
	r->call.finished = true;
	finish(r, ret);
	request_free(r);
}

static void deferred_complete(void *data)
{
	struct request *r = data;

	r->defer_timer = 0;
	pending_del(r);
	finish(r, r->defer_err);
	request_free(r);
}

#define PROGRESS_GAP_MS 25

static void op_complete(struct smcp_call *c, int err)
{
	struct request *r = c->ctx;

	/*
	 * A response right behind a progress notification can reach a client
	 * in the same read, and the TypeScript SDK then handles the response
	 * first and drops the progress as "unknown token" (typescript-sdk
	 * #2580; Claude Code disconnects on it). The response goes out at least
	 * PROGRESS_GAP_MS after the last progress: one loop tick was not enough
	 * for a client on a busy machine, and calls with progress run for far
	 * longer than the gap.
	 */
	if (r->has_progress) {
		uint64_t since = loop_now_ns() - r->last_progress_ns;
		uint64_t gap = PROGRESS_GAP_MS * 1000000ull;
		int ms = since >= gap ? 1 : (int)((gap - since + 999999) / 1000000);

		r->defer_err = err;
		r->defer_timer = loop_timer_add(ms, false, deferred_complete, r, r->s);
		if (r->defer_timer > 0) {
			/* the plugin is done with the call: a cancel now only
			 * suppresses the response */
			r->call.cancel_cb = NULL;
			return;
		}
	}
	pending_del(r);
	finish(r, err);
	request_free(r);
}

static int op_progress(struct smcp_call *c, double progress, double total, const char *msg)
{
	struct request *r = c->ctx;
	struct mcp_session *s = r->s;
	char small[MSG_INLINE];
	struct jbuf b;

	if (!r->progress_token)
		return 0;
	if (!isfinite(progress) || (r->has_progress && progress <= r->last_progress))
		return -EINVAL; /* the spec requires progress to increase */
	r->has_progress = true;
	r->last_progress = progress;
	r->last_progress_ns = loop_now_ns();
	notification_head(&b, small, sizeof(small), "notifications/progress");
	jbuf_puts(&b, ",\"params\":{\"progressToken\":");
	id_put(&b, r->progress_token);
	jbuf_puts(&b, ",\"progress\":");
	jbuf_double(&b, progress);
	if (total > 0 && isfinite(total)) {
		jbuf_puts(&b, ",\"total\":");
		jbuf_double(&b, total);
	}
	if (msg && version_at_least(s, "2025-03-26")) {
		jbuf_puts(&b, ",\"message\":");
		jbuf_strz(&b, msg);
	}
	jbuf_puts(&b, "}}");
	msg_send(s, &b, true);
	return 0;
}

static void client_req_timeout(void *data)
{
	struct client_req *c = data, **pp;
	struct mcp_session *s = c->owner->s;
	uint64_t caps;

	for (pp = &s->client_reqs; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			s->n_client_reqs--;
			c->timer = 0;
			caps = privs_enter(c->owner->call.owner);
			c->cb(c->data, &c->owner->call, -ETIMEDOUT, NULL, "the client did not answer in time");
			privs_leave(caps);
			free(c);
			return;
		}
	}
}

static int op_client_request(struct smcp_call *call, const char *method, const char *params_json,
			     uint32_t timeout_ms, smcp_response_fn cb, void *data)
{
	struct request *r = call->ctx;
	struct mcp_session *s = r->s;
	struct client_req *c;
	const char *cap = NULL;
	char small[MSG_INLINE];
	struct jbuf m;

	if (strncmp(method, "sampling/", 9) == 0)
		cap = "sampling";
	else if (strncmp(method, "elicitation/", 12) == 0)
		cap = "elicitation";
	else if (strncmp(method, "roots/", 6) == 0)
		cap = "roots";
	if (cap && !cJSON_GetObjectItemCaseSensitive(s->client_caps, cap))
		return -ENOTSUP;
	if (s->n_client_reqs >= MAX_CLIENT_REQUESTS)
		return -EBUSY;
	if (params_json) {
		/* checked, then written as it is: an object, nothing else */
		const char *p = params_json + strspn(params_json, " \t\r\n");

		if (*p != '{' ||
		    jbuf_raw_check(params_json, strlen(params_json), JSON_RAW_MAX_DEPTH))
			return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	snprintf(c->id, sizeof(c->id), "schedmcp-%llu", (unsigned long long)++s->next_client_id);
	c->owner = r;
	c->cb = cb;
	c->data = data;
	c->timer = loop_timer_add(timeout_ms ? timeout_ms : CLIENT_REQUEST_TIMEOUT_MS, false,
				  client_req_timeout, c, s);
	c->next = s->client_reqs;
	s->client_reqs = c;
	s->n_client_reqs++;
	jbuf_init_on(&m, small, sizeof(small), JBUF_NO_LIMIT);
	jbuf_puts(&m, "{\"jsonrpc\":\"2.0\",\"id\":");
	jbuf_strz(&m, c->id);
	jbuf_puts(&m, ",\"method\":");
	jbuf_strz(&m, method);
	if (params_json) {
		jbuf_puts(&m, ",\"params\":");
		(void)jbuf_raw(&m, params_json, strlen(params_json), JSON_RAW_MAX_DEPTH);
	}
	jbuf_puts(&m, "}");
	msg_send(s, &m, false);
	return 0;
}

static const struct call_ops request_ops = {
	.progress = op_progress,
	.complete = op_complete,
	.client_request = op_client_request,
};

/* A response from the client to one of our requests. */
static void handle_response(struct mcp_session *s, const cJSON *msg)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
	struct client_req **pp, *c = NULL;
	uint64_t caps;

	if (!cJSON_IsString(id))
		return;
	for (pp = &s->client_reqs; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->id, id->valuestring) == 0) {
			c = *pp;
			*pp = c->next;
			s->n_client_reqs--;
			break;
		}
	}
	if (!c) {
		/* an id of ours (timed out, cancelled) is worth naming; anything
		 * else is the client's text, which is never logged */
		if (strncmp(id->valuestring, "schedmcp-", 9) == 0 && id->valuestring[9] &&
		    strspn(id->valuestring + 9, "0123456789") == strlen(id->valuestring + 9) &&
		    strlen(id->valuestring) < 32)
			log_debug("response to %s ignored: it timed out or was cancelled",
				  id->valuestring);
		else
			log_debug("a response to no request of ours was ignored");
		return;
	}
	if (c->timer > 0)
		(void)loop_timer_remove(c->timer);
	caps = privs_enter(c->owner->call.owner);
	if (cJSON_IsObject(result)) {
		struct smcp_args a = { .obj = (cJSON *)result };

		c->cb(c->data, &c->owner->call, 0, &a, NULL);
	} else {
		const char *m = str_param(error, "message");

		c->cb(c->data, &c->owner->call, -EPROTO, NULL, m ? m : "malformed response");
	}
	privs_leave(caps);
	free(c);
}

/* Ids are compared as the text they are echoed as: 7 and "7" differ. */
static struct request *find_pending(struct mcp_session *s, const cJSON *id)
{
	struct request *found = NULL;
	char text[ID_INLINE];
	struct jbuf b;

	if (!s->pending)
		return NULL;
	jbuf_init_on(&b, text, sizeof(text), JBUF_NO_LIMIT);
	id_put(&b, id);
	for (struct request *r = s->pending; r && !b.err; r = r->next) {
		if (r->id_len == b.len && memcmp(r->id, b.p, b.len) == 0) {
			found = r;
			break;
		}
	}
	jbuf_free(&b);
	return found;
}

static void cancel_request(struct request *r)
{
	pending_del(r);
	client_reqs_drop(r);
	r->call.finished = true;
	if (r->call.cancel_cb) {
		uint64_t caps = privs_enter(r->call.owner);

		r->call.cancel_cb(r->call.cancel_data, &r->call);
		privs_leave(caps);
	}
	request_free(r);
}

static void handle_cancelled(struct mcp_session *s, const cJSON *params)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(params, "requestId");
	struct request *r = id ? find_pending(s, id) : NULL;

	/* unknown or already answered: the spec says ignore it */
	if (r) {
		log_debug("request %s cancelled by the client", r->what);
		cancel_request(r);
	}
}

/* -------------------------------------------------------- the methods */

/* A tool no plugin has: what plugins said about such names (host API
 * add_tool_hint: scxtop's names for what they offer, say), or where to
 * look. */
static void unknown_tool(struct mcp_session *s, const cJSON *id, const char *name)
{
	char msg[1536];
	size_t n = (size_t)snprintf(msg, sizeof(msg), "Unknown tool: %.100s.", name);
	bool hinted = false;

	for (size_t i = 0; i < registry_view()->n_tool_hints && n < sizeof(msg); i++) {
		if (!smcp_glob_match(registry_view()->tool_hints[i]->glob, name) ||
		    strstr(msg, registry_view()->tool_hints[i]->text))
			continue;
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, " %s",
				      registry_view()->tool_hints[i]->text);
		hinted = true;
	}
	if (!hinted && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n,
			 " tools/list has this server's tools; schedmcp://plugins says what is "
			 "loaded here and why anything is not.");
	send_error(s, id, JSONRPC_INVALID_PARAMS, "%s", msg);
}

static void call_tool(struct mcp_session *s, const cJSON *id, const cJSON *params)
{
	const char *name = str_param(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	struct reg_tool *t;
	struct request *r;
	struct smcp_args a;
	uint64_t caps;
	cJSON *copy;
	char err[512];
	int ret;

	if (!name) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: params.name (string) is required");
		return;
	}
	t = registry_find_tool(name);
	if (!t) {
		unknown_tool(s, id, name);
		return;
	}
	if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "tools/call: arguments must be an object");
		return;
	}
	/* the arguments are taken out of the message (freed once this returns;
	 * a plugin borrows them only for the call), not copied: the schema
	 * check may coerce them in place */
	copy = cJSON_IsObject(args) ? cJSON_DetachItemViaPointer((cJSON *)params, (cJSON *)args)
				    : cJSON_CreateObject();
	r = request_new(s, id, params, t->name);
	if (!copy || !r) {
		cJSON_Delete(copy);
		if (r)
			request_free(r);
		send_error(s, id, JSONRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	r->call.owner = t->owner;
	result_init(&r->call.result, RESULT_TOOL, NULL, NULL);
	/* parts past the answer limit are only counted (finish_tool) */
	result_set_limit(&r->call.result, srv.lim.max_result_bytes + 128);
	/* the body goes out as text (escaped) and, since 2025-06-18, as
	 * structuredContent too (finish_tool) */
	result_set_page(&r->call.result, srv.lim.max_result_bytes,
			version_at_least(s, "2025-06-18") ? 1 : 0, 1);
	/* Invalid arguments are a tool error the model can read and correct
	 * (MCP 2025-11-25), not a protocol error. */
	if (schema_validate(t->input_schema, copy, err, sizeof(err))) {
		(void)result_api_result_error(&r->call.result, "invalid arguments for %s: %s",
					      t->name, err);
		cJSON_Delete(copy);
		settle(r, 0);
		return;
	}
	a.obj = copy;
	caps = privs_enter(t->owner);
	ret = t->call(t->data, &r->call, &a, &r->call.result);
	privs_leave(caps);
	settle(r, ret);
	cJSON_Delete(copy);
}

static void read_resource(struct mcp_session *s, const cJSON *id, const cJSON *params)
{
	const char *uri = str_param(params, "uri");
	struct reg_resource *res;
	cJSON *vars = NULL;
	struct request *r;
	struct smcp_args a;
	uint64_t caps;
	int ret;

	if (!uri) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "resources/read: params.uri (string) is required");
		return;
	}
	res = registry_find_resource(uri);
	if (!res)
		res = registry_match_template(uri, &vars);
	if (!res) {
		cJSON *data = cJSON_CreateObject();

		add_str(data, "uri", uri);
		send_error_data(s, id, MCP_RESOURCE_NOT_FOUND, "Resource not found", data);
		return;
	}
	r = request_new(s, id, params, res->uri);
	if (!r) {
		cJSON_Delete(vars);
		send_error(s, id, JSONRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	r->call.owner = res->owner;
	result_init(&r->call.result, RESULT_READ, uri, res->mime_type);
	read_prepare(r, uri);
	a.obj = vars ? vars : NULL;
	caps = privs_enter(res->owner);
	ret = res->read(res->data, &r->call, uri, &a, &r->call.result);
	privs_leave(caps);
	settle(r, ret);
	cJSON_Delete(vars);
}

static int check_prompt_args(const struct reg_prompt *p, const cJSON *args, char *err, size_t len)
{
	const cJSON *m;

	if (args && !cJSON_IsObject(args)) {
		snprintf(err, len, "arguments must be an object of strings");
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n_args; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, p->args[i].name);
		char *end;

		if (!v) {
			if (p->args[i].required) {
				snprintf(err, len, "missing required argument '%s'", p->args[i].name);
				return -EINVAL;
			}
			continue;
		}
		if (!cJSON_IsString(v)) {
			snprintf(err, len, "argument '%s' must be a string", p->args[i].name);
			return -EINVAL;
		}
		if (p->args[i].type == SMCP_ARG_INT) {
			errno = 0;
			(void)strtoll(v->valuestring, &end, 10);
			if (!*v->valuestring || *end || errno) {
				snprintf(err, len, "argument '%s' must be an integer, got \"%.40s\"",
					 p->args[i].name, v->valuestring);
				return -EINVAL;
			}
		}
	}
	cJSON_ArrayForEach(m, args) {
		bool known = false;

		for (size_t i = 0; i < p->n_args; i++)
			known |= strcmp(p->args[i].name, m->string) == 0;
		if (!known) {
			snprintf(err, len, "unknown argument '%.60s'", m->string);
			return -EINVAL;
		}
	}
	return 0;
}

static void get_prompt(struct mcp_session *s, const cJSON *id, const cJSON *params)
{
	const char *name = str_param(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	struct reg_prompt *p;
	struct request *r;
	struct smcp_args a;
	uint64_t caps;
	char err[256];
	int ret;

	if (!name) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "prompts/get: params.name (string) is required");
		return;
	}
	p = registry_find_prompt(name);
	if (!p) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "Unknown prompt: %s", name);
		return;
	}
	if (check_prompt_args(p, args, err, sizeof(err))) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "prompt %s: %s", name, err);
		return;
	}
	r = request_new(s, id, params, p->name);
	if (!r) {
		send_error(s, id, JSONRPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	r->call.owner = p->owner;
	result_init(&r->call.result, RESULT_PROMPT, NULL, NULL);
	a.obj = (cJSON *)(cJSON_IsObject(args) ? args : NULL);
	caps = privs_enter(p->owner);
	ret = p->get(p->data, &r->call, &a, &r->call.result);
	privs_leave(caps);
	settle(r, ret);
}

static cJSON *complete(struct mcp_session *s, const cJSON *params, int *code, const char **msg)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(params, "ref");
	const cJSON *arg = cJSON_GetObjectItemCaseSensitive(params, "argument");
	const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(params, "context"), "arguments");
	const char *type = str_param(ref, "type"), *name = str_param(arg, "name");
	const char *value = str_param(arg, "value");
	struct smcp_completion c = { 0 };
	smcp_complete_fn fn = NULL;
	const void *owner = NULL;
	void *data = NULL;
	cJSON *r, *comp;
	bool known = false;
	int err;

	*code = JSONRPC_INVALID_PARAMS;
	if (!type || !name || !value) {
		*msg = "completion/complete: ref.type, argument.name and argument.value are required";
		return NULL;
	}
	if (strcmp(type, "ref/prompt") == 0) {
		struct reg_prompt *p = str_param(ref, "name") ? registry_find_prompt(str_param(ref, "name")) : NULL;

		if (!p) {
			*msg = "completion/complete: unknown prompt";
			return NULL;
		}
		for (size_t i = 0; i < p->n_args; i++)
			known |= strcmp(p->args[i].name, name) == 0;
		fn = p->complete;
		data = p->data;
		owner = p->owner;
	} else if (strcmp(type, "ref/resource") == 0) {
		const char *uri = str_param(ref, "uri");
		struct reg_resource *t = uri ? registry_find_template(uri) : NULL;

		if (!t) {
			*msg = "completion/complete: unknown resource template";
			return NULL;
		}
		cJSON *vars = registry_template_vars(t->uri);
		const cJSON *v;

		cJSON_ArrayForEach(v, vars)
			known |= strcmp(v->valuestring, name) == 0;
		cJSON_Delete(vars);
		fn = t->complete;
		data = t->data;
		owner = t->owner;
	} else {
		*msg = "completion/complete: ref.type must be ref/prompt or ref/resource";
		return NULL;
	}
	if (!known) {
		*msg = "completion/complete: no such argument";
		return NULL;
	}
	c.values = cJSON_CreateArray();
	if (fn) {
		struct smcp_args a = { .obj = (cJSON *)(cJSON_IsObject(ctx) ? ctx : NULL) };

		uint64_t caps = privs_enter(owner);

		err = fn(data, name, value, &a, &c);
		privs_leave(caps);
		if (err < 0 && err != -ENOSPC)
			log_debug("completion for %s failed: %s", name, strerror(-err));
	}
	r = cJSON_CreateObject();
	comp = cJSON_AddObjectToObject(r, "completion");
	cJSON_AddItemToObject(comp, "values", c.values);
	cJSON_AddNumberToObject(comp, "total", c.total > c.count ? c.total : c.count);
	cJSON_AddBoolToObject(comp, "hasMore", c.more);
	return r;
}

static int sub_find(struct mcp_session *s, const char *uri)
{
	for (uint32_t i = 0; i < s->n_subs; i++)
		if (strcmp(s->subs[i], uri) == 0)
			return (int)i;
	return -1;
}

static cJSON *subscribe(struct mcp_session *s, const cJSON *params, bool on, int *code, const char **msg)
{
	const char *uri = str_param(params, "uri");
	cJSON *vars = NULL;
	int i;

	*code = JSONRPC_INVALID_PARAMS;
	if (!uri) {
		*msg = "params.uri (string) is required";
		return NULL;
	}
	i = sub_find(s, uri);
	if (!on) {
		if (i >= 0) {
			free(s->subs[i]);
			s->subs[i] = s->subs[--s->n_subs];
		}
		return cJSON_CreateObject();
	}
	if (!registry_find_resource(uri)) {
		if (!registry_match_template(uri, &vars)) {
			*code = MCP_RESOURCE_NOT_FOUND;
			*msg = "Resource not found";
			return NULL;
		}
		cJSON_Delete(vars);
	}
	if (i < 0) {
		char **ns;

		if (s->n_subs >= srv.lim.max_subscriptions) {
			*code = JSONRPC_INVALID_REQUEST;
			*msg = "too many subscriptions; unsubscribe from some first";
			return NULL;
		}
		ns = realloc(s->subs, (s->n_subs + 1) * sizeof(*ns));
		if (!ns || !(ns[s->n_subs] = strdup(uri))) {
			s->subs = ns ? ns : s->subs;
			*code = JSONRPC_INTERNAL_ERROR;
			*msg = "out of memory";
			return NULL;
		}
		s->subs = ns;
		s->n_subs++;
	}
	return cJSON_CreateObject();
}

static cJSON *set_level(struct mcp_session *s, const cJSON *params, int *code, const char **msg)
{
	const char *lvl = str_param(params, "level");
	enum smcp_log_level l;

	if (!lvl || log_level_parse(lvl, &l)) {
		*code = JSONRPC_INVALID_PARAMS;
		*msg = "logging/setLevel: level must be one of debug, info, notice, warning, "
		       "error, critical, alert, emergency";
		return NULL;
	}
	s->log_level = l;
	sink_level_update();
	return cJSON_CreateObject();
}

/* ------------------------------------------------------------- dispatch */

/* A method that builds its result (NULL: *code and *msg say why). */
static void answer(struct mcp_session *s, const cJSON *id, cJSON *result, int code,
		   const char *msg)
{
	if (result)
		send_result(s, id, result);
	else
		send_error(s, id, code, "%s", msg);
}

#define LIST_METHOD(fn, key, total, item)                                                  \
	static void fn(struct mcp_session *s, const cJSON *id, const cJSON *params)        \
	{                                                                                  \
		int code = JSONRPC_INTERNAL_ERROR;                                         \
		const char *msg = "internal error";                                        \
		cJSON *r = list_page(s, params, key, total, item, &code, &msg);            \
                                                                                           \
		answer(s, id, r, code, msg);                                               \
	}
LIST_METHOD(m_tools_list, "tools", registry_view()->n_tools, tool_item)
LIST_METHOD(m_resources_list, "resources", registry_view()->n_resources, plain_resource_item)
LIST_METHOD(m_templates_list, "resourceTemplates", registry_view()->n_resources, template_item)
LIST_METHOD(m_prompts_list, "prompts", registry_view()->n_prompts, prompt_item)

#define RESULT_METHOD(fn, call)                                                            \
	static void fn(struct mcp_session *s, const cJSON *id, const cJSON *params)        \
	{                                                                                  \
		int code = JSONRPC_INTERNAL_ERROR;                                         \
		const char *msg = "internal error";                                        \
		cJSON *r = call;                                                           \
                                                                                           \
		answer(s, id, r, code, msg);                                               \
	}
RESULT_METHOD(m_initialize, handle_initialize(s, params, &code, &msg))
RESULT_METHOD(m_subscribe, subscribe(s, params, true, &code, &msg))
RESULT_METHOD(m_unsubscribe, subscribe(s, params, false, &code, &msg))
RESULT_METHOD(m_set_level, set_level(s, params, &code, &msg))
RESULT_METHOD(m_complete, complete(s, params, &code, &msg))

static void m_ping(struct mcp_session *s, const cJSON *id, const cJSON *params)
{
	char small[128];
	struct jbuf b;

	jbuf_init_on(&b, small, sizeof(small), JBUF_NO_LIMIT);
	msg_head_cjson(&b, id);
	jbuf_puts(&b, ",\"result\":{}}");
	msg_send(s, &b, false);
}

enum {
	M_BEFORE_INIT = 1, /* allowed before initialize */
	M_PARAMS = 2,	   /* params are required */
};

/* Sorted by name (bsearch; mcp_server_init checks the order). */
static const struct method {
	const char *name;
	void (*fn)(struct mcp_session *s, const cJSON *id, const cJSON *params);
	unsigned flags;
} methods[] = {
	{ "completion/complete", m_complete, 0 },
	{ "initialize", m_initialize, M_BEFORE_INIT },
	{ "logging/setLevel", m_set_level, 0 },
	{ "ping", m_ping, M_BEFORE_INIT },
	{ "prompts/get", get_prompt, M_PARAMS },
	{ "prompts/list", m_prompts_list, 0 },
	{ "resources/list", m_resources_list, 0 },
	{ "resources/read", read_resource, M_PARAMS },
	{ "resources/subscribe", m_subscribe, 0 },
	{ "resources/templates/list", m_templates_list, 0 },
	{ "resources/unsubscribe", m_unsubscribe, 0 },
	{ "tools/call", call_tool, M_PARAMS },
	{ "tools/list", m_tools_list, 0 },
};

static int method_cmp(const void *key, const void *m)
{
	return strcmp(key, ((const struct method *)m)->name);
}

static void handle_request(struct mcp_session *s, const cJSON *id, const char *name,
			   const cJSON *params)
{
	const struct method *m;

	s->stats.requests++;
	if (params && !cJSON_IsObject(params)) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "params must be an object");
		return;
	}
	m = bsearch(name, methods, ARRAY_SIZE(methods), sizeof(methods[0]), method_cmp);
	if (!m) {
		send_error(s, id, JSONRPC_METHOD_NOT_FOUND, "Method not found: %.100s", name);
		return;
	}
	if (!(m->flags & M_BEFORE_INIT)) {
		if (!s->initialized) {
			send_error(s, id, JSONRPC_INVALID_REQUEST,
				   "not initialized: send initialize first (only ping is allowed "
				   "before it)");
			return;
		}
		if (s->n_pending >= srv.lim.max_pending) {
			send_error(s, id, MCP_SERVER_BUSY,
				   "%u requests are already in flight (the limit); wait for some "
				   "to finish",
				   s->n_pending);
			return;
		}
	}
	if ((m->flags & M_PARAMS) && !params) {
		send_error(s, id, JSONRPC_INVALID_PARAMS, "%s needs params", m->name);
		return;
	}
	m->fn(s, id, params);
}

static void handle_notification(struct mcp_session *s, const char *method, const cJSON *params)
{
	s->stats.notifications++;
	if (strcmp(method, "notifications/initialized") == 0)
		s->ready = true;
	else if (strcmp(method, "notifications/cancelled") == 0)
		handle_cancelled(s, params);
	/* roots/list_changed, progress and unknown notifications: nothing to do */
}

static bool valid_id(const cJSON *id)
{
	if (cJSON_IsString(id))
		return true;
	if (!cJSON_IsNumber(id))
		return false;
	/* MCP ids are strings or integers; 2^53-1 is the largest we echo exactly */
	return id->valuedouble == floor(id->valuedouble) && fabs(id->valuedouble) <= 9007199254740991.0;
}

/* The end of the (valid) JSON value starting at s[i]. */
static size_t value_end(const char *s, size_t n, size_t i)
{
	int depth = 0;
	bool in_str = false;

	for (; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"' && !depth)
				return i + 1;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"')
			in_str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		else if (!depth && (c == ',' || c == '}' || c == ' ' || c == '\t' || c == '\n' ||
				    c == '\r'))
			return i;
	}
	return n;
}

static bool span_is(const char *s, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* An id whose text is what id_put() would echo: a string without escapes,
 * or an integer of at most 15 digits with no fraction or exponent. */
static bool plain_id(const char *s, size_t n)
{
	size_t i = s[0] == '-';

	if (s[0] == '"')
		return !memchr(s, '\\', n);
	if (n <= i || n - i > 15 || (s[i] == '0' && (n - i > 1 || i)))
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * ping needs nothing but its id, so the common keep-alive is answered from
 * the text without building a tree (which cost ten allocations): a valid
 * line holding only "jsonrpc":"2.0", "method":"ping", a plain id and
 * perhaps an object of params, keys without escapes. Anything else, a
 * duplicate id in flight included, takes the general path, which answers
 * it exactly as before. Returns whether the line was answered.
 */
static bool fast_ping(struct mcp_session *s, const char *line, size_t len)
{
	const char *id = NULL;
	size_t id_len = 0, i = 0;
	bool ver = false, ping = false, params_seen = false;
	char small[128];
	struct jbuf b;

	if (len < 30 || line[0] != '{' || !memmem(line, len, "\"ping\"", 6) ||
	    jbuf_raw_check(line, len, MAX_JSON_DEPTH))
		return false;
	for (i = 1; i < len;) {
		size_t k0, k1, v0, v1;

		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' ||
				   line[i] == '\r' || line[i] == ','))
			i++;
		if (i >= len || line[i] == '}')
			break;
		k0 = i;
		k1 = value_end(line, len, k0);
		if (memchr(line + k0, '\\', k1 - k0))
			return false;
		i = k1;
		while (i < len && line[i] != ':')
			i++;
		i++;
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\n' ||
				   line[i] == '\r'))
			i++;
		v0 = i;
		v1 = value_end(line, len, v0);
		i = v1;
		/* the first of a repeated key counts, as with cJSON */
		if (span_is(line + k0, k1 - k0, "\"jsonrpc\"")) {
			if (!ver && !span_is(line + v0, v1 - v0, "\"2.0\""))
				return false;
			ver = true;
		} else if (span_is(line + k0, k1 - k0, "\"method\"")) {
			if (!ping && !span_is(line + v0, v1 - v0, "\"ping\""))
				return false;
			ping = true;
		} else if (span_is(line + k0, k1 - k0, "\"id\"")) {
			if (!id && !plain_id(line + v0, v1 - v0))
				return false;
			if (!id) {
				id = line + v0;
				id_len = v1 - v0;
			}
		} else if (span_is(line + k0, k1 - k0, "\"params\"")) {
			if (!params_seen && line[v0] != '{')
				return false;
			params_seen = true;
		} else {
			return false;
		}
	}
	if (!ver || !ping || !id)
		return false;
	for (struct request *r = s->pending; r; r = r->next)
		if (r->id_len == id_len && memcmp(r->id, id, id_len) == 0)
			return false;
	s->stats.requests++;
	jbuf_init_on(&b, small, sizeof(small), JBUF_NO_LIMIT);
	msg_head(&b, id, id_len);
	jbuf_puts(&b, ",\"result\":{}}");
	msg_send(s, &b, false);
	return true;
}

static void handle_line(struct mcp_session *s, const char *line, size_t len)
{
	const cJSON *id, *method, *params, *ver;
	const char *end = NULL;
	struct smcp_json_counts scan;
	cJSON *msg;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	while (len && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (!len)
		return;
	if (!util_utf8_valid(line, len)) {
		send_error(s, NULL, JSONRPC_PARSE_ERROR, "Parse error: message is not valid UTF-8");
		return;
	}
	/* counted on the text, before cJSON spends memory on it */
	smcp_json_scan(line, len, MAX_JSON_VALUES + 1, MAX_JSON_DEPTH, &scan);
	if (scan.depth > MAX_JSON_DEPTH) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST, "Invalid request: nested deeper than %d levels",
			   MAX_JSON_DEPTH);
		return;
	}
	if (scan.values - 1 > MAX_JSON_VALUES) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
			   "Invalid request: more than %d JSON values in one message", MAX_JSON_VALUES);
		return;
	}
	if (fast_ping(s, line, len))
		return;
	msg = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (msg) {
		/* one message per line: anything but spaces after it is an error */
		while (end < line + len && (*end == ' ' || *end == '\t'))
			end++;
		if (end != line + len) {
			cJSON_Delete(msg);
			msg = NULL;
		}
	}
	if (!msg) {
		send_error(s, NULL, JSONRPC_PARSE_ERROR,
			   "Parse error: a line must hold exactly one JSON value");
		return;
	}
	if (cJSON_IsArray(msg)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
			   "Invalid request: JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one message per line");
		goto out;
	}
	if (!cJSON_IsObject(msg)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST, "Invalid request: a message must be a JSON object");
		goto out;
	}
	ver = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
	id = cJSON_GetObjectItemCaseSensitive(msg, "id");
	method = cJSON_GetObjectItemCaseSensitive(msg, "method");
	params = cJSON_GetObjectItemCaseSensitive(msg, "params");
	if (!method && id && (cJSON_GetObjectItemCaseSensitive(msg, "result") ||
			      cJSON_GetObjectItemCaseSensitive(msg, "error"))) {
		handle_response(s, msg);
		goto out;
	}
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 || !cJSON_IsString(method)) {
		/* a notification (no id) is never answered, even when malformed */
		if (id)
			send_error(s, valid_id(id) ? id : NULL, JSONRPC_INVALID_REQUEST,
				   "Invalid request: need \"jsonrpc\":\"2.0\" and a string \"method\"");
		else
			log_debug("malformed notification ignored");
		goto out;
	}
	if (!id) {
		handle_notification(s, method->valuestring, params);
		goto out;
	}
	if (!valid_id(id)) {
		send_error(s, NULL, JSONRPC_INVALID_REQUEST,
			   "Invalid request: id must be a string or an integer");
		goto out;
	}
	if (find_pending(s, id)) {
		send_error(s, id, JSONRPC_INVALID_REQUEST,
			   "Invalid request: id is already in use by a request in flight");
		goto out;
	}
	handle_request(s, id, method->valuestring, params);
out:
	cJSON_Delete(msg);
}

void mcp_session_handle_line(struct mcp_session *s, const char *line, size_t len)
{
	struct mcp_session *prev = srv.cur;

	srv.cur = s;
	handle_line(s, line, len);
	srv.cur = prev;
}

void mcp_session_line_too_long(struct mcp_session *s, size_t len)
{
	send_error(s, NULL, JSONRPC_INVALID_REQUEST,
		   "Invalid request: message of %zu bytes or more exceeds the limit of %zu bytes "
		   "(max_line_bytes); it was discarded",
		   len, srv.lim.max_line_bytes);
}

/* ---------------------------------------------------- host hooks, logging */

static bool hook_has_capability(const char *name)
{
	/* the client whose request is being handled */
	return srv.cur && cJSON_GetObjectItemCaseSensitive(srv.cur->client_caps, name) != NULL;
}

static void hook_resource_updated(const char *uri)
{
	for (struct mcp_session *s = srv.sessions; s; s = s->next) {
		char small[MSG_INLINE];
		struct jbuf b;

		if (!s->initialized || sub_find(s, uri) < 0)
			continue;
		notification_head(&b, small, sizeof(small), "notifications/resources/updated");
		jbuf_puts(&b, ",\"params\":{\"uri\":");
		jbuf_strz(&b, uri);
		jbuf_puts(&b, "}}");
		msg_send(s, &b, true);
	}
}

static void hook_list_changed(void)
{
	for (struct mcp_session *s = srv.sessions; s; s = s->next) {
		if (!s->initialized)
			continue;
		send_notification(s, "notifications/resources/list_changed", NULL, true);
		send_notification(s, "notifications/tools/list_changed", NULL, true);
		send_notification(s, "notifications/prompts/list_changed", NULL, true);
	}
}

static void hook_write_session(const struct smcp_host_api *api, struct smcp_json *j)
{
	struct mcp_session *s = srv.cur;

	if (s) {
		api->json_object(j, "session");
		api->json_uint(j, "number", s->no);
		api->json_string(j, "transport", s->peer.transport);
		api->json_string(j, "protocol_version", s->version);
		api->json_uint(j, "requests", s->stats.requests);
		api->json_uint(j, "notifications_received", s->stats.notifications);
		api->json_uint(j, "errors_sent", s->stats.errors_sent);
		api->json_uint(j, "notifications_dropped", s->stats.dropped_notifications);
		api->json_uint(j, "requests_in_flight", s->n_pending);
		api->json_uint(j, "subscriptions", s->n_subs);
		api->json_end(j);
	}
	api->json_object(j, "sessions");
	api->json_uint(j, "open", srv.n_sessions);
	api->json_uint(j, "opened", srv.totals.opened);
	api->json_uint(j, "closed", srv.totals.closed);
	api->json_end(j);
}

static const struct host_hooks hooks = {
	.write_session = hook_write_session,
	.client_has_capability = hook_has_capability,
	.resource_updated = hook_resource_updated,
	.list_changed = hook_list_changed,
};

/* The logger formats a line for clients only when some session wants it. */
static void sink_level_update(void)
{
	enum smcp_log_level min = SMCP_LOG_EMERGENCY + 1;

	for (struct mcp_session *s = srv.sessions; s; s = s->next)
		if (s->initialized && s->log_level < min)
			min = s->log_level;
	log_set_sink_level(min);
}

static void log_sink(void *data, enum smcp_log_level lvl, const char *logger, const char *text)
{
	for (struct mcp_session *s = srv.sessions; s; s = s->next) {
		char small[MSG_INLINE];
		struct jbuf b;

		/* a client may only receive notifications once initialize is
		 * answered, and only at or above the level it chose */
		if (!s->initialized || lvl < s->log_level)
			continue;
		notification_head(&b, small, sizeof(small), "notifications/message");
		jbuf_puts(&b, ",\"params\":{\"level\":");
		jbuf_strz(&b, log_level_name(lvl));
		if (logger) {
			jbuf_puts(&b, ",\"logger\":");
			jbuf_strz(&b, logger);
		}
		jbuf_puts(&b, ",\"data\":");
		jbuf_strz(&b, text);
		jbuf_puts(&b, "}}");
		msg_send(s, &b, true);
	}
}

int mcp_server_init(const struct mcp_limits *limits)
{
	for (size_t i = 1; i < ARRAY_SIZE(methods); i++)
		if (strcmp(methods[i - 1].name, methods[i].name) >= 0)
			return -EINVAL; /* a programming error: bsearch needs order */
	srv.lim = *limits;
	host_set_hooks(&hooks);
	log_set_sink(log_sink, NULL, SMCP_LOG_EMERGENCY + 1);
	return 0;
}

struct mcp_session *mcp_session_new(mcp_send_fn send, void *transport, const struct mcp_peer *peer)
{
	struct mcp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->no = ++srv.next_no;
	s->send = send;
	s->transport = transport;
	s->peer = *peer;
	s->log_level = SMCP_LOG_INFO;
	UTIL_DLIST_PUSH(srv.sessions, s);
	srv.n_sessions++;
	srv.totals.opened++;
	return s;
}

void mcp_session_free(struct mcp_session *s)
{
	if (!s)
		return;
	/* cancel what is in flight before anything it points at goes */
	while (s->pending)
		cancel_request(s->pending);
	while (s->client_reqs) {
		struct client_req *c = s->client_reqs;

		s->client_reqs = c->next;
		if (c->timer > 0)
			(void)loop_timer_remove(c->timer);
		free(c);
	}
	loop_remove_owner(s);
	UTIL_DLIST_UNLINK(srv.sessions, s);
	srv.n_sessions--;
	srv.totals.closed++;
	if (srv.cur == s)
		srv.cur = NULL;
	for (uint32_t i = 0; i < s->n_subs; i++)
		free(s->subs[i]);
	free(s->subs);
	cJSON_Delete(s->client_caps);
	cJSON_Delete(s->client_info);
	free(s);
	sink_level_update();
}

void mcp_server_fini(void)
{
	while (srv.sessions)
		mcp_session_free(srv.sessions);
	log_set_sink(NULL, NULL, SMCP_LOG_EMERGENCY);
	host_set_hooks(NULL);
	loop_remove_owner(&srv);
	memset(&srv, 0, sizeof(srv));
}

void mcp_session_observe(struct mcp_session *s, mcp_observer_fn fn, void *ctx)
{
	s->observer = fn;
	s->observer_ctx = ctx;
}

uint64_t mcp_session_no(const struct mcp_session *s)
{
	return s->no;
}

void mcp_session_stats(const struct mcp_session *s, struct mcp_stats *ret)
{
	*ret = s->stats;
	ret->pending = s->n_pending;
	ret->subscriptions = s->n_subs;
}

void mcp_server_totals(struct mcp_totals *ret)
{
	*ret = srv.totals;
	ret->open = srv.n_sessions;
}
