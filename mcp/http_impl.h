/* SPDX-License-Identifier: MIT */
/*
 * The inside of the HTTP transport, shared by its files (mcp/http.c says
 * what is where): the objects, the server's one state, and the functions
 * one file gives another. Everything here runs on the loop thread.
 */
#ifndef SMCP_MCP_HTTP_IMPL_H
#define SMCP_MCP_HTTP_IMPL_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
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

struct http_server {
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
};

extern struct http_server http_srv;

/* http.c: resume a suspended request and have MHD look at it soon (a
 * resumed connection is handled at MHD's next run, which its ITC wake-up
 * alone does not bring) */
void http_resume(struct hreq *r);

/* http_session.c: streams, events, sessions, where a message goes */
void http_stream_wake(struct stream *st);
void http_stream_free(struct stream *st);
struct stream *http_stream_new(struct hsession *hs, bool standalone);
void http_stream_to_sse(struct stream *st);
void http_stream_delivered(struct stream *st, struct event *e);
void http_stream_trim(struct stream *st);
bool http_stream_finished(const struct stream *st, uint64_t next_seq);
void http_stream_detach(struct hreq *r);
void http_session_free(struct hsession *hs);
struct hsession *http_session_new(const char *addr);
struct hsession *http_session_find(const char *id);
struct stream *http_find_exchange(struct hsession *hs, const char *id);
char *http_json_text(const cJSON *v);

/* http_reply.c: answers, SSE, POST/GET/DELETE /mcp, GET /metrics */
void http_hreq_unref(struct hreq *r);
void http_hreq_unwatch(struct hreq *r);
enum MHD_Result http_queue(struct hreq *r, unsigned int status, struct MHD_Response *resp);
struct MHD_Response *http_text_response(const char *type, const char *body, size_t len);
enum MHD_Result http_reply_error(struct hreq *r, unsigned int status, int code, const char *msg);
enum MHD_Result http_reply_exchange(struct hreq *r);
const char *http_header(struct hreq *r, const char *name);
enum MHD_Result http_mcp_post(struct hreq *r);
enum MHD_Result http_mcp_get(struct hreq *r);
enum MHD_Result http_mcp_delete(struct hreq *r);
enum MHD_Result http_metrics_get(struct hreq *r);

#endif
