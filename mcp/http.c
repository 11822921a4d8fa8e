/* SPDX-License-Identifier: MIT */
/*
 * Streamable HTTP on libmicrohttpd (http.h says what it serves). The map:
 *
 *   hconn    one TCP connection (MHD's socket context): its address and the
 *            request clock that drops a client trickling a request;
 *   hreq     one HTTP request (MHD's con_cls), refcounted by the request
 *            and by the SSE response that reads from it;
 *   hsession one MCP session (Mcp-Session-Id) with its streams;
 *   stream   where messages wait for their client: a POST's exchange (the
 *            answer to one request, and what comes out for it first) or the
 *            session's standalone stream (GET). Events stay after delivery,
 *            up to replay_bytes, for a client that resumes with
 *            Last-Event-ID.
 *
 * A request whose answer is not ready is suspended (MHD_suspend_connection)
 * and resumed when an event reaches its stream; MHD's ITC wakes its epoll
 * fd, which is a watch of the core's loop, so all of this runs there.
 */
#include "http.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/jbuf.h"
#include "../core/log.h"
#include "../core/loop.h"
#include "http_guard.h"
#include "protocol.h"
#include "server.h"

#define MCP_PATH "/mcp"
#define METRICS_PATH "/metrics"
#define MAX_STREAMS 16	       /* per session: exchanges in flight and ones kept to resume */
#define KEEPALIVE_NS (15 * 1000000000ull) /* an SSE comment on a quiet stream */
#define STREAM_KEEP_NS (60 * 1000000000ull) /* a lost SSE exchange waits this long for GET */
#define SSE_RETRY_MS 1000
#define NS 1000000000ull

enum mode { M_UNDECIDED, M_JSON, M_SSE };

struct event {
	struct event *next;
	uint64_t seq;
	bool sent;	      /* handed to a client once */
	bool response;	      /* the exchange's answer */
	size_t len;	      /* of data: the whole SSE event */
	size_t raw_off, raw_len; /* the JSON message inside it */
	char data[];
};

struct hreq;
struct hsession;

struct stream {
	struct stream *next;
	struct hsession *hs;
	uint32_t no;	      /* event ids are "no-seq" */
	bool standalone;      /* the session's GET stream */
	char *req_id;	      /* an exchange: its request's id, as JSON text */
	char *progress_token; /* ... and params._meta.progressToken, as JSON text */
	bool sse_ok;	      /* its client accepts text/event-stream */
	bool priming;	      /* start an SSE answer with an id and retry (2025-11-25) */
	enum mode mode;
	bool done;	      /* its answer is queued */
	struct event *head, *tail;
	uint64_t next_seq;
	size_t unsent, kept;  /* bytes not yet delivered, delivered and kept */
	struct hreq *req;     /* the request it is delivered on, or NULL */
	uint64_t detached_ns;
};

struct hconn {
	struct hconn *next, *prev;
	int fd;
	uint64_t clock_ns; /* waiting for a whole request since; 0: not */
	struct hreq *cur;
	char addr[INET6_ADDRSTRLEN + 8];
};

enum kind { K_NEW, K_MCP_POST, K_MCP_GET, K_MCP_DELETE, K_METRICS, K_REFUSED };

struct hreq {
	int refs;
	struct MHD_Connection *mc;
	struct hconn *hc;
	enum kind kind;
	bool responded, suspended, too_big;
	bool dispatched; /* its handler ran: a later call is a resume */
	bool watched;	 /* its fd is watched for a hang-up while suspended */
	bool peer_gone;	 /* ... and the client hung up */
	char *body;
	size_t body_len, body_cap;
	struct stream *st;
	struct hsession *created; /* the session this initialize made */
	uint64_t next_seq;	  /* SSE: the next event to send */
	size_t off;		  /* bytes of it already sent */
	bool keepalive;
	uint64_t last_write_ns;
};

struct hsession {
	struct hsession *next, *prev;
	char id[33];
	struct mcp_session *s;
	struct mcp_peer peer;
	struct stream *streams; /* newest first */
	struct stream *standalone;
	struct stream *current; /* the exchange whose request is being handled */
	uint32_t n_streams, next_no;
	size_t queued;
	uint64_t last_used_ns;
	bool initialized;
	bool dead;
	char addr[INET6_ADDRSTRLEN + 8];
};

static struct {
	struct http_opts o;
	struct MHD_Daemon *d;
	int lfd;
	uint16_t port;
	char *tls_cert, *tls_key;
	struct hsession *sessions;
	uint32_t n_sessions;
	struct hconn *conns;
	int tick, kick, reap;
	uint64_t dropped_slow;
} h = { .lfd = -1 };

bool http_available(void)
{
	return true;
}

uint16_t http_port(void)
{
	return h.port;
}

/* ------------------------------------------------------------ streams */

static void stream_wake(struct stream *st)
{
	struct hreq *r = st->req;

	if (r && r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->mc);
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

static void stream_free(struct stream *st)
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
		stream_wake(st);
	}
	free(st->req_id);
	free(st->progress_token);
	free(st);
}

static struct stream *stream_new(struct hsession *hs, bool standalone)
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
	stream_wake(st);
}

/* An SSE answer begins with an event of no data that gives the client an
 * id to resume from and how long to wait before it does (SEP-1699). */
static void stream_to_sse(struct stream *st)
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
static void stream_delivered(struct stream *st, struct event *e)
{
	if (e->sent)
		return;
	e->sent = true;
	st->unsent -= e->len;
	st->hs->queued -= e->len;
	st->kept += e->len;
}

static void stream_trim(struct stream *st)
{
	while (st->kept > h.o.replay_bytes && st->head && st->head->sent) {
		struct event *e = st->head;

		st->head = e->next;
		if (!st->head)
			st->tail = NULL;
		event_drop(st, e);
	}
}

static bool stream_finished(const struct stream *st, uint64_t next_seq)
{
	return st->done && (!st->tail || st->tail->seq < next_seq);
}

/* The request went away (answered, or its client closed). */
static void stream_detach(struct hreq *r)
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
		stream_free(st);
}

/* ----------------------------------------------------------- sessions */

static void reap(void *data);

static void session_free(struct hsession *hs)
{
	if (hs->prev)
		hs->prev->next = hs->next;
	else
		h.sessions = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	h.n_sessions--;
	hs->dead = true;
	if (hs->initialized)
		log_private(SMCP_LOG_INFO, "http session %llu from %s closed",
			    (unsigned long long)mcp_session_no(hs->s), hs->addr);
	/* its calls are cancelled, no answers are sent */
	mcp_session_free(hs->s);
	while (hs->streams)
		stream_free(hs->streams);
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
	if (!h.reap) {
		h.reap = loop_timer_add(1, false, reap, NULL, &h);
		if (h.reap < 0)
			h.reap = 0;
	}
}

static void reap(void *data)
{
	struct hsession *hs = h.sessions, *next;

	h.reap = 0;
	for (; hs; hs = next) {
		next = hs->next;
		if (hs->dead)
			session_free(hs);
	}
}

static struct stream *find_exchange(struct hsession *hs, const char *id)
{
	for (struct stream *st = hs->streams; st; st = st->next)
		if (st->req_id && !st->done && strcmp(st->req_id, id) == 0)
			return st;
	return NULL;
}

static struct stream *find_token(struct hsession *hs, const char *tok)
{
	for (struct stream *st = hs->streams; st; st = st->next)
		if (st->progress_token && !st->done && st->sse_ok && !strcmp(st->progress_token, tok))
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

static char *json_text(const cJSON *v)
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
		txt = json_text(id);
		st = txt ? find_exchange(hs, txt) : NULL;
		/* an error about a request whose id could not be read */
		if (!st && cJSON_IsNull(id) && hs->current && !hs->current->done)
			st = hs->current;
		free(txt);
		cJSON_Delete(m);
		return st;
	}
	params = cJSON_GetObjectItemCaseSensitive(m, "params");
	if (cJSON_IsString(method) && !strcmp(method->valuestring, "notifications/progress")) {
		txt = json_text(cJSON_GetObjectItemCaseSensitive(params, "progressToken"));
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
	if (droppable && hs->queued > h.o.max_queue_bytes / 2) {
		mcp_session_count_dropped(hs->s);
		return -ENOBUFS;
	}
	st = route(hs, line, len, &response);
	if (!st) {
		/* its request's client went away before the answer */
		log_debug("http session %llu: an answer for a request no one waits for dropped",
			  (unsigned long long)mcp_session_no(hs->s));
		return 0;
	}
	if (st->standalone && !st->req && droppable) {
		/* no GET stream: nobody would read it */
		mcp_session_count_dropped(hs->s);
		return -ENOBUFS;
	}
	e = event_new(st, st->next_seq++, line, len);
	if (!e) {
		mcp_session_count_dropped(hs->s);
		return -ENOBUFS;
	}
	e->response = response;
	if (response)
		st->done = true;
	stream_push(st, e);
	if (hs->queued > 2 * h.o.max_queue_bytes)
		session_doom(hs, "it did not read its answers (output past twice max_output_queue_bytes)");
	return 0;
}

static void session_observe(void *ctx, enum mcp_session_event ev, const char *id)
{
	struct hsession *hs = ctx;

	if (ev == MCP_EV_INITIALIZED)
		hs->initialized = true;
}

static struct hsession *session_new(const char *addr)
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
	hs->standalone = hs->s ? stream_new(hs, true) : NULL;
	if (!hs->standalone) {
		mcp_session_free(hs->s);
		free(hs);
		return NULL;
	}
	mcp_session_observe(hs->s, session_observe, hs);
	hs->last_used_ns = loop_now_ns();
	hs->next = h.sessions;
	if (h.sessions)
		h.sessions->prev = hs;
	h.sessions = hs;
	h.n_sessions++;
	return hs;
}

static struct hsession *session_find(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	for (struct hsession *hs = h.sessions; hs && n; hs = hs->next)
		if (!hs->dead && guard_equal(id, n, hs->id, strlen(hs->id)))
			return hs;
	return NULL;
}

/* ------------------------------------------------------------ replies */

static void hreq_unref(struct hreq *r)
{
	if (--r->refs)
		return;
	stream_detach(r);
	free(r->body);
	free(r);
}

static enum MHD_Result queue(struct hreq *r, unsigned int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	r->responded = true;
	ret = MHD_queue_response(r->mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct MHD_Response *text_response(const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
								    MHD_RESPMEM_MUST_COPY);

	if (resp && type)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return resp;
}

/* An HTTP error with a JSON-RPC error body (what MCP clients show). */
static enum MHD_Result reply_error(struct hreq *r, unsigned int status, int code, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}",
			 code, msg);
	struct MHD_Response *resp = text_response("application/json", body, (size_t)n);

	if (resp && status == MHD_HTTP_UNAUTHORIZED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Bearer realm=\"schedmcp\"");
	if (resp && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      r->kind == K_METRICS ? "GET" : "GET, POST, DELETE");
	if (resp && status == MHD_HTTP_SERVICE_UNAVAILABLE)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	r->kind = K_REFUSED;
	return queue(r, status, resp);
}

/* A suspended connection is not polled by MHD, so a client that goes away
 * would hold it until the next keep-alive write: the loop watches its fd
 * for the peer's hang-up meanwhile, and resumes it to be closed. */
static void on_peer_hangup(void *data, int fd, uint32_t revents)
{
	struct hreq *r = data;

	(void)loop_unwatch(fd);
	r->watched = false;
	r->peer_gone = true;
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->mc);
	}
}

static void hreq_unwatch(struct hreq *r)
{
	if (r->watched && r->hc)
		(void)loop_unwatch(r->hc->fd);
	r->watched = false;
}

static void hreq_suspend(struct hreq *r)
{
	r->suspended = true;
	MHD_suspend_connection(r->mc);
	if (!r->watched && r->hc && r->hc->fd >= 0)
		r->watched = loop_watch(r->hc->fd, EPOLLRDHUP, on_peer_hangup, r, &h) == 0;
}

/* SSE: copy what is waiting into MHD's buffer; with nothing, suspend until
 * stream_push() resumes the connection. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	static const char ka[] = ": keepalive\n\n";
	struct hreq *r = cls;
	struct stream *st = r->st;
	size_t n = 0;

	hreq_unwatch(r);
	if (r->peer_gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (!st)
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (struct event *e = st->head; e && n < max; e = e->next) {
		size_t k;

		if (e->seq < r->next_seq)
			continue;
		k = e->len - r->off < max - n ? e->len - r->off : max - n;
		memcpy(buf + n, e->data + r->off, k);
		n += k;
		r->off += k;
		if (r->off < e->len)
			break;
		r->off = 0;
		r->next_seq = e->seq + 1;
		stream_delivered(st, e);
	}
	if (n) {
		stream_trim(st);
		r->last_write_ns = loop_now_ns();
		return (ssize_t)n;
	}
	if (r->keepalive && max >= sizeof(ka) - 1) {
		r->keepalive = false;
		r->last_write_ns = loop_now_ns();
		memcpy(buf, ka, sizeof(ka) - 1);
		return (ssize_t)(sizeof(ka) - 1);
	}
	if (!st->standalone && stream_finished(st, r->next_seq)) {
		/* the answer is out: the exchange is over */
		stream_free(st);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	hreq_suspend(r);
	return 0;
}

static void sse_free(void *cls)
{
	hreq_unref(cls);
}

static void add_session_header(struct hreq *r, struct MHD_Response *resp)
{
	if (r->created)
		(void)MHD_add_response_header(resp, "Mcp-Session-Id", r->created->id);
}

static enum MHD_Result reply_sse(struct hreq *r, struct stream *st, uint64_t from)
{
	struct MHD_Response *resp;

	st->req = r;
	r->st = st;
	r->next_seq = from;
	r->off = 0;
	r->last_write_ns = loop_now_ns();
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, r, sse_free);
	if (!resp)
		return MHD_NO;
	r->refs++;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	add_session_header(r, resp);
	return queue(r, MHD_HTTP_OK, resp);
}

/* An exchange's first message is out: a lone answer goes as JSON, anything
 * before it makes the answer a stream. */
static enum MHD_Result reply_exchange(struct hreq *r)
{
	struct stream *st = r->st;
	struct MHD_Response *resp;
	struct event *e;

	if (!st)
		return reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY, "the session ended");
	e = st->head;
	if (st->mode == M_UNDECIDED && e && e->response && !e->next) {
		resp = text_response("application/json", e->data + e->raw_off, e->raw_len);
		if (resp)
			add_session_header(r, resp);
		/* detached before it was ever streamed: that frees it */
		stream_detach(r);
		return queue(r, MHD_HTTP_OK, resp);
	}
	stream_to_sse(st);
	return reply_sse(r, st, 0);
}

/* ------------------------------------------------------------ /mcp */

static const char *header(struct hreq *r, const char *name)
{
	return MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, name);
}

static bool accepts(struct hreq *r, const char *type)
{
	const char *a = header(r, MHD_HTTP_HEADER_ACCEPT);

	return !a || strstr(a, type) || strstr(a, "*/*");
}

static enum MHD_Result mcp_post(struct hreq *r)
{
	const char *sid = header(r, "Mcp-Session-Id");
	const char *ver = header(r, "MCP-Protocol-Version");
	cJSON *m = cJSON_ParseWithLength(r->body ? r->body : "", r->body_len);
	const cJSON *method, *id, *meta;
	struct hsession *hs = NULL;
	struct stream *st;
	char *idtxt = NULL;
	enum MHD_Result ret;
	bool init;

	if (!m)
		return reply_error(r, MHD_HTTP_BAD_REQUEST, JSONRPC_PARSE_ERROR,
				   "Parse error: the body must be one JSON-RPC message");
	if (!cJSON_IsObject(m)) {
		cJSON_Delete(m);
		return reply_error(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
				   "Invalid request: one JSON-RPC message per POST (no batches)");
	}
	method = cJSON_GetObjectItemCaseSensitive(m, "method");
	id = cJSON_GetObjectItemCaseSensitive(m, "id");
	init = cJSON_IsString(method) && !strcmp(method->valuestring, "initialize") && id;
	if (sid) {
		hs = session_find(sid);
		if (!hs) {
			cJSON_Delete(m);
			return reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY,
					   "no such session (it ended, or the service restarted): "
					   "initialize a new one");
		}
	} else if (!init) {
		cJSON_Delete(m);
		return reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: the Mcp-Session-Id header is required");
	}
	if (ver && !init && !mcp_protocol_supported(ver)) {
		cJSON_Delete(m);
		return reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: unsupported MCP-Protocol-Version");
	}
	if (!hs) {
		if (h.n_sessions >= h.o.max_sessions) {
			cJSON_Delete(m);
			log_private(SMCP_LOG_WARNING, "refused an http session from %s: %u sessions "
				    "are open (max_sessions)", r->hc->addr, h.n_sessions);
			return reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, MCP_SERVER_BUSY,
					   "too many sessions are open (max_sessions); try again later");
		}
		hs = r->created = session_new(r->hc->addr);
		if (!hs) {
			cJSON_Delete(m);
			return reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
					   "out of memory");
		}
	}
	hs->last_used_ns = loop_now_ns();
	if (!method || !id) {
		/* a notification or a client's answer: accepted, nothing to say */
		cJSON_Delete(m);
		mcp_session_handle_line(hs->s, r->body, r->body_len);
		return queue(r, MHD_HTTP_ACCEPTED, text_response(NULL, "", 0));
	}
	idtxt = json_text(id);
	if (hs->queued > h.o.max_queue_bytes || hs->n_streams >= MAX_STREAMS ||
	    (idtxt && find_exchange(hs, idtxt))) {
		bool dup = idtxt && find_exchange(hs, idtxt);

		free(idtxt);
		cJSON_Delete(m);
		return dup ? reply_error(r, MHD_HTTP_CONFLICT, JSONRPC_INVALID_REQUEST,
					 "Invalid request: id is already in use by a request in flight")
			   : reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, MCP_SERVER_BUSY,
					 "this session has too much unread output or too many "
					 "requests in flight; read them first");
	}
	st = stream_new(hs, false);
	if (!st) {
		free(idtxt);
		cJSON_Delete(m);
		return reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
				   "out of memory");
	}
	st->req_id = idtxt;
	meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "params"),
						"_meta");
	st->progress_token = json_text(cJSON_GetObjectItemCaseSensitive(meta, "progressToken"));
	st->sse_ok = accepts(r, "text/event-stream");
	/* 2025-11-25 clients know the priming event; older ones may not */
	st->priming = !ver || strcmp(ver, "2025-11-25") >= 0;
	if (init) {
		const cJSON *pv = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(m, "params"), "protocolVersion");

		st->priming = cJSON_IsString(pv) && strcmp(pv->valuestring, "2025-11-25") >= 0;
	}
	cJSON_Delete(m);
	st->req = r;
	r->st = st;
	hs->current = st;
	mcp_session_handle_line(hs->s, r->body, r->body_len);
	if (hs->current == st)
		hs->current = NULL;
	if (r->created && !hs->initialized) {
		/* a failed initialize leaves no session behind */
		r->created = NULL;
		ret = reply_exchange(r);
		session_free(hs);
		return ret;
	}
	if (r->st && !r->st->head) {
		hreq_suspend(r);
		return MHD_YES;
	}
	return reply_exchange(r);
}

static enum MHD_Result mcp_get(struct hreq *r)
{
	const char *sid = header(r, "Mcp-Session-Id"), *last = header(r, "Last-Event-ID");
	const char *ver = header(r, "MCP-Protocol-Version");
	struct hsession *hs;
	struct stream *st = NULL;
	unsigned long long seq = 0;
	unsigned int no;

	if (!accepts(r, "text/event-stream"))
		return reply_error(r, MHD_HTTP_NOT_ACCEPTABLE, MCP_SERVER_BUSY,
				   "Not Acceptable: GET /mcp answers text/event-stream");
	if (!sid)
		return reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: the Mcp-Session-Id header is required");
	hs = session_find(sid);
	if (!hs)
		return reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY, "no such session");
	if (ver && !mcp_protocol_supported(ver))
		return reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: unsupported MCP-Protocol-Version");
	hs->last_used_ns = loop_now_ns();
	if (last && sscanf(last, "%u-%llu", &no, &seq) == 2) {
		for (st = hs->streams; st && st->no != no; st = st->next)
			;
	}
	if (!st) {
		st = hs->standalone;
		seq = 0;
	} else {
		seq++; /* what comes after the last one it saw */
	}
	if (st->req)
		return reply_error(r, MHD_HTTP_CONFLICT, MCP_SERVER_BUSY,
				   "Conflict: this stream is already open on another request");
	return reply_sse(r, st, seq);
}

static enum MHD_Result mcp_delete(struct hreq *r)
{
	struct hsession *hs = session_find(header(r, "Mcp-Session-Id"));

	if (!hs)
		return reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY, "no such session");
	session_free(hs);
	return queue(r, MHD_HTTP_NO_CONTENT, text_response(NULL, "", 0));
}

static enum MHD_Result metrics_get(struct hreq *r)
{
	const char *a = header(r, MHD_HTTP_HEADER_ACCEPT);
	bool om = a && strstr(a, "application/openmetrics-text");
	struct MHD_Response *resp;
	struct jbuf b;
	int err;

	jbuf_init(&b, 64u << 20);
	err = h.o.metrics(&b, om);
	if (err || b.err || jbuf_over(&b)) {
		jbuf_free(&b);
		return reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
				   "cannot render the metrics");
	}
	resp = text_response(om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				: "text/plain; version=0.0.4; charset=utf-8",
			     b.p ? b.p : "", b.len);
	jbuf_free(&b);
	return queue(r, MHD_HTTP_OK, resp);
}

/* ------------------------------------------------------- the handler */

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* The request's headers as sent (name: value CRLF), give or take spaces:
 * MHD's memory pool bounds them too, but only roughly (it holds the
 * reading buffer and the answer's headers as well). */
static size_t header_bytes(struct hreq *r)
{
	size_t n = 0;

	(void)MHD_get_connection_values(r->mc, MHD_HEADER_KIND, count_header, &n);
	return n;
}

/* The checks every request passes before its body is read: a refusal is
 * queued at once, so a refused body is never stored. */
static enum MHD_Result admit(struct hreq *r, const char *url, const char *method)
{
	const char *cl = header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	bool metrics = !strcmp(url, METRICS_PATH) && h.o.metrics;

	if (strcmp(url, MCP_PATH) != 0 && !metrics)
		return reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY,
				   "Not Found: MCP is served at /mcp");
	/* DNS rebinding: a page elsewhere must not reach a loopback service */
	if (!guard_origin_ok(header(r, MHD_HTTP_HEADER_ORIGIN)) ||
	    (guard_address_loopback(h.o.address) && header(r, MHD_HTTP_HEADER_HOST) &&
	     !guard_host_loopback(header(r, MHD_HTTP_HEADER_HOST))))
		return reply_error(r, MHD_HTTP_FORBIDDEN, MCP_ACCESS_DENIED,
				   "Forbidden: Origin or Host not allowed");
	if (guard_has_tokens() && !(metrics && h.o.metrics_auth_none) &&
	    !guard_bearer_ok(header(r, MHD_HTTP_HEADER_AUTHORIZATION)))
		return reply_error(r, MHD_HTTP_UNAUTHORIZED, MCP_ACCESS_DENIED,
				   "Unauthorized: a valid Authorization: Bearer token is required");
	if (metrics) {
		r->kind = K_METRICS;
		if (strcmp(method, "GET") != 0)
			return reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, MCP_SERVER_BUSY,
					   "Method Not Allowed");
	} else if (!strcmp(method, "POST")) {
		r->kind = K_MCP_POST;
	} else if (!strcmp(method, "GET")) {
		r->kind = K_MCP_GET;
	} else if (!strcmp(method, "DELETE")) {
		r->kind = K_MCP_DELETE;
	} else {
		return reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, MCP_SERVER_BUSY,
				   "Method Not Allowed");
	}
	if (header_bytes(r) > h.o.max_header_bytes)
		return reply_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, MCP_SERVER_BUSY,
				   "Request Header Fields Too Large: over http_max_header_bytes");
	if (cl && strtoull(cl, NULL, 10) > h.o.max_body_bytes)
		return reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MCP_SERVER_BUSY,
				   "Content Too Large: the body is over http_max_body_bytes");
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct hreq *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->refs = 1;
		r->mc = mc;
		r->hc = ci ? ci->socket_context : NULL;
		if (!r->hc)
			return MHD_NO;
		r->hc->cur = r;
		*con_cls = r;
		return admit(r, url, method);
	}
	if (r->responded) {
		*upload_size = 0; /* the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (r->too_big || r->body_len + n > h.o.max_body_bytes) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = (r->body_len + n + 1) * 2;
			char *nb;

			if (cap > h.o.max_body_bytes + 1)
				cap = h.o.max_body_bytes + 1;
			nb = realloc(r->body, cap);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}
	/* the whole request is in: no longer on the request clock */
	r->hc->clock_ns = 0;
	if (r->too_big)
		return reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MCP_SERVER_BUSY,
				   "Content Too Large: the body is over http_max_body_bytes");
	hreq_unwatch(r);
	if (r->peer_gone)
		return MHD_NO; /* closes the connection */
	if (r->dispatched) /* resumed: its exchange has something to send, or ended */
		return reply_exchange(r);
	r->dispatched = true;
	switch (r->kind) {
	case K_MCP_POST:
		return mcp_post(r);
	case K_MCP_GET:
		return mcp_get(r);
	case K_MCP_DELETE:
		return mcp_delete(r);
	case K_METRICS:
		return metrics_get(r);
	default:
		return MHD_NO;
	}
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct hreq *r = *con_cls;

	if (!r)
		return;
	*con_cls = NULL;
	hreq_unwatch(r);
	if (r->hc) {
		if (r->hc->cur == r)
			r->hc->cur = NULL;
		/* keep-alive: the next request must come whole in time too */
		r->hc->clock_ns = loop_now_ns();
	}
	r->hc = NULL;
	stream_detach(r);
	hreq_unref(r);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hconn *hc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		hc = calloc(1, sizeof(*hc));
		if (!hc)
			return;
		hc->fd = fi ? fi->connect_fd : -1;
		hc->clock_ns = loop_now_ns();
		if (ai && ai->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->client_addr)->sin_addr,
				  hc->addr, sizeof(hc->addr));
		else if (ai && ai->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->client_addr)->sin6_addr,
				  hc->addr, sizeof(hc->addr));
		else
			snprintf(hc->addr, sizeof(hc->addr), "?");
		hc->next = h.conns;
		if (h.conns)
			h.conns->prev = hc;
		h.conns = hc;
		*socket_context = hc;
		return;
	}
	if (!hc)
		return;
	if (hc->prev)
		hc->prev->next = hc->next;
	else
		h.conns = hc->next;
	if (hc->next)
		hc->next->prev = hc->prev;
	if (hc->cur) {
		hreq_unwatch(hc->cur);
		hc->cur->hc = NULL;
	}
	free(hc);
	*socket_context = NULL;
}

/* libmicrohttpd's messages can quote what a client sent: only their
 * format, without the values, reaches the log (at debug). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	snprintf(line, sizeof(line), "%s", fmt);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("http: %s", line);
}

/* --------------------------------------------------------- the loop */

static void run(void);

static void kick(void *data)
{
	h.kick = 0;
	run();
}

static void run(void)
{
	MHD_UNSIGNED_LONG_LONG t;

	/* work MHD wants done before its fd says so (the next pipelined request
	 * already read, a resumed connection, a TLS record): at once, a bounded
	 * number of rounds so the loop's other work is not starved, then soon */
	for (int i = 0; i < 64; i++) {
		(void)MHD_run(h.d);
		if (MHD_get_timeout(h.d, &t) != MHD_YES || t != 0)
			break;
	}
	if (!h.kick && MHD_get_timeout(h.d, &t) == MHD_YES && t < 1000) {
		h.kick = loop_timer_add(t ? t : 1, false, kick, NULL, &h);
		if (h.kick < 0)
			h.kick = 0;
	}
}

static void on_epoll(void *data, int fd, uint32_t revents)
{
	run();
}

static void tick(void *data)
{
	uint64_t now = loop_now_ns();
	struct hsession *hs, *next;

	for (struct hconn *hc = h.conns; hc; hc = hc->next) {
		if (!hc->clock_ns || now - hc->clock_ns < (uint64_t)h.o.request_timeout_s * NS)
			continue;
		/* a request trickling in (slowloris): MHD's idle timeout would
		 * not fire while bytes arrive; shutting the socket makes MHD
		 * close it at its next read */
		hc->clock_ns = 0;
		h.dropped_slow++;
		log_private(SMCP_LOG_INFO, "http: dropped a connection from %s: no whole request "
			    "within %u s", hc->addr, h.o.request_timeout_s);
		if (hc->fd >= 0)
			(void)shutdown(hc->fd, SHUT_RDWR);
	}
	for (hs = h.sessions; hs; hs = next) {
		bool attached = false;
		struct stream *st, *sn;

		next = hs->next;
		for (st = hs->streams; st; st = sn) {
			sn = st->next;
			if (st->req) {
				attached = true;
				if (st->mode == M_SSE && now - st->req->last_write_ns > KEEPALIVE_NS) {
					st->req->keepalive = true;
					stream_wake(st);
				}
			} else if (!st->standalone && st->mode == M_SSE &&
				   now - st->detached_ns > STREAM_KEEP_NS) {
				stream_free(st);
			}
		}
		if (!attached && now - hs->last_used_ns > (uint64_t)h.o.session_idle_s * NS) {
			log_private(SMCP_LOG_INFO, "http session %llu from %s: idle for %u s",
				    (unsigned long long)mcp_session_no(hs->s), hs->addr, h.o.session_idle_s);
			session_free(hs);
		}
	}
	run();
}

/* ------------------------------------------------------------ set-up */

static int bind_socket(const char *address, uint16_t port, char *why, size_t len)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr *sa;
	socklen_t sl;
	int fd, one = 1, err;

	if (inet_pton(AF_INET, address, &a4.sin_addr) == 1) {
		sa = (struct sockaddr *)&a4;
		sl = sizeof(a4);
	} else if (inet_pton(AF_INET6, address, &a6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&a6;
		sl = sizeof(a6);
	} else {
		snprintf(why, len, "http_address '%s' is not a numeric IPv4 or IPv6 address",
			 address);
		return -EINVAL;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, sl) < 0 || listen(fd, 128) < 0) {
		err = -errno;
		snprintf(why, len, "%s port %u: %s", address, (unsigned)port, strerror(errno));
		close(fd);
		return err;
	}
	if (getsockname(fd, sa, &sl) == 0)
		h.port = ntohs(sa->sa_family == AF_INET ? a4.sin_port : a6.sin6_port);
	h.lfd = fd;
	return 0;
}

int http_listen(const struct http_opts *o, char *why, size_t why_len)
{
	int err;

	h.o = *o;
	snprintf(why, why_len, "?");
	if (!o->auth_none && !o->token_file) {
		snprintf(why, why_len, "http_token_file is not set: clients could not be told from "
			 "strangers (set it, or http_auth = none on a loopback address)");
		return -EINVAL;
	}
	if (o->auth_none && !guard_address_loopback(o->address)) {
		snprintf(why, why_len, "http_auth = none is allowed on a loopback address only, "
			 "not on %s", o->address);
		return -EPERM;
	}
	if (!o->tls_cert != !o->tls_key) {
		snprintf(why, why_len, "TLS needs both http_tls_cert and http_tls_key");
		return -EINVAL;
	}
	if (o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(why, why_len, "this libmicrohttpd was built without TLS");
		return -ENOTSUP;
	}
	if (!o->auth_none) {
		err = guard_load_tokens(o->token_file, geteuid(), why, why_len);
		if (err < 0)
			goto fail;
	}
	err = guard_set_origins(o->allowed_origins);
	if (err) {
		snprintf(why, why_len, "http_allowed_origins: more than 32 origins");
		goto fail;
	}
	if (o->tls_cert) {
		char w[200];

		err = guard_read_file(o->tls_cert, 1 << 20, &h.tls_cert, w, sizeof(w));
		if (!err)
			err = guard_read_file(o->tls_key, 1 << 20, &h.tls_key, w, sizeof(w));
		if (err) {
			snprintf(why, why_len, "TLS %s: %s",
				 h.tls_cert ? "key (http_tls_key)" : "certificate (http_tls_cert)", w);
			goto fail;
		}
	}
	err = bind_socket(o->address, o->port, why, why_len);
	if (err)
		goto fail;
	return 0;
fail:
	http_close();
	return err;
}

int http_serve(void)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	int err;

	if (h.tls_cert)
		flags |= MHD_USE_TLS;
	/* without TLS the option list ends before the key and certificate */
	h.d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		/* first, or MHD prints its own messages before it reads it */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, h.lfd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h.o.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)h.o.max_per_address,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h.o.idle_timeout_s,
		/* the request line and headers live in this per-connection pool */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)h.o.max_header_bytes + 8192,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, NULL, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1, h.tls_cert ? MHD_OPTION_HTTPS_MEM_CERT
								: MHD_OPTION_END,
		h.tls_cert, MHD_OPTION_HTTPS_MEM_KEY, h.tls_key, MHD_OPTION_END);
	if (!h.d) {
		log_err("http: libmicrohttpd did not start (see the debug log)");
		return -EIO;
	}
	h.lfd = -1; /* MHD's now */
	di = MHD_get_daemon_info(h.d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di)
		return -EIO;
	err = loop_watch(di->epoll_fd, EPOLLIN, on_epoll, NULL, &h);
	if (!err) {
		h.tick = loop_timer_add(1000, true, tick, NULL, &h);
		err = h.tick < 0 ? h.tick : 0;
	}
	if (err)
		return err;
	log_info("serving MCP over HTTP%s on %s port %u (%s)", h.tls_cert ? "S" : "",
		 h.o.address, (unsigned)h.port,
		 guard_has_tokens() ? "bearer tokens required"
				    : "NO AUTHENTICATION: http_auth = none, loopback only");
	return 0;
}

void http_close(void)
{
	while (h.sessions)
		session_free(h.sessions);
	if (h.d) {
		/* MHD will not stop with connections suspended */
		for (struct hconn *hc = h.conns; hc; hc = hc->next) {
			if (hc->cur && hc->cur->suspended) {
				hc->cur->suspended = false;
				MHD_resume_connection(hc->cur->mc);
			}
		}
		MHD_stop_daemon(h.d);
	}
	loop_remove_owner(&h);
	if (h.lfd >= 0)
		close(h.lfd);
	if (h.tls_key)
		explicit_bzero(h.tls_key, strlen(h.tls_key));
	free(h.tls_key);
	free(h.tls_cert);
	guard_free();
	memset(&h, 0, sizeof(h));
	h.lfd = -1;
}
