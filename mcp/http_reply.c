/* SPDX-License-Identifier: MIT */
/* The HTTP transport's answers: JSON, SSE streams read from a session's
 * stream, errors; and what POST, GET and DELETE /mcp and GET /metrics do. */
#include <strings.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "../core/jbuf.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "http_guard.h"
#include "http_impl.h"
#include "protocol.h"

/* ------------------------------------------------------------ replies */

void http_hreq_unref(struct hreq *r)
{
	if (--r->refs)
		return;
	http_stream_detach(r);
	free(r->body);
	free(r);
}

enum MHD_Result http_queue(struct hreq *r, unsigned int status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	r->responded = true;
	ret = MHD_queue_response(r->mc, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct MHD_Response *http_text_response(const char *type, const char *body, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body,
								    MHD_RESPMEM_MUST_COPY);

	if (resp && type)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	return resp;
}

/* An HTTP error with a JSON-RPC error body (what MCP clients show). */
enum MHD_Result http_reply_error(struct hreq *r, unsigned int status, int code, const char *msg)
{
	char body[512];
	int n = snprintf(body, sizeof(body),
			 "{\"jsonrpc\":\"2.0\",\"id\":null,"
			 "\"error\":{\"code\":%d,\"message\":\"%s\"}}",
			 code, msg);
	struct MHD_Response *resp = http_text_response("application/json", body, (size_t)n);

	if (resp && status == MHD_HTTP_UNAUTHORIZED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Bearer realm=\"schedmcp\"");
	if (resp && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      r->kind == K_METRICS ? "GET" : "GET, POST, DELETE");
	if (resp && status == MHD_HTTP_SERVICE_UNAVAILABLE)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	r->kind = K_REFUSED;
	return http_queue(r, status, resp);
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
		http_resume(r);
	}
}

void http_hreq_unwatch(struct hreq *r)
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
		r->watched = loop_watch(r->hc->fd, EPOLLRDHUP, on_peer_hangup, r, &http_srv) == 0;
}

/* SSE: copy what is waiting into MHD's buffer; with nothing, suspend until
 * stream_push() resumes the connection. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	static const char ka[] = ": keepalive\n\n";
	struct hreq *r = cls;
	struct stream *st = r->st;
	size_t n = 0;

	http_hreq_unwatch(r);
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
		http_stream_delivered(st, e);
	}
	if (n) {
		http_stream_trim(st);
		r->last_write_ns = loop_now_ns();
		return (ssize_t)n;
	}
	if (r->keepalive && max >= sizeof(ka) - 1) {
		r->keepalive = false;
		r->last_write_ns = loop_now_ns();
		memcpy(buf, ka, sizeof(ka) - 1);
		return (ssize_t)(sizeof(ka) - 1);
	}
	if (!st->standalone && http_stream_finished(st, r->next_seq)) {
		/* the answer is out: the exchange is over */
		http_stream_free(st);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	hreq_suspend(r);
	return 0;
}

static void sse_free(void *cls)
{
	http_hreq_unref(cls);
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
	return http_queue(r, MHD_HTTP_OK, resp);
}

/* An exchange's first message is out: a lone answer goes as JSON, anything
 * before it makes the answer a stream. */
enum MHD_Result http_reply_exchange(struct hreq *r)
{
	struct stream *st = r->st;
	struct MHD_Response *resp;
	struct event *e;

	if (!st)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY,
					"the session ended");
	e = st->head;
	if (st->mode == M_UNDECIDED && e && e->response && !e->next) {
		resp = http_text_response("application/json", e->data + e->raw_off, e->raw_len);
		if (resp)
			add_session_header(r, resp);
		/* detached before it was ever streamed: that frees it */
		http_stream_detach(r);
		return http_queue(r, MHD_HTTP_OK, resp);
	}
	http_stream_to_sse(st);
	return reply_sse(r, st, 0);
}

/* ------------------------------------------------------------ /mcp */

const char *http_header(struct hreq *r, const char *name)
{
	return MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, name);
}

static bool accepts(struct hreq *r, const char *type)
{
	const char *a = http_header(r, MHD_HTTP_HEADER_ACCEPT);

	return !a || strstr(a, type) || strstr(a, "*/*");
}

enum MHD_Result http_mcp_post(struct hreq *r)
{
	const char *sid = http_header(r, "Mcp-Session-Id");
	const char *ver = http_header(r, "MCP-Protocol-Version");
	cJSON *m = cJSON_ParseWithLength(r->body ? r->body : "", r->body_len);
	const cJSON *method, *id, *meta;
	struct hsession *hs = NULL;
	struct stream *st;
	char *idtxt = NULL;
	enum MHD_Result ret;
	bool init;

	if (!m)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, JSONRPC_PARSE_ERROR,
				   "Parse error: the body must be one JSON-RPC message");
	if (!cJSON_IsObject(m)) {
		cJSON_Delete(m);
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, JSONRPC_INVALID_REQUEST,
				   "Invalid request: one JSON-RPC message per POST (no batches)");
	}
	method = cJSON_GetObjectItemCaseSensitive(m, "method");
	id = cJSON_GetObjectItemCaseSensitive(m, "id");
	init = cJSON_IsString(method) && !strcmp(method->valuestring, "initialize") && id;
	if (sid) {
		hs = http_session_find(sid);
		if (!hs) {
			cJSON_Delete(m);
			return http_reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY,
					   "no such session (it ended, or the service restarted): "
					   "initialize a new one");
		}
	} else if (!init) {
		cJSON_Delete(m);
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: the Mcp-Session-Id header is required");
	}
	if (ver && !init && !mcp_protocol_supported(ver)) {
		cJSON_Delete(m);
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: unsupported MCP-Protocol-Version");
	}
	if (!hs) {
		if (http_srv.n_sessions >= http_srv.o.max_sessions) {
			cJSON_Delete(m);
			log_private(SMCP_LOG_WARNING, "refused an http session from %s: %u "
				    "sessions are open (max_sessions)", r->hc->addr,
				    http_srv.n_sessions);
			return http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, MCP_SERVER_BUSY,
						"too many sessions are open (max_sessions); "
						"try again later");
		}
		hs = r->created = http_session_new(r->hc->addr);
		if (!hs) {
			cJSON_Delete(m);
			return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
						JSONRPC_INTERNAL_ERROR, "out of memory");
		}
	}
	hs->last_used_ns = loop_now_ns();
	if (!method || !id) {
		/* a notification or a client's answer: accepted, nothing to say */
		cJSON_Delete(m);
		mcp_session_handle_line(hs->s, r->body, r->body_len);
		return http_queue(r, MHD_HTTP_ACCEPTED, http_text_response(NULL, "", 0));
	}
	idtxt = http_json_text(id);
	if (hs->queued > http_srv.o.max_queue_bytes || hs->n_streams >= MAX_STREAMS ||
	    (idtxt && http_find_exchange(hs, idtxt))) {
		bool dup = idtxt && http_find_exchange(hs, idtxt);

		free(idtxt);
		cJSON_Delete(m);
		return dup ? http_reply_error(r, MHD_HTTP_CONFLICT, JSONRPC_INVALID_REQUEST,
					      "Invalid request: id is already in use by a "
					      "request in flight")
			   : http_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, MCP_SERVER_BUSY,
					 "this session has too much unread output or too many "
					 "requests in flight; read them first");
	}
	st = http_stream_new(hs, false);
	if (!st) {
		free(idtxt);
		cJSON_Delete(m);
		return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
				   "out of memory");
	}
	st->req_id = idtxt;
	meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "params"),
						"_meta");
	st->progress_token =
		http_json_text(cJSON_GetObjectItemCaseSensitive(meta, "progressToken"));
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
		ret = http_reply_exchange(r);
		http_session_free(hs);
		return ret;
	}
	if (r->created)
		log_private(SMCP_LOG_INFO, "http session %llu opened from %s",
			    (unsigned long long)mcp_session_no(hs->s), hs->addr);
	if (r->st && !r->st->head) {
		hreq_suspend(r);
		return MHD_YES;
	}
	return http_reply_exchange(r);
}

enum MHD_Result http_mcp_get(struct hreq *r)
{
	const char *sid = http_header(r, "Mcp-Session-Id"), *last = http_header(r, "Last-Event-ID");
	const char *ver = http_header(r, "MCP-Protocol-Version");
	struct hsession *hs;
	struct stream *st = NULL;
	unsigned long long seq = 0;
	unsigned int no;

	if (!accepts(r, "text/event-stream"))
		return http_reply_error(r, MHD_HTTP_NOT_ACCEPTABLE, MCP_SERVER_BUSY,
				   "Not Acceptable: GET /mcp answers text/event-stream");
	if (!sid)
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
				   "Bad Request: the Mcp-Session-Id header is required");
	hs = http_session_find(sid);
	if (!hs)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY, "no such session");
	if (ver && !mcp_protocol_supported(ver))
		return http_reply_error(r, MHD_HTTP_BAD_REQUEST, MCP_SERVER_BUSY,
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
		return http_reply_error(r, MHD_HTTP_CONFLICT, MCP_SERVER_BUSY,
				   "Conflict: this stream is already open on another request");
	return reply_sse(r, st, seq);
}

enum MHD_Result http_mcp_delete(struct hreq *r)
{
	struct hsession *hs = http_session_find(http_header(r, "Mcp-Session-Id"));

	if (!hs)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY, "no such session");
	http_session_free(hs);
	return http_queue(r, MHD_HTTP_NO_CONTENT, http_text_response(NULL, "", 0));
}

enum MHD_Result http_metrics_get(struct hreq *r)
{
	const char *a = http_header(r, MHD_HTTP_HEADER_ACCEPT);
	bool om = a && strstr(a, "application/openmetrics-text");
	struct MHD_Response *resp;
	struct jbuf b;
	int err;

	jbuf_init(&b, 64u << 20);
	err = http_srv.o.metrics(&b, om);
	if (err || b.err || jbuf_over(&b)) {
		jbuf_free(&b);
		return http_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, JSONRPC_INTERNAL_ERROR,
				   "cannot render the metrics");
	}
	resp = http_text_response(om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				: "text/plain; version=0.0.4; charset=utf-8",
			     b.p ? b.p : "", b.len);
	jbuf_free(&b);
	return http_queue(r, MHD_HTTP_OK, resp);
}
