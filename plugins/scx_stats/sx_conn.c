/* SPDX-License-Identifier: MIT */
/*
 * One connection to the stats socket with a queue of requests, driven by the
 * host loop: a non-blocking connect (with its time-out), the request
 * written, the reply read up to its newline (with a time-out and a size
 * limit). One request is in flight at a time: the server answers in order
 * and a time-out then only costs that request and the connection.
 *
 * A reused connection that turns out closed (the scheduler restarted since
 * the last reply) is reopened and the request sent again, once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sx.h"

#define BUF_START 65536

struct sx_req {
	struct sx_req *next;
	char *line;
	size_t len, sent;
	bool started;
	bool retried;
	sx_reply_fn cb;
	void *data;
};

enum conn_state {
	C_CLOSED,
	C_CONNECTING,
	C_OPEN,
};

struct sx_conn {
	struct sx_plugin *p;
	int fd;
	enum conn_state state;
	bool watched;
	uint32_t events;
	bool reused; /* a reply was read on this connection already */
	struct sx_req *head, *tail;
	char *buf;
	size_t len, cap;
	int timer;      /* connect or reply time-out */
	int kick_timer; /* deferred start, so callbacks never run inside a request */
	uint64_t gen;
	int depth;   /* callbacks of ours on the stack */
	bool doomed; /* freed when the last one returns */
};

static void kick(struct sx_conn *c);
static void kick_later(struct sx_conn *c);

uint64_t sx_conn_generation(const struct sx_conn *c)
{
	return c->gen;
}

struct sx_conn *sx_conn_new(struct sx_plugin *p)
{
	struct sx_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->p = p;
	c->fd = -1;
	return c;
}

static void timer_clear(struct sx_conn *c, int *id)
{
	if (*id > 0)
		(void)c->p->api->timer_remove(c->p->host, *id);
	*id = 0;
}

static void conn_close(struct sx_conn *c)
{
	const struct smcp_host_api *api = c->p->api;

	timer_clear(c, &c->timer);
	if (c->watched)
		(void)api->unwatch_fd(c->p->host, c->fd);
	c->watched = false;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_CLOSED;
	c->reused = false;
	c->len = 0;
}

static void req_free(struct sx_req *r)
{
	if (r) {
		free(r->line);
		free(r);
	}
}

static void conn_destroy(struct sx_conn *c)
{
	conn_close(c);
	timer_clear(c, &c->kick_timer);
	while (c->head) {
		struct sx_req *r = c->head;

		c->head = r->next;
		req_free(r);
	}
	free(c->buf);
	free(c);
}

void sx_conn_free(struct sx_conn *c)
{
	if (!c)
		return;
	if (c->depth) {
		/* inside one of our callbacks: forget the callers, free on return */
		for (struct sx_req *r = c->head; r; r = r->next)
			r->cb = NULL;
		c->doomed = true;
		return;
	}
	conn_destroy(c);
}

/* Enter/leave a loop callback; leave returns false when c is gone. */
static void enter(struct sx_conn *c)
{
	c->depth++;
}

static bool leave(struct sx_conn *c)
{
	if (--c->depth == 0 && c->doomed) {
		conn_destroy(c);
		return false;
	}
	return true;
}

static struct sx_req *pop_head(struct sx_conn *c)
{
	struct sx_req *r = c->head;

	if (r) {
		c->head = r->next;
		if (!c->head)
			c->tail = NULL;
	}
	timer_clear(c, &c->timer);
	c->len = 0;
	return r;
}

static void finish(struct sx_conn *c, struct sx_req *r, int err, const char *line, size_t len,
		   const char *why)
{
	if (r->cb) {
		enter(c);
		r->cb(r->data, err, line, len, why);
		c->depth--; /* the caller's leave() frees a doomed connection */
	}
	req_free(r);
}

static void fail_head(struct sx_conn *c, int err, const char *why)
{
	struct sx_req *r = pop_head(c);

	if (r)
		finish(c, r, err, NULL, 0, why);
}

/* Fail everything queued now (a connect failure would fail each the same way). */
static void fail_all(struct sx_conn *c, int err, const char *why)
{
	struct sx_req *list = c->head;

	c->head = c->tail = NULL;
	timer_clear(c, &c->timer);
	while (list && !c->doomed) {
		struct sx_req *r = list;

		list = r->next;
		finish(c, r, err, NULL, 0, why);
	}
	while (list) {
		struct sx_req *r = list;

		list = r->next;
		req_free(r);
	}
}

static int conn_watch(struct sx_conn *c, uint32_t events);

static void on_timeout(void *data)
{
	struct sx_conn *c = data;
	char why[160];

	c->timer = 0;
	enter(c);
	if (c->state == C_CONNECTING) {
		snprintf(why, sizeof(why), "connecting to %s timed out after %u ms",
			 c->p->socket_path, c->p->connect_timeout_ms);
		conn_close(c);
		fail_all(c, -ETIMEDOUT, why);
	} else {
		snprintf(why, sizeof(why),
			 "the scheduler did not answer within %u ms (read_timeout_ms; %zu bytes "
			 "of a reply received)",
			 c->p->read_timeout_ms, c->len);
		/* a late reply would answer the next request: start afresh */
		conn_close(c);
		fail_head(c, -ETIMEDOUT, why);
	}
	if (!c->doomed)
		kick(c);
	(void)leave(c);
}

static void timer_set(struct sx_conn *c, uint32_t ms)
{
	int id;

	timer_clear(c, &c->timer);
	id = c->p->api->timer_add(c->p->host, ms, false, on_timeout, c);
	c->timer = id > 0 ? id : 0;
}

static void on_fd(void *data, int fd, uint32_t revents);

static int conn_watch(struct sx_conn *c, uint32_t events)
{
	const struct smcp_host_api *api = c->p->api;
	int err;

	if (c->watched && c->events == events)
		return 0;
	if (c->watched)
		(void)api->unwatch_fd(c->p->host, c->fd);
	c->watched = false;
	err = api->watch_fd(c->p->host, c->fd, events, on_fd, c);
	if (err)
		return err;
	c->watched = true;
	c->events = events;
	return 0;
}

static const char *connect_reason(int err)
{
	switch (err) {
	case ENOENT:
		return "the socket does not exist: no scheduler with scx_stats is running, or it "
		       "serves another path (socket_path in [plugin scx_stats])";
	case ECONNREFUSED:
		return "nothing listens on the socket (a scheduler that exited left it behind)";
	case EACCES:
	case EPERM:
		return "permission denied (the socket belongs to root: run schedmcp as root)";
	case EAGAIN:
		return "the scheduler is not accepting connections (its backlog is full)";
	case ENOTSOCK:
	case ENOTDIR:
		return "the path is not a socket";
	default:
		return NULL;
	}
}

static void conn_open(struct sx_conn *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *reason;
	char why[400];
	int err;

	memcpy(sa.sun_path, c->p->socket_path, sizeof(sa.sun_path));
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		snprintf(why, sizeof(why), "socket: %s", strerror(-err));
		fail_all(c, err, why);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		c->state = C_OPEN;
		c->gen++;
		return;
	}
	err = -errno;
	if (err == -EINPROGRESS) {
		c->state = C_CONNECTING;
		if (conn_watch(c, EPOLLOUT) == 0) {
			timer_set(c, c->p->connect_timeout_ms);
			return;
		}
	}
	conn_close(c);
	reason = connect_reason(-err);
	snprintf(why, sizeof(why), "cannot connect to %s: %s%s%s", c->p->socket_path,
		 strerror(-err), reason ? "; " : "", reason ? reason : "");
	fail_all(c, err, why);
}

/* The scheduler went away since the last reply on this reused connection:
 * send the head request r once more, on a new one. false when it had its
 * second chance already (or the connection was new: a real failure). */
static bool retry_once(struct sx_conn *c, struct sx_req *r)
{
	if (!c->reused || r->retried)
		return false;
	r->retried = true;
	r->sent = 0;
	r->started = false;
	conn_close(c);
	kick(c);
	return true;
}

static void try_write(struct sx_conn *c)
{
	struct sx_req *r = c->head;
	char why[200];

	while (r->sent < r->len) {
		ssize_t n = send(c->fd, r->line + r->sent, r->len - r->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			r->sent += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			(void)conn_watch(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
			return;
		}
		if ((errno == EPIPE || errno == ECONNRESET) && retry_once(c, r))
			return;
		snprintf(why, sizeof(why), "sending the request failed: %s", strerror(errno));
		n = -errno;
		conn_close(c);
		fail_head(c, (int)n, why);
		if (!c->doomed)
			kick_later(c);
		return;
	}
	(void)conn_watch(c, EPOLLIN | EPOLLRDHUP);
}

static void kick(struct sx_conn *c)
{
	struct sx_req *r;

	while (!c->doomed) {
		r = c->head;
		if (!r) {
			/* idle: notice at once when the scheduler goes away */
			if (c->state == C_OPEN)
				(void)conn_watch(c, EPOLLIN | EPOLLRDHUP);
			return;
		}
		if (c->state == C_CLOSED) {
			conn_open(c);
			if (c->state == C_CLOSED) {
				/* it failed everything queued; what callbacks queued since
				 * waits a tick rather than spinning here */
				if (c->head)
					kick_later(c);
				return;
			}
			continue;
		}
		if (c->state == C_CONNECTING)
			return;
		if (!r->started) {
			r->started = true;
			c->len = 0;
			timer_set(c, c->p->read_timeout_ms);
		}
		try_write(c);
		return;
	}
}

static int grow(struct sx_conn *c)
{
	size_t limit = c->p->max_reply_bytes + 1, cap;
	char *nb;

	if (c->cap >= limit)
		return 0;
	cap = c->cap ? c->cap * 2 : BUF_START;
	if (cap > limit)
		cap = limit;
	nb = realloc(c->buf, cap);
	if (!nb)
		return -ENOMEM;
	c->buf = nb;
	c->cap = cap;
	return 0;
}

/* The peer closed (or reset) while we wait for a reply. */
static void peer_closed(struct sx_conn *c, int err)
{
	struct sx_req *r = c->head;
	char why[200];

	if (!r) {
		conn_close(c); /* idle: the scheduler went away; reconnect when asked */
		return;
	}
	if (c->len == 0 && retry_once(c, r))
		return;
	if (c->len)
		snprintf(why, sizeof(why),
			 "the scheduler closed the connection after %zu bytes of a reply, "
			 "without finishing it", c->len);
	else
		snprintf(why, sizeof(why), "the scheduler closed the connection without "
					   "answering%s%s", err ? ": " : "",
			 err ? strerror(-err) : "");
	conn_close(c);
	fail_head(c, c->len ? -EPIPE : -ECONNRESET, why);
	if (!c->doomed)
		kick(c);
}

static void do_read(struct sx_conn *c)
{
	char why[200];

	for (;;) {
		size_t old = c->len;
		char *nl;
		ssize_t n;

		if (grow(c) < 0 || c->len == c->cap) {
			snprintf(why, sizeof(why),
				 "the reply is larger than %zu bytes (max_reply_bytes); the rest "
				 "was not read", c->p->max_reply_bytes);
			conn_close(c);
			fail_head(c, -EMSGSIZE, why);
			if (!c->doomed)
				kick(c);
			return;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			peer_closed(c, -errno);
			return;
		}
		if (n == 0) {
			peer_closed(c, 0);
			return;
		}
		if (!c->head) {
			/* nobody asked: a confused peer; do not let it answer the next request */
			conn_close(c);
			return;
		}
		c->len += (size_t)n;
		nl = memchr(c->buf + old, '\n', c->len - old);
		if (nl) {
			size_t line_len = (size_t)(nl - c->buf);
			bool extra = line_len + 1 < c->len;
			struct sx_req *r;

			c->reused = true;
			r = c->head;
			c->head = r->next;
			if (!c->head)
				c->tail = NULL;
			timer_clear(c, &c->timer);
			*nl = '\0';
			finish(c, r, 0, c->buf, line_len, NULL);
			if (c->doomed)
				return;
			/* bytes after the reply answer nothing we sent */
			if (extra)
				conn_close(c);
			c->len = 0;
			kick(c);
			return;
		}
	}
}

static void on_fd(void *data, int fd, uint32_t revents)
{
	struct sx_conn *c = data;

	enter(c);
	if (c->state == C_CONNECTING) {
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		char why[300];

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		timer_clear(c, &c->timer);
		if (soerr) {
			snprintf(why, sizeof(why), "cannot connect to %s: %s", c->p->socket_path,
				 strerror(soerr));
			conn_close(c);
			fail_all(c, -soerr, why);
		} else {
			c->state = C_OPEN;
			c->gen++;
		}
		if (!c->doomed)
			kick(c);
	} else if (c->state == C_OPEN) {
		if ((revents & EPOLLOUT) && c->head && c->head->sent < c->head->len)
			try_write(c);
		if (!c->doomed && c->state == C_OPEN &&
		    (revents & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
			do_read(c);
	}
	(void)leave(c);
}

static void on_kick(void *data)
{
	struct sx_conn *c = data;

	c->kick_timer = 0;
	enter(c);
	kick(c);
	(void)leave(c);
}

static void kick_later(struct sx_conn *c)
{
	int id;

	if (c->kick_timer || c->doomed)
		return;
	id = c->p->api->timer_add(c->p->host, 1, false, on_kick, c);
	c->kick_timer = id > 0 ? id : 0;
}

struct sx_req *sx_conn_request(struct sx_conn *c, const char *req, const char *target,
			       sx_reply_fn cb, void *data)
{
	struct sx_req *r;
	cJSON *o, *args;
	char *text;

	o = cJSON_CreateObject();
	args = o ? cJSON_AddObjectToObject(o, "args") : NULL;
	if (!args || !cJSON_AddStringToObject(o, "req", req) ||
	    (target && !cJSON_AddStringToObject(args, "target", target))) {
		cJSON_Delete(o);
		return NULL;
	}
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	r = text ? calloc(1, sizeof(*r)) : NULL;
	if (!r) {
		free(text);
		return NULL;
	}
	r->len = strlen(text) + 1;
	r->line = realloc(text, r->len + 1);
	if (!r->line) {
		free(text);
		free(r);
		return NULL;
	}
	r->line[r->len - 1] = '\n';
	r->line[r->len] = '\0';
	r->cb = cb;
	r->data = data;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	kick_later(c);
	return r;
}

void sx_req_drop(struct sx_conn *c, struct sx_req *r)
{
	struct sx_req **pp;

	if (!c || !r)
		return;
	r->cb = NULL;
	if (r->started)
		return; /* in flight: its reply is read and thrown away */
	for (pp = &c->head; *pp; pp = &(*pp)->next) {
		if (*pp != r)
			continue;
		*pp = r->next;
		if (c->tail == r) {
			c->tail = NULL;
			for (struct sx_req *q = c->head; q; q = q->next)
				c->tail = q;
		}
		req_free(r);
		return;
	}
}
