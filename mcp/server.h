/* SPDX-License-Identifier: MIT */
/*
 * The MCP server: JSON-RPC 2.0 message handling and every MCP method, for
 * any number of sessions over any transport that moves whole lines. The
 * only code that builds JSON-RPC error objects.
 *
 * One server holds the shared state (limits, the registry it answers
 * from); each client is a session with its own negotiated revision,
 * capabilities, subscriptions, log level, requests in flight and counters.
 * A transport (stdio, the service's unix socket, HTTP) is a thin adapter:
 * it creates a session with a send function, hands it complete lines, and
 * frees it when the client goes (which cancels whatever it had in flight).
 */
#ifndef SMCP_MCP_SERVER_H
#define SMCP_MCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mcp_limits {
	size_t max_line_bytes;       /* longest accepted message */
	uint32_t max_pending;        /* requests in flight per session (answered later) */
	size_t max_result_bytes;     /* largest tool result / resource read sent */
	uint32_t max_subscriptions;  /* resources/subscribe entries per session */
	uint32_t page_size;          /* items per list page */
};

/* Send one message (without its newline). droppable: a notification that
 * may be dropped (and counted) when the client is not reading. Returns 0,
 * -ENOBUFS when dropped, or -EPIPE when the client is gone. */
typedef int (*mcp_send_fn)(void *transport, const char *line, size_t len, bool droppable);

/* Who is on the other end, for logs and the status resource. */
struct mcp_peer {
	const char *transport; /* static: "stdio", "unix", "http" */
	bool has_cred;	       /* uid/gid/pid are known (SO_PEERCRED) */
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

struct mcp_session;

int mcp_server_init(const struct mcp_limits *limits);
/* Cancel what every session has in flight (no responses are sent) and
 * free every session. */
void mcp_server_fini(void);

/* A new session; NULL when out of memory. The transport's send function is
 * called for every message to this client. */
struct mcp_session *mcp_session_new(mcp_send_fn send, void *transport, const struct mcp_peer *peer);
/* Handle one complete line (no newline). */
void mcp_session_handle_line(struct mcp_session *s, const char *line, size_t len);
/* A line longer than max_line_bytes arrived and was discarded. */
void mcp_session_line_too_long(struct mcp_session *s, size_t len);
/* The client is gone: cancel what it has in flight (no responses are
 * sent), drop its subscriptions, free the session. NULL is fine. */
void mcp_session_free(struct mcp_session *s);
uint64_t mcp_session_no(const struct mcp_session *s);

/* What a session's transport may want to follow: a request that will be
 * answered later (id: its JSON text), one that no longer will be (answered
 * or cancelled; said before the answer is written), initialize answered. */
enum mcp_session_event { MCP_EV_PENDING, MCP_EV_SETTLED, MCP_EV_INITIALIZED };
typedef void (*mcp_observer_fn)(void *ctx, enum mcp_session_event ev, const char *id_json);
void mcp_session_observe(struct mcp_session *s, mcp_observer_fn fn, void *ctx);

/* Counters for the plugin status resource and tests. */
struct mcp_stats {
	uint64_t requests, notifications, errors_sent, dropped_notifications;
	uint32_t pending, subscriptions;
};
/* A send function's -ENOBUFS is counted in dropped_notifications by the
 * server itself: a transport does not count it again. */
void mcp_session_stats(const struct mcp_session *s, struct mcp_stats *ret);

/* A protocol revision this server speaks ("2025-11-25", ...): what the HTTP
 * transport checks a MCP-Protocol-Version header against. */
bool mcp_protocol_supported(const char *version);

/* Sessions over the server's life. */
struct mcp_totals {
	uint64_t opened, closed;
	uint32_t open;
};
void mcp_server_totals(struct mcp_totals *ret);

#endif
