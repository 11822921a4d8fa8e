/* SPDX-License-Identifier: MIT */
/* Streams, events and sessions of the HTTP transport, and where each message
 * a session sends goes (route()). */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "../core/util.h"
#include "http_guard.h"
#include "http_impl.h"
#include "protocol.h"

/* ------------------------------------------------------------ streams */

void http_stream_wake(struct stream *st)
{
	struct hreq *r = st->req;

	if (r && r->suspended) {
		r->suspended = false;
		http_resume(r);
	}
}

static void event_drop(struct stream *st, struct event *e)
{
	if (e->sent)
		st->kept -= e->len;
	else {
		st->unsent -= e->len;
		st->hs->queued -= e->len;
	}
	free(e);
}

void http_stream_free(struct stream *st)
{
	struct hsession *hs = st->hs;
	struct stream **pp;

	for (pp = &hs->streams; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
	hs->n_streams--;
	if (hs->standalone == st)
		hs->standalone = NULL;
	if (hs->current == st)
		hs->current = NULL;
	while (st->head) {
		struct event *e = st->head;

		st->head = e->next;
		event_drop(st, e);
	}
	if (st->req) {
		st->req->st = NULL;
		http_stream_wake(st);
	}
	free(st->req_id);
	free(st->progress_token);
	free(st);
}

struct stream *http_stream_new(struct hsession *hs, bool standalone)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->hs = hs;
	st->no = hs->next_no++;
	st->standalone = standalone;
	st->mode = standalone ? M_SSE : M_UNDECIDED;
	st->sse_ok = true;
	st->next_seq = 1;
	st->next = hs->streams;
	hs->streams = st;
	hs->n_streams++;
	return st;
}

static struct event *event_new(struct stream *st, uint64_t seq, const char *json, size_t len)
{
	char head[96];
	int hn = json ? snprintf(head, sizeof(head), "id: %u-%llu\nevent: message\ndata: ", st->no,
				 (unsigned long long)seq)
		      : snprintf(head, sizeof(head), "id: %u-%llu\nretry: %u\ndata: ", st->no,
				 (unsigned long long)seq, SSE_RETRY_MS);
	struct event *e = malloc(sizeof(*e) + (size_t)hn + len + 3);

	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->seq = seq;
	memcpy(e->data, head, (size_t)hn);
	if (len)
		memcpy(e->data + hn, json, len);
	memcpy(e->data + hn + len, "\n\n", 3);
	e->raw_off = (size_t)hn;
	e->raw_len = len;
	e->len = (size_t)hn + len + 2;
	return e;
}

static void stream_push(struct stream *st, struct event *e)
{
	if (st->tail)
		st->tail->next = e;
	else
		st->head = e;
	st->tail = e;
	st->unsent += e->len;
	st->hs->queued += e->len;
	http_stream_wake(st);
}

/* An SSE answer begins with an event of no data that gives the client an
 * id to resume from and how long to wait before it does (SEP-1699). */
void http_stream_to_sse(struct stream *st)
{
	struct event *e;

	st->mode = M_SSE;
	if (!st->priming || !(e = event_new(st, 0, NULL, 0)))
		return;
	e->next = st->head;
	st->head = e;
	if (!st->tail)
		st->tail = e;
	st->unsent += e->len;
	st->hs->queued += e->len;
}

/* Delivered events stay for a resuming client, up to replay_bytes. */
void http_stream_delivered(struct stream *st, struct event *e)
{
	if (e->sent)
		return;
	e->sent = true;
	st->unsent -= e->len;
	st->hs->queued -= e->len;
	st->kept += e->len;
}

void http_stream_trim(struct stream *st)
{
	while (st->kept > http_srv.o.replay_bytes && st->head && st->head->sent) {
		struct event *e = st->head;

		st->head = e->next;
		if (!st->head)
			st->tail = NULL;
		event_drop(st, e);
	}
}

bool http_stream_finished(const struct stream *st, uint64_t next_seq)
{
	return st->done && (!st->tail || st->tail->seq < next_seq);
}

/* The request went away (answered, or its client closed). */
void http_stream_detach(struct hreq *r)
{
	struct stream *st = r->st;

	if (!st)
		return;
	r->st = NULL;
	if (st->req != r)
		return;
	st->req = NULL;
	st->detached_ns = loop_now_ns();
	/* an exchange nobody waits for and no one can resume (it has sent no
	 * event id yet) is over; its answer will find no stream */
	if (!st->standalone && st->mode != M_SSE)
		http_stream_free(st);
}

/* ----------------------------------------------------------- sessions */

static void reap(void *data);

void http_session_free(struct hsession *hs)
{
	UTIL_DLIST_UNLINK(http_srv.sessions, hs);
	http_srv.n_sessions--;
	hs->dead = true;
	if (hs->initialized)
		log_private(SMCP_LOG_INFO, "http session %llu from %s closed",
			    (unsigned long long)mcp_session_no(hs->s), hs->addr);
	/* its calls are cancelled, no answers are sent */
	mcp_session_free(hs->s);
	while (hs->streams)
		http_stream_free(hs->streams);
	free(hs);
}

/* Ended from inside its own send function: freed from the loop. */
static void session_doom(struct hsession *hs, const char *why)
{
	if (hs->dead)
		return;
	hs->dead = true;
	log_private(SMCP_LOG_WARNING, "http session %llu from %s ended: %s",
		    (unsigned long long)mcp_session_no(hs->s), hs->addr, why);
	if (!http_srv.reap) {
		http_srv.reap = loop_timer_add(1, false, reap, NULL, &http_srv);
		if (http_srv.reap < 0)
			http_srv.reap = 0;
	}
}

static void reap(void *data)
{
	struct hsession *hs = http_srv.sessions, *next;

	http_srv.reap = 0;
	for (; hs; hs = next) {
		next = hs->next;
		if (hs->dead)
			http_session_free(hs);
	}
}

struct stream *http_find_exchange(struct hsession *hs, const char *id)
{
	for (struct stream *st = hs->streams; st; st = st->next)
		if (st->req_id && !st->done && strcmp(st->req_id, id) == 0)
			return st;
	return NULL;
}

static struct stream *find_token(struct hsession *hs, const char *tok)
{
	for (struct stream *st = hs->streams; st; st = st->next)
		if (st->progress_token && !st->done && st->sse_ok &&
		    !strcmp(st->progress_token, tok))
			return st;
	return NULL;
}

/* The newest exchange still waiting for its answer that can stream. */
static struct stream *latest_exchange(struct hsession *hs)
{
	for (struct stream *st = hs->streams; st; st = st->next)
		if (!st->standalone && !st->done && st->sse_ok && (st->req || st->mode == M_SSE))
			return st;
	return NULL;
}

char *http_json_text(const cJSON *v)
{
	return v ? cJSON_PrintUnformatted(v) : NULL;
}

/*
 * Where a message of the session goes: an answer to its request's exchange;
 * progress to the exchange that gave the token; anything else sent while a
 * request is handled, or while one is in flight, to that exchange (it is
 * almost always for it: a log line, a sampling or elicitation request);
 * the rest to the standalone stream.
 */
static struct stream *route(struct hsession *hs, const char *line, size_t len, bool *response)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const cJSON *method, *id, *params;
	struct stream *st = NULL;
	char *txt;

	*response = false;
	if (!m)
		return hs->standalone;
	method = cJSON_GetObjectItemCaseSensitive(m, "method");
	id = cJSON_GetObjectItemCaseSensitive(m, "id");
	if (!method && id) {
		*response = true;
		txt = http_json_text(id);
		st = txt ? http_find_exchange(hs, txt) : NULL;
		/* an error about a request whose id could not be read */
		if (!st && cJSON_IsNull(id) && hs->current && !hs->current->done)
			st = hs->current;
		free(txt);
		cJSON_Delete(m);
		return st;
	}
	params = cJSON_GetObjectItemCaseSensitive(m, "params");
	if (cJSON_IsString(method) && !strcmp(method->valuestring, "notifications/progress")) {
		txt = http_json_text(cJSON_GetObjectItemCaseSensitive(params, "progressToken"));
		st = txt ? find_token(hs, txt) : NULL;
		free(txt);
	}
	cJSON_Delete(m);
	if (!st && hs->current && hs->current->sse_ok && !hs->current->done)
		st = hs->current;
	if (!st)
		st = latest_exchange(hs);
	return st ? st : hs->standalone;
}

static int session_send(void *t, const char *line, size_t len, bool droppable)
{
	struct hsession *hs = t;
	struct stream *st;
	struct event *e;
	bool response;

	if (hs->dead)
		return -EPIPE;
	/* -ENOBUFS: the server counts the drop (msg_send) */
	if (droppable && hs->queued > http_srv.o.max_queue_bytes / 2)
		return -ENOBUFS;
	st = route(hs, line, len, &response);
	if (!st) {
		/* its request's client went away before the answer */
		log_debug("http session %llu: an answer for a request no one waits for dropped",
			  (unsigned long long)mcp_session_no(hs->s));
		return 0;
	}
	if (st->standalone && !st->req && droppable)
		return 0; /* no GET stream: no one listens, nothing is lost */
	e = event_new(st, st->next_seq++, line, len);
	if (!e)
		return -ENOBUFS;
	e->response = response;
	if (response)
		st->done = true;
	stream_push(st, e);
	if (hs->queued > 2 * http_srv.o.max_queue_bytes)
		session_doom(hs, "it did not read its answers (output past twice "
				 "max_output_queue_bytes)");
	return 0;
}

static void session_observe(void *ctx, enum mcp_session_event ev, const char *id)
{
	struct hsession *hs = ctx;

	if (ev == MCP_EV_INITIALIZED)
		hs->initialized = true;
}

struct hsession *http_session_new(const char *addr)
{
	struct hsession *hs = calloc(1, sizeof(*hs));
	unsigned char rnd[16];

	if (!hs)
		return NULL;
	/* the id is what a client needs to use the session: unguessable */
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(hs);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hs->id + 2 * i, 3, "%02x", rnd[i]);
	snprintf(hs->addr, sizeof(hs->addr), "%s", addr);
	hs->peer.transport = "http";
	hs->s = mcp_session_new(session_send, hs, &hs->peer);
	hs->standalone = hs->s ? http_stream_new(hs, true) : NULL;
	if (!hs->standalone) {
		mcp_session_free(hs->s);
		free(hs);
		return NULL;
	}
	mcp_session_observe(hs->s, session_observe, hs);
	hs->last_used_ns = loop_now_ns();
	UTIL_DLIST_PUSH(http_srv.sessions, hs);
	http_srv.n_sessions++;
	return hs;
}

struct hsession *http_session_find(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	for (struct hsession *hs = http_srv.sessions; hs && n; hs = hs->next)
		if (!hs->dead && guard_equal(id, n, hs->id, strlen(hs->id)))
			return hs;
	return NULL;
}
