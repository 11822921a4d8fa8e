/* SPDX-License-Identifier: MIT */
/* The stdio transport: one session on stdin/stdout (mcp/conn.h does the
 * framing and back-pressure). */
#include "stdio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "conn.h"
#include "server.h"

static struct {
	struct conn *conn;
	struct mcp_session *session;
} io;

static void on_line(void *ctx, const char *line, size_t len)
{
	mcp_session_handle_line(io.session, line, len);
}

static void on_too_long(void *ctx, size_t len)
{
	mcp_session_line_too_long(io.session, len);
}

static void on_closed(void *ctx, int err)
{
	if (err)
		log_warn("stdout closed by the client (%s); exiting", strerror(-err));
	loop_quit(0);
}

static const struct conn_ops ops = {
	.line = on_line,
	.too_long = on_too_long,
	.closed = on_closed,
};

/* -ENOBUFS (a refused notification) is counted by the server (msg_send) */
static int send_line(void *t, const char *line, size_t len, bool droppable)
{
	return conn_send(io.conn, line, len, droppable);
}

int stdio_transport_init(const struct stdio_limits *lim)
{
	const struct conn_limits cl = {
		.max_line_bytes = lim->max_line_bytes,
		.max_queue_bytes = lim->max_queue_bytes,
	};
	const struct mcp_peer peer = { .transport = "stdio" };

	io.session = mcp_session_new(send_line, NULL, &peer);
	if (!io.session)
		return -ENOMEM;
	io.conn = conn_new(STDIN_FILENO, STDOUT_FILENO, false, &cl, &ops, NULL);
	if (!io.conn) {
		mcp_session_free(io.session);
		io.session = NULL;
		return -errno;
	}
	return 0;
}

void stdio_transport_flush(int timeout_ms)
{
	if (io.conn)
		conn_flush(io.conn, timeout_ms);
}

void stdio_transport_fini(void)
{
	conn_free(io.conn);
	memset(&io, 0, sizeof(io));
}
