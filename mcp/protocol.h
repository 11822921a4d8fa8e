/* SPDX-License-Identifier: MIT */
#ifndef SMCP_MCP_PROTOCOL_H
#define SMCP_MCP_PROTOCOL_H

#define SMCP_PROTOCOL_LATEST "2025-11-25"

/* JSON-RPC 2.0 */
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
/* MCP */
#define MCP_RESOURCE_NOT_FOUND -32002
/* implementation-defined server error range (-32000..-32099) */
#define MCP_SERVER_BUSY -32000
/* the service refused this peer (not root, not in its group) */
#define MCP_ACCESS_DENIED -32001
/* the bridge lost the service a request was sent to */
#define MCP_SERVICE_GONE -32003
/* a bridge's first notification: its stdin and stdout come with it
 * (SCM_RIGHTS); the service serves the session on them */
#define MCP_HANDOFF_METHOD "notifications/schedmcp/handoff"

#endif
