/* SPDX-License-Identifier: MIT */
/* The stdio transport: newline-delimited messages on stdin/stdout with a
 * bounded input line and a bounded output queue. */
#ifndef SMCP_MCP_STDIO_H
#define SMCP_MCP_STDIO_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

struct stdio_limits {
	size_t max_line_bytes;
	size_t max_queue_bytes; /* notifications are dropped past half of this;
				   input pauses while the queue is above it */
};

/* Watch stdin/stdout on the loop; lines go to mcp_server_handle_line().
 * The loop quits (code 0) on stdin EOF once the output queue is flushed, or
 * when stdout is closed by the client. */
int stdio_transport_init(const struct stdio_limits *lim);
/* mcp_send_fn for the server. */
int stdio_transport_send(void *t, const char *line, size_t len, bool droppable);
/* Try to write what is queued, waiting at most timeout_ms. */
void stdio_transport_flush(int timeout_ms);
void stdio_transport_fini(void);
uint64_t stdio_transport_dropped(void);

#endif
