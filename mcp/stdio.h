/* SPDX-License-Identifier: MIT */
/* The stdio transport: one MCP session on stdin/stdout, newline-delimited,
 * with a bounded input line and a bounded output queue (mcp/conn.h). */
#ifndef SMCP_MCP_STDIO_H
#define SMCP_MCP_STDIO_H

#include <stddef.h>

struct stdio_limits {
	size_t max_line_bytes;
	size_t max_queue_bytes; /* notifications are dropped past half of this;
				   input pauses while the queue is above it */
};

/* A session on stdin/stdout. The loop quits (code 0) on stdin EOF once the
 * output queue is flushed, or when stdout is closed by the client. The
 * session itself is freed by mcp_server_fini(). */
int stdio_transport_init(const struct stdio_limits *lim);
/* Try to write what is queued, waiting at most timeout_ms. */
void stdio_transport_flush(int timeout_ms);
void stdio_transport_fini(void);

#endif
