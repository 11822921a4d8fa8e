/* SPDX-License-Identifier: MIT */
/*
 * The stdio bridge: what `schedmcp` (no arguments, what MCP clients start)
 * becomes when a service answers on its socket. Lines go both ways
 * unchanged (requests, responses, notifications, cancellation, the
 * service's own requests to the client); the bridge keeps the ids of the
 * client's requests in flight so that, if the service goes away, each of
 * them gets one error that says so instead of silence. Standard input
 * ending closes the session the way it ends an in-process server.
 */
#ifndef SMCP_MCP_BRIDGE_H
#define SMCP_MCP_BRIDGE_H

#include <stddef.h>

struct bridge_limits {
	size_t max_line_bytes;
	size_t max_queue_bytes;
};

/*
 * Ask the service at fd (a connected socket) whether it will serve us: one
 * ping, answered within timeout_ms. 0, or -errno with the service's own
 * reason (a refusal) or what went wrong in why.
 */
int bridge_probe(int fd, int timeout_ms, char *why, size_t why_len);

/* Bridge stdin/stdout and fd on the loop until either side ends. Returns
 * the exit status: 0 when the client ended the session, 1 when the
 * service went away. fd is closed. */
int bridge_run(int fd, const struct bridge_limits *lim);

#endif
