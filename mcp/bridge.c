/* SPDX-License-Identifier: MIT */
#include "bridge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/loop.h"
#include "conn.h"
#include "protocol.h"
#include "server.h"

#define PROBE_ID "schedmcp-bridge-probe"
/* requests of the client's in flight that the bridge remembers; past it
 * the oldest are forgotten (they would only miss their error message) */
#define MAX_TRACKED 10000

static struct {
	struct conn *client;  /* stdin/stdout */
	struct conn *service; /* the socket */
	int fd;
	size_t max_queue, max_line;
	char **ids; /* the client's requests in flight, as JSON text */
	size_t n_ids;
	bool initialized; /* the service answered initialize */
	char *init_id;
	int status;
	bool client_done; /* stdin ended and the end was passed on */
} br;

int bridge_probe(int fd, int timeout_ms, char *why, size_t why_len)
{
	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":\"" PROBE_ID "\",\"method\":\"ping\"}\n";
	char buf[1024];
	size_t at = 0;
	cJSON *m, *e;

	if (send(fd, ping, sizeof(ping) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(ping) - 1) {
		snprintf(why, why_len, "cannot write to the service: %s", strerror(errno));
		return -EPIPE;
	}
	while (!memchr(buf, '\n', at)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (at == sizeof(buf) - 1 || poll(&p, 1, timeout_ms) <= 0) {
			snprintf(why, why_len, "the service did not answer within %d ms", timeout_ms);
			return -ETIMEDOUT;
		}
		n = recv(fd, buf + at, sizeof(buf) - 1 - at, 0);
		if (n <= 0) {
			snprintf(why, why_len, "the service closed the connection");
			return -ECONNRESET;
		}
		at += (size_t)n;
	}
	buf[at] = '\0';
	*strchr(buf, '\n') = '\0';
	m = cJSON_Parse(buf);
	e = cJSON_GetObjectItemCaseSensitive(m, "error");
	if (e) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");

		snprintf(why, why_len, "%s", cJSON_IsString(msg) ? msg->valuestring : "refused");
		cJSON_Delete(m);
		return -EACCES;
	}
	if (!cJSON_GetObjectItemCaseSensitive(m, "result") ||
	    at - strlen(buf) - 1 > 0 /* nothing may follow before we speak */) {
		cJSON_Delete(m);
		snprintf(why, why_len, "the service answered the probe oddly");
		return -EPROTO;
	}
	cJSON_Delete(m);
	return 0;
}

static void track(const cJSON *id)
{
	char *text = cJSON_PrintUnformatted(id);

	if (!text)
		return;
	if (br.n_ids == MAX_TRACKED) {
		free(br.ids[0]);
		memmove(br.ids, br.ids + 1, (br.n_ids - 1) * sizeof(*br.ids));
		br.n_ids--;
	} else {
		char **n = realloc(br.ids, (br.n_ids + 1) * sizeof(*n));

		if (!n) {
			free(text);
			return;
		}
		br.ids = n;
	}
	br.ids[br.n_ids++] = text;
}

static void untrack(const cJSON *id)
{
	char *text = cJSON_PrintUnformatted(id);

	for (size_t i = 0; text && i < br.n_ids; i++) {
		if (strcmp(br.ids[i], text) == 0) {
			free(br.ids[i]);
			br.ids[i] = br.ids[--br.n_ids];
			break;
		}
	}
	free(text);
}

/* Keep one side from reading while the other side's queue is full. */
static void pressure(struct conn *to, struct conn *from)
{
	struct conn_stats st;

	conn_stats(to, &st);
	if (st.queued > br.max_queue)
		conn_pause_input(from, true);
}

static void from_client(void *ctx, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");

	if (id && cJSON_IsString(method)) {
		track(id);
		if (!strcmp(method->valuestring, "initialize") && !br.init_id)
			br.init_id = cJSON_PrintUnformatted(id);
	} else if (cJSON_IsString(method) && !strcmp(method->valuestring, "notifications/cancelled")) {
		/* a cancelled request is never answered */
		const cJSON *rid = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(m, "params"), "requestId");

		if (rid)
			untrack(rid);
	}
	cJSON_Delete(m);
	(void)conn_send(br.service, line, len, false);
	pressure(br.service, br.client);
}

static void from_service(void *ctx, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");

	if (id && !cJSON_GetObjectItemCaseSensitive(m, "method") &&
	    (cJSON_GetObjectItemCaseSensitive(m, "result") ||
	     cJSON_GetObjectItemCaseSensitive(m, "error"))) {
		char *text = br.init_id ? cJSON_PrintUnformatted(id) : NULL;

		if (text && !strcmp(text, br.init_id) && cJSON_GetObjectItemCaseSensitive(m, "result"))
			br.initialized = true;
		free(text);
		untrack(id);
	}
	cJSON_Delete(m);
	(void)conn_send(br.client, line, len, false);
	pressure(br.client, br.service);
}

/* A client line over the limit never reaches the service: answer what the
 * service would have answered. */
static void client_too_long(void *ctx, size_t len)
{
	char msg[256], line[512];
	int n;

	mcp_too_long_message(msg, sizeof(msg), len, br.max_line);
	n = snprintf(line, sizeof(line),
		     "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":%d,\"message\":\"%s\"}}",
		     JSONRPC_INVALID_REQUEST, msg);
	(void)conn_send(br.client, line, (size_t)n, false);
}

static void service_too_long(void *ctx, size_t len)
{
	log_warn("a message of %zu bytes or more from the service was dropped (max_line_bytes)",
		 len);
}

/* The service is gone: every request in flight hears so, once. */
static void service_lost(void)
{
	static const char reason[] =
		"the schedmcp service stopped while this request was in flight, and it was lost; "
		"start the service again (systemctl start schedmcp) or restart this MCP server "
		"to run schedmcp in-process";
	char line[1024];

	log_err("the schedmcp service went away; %zu request(s) were in flight", br.n_ids);
	for (size_t i = 0; i < br.n_ids; i++) {
		int n = snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,"
				 "\"message\":\"%s\"}}",
				 br.ids[i], MCP_SERVICE_GONE, reason);

		if (n > 0 && (size_t)n < sizeof(line))
			(void)conn_send(br.client, line, (size_t)n, false);
	}
	if (!br.n_ids && br.initialized) {
		int n = snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
				 "\"params\":{\"level\":\"error\",\"logger\":\"schedmcp\","
				 "\"data\":\"the schedmcp service went away; the session ended. "
				 "Start the service again (systemctl start schedmcp) or restart this "
				 "MCP server to run schedmcp in-process.\"}}");

		(void)conn_send(br.client, line, (size_t)n, false);
	}
	conn_flush(br.client, 1000);
	br.status = 1;
	loop_quit(1);
}

static void client_closed(void *ctx, int err)
{
	if (err) {
		/* stdout is gone: nothing more can reach the client */
		loop_quit(0);
		return;
	}
	/* stdin ended: pass the end on and let the service answer what it
	 * still has, as an in-process server would before exiting */
	br.client_done = true;
	conn_flush(br.service, 1000);
	(void)shutdown(br.fd, SHUT_WR);
}

static void service_closed(void *ctx, int err)
{
	/* after our own end of input, the service closing is the normal end
	 * (what was still in flight is dropped, as an in-process server
	 * drops it when its input ends) */
	if (br.client_done && !err) {
		conn_flush(br.client, 1000);
		loop_quit(0);
		return;
	}
	service_lost();
}

static void drained(void *ctx)
{
	struct conn *c = ctx == &br.client ? br.service : br.client;

	conn_pause_input(c, false);
}

static const struct conn_ops client_ops = {
	.line = from_client,
	.too_long = client_too_long,
	.closed = client_closed,
	.drained = drained,
};

static const struct conn_ops service_ops = {
	.line = from_service,
	.too_long = service_too_long,
	.closed = service_closed,
	.drained = drained,
};

int bridge_run(int fd, const struct bridge_limits *lim)
{
	struct conn_limits cl = {
		.max_line_bytes = lim->max_line_bytes,
		.max_queue_bytes = lim->max_queue_bytes,
	};
	int err;

	memset(&br, 0, sizeof(br));
	br.fd = fd;
	br.max_queue = lim->max_queue_bytes;
	br.max_line = lim->max_line_bytes;
	/* a line passes through whole, so the service's limit applies; ours
	 * only bounds what we buffer */
	br.service = conn_new(fd, fd, true, &cl, &service_ops, &br.service);
	br.client = br.service ? conn_new(0, 1, false, &cl, &client_ops, &br.client) : NULL;
	if (!br.client) {
		err = errno;
		log_err("cannot bridge to the service: %s", strerror(err));
		conn_free(br.service);
		return 1;
	}
	err = loop_run();
	conn_flush(br.client, 1000);
	conn_free(br.client);
	conn_free(br.service);
	for (size_t i = 0; i < br.n_ids; i++)
		free(br.ids[i]);
	free(br.ids);
	free(br.init_id);
	return br.status ? br.status : (err < 0 ? 1 : 0);
}
