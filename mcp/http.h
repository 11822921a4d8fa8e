/* SPDX-License-Identifier: MIT */
/*
 * The service's Streamable HTTP transport (MCP 2025-11-25, with the
 * 2025-06-18 and 2025-03-26 behaviour), on libmicrohttpd, on the core's
 * one loop (docs/http.md).
 *
 * POST /mcp carries one JSON-RPC message. A request is answered with
 * application/json, or with a text/event-stream when something for it
 * (progress, a log line, a sampling or elicitation request) comes out
 * before its answer. GET /mcp opens the session's stream for what belongs
 * to no request. DELETE /mcp ends the session. The session is named by the
 * Mcp-Session-Id header the initialize answer carries; each one is an MCP
 * session of mcp/server.c with its own state, as a unix-socket session.
 * An SSE event's id is "STREAM-SEQ": a client that lost a stream sends
 * GET with Last-Event-ID and gets what it missed, from a replay buffer of
 * at most replay_bytes per stream.
 *
 * Who may connect: a request whose Origin is not an allowed one, or (when
 * listening on a loopback address) whose Host is not a loopback name, gets
 * 403 (DNS rebinding); one without a valid Authorization: Bearer token gets
 * 401 with WWW-Authenticate: Bearer, unless auth is off (loopback only,
 * logged at start). Tokens, paths and header values are never logged.
 *
 * Limits: connections in total and per address, body and header size, an
 * idle timeout and a request timeout (a request must arrive whole within
 * request_timeout_s of the connection or of the previous answer: a client
 * that trickles its headers is dropped). Each session's undelivered output
 * is bounded as a unix-socket session's (conn.h): notifications dropped
 * past half of max_queue_bytes, the session ended past twice it.
 *
 * Threads: none. libmicrohttpd runs in its "external epoll" mode: its
 * epoll fd is one watch of core/loop.c and MHD_run() is called from it and
 * from a 1 s tick, so every callback below runs on the loop thread.
 */
#ifndef SMCP_MCP_HTTP_H
#define SMCP_MCP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jbuf;

/* What GET /metrics answers: the text (Prometheus 0.0.4, or OpenMetrics
 * 1.0.0 when openmetrics) appended to b. Returns 0 or -errno. */
typedef int (*http_metrics_fn)(struct jbuf *b, bool openmetrics);

struct http_opts {
	const char *address; /* numeric IPv4 or IPv6 address to listen on */
	uint16_t port;
	const char *token_file; /* one token a line, root's (or ours), mode 0600/0400 */
	bool auth_none;		/* no token: allowed only when address is loopback */
	bool metrics_auth_none; /* GET /metrics without a token (scrapers on loopback) */
	const char *tls_cert, *tls_key; /* PEM files; both or neither */
	const char *allowed_origins;	/* comma/space list of "scheme://host[:port]" */
	uint32_t max_connections, max_per_address;
	size_t max_body_bytes, max_header_bytes;
	uint32_t idle_timeout_s, request_timeout_s, session_idle_s;
	size_t replay_bytes;	/* per stream, events kept for Last-Event-ID */
	size_t max_queue_bytes; /* per session, undelivered output */
	uint32_t max_sessions;
	http_metrics_fn metrics; /* NULL: no /metrics */
};

/* Whether this build has the transport (libmicrohttpd was found). */
bool http_available(void);

/*
 * Before the privilege drop: read the token file and the TLS files, bind the
 * listening socket. Returns 0, or -errno with the reason in why (never a
 * token); -ENOTSUP when this build has no HTTP transport.
 */
int http_listen(const struct http_opts *o, char *why, size_t why_len);
/* After it: serve on the loop. 0 or -errno. */
int http_serve(void);
/* End every session and connection, close the socket. Safe without
 * http_listen(). */
void http_close(void);

/* The port actually bound (opts port 0 picks one), 0 when not listening. */
uint16_t http_port(void);

#endif
