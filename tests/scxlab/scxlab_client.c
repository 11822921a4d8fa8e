/* SPDX-License-Identifier: MIT */
/*
 * scxlab-client: the lab's scenario, run inside the sched_ext guest. It
 * starts the daemon with pipes, speaks MCP to it like any client, and,
 * under a load, loads each test scheduler in turn and checks through MCP:
 *
 *   load            the scheduler attached (ground truth from sysfs)
 *   current         scheduler://current: class sched_ext, its ops name, state enabled
 *   notify_load     notifications/resources/updated for scheduler://current (subscribed)
 *   event_load      a scheduler.changed event naming it (poll_events)
 *   dsq_counts      stats://aggregated/dsq shows its DSQs with enqueues and dispatches
 *   dsq_truth       ... that agree with the scheduler's own counts of its inserts and moves
 *   dsq_latency     ... and non-zero DSQ latency percentiles
 *   stream_dsq      sched.* stream events carry DSQ fields naming its DSQs
 *   dsq_metrics     query_history of sched_dsq_latency_ns has a series per DSQ of
 *                   it (label dsq=user:ID) with samples and ordered, plausible
 *                   percentiles; sched_dsq_ran_total agrees with the count
 *   dsq_watch       watch_create on sched_dsq_latency_ns for one of its DSQs works
 *   trace_dsq       trace_record records 2 s under the load with its DSQ tracks;
 *                   trace_load + trace_analyze analysis=dsq find each of its DSQs
 *                   with inserts and a non-zero latency p99, insert counts
 *                   that agree with the scheduler's own over the recording, and
 *                   latency p50 and p99 within 2x of sched_dsq_latency_ns's
 *                   history (stats://aggregated/dsq's) over the same seconds
 *   unload          unloading it while measure_latency collects leaves the daemon
 *                   serving: the call completes, ping answers, scheduler://current
 *                   says fair again, stats://aggregated/dsq still reads
 *   notify_unload, event_unload   the same notifications for the unload
 *
 * The DSQ checks come from the sched_latency plugin; when it is absent or
 * does not serve DSQ data yet they report SKIP with the reason, never PASS.
 * Output: one "RESULT <scheduler> <check> PASS|FAIL|SKIP <detail>" line per
 * check, then a summary with each scheduler's scheduler://current and DSQ
 * latency p50/p99 as the daemon reported them, then "SUMMARY pass=..".
 *
 * usage: scxlab-client --daemon PATH --plugin-dir DIR --sched PATH --load PATH
 *                      [--log FILE] [--collect SECS] NAME...   (NAME: fifo vtime pcpu)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <linux/types.h>

#include "scxlab.h"

#define RPC_TIMEOUT_MS 60000 /* TCG is slow; BPF verification more so */
#define MAX_STASH 16
#define MAX_DSQS 64
#define NOTIFY_WAIT_S 20 /* for a scheduler://current notification or event */

/* ------------------------------------------------------------ utilities */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_start;

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
	va_list ap;

	printf("INFO [%6.1f] ", now_s() - t_start);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return (int)n;
}

static pid_t spawn(char *const argv[], const char *out_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out_path ? out_path : "/dev/null",
			      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait up to timeout_s for pid; its exit status, or -1 if still running. */
static int wait_exit(pid_t pid, double timeout_s)
{
	double end = now_s() + timeout_s;
	int st;

	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (r < 0)
			return -2;
		usleep(20 * 1000);
	} while (now_s() < end);
	return -1;
}

static void cat_file_except(const char *prefix, const char *path, const char *skip)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (skip && strstr(line, skip))
			continue;
		line[strcspn(line, "\n")] = '\0';
		info("%s%s", prefix, line);
	}
	fclose(f);
}

static void cat_file(const char *prefix, const char *path)
{
	cat_file_except(prefix, path, NULL);
}

/* Append to a NUL-terminated buffer, "; "-separated, cut at its size. */
static void appendf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n && n + 2 < size) {
		memcpy(buf + n, "; ", 3);
		n += 2;
	}
	if (n + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------- results */

static int n_pass, n_fail, n_skip;

static void result(const char *sched, const char *check, const char *verdict, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
static void result(const char *sched, const char *check, const char *verdict, const char *fmt,
		   ...)
{
	va_list ap;

	if (strcmp(verdict, "PASS") == 0)
		n_pass++;
	else if (strcmp(verdict, "FAIL") == 0)
		n_fail++;
	else
		n_skip++;
	printf("RESULT %s %s %s ", sched, check, verdict);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" [t=%.1f s]\n", now_s() - t_start);
	fflush(stdout);
}

/* ---------------------------------------------------------- MCP client */

struct conn {
	pid_t pid;
	int to, from; /* daemon stdin, stdout */
	char *buf;
	size_t len, cap;
	int next_id;
	bool eof;
	cJSON *stash[MAX_STASH]; /* responses that arrived while waiting for another id */
	unsigned sched_updates;  /* notifications/resources/updated for scheduler://current */
	unsigned dsq_updates;
	unsigned other_notifications;
};

static int conn_start(struct conn *c, char *const argv[], const char *log)
{
	int in[2], out[2];

	memset(c, 0, sizeof(*c));
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (c->pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(in[0], 0);
		dup2(out[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = in[1];
	c->from = out[0];
	c->cap = 1 << 16;
	c->buf = malloc(c->cap);
	c->next_id = 1;
	return c->buf ? 0 : -ENOMEM;
}

static int send_json(struct conn *c, cJSON *msg)
{
	char *text = cJSON_PrintUnformatted(msg);
	size_t len, off = 0;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; written by length */
	while (off < len) {
		ssize_t n = write(c->to, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(text);
			return -EPIPE;
		}
		off += (size_t)n;
	}
	free(text);
	return 0;
}

/* Next message from the daemon, or NULL on timeout or end of file. */
static cJSON *read_msg(struct conn *c, int timeout_ms)
{
	double end = now_s() + timeout_ms / 1000.0;

	for (;;) {
		char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;

		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			cJSON *m;

			*nl = '\0';
			m = cJSON_Parse(c->buf);
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			if (m)
				return m;
			info("unparsable line from the daemon (ignored)");
			continue;
		}
		if (c->eof)
			return NULL;
		if (c->len == c->cap) {
			char *nb = realloc(c->buf, c->cap * 2);

			if (!nb)
				return NULL;
			c->buf = nb;
			c->cap *= 2;
		}
		{
			int left = (int)((end - now_s()) * 1000);
			struct pollfd pfd = { .fd = c->from, .events = POLLIN };
			ssize_t n;

			if (left <= 0)
				return NULL;
			if (poll(&pfd, 1, left) <= 0)
				continue;
			n = read(c->from, c->buf + c->len, c->cap - c->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				c->eof = true;
				continue;
			}
			c->len += (size_t)n;
		}
	}
}

static void on_notification(struct conn *c, cJSON *m)
{
	const cJSON *method = cJSON_GetObjectItemCaseSensitive(m, "method");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(m, "params");
	const cJSON *uri = cJSON_GetObjectItemCaseSensitive(params, "uri");

	if (cJSON_IsString(method) && strcmp(method->valuestring, "notifications/resources/updated") == 0 &&
	    cJSON_IsString(uri)) {
		if (strcmp(uri->valuestring, "scheduler://current") == 0)
			c->sched_updates++;
		else if (strcmp(uri->valuestring, "stats://aggregated/dsq") == 0)
			c->dsq_updates++;
		else
			c->other_notifications++;
		return;
	}
	c->other_notifications++;
}

/* Read whatever is pending (notifications) for up to ms. */
static void pump(struct conn *c, int ms)
{
	double end = now_s() + ms / 1000.0;

	for (;;) {
		int left = (int)((end - now_s()) * 1000);
		cJSON *m;

		if (left <= 0)
			return;
		m = read_msg(c, left);
		if (!m)
			return;
		if (cJSON_GetObjectItemCaseSensitive(m, "id") &&
		    !cJSON_GetObjectItemCaseSensitive(m, "method")) {
			for (int i = 0; i < MAX_STASH; i++)
				if (!c->stash[i]) {
					c->stash[i] = m;
					m = NULL;
					break;
				}
		} else {
			on_notification(c, m);
		}
		cJSON_Delete(m);
	}
}

static int send_request(struct conn *c, const char *method, cJSON *params)
{
	cJSON *req = cJSON_CreateObject();
	int id = c->next_id++, err;

	cJSON_AddStringToObject(req, "jsonrpc", "2.0");
	cJSON_AddNumberToObject(req, "id", id);
	cJSON_AddStringToObject(req, "method", method);
	if (params)
		cJSON_AddItemToObject(req, "params", params);
	err = send_json(c, req);
	cJSON_Delete(req);
	return err ? err : id;
}

/* The response to id (the whole message), or NULL with err set. */
static cJSON *wait_response(struct conn *c, int id, int timeout_ms, char *err, size_t errlen)
{
	double end = now_s() + timeout_ms / 1000.0;

	for (int i = 0; i < MAX_STASH; i++) {
		cJSON *m = c->stash[i];

		if (m && cJSON_GetObjectItemCaseSensitive(m, "id")->valuedouble == id) {
			c->stash[i] = NULL;
			return m;
		}
	}
	for (;;) {
		int left = (int)((end - now_s()) * 1000);
		cJSON *m, *mid;

		if (left <= 0) {
			snprintf(err, errlen, "no answer within %d s", timeout_ms / 1000);
			return NULL;
		}
		m = read_msg(c, left);
		if (!m) {
			if (c->eof) {
				snprintf(err, errlen, "the daemon closed its output (exited?)");
				return NULL;
			}
			continue;
		}
		mid = cJSON_GetObjectItemCaseSensitive(m, "id");
		if (mid && !cJSON_GetObjectItemCaseSensitive(m, "method")) {
			if (cJSON_IsNumber(mid) && mid->valuedouble == id)
				return m;
			for (int i = 0; i < MAX_STASH; i++)
				if (!c->stash[i]) {
					c->stash[i] = m;
					m = NULL;
					break;
				}
			cJSON_Delete(m);
			continue;
		}
		if (mid) {
			/* a server-to-client request: we declare no capabilities */
			cJSON *r = cJSON_CreateObject(), *e = cJSON_CreateObject();

			cJSON_AddStringToObject(r, "jsonrpc", "2.0");
			cJSON_AddItemToObject(r, "id", cJSON_Duplicate(mid, true));
			cJSON_AddNumberToObject(e, "code", -32601);
			cJSON_AddStringToObject(e, "message", "not supported by scxlab-client");
			cJSON_AddItemToObject(r, "error", e);
			(void)send_json(c, r);
			cJSON_Delete(r);
		} else {
			on_notification(c, m);
		}
		cJSON_Delete(m);
	}
}

/* The result of a response (detached), or NULL with err set. */
static cJSON *take_result(cJSON *resp, char *err, size_t errlen)
{
	cJSON *r, *e;

	if (!resp)
		return NULL;
	e = cJSON_GetObjectItemCaseSensitive(resp, "error");
	if (e) {
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");

		snprintf(err, errlen, "JSON-RPC error %d: %s", code ? code->valueint : 0,
			 cJSON_IsString(msg) ? msg->valuestring : "?");
		cJSON_Delete(resp);
		return NULL;
	}
	r = cJSON_DetachItemFromObjectCaseSensitive(resp, "result");
	cJSON_Delete(resp);
	if (!r)
		snprintf(err, errlen, "response without result");
	return r;
}

static cJSON *rpc(struct conn *c, const char *method, cJSON *params, char *err, size_t errlen)
{
	int id = send_request(c, method, params);

	if (id < 0) {
		snprintf(err, errlen, "cannot write to the daemon: %s", strerror(-id));
		return NULL;
	}
	return take_result(wait_response(c, id, RPC_TIMEOUT_MS, err, errlen), err, errlen);
}

/* resources/read of a JSON resource: the parsed text, or NULL with err. */
static cJSON *read_resource(struct conn *c, const char *uri, char *err, size_t errlen)
{
	cJSON *p = cJSON_CreateObject(), *r, *text, *out;

	cJSON_AddStringToObject(p, "uri", uri);
	r = rpc(c, "resources/read", p, err, errlen);
	if (!r)
		return NULL;
	text = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "contents"), 0), "text");
	out = cJSON_IsString(text) ? cJSON_Parse(text->valuestring) : NULL;
	if (!out)
		snprintf(err, errlen, "%s: no JSON text in the contents", uri);
	cJSON_Delete(r);
	return out;
}

/* A tool result's JSON (structuredContent, else its text parsed), or NULL
 * with err. *is_error gets isError. */
static cJSON *tool_result(cJSON *r, bool *is_error, char *err, size_t errlen)
{
	cJSON *sc, *text, *out = NULL;

	if (!r)
		return NULL;
	*is_error = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "isError"));
	sc = cJSON_GetObjectItemCaseSensitive(r, "structuredContent");
	text = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "content"), 0), "text");
	if (sc && !*is_error)
		out = cJSON_Duplicate(sc, true);
	else if (cJSON_IsString(text)) {
		out = cJSON_Parse(text->valuestring);
		if (!out) { /* error text is prose */
			out = cJSON_CreateObject();
			cJSON_AddStringToObject(out, "text", text->valuestring);
		}
	}
	if (!out)
		snprintf(err, errlen, "tool result without content");
	cJSON_Delete(r);
	return out;
}

static cJSON *call_tool(struct conn *c, const char *name, cJSON *args, bool *is_error, char *err,
			size_t errlen)
{
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "name", name);
	cJSON_AddItemToObject(p, "arguments", args ? args : cJSON_CreateObject());
	return tool_result(rpc(c, "tools/call", p, err, errlen), is_error, err, errlen);
}

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool jnum(const cJSON *o, const char *key, double *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*ret = v->valuedouble;
	return true;
}

static const char *or(const char *s, const char *def)
{
	return s ? s : def;
}

/* ------------------------------------------------------------ scenario */

struct sched_def {
	const char *arg, *ops;
	int ndsq; /* filled at run time for pcpu */
	unsigned dsq[MAX_DSQS];
};

struct report {
	char current[512];   /* scheduler://current, as read while loaded */
	char dsq[MAX_DSQS][256]; /* per DSQ latency line */
	int ndsq;
	char dsq_skip[512];  /* why there are no DSQ lines */
};

struct lab {
	struct conn c;
	const char *sched_path, *load_path;
	double collect_s;
	bool have_sl;           /* sched_latency loaded */
	char sl_reason[512];    /* why not, or what it said */
	bool have_tr, have_ta;  /* trace_record, trace_analysis serve */
	char tr_reason[512];    /* why not */
	bool stream_on;
	char stream_reason[512];
	int sched_cursor;       /* poll_events cursors */
	int stream_cursor;
};

/* Drain poll_events of a type prefix from *cursor; calls fn per event. */
static int poll_all(struct lab *L, const char *type, int *cursor, int max_pages,
		    void (*fn)(const cJSON *ev, void *arg), void *arg, char *err, size_t errlen)
{
	int total = 0;

	for (int page = 0; page < max_pages; page++) {
		cJSON *a = cJSON_CreateObject(), *r;
		const cJSON *evs, *ev;
		bool is_err = false, more;
		double next;

		if (*cursor > 0)
			cJSON_AddNumberToObject(a, "cursor", *cursor);
		cJSON_AddNumberToObject(a, "limit", 100);
		cJSON_AddStringToObject(a, "type", type);
		r = call_tool(&L->c, "poll_events", a, &is_err, err, errlen);
		if (!r)
			return -1;
		if (is_err) {
			snprintf(err, errlen, "poll_events: %s", or(jstr(r, "text"), "isError"));
			cJSON_Delete(r);
			return -1;
		}
		evs = cJSON_GetObjectItemCaseSensitive(r, "events");
		cJSON_ArrayForEach(ev, evs) {
			if (fn)
				fn(ev, arg);
			total++;
		}
		if (jnum(r, "next_cursor", &next))
			*cursor = (int)next;
		more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "has_more"));
		cJSON_Delete(r);
		if (!more)
			break;
	}
	return total;
}

/* Move a poll_events cursor to the present without reading what is before. */
static void skip_to_present(struct lab *L, int *cursor)
{
	cJSON *a = cJSON_CreateObject(), *r;
	char err[256];
	bool is_err = false;
	double latest;

	cJSON_AddNumberToObject(a, "limit", 1);
	r = call_tool(&L->c, "poll_events", a, &is_err, err, sizeof(err));
	if (r && !is_err && jnum(r, "latest_seq", &latest))
		*cursor = (int)latest + 1;
	cJSON_Delete(r);
}

struct change_match {
	const char *to_name, *to_class;
	bool found;
	char seen[256];
};

static void match_change(const cJSON *ev, void *arg)
{
	struct change_match *m = arg;
	const char *name = jstr(ev, "to_name"), *cls = jstr(ev, "to_class");

	snprintf(m->seen, sizeof(m->seen), "%s -> %s (%s)", or(jstr(ev, "from_name"), "?"),
		 or(name, "?"), or(cls, "?"));
	if (cls && strcmp(cls, m->to_class) == 0 && (!m->to_name || (name && strcmp(name, m->to_name) == 0)))
		m->found = true;
}

/* Wait for the scheduler://current notification and the scheduler.changed
 * event after a load (to_name set) or unload (to_name NULL: class fair). */
static void check_change(struct lab *L, const char *sched, const char *what, unsigned before,
			 const char *to_name, const char *to_class)
{
	struct change_match m = { .to_name = to_name, .to_class = to_class };
	double t0 = now_s(), waited;
	char err[512] = "", check[32];

	/* the plugin polls sysfs once a second; a slow guest takes longer */
	while (L->c.sched_updates == before && now_s() - t0 < NOTIFY_WAIT_S)
		pump(&L->c, 200);
	waited = now_s() - t0;
	snprintf(check, sizeof(check), "notify_%s", what);
	if (L->c.sched_updates != before)
		result(sched, check, "PASS",
		       "notifications/resources/updated for scheduler://current (%.1f s after the "
		       "%s was seen in sysfs)",
		       waited, what);
	else
		result(sched, check, "FAIL",
		       "no notifications/resources/updated for scheduler://current within %d s of "
		       "the %s (subscribed)",
		       NOTIFY_WAIT_S, what);
	snprintf(check, sizeof(check), "event_%s", what);
	for (double t1 = now_s(); !m.found && now_s() - t1 < NOTIFY_WAIT_S;) {
		if (poll_all(L, "scheduler.", &L->sched_cursor, 10, match_change, &m, err,
			     sizeof(err)) < 0)
			break;
		if (!m.found)
			pump(&L->c, 500);
	}
	if (m.found)
		result(sched, check, "PASS", "poll_events: scheduler.changed %s", m.seen);
	else if (err[0])
		result(sched, check, "FAIL", "poll_events failed: %s", err);
	else
		result(sched, check, "FAIL",
		       "no scheduler.changed event to %s (%s) within %d s; last seen: %s",
		       or(to_name, "any"), to_class, NOTIFY_WAIT_S, m.seen[0] ? m.seen : "none");
}

static bool sysfs_is(const char *state, const char *ops)
{
	char s[64], o[160];

	read_file("/sys/kernel/sched_ext/state", s, sizeof(s));
	if (strcmp(s, state) != 0)
		return false;
	if (!ops)
		return true;
	read_file("/sys/kernel/sched_ext/root/ops", o, sizeof(o));
	return strcmp(o, ops) == 0;
}

static void check_current(struct lab *L, const struct sched_def *d, struct report *rep)
{
	char err[512];
	cJSON *cur = read_resource(&L->c, "scheduler://current", err, sizeof(err));
	const cJSON *scx;
	const char *name, *cls, *ops, *state;
	double seq = -1;

	if (!cur) {
		result(d->ops, "current", "FAIL", "reading scheduler://current: %s", err);
		snprintf(rep->current, sizeof(rep->current), "unreadable: %s", err);
		return;
	}
	scx = cJSON_GetObjectItemCaseSensitive(cur, "sched_ext");
	name = jstr(cur, "name");
	cls = jstr(cur, "class");
	ops = jstr(scx, "ops");
	state = jstr(scx, "state");
	jnum(scx, "enable_seq", &seq);
	snprintf(rep->current, sizeof(rep->current),
		 "name=%s class=%s active=%s sched_ext.state=%s sched_ext.ops=%s "
		 "switch_all=%s enable_seq=%.0f; \"%s\"",
		 or(name, "null"), or(cls, "null"),
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cur, "active")) ? "true" : "false",
		 or(state, "null"), or(ops, "null"),
		 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(scx, "switch_all")) ? "true" : "false",
		 seq, or(jstr(cur, "description"), ""));
	if (cls && name && ops && state && strcmp(cls, "sched_ext") == 0 &&
	    strcmp(name, d->ops) == 0 && strcmp(ops, d->ops) == 0 && strcmp(state, "enabled") == 0)
		result(d->ops, "current", "PASS", "%s", rep->current);
	else
		result(d->ops, "current", "FAIL", "expected class=sched_ext name=ops=%s state=enabled; got %s",
		       d->ops, rep->current);
	cJSON_Delete(cur);
}

/* A counter of a DSQ row, under any of the names sched_latency may use. */
static bool dsq_counter(const cJSON *row, const char *const *names, double *v, const char **which)
{
	for (int i = 0; names[i]; i++)
		if (jnum(row, names[i], v)) {
			*which = names[i];
			return true;
		}
	return false;
}

/* The latency block of a DSQ row: the first member object with p50_us. */
static const cJSON *dsq_latency_block(const cJSON *row, const char **which)
{
	static const char *const pref[] = { "insert_to_run", "dsq_latency", "latency", "wait", NULL };
	const cJSON *m;

	for (int i = 0; pref[i]; i++) {
		m = cJSON_GetObjectItemCaseSensitive(row, pref[i]);
		if (cJSON_IsObject(m)) {
			*which = pref[i];
			return m;
		}
	}
	cJSON_ArrayForEach(m, row) {
		if (cJSON_IsObject(m) && cJSON_GetObjectItemCaseSensitive(m, "samples")) {
			*which = m->string;
			return m;
		}
	}
	return NULL;
}

static bool row_is(const cJSON *row, unsigned id)
{
	double v;
	const char *name = jstr(row, "dsq");
	char want[32];

	if (jnum(row, "id", &v) && (unsigned long long)v == id)
		return true;
	if (jnum(row, "dsq_id", &v) && (unsigned long long)v == id)
		return true;
	snprintf(want, sizeof(want), "user:%u", id);
	return name && (strcmp(name, want) == 0 || (unsigned)atoi(name) == id);
}

/* Rows of the first window object that has a "dsqs" array (since_start
 * first: it covers the whole time this scheduler ran); *span gets the
 * window's span_s (0 when absent). */
static const cJSON *dsq_rows(const cJSON *dsq, const char **window, double *span)
{
	static const char *const pref[] = { "since_start", "10s", "60s", NULL };
	const cJSON *m;

	*span = 0;
	for (int i = 0; pref[i]; i++) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(dsq, pref[i]);
		const cJSON *rows = cJSON_GetObjectItemCaseSensitive(w, "dsqs");

		if (cJSON_IsArray(rows)) {
			*window = pref[i];
			(void)jnum(cJSON_GetObjectItemCaseSensitive(w, "window"), "span_s", span);
			return rows;
		}
	}
	m = cJSON_GetObjectItemCaseSensitive(dsq, "dsqs");
	*window = "top level";
	return cJSON_IsArray(m) ? m : NULL;
}

/* The same verdict for every DSQ check. */
static void dsq_all(const struct sched_def *d, const char *verdict, const char *why)
{
	result(d->ops, "dsq_counts", verdict, "%s", why);
	result(d->ops, "dsq_truth", verdict, "%s", why);
	result(d->ops, "dsq_latency", verdict, "%s", why);
}

/* What scxlab-sched itself counted per DSQ slot (SIGUSR1 -> its log). */
struct truth {
	int n;
	unsigned long long ins[SCXLAB_NDSQ], moved[SCXLAB_NDSQ];
};

static int count_lines(const char *path, const char *needle)
{
	char line[512];
	int n = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static bool sched_truth(struct lab *L, pid_t sp, const char *log, int nslots, struct truth *t)
{
	int before = count_lines(log, "counted so far"), seen = 0;
	double t0 = now_s();
	char line[512];
	FILE *f;

	memset(t, 0, sizeof(*t));
	kill(sp, SIGUSR1);
	while (count_lines(log, "counted so far") < before + nslots && now_s() - t0 < 5)
		pump(&L->c, 50);
	f = fopen(log, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		const char *ins = strstr(line, "inserted "), *mv = strstr(line, "moved to local ");

		if (!strstr(line, "counted so far") || !ins || !mv)
			continue;
		if (seen++ < before)
			continue;
		if (t->n < SCXLAB_NDSQ) {
			t->ins[t->n] = strtoull(ins + 9, NULL, 10);
			t->moved[t->n] = strtoull(mv + 15, NULL, 10);
			t->n++;
		}
	}
	fclose(f);
	return t->n == nslots;
}

static void check_dsq(struct lab *L, const struct sched_def *d, struct report *rep, pid_t sp,
		      const char *sched_log)
{
	static const char *const enq_names[] = { "inserted", "enqueues", "enqueued", "inserted_total",
						 "inserted_per_s", "enqueues_per_s", NULL };
	static const char *const disp_names[] = { "consumed", "dispatches", "dispatched",
						  "consumed_total", "consumed_per_s",
						  "dispatches_per_s", NULL };
	int nslots = d->ndsq < SCXLAB_NDSQ ? d->ndsq : SCXLAB_NDSQ;
	char err[512];
	cJSON *dsq;
	const cJSON *rows;
	const char *window = "", *reason;
	double span = 0;
	struct truth t0, t1;
	bool have_truth;
	int found = 0, with_counts = 0, with_lat = 0, truthful = 0, compared = 0;
	char missing[256] = "", bad_counts[512] = "", bad_lat[512] = "", truth_msg[1024] = "";

	if (!L->have_sl) {
		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip), "sched_latency not loaded: %s", L->sl_reason);
		dsq_all(d, "SKIP", rep->dsq_skip);
		return;
	}
	/* bracket the daemon's answer with the scheduler's own counts */
	have_truth = sched_truth(L, sp, sched_log, nslots, &t0);
	dsq = read_resource(&L->c, "stats://aggregated/dsq", err, sizeof(err));
	have_truth = sched_truth(L, sp, sched_log, nslots, &t1) && have_truth;
	if (!dsq) {
		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip),
			 "sched_latency serves no stats://aggregated/dsq: %s", err);
		dsq_all(d, "SKIP", rep->dsq_skip);
		return;
	}
	reason = jstr(dsq, "reason");
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(dsq, "available"))) {
		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip),
			 "stats://aggregated/dsq says available=false: %s", or(reason, "no reason given"));
		dsq_all(d, "SKIP", rep->dsq_skip);
		cJSON_Delete(dsq);
		return;
	}
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(dsq, "attached"))) {
		const cJSON *hooked = cJSON_GetObjectItemCaseSensitive(dsq, "kfuncs_hooked");
		char *h = hooked ? cJSON_PrintUnformatted(hooked) : NULL;

		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip),
			 "FAIL: DSQ hooks not attached while %s is enabled (kfuncs_hooked %s; see the "
			 "daemon log)",
			 d->ops, h ? h : "?");
		free(h);
		dsq_all(d, "FAIL", rep->dsq_skip + 6);
		cJSON_Delete(dsq);
		return;
	}
	{
		const cJSON *hooked = cJSON_GetObjectItemCaseSensitive(dsq, "kfuncs_hooked");
		char *h = hooked ? cJSON_PrintUnformatted(hooked) : NULL;

		if (h)
			info("%s: stats://aggregated/dsq kfuncs_hooked %s", d->ops, h);
		free(h);
	}
	rows = dsq_rows(dsq, &window, &span);
	if (!rows) {
		char *t = cJSON_PrintUnformatted(dsq);

		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip),
			 "stats://aggregated/dsq has no DSQ rows (\"dsqs\") to read yet: %.200s", t ? t : "");
		free(t);
		dsq_all(d, "SKIP", rep->dsq_skip);
		cJSON_Delete(dsq);
		return;
	}
	for (int i = 0; i < d->ndsq; i++) {
		const cJSON *row = NULL, *r, *lat;
		const char *enq_key = NULL, *disp_key = NULL, *lat_key = NULL;
		double enq = 0, disp = 0, samples = 0, p50 = 0, p99 = 0, depth = -1;
		bool have_enq, have_disp, have_lat;

		cJSON_ArrayForEach(r, rows)
			if (row_is(r, d->dsq[i]))
				row = r;
		if (!row) {
			size_t n = strlen(missing);

			snprintf(missing + n, sizeof(missing) - n, "%s%u", n ? "," : "", d->dsq[i]);
			continue;
		}
		found++;
		have_enq = dsq_counter(row, enq_names, &enq, &enq_key) && enq > 0;
		have_disp = dsq_counter(row, disp_names, &disp, &disp_key) && disp > 0;
		lat = dsq_latency_block(row, &lat_key);
		have_lat = lat && jnum(lat, "samples", &samples) && samples > 0 &&
			   jnum(lat, "p50_us", &p50) && jnum(lat, "p99_us", &p99) && p50 > 0 && p99 > 0;
		if (!jnum(row, "depth_now", &depth))
			(void)jnum(row, "depth", &depth);
		if (have_enq && have_disp)
			with_counts++;
		else {
			size_t n = strlen(bad_counts);

			snprintf(bad_counts + n, sizeof(bad_counts) - n, "%s%u: %s=%g %s=%g", n ? "; " : "",
				 d->dsq[i], or(enq_key, "(no enqueue counter)"), enq,
				 or(disp_key, "(no dispatch counter)"), disp);
		}
		/*
		 * The truth: the scheduler counted its own inserts and moves just
		 * before and just after the read. The daemon may miss the first
		 * second (its hooks attach on its next tick after the scheduler
		 * enables), so it may count less, but never more.
		 */
		if (have_truth && have_enq && have_disp && i < t0.n &&
		    !(d->ndsq > SCXLAB_NDSQ && i == SCXLAB_NDSQ - 1)) {
			bool rate_e = strstr(enq_key, "_per_s") != NULL;
			bool rate_d = strstr(disp_key, "_per_s") != NULL;
			double ce = rate_e ? enq * span : enq, cd = rate_d ? disp * span : disp;
			bool ok_e, ok_d;
			size_t n = strlen(truth_msg);

			if ((rate_e || rate_d) && span <= 0)
				goto no_truth;
			compared++;
			ok_e = ce <= (double)t1.ins[i] * 1.05 + 10 && ce >= (double)t0.ins[i] * 0.5;
			ok_d = cd <= (double)t1.moved[i] * 1.05 + 10 && cd >= (double)t0.moved[i] * 0.5;
			truthful += ok_e && ok_d;
			snprintf(truth_msg + n, sizeof(truth_msg) - n,
				 "%sDSQ %u: daemon inserted %.0f%s, consumed %.0f%s; scheduler inserted "
				 "%llu..%llu, moved %llu..%llu",
				 n ? "; " : "", d->dsq[i], ce, ok_e ? "" : " (WRONG)", cd,
				 ok_d ? "" : " (WRONG)", t0.ins[i], t1.ins[i], t0.moved[i], t1.moved[i]);
		}
no_truth:
		if (have_lat)
			with_lat++;
		else {
			size_t n = strlen(bad_lat);

			snprintf(bad_lat + n, sizeof(bad_lat) - n, "%s%u: %s samples=%g p50=%g p99=%g",
				 n ? "; " : "", d->dsq[i], or(lat_key, "(no latency block)"), samples, p50, p99);
		}
		if (rep->ndsq < MAX_DSQS) {
			char depth_s[32] = "";

			if (depth >= 0)
				snprintf(depth_s, sizeof(depth_s), ", depth_now %.0f", depth);
			if (lat && samples > 0)
				snprintf(rep->dsq[rep->ndsq++], sizeof(rep->dsq[0]),
					 "DSQ %-5u %s: p50 %.1f us, p99 %.1f us (samples %.0f); %s %.1f, %s %.1f%s",
					 d->dsq[i], window, p50, p99, samples, or(enq_key, "enqueues"), enq,
					 or(disp_key, "dispatches"), disp, depth_s);
			else
				snprintf(rep->dsq[rep->ndsq++], sizeof(rep->dsq[0]),
					 "DSQ %-5u %s: no latency samples; %s %.1f, %s %.1f%s", d->dsq[i],
					 window, or(enq_key, "enqueues"), enq, or(disp_key, "dispatches"), disp,
					 depth_s);
		}
	}
	if (!found) {
		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip),
			 "FAIL: none of its DSQs (%s) in stats://aggregated/dsq (%s) although the hooks "
			 "are attached",
			 missing, window);
		dsq_all(d, "FAIL", rep->dsq_skip + 6);
		cJSON_Delete(dsq);
		return;
	}
	if (with_counts == d->ndsq)
		result(d->ops, "dsq_counts", "PASS", "%d DSQs with enqueues and dispatches (%s)", found,
		       window);
	else
		result(d->ops, "dsq_counts", "FAIL", "%d/%d DSQs with enqueues and dispatches%s%s%s%s",
		       with_counts, d->ndsq, missing[0] ? "; missing: " : "", missing,
		       bad_counts[0] ? "; " : "", bad_counts);
	if (!have_truth)
		result(d->ops, "dsq_truth", "SKIP", "scxlab-sched did not report its own counts (SIGUSR1)");
	else if (!compared)
		result(d->ops, "dsq_truth", "SKIP",
		       "no DSQ row with enqueue and dispatch counts (or rates and a span) to compare");
	else if (truthful == compared)
		result(d->ops, "dsq_truth", "PASS",
		       "the daemon's counts agree with the scheduler's own (never more, at least half): %s",
		       truth_msg);
	else
		result(d->ops, "dsq_truth", "FAIL",
		       "the daemon's counts disagree with the scheduler's own (%s window x span_s %.1f s): %s",
		       window, span, truth_msg);
	if (with_lat == d->ndsq)
		result(d->ops, "dsq_latency", "PASS", "%d DSQs with non-zero p50/p99 (%s)", found, window);
	else
		result(d->ops, "dsq_latency", "FAIL", "%d/%d DSQs with non-zero latency percentiles%s%s%s%s",
		       with_lat, d->ndsq, missing[0] ? "; missing: " : "", missing,
		       bad_lat[0] ? "; " : "", bad_lat);
	cJSON_Delete(dsq);
}

/*
 * The DSQ metrics through the core's history: what stats://aggregated/dsq
 * shows must also be in query_history, labelled by DSQ, since the
 * scheduler was enabled (t_enabled, now_s() time).
 */
static void check_dsq_metrics(struct lab *L, const struct sched_def *d, double t_enabled)
{
	char err[512], start[32], bad[1024] = "", ok_list[1024] = "", first[48] = "";
	int good = 0, window_s;
	bool is_err = false;
	cJSON *a, *r, *rr;
	const cJSON *series, *sr, *ran_series;

	if (!L->have_sl) {
		result(d->ops, "dsq_metrics", "SKIP", "sched_latency not loaded: %s", L->sl_reason);
		result(d->ops, "dsq_watch", "SKIP", "sched_latency not loaded: %s", L->sl_reason);
		return;
	}
	window_s = (int)(now_s() - t_enabled) + 2;
	snprintf(start, sizeof(start), "-%ds", window_s);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "metric", "sched_dsq_latency_ns");
	cJSON_AddStringToObject(a, "start", start);
	cJSON_AddNumberToObject(a, "limit", 50);
	r = call_tool(&L->c, "query_history", a, &is_err, err, sizeof(err));
	series = r ? cJSON_GetObjectItemCaseSensitive(r, "series") : NULL;
	if (!r || is_err || !cJSON_IsArray(series)) {
		char *t = r ? cJSON_PrintUnformatted(r) : NULL;

		result(d->ops, "dsq_metrics", "FAIL", "query_history sched_dsq_latency_ns (start %s): %.300s",
		       start, t ? t : err);
		result(d->ops, "dsq_watch", "SKIP", "no DSQ series to watch");
		free(t);
		cJSON_Delete(r);
		return;
	}
	/* the ran counter of the same DSQs: its increase is the histogram's count,
	 * give or take the steps that closed between the two queries (at a few
	 * thousand runs a second one step is over 10% of an 8 s window) */
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "metric", "sched_dsq_ran_total");
	cJSON_AddStringToObject(a, "start", start);
	cJSON_AddNumberToObject(a, "limit", 50);
	rr = call_tool(&L->c, "query_history", a, &is_err, err, sizeof(err));
	ran_series = rr ? cJSON_GetObjectItemCaseSensitive(rr, "series") : NULL;
	for (int i = 0; i < d->ndsq; i++) {
		char want[32];
		const cJSON *sum = NULL, *rs;
		double count = 0, p50 = 0, p99 = 0, max = 0, ran = -1;
		size_t n;

		snprintf(want, sizeof(want), "user:%u", d->dsq[i]);
		cJSON_ArrayForEach(sr, series) {
			const char *v = jstr(cJSON_GetObjectItemCaseSensitive(sr, "labels"), "dsq");

			if (v && strcmp(v, want) == 0)
				sum = cJSON_GetObjectItemCaseSensitive(sr, "summary");
		}
		cJSON_ArrayForEach(rs, ran_series) {
			const char *v = jstr(cJSON_GetObjectItemCaseSensitive(rs, "labels"), "dsq");

			if (v && strcmp(v, want) == 0)
				(void)jnum(cJSON_GetObjectItemCaseSensitive(rs, "summary"), "increase", &ran);
		}
		n = strlen(bad);
		if (!sum) {
			snprintf(bad + n, sizeof(bad) - n, "%s%s: no series", n ? "; " : "", want);
			continue;
		}
		(void)jnum(sum, "count", &count);
		(void)jnum(sum, "p50", &p50);
		(void)jnum(sum, "p99", &p99);
		(void)jnum(sum, "max", &max);
		/* ns; TCG is slow, but not a minute slow */
		if (count > 0 && p50 > 0 && p50 <= p99 && (max <= 0 || p99 <= max) && p99 < 60e9 &&
		    (ran < 0 || (ran > count ? ran - count : count - ran) <=
					 count * 0.1 + 2 * count / window_s + 5)) {
			good++;
			if (!first[0])
				snprintf(first, sizeof(first), "%s", want);
			n = strlen(ok_list);
			snprintf(ok_list + n, sizeof(ok_list) - n,
				 "%s%s count %.0f p50 %.1f us p99 %.1f us%s", n ? "; " : "", want, count,
				 p50 / 1e3, p99 / 1e3, ran >= 0 ? "" : " (no ran_total series)");
			if (ran >= 0) {
				n = strlen(ok_list);
				snprintf(ok_list + n, sizeof(ok_list) - n, " ran_total +%.0f", ran);
			}
		} else {
			snprintf(bad + n, sizeof(bad) - n,
				 "%s%s: count %g p50 %g p99 %g max %g ns, ran_total +%g", n ? "; " : "",
				 want, count, p50, p99, max, ran);
		}
	}
	/* for the record, what the last 3 s (all under this scheduler) hold:
	 * every dsq label with its count, and the depth gauge's series */
	{
		static const char *const names[] = { "sched_dsq_latency_ns", "sched_dsq_depth" };
		char others[2][256] = { "", "" };

		for (int k = 0; k < 2; k++) {
			cJSON *q;
			const cJSON *qs;

			a = cJSON_CreateObject();
			cJSON_AddStringToObject(a, "metric", names[k]);
			cJSON_AddStringToObject(a, "start", "-3s");
			cJSON_AddNumberToObject(a, "limit", 50);
			q = call_tool(&L->c, "query_history", a, &is_err, err, sizeof(err));
			qs = q ? cJSON_GetObjectItemCaseSensitive(q, "series") : NULL;
			cJSON_ArrayForEach(sr, qs) {
				const char *v = jstr(cJSON_GetObjectItemCaseSensitive(sr, "labels"), "dsq");
				const cJSON *sm = cJSON_GetObjectItemCaseSensitive(sr, "summary");
				double x = -1;
				size_t n = strlen(others[k]);

				if (jnum(sm, k ? "mean" : "count", &x))
					snprintf(others[k] + n, sizeof(others[k]) - n, "%s%s=%g",
						 n ? "," : "", or(v, "?"), x);
				else /* an earlier scheduler's DSQ, no longer published */
					snprintf(others[k] + n, sizeof(others[k]) - n, "%s%s=no data",
						 n ? "," : "", or(v, "?"));
			}
			cJSON_Delete(q);
		}
		size_t n = strlen(ok_list);
		snprintf(ok_list + n, sizeof(ok_list) - n,
			 " [last 3 s: latency count %s; depth mean %s]", others[0], others[1]);
	}
	if (good == d->ndsq)
		result(d->ops, "dsq_metrics", "PASS", "query_history %s: %s", start, ok_list);
	else
		result(d->ops, "dsq_metrics", "FAIL", "%d/%d DSQs with a sane series (%s): %s%s%s", good,
		       d->ndsq, start, bad, ok_list[0] ? "; good: " : "", ok_list);
	cJSON_Delete(r);
	cJSON_Delete(rr);
	if (!first[0]) {
		result(d->ops, "dsq_watch", "SKIP", "no DSQ series to watch");
		return;
	}
	{
		char labels[64], name[64];
		double id = -1;
		cJSON *w;

		snprintf(labels, sizeof(labels), "dsq=%s", first);
		snprintf(name, sizeof(name), "scxlab-%s", d->arg);
		a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "metric", "sched_dsq_latency_ns");
		cJSON_AddStringToObject(a, "labels", labels);
		cJSON_AddStringToObject(a, "condition", "p99 > 30s");
		cJSON_AddStringToObject(a, "name", name);
		w = call_tool(&L->c, "watch_create", a, &is_err, err, sizeof(err));
		(void)jnum(cJSON_GetArrayItem(w ? cJSON_GetObjectItemCaseSensitive(w, "watch") : NULL, 0),
			   "id", &id);
		if (!w || is_err || id < 0) {
			char *t = w ? cJSON_PrintUnformatted(w) : NULL;

			result(d->ops, "dsq_watch", "FAIL", "watch_create sched_dsq_latency_ns %s: %.300s",
			       labels, t ? t : err);
			free(t);
		} else {
			cJSON *del;

			a = cJSON_CreateObject();
			cJSON_AddNumberToObject(a, "id", id);
			del = call_tool(&L->c, "watch_delete", a, &is_err, err, sizeof(err));
			result(d->ops, "dsq_watch", del && !is_err ? "PASS" : "FAIL",
			       "watch %.0f on sched_dsq_latency_ns{%s} p99 > 30s created%s", id, labels,
			       del && !is_err ? " and deleted" : ", but watch_delete failed");
			cJSON_Delete(del);
		}
		cJSON_Delete(w);
	}
}

#define SCAN_TYPES 8

struct stream_scan {
	const struct sched_def *d;
	int events, with_dsq, matching;
	struct {
		char type[32];
		int events, with_dsq;
	} by_type[SCAN_TYPES]; /* which kinds of events name a DSQ */
	int ntypes;
	bool switch_match; /* a sched.switch names its DSQ: the sample shows one */
	char keys[256];    /* the keys of one event, for the SKIP reason */
	char sample[400];  /* one DSQ-carrying event */
};

static bool value_names_dsq(const cJSON *v, const struct sched_def *d)
{
	for (int i = 0; i < d->ndsq; i++) {
		char want[32];

		if (cJSON_IsNumber(v) && (unsigned long long)v->valuedouble == d->dsq[i])
			return true;
		snprintf(want, sizeof(want), "user:%u", d->dsq[i]);
		if (cJSON_IsString(v) && (strcmp(v->valuestring, want) == 0 ||
					  (unsigned)atoi(v->valuestring) == d->dsq[i]))
			return true;
	}
	return false;
}

static void scan_stream(const cJSON *ev, void *arg)
{
	struct stream_scan *s = arg;
	const char *type = or(jstr(ev, "type"), "?");
	const cJSON *m;
	bool has = false, match = false;
	int ti;

	s->events++;
	for (ti = 0; ti < s->ntypes && strcmp(s->by_type[ti].type, type); ti++)
		;
	if (ti == s->ntypes && ti < SCAN_TYPES) {
		snprintf(s->by_type[ti].type, sizeof(s->by_type[ti].type), "%s", type);
		s->ntypes++;
	}
	if (ti < SCAN_TYPES)
		s->by_type[ti].events++;
	if (!s->keys[0]) {
		cJSON_ArrayForEach(m, ev) {
			size_t n = strlen(s->keys);

			if (n + 1 >= sizeof(s->keys))
				break;
			snprintf(s->keys + n, sizeof(s->keys) - n, "%s%s", n ? "," : "",
				 or(m->string, "?"));
		}
	}
	cJSON_ArrayForEach(m, ev) {
		if (!m->string || !strcasestr(m->string, "dsq"))
			continue;
		has = true;
		if (value_names_dsq(m, s->d))
			match = true;
		if (cJSON_IsObject(m)) { /* "dsq": {"id": ..} */
			const cJSON *k;

			cJSON_ArrayForEach(k, m)
				if (value_names_dsq(k, s->d))
					match = true;
		}
	}
	if (has) {
		s->with_dsq++;
		if (ti < SCAN_TYPES)
			s->by_type[ti].with_dsq++;
		bool sw = match && strcmp(type, "sched.switch") == 0;

		if (!s->sample[0] || (match && !s->matching) || (sw && !s->switch_match)) {
			char *t = cJSON_PrintUnformatted(ev);

			snprintf(s->sample, sizeof(s->sample), "%s", t ? t : "");
			free(t);
		}
		if (sw)
			s->switch_match = true;
	}
	if (match)
		s->matching++;
}

static void check_stream(struct lab *L, const struct sched_def *d)
{
	struct stream_scan s = { .d = d };
	char err[512] = "", types[256] = "";
	int n = 0;

	if (!L->have_sl) {
		result(d->ops, "stream_dsq", "SKIP", "sched_latency not loaded: %s", L->sl_reason);
		return;
	}
	if (!L->stream_on) {
		result(d->ops, "stream_dsq", "SKIP", "the event stream could not be enabled: %s",
		       L->stream_reason);
		return;
	}
	/* events since the load, a page at a time, until a switch names its DSQs
	 * (the hooks attach up to a tick late, longer on a slow host) */
	for (int page = 0; page < 8 && !s.switch_match; page++) {
		int before = s.events;

		n = poll_all(L, "sched.", &L->stream_cursor, 1, scan_stream, &s, err, sizeof(err));
		if (n <= 0 || s.events == before)
			break;
	}
	if (n >= 0)
		n = s.events;
	if (n < 0) {
		result(d->ops, "stream_dsq", "FAIL", "poll_events failed: %s", err);
		return;
	}
	if (!s.events) {
		result(d->ops, "stream_dsq", "FAIL",
		       "no sched.* stream events while %s ran under load (stream enabled)", d->ops);
		return;
	}
	for (int t = 0; t < s.ntypes; t++) {
		size_t len = strlen(types);

		snprintf(types + len, sizeof(types) - len, "%s%s %d/%d", t ? ", " : "",
			 s.by_type[t].type, s.by_type[t].with_dsq, s.by_type[t].events);
	}
	if (!s.with_dsq) {
		result(d->ops, "stream_dsq", "SKIP",
		       "sched_latency's stream events carry no DSQ fields yet (%d events read; keys "
		       "of one: %s)",
		       s.events, s.keys);
		return;
	}
	if (s.matching)
		result(d->ops, "stream_dsq", "PASS",
		       "%d of %d events carry DSQ fields, %d name its DSQs (by type: %s); e.g. %s",
		       s.with_dsq, s.events, s.matching, types, s.sample);
	else
		result(d->ops, "stream_dsq", "FAIL",
		       "%d of %d events carry DSQ fields but none names its DSQs (by type: %s); e.g. %s",
		       s.with_dsq, s.events, types, s.sample);
}

/* notable.dsq_latency: with nothing enabled for it, a flood of spinners in
 * the scheduler's DSQs (its waits jump from a slice behind one spinner to
 * many slices) is named on the stream within 12 s, by DSQ. */
struct notable_scan {
	const struct sched_def *d;
	bool found;
	int seen;
	char sample[384], other[384];
};

static void scan_notable(const cJSON *ev, void *arg)
{
	struct notable_scan *s = arg;
	const char *type = or(jstr(ev, "type"), "?");
	const char *summary = or(jstr(ev, "summary"), "");

	s->seen++;
	if (strcmp(type, "notable.dsq_latency") == 0 &&
	    value_names_dsq(cJSON_GetObjectItemCaseSensitive(ev, "dsq"), s->d)) {
		if (!s->found)
			snprintf(s->sample, sizeof(s->sample), "%s", summary);
		s->found = true;
	} else if (!s->other[0]) {
		snprintf(s->other, sizeof(s->other), "%s: %s", type, summary);
	}
}

static void check_dsq_notable(struct lab *L, const struct sched_def *d)
{
	struct notable_scan s = { .d = d };
	char err[512] = "";
	char *argv[6] = { (char *)L->load_path, "0", "24", "75", "0", NULL };
	int cursor = 0;
	double t0;
	pid_t lp;

	if (!L->have_sl) {
		result(d->ops, "dsq_notable", "SKIP", "sched_latency not loaded: %s", L->sl_reason);
		return;
	}
	skip_to_present(L, &cursor);
	lp = spawn(argv, "/tmp/scxlab-flood.log");
	t0 = now_s();
	/* 12 s is the goal; past it the flood goes on for up to a minute more,
	 * the machine-wide notable budget's window and the per-series cooldown
	 * (earlier checks' events may hold this one back), and the line says
	 * how late it came */
	while (!s.found && now_s() - t0 < 72) {
		pump(&L->c, 500);
		if (poll_all(L, "notable.", &cursor, 4, scan_notable, &s, err, sizeof(err)) < 0)
			break;
	}
	kill(lp, SIGTERM);
	if (wait_exit(lp, 10) < 0) {
		kill(lp, SIGKILL);
		wait_exit(lp, 10);
	}
	if (err[0])
		result(d->ops, "dsq_notable", "FAIL", "poll_events failed: %s", err);
	else if (s.found)
		result(d->ops, "dsq_notable", "PASS", "after %.1f s of 24 spinners%s: %s",
		       now_s() - t0,
		       now_s() - t0 > 12 ? " (late: held back by the budget or a cooldown)" : "",
		       s.sample);
	else
		result(d->ops, "dsq_notable", "FAIL",
		       "no notable.dsq_latency naming its DSQs within 72 s of 24 spinners (%d notable "
		       "events; first: %s)",
		       s.seen, s.other[0] ? s.other : "none");
}

/*
 * trace_record's DSQ tracks: record 2 s under the load, then trace_load and
 * trace_analyze analysis=dsq. Each of the scheduler's DSQs must be there
 * with inserts and a non-zero latency p99, and its inserts must agree with
 * what the scheduler itself counted, read just before and after the
 * recording, with dsq_truth's tolerance: never more (x1.05 + 10), at least
 * half of what it inserted while the trace's window was open (its share of
 * the truth's window: loading the programs under TCG takes part of it).
 */
/* The whole unix seconds [*a, *b] well inside the recording's window (boot
 * ns): from the second after the first whole one to the second before the
 * last, so that the history's steps (1 s, aligned to the daemon's start)
 * that overlap them lie inside the window too, away from the programs'
 * load and unload, which stall a TCG guest. false when under a second is
 * left. */
static bool inner_seconds(double start_boot_ns, double end_boot_ns, long long *a, long long *b,
			  double *off)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	/* unix seconds = boot seconds + off */
	*off = (double)(rt.tv_sec - bt.tv_sec) + (double)(rt.tv_nsec - bt.tv_nsec) / 1e9;
	*a = (long long)(start_boot_ns / 1e9 + *off) + 2; /* ceil + 1 (positive: no libm) */
	*b = (long long)(end_boot_ns / 1e9 + *off) - 1;
	return *b - *a >= 1;
}

/* sched_latency's sched_dsq_latency_ns over unix seconds [a, b] (the
 * history behind stats://aggregated/dsq). NULL when it cannot be read (why
 * in err). */
static cJSON *dsq_history(struct lab *L, long long a_s, long long b_s, char *err, size_t len)
{
	char s1[32], s2[32];
	bool is_err = false;
	cJSON *a, *r;

	snprintf(s1, sizeof(s1), "%lld", a_s);
	snprintf(s2, sizeof(s2), "%lld", b_s);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "metric", "sched_dsq_latency_ns");
	cJSON_AddStringToObject(a, "start", s1);
	cJSON_AddStringToObject(a, "end", s2);
	cJSON_AddNumberToObject(a, "limit", 50);
	r = call_tool(&L->c, "query_history", a, &is_err, err, len);
	if (r && (is_err || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "series")))) {
		char *t = cJSON_PrintUnformatted(r);

		snprintf(err, len, "query_history %s..%s: %.300s", s1, s2, t ? t : "?");
		free(t);
		cJSON_Delete(r);
		return NULL;
	}
	return r;
}

/* x within a factor of 2 of y: the same log2 bucket or the next, for two
 * measures of one latency (the trace's insert to dispatch, sched_latency's
 * insert to run, in histogram buckets) */
static bool near2(double x, double y)
{
	return x > 0 && y > 0 && x <= 2 * y && y <= 2 * x;
}

static void check_trace_dsq(struct lab *L, const struct sched_def *d, pid_t sp, const char *log)
{
	int nslots = d->ndsq < SCXLAB_NDSQ ? d->ndsq : SCXLAB_NDSQ, good = 0, compared = 0;
	int lat_compared = 0;
	char err[512], herr[512] = "", file[128], msg[3072] = "", bad[1024] = "";
	cJSON *hist = NULL, *rw = NULL;
	const cJSON *wrows = NULL;
	long long in_a = 0, in_b = 0;
	double off = 0;
	double t_call, elapsed, start_ns = 0, end_ns = 0, share;
	struct truth t0, t1;
	bool have_truth, is_err = false;
	const cJSON *dsq, *rows, *row;
	cJSON *a, *r, *rl, *ra;

	if (!L->have_tr || !L->have_ta) {
		result(d->ops, "trace_dsq", "SKIP", "%s", L->tr_reason[0] ? L->tr_reason
				: "trace_record or trace_analysis not listed (not built?)");
		return;
	}
	have_truth = sched_truth(L, sp, log, nslots, &t0);
	a = cJSON_CreateObject();
	/* 5 s: whole seconds inside it for the latencies (inner_seconds) */
	cJSON_AddNumberToObject(a, "duration_s", 5);
	t_call = now_s();
	r = call_tool(&L->c, "trace_record", a, &is_err, err, sizeof(err));
	elapsed = now_s() - t_call;
	have_truth = sched_truth(L, sp, log, nslots, &t1) && have_truth;
	if (!r || is_err) {
		char *t = r ? cJSON_PrintUnformatted(r) : NULL;

		result(d->ops, "trace_dsq", "FAIL", "trace_record: %.400s", t ? t : err);
		free(t);
		cJSON_Delete(r);
		return;
	}
	dsq = cJSON_GetObjectItemCaseSensitive(r, "dsq");
	snprintf(file, sizeof(file), "%s", or(jstr(r, "file"), ""));
	(void)jnum(r, "start_ns", &start_ns);
	(void)jnum(r, "end_ns", &end_ns);
	{
		char *t = cJSON_PrintUnformatted(dsq);

		info("%s: trace_record took %.1f s, window %.2f s, file %s, dsq %s", d->ops, elapsed,
		     (end_ns - start_ns) / 1e9, file, t ? t : "null");
		free(t);
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dsq, "tracks"))) {
		result(d->ops, "trace_dsq", "FAIL", "the recording has no DSQ tracks: %s",
		       or(jstr(dsq, "reason"), "(no reason)"));
		cJSON_Delete(r);
		return;
	}
	cJSON_Delete(r);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "file", file);
	rl = call_tool(&L->c, "trace_load", a, &is_err, err, sizeof(err));
	if (!rl || is_err) {
		char *t = rl ? cJSON_PrintUnformatted(rl) : NULL;

		result(d->ops, "trace_dsq", "FAIL", "trace_load %s: %.400s", file, t ? t : err);
		free(t);
		cJSON_Delete(rl);
		return;
	}
	cJSON_Delete(rl);
	a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "file", file);
	cJSON_AddStringToObject(a, "analysis", "dsq");
	cJSON_AddNumberToObject(a, "limit", 100);
	ra = call_tool(&L->c, "trace_analyze", a, &is_err, err, sizeof(err));
	rows = ra ? cJSON_GetObjectItemCaseSensitive(ra, "rows") : NULL;
	if (!ra || is_err || !cJSON_IsArray(rows)) {
		char *t = ra ? cJSON_PrintUnformatted(ra) : NULL;

		result(d->ops, "trace_dsq", "FAIL", "trace_analyze dsq: %.400s", t ? t : err);
		free(t);
		cJSON_Delete(ra);
		return;
	}
	info("%s: trace_analyze dsq note: %s", d->ops, or(jstr(ra, "note"), ""));
	/* the latencies: the trace's and the history's over the same whole
	 * seconds inside the recording */
	if (!L->have_sl) {
		appendf(msg, sizeof(msg), "latencies not compared: sched_latency not loaded (%s)",
			L->sl_reason);
	} else if (!inner_seconds(start_ns, end_ns, &in_a, &in_b, &off)) {
		appendf(bad, sizeof(bad), "the recording left no whole second to compare latencies");
	} else {
		cJSON *rs;
		double first_ns = 0;

		hist = dsq_history(L, in_a, in_b, herr, sizeof(herr));
		/* trace_analyze's t1_ns/t2_ns count from the trace's first event
		 * (the main programs' attach), not from start_ns (after the DSQ
		 * object's load) */
		a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "file", file);
		cJSON_AddStringToObject(a, "analysis", "summary");
		rs = call_tool(&L->c, "trace_analyze", a, &is_err, err, sizeof(err));
		if (!rs || is_err || !jnum(rs, "first_ts_ns", &first_ns) || first_ns <= 0)
			first_ns = 0;
		cJSON_Delete(rs);
		a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "file", file);
		cJSON_AddStringToObject(a, "analysis", "dsq");
		cJSON_AddNumberToObject(a, "limit", 100);
		cJSON_AddNumberToObject(a, "t1_ns",
					(double)(long long)(((double)in_a - off) * 1e9 - first_ns));
		cJSON_AddNumberToObject(a, "t2_ns",
					(double)(long long)(((double)in_b - off) * 1e9 - first_ns));
		rw = first_ns > 0 ? call_tool(&L->c, "trace_analyze", a, &is_err, err, sizeof(err)) :
				    (cJSON_Delete(a), NULL);
		wrows = rw && !is_err ? cJSON_GetObjectItemCaseSensitive(rw, "rows") : NULL;
		if (!hist || !cJSON_IsArray(wrows))
			appendf(bad, sizeof(bad), "no latencies to compare: %s",
				!hist ? herr : !first_ns ? "no first_ts_ns in the trace's summary" :
				"trace_analyze dsq over the inner seconds failed");
	}
	/* the share of the truth's window the trace covered */
	share = elapsed > 0 ? (end_ns - start_ns) / 1e9 / elapsed : 0;
	if (share > 1)
		share = 1;
	for (int i = 0; i < d->ndsq; i++) {
		char want[16];
		double ins = 0, disp = 0, p99 = 0, p50 = 0, dmax = 0;
		bool ok;

		snprintf(want, sizeof(want), "%u", d->dsq[i]);
		row = NULL;
		cJSON_ArrayForEach(row, rows) {
			const char *k = jstr(row, "dsq");

			if (k && strcmp(k, want) == 0)
				break;
		}
		if (!row) {
			appendf(bad, sizeof(bad), "DSQ %u missing", d->dsq[i]);
			continue;
		}
		(void)jnum(row, "inserts", &ins);
		(void)jnum(row, "dispatches", &disp);
		(void)jnum(row, "latency_p50_ns", &p50);
		(void)jnum(row, "latency_p99_ns", &p99);
		(void)jnum(row, "depth_max", &dmax);
		ok = ins > 0 && p99 > 0;
		if (!ok)
			appendf(bad, sizeof(bad), "DSQ %u: inserts %.0f, p99 %.0f ns",
				d->dsq[i], ins, p99);
		/* the latencies against stats://aggregated/dsq's history over the
		 * same window, where both have 500 samples (a p99 of fewer is
		 * one or two waits) */
		if (hist && cJSON_IsArray(wrows)) {
			const cJSON *sr, *sum = NULL, *wr = NULL;
			double hn = 0, h50 = 0, h99 = 0, wn = 0, w50 = 0, w99 = 0;
			char lab[32];

			cJSON_ArrayForEach(wr, wrows) {
				const char *k = jstr(wr, "dsq");

				if (k && strcmp(k, want) == 0)
					break;
			}
			(void)jnum(wr, "inserts", &wn);
			(void)jnum(wr, "latency_p50_ns", &w50);
			(void)jnum(wr, "latency_p99_ns", &w99);

			snprintf(lab, sizeof(lab), "user:%u", d->dsq[i]);
			cJSON_ArrayForEach(sr, cJSON_GetObjectItemCaseSensitive(hist, "series")) {
				const char *v = jstr(cJSON_GetObjectItemCaseSensitive(sr, "labels"),
						     "dsq");

				if (v && strcmp(v, lab) == 0)
					sum = cJSON_GetObjectItemCaseSensitive(sr, "summary");
			}
			(void)jnum(sum, "count", &hn);
			(void)jnum(sum, "p50", &h50);
			(void)jnum(sum, "p99", &h99);
			if (wn >= 500 && hn >= 500) {
				/* the median and the p99 within 2x (a log2 bucket):
				 * insert to dispatch here, insert to run there, in
				 * histogram buckets */
				bool ok_l = near2(w50, h50) && near2(w99, h99);

				lat_compared++;
				ok = ok && ok_l;
				appendf(msg, sizeof(msg), "DSQ %u latency over %lld s inside the "
					"recording p50 %.1f us, p99 %.1f us (%.0f inserts) against "
					"stats://aggregated/dsq's history %.1f us, %.1f us (%.0f runs)%s",
					d->dsq[i], in_b - in_a, w50 / 1e3, w99 / 1e3, wn, h50 / 1e3,
					h99 / 1e3, hn, ok_l ? "" : " (WRONG: not within 2x)");
			}
		}
		if (have_truth && i < t0.n && !(d->ndsq > SCXLAB_NDSQ && i == SCXLAB_NDSQ - 1)) {
			double delta = (double)(t1.ins[i] - t0.ins[i]);
			bool ok_t = ins <= delta * 1.05 + 10 && ins >= 0.5 * delta * share;

			compared++;
			ok = ok && ok_t;
			appendf(msg, sizeof(msg),
				"DSQ %u: trace inserted %.0f%s (scheduler %.0f over %.1f s, the trace's "
				"share %.2f), dispatched %.0f, p50 %.1f us, p99 %.1f us, depth max %.0f",
				d->dsq[i], ins, ok_t ? "" : " (WRONG)", delta, elapsed,
				share, disp, p50 / 1e3, p99 / 1e3, dmax);
		} else {
			appendf(msg, sizeof(msg), "DSQ %u: trace inserted %.0f, dispatched %.0f, p99 %.1f us",
				d->dsq[i], ins, disp, p99 / 1e3);
		}
		good += ok;
	}
	if (hist && cJSON_IsArray(wrows) && !lat_compared)
		appendf(bad, sizeof(bad), "no DSQ with 500 inserts in the trace and 500 runs in "
			"the history over the same seconds to compare latencies");
	cJSON_Delete(hist);
	cJSON_Delete(rw);
	if (good == d->ndsq && (!have_truth || compared > 0) && (lat_compared || !L->have_sl))
		result(d->ops, "trace_dsq", "PASS", "%d DSQs in the trace%s: %s", good,
		       have_truth ? ", inserts agree with the scheduler's own" : "", msg);
	else
		result(d->ops, "trace_dsq", "FAIL", "%d/%d DSQs as expected%s%s; %s%s", good, d->ndsq,
		       bad[0] ? ": " : "", bad, msg,
		       have_truth ? "" : " (scxlab-sched did not report its own counts)");
	cJSON_Delete(ra);
}

/* Unload while measure_latency collects; then the daemon must still serve. */
static void unload_mid_collection(struct lab *L, const struct sched_def *d, pid_t sp,
				  const char *sched_log)
{
	char err[512] = "", problems[1024] = "";
	int mid = -1, rc;
	double t0;
	bool dsq_ok = true;
	cJSON *r;

#define PROBLEM(...) appendf(problems, sizeof(problems), __VA_ARGS__)

	if (L->have_sl) {
		cJSON *p = cJSON_CreateObject(), *a = cJSON_CreateObject();

		cJSON_AddNumberToObject(a, "duration_s", 4);
		cJSON_AddStringToObject(p, "name", "measure_latency");
		cJSON_AddItemToObject(p, "arguments", a);
		mid = send_request(&L->c, "tools/call", p);
		pump(&L->c, 1500);
	}
	t0 = now_s();
	kill(sp, SIGTERM);
	rc = wait_exit(sp, 30);
	info("%s: scxlab-sched exited with %d %.1f s after SIGTERM", d->ops, rc, now_s() - t0);
	cat_file_except("  ", sched_log, "counted so far");
	if (rc != 0) {
		PROBLEM("scxlab-sched exit status %d", rc);
	}
	while (!sysfs_is("disabled", NULL) && now_s() - t0 < 30)
		usleep(50 * 1000);
	if (!sysfs_is("disabled", NULL)) {
		PROBLEM("sysfs state still not disabled 30 s after SIGTERM");
	}
	if (mid > 0) {
		bool is_err = false;
		cJSON *m = tool_result(take_result(wait_response(&L->c, mid, RPC_TIMEOUT_MS, err,
								   sizeof(err)),
						   err, sizeof(err)),
				       &is_err, err, sizeof(err));

		if (!m) {
			PROBLEM("measure_latency in flight during the unload failed: %s", err);
		} else {
			char *t = cJSON_PrintUnformatted(m);

			info("%s: measure_latency across the unload answered (isError=%s): %.300s", d->ops,
			     is_err ? "true" : "false", t ? t : "");
			if (is_err) {
				PROBLEM("measure_latency across the unload returned isError: %.200s", t ? t : "");
			}
			free(t);
			cJSON_Delete(m);
		}
	}
	r = rpc(&L->c, "ping", NULL, err, sizeof(err));
	if (!r) {
		PROBLEM("ping after the unload: %s", err);
	}
	cJSON_Delete(r);
	/* the plugin polls once a second: give scheduler://current a moment */
	for (int tries = 0; tries < 10; tries++) {
		cJSON *cur = read_resource(&L->c, "scheduler://current", err, sizeof(err));
		const char *cls = jstr(cur, "class");
		bool fair = cls && strcmp(cls, "fair") == 0;

		if (!cur || fair || tries == 9) {
			if (!cur) {
				PROBLEM("scheduler://current after the unload: %s", err);
			} else if (!fair) {
				PROBLEM("scheduler://current still says class %s after the unload", or(cls, "null"));
			}
			cJSON_Delete(cur);
			break;
		}
		cJSON_Delete(cur);
		pump(&L->c, 500);
	}
	if (L->have_sl) {
		cJSON *dsq = NULL;

		for (int tries = 0; tries < 10; tries++) {
			cJSON_Delete(dsq);
			dsq = read_resource(&L->c, "stats://aggregated/dsq", err, sizeof(err));
			if (!dsq || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dsq, "attached")))
				break;
			pump(&L->c, 500);
		}
		if (!dsq) {
			/* absent DSQ support is the SKIP of dsq_*, not a failure here */
			if (!strstr(err, "not found")) {
				PROBLEM("stats://aggregated/dsq after the unload: %s", err);
				dsq_ok = false;
			}
		} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dsq, "attached"))) {
			PROBLEM("stats://aggregated/dsq still says attached 5 s after the unload");
			dsq_ok = false;
		}
		cJSON_Delete(dsq);
	}
	if (problems[0])
		result(d->ops, "unload", "FAIL", "%s", problems);
	else
		result(d->ops, "unload", "PASS", "unloaded %s: scheduler exited cleanly, %sping answers, "
		       "scheduler://current says fair%s",
		       mid > 0 ? "during a measure_latency collection"
			       : "under load (no sched_latency, so no collection to interrupt)",
		       mid > 0 ? "the call completed, " : "",
		       L->have_sl && dsq_ok ? ", stats://aggregated/dsq reads (detached)" : "");
#undef PROBLEM
}

static void run_one(struct lab *L, struct sched_def *d, struct report *rep)
{
	char log[128];
	char *argv[3];
	unsigned before;
	pid_t sp;
	double t0, t_enabled;
	snprintf(log, sizeof(log), "/tmp/scxlab-sched-%s.log", d->arg);
	/* start the event cursors at the present */
	pump(&L->c, 200);
	skip_to_present(L, &L->sched_cursor);
	L->stream_cursor = L->sched_cursor;
	before = L->c.sched_updates;
	argv[0] = (char *)L->sched_path;
	argv[1] = (char *)d->arg;
	argv[2] = NULL;
	t0 = now_s();
	sp = spawn(argv, log);
	while (!sysfs_is("enabled", d->ops) && now_s() - t0 < 90) {
		if (wait_exit(sp, 0) >= 0)
			break;
		pump(&L->c, 100);
	}
	if (!sysfs_is("enabled", d->ops)) {
		int rc = wait_exit(sp, 0);

		result(d->ops, "load", "FAIL", "the scheduler did not attach (scxlab-sched %s; see below)",
		       rc >= 0 ? "exited" : "still running after 90 s");
		cat_file("  ", log);
		if (rc < 0) {
			kill(sp, SIGKILL);
			wait_exit(sp, 10);
		}
		snprintf(rep->current, sizeof(rep->current), "not loaded");
		snprintf(rep->dsq_skip, sizeof(rep->dsq_skip), "FAIL: the scheduler did not load");
		return;
	}
	result(d->ops, "load", "PASS", "sysfs: state enabled, ops %s, %.1f s after exec", d->ops,
	       now_s() - t0);
	/* stream events from before the enable cannot name its DSQs; on a slow
	 * host the load alone took more than the pages check_stream reads */
	skip_to_present(L, &L->stream_cursor);
	check_change(L, d->ops, "load", before, d->ops, "sched_ext");
	t_enabled = now_s();
	check_current(L, d, rep);
	info("%s: collecting for %.0f s under load", d->ops, L->collect_s);
	pump(&L->c, (int)(L->collect_s * 1000));
	check_dsq(L, d, rep, sp, log);
	check_dsq_metrics(L, d, t_enabled);
	check_stream(L, d);
	check_dsq_notable(L, d);
	{
		double t_tr = now_s();

		check_trace_dsq(L, d, sp, log);
		info("%s: trace_dsq took %.1f s", d->ops, now_s() - t_tr);
	}
	before = L->c.sched_updates;
	unload_mid_collection(L, d, sp, log);
	check_change(L, d->ops, "unload", before, NULL, "fair");
}

/* What schedmcp://plugins says about sched_latency. */
/* ------------------------------------------------------------ cgroup v2 */

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	n = (int)write(fd, text, strlen(text));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/* word is one of the space-separated words of text */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		if ((p == text || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

static long long stat_field(const char *file, const char *key)
{
	char buf[1024], *p;
	size_t n = strlen(key);

	if (read_file(file, buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

/* A child in cgroup dir (cgroup.procs), pinned to cpu (-1: not), that spins,
 * or with sleep_us sleeps that long in a loop. */
static pid_t cg_child(const char *dir, int cpu, int sleep_us)
{
	char procs[256];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	if (put(procs, "0"))
		_exit(1);
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
	}
	for (;;)
		if (sleep_us)
			usleep((useconds_t)sleep_us);
	return 0;
}

/*
 * B of issue 18 on the unified hierarchy: two hogs and a pinger (sleeps
 * 1 ms in a loop) pinned to CPU 0 in one cgroup: diagnose_cgroup must call
 * it contention, not throttled, with the pinger among its waiters.
 */
static void check_cgroup_v2_contention(struct lab *L, const char *top)
{
	char b[128], err[512], detail[1024] = "";
	const char *verdict = NULL;
	pid_t kids[3];
	bool is_error = false, pinger_seen = false;
	cJSON *r;

	snprintf(b, sizeof(b), "%s/B", top);
	if (mkdir(b, 0755) && errno != EEXIST) {
		result("lab", "cgroup_v2_contention", "FAIL", "cannot make %s: %s", b,
		       strerror(errno));
		return;
	}
	kids[0] = cg_child(b, 0, 0);
	kids[1] = cg_child(b, 0, 0);
	kids[2] = cg_child(b, 0, 1000);
	usleep(500 * 1000);
	r = call_tool(&L->c, "diagnose_cgroup",
		      cJSON_Parse("{\"cgroup\": \"/scxlab/B\", \"duration_s\": 3}"), &is_error,
		      err, sizeof(err));
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		wait_exit(kids[i], 5);
	}
	if (!r || is_error) {
		result("lab", "cgroup_v2_contention", "FAIL", "diagnose_cgroup: %s", err);
		goto out;
	}
	verdict = jstr(r, "verdict");
	{
		const cJSON *top_rows = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(r, "members"), "top_by_p99");
		const cJSON *row;
		double pid;

		cJSON_ArrayForEach(row, top_rows)
			if (jnum(row, "pid", &pid) && (pid_t)pid == kids[2])
				pinger_seen = true;
	}
	appendf(detail, sizeof(detail), "verdict %s, pinger %d %s among the waiters; %s",
		or(verdict, "?"), (int)kids[2], pinger_seen ? "listed" : "not listed",
		or(jstr(r, "summary"), ""));
	result("lab", "cgroup_v2_contention",
	       verdict && strcmp(verdict, "contention") == 0 && pinger_seen ? "PASS" : "FAIL", "%s",
	       detail);
out:
	cJSON_Delete(r);
	rmdir(b);
}

/*
 * Issue 18's proof on the unified hierarchy (the build machines have only
 * the v1 cpu hierarchy): a cgroup with a 20 % cpu.max running a hog is
 * called throttled by diagnose_cgroup, layout v2, with nr_throttled rising
 * inside what cpu.stat says around the call. Before any test scheduler.
 */
static void check_cgroup_v2(struct lab *L)
{
	static const char top[] = "/sys/fs/cgroup/scxlab", a[] = "/sys/fs/cgroup/scxlab/A";
	char buf[512], err[512], detail[1024] = "";
	long long before, after;
	double start = -1, end = -1, span = 0;
	const char *verdict = NULL, *layout = NULL;
	cJSON *args, *r;
	bool is_error = false;
	pid_t hog;

	if (!L->have_sl) {
		result("lab", "cgroup_v2", "SKIP", "sched_latency not loaded: %s", L->sl_reason);
		return;
	}
	if (read_file("/sys/fs/cgroup/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !has_word(buf, "cpu")) {
		result("lab", "cgroup_v2", "SKIP", "no cgroup2 with the cpu controller at "
						    "/sys/fs/cgroup (controllers: %s)", buf);
		return;
	}
	if (put("/sys/fs/cgroup/cgroup.subtree_control", "+cpu") ||
	    (mkdir(top, 0755) && errno != EEXIST) ||
	    put("/sys/fs/cgroup/scxlab/cgroup.subtree_control", "+cpu") ||
	    (mkdir(a, 0755) && errno != EEXIST) ||
	    put("/sys/fs/cgroup/scxlab/A/cpu.max", "20000 100000")) {
		result("lab", "cgroup_v2", "FAIL", "cannot make %s with a 20%% cpu.max: %s", a,
		       strerror(errno));
		goto out;
	}
	hog = cg_child(a, -1, 0);
	usleep(500 * 1000);
	before = stat_field("/sys/fs/cgroup/scxlab/A/cpu.stat", "nr_throttled");
	args = cJSON_Parse("{\"cgroup\": \"/scxlab/A\", \"duration_s\": 3}");
	r = call_tool(&L->c, "diagnose_cgroup", args, &is_error, err, sizeof(err));
	after = stat_field("/sys/fs/cgroup/scxlab/A/cpu.stat", "nr_throttled");
	kill(hog, SIGKILL);
	wait_exit(hog, 5);
	if (!r || is_error) {
		result("lab", "cgroup_v2", "FAIL", "diagnose_cgroup: %s", err);
		cJSON_Delete(r);
		goto out;
	}
	verdict = jstr(r, "verdict");
	layout = jstr(cJSON_GetObjectItemCaseSensitive(r, "cgroup"), "layout");
	{
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "quota");

		(void)jnum(q, "nr_throttled_start", &start);
		(void)jnum(q, "nr_throttled_end", &end);
		(void)jnum(cJSON_GetObjectItemCaseSensitive(r, "window"), "span_s", &span);
	}
	appendf(detail, sizeof(detail), "verdict %s, layout %s, nr_throttled %.0f -> %.0f in %.1f s "
		"(cpu.stat around the call: %lld -> %lld); %s", or(verdict, "?"), or(layout, "?"),
		start, end, span, before, after, or(jstr(r, "summary"), ""));
	if (verdict && strcmp(verdict, "throttled") == 0 && layout && strcmp(layout, "v2") == 0 &&
	    end > start && before >= 0 && before <= start && end <= after)
		result("lab", "cgroup_v2", "PASS", "%s", detail);
	else
		result("lab", "cgroup_v2", "FAIL", "%s", detail);
	cJSON_Delete(r);
	check_cgroup_v2_contention(L, top);
out:
	rmdir(a);
	rmdir(top);
}

static void plugin_status(struct lab *L)
{
	char err[512];
	cJSON *st = read_resource(&L->c, "schedmcp://plugins", err, sizeof(err));
	const cJSON *list, *p;

	snprintf(L->sl_reason, sizeof(L->sl_reason), "not listed in schedmcp://plugins (not built?)");
	if (!st) {
		snprintf(L->sl_reason, sizeof(L->sl_reason), "schedmcp://plugins unreadable: %s", err);
		return;
	}
	list = cJSON_GetObjectItemCaseSensitive(st, "plugins");
	if (!cJSON_IsArray(list))
		list = st;
	cJSON_ArrayForEach(p, list) {
		const char *name = jstr(p, "name");
		const char *state = or(jstr(p, "state"), jstr(p, "status"));
		char *t = cJSON_PrintUnformatted(p);

		info("plugin %s", t ? t : "?");
		if (name && (strcmp(name, "trace_record") == 0 ||
			     strcmp(name, "trace_analysis") == 0)) {
			bool ok = state && strcmp(state, "loaded") == 0;
			size_t n = strlen(L->tr_reason);

			if (name[6] == 'r')
				L->have_tr = ok;
			else
				L->have_ta = ok;
			if (!ok)
				snprintf(L->tr_reason + n, sizeof(L->tr_reason) - n, "%s%s: state %s%s%s",
					 n ? "; " : "", name, or(state, "?"),
					 jstr(p, "reason") ? ": " : "", or(jstr(p, "reason"), ""));
		}
		if (name && strcmp(name, "sched_latency") == 0) {
			const char *reason = jstr(p, "reason");

			/* degraded still serves (with reasons in its answers) */
			L->have_sl = state && (strcmp(state, "loaded") == 0 ||
					       strcmp(state, "degraded") == 0);
			snprintf(L->sl_reason, sizeof(L->sl_reason), "state %s%s%s", or(state, "?"),
				 reason ? ": " : "", or(reason, ""));
		}
		free(t);
	}
	cJSON_Delete(st);
}

static void enable_stream(struct lab *L)
{
	char err[512];
	bool is_err = false;
	cJSON *a = cJSON_CreateObject(), *r;

	if (!L->have_sl) {
		snprintf(L->stream_reason, sizeof(L->stream_reason), "sched_latency not loaded");
		return;
	}
	cJSON_AddStringToObject(a, "action", "enable");
	cJSON_AddNumberToObject(a, "max_events_per_s", 100);
	r = call_tool(&L->c, "control_event_tracking", a, &is_err, err, sizeof(err));
	if (!r) {
		snprintf(L->stream_reason, sizeof(L->stream_reason), "control_event_tracking: %s", err);
		return;
	}
	if (is_err) {
		snprintf(L->stream_reason, sizeof(L->stream_reason), "control_event_tracking: %s",
			 or(jstr(r, "text"), "isError"));
	} else {
		L->stream_on = true;
		info("event stream enabled (control_event_tracking)");
	}
	cJSON_Delete(r);
}

static void usage(void)
{
	fprintf(stderr, "usage: scxlab-client --daemon PATH --plugin-dir DIR --sched PATH --load PATH "
			"[--log FILE] [--collect SECS] fifo|vtime|pcpu...\n");
	exit(64);
}

int main(int argc, char **argv)
{
	static struct sched_def defs[] = {
		{ "fifo", "scxlab_fifo", 1, { SCXLAB_FIFO_DSQ } },
		{ "vtime", "scxlab_vtime", 2, { SCXLAB_VTIME_WAKE_DSQ, SCXLAB_VTIME_BATCH_DSQ } },
		{ "pcpu", "scxlab_pcpu", 0, { 0 } },
	};
	struct report reps[3] = { 0 };
	bool ran[3] = { false };
	const char *daemon = NULL, *plugin_dir = NULL, *log = "/tmp/schedmcp.log";
	struct lab L = { .collect_s = 5 };
	char err[512];
	char *dargv[8];
	char *load_argv[5];
	pid_t load_pid;
	cJSON *p, *r;
	int i, rc;

	t_start = now_s();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--daemon") == 0 && i + 1 < argc)
			daemon = argv[++i];
		else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc)
			plugin_dir = argv[++i];
		else if (strcmp(argv[i], "--sched") == 0 && i + 1 < argc)
			L.sched_path = argv[++i];
		else if (strcmp(argv[i], "--load") == 0 && i + 1 < argc)
			L.load_path = argv[++i];
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
			log = argv[++i];
		else if (strcmp(argv[i], "--collect") == 0 && i + 1 < argc)
			L.collect_s = atof(argv[++i]);
		else if (argv[i][0] == '-')
			usage();
		else
			break;
	}
	if (!daemon || !plugin_dir || !L.sched_path || !L.load_path || i == argc)
		usage();
	{
		long ncpu = sysconf(_SC_NPROCESSORS_CONF);

		if (ncpu > SCXLAB_MAX_CPUS)
			ncpu = SCXLAB_MAX_CPUS;
		defs[2].ndsq = (int)ncpu;
		for (long c = 0; c < ncpu; c++)
			defs[2].dsq[c] = SCXLAB_PCPU_DSQ_BASE + (unsigned)c;
	}

	dargv[0] = (char *)daemon;
	dargv[1] = "--plugin-dir";
	dargv[2] = (char *)plugin_dir;
	dargv[3] = "--no-default-plugins"; /* that directory's plugins only */
	dargv[4] = "--log-level";
	dargv[5] = "info";
	dargv[6] = NULL;
	if (conn_start(&L.c, dargv, log)) {
		printf("RESULT lab daemon FAIL cannot start %s\n", daemon);
		return 1;
	}
	p = cJSON_Parse("{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
			"\"clientInfo\":{\"name\":\"scxlab-client\",\"version\":\"1\"}}");
	r = rpc(&L.c, "initialize", p, err, sizeof(err));
	if (!r) {
		result("lab", "initialize", "FAIL", "%s", err);
		cat_file("daemon: ", log);
		return 1;
	}
	info("initialize: protocol %s, server %s %s (%.1f s after start)",
	     or(jstr(r, "protocolVersion"), "?"),
	     or(jstr(cJSON_GetObjectItemCaseSensitive(r, "serverInfo"), "name"), "?"),
	     or(jstr(cJSON_GetObjectItemCaseSensitive(r, "serverInfo"), "version"), "?"),
	     now_s() - t_start);
	cJSON_Delete(r);
	{
		cJSON *n = cJSON_CreateObject();

		cJSON_AddStringToObject(n, "jsonrpc", "2.0");
		cJSON_AddStringToObject(n, "method", "notifications/initialized");
		send_json(&L.c, n);
		cJSON_Delete(n);
	}
	plugin_status(&L);
	info("sched_latency: %s (%s)", L.have_sl ? "loaded" : "not available", L.sl_reason);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "uri", "scheduler://current");
	r = rpc(&L.c, "resources/subscribe", p, err, sizeof(err));
	if (!r)
		result("lab", "subscribe", "FAIL", "resources/subscribe scheduler://current: %s", err);
	cJSON_Delete(r);
	{
		cJSON *cur = read_resource(&L.c, "scheduler://current", err, sizeof(err));
		const cJSON *scx = cJSON_GetObjectItemCaseSensitive(cur, "sched_ext");

		if (cur && jstr(cur, "class") && strcmp(jstr(cur, "class"), "fair") == 0 &&
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(scx, "supported")))
			result("lab", "baseline", "PASS",
			       "before any test scheduler: scheduler://current says %s (class fair), "
			       "sched_ext supported",
			       or(jstr(cur, "name"), "?"));
		else
			result("lab", "baseline", "FAIL",
			       "before any test scheduler expected class fair with sched_ext supported: %s",
			       cur ? or(jstr(cur, "description"), "?") : err);
		cJSON_Delete(cur);
	}
	enable_stream(&L);
	check_cgroup_v2(&L);

	load_argv[0] = (char *)L.load_path;
	load_argv[1] = "4";
	load_argv[2] = "1";
	load_argv[3] = "0";
	load_argv[4] = NULL;
	load_pid = spawn(load_argv, "/tmp/scxlab-load.log");
	info("load: scxlab-load 4 ping-pong pairs + 1 spinner at nice 10 (pid %d)", (int)load_pid);

	for (; i < argc; i++) {
		int k;

		for (k = 0; k < 3; k++)
			if (strcmp(argv[i], defs[k].arg) == 0)
				break;
		if (k == 3) {
			result("lab", "args", "FAIL", "unknown scheduler '%s'", argv[i]);
			continue;
		}
		info("---- %s ----", defs[k].ops);
		run_one(&L, &defs[k], &reps[k]);
		ran[k] = true;
	}

	kill(load_pid, SIGTERM);
	wait_exit(load_pid, 10);
	cat_file("", "/tmp/scxlab-load.log");
	/* the daemon served through everything and stops cleanly */
	r = rpc(&L.c, "ping", NULL, err, sizeof(err));
	if (!r)
		result("lab", "daemon_alive", "FAIL", "ping at the end: %s", err);
	else
		result("lab", "daemon_alive", "PASS", "ping answers after %d scheduler loads and unloads",
		       (int)(ran[0] + ran[1] + ran[2]));
	cJSON_Delete(r);
	close(L.c.to);
	rc = wait_exit(L.c.pid, 20);
	if (rc == 0)
		result("lab", "daemon_exit", "PASS", "the daemon exited with status 0 when stdin closed");
	else {
		result("lab", "daemon_exit", "FAIL", "daemon exit status %d after stdin closed%s", rc,
		       rc == -1 ? " (still running after 20 s)" : "");
		if (rc == -1)
			kill(L.c.pid, SIGKILL);
	}

	printf("\n==== scxlab: what the daemon reported, per test scheduler ====\n");
	for (int k = 0; k < 3; k++) {
		if (!ran[k])
			continue;
		printf("%s\n", defs[k].ops);
		printf("  scheduler://current: %s\n", reps[k].current);
		for (int j = 0; j < reps[k].ndsq; j++)
			printf("  %s\n", reps[k].dsq[j]);
		if (!reps[k].ndsq)
			printf("  DSQ latency: %s%s\n",
			       strncmp(reps[k].dsq_skip, "FAIL: ", 6) == 0 ? "" : "SKIP: ",
			       reps[k].dsq_skip[0] ? reps[k].dsq_skip : "no rows");
	}
	printf("SUMMARY pass=%d fail=%d skip=%d\n", n_pass, n_fail, n_skip);
	return n_fail ? 1 : 0;
}
