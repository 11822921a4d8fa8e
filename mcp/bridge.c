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
#include "protocol.h"

#define PROBE_ID "schedmcp-bridge-probe"
/* the client's requests in flight the bridge remembers; past it the
 * oldest are forgotten (they would only miss their error message) */
#define MAX_TRACKED 10000

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
	if (!cJSON_GetObjectItemCaseSensitive(m, "result") || strlen(buf) + 1 != at) {
		cJSON_Delete(m);
		snprintf(why, why_len, "the service answered the probe oddly");
		return -EPROTO;
	}
	cJSON_Delete(m);
	return 0;
}

static int hand_over(int fd)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"" MCP_HANDOFF_METHOD "\"}\n";
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	struct iovec iov = { (void *)line, sizeof(line) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
	int fds[2] = { STDIN_FILENO, STDOUT_FILENO };

	memset(cm.buf, 0, sizeof(cm.buf));
	h = CMSG_FIRSTHDR(&mh);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(h), fds, sizeof(fds));
	return sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(line) - 1 ? 0 : -errno;
}

static struct {
	char **ids; /* the client's requests in flight, as JSON text */
	size_t n_ids;
	bool initialized, ended;
} br;

static void track(const char *text)
{
	char *copy = strdup(text);

	if (!copy)
		return;
	if (br.n_ids == MAX_TRACKED) {
		free(br.ids[0]);
		memmove(br.ids, br.ids + 1, (br.n_ids - 1) * sizeof(*br.ids));
		br.n_ids--;
	} else {
		char **n = realloc(br.ids, (br.n_ids + 1) * sizeof(*n));

		if (!n) {
			free(copy);
			return;
		}
		br.ids = n;
	}
	br.ids[br.n_ids++] = copy;
}

static void untrack(const char *text)
{
	for (size_t i = 0; i < br.n_ids; i++) {
		if (strcmp(br.ids[i], text) == 0) {
			free(br.ids[i]);
			br.ids[i] = br.ids[--br.n_ids];
			return;
		}
	}
}

/* One control line from the service: what to answer if it goes away. */
static void control(const char *line)
{
	cJSON *m = cJSON_Parse(line), *v;
	char *text;

	if ((v = cJSON_GetObjectItemCaseSensitive(m, "pending")) &&
	    (text = cJSON_PrintUnformatted(v))) {
		track(text);
		free(text);
	} else if ((v = cJSON_GetObjectItemCaseSensitive(m, "settled")) &&
		   (text = cJSON_PrintUnformatted(v))) {
		untrack(text);
		free(text);
	} else if (cJSON_GetObjectItemCaseSensitive(m, "initialized")) {
		br.initialized = true;
	} else if (cJSON_GetObjectItemCaseSensitive(m, "end")) {
		br.ended = true;
	}
	cJSON_Delete(m);
}

/* Write a whole line to the client's stdout, which the service made
 * non-blocking, waiting for room at most a second at a time. */
static void say(const char *line, size_t len)
{
	while (len) {
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		ssize_t n = write(STDOUT_FILENO, line, len);

		if (n > 0) {
			line += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN && poll(&p, 1, 1000) > 0) {
			continue;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			return;
		}
	}
}

/* The service is gone: every request it had in flight hears so, once.
 * (The service writes each message whole with one writev; only a death in
 * the middle of one could leave it cut, and a newline written for that
 * unlikely case would be an empty line every client has to skip.) */
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
				 "\"message\":\"%s\"}}\n",
				 br.ids[i], MCP_SERVICE_GONE, reason);

		if (n > 0 && (size_t)n < sizeof(line))
			say(line, (size_t)n);
	}
	if (!br.n_ids && br.initialized) {
		int n = snprintf(line, sizeof(line),
				 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
				 "\"params\":{\"level\":\"error\",\"logger\":\"schedmcp\","
				 "\"data\":\"the schedmcp service went away; the session ended. "
				 "Start the service again (systemctl start schedmcp) or restart this "
				 "MCP server to run schedmcp in-process.\"}}\n");

		say(line, (size_t)n);
	}
}

int bridge_run(int fd, int stop_fd)
{
	char buf[4096];
	size_t at = 0;
	int err = hand_over(fd);

	if (err) {
		log_err("cannot hand the session over to the service: %s", strerror(-err));
		close(fd);
		return 1;
	}
	/* the service reads stdin and writes stdout itself now; what comes
	 * here is only what to answer if it dies */
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN } };
		ssize_t n;
		char *nl;

		if (poll(p, stop_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (stop_fd >= 0 && p[1].revents) {
			/* asked to stop, as the in-process server would be: closing
			 * the socket ends the session, and the service cancels
			 * what it had in flight */
			log_info("signal received; ending the session");
			br.ended = true;
			break;
		}
		n = read(fd, buf + at, sizeof(buf) - at);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		at += (size_t)n;
		while ((nl = memchr(buf, '\n', at))) {
			*nl = '\0';
			control(buf);
			at -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, at);
		}
		if (at == sizeof(buf))
			at = 0; /* no control line is this long: drop it */
	}
	close(fd);
	if (!br.ended)
		service_lost();
	for (size_t i = 0; i < br.n_ids; i++)
		free(br.ids[i]);
	free(br.ids);
	return br.ended ? 0 : 1;
}
