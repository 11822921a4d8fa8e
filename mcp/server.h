/* SPDX-License-Identifier: MIT */
/* The MCP server: JSON-RPC 2.0 message handling and every MCP method, over
 * any transport that moves whole lines. The only code that builds JSON-RPC
 * error objects. */
#ifndef SMCP_MCP_SERVER_H
#define SMCP_MCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mcp_limits {
	size_t max_line_bytes;       /* longest accepted message */
	uint32_t max_pending;        /* requests in flight (answered later) */
	size_t max_result_bytes;     /* largest tool result / resource read sent */
	uint32_t max_subscriptions;  /* resources/subscribe entries */
	uint32_t page_size;          /* items per list page */
};

/* Send one message (without its newline). droppable: a notification that
 * may be dropped (and counted) when the client is not reading. Returns 0,
 * -ENOBUFS when dropped, or -EPIPE when the client is gone. */
typedef int (*mcp_send_fn)(void *transport, const char *line, size_t len, bool droppable);

int mcp_server_init(const struct mcp_limits *limits, const char *instructions_extra,
		    mcp_send_fn send, void *transport);
/* Handle one complete line (no newline). */
void mcp_server_handle_line(const char *line, size_t len);
/* A line longer than max_line_bytes arrived and was discarded. */
void mcp_server_line_too_long(size_t len);
/* Cancel what is in flight (no responses are sent) and release everything. */
void mcp_server_fini(void);

/* Counters for the plugin status resource and tests. */
struct mcp_stats {
	uint64_t requests, notifications, errors_sent, dropped_notifications;
	uint32_t pending, subscriptions;
};
void mcp_server_stats(struct mcp_stats *ret);
void mcp_server_count_dropped(void);

#endif
