/* SPDX-License-Identifier: MIT */
#include "unix.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "../core/util.h"
#include "protocol.h"
#include "server.h"

/* systemd's socket activation hands the first socket over as fd 3 */
#define SD_LISTEN_FDS_START 3
#define MAX_PEER_GROUPS 256

struct client {
	struct client *next, *prev;
	struct conn *conn; /* where the session's messages go: the socket, or the
			      bridge's stdin/stdout once it handed them over */
	struct conn *ctl;  /* after a handoff: the socket, for what a bridge must
			      know if the service dies */
	struct mcp_session *session;
	struct mcp_peer peer;
};

static struct {
	struct unix_opts o;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	bool created; /* this process bound the file: remove it at exit */
	gid_t gid;
	bool has_group;
	struct client *clients;
	uint32_t n_clients;
} us = { .fd = -1 };

static int path_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int unix_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd, err = path_addr(path, &sa);

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (ret_fd)
		*ret_fd = fd;
	else
		close(fd);
	return 0;
}

/* The socket systemd passed, if it passed one to this very process. */
static int activated_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	int acc = 0, dom = 0;
	socklen_t len = sizeof(int);

	if (!pid || !n || strtol(pid, NULL, 10) != getpid() || strtol(n, NULL, 10) < 1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (getsockopt(SD_LISTEN_FDS_START, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0 || !acc ||
	    getsockopt(SD_LISTEN_FDS_START, SOL_SOCKET, SO_DOMAIN, &dom, &len) < 0 ||
	    dom != AF_UNIX)
		return -2;
	(void)fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC);
	return SD_LISTEN_FDS_START;
}

/* The socket's directory: created for the daemon's account if missing,
 * and never one others could write (they could swap the socket). */
static int check_dir(const char *path, char *why, size_t len)
{
	char buf[PATH_MAX], *dir;
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	dir = dirname(buf);
	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT || mkdir(dir, 0755) < 0 ||
		    lchown(dir, us.o.owner_uid, us.has_group ? us.gid : (gid_t)-1) < 0) {
			snprintf(why, len, "cannot create %s: %s", dir, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != us.o.owner_uid) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, len, "%s is not a directory owned by root (or the daemon's account) "
			 "and writable by no one else", dir);
		return -EPERM;
	}
	return 0;
}

int unix_listen(const struct unix_opts *opts, char *why, size_t why_len)
{
	struct sockaddr_un sa;
	struct group *gr;
	struct stat st;
	mode_t old;
	int fd, err;

	us.o = *opts;
	snprintf(why, why_len, "?");
	gr = opts->group && *opts->group ? getgrnam(opts->group) : NULL;
	if (gr) {
		us.gid = gr->gr_gid;
		us.has_group = true;
	} else if (opts->group && *opts->group) {
		log_warn("no group '%s': only root may connect to the service (create it: "
			 "groupadd --system %s)", opts->group, opts->group);
	}
	fd = activated_fd();
	if (fd == -2) {
		snprintf(why, why_len, "the socket systemd passed is not a listening unix socket");
		return -EINVAL;
	}
	if (fd >= 0) {
		us.fd = fd;
		snprintf(us.path, sizeof(us.path), "%s", opts->path);
		log_info("serving MCP on the socket systemd passed");
		return 0;
	}
	err = path_addr(opts->path, &sa);
	if (err) {
		snprintf(why, why_len, "%s: longer than a unix socket path can be", opts->path);
		return err;
	}
	err = check_dir(opts->path, why, why_len);
	if (err)
		return err;
	if (lstat(opts->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, why_len, "%s exists and is not a socket", opts->path);
			return -EEXIST;
		}
		err = unix_connect(opts->path, NULL);
		if (err == 0) {
			snprintf(why, why_len, "a service already answers at %s", opts->path);
			return -EADDRINUSE;
		}
		/* no one listens: what a service killed by SIGKILL leaves */
		if (unlink(opts->path) < 0) {
			snprintf(why, why_len, "cannot remove the stale %s: %s", opts->path,
				 strerror(errno));
			return -errno;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* created 0660 at once: no moment where others could connect */
	old = umask(0117);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!err && lchown(opts->path, 0, us.has_group ? us.gid : 0) < 0 && geteuid() == 0)
		err = -errno;
	if (!err && listen(fd, 128) < 0)
		err = -errno;
	if (err) {
		snprintf(why, why_len, "%s: %s", opts->path, strerror(-err));
		close(fd);
		return err;
	}
	us.fd = fd;
	us.created = true;
	snprintf(us.path, sizeof(us.path), "%s", opts->path);
	return 0;
}

static bool peer_allowed(const struct mcp_peer *p, const gid_t *groups, int n)
{
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	if (!us.has_group)
		return false;
	if (p->gid == us.gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == us.gid)
			return true;
	return false;
}

/*
 * One error line to a peer we will not serve, then the end. Closing at once
 * while the peer's first request sits unread would reset the connection
 * and lose the line (a bridge sends its probe right after connecting), so
 * the write side is shut, what arrives is read and dropped, and the fd is
 * closed at the peer's end of input or after a second.
 */
struct refusal {
	int fd, timer;
};

static void refusal_end(struct refusal *r)
{
	loop_remove_owner(r);
	close(r->fd);
	free(r);
}

static void refusal_input(void *data, int fd, uint32_t revents)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		refusal_end(data);
}

static void refusal_timeout(void *data)
{
	refusal_end(data);
}

static void refuse(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void refuse(int fd, const char *fmt, ...)
{
	struct refusal *r = malloc(sizeof(*r));
	char msg[256], line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = snprintf(line, sizeof(line),
		     "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}\n",
		     MCP_ACCESS_DENIED, msg);
	/* a fresh socket's buffer takes a line this short */
	(void)!send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)shutdown(fd, SHUT_WR);
	if (!r || loop_watch(fd, EPOLLIN, refusal_input, r, r) < 0) {
		free(r);
		close(fd);
		return;
	}
	r->fd = fd;
	r->timer = loop_timer_add(1000, false, refusal_timeout, r, r);
}

static void client_free(struct client *c)
{
	UTIL_DLIST_UNLINK(us.clients, c);
	us.n_clients--;
	mcp_session_free(c->session);
	conn_free(c->conn);
	conn_free(c->ctl);
	free(c);
}

static const struct conn_ops pipe_ops;

/* What a bridge needs to answer for the service if it dies. */
static void ctl_event(void *ctx, enum mcp_session_event ev, const char *id)
{
	struct client *c = ctx;
	char line[160];
	int n;

	if (ev == MCP_EV_INITIALIZED)
		n = snprintf(line, sizeof(line), "{\"initialized\":true}");
	else
		n = snprintf(line, sizeof(line), "{\"%s\":%s}",
			     ev == MCP_EV_PENDING ? "pending" : "settled", id ? id : "null");
	if (n > 0 && (size_t)n < sizeof(line))
		(void)conn_send(c->ctl, line, (size_t)n, false);
}

/* Whether fd (passed by a bridge) is something a session may run on. */
static bool usable(int fd, bool input)
{
	struct stat st;

	return fstat(fd, &st) == 0 &&
	       (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode) ||
		(input && S_ISREG(st.st_mode)));
}

/*
 * A bridge handed over its stdin and stdout: from now on the session reads
 * the client's requests and writes its answers there itself, with no hop
 * through the bridge, and the socket only tells the bridge which requests
 * are in flight (to answer them if the service dies) and when it is over.
 */
static void handoff(struct client *c)
{
	int fds[CONN_MAX_FDS], n = conn_take_fds(c->conn, fds, CONN_MAX_FDS);
	struct conn *pc = NULL;

	if (n == 2 && usable(fds[0], true) && usable(fds[1], false))
		pc = conn_new(fds[0], fds[1], true, &us.o.limits, &pipe_ops, c);
	if (!pc) {
		log_private(SMCP_LOG_WARNING, "session %llu: a handoff without two usable fds was "
			    "ignored", (unsigned long long)mcp_session_no(c->session));
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return;
	}
	c->ctl = c->conn;
	c->conn = pc;
	mcp_session_observe(c->session, ctl_event, c);
	log_private(SMCP_LOG_DEBUG, "session %llu: bridged, on the client's stdin and stdout",
		    (unsigned long long)mcp_session_no(c->session));
}

static void on_line(void *ctx, const char *line, size_t len)
{
	static const char handoff_line[] =
		"{\"jsonrpc\":\"2.0\",\"method\":\"" MCP_HANDOFF_METHOD "\"}";
	struct client *c = ctx;

	if (c->ctl)
		return; /* a bridge says nothing more on the socket */
	if (len == sizeof(handoff_line) - 1 && !memcmp(line, handoff_line, len))
		handoff(c);
	else
		mcp_session_handle_line(c->session, line, len);
}

static void on_too_long(void *ctx, size_t len)
{
	struct client *c = ctx;

	mcp_session_line_too_long(c->session, len);
}

static void log_end(struct client *c, int err)
{
	if (err == -ETIMEDOUT || err == -ENOBUFS)
		log_private(SMCP_LOG_WARNING,
			    "session %llu (pid %d) disconnected: it did not read its answers (%s)",
			 (unsigned long long)mcp_session_no(c->session), (int)c->peer.pid,
			 err == -ETIMEDOUT ? "its output queue stayed full"
					   : "its output queue grew past twice the limit");
	else
		log_private(SMCP_LOG_INFO, "session %llu (pid %d) closed",
			    (unsigned long long)mcp_session_no(c->session), (int)c->peer.pid);
}

/* The socket closed: the client (or its bridge) went away. */
static void on_closed(void *ctx, int err)
{
	struct client *c = ctx;

	log_end(c, err);
	client_free(c);
}

/* A bridged session's stdin ended, or its client stopped reading: tell the
 * bridge it is over (not lost), then end it. */
static void pipe_closed(void *ctx, int err)
{
	static const char end[] = "{\"end\":true}";
	struct client *c = ctx;

	log_end(c, err);
	if (conn_send(c->ctl, end, sizeof(end) - 1, false) == 0)
		conn_flush(c->ctl, 1000);
	client_free(c);
}

static const struct conn_ops client_ops = {
	.line = on_line,
	.too_long = on_too_long,
	.closed = on_closed,
};

static void on_pipe_line(void *ctx, const char *line, size_t len)
{
	struct client *c = ctx;

	mcp_session_handle_line(c->session, line, len);
}

static const struct conn_ops pipe_ops = {
	.line = on_pipe_line,
	.too_long = on_too_long,
	.closed = pipe_closed,
};

/* -ENOBUFS (a refused notification) is counted by the server (msg_send) */
static int client_send(void *t, const char *line, size_t len, bool droppable)
{
	struct client *c = t;

	return conn_send(c->conn, line, len, droppable);
}

static void accept_one(int fd)
{
	struct ucred cred;
	gid_t groups[MAX_PEER_GROUPS];
	socklen_t len = sizeof(cred);
	struct mcp_peer peer = { .transport = "unix" };
	struct client *c;
	int n = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		refuse(fd, "schedmcp: cannot tell who you are (SO_PEERCRED: %s)", strerror(errno));
		return;
	}
	peer.has_cred = true;
	peer.uid = cred.uid;
	peer.gid = cred.gid;
	peer.pid = cred.pid;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
		n = (int)(len / sizeof(gid_t));
	if (!peer_allowed(&peer, groups, n)) {
		log_private(SMCP_LOG_WARNING,
			    "refused a session: uid %u gid %u pid %d is not root and not in group %s",
			 (unsigned)peer.uid, (unsigned)peer.gid, (int)peer.pid,
			 us.has_group ? us.o.group : "(none configured)");
		refuse(fd, "schedmcp: uid %u may not use this service (root and members of group "
			   "%s may); ask an administrator to add you to it",
		       (unsigned)peer.uid, us.has_group ? us.o.group : "(none)");
		return;
	}
	if (us.n_clients >= us.o.max_sessions) {
		log_private(SMCP_LOG_WARNING,
			    "refused a session from pid %d: %u sessions are open (max_sessions)",
			 (int)peer.pid, us.n_clients);
		refuse(fd, "schedmcp: %u sessions are open, the limit (max_sessions); try again "
			   "later", us.n_clients);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->peer = peer;
	c->session = mcp_session_new(client_send, c, &c->peer);
	c->conn = c->session ? conn_new(fd, fd, true, &us.o.limits, &client_ops, c) : NULL;
	if (!c->conn) {
		log_err("cannot serve a session: %s", strerror(errno ? errno : ENOMEM));
		mcp_session_free(c->session);
		free(c);
		close(fd);
		return;
	}
	UTIL_DLIST_PUSH(us.clients, c);
	us.n_clients++;
	log_private(SMCP_LOG_INFO, "session %llu opened: uid %u gid %u pid %d",
		 (unsigned long long)mcp_session_no(c->session), (unsigned)peer.uid,
		 (unsigned)peer.gid, (int)peer.pid);
}

static void on_accept(void *data, int lfd, uint32_t revents)
{
	/* a burst of connections is taken in one go, but not forever */
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accepting a session: %s", strerror(errno));
			return;
		}
		accept_one(fd);
	}
}

int unix_serve(void)
{
	(void)fcntl(us.fd, F_SETFL, fcntl(us.fd, F_GETFL) | O_NONBLOCK);
	return loop_watch(us.fd, EPOLLIN, on_accept, NULL, &us);
}

void unix_close(void)
{
	while (us.clients)
		client_free(us.clients);
	loop_remove_owner(&us);
	if (us.fd >= 0)
		close(us.fd);
	if (us.created && unlink(us.path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", us.path, strerror(errno));
	memset(&us, 0, sizeof(us));
	us.fd = -1;
}
