/* SPDX-License-Identifier: MIT */
/*
 * The stdio bridge: what `schedmcp` (no arguments, what MCP clients start)
 * becomes when a service answers on its socket. After a probe ping it hands
 * its stdin and stdout to the service (SCM_RIGHTS), which then reads the
 * client's requests and writes its answers itself: a bridged session costs
 * no extra hop. The bridge stays, so the client sees its server process
 * live as long as the session, and follows on the socket which requests
 * are in flight: if the service goes away, each of them gets one error
 * that says so instead of silence, and the bridge exits 1.
 */
#ifndef SMCP_MCP_BRIDGE_H
#define SMCP_MCP_BRIDGE_H

#include <stddef.h>

/*
 * Ask the service at fd (a connected socket) whether it will serve us: one
 * ping, answered within timeout_ms. 0, or -errno with the service's own
 * reason (a refusal) or what went wrong in why.
 */
int bridge_probe(int fd, int timeout_ms, char *why, size_t why_len);

/* Hand stdin/stdout to the service at fd (probed) and wait for the
 * session's end, or for stop_fd (a signalfd; -1: none) to be readable.
 * Returns the exit status: 0 when the session ended or a signal stopped
 * it, 1 when the service went away (or would not take it). fd is closed. */
int bridge_run(int fd, int stop_fd);

#endif
