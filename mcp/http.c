/* SPDX-License-Identifier: MIT */
/*
 * Streamable HTTP on libmicrohttpd (http.h says what it serves). This file:
 * the request handler's checks, the connections, the loop and the set-up;
 * http_reply.c: the answers and the /mcp and /metrics methods;
 * http_session.c: streams and sessions; http_guard.c: tokens, Origin, Host;
 * http_impl.h: the objects they share. The map:
 *
 *   hconn    one TCP connection (MHD's socket context): its address and the
 *            request clock that drops a client trickling a request;
 *   hreq     one HTTP request (MHD's con_cls), refcounted by the request
 *            and by the SSE response that reads from it;
 *   hsession one MCP session (Mcp-Session-Id) with its streams;
 *   stream   where messages wait for their client: a POST's exchange (the
 *            answer to one request, and what comes out for it first) or the
 *            session's standalone stream (GET). Events stay after delivery,
 *            up to replay_bytes, for a client that resumes with
 *            Last-Event-ID.
 *
 * A request whose answer is not ready is suspended (MHD_suspend_connection)
 * and resumed when an event reaches its stream; MHD's ITC wakes its epoll
 * fd, which is a watch of the core's loop, so all of this runs there.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "../core/util.h"
#include "http_guard.h"
#include "http_impl.h"
#include "protocol.h"

struct http_server http_srv = { .lfd = -1 };

bool http_available(void)
{
	return true;
}

uint16_t http_port(void)
{
	return http_srv.port;
}

/* ------------------------------------------------------- the handler */

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	*(size_t *)cls += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* The request's headers as sent (name: value CRLF), give or take spaces:
 * MHD's memory pool bounds them too, but only roughly (it holds the
 * reading buffer and the answer's headers as well). */
static size_t header_bytes(struct hreq *r)
{
	size_t n = 0;

	(void)MHD_get_connection_values(r->mc, MHD_HEADER_KIND, count_header, &n);
	return n;
}

/* The checks every request passes before its body is read: a refusal is
 * queued at once, so a refused body is never stored. */
static enum MHD_Result admit(struct hreq *r, const char *url, const char *method)
{
	const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	bool metrics = !strcmp(url, METRICS_PATH) && http_srv.o.metrics;

	if (strcmp(url, MCP_PATH) != 0 && !metrics)
		return http_reply_error(r, MHD_HTTP_NOT_FOUND, MCP_SERVER_BUSY,
				   "Not Found: MCP is served at /mcp");
	/* DNS rebinding: a page elsewhere must not reach a loopback service */
	if (!guard_origin_ok(http_header(r, MHD_HTTP_HEADER_ORIGIN)) ||
	    (guard_address_loopback(http_srv.o.address) && http_header(r, MHD_HTTP_HEADER_HOST) &&
	     !guard_host_loopback(http_header(r, MHD_HTTP_HEADER_HOST))))
		return http_reply_error(r, MHD_HTTP_FORBIDDEN, MCP_ACCESS_DENIED,
				   "Forbidden: Origin or Host not allowed");
	if (guard_has_tokens() && !(metrics && http_srv.o.metrics_auth_none) &&
	    !guard_bearer_ok(http_header(r, MHD_HTTP_HEADER_AUTHORIZATION)))
		return http_reply_error(r, MHD_HTTP_UNAUTHORIZED, MCP_ACCESS_DENIED,
				   "Unauthorized: a valid Authorization: Bearer token is required");
	if (metrics) {
		r->kind = K_METRICS;
		if (strcmp(method, "GET") != 0)
			return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, MCP_SERVER_BUSY,
					   "Method Not Allowed");
	} else if (!strcmp(method, "POST")) {
		r->kind = K_MCP_POST;
	} else if (!strcmp(method, "GET")) {
		r->kind = K_MCP_GET;
	} else if (!strcmp(method, "DELETE")) {
		r->kind = K_MCP_DELETE;
	} else {
		return http_reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, MCP_SERVER_BUSY,
				   "Method Not Allowed");
	}
	if (header_bytes(r) > http_srv.o.max_header_bytes)
		return http_reply_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
					MCP_SERVER_BUSY,
				   "Request Header Fields Too Large: over http_max_header_bytes");
	if (cl && strtoull(cl, NULL, 10) > http_srv.o.max_body_bytes)
		return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MCP_SERVER_BUSY,
				   "Content Too Large: the body is over http_max_body_bytes");
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct hreq *r = *con_cls;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->refs = 1;
		r->mc = mc;
		r->hc = ci ? ci->socket_context : NULL;
		if (!r->hc)
			return MHD_NO;
		r->hc->cur = r;
		*con_cls = r;
		return admit(r, url, method);
	}
	if (r->responded) {
		*upload_size = 0; /* the rest of a refused body */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (r->too_big || r->body_len + n > http_srv.o.max_body_bytes) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->body_len + n + 1 > r->body_cap) {
			size_t cap = (r->body_len + n + 1) * 2;
			char *nb;

			if (cap > http_srv.o.max_body_bytes + 1)
				cap = http_srv.o.max_body_bytes + 1;
			nb = realloc(r->body, cap);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			r->body_cap = cap;
		}
		memcpy(r->body + r->body_len, upload, n);
		r->body_len += n;
		r->body[r->body_len] = '\0';
		return MHD_YES;
	}
	/* the whole request is in: no longer on the request clock */
	r->hc->clock_ns = 0;
	if (r->too_big)
		return http_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, MCP_SERVER_BUSY,
				   "Content Too Large: the body is over http_max_body_bytes");
	http_hreq_unwatch(r);
	if (r->peer_gone)
		return MHD_NO; /* closes the connection */
	if (r->dispatched) /* resumed: its exchange has something to send, or ended */
		return http_reply_exchange(r);
	r->dispatched = true;
	switch (r->kind) {
	case K_MCP_POST:
		return http_mcp_post(r);
	case K_MCP_GET:
		return http_mcp_get(r);
	case K_MCP_DELETE:
		return http_mcp_delete(r);
	case K_METRICS:
		return http_metrics_get(r);
	default:
		return MHD_NO;
	}
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct hreq *r = *con_cls;

	if (!r)
		return;
	*con_cls = NULL;
	http_hreq_unwatch(r);
	if (r->hc) {
		if (r->hc->cur == r)
			r->hc->cur = NULL;
		/* keep-alive: the next request must come whole in time too */
		r->hc->clock_ns = loop_now_ns();
	}
	r->hc = NULL;
	http_stream_detach(r);
	http_hreq_unref(r);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct hconn *hc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
			MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		hc = calloc(1, sizeof(*hc));
		if (!hc)
			return;
		hc->fd = fi ? fi->connect_fd : -1;
		hc->clock_ns = loop_now_ns();
		if (ai && ai->client_addr->sa_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->client_addr)->sin_addr,
				  hc->addr, sizeof(hc->addr));
		else if (ai && ai->client_addr->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->client_addr)->sin6_addr,
				  hc->addr, sizeof(hc->addr));
		else
			snprintf(hc->addr, sizeof(hc->addr), "?");
		UTIL_DLIST_PUSH(http_srv.conns, hc);
		*socket_context = hc;
		return;
	}
	if (!hc)
		return;
	UTIL_DLIST_UNLINK(http_srv.conns, hc);
	if (hc->cur) {
		http_hreq_unwatch(hc->cur);
		hc->cur->hc = NULL;
	}
	free(hc);
	*socket_context = NULL;
}

/* libmicrohttpd's messages can quote what a client sent: only their
 * format, without the values, reaches the log (at debug). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	snprintf(line, sizeof(line), "%s", fmt);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_debug("http: %s", line);
}

/* --------------------------------------------------------- the loop */

static void run(void);

static void kick(void *data)
{
	http_srv.kick = 0;
	run();
}

static void run(void)
{
	MHD_UNSIGNED_LONG_LONG t;

	/* work MHD wants done before its fd says so (the next pipelined request
	 * already read, a resumed connection, a TLS record): at once, a bounded
	 * number of rounds so the loop's other work is not starved, then soon */
	for (int i = 0; i < 64; i++) {
		(void)MHD_run(http_srv.d);
		if (MHD_get_timeout(http_srv.d, &t) != MHD_YES || t != 0)
			break;
	}
	if (!http_srv.kick && MHD_get_timeout(http_srv.d, &t) == MHD_YES && t < 1000) {
		http_srv.kick = loop_timer_add(t ? t : 1, false, kick, NULL, &http_srv);
		if (http_srv.kick < 0)
			http_srv.kick = 0;
	}
}

void http_resume(struct hreq *r)
{
	r->suspended = false;
	MHD_resume_connection(r->mc);
	if (!http_srv.kick) {
		http_srv.kick = loop_timer_add(1, false, kick, NULL, &http_srv);
		if (http_srv.kick < 0)
			http_srv.kick = 0;
	}
}

static void on_epoll(void *data, int fd, uint32_t revents)
{
	run();
}

static void tick(void *data)
{
	const struct http_opts *o = &http_srv.o;
	uint64_t now = loop_now_ns();
	struct hsession *hs, *next;

	for (struct hconn *hc = http_srv.conns; hc; hc = hc->next) {
		if (!hc->clock_ns || now - hc->clock_ns < (uint64_t)o->request_timeout_s * NS)
			continue;
		/* a request trickling in (slowloris): MHD's idle timeout would
		 * not fire while bytes arrive; shutting the socket makes MHD
		 * close it at its next read */
		hc->clock_ns = 0;
		http_srv.dropped_slow++;
		log_private(SMCP_LOG_INFO, "http: dropped a connection from %s: no whole request "
			    "within %u s", hc->addr, http_srv.o.request_timeout_s);
		if (hc->fd >= 0)
			(void)shutdown(hc->fd, SHUT_RDWR);
	}
	for (hs = http_srv.sessions; hs; hs = next) {
		bool attached = false;
		struct stream *st, *sn;

		next = hs->next;
		for (st = hs->streams; st; st = sn) {
			sn = st->next;
			if (st->req) {
				attached = true;
				if (st->mode == M_SSE &&
				    now - st->req->last_write_ns > KEEPALIVE_NS) {
					st->req->keepalive = true;
					http_stream_wake(st);
				}
			} else if (!st->standalone && st->mode == M_SSE &&
				   now - st->detached_ns > STREAM_KEEP_NS) {
				http_stream_free(st);
			}
		}
		if (!attached && now - hs->last_used_ns > (uint64_t)o->session_idle_s * NS) {
			log_private(SMCP_LOG_INFO, "http session %llu from %s: idle for %u s",
				    (unsigned long long)mcp_session_no(hs->s), hs->addr,
				    o->session_idle_s);
			http_session_free(hs);
		}
	}
	run();
}

/* ------------------------------------------------------------ set-up */

static int bind_socket(const char *address, uint16_t port, char *why, size_t len)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr *sa;
	socklen_t sl;
	int fd, one = 1, err;

	if (inet_pton(AF_INET, address, &a4.sin_addr) == 1) {
		sa = (struct sockaddr *)&a4;
		sl = sizeof(a4);
	} else if (inet_pton(AF_INET6, address, &a6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&a6;
		sl = sizeof(a6);
	} else {
		snprintf(why, len, "http_address '%s' is not a numeric IPv4 or IPv6 address",
			 address);
		return -EINVAL;
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, sa, sl) < 0 || listen(fd, 128) < 0) {
		err = -errno;
		snprintf(why, len, "%s port %u: %s", address, (unsigned)port, strerror(errno));
		close(fd);
		return err;
	}
	if (getsockname(fd, sa, &sl) == 0)
		http_srv.port = ntohs(sa->sa_family == AF_INET ? a4.sin_port : a6.sin6_port);
	http_srv.lfd = fd;
	return 0;
}

int http_listen(const struct http_opts *o, char *why, size_t why_len)
{
	int err;

	http_srv.o = *o;
	snprintf(why, why_len, "?");
	if (!o->auth_none && !o->token_file) {
		snprintf(why, why_len, "http_token_file is not set: clients could not be told from "
			 "strangers (set it, or http_auth = none on a loopback address)");
		return -EINVAL;
	}
	if (o->auth_none && !guard_address_loopback(o->address)) {
		snprintf(why, why_len, "http_auth = none is allowed on a loopback address only, "
			 "not on %s", o->address);
		return -EPERM;
	}
	if (!o->tls_cert != !o->tls_key) {
		snprintf(why, why_len, "TLS needs both http_tls_cert and http_tls_key");
		return -EINVAL;
	}
	if (o->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(why, why_len, "this libmicrohttpd was built without TLS");
		return -ENOTSUP;
	}
	if (!o->auth_none) {
		err = guard_load_tokens(o->token_file, geteuid(), why, why_len);
		if (err < 0)
			goto fail;
	}
	err = guard_set_origins(o->allowed_origins);
	if (err) {
		snprintf(why, why_len, "http_allowed_origins: more than 32 origins");
		goto fail;
	}
	if (o->tls_cert) {
		char w[200];

		err = guard_read_file(o->tls_cert, 1 << 20, &http_srv.tls_cert, w, sizeof(w));
		if (!err)
			err = guard_read_file(o->tls_key, 1 << 20, &http_srv.tls_key, w, sizeof(w));
		if (err) {
			snprintf(why, why_len, "TLS %s: %s",
				 http_srv.tls_cert ? "key (http_tls_key)"
						   : "certificate (http_tls_cert)",
				 w);
			goto fail;
		}
	}
	err = bind_socket(o->address, o->port, why, why_len);
	if (err)
		goto fail;
	return 0;
fail:
	http_close();
	return err;
}

int http_serve(void)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	int err;

	if (http_srv.tls_cert)
		flags |= MHD_USE_TLS;
	/* without TLS the option list ends before the key and certificate */
	http_srv.d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, NULL,
		/* first, or MHD prints its own messages before it reads it */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, http_srv.lfd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)http_srv.o.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)http_srv.o.max_per_address,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)http_srv.o.idle_timeout_s,
		/* the request line and headers live in this per-connection pool */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)http_srv.o.max_header_bytes + 8192,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, NULL, MHD_OPTION_SIGPIPE_HANDLED_BY_APP, 1,
		http_srv.tls_cert ? MHD_OPTION_HTTPS_MEM_CERT
								: MHD_OPTION_END,
		http_srv.tls_cert, MHD_OPTION_HTTPS_MEM_KEY, http_srv.tls_key, MHD_OPTION_END);
	if (!http_srv.d) {
		log_err("http: libmicrohttpd did not start (see the debug log)");
		return -EIO;
	}
	http_srv.lfd = -1; /* MHD's now */
	di = MHD_get_daemon_info(http_srv.d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di)
		return -EIO;
	err = loop_watch(di->epoll_fd, EPOLLIN, on_epoll, NULL, &http_srv);
	if (!err) {
		http_srv.tick = loop_timer_add(1000, true, tick, NULL, &http_srv);
		err = http_srv.tick < 0 ? http_srv.tick : 0;
	}
	if (err)
		return err;
	log_info("serving MCP over HTTP%s on %s port %u (%s)", http_srv.tls_cert ? "S" : "",
		 http_srv.o.address, (unsigned)http_srv.port,
		 guard_has_tokens() ? "bearer tokens required"
				    : "NO AUTHENTICATION: http_auth = none, loopback only");
	return 0;
}

void http_close(void)
{
	while (http_srv.sessions)
		http_session_free(http_srv.sessions);
	if (http_srv.d) {
		/* MHD will not stop with connections suspended */
		for (struct hconn *hc = http_srv.conns; hc; hc = hc->next) {
			if (hc->cur && hc->cur->suspended) {
				hc->cur->suspended = false;
				MHD_resume_connection(hc->cur->mc);
			}
		}
		MHD_stop_daemon(http_srv.d);
	}
	loop_remove_owner(&http_srv);
	if (http_srv.lfd >= 0)
		close(http_srv.lfd);
	if (http_srv.tls_key)
		explicit_bzero(http_srv.tls_key, strlen(http_srv.tls_key));
	free(http_srv.tls_key);
	free(http_srv.tls_cert);
	guard_free();
	memset(&http_srv, 0, sizeof(http_srv));
	http_srv.lfd = -1;
}
