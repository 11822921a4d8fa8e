/* SPDX-License-Identifier: MIT */
/*
 * A line-framed connection on the loop: newline-delimited messages read
 * from one fd and written to another (stdin/stdout) or the same (a unix
 * socket). Bounded input line, bounded output queue, back-pressure. Every
 * MCP transport that moves lines (stdio, the service's unix socket, a
 * bridge's handed-over stdio) is one of these plus a few lines of wiring.
 *
 * Output: messages go through one queue in order. Past half of
 * max_queue_bytes droppable messages (notifications) are refused with
 * -ENOBUFS and counted; past all of it the connection stops reading input
 * until the peer reads (a peer that never reads cannot grow our memory by
 * sending more). With stall_ms set, a connection whose queue stays over
 * max_queue_bytes that long, or grows past twice it, is closed (ETIMEDOUT /
 * ENOBUFS): the policy for service sessions, which must not hold memory
 * for a client that went away without closing.
 */
#ifndef SMCP_MCP_CONN_H
#define SMCP_MCP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

struct conn_limits {
	size_t max_line_bytes;
	size_t max_queue_bytes;
	uint32_t stall_ms; /* 0: never close for a full queue (stdio) */
};

struct conn_ops {
	/* One complete line (without its newline). */
	void (*line)(void *ctx, const char *line, size_t len);
	/* A line longer than max_line_bytes was discarded (len: at least). */
	void (*too_long)(void *ctx, size_t len);
	/* The connection is over: err 0 when the input ended and everything
	 * before it was handled and written, else -errno (the peer closed its
	 * reading end, a read failed, the queue stalled). Called once; the
	 * owner frees the connection (not from inside this callback's caller
	 * chain: defer it, e.g. with a 0 ms timer or a flag). */
	void (*closed)(void *ctx, int err);
};

/* Watch in_fd/out_fd (made non-blocking; not closed by the conn unless
 * owns_fds). owner tags the loop watches. Returns NULL on failure with
 * errno set. */
struct conn *conn_new(int in_fd, int out_fd, bool owns_fds, const struct conn_limits *lim,
		      const struct conn_ops *ops, void *ctx);
/* Queue one message (a newline is added). 0, -ENOBUFS (a droppable
 * message refused, counted), -EPIPE (the connection is closed). */
int conn_send(struct conn *c, const char *line, size_t len, bool droppable);
/* fds a peer passed with SCM_RIGHTS on a socket connection (at most
 * CONN_MAX_FDS are kept): move up to max into fds and return how many;
 * the caller owns them. Ones not taken are closed by conn_free. */
#define CONN_MAX_FDS 2
int conn_take_fds(struct conn *c, int *fds, int max);
/* Try to write what is queued, waiting at most timeout_ms. */
void conn_flush(struct conn *c, int timeout_ms);
void conn_free(struct conn *c);

struct conn_stats {
	uint64_t dropped;	/* droppable messages refused */
	size_t queued, queued_peak; /* output bytes not yet written */
	bool input_paused;
};
void conn_stats(const struct conn *c, struct conn_stats *ret);

#endif
