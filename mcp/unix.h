/* SPDX-License-Identifier: MIT */
/*
 * The service's unix socket: any number of MCP sessions, newline-delimited
 * JSON-RPC as on stdio, one session per connection.
 *
 * Who may connect: the socket file is 0660, owned by root and the
 * configured group, so the kernel lets only root and the group's members
 * connect. Each peer's uid, gid and pid (SO_PEERCRED) and groups
 * (SO_PEERGROUPS) are checked again and logged: root, the daemon's own
 * user and members of the group are served; anyone else (a socket
 * systemd created with looser modes, say) gets one JSON-RPC error line
 * that says why, and the connection is closed.
 *
 * A slow or stuck client never delays another: each session has its own
 * output queue (max_queue_bytes): past half of it notifications are
 * dropped (and counted), past all of it the session's input is no longer
 * read, and a session whose queue stays full for stall_ms, or grows past
 * twice the limit, is disconnected (its calls are cancelled).
 */
#ifndef SMCP_MCP_UNIX_H
#define SMCP_MCP_UNIX_H

#include <stdint.h>
#include <sys/types.h>

#include "conn.h"

struct unix_opts {
	const char *path;  /* socket file; its directory is created 0755 if missing */
	const char *group; /* who may connect besides root and the daemon's user */
	uid_t owner_uid;   /* who will own the directory (the account the daemon
			      runs as once it drops root), so it can remove the
			      socket at exit */
	struct conn_limits limits;
	uint32_t max_sessions;
};

/*
 * Before the privilege drop: listen on opts->path, or adopt the listening
 * socket systemd passed (LISTEN_FDS, fd 3). A socket file that no one
 * answers on is stale and replaced; one where a service answers is an
 * error (-EADDRINUSE, with the reason in why). Returns 0 or -errno.
 */
int unix_listen(const struct unix_opts *opts, char *why, size_t why_len);
/* After it: accept sessions on the loop. */
int unix_serve(void);
/* Close every session and the listener; remove the socket file if this
 * process created it. */
void unix_close(void);

/* A service answers at path: 0, or -errno (-ENOENT no socket,
 * -ECONNREFUSED stale, -EACCES not allowed). *ret_fd is the connected
 * socket (close-on-exec, blocking) when 0 and ret_fd is not NULL. */
int unix_connect(const char *path, int *ret_fd);

#endif
