/* SPDX-License-Identifier: MIT */
/*
 * itest: a test-only plugin the integration tests load into the real daemon.
 * It offers what the built plugins do not: a slow tool that answers later
 * (SMCP_PENDING, finished from a timer, with progress and cancellation),
 * tools that log, publish events and make large answers, a template with
 * completion, a prompt with typed arguments, and enough resources to page.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;
static struct smcp_host *self;

static struct {
	unsigned started, completed, cancelled;
} stats;

/* ------------------------------------------------------------ itest_slow */

struct slow {
	struct smcp_call *call;
	int timer;
	int64_t step, steps, delay_ms;
};

static void slow_tick(void *data)
{
	struct slow *s = data;

	if (s->step < s->steps) {
		char msg[64];

		s->step++;
		snprintf(msg, sizeof(msg), "step %lld of %lld", (long long)s->step, (long long)s->steps);
		(void)api->call_progress(s->call, (double)s->step, (double)s->steps, msg);
		return;
	}
	(void)api->timer_remove(self, s->timer);
	stats.completed++;
	(void)api->call_complete(s->call, 0);
	free(s);
}

static void slow_cancel(void *data, struct smcp_call *call)
{
	struct slow *s = data;

	(void)api->timer_remove(self, s->timer);
	stats.cancelled++;
	free(s);
}

static int tool_slow(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct slow *s = calloc(1, sizeof(*s));
	int64_t interval;

	if (!s)
		return -ENOMEM;
	s->call = call;
	s->delay_ms = 200;
	(void)api->arg_int(args, "delay_ms", &s->delay_ms);
	(void)api->arg_int(args, "steps", &s->steps);
	interval = s->delay_ms / (s->steps + 1);
	s->timer = api->timer_add(self, interval > 0 ? (uint64_t)interval : 1, true, slow_tick, s);
	if (s->timer <= 0) {
		int err = s->timer ? s->timer : -EINVAL;

		free(s);
		return err;
	}
	(void)api->call_on_cancel(call, slow_cancel, s);
	(void)api->result_textf(res, "done after %lld ms and %lld steps", (long long)s->delay_ms,
				(long long)s->steps);
	stats.started++;
	return SMCP_PENDING;
}

/* ------------------------------------------------------------ itest_work */

/* A call that burns ms of a worker thread (host API work_submit, or
 * work_submit_paced when paced): the loop must go on serving meanwhile. A
 * cancelled call's job still runs to its end; done then only frees. */
struct work {
	struct smcp_call *call;
	struct smcp_result *res;
	int64_t ms;
	bool cancelled;
	pid_t tid;
	int nice;
};

static int work_run(void *data)
{
	struct work *w = data;
	struct timespec t0, t;

	w->tid = (pid_t)gettid();
	w->nice = getpriority(PRIO_PROCESS, (id_t)w->tid); /* -1 is a nice here */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do { /* busy, as a long computation is, not asleep */
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < w->ms);
	return (int)w->ms;
}

static void work_done(void *data, int result)
{
	struct work *w = data;

	if (!w->cancelled) {
		(void)api->result_textf(w->res,
					"worked %d ms on thread %d at nice %d (the loop is %d at "
					"nice %d)", result, (int)w->tid, w->nice, (int)getpid(),
					getpriority(PRIO_PROCESS, 0));
		(void)api->call_complete(w->call, 0);
		stats.completed++;
	}
	free(w);
}

static void work_cancel(void *data, struct smcp_call *call)
{
	struct work *w = data;

	w->cancelled = true;
	stats.cancelled++;
}

static int tool_work(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct work *w = calloc(1, sizeof(*w));
	bool paced = false;
	int err;

	if (!w)
		return -ENOMEM;
	w->call = call;
	w->res = res;
	w->ms = 100;
	(void)api->arg_int(args, "ms", &w->ms);
	(void)api->arg_bool(args, "paced", &paced);
	err = paced ? api->work_submit_paced(self, work_run, work_done, w) :
		      api->work_submit(self, work_run, work_done, w);
	if (err) {
		free(w);
		return err;
	}
	(void)api->call_on_cancel(call, work_cancel, w);
	stats.started++;
	return SMCP_PENDING;
}

static int tool_stats(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);

	if (!j)
		return -ENOMEM;
	api->json_uint(j, "started", stats.started);
	api->json_uint(j, "completed", stats.completed);
	api->json_uint(j, "cancelled", stats.cancelled);
	return 0;
}

/* ------------------------------------------------------- log, emit, blob */

static int tool_log(void *data, struct smcp_call *call, const struct smcp_args *args,
		    struct smcp_result *res)
{
	static const char *const names[] = { "debug", "info", "notice", "warning",
					     "error", "critical", "alert", "emergency" };
	const char *level = "info", *message = "itest log line";
	int64_t count = 1;
	enum smcp_log_level lvl = SMCP_LOG_INFO;

	(void)api->arg_string(args, "level", &level);
	(void)api->arg_string(args, "message", &message);
	(void)api->arg_int(args, "count", &count);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(level, names[i]) == 0)
			lvl = (enum smcp_log_level)i;
	for (int64_t i = 0; i < count; i++)
		api->log(self, lvl, "%s #%lld", message, (long long)i);
	return api->result_textf(res, "logged %lld", (long long)count);
}

static int tool_emit(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	int64_t count = 1, done = 0;

	(void)api->arg_int(args, "count", &count);
	for (int64_t i = 0; i < count; i++) {
		struct smcp_json *ev = api->event_begin(self, "itest.tick");

		if (!ev)
			continue;
		api->json_int(ev, "i", i);
		if (api->event_commit(self, ev) == 0)
			done++;
	}
	return api->result_textf(res, "published %lld", (long long)done);
}

static int tool_blob(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	int64_t bytes = 1024;
	char *text;
	int err;

	(void)api->arg_int(args, "bytes", &bytes);
	text = malloc((size_t)bytes + 1);
	if (!text)
		return -ENOMEM;
	memset(text, 'x', (size_t)bytes);
	text[bytes] = '\0';
	err = api->result_text(res, text);
	free(text);
	return err;
}

/* Echo the validated (and coerced) arguments back as structuredContent. */
static int tool_echo(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);
	const char *s;
	int64_t i;
	bool b;

	if (!j)
		return -ENOMEM;
	if (api->arg_int(args, "pid", &i) == 0)
		api->json_int(j, "pid", i);
	if (api->arg_string(args, "mode", &s) == 0)
		api->json_string(j, "mode", s);
	if (api->arg_bool(args, "opts.verbose", &b) == 0)
		api->json_bool(j, "verbose", b);
	if (api->arg_string(args, "text", &s) == 0)
		api->json_string(j, "text", s);
	return 0;
}

static int tool_fail(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	return api->result_error(res, "itest_fail failed on purpose");
}

/* ------------------------------------------------- resources, templates */

static int read_static(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_textf(res, "static %s", uri);
}

static int read_echo(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	const char *v = NULL;

	if (api->arg_string(vars, "value", &v))
		return -EINVAL;
	return api->result_text(res, v);
}

static int read_missing(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	return -ENOENT;
}

static int complete_words(void *data, const char *arg, const char *prefix,
			  const struct smcp_args *context, struct smcp_completion *out)
{
	static const char *const words[] = { "alpha", "beta", "gamma", "alphabet" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(words[i], prefix, strlen(prefix)) == 0)
			(void)api->completion_add(out, words[i]);
	return 0;
}

/* ------------------------------------------------------------------ prompt */

static int prompt_get(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	int64_t cpu = -1;
	const char *mode = "default";

	(void)api->arg_int(args, "cpu", &cpu);
	(void)api->arg_string(args, "mode", &mode);
	if (cpu > 1000) {
		(void)api->result_error(res, "cpu %lld does not exist", (long long)cpu);
		return -EINVAL;
	}
	api->result_description(res, "itest prompt");
	return api->result_textf(res, "look at cpu %lld in %s mode", (long long)cpu, mode);
}

/* cpu: "0".."149"; only 100 fit in an answer, the total says 150 */
static int prompt_complete(void *data, const char *arg, const char *prefix,
			   const struct smcp_args *context, struct smcp_completion *out)
{
	uint32_t matches = 0;

	if (strcmp(arg, "cpu") != 0)
		return 0;
	for (int i = 0; i < 150; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		if (strncmp(v, prefix, strlen(prefix)) == 0) {
			matches++;
			(void)api->completion_add(out, v);
		}
	}
	return api->completion_total(out, matches);
}

/* -------------------------------------------------------------- register */

#define NO_ARGS "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}"

static int itest_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg pargs[] = {
		{ sizeof(struct smcp_prompt_arg), "cpu", "CPU number", true, SMCP_ARG_INT },
		{ sizeof(struct smcp_prompt_arg), "mode", "how to look", false, SMCP_ARG_STRING },
	};
	const struct smcp_tool_desc tools[] = {
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_slow",
		  .description = "answers after delay_ms, with steps progress notifications",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000},"
				  "\"steps\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100}},"
				  "\"additionalProperties\":false}",
		  .flags = SMCP_TOOL_READ_ONLY, .call = tool_slow },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_work",
		  .description = "keeps a worker thread busy for ms, answers when done",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10000},"
				  "\"paced\":{\"type\":\"boolean\"}},"
				  "\"additionalProperties\":false}",
		  .flags = SMCP_TOOL_READ_ONLY, .call = tool_work },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_stats",
		  .description = "counters of itest_slow calls", .input_schema = NO_ARGS,
		  .output_schema = "{\"type\":\"object\",\"properties\":{\"started\":{\"type\":\"integer\"},"
				   "\"completed\":{\"type\":\"integer\"},\"cancelled\":{\"type\":\"integer\"}}}",
		  .flags = SMCP_TOOL_READ_ONLY, .call = tool_stats },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_log",
		  .description = "logs count lines at level",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"level\":{\"type\":\"string\",\"enum\":[\"debug\",\"info\",\"notice\",\"warning\",\"error\",\"critical\",\"alert\",\"emergency\"]},"
				  "\"count\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100000},"
				  "\"message\":{\"type\":\"string\",\"maxLength\":200}},"
				  "\"additionalProperties\":false}",
		  .call = tool_log },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_emit",
		  .description = "publishes count itest.tick events",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"count\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100000}},"
				  "\"additionalProperties\":false}",
		  .call = tool_emit },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_blob",
		  .description = "returns a text of bytes 'x' characters",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4194304}},"
				  "\"additionalProperties\":false}",
		  .flags = SMCP_TOOL_READ_ONLY, .call = tool_blob },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_echo",
		  .description = "echoes its validated arguments",
		  .input_schema = "{\"type\":\"object\",\"properties\":{"
				  "\"pid\":{\"type\":\"integer\",\"minimum\":1},"
				  "\"mode\":{\"type\":\"string\",\"enum\":[\"fast\",\"slow\"]},"
				  "\"text\":{\"type\":\"string\"},"
				  "\"opts\":{\"type\":\"object\",\"properties\":{\"verbose\":{\"type\":\"boolean\"}},"
				  "\"additionalProperties\":false}},"
				  "\"required\":[\"pid\"],\"additionalProperties\":false}",
		  .output_schema = "{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\"}}}",
		  .flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT, .call = tool_echo },
		{ .sz = sizeof(struct smcp_tool_desc), .name = "itest_fail",
		  .description = "always fails with a tool error", .input_schema = NO_ARGS,
		  .call = tool_fail },
	};
	struct smcp_resource_desc echo = {
		.sz = sizeof(echo), .uri = "itest://echo/{value}", .name = "echo",
		.description = "the decoded value", .read = read_echo, .complete = complete_words,
	};
	struct smcp_resource_desc missing = {
		.sz = sizeof(missing), .uri = "itest://missing/{x}", .name = "missing",
		.description = "never found", .read = read_missing,
	};
	struct smcp_prompt_desc prompt = {
		.sz = sizeof(prompt), .name = "itest_prompt", .description = "a prompt with a cpu",
		.args = pargs, .n_args = 2, .get = prompt_get, .complete = prompt_complete,
	};
	int err;

	api = a;
	self = host;
	if ((err = smcp_register_tools(host, api, tools, SMCP_COUNT(tools))))
		return err;
	for (int i = 0; i < 5; i++) {
		char uri[32];
		struct smcp_resource_desc r = { .sz = sizeof(r), .uri = uri, .name = "static",
						.description = "a static text", .read = read_static };

		snprintf(uri, sizeof(uri), "itest://static/%d", i);
		if ((err = api->register_resource(host, &r)))
			return err;
	}
	if ((err = api->register_template(host, &echo)) ||
	    (err = api->register_template(host, &missing)) ||
	    (err = api->register_prompt(host, &prompt)))
		return err;
	return 0;
}

SMCP_PLUGIN_DEFINE("itest", "0.0.1",
		   "integration-test helpers (slow tool, logging, events, big answers)",
		   .init = itest_init)
