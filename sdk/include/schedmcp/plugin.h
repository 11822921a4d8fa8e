/* SPDX-License-Identifier: MIT */
/*
 * schedmcp plugin ABI.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * SMCP_PLUGIN_ENTRY (a function returning a pointer to a static
 * struct smcp_plugin_info). Everything else in the plugin is static; build
 * with -fvisibility=hidden and mark the entry with SMCP_EXPORT.
 *
 * Versioning: the host refuses a plugin whose abi_major differs from
 * SMCP_ABI_MAJOR or whose abi_minor is newer than the host's. The host API
 * table grows only by appending; members carry "Since: 1.N". A plugin that
 * wants a member newer than 1.0 checks SMCP_API_HAS(api, member) first and
 * treats its absence as -ENOTSUP.
 *
 * Every descriptor struct starts with its size (sz): set it to sizeof() of
 * the struct you compiled against. The host copies what it needs out of a
 * descriptor during the call; strings passed in are borrowed for the call.
 * Every member says since which ABI minor it exists; the host reads only
 * the members sz covers, so a member a plugin's header did not have reads
 * as zero. (One exception: struct smcp_prompt_arg had no sz before 1.2;
 * see there.)
 *
 * Errors: 0 or positive is success, -errno is failure, everywhere. A
 * handler that answers later returns SMCP_PENDING, which is neither.
 *
 * Threads: every callback runs on the host's single loop thread. A plugin
 * must not start threads that call the API, must not block for long, and
 * must never write to stdout (stdout is the protocol wire).
 */
#ifndef SCHEDMCP_PLUGIN_H
#define SCHEDMCP_PLUGIN_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SMCP_ABI_MAJOR 1
#define SMCP_ABI_MINOR 3
#define SMCP_STR_(x) #x
#define SMCP_STR(x) SMCP_STR_(x)
/* "MAJOR.MINOR" of this header. */
#define SMCP_ABI_VERSION_STR SMCP_STR(SMCP_ABI_MAJOR) "." SMCP_STR(SMCP_ABI_MINOR)

/* The single exported symbol every plugin defines. */
#define SMCP_PLUGIN_ENTRY schedmcp_plugin_entry
#define SMCP_PLUGIN_ENTRY_NAME "schedmcp_plugin_entry"
#define SMCP_EXPORT __attribute__((visibility("default")))

/* The entry every plugin defines (once, with SMCP_EXPORT):
 *   SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void) { return &info; }
 * which SMCP_PLUGIN_EXPORT(info) writes out (a macro of this header: any
 * 1.x host). Declared here so that -Wmissing-prototypes is satisfied. */
struct smcp_plugin_info;
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void);
#define SMCP_PLUGIN_EXPORT(info)                                                                  \
	SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void)                        \
	{                                                                                          \
		return &(info);                                                                    \
	}

/*
 * A handler (read, tool, prompt) returns SMCP_PENDING to say it has kept the
 * call and will finish it later with api->call_complete() (from a timer, fd
 * or work-done callback).
 *
 * The value lies far below every -errno (they end at -4095): it is neither
 * a success (0 or positive) nor an error a handler passes on, so
 * "return n;" or "return err;" cannot mean "later" by accident.
 *
 * Since: 1.2 this value. Until 1.2 it was 1 (SMCP_PENDING_1_0), which a
 * handler returning a positive success value (a count, a length) could
 * not be told apart from: its call then waited for a call_complete() that
 * never came. The host reads the return value of a plugin as the abi_minor
 * it declares: from a plugin built before 1.2, 1 still means "later" (and
 * so does SMCP_PENDING), so such plugins keep working unchanged; from 1.2
 * on every positive value is a success. A plugin that sets abi_minor below
 * 2 to load on older hosts returns SMCP_PENDING_1_0.
 */
#define SMCP_PENDING (-0x50454e44) /* "PEND" */
/* SMCP_PENDING as ABI 1.0 and 1.1 defined it. Since: 1.2 (the name). */
#define SMCP_PENDING_1_0 1

/* Opaque, host-owned objects. */
struct smcp_host;       /* the host's handle for one loaded plugin */
struct smcp_call;       /* one in-flight client request */
struct smcp_args;       /* validated arguments (tool, prompt, template variables) */
struct smcp_result;     /* builder for a tool result, resource contents or prompt */
struct smcp_json;       /* JSON writer owned by a result or an event */
struct smcp_completion; /* list of completion candidates being built */
struct smcp_host_api;

/* Log levels: the syslog levels MCP uses for notifications/message. */
enum smcp_log_level {
	SMCP_LOG_DEBUG = 0,
	SMCP_LOG_INFO,
	SMCP_LOG_NOTICE,
	SMCP_LOG_WARNING,
	SMCP_LOG_ERROR,
	SMCP_LOG_CRITICAL,
	SMCP_LOG_ALERT,
	SMCP_LOG_EMERGENCY,
};

/* ---------------------------------------------------------------- config */

enum smcp_config_type {
	SMCP_CONFIG_BOOL = 1, /* true/false/yes/no/on/off/1/0 */
	SMCP_CONFIG_INT,      /* decimal integer within [min, max] */
	SMCP_CONFIG_STRING,   /* any text up to 4095 bytes */
	SMCP_CONFIG_PATH,     /* absolute path */
};

/*
 * One key a plugin accepts in its [plugin NAME] config section. Declared in
 * a static array terminated by an entry whose name is NULL; every entry's sz
 * is sizeof(struct smcp_config_key) and the host steps through the array
 * by the first entry's sz. The host validates values before init() so that
 * --check-config can report every error without loading anything.
 */
struct smcp_config_key {
	size_t sz;                  /* sizeof(struct smcp_config_key). Since: 1.0 */
	const char *name;           /* [a-z0-9_]+; "enabled" is reserved. Since: 1.0 */
	enum smcp_config_type type; /* Since: 1.0 */
	/* text as it would appear in the file; NULL = unset. Since: 1.0 */
	const char *default_value;
	const char *description; /* one line, for --help-config and the docs. Since: 1.0 */
	int64_t min, max;        /* SMCP_CONFIG_INT only; min == max == 0: unbounded. Since: 1.0 */
};

/* ---------------------------------------------------------------- plugin */

struct smcp_plugin_info {
	size_t sz;          /* sizeof(struct smcp_plugin_info). Since: 1.0 */
	uint32_t abi_major; /* SMCP_ABI_MAJOR the plugin was built against. Since: 1.0 */
	/* The oldest host ABI minor the plugin needs (SMCP_ABI_MINOR of its
	 * header, or lower to load on older hosts). The host also reads what
	 * the plugin passes and returns as that minor defined it: the layout
	 * of prompt arguments, the value of SMCP_PENDING. Since: 1.0 */
	uint32_t abi_minor;
	const char *name;        /* [a-z0-9_]+, unique among loaded plugins. Since: 1.0 */
	const char *version;     /* Since: 1.0 */
	const char *description; /* one line. Since: 1.0 */
	const struct smcp_config_key *config_keys; /* may be NULL. Since: 1.0 */
	/*
	 * Register resources, templates, tools and prompts, watch fds, add
	 * timers. Registration is only allowed here. Return 0 on success or
	 * -errno; on failure the host undoes every registration, calls fini()
	 * once, unloads the plugin and reports it as failed with the reason
	 * set by api->set_status() (or strerror of the return value).
	 * The api pointer stays valid until fini() returns. Since: 1.0
	 */
	int (*init)(struct smcp_host *host, const struct smcp_host_api *api);
	/* Release everything. Called once, also after a failed init(). May be
	 * NULL. Since: 1.0 */
	void (*fini)(struct smcp_host *host);
};

typedef const struct smcp_plugin_info *(*smcp_plugin_entry_fn)(void);

/* --------------------------------------------------------------- resources */

/*
 * Read a resource. For a template, vars holds the URI template variables as
 * strings (read them with api->arg_string/arg_int). Fill res with
 * api->result_text()/result_json()/result_blob(). Return 0, SMCP_PENDING,
 * -ENOENT when the URI names nothing (the client gets "resource not found"),
 * or another -errno (the client gets an internal error with the message set
 * by api->result_error(), if any).
 */
typedef int (*smcp_read_fn)(void *data, struct smcp_call *call, const char *uri,
			    const struct smcp_args *vars, struct smcp_result *res);

/*
 * Offer completion candidates for argument arg_name (a prompt argument or a
 * template variable) starting with prefix. context holds the other arguments
 * the client has already filled in (may be empty). Add candidates with
 * api->completion_add(); return 0 or -errno.
 */
typedef int (*smcp_complete_fn)(void *data, const char *arg_name, const char *prefix,
				const struct smcp_args *context, struct smcp_completion *out);

enum smcp_resource_flags {
	/* include in `schedmcp report` (a summary a person wants at a terminal) */
	SMCP_RESOURCE_REPORT = 1u << 0,
};

struct smcp_resource_desc {
	size_t sz; /* sizeof(struct smcp_resource_desc). Since: 1.0 */
	/* exact URI, or an RFC 6570 level-1 template ("x://p/{pid}"). Since: 1.0 */
	const char *uri;
	const char *name;        /* short machine name. Since: 1.0 */
	const char *title;       /* human title; may be NULL. Since: 1.0 */
	const char *description; /* what it holds, for the model. Since: 1.0 */
	const char *mime_type;   /* e.g. "application/json"; NULL = "text/plain". Since: 1.0 */
	uint32_t flags;          /* enum smcp_resource_flags. Since: 1.0 */
	smcp_read_fn read;       /* Since: 1.0 */
	smcp_complete_fn complete; /* templates only; may be NULL. Since: 1.0 */
	void *data;                /* handed to read and complete. Since: 1.0 */
};

/* -------------------------------------------------------------------- tools */

enum smcp_tool_flags {
	SMCP_TOOL_READ_ONLY = 1u << 0,   /* readOnlyHint */
	SMCP_TOOL_DESTRUCTIVE = 1u << 1, /* destructiveHint (ignored when read-only) */
	SMCP_TOOL_IDEMPOTENT = 1u << 2,  /* idempotentHint */
	SMCP_TOOL_OPEN_WORLD = 1u << 3,  /* openWorldHint */
};

/*
 * Run a tool. The host has already validated args against input_schema
 * (types, required, enum, bounds, unknown keys); numeric strings were
 * accepted where a number is expected. A failure the model should read is a
 * result built with api->result_error() and a return of 0. Return
 * SMCP_PENDING to finish later, or -errno for an internal failure.
 */
typedef int (*smcp_tool_fn)(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res);

struct smcp_tool_desc {
	size_t sz;         /* sizeof(struct smcp_tool_desc). Since: 1.0 */
	const char *name;  /* [A-Za-z0-9_.-]{1,128}, unique in the daemon. Since: 1.0 */
	const char *title; /* may be NULL. Since: 1.0 */
	/* for the model: what it returns, units, an example. Since: 1.0 */
	const char *description;
	/* JSON Schema (type object) as text; NULL = no arguments. Since: 1.0 */
	const char *input_schema;
	/* JSON Schema of structuredContent; NULL = none. Since: 1.0 */
	const char *output_schema;
	uint32_t flags;    /* enum smcp_tool_flags. Since: 1.0 */
	smcp_tool_fn call; /* Since: 1.0 */
	void *data;        /* handed to call. Since: 1.0 */
};

/* ------------------------------------------------------------------ prompts */

enum smcp_arg_type {
	SMCP_ARG_STRING = 0,
	SMCP_ARG_INT, /* must parse as a decimal integer; the host rejects anything else */
};

/*
 * One argument of a prompt (struct smcp_prompt_desc's args array). Since
 * 1.2 it starts with its size, like every descriptor: set sz =
 * sizeof(struct smcp_prompt_arg) in every entry. The host steps through
 * the array by args[0].sz and reads only what that covers; every entry's
 * sz must be the same. register_prompt() returns -EINVAL (and logs why)
 * when it is smaller than the 1.2 layout.
 *
 * Until 1.2 the entries had no sz (struct smcp_prompt_arg_1_0 below). The
 * host tells the two layouts apart by the abi_minor the plugin declares:
 * below 2, args is read as an array of struct smcp_prompt_arg_1_0. So a
 * plugin that sets abi_minor below 2 to load on older hosts must pass
 * struct smcp_prompt_arg_1_0 entries (a 1.0 or 1.1 host knows no other).
 */
struct smcp_prompt_arg {
	size_t sz;               /* sizeof(struct smcp_prompt_arg). Since: 1.2 */
	const char *name;        /* Since: 1.0 */
	const char *description; /* Since: 1.0 */
	bool required;           /* the host refuses a prompts/get without it. Since: 1.0 */
	enum smcp_arg_type type; /* Since: 1.0 */
};

/* A prompt argument as ABI 1.0 and 1.1 laid it out, for plugins that set
 * abi_minor below 2. The type is Since: 1.2; the layout is 1.0's. */
struct smcp_prompt_arg_1_0 {
	const char *name;        /* Since: 1.0 */
	const char *description; /* Since: 1.0 */
	bool required;           /* Since: 1.0 */
	enum smcp_arg_type type; /* Since: 1.0 */
};

/*
 * Build the prompt's messages with api->result_role() and the content
 * functions; return 0 or -errno (-EINVAL: the client gets invalid params
 * with the message set by api->result_error()).
 */
typedef int (*smcp_prompt_fn)(void *data, struct smcp_call *call, const struct smcp_args *args,
			      struct smcp_result *res);

struct smcp_prompt_desc {
	size_t sz;               /* sizeof(struct smcp_prompt_desc). Since: 1.0 */
	const char *name;        /* [A-Za-z0-9_.-]{1,128}, unique in the daemon. Since: 1.0 */
	const char *title;       /* may be NULL. Since: 1.0 */
	const char *description; /* Since: 1.0 */
	/* n_args entries (at most 64), laid out as the plugin's abi_minor
	 * says (struct smcp_prompt_arg). Since: 1.0 */
	const struct smcp_prompt_arg *args;
	size_t n_args;             /* Since: 1.0 */
	smcp_prompt_fn get;        /* Since: 1.0 */
	smcp_complete_fn complete; /* may be NULL. Since: 1.0 */
	void *data;                /* handed to get and complete. Since: 1.0 */
};

enum smcp_role {
	SMCP_ROLE_USER = 0,
	SMCP_ROLE_ASSISTANT,
};

/* ------------------------------------------------------------ loop callbacks */

typedef void (*smcp_fd_fn)(void *data, int fd, uint32_t revents);
typedef void (*smcp_timer_fn)(void *data);
typedef void (*smcp_cancel_fn)(void *data, struct smcp_call *call);
/*
 * Response to a request the plugin sent to the client. err is 0 and result
 * holds the response's result object, or err is -errno (-ECANCELED when the
 * call went away, -ETIMEDOUT, -EPROTO when the client answered with an error;
 * message then holds the client's error message, else NULL).
 */
typedef void (*smcp_response_fn)(void *data, struct smcp_call *call, int err,
				 const struct smcp_args *result, const char *message);

/* ------------------------------------------------------------------ metrics */

/*
 * Typed metrics (Since: 1.1). A plugin registers metric families in init()
 * and publishes values into them at any time; the core keeps a bounded
 * rolling history of every series (one series per distinct set of label
 * values), answers history://{metric}, query_history and what_changed from
 * it, and evaluates watches on it. A plugin keeps no history of its own.
 * docs/metrics.md is the guide: naming, units, labels, what to publish.
 */
enum smcp_metric_type {
	/* A total that only grows (events, ns spent). Publish the cumulative
	 * value with metric_set() (a decrease is taken as a reset) or
	 * increments with metric_add(). History keeps the increase per step;
	 * queries report rates per second. */
	SMCP_METRIC_COUNTER = 1,
	/* A value that goes up and down (utilisation, queue depth, load).
	 * Publish with metric_set(). History keeps mean, min and max per step. */
	SMCP_METRIC_GAUGE,
	/* A distribution over fixed buckets (latencies). Publish bucket counts
	 * with metric_hist() or single values with metric_observe(). History
	 * keeps the bucket counts of every step; coarser steps sum buckets, so
	 * percentiles over any range are exact to the bucket. */
	SMCP_METRIC_HISTOGRAM,
};

enum smcp_metric_flags {
	/*
	 * The series are keyed by a high-cardinality label (pid, tid, cgroup,
	 * comm): the core keeps only the top N series by activity in the latest
	 * step ([core] metrics_top_n), where activity is the increase (counter),
	 * the value (gauge) or the sum of observed values (histogram). A new
	 * series replaces the least active one when it is more active by a
	 * quarter; otherwise the publish returns -ENOSPC, which is normal here.
	 * Publish such metrics as increments (metric_add, SMCP_HIST_DELTA) or
	 * gauges, so a newcomer's activity is known at once.
	 */
	SMCP_METRIC_TOP_N = 1u << 0,
	/* Show this metric's latest values (top series first) in the context
	 * snapshot taken when a watch breaches: e.g. per-process latency, the
	 * current scheduler, CPU load. */
	SMCP_METRIC_CONTEXT = 1u << 1,
};

enum smcp_hist_flags {
	/* counts and sum are since the previous call (else cumulative totals) */
	SMCP_HIST_DELTA = 1u << 0,
};

#define SMCP_METRIC_MAX_LABELS 6
#define SMCP_METRIC_MAX_BUCKETS 256
#define SMCP_METRIC_NAME_MAX 63 /* bytes of a metric or label name */
#define SMCP_METRIC_VALUE_MAX 63 /* bytes of one label value; all values of a series: 191 */

/*
 * One metric family. Strings and arrays are copied during metric_register().
 */
struct smcp_metric_desc {
	size_t sz; /* sizeof(struct smcp_metric_desc). Since: 1.1 */
	/* [a-z][a-z0-9_]*, unique in the daemon, ending in its unit:
	 * "sched_runq_latency_ns", "cpu_busy_pct", "sched_switches_total".
	 * Since: 1.1 */
	const char *name;
	const char *help; /* one line for the model: what is measured, where. Since: 1.1 */
	/* "ns", "us", "ms", "s", "pct", "bytes", "1" (a count); NULL = "1".
	 * Since: 1.1 */
	const char *unit;
	enum smcp_metric_type type; /* Since: 1.1 */
	uint32_t flags;             /* enum smcp_metric_flags. Since: 1.1 */
	/* n_labels label names ([a-z][a-z0-9_]*): "cpu", "llc", "node", "dsq",
	 * "cgroup", "pid", "comm"... NULL when n_labels is 0. Values are given
	 * in this order when publishing. Since: 1.1 */
	const char *const *labels;
	uint32_t n_labels; /* <= SMCP_METRIC_MAX_LABELS. Since: 1.1 */
	/* Histograms only: the exclusive upper bound of each bucket, in unit,
	 * strictly increasing; bucket 0 starts at 0; the last bound may be
	 * INFINITY (an open-ended bucket). Since: 1.1 */
	const double *bucket_bounds;
	uint32_t n_buckets; /* 1..SMCP_METRIC_MAX_BUCKETS. Since: 1.1 */
};

/*
 * Called by the core on its loop thread once per history step (1 s by
 * default), just before it records the step: publish the current values
 * here and they land in exactly one step. now_ns is api->now_ns().
 */
typedef void (*smcp_collect_fn)(void *data, uint64_t now_ns);

/*
 * One series of this plugin's metrics over the newest steps the core
 * recorded, as metric_window() reads it (Since: 1.2): how a plugin answers
 * "the last 10 s" from the core's history instead of keeping its own.
 */
struct smcp_metric_window {
	size_t sz;	 /* sizeof(struct smcp_metric_window), set by the caller. Since: 1.2 */
	uint64_t end_ns; /* api->now_ns() clock: the end of the newest step. Since: 1.2 */
	double step_s;	 /* the length of one step. Since: 1.2 */
	/* counter: the steps its increase spans, from the first step with data
	 * to the newest (a step the core could not close on time lies inside,
	 * its increase counted in the next); gauge, histogram: the steps that
	 * hold data; 0: no data. Since: 1.2 */
	uint32_t steps;
	/* counter: the increase; gauge: the mean of the steps; histogram: the
	 * sum of the observed values (NAN: unknown). Since: 1.2 */
	double value;
	double min, max; /* gauge: of the steps. Since: 1.2 */
	uint64_t count;	 /* histogram: observations. Since: 1.2 */
	/* histogram: n_counts (the metric's n_buckets) counters the window's
	 * bucket counts are added to, or NULL. Since: 1.2 */
	uint64_t *counts;
	uint32_t n_counts; /* Since: 1.2 */
};

/* Long work (work_submit, Since: 1.2): work runs on a host worker thread,
 * done on the loop with work's return value. */
typedef int (*smcp_work_fn)(void *data);
typedef void (*smcp_work_done_fn)(void *data, int result);

/* ------------------------------------------------------------ prompt steps */

/*
 * Steps of the core's workflow prompts (Since: 1.2).
 *
 * The core owns the workflow prompts (summarize_system,
 * analyze_scheduler_performance, debug_high_latency, analyze_cpu_imbalance,
 * investigate_scheduler_behavior, profile_system, diagnose_regression):
 * their names, arguments and argument checks, the text that is about no
 * plugin (the task, how to judge a p99, the answer to write), and for each
 * an ordered list of topics ("topology", "scheduler", "load",
 * "latency.cpu", "profile"...; docs/plugin-guide.md lists every topic and
 * the prompts that use it). Plugins contribute the steps: "read X and look
 * at field Y". When a client gets a prompt the core takes each topic's
 * steps (lowest order first, then load order), leaves out a step whose
 * needs are not registered or whose render says so, numbers the rest as
 * they come, and ends with what is not available here, in words. So a
 * plugin appears in the workflows by registering steps, and a plugin that
 * is not loaded leaves no name behind.
 *
 * Placeholders: "${name}" in a step's text becomes the argument name (see
 * smcp_step_render_fn for the arguments); a step whose text names one that
 * is not set is left out of that prompt, so "measure_latency {\"pid\":
 * ${pid}}" appears only when a pid was asked about. Only "${" followed by
 * [a-z_]+ and "}" is a placeholder; other text is kept as it is. What
 * render writes is used as it is: it has the arguments already.
 */

/*
 * Write a step's text for one prompt, for text that depends on the live
 * state or on the prompt's arguments (the pid asked about, the running
 * sched_ext scheduler). buf has len bytes: room for SMCP_STEP_TEXT_MAX - 1
 * characters and the NUL. args (borrowed for the call; read with
 * arg_int/arg_string) holds the prompt's arguments as the core checked
 * them, with their defaults: pid, focus_area (general, latency,
 * throughput, balance), scheduler_name, duration_secs, window, whichever
 * the prompt takes; and the workflow's parameters for the topic, such as
 * top (how many rows to look at) and window. Runs on the loop thread with
 * this plugin's capabilities: answer at once from what is cached or from a
 * small file.
 *
 * Return the text's length (> 0) to use it; 0 to leave the step out of
 * this prompt (it does not apply here: no sched_ext scheduler runs, no pid
 * was asked about); or -errno when it cannot be written now: the step is
 * left out and its `missing` listed. A length >= len (what snprintf
 * returns when it had to cut) is taken as -ENOSPC.
 */
typedef int (*smcp_step_render_fn)(void *data, const struct smcp_args *args, char *buf,
				   size_t len);

#define SMCP_STEP_TEXT_MAX 2048 /* bytes of a step's text, NUL included */
#define SMCP_STEP_MAX_NEEDS 4   /* names in a step's needs */

struct smcp_prompt_step {
	size_t sz; /* sizeof(struct smcp_prompt_step). Since: 1.2 */
	/* [a-z0-9_.]{1,64}: the part of the workflows it serves. A topic no
	 * workflow uses is accepted (a newer one, on an older host) and never
	 * shown. Since: 1.2 */
	const char *topic;
	int order; /* among the topic's steps, lowest first. Since: 1.2 */
	/* The step, for the model: what to read or call, which fields mean
	 * what, with thresholds, e.g. "Read topology://info: `nr_cpus`,
	 * `nr_llcs` ...". No number: the core numbers the steps. At most
	 * SMCP_STEP_TEXT_MAX - 1 bytes. NULL when render writes it. Since: 1.2 */
	const char *text;
	/* NULL, or up to SMCP_STEP_MAX_NEEDS space-separated names the text
	 * uses: resource URIs, templates ("stats://process/{pid}"), tools or
	 * prompts, of this plugin or another. While one of them is not
	 * registered the step is left out and `missing` listed. Since: 1.2 */
	const char *needs;
	/* NULL, or what the workflow loses without this step, in words and
	 * without a URI ("run-queue latency per CPU"), at most 256 bytes.
	 * Since: 1.2 */
	const char *missing;
	smcp_step_render_fn render; /* NULL: text as it is. Since: 1.2 */
	void *data;                 /* for render. Since: 1.2 */
};

/* ----------------------------------------------------------------- host API */

struct smcp_host_api {
	size_t sz; /* sizeof the host's table; see SMCP_API_HAS(). Since: 1.0 */

	/* Registration (only inside init()). Return 0, -EEXIST (name/URI taken),
	 * -EINVAL (bad descriptor, schema that does not parse), -EPERM (outside
	 * init) or -ENOMEM. Since: 1.0 */
	int (*register_resource)(struct smcp_host *h, const struct smcp_resource_desc *d);
	int (*register_template)(struct smcp_host *h, const struct smcp_resource_desc *d);
	int (*register_tool)(struct smcp_host *h, const struct smcp_tool_desc *d);
	int (*register_prompt)(struct smcp_host *h, const struct smcp_prompt_desc *d);

	/* Logging to stderr and, at or above the client's level, to the client
	 * as notifications/message with logger = plugin name. Since: 1.0 */
	void (*log)(struct smcp_host *h, enum smcp_log_level lvl, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

	/* Plugin state shown in schedmcp://plugins and --list-plugins: a
	 * degraded plugin serves part of what it offers; reason says why in
	 * words a user can act on. Also the failure reason when init() fails.
	 * Since: 1.0 */
	int (*set_status)(struct smcp_host *h, bool degraded, const char *reason);

	/* Config values of this plugin's section, validated, defaults applied.
	 * -ENOENT: key not declared or unset. config_string's *ret is the
	 * file's (or --set's) text, owned by the host, or the key's
	 * default_value (your own string); either stays valid and unchanged
	 * until fini() returns (the config is read once, at start, and kept
	 * until every plugin is unloaded), so it may be kept, and read from
	 * work functions. Do not free or write it. Since: 1.0 */
	int (*config_string)(struct smcp_host *h, const char *key, const char **ret);
	int (*config_int)(struct smcp_host *h, const char *key, int64_t *ret);
	int (*config_bool)(struct smcp_host *h, const char *key, bool *ret);

	/* Root prefix for /proc and /sys reads: "" normally, a fixture tree in
	 * tests (--fs-root, opened once at start: the prefix is then
	 * "/proc/self/fd/N"). Owned by the host; the same string, valid and
	 * unchanged from before init() until after fini() returns, so it may
	 * be kept, and read from work functions. Since: 1.0 */
	const char *(*fs_root)(struct smcp_host *h);

	/* Monotonic time in nanoseconds. Since: 1.0 */
	uint64_t (*now_ns)(struct smcp_host *h);

	/* Event loop. watch_fd: events are EPOLLIN/EPOLLOUT...; returns 0 or
	 * -EEXIST/-EBADF/-ENOMEM. The fd stays owned by the plugin; unwatch
	 * before closing it. Timers: returns a timer id > 0; repeat timers fire
	 * every interval_ms until removed, one-shots remove themselves after
	 * firing. Everything left is removed when the plugin unloads. Since: 1.0 */
	int (*watch_fd)(struct smcp_host *h, int fd, uint32_t events, smcp_fd_fn cb, void *data);
	int (*unwatch_fd)(struct smcp_host *h, int fd);
	int (*timer_add)(struct smcp_host *h, uint64_t interval_ms, bool repeat, smcp_timer_fn cb,
			 void *data);
	int (*timer_remove)(struct smcp_host *h, int timer_id);

	/* Tell subscribers that a resource changed / the resource list changed.
	 * Cheap when nobody subscribed. Since: 1.0 */
	int (*notify_resource_updated)(struct smcp_host *h, const char *uri);
	int (*notify_list_changed)(struct smcp_host *h);

	/* Live event stream (events://stream, poll_events). event_begin returns a
	 * JSON object writer for one event of the given type (NULL on -ENOMEM);
	 * event_commit publishes it into the host's bounded ring (the oldest
	 * event is dropped and counted when full). Since: 1.0 */
	struct smcp_json *(*event_begin)(struct smcp_host *h, const char *type);
	int (*event_commit)(struct smcp_host *h, struct smcp_json *ev);

	/* Arguments. 0: found and converted; -ENOENT: absent; -EINVAL: present
	 * but not convertible. Numeric strings convert to numbers. name may be a
	 * dotted path into nested objects ("content.text"). The string is
	 * borrowed until the callback returns. Since: 1.0 */
	int (*arg_string)(const struct smcp_args *a, const char *name, const char **ret);
	int (*arg_int)(const struct smcp_args *a, const char *name, int64_t *ret);
	int (*arg_double)(const struct smcp_args *a, const char *name, double *ret);
	int (*arg_bool)(const struct smcp_args *a, const char *name, bool *ret);

	/* Results. Content functions append one content item (tool results and
	 * prompt messages) or one contents entry (resource reads; text/blob take
	 * the resource's URI and MIME type). result_error marks a tool result
	 * isError (or sets the error message of a failed read/prompt) and adds
	 * the text. result_json returns the writer for the root object of
	 * structuredContent (tools; also mirrored as text) or of a JSON resource
	 * body; NULL on -ENOMEM. Binary data is base64-encoded by the host.
	 * Since: 1.0 */
	int (*result_text)(struct smcp_result *r, const char *text);
	int (*result_textf)(struct smcp_result *r, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	int (*result_error)(struct smcp_result *r, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
	struct smcp_json *(*result_json)(struct smcp_result *r);
	int (*result_blob)(struct smcp_result *r, const char *mime_type, const void *data,
			   size_t len);
	int (*result_image)(struct smcp_result *r, const char *mime_type, const void *data,
			    size_t len);
	int (*result_audio)(struct smcp_result *r, const char *mime_type, const void *data,
			    size_t len);
	int (*result_resource_link)(struct smcp_result *r, const char *uri, const char *name,
				    const char *description, const char *mime_type);
	int (*result_embedded_text)(struct smcp_result *r, const char *uri, const char *mime_type,
				    const char *text);
	int (*result_embedded_blob)(struct smcp_result *r, const char *uri, const char *mime_type,
				    const void *data, size_t len);
	/* Prompts: role of the messages added next; description of the prompt.
	 * Since: 1.0 */
	int (*result_role)(struct smcp_result *r, enum smcp_role role);
	int (*result_description)(struct smcp_result *r, const char *text);

	/* JSON writer. key is the member name inside an object and must be NULL
	 * inside an array. Strings are made valid UTF-8 (bad bytes become
	 * U+FFFD); NaN and infinities become null; json_double writes a value
	 * with a fraction to 4 significant digits (since 1.2; integral values
	 * exactly: use json_int/json_uint for counts and ids). Errors are
	 * sticky: after the
	 * first error every call returns it and the result reports an internal
	 * error. Since: 1.0 */
	int (*json_object)(struct smcp_json *j, const char *key); /* open; close with json_end */
	int (*json_array)(struct smcp_json *j, const char *key);
	int (*json_end)(struct smcp_json *j);
	int (*json_string)(struct smcp_json *j, const char *key, const char *val); /* NULL: null */
	int (*json_int)(struct smcp_json *j, const char *key, int64_t val);
	int (*json_uint)(struct smcp_json *j, const char *key, uint64_t val);
	int (*json_double)(struct smcp_json *j, const char *key, double val);
	int (*json_bool)(struct smcp_json *j, const char *key, bool val);
	int (*json_null)(struct smcp_json *j, const char *key);
	int (*json_raw)(struct smcp_json *j, const char *key, const char *json_text); /* -EINVAL if not JSON */

	/* In-flight calls. call_progress sends notifications/progress when the
	 * request carried a progressToken (else it does nothing and returns 0);
	 * total <= 0 means unknown. call_complete finishes a call a handler
	 * answered SMCP_PENDING for, with err as the handler's return would have
	 * been (SMCP_PENDING itself, or 1 from a plugin built before 1.2,
	 * finishes it with -EINVAL); call and its result are invalid afterwards. call_on_cancel sets
	 * the function run when the client cancels or the host shuts down: the
	 * host then sends no response and frees the call after cb returns (do
	 * not call call_complete from cb). Since: 1.0 */
	int (*call_progress)(struct smcp_call *c, double progress, double total,
			     const char *message);
	int (*call_complete)(struct smcp_call *c, int err);
	int (*call_on_cancel)(struct smcp_call *c, smcp_cancel_fn cb, void *data);
	/* Send a request to the client on behalf of a pending call (sampling,
	 * elicitation, roots). params_json is the request's params object as
	 * text. -ENOTSUP when the client did not declare the capability named
	 * by the method's prefix. The response arrives through cb, at most
	 * once, before the call is freed: -ECANCELED when the call was cancelled
	 * or the host stops (the call is then finished; do not complete it).
	 * Since: 1.0 */
	int (*call_client_request)(struct smcp_call *c, const char *method,
				   const char *params_json, uint32_t timeout_ms,
				   smcp_response_fn cb, void *data);
	/* Whether the client declared a capability ("sampling", "elicitation",
	 * "roots"). Since: 1.0 */
	bool (*client_has_capability)(struct smcp_host *h, const char *name);

	/* Completion: add one candidate. -ENOSPC once the answer is full (the
	 * host then reports hasMore); keep counting with completion_total.
	 * Since: 1.0 */
	int (*completion_add)(struct smcp_completion *c, const char *value);
	int (*completion_total)(struct smcp_completion *c, uint32_t total);

	/*
	 * Metrics. Since: 1.1 (check with SMCP_API_HAS first).
	 *
	 * metric_register: only inside init(). Returns a metric id > 0 (for the
	 * calls below), or -EINVAL (bad name, unit, labels or buckets), -EEXIST
	 * (name taken), -EPERM (outside init), -ENOSPC (too many metrics).
	 * The metric goes away with the plugin.
	 *
	 * Publishing: label_values holds the metric's n_labels values in the
	 * order of its labels (NULL when it has none); they are borrowed for
	 * the call. The first publish of new label values creates the series
	 * (the only allocation; later publishes of it allocate nothing). They
	 * return 0, or -ENOENT (no such metric of this plugin), -EINVAL (wrong
	 * type, missing or over-long label value, bucket count mismatch),
	 * -ENOSPC (series not created: the series limit, the memory budget or
	 * SMCP_METRIC_TOP_N said no; counted and shown in the metric catalog).
	 *
	 * metric_set: gauge: the current value; counter: the cumulative total.
	 * metric_add: counter: an increment (>= 0); gauge: added to the value.
	 * metric_hist: histogram: n_counts == n_buckets counts (cumulative, or
	 *   since the previous call with SMCP_HIST_DELTA) and the sum of the
	 *   observed values alike (NAN when unknown: means are then estimated
	 *   from bucket midpoints).
	 * metric_observe: histogram: count one observed value.
	 * metric_collect: call cb once per history step (see smcp_collect_fn);
	 *   only inside init(); -EPERM outside, -ENOSPC past 8 per plugin.
	 */
	/* Since: 1.1 */
	int (*metric_register)(struct smcp_host *h, const struct smcp_metric_desc *d);
	/* Since: 1.1 */
	int (*metric_set)(struct smcp_host *h, int metric, const char *const *label_values,
			  double value);
	/* Since: 1.1 */
	int (*metric_add)(struct smcp_host *h, int metric, const char *const *label_values,
			  double delta);
	/* Since: 1.1 */
	int (*metric_hist)(struct smcp_host *h, int metric, const char *const *label_values,
			   const uint64_t *counts, uint32_t n_counts, double sum, uint32_t flags);
	/* Since: 1.1 */
	int (*metric_observe)(struct smcp_host *h, int metric, const char *const *label_values,
			      double value);
	/* Since: 1.1 */
	int (*metric_collect)(struct smcp_host *h, smcp_collect_fn cb, void *data);

	/*
	 * The capabilities this plugin needs after init() returns, for what it
	 * does on demand: a mask of 1ull << CAP_X (<linux/capability.h>). Only
	 * inside init(); repeated calls add up.
	 *
	 * init() runs with every capability the daemon started with (load BPF,
	 * open perf events and privileged files there). Then the daemon leaves
	 * uid 0 for its own account and keeps only what loaded plugins
	 * declared; a declared capability is effective only while this
	 * plugin's callbacks run (never in the core or another plugin). A
	 * plugin built for ABI 1.2 or later that never calls this keeps
	 * nothing; one built before 1.2 keeps a broad default (see SECURITY.md).
	 * Files root may read by owner alone (tracefs, debugfs, a root-owned
	 * socket) need CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE after that, or
	 * an fd opened in init().
	 *
	 * Returns 0, -EPERM outside init(), -EINVAL for a capability this
	 * kernel does not know. Since: 1.2 */
	int (*keep_capabilities)(struct smcp_host *h, uint64_t caps);

	/*
	 * Long work off the loop thread, which serves every client: work(data)
	 * runs on a worker thread the host owns, then done(data, result) runs
	 * on the loop with work's return value. Use it for anything that can
	 * take more than a few milliseconds (symbolising a binary, detaching
	 * BPF programs, which waits for an RCU grace period, walking every
	 * process); a pending call finishes from done with call_complete().
	 *
	 * work must not call this API, and must touch only what the plugin
	 * leaves alone from the loop until done runs (no locks are needed
	 * then). It runs with the capabilities this plugin keeps, like its
	 * loop callbacks. Jobs run in submission order on up to [core]
	 * workers threads; at shutdown the host waits for them and runs every
	 * done before fini(). done is called exactly once when 0 is returned.
	 *
	 * Returns 0, -EBUSY (too many jobs queued: try later or do less),
	 * -EINVAL (no work or done), -ENOMEM. Since: 1.2 */
	int (*work_submit)(struct smcp_host *h, smcp_work_fn work, smcp_work_done_fn done,
			   void *data);

	/*
	 * What this plugin tells the model at initialize: one line (at most
	 * 512 bytes) for the server's `instructions`, saying what its
	 * resources and tools are for and where to start, e.g.
	 * "topology://info maps CPUs to cores, caches and NUMA nodes." The
	 * core's own lines come first, then every plugin's in load order.
	 * Only inside init(); repeated calls add lines (at most 4).
	 * Returns 0, -EPERM outside init(), -EINVAL (empty or too long),
	 * -ENOSPC, -ENOMEM. Since: 1.2 */
	int (*add_instructions)(struct smcp_host *h, const char *text);

	/*
	 * What to tell a client that calls a tool no plugin has, when its name
	 * matches name_glob (<schedmcp/glob.h>: * ? [...]), for example the
	 * name another server gave what this plugin offers:
	 * add_tool_hint(h, "control_analyzers", "nothing needs starting: ...").
	 * The text (at most 512 bytes) follows "Unknown tool: NAME." in the
	 * error. Only inside init(). Returns 0, -EPERM, -EINVAL, -ENOMEM.
	 * Since: 1.2 */
	int (*add_tool_hint)(struct smcp_host *h, const char *name_glob, const char *text);

	/*
	 * Series label_values of this plugin's metric over the newest steps
	 * the core recorded that span window_ms (at least one step, at most
	 * what the fine tier holds: 15 min by default), into *w (w->sz,
	 * counts and n_counts set by the caller). Any time on the loop.
	 * Returns 0 (w->steps is 0 when the window holds no data), -ENOENT (no
	 * such metric of this plugin, or no such series), -EINVAL (w->sz too
	 * small, counts that do not match the buckets). Since: 1.2 */
	int (*metric_window)(struct smcp_host *h, int metric, const char *const *label_values,
			     uint64_t window_ms, struct smcp_metric_window *w);

	/*
	 * A step of the core's workflow prompts (struct smcp_prompt_step,
	 * copied; render and data are kept). Only inside init(); at most 64
	 * per plugin; they go with the plugin. Returns 0, -EPERM outside
	 * init(), -EINVAL (sz too small, a topic that is not [a-z0-9_.]{1,64},
	 * neither text nor render, text too long, more than 4 needs or one
	 * longer than 256 bytes, missing too long or naming a URI), -ENOSPC,
	 * -ENOMEM. Since: 1.2 */
	int (*register_prompt_step)(struct smcp_host *h, const struct smcp_prompt_step *step);

	/*
	 * Offer completions for arg_name, an argument of the core's workflow
	 * prompts ("pid", "scheduler_name"): complete is called like a
	 * prompt's own (smcp_complete_fn, with this plugin's capabilities)
	 * after the core's candidates and those of plugins loaded before;
	 * say how many exist with completion_total. Only inside init().
	 * Returns 0, -EPERM, -EINVAL (no core prompt takes arg_name, or no
	 * function), -EEXIST (this plugin completes it already), -ENOMEM.
	 * Since: 1.2 */
	int (*register_prompt_completion)(struct smcp_host *h, const char *arg_name,
					  smcp_complete_fn complete, void *data);

	/*
	 * Pages that end where they must, instead of answers that fail: a list
	 * paged with a cursor or an offset calls json_item_begin before each
	 * item and json_item_end after it. json_item_end returns 0 while the
	 * answer, with tail_bytes more of body for what still follows the list
	 * (SMCP_PAGE_TAIL_BYTES covers next_cursor, has_more and a note), stays
	 * within the client's max_result_bytes (counted as the answer is sent:
	 * a tool's body twice, once escaped as text); else it removes what was
	 * written since json_item_begin and returns -ENOSPC: stop there and
	 * answer has_more with that item's cursor. The first item of a page is
	 * always kept, so a page never repeats its own cursor. Always 0 for an
	 * answer with no bound (the report, events). -ENOSPC is not sticky; an
	 * end without a begin, or at another depth, is -EINVAL and sticky (a
	 * plugin bug). Since: 1.2
	 */
	int (*json_item_begin)(struct smcp_json *j);
	int (*json_item_end)(struct smcp_json *j, size_t tail_bytes);

	/*
	 * Who serves uri in this daemon (a resource, or a URI one of its
	 * templates matches), for a plugin that tells the model where things
	 * are: 0 with *ret_plugin (the plugin's name) and *ret_reason (NULL,
	 * or why that plugin is degraded), both owned by the host and valid
	 * until the callback returns; -ENOENT when nothing serves it; -EINVAL.
	 * Any time on the loop. Since: 1.2
	 */
	int (*resource_owner)(struct smcp_host *h, const char *uri, const char **ret_plugin,
			      const char **ret_reason);

	/*
	 * work_submit for work that loses data while it waits, such as
	 * draining a BPF ring buffer the kernel fills at its own pace: it runs
	 * on a worker thread at the loop's priority (the loop's nice), where
	 * work_submit's workers run 10 nice levels lower and a machine busy
	 * with other work can starve them for seconds. The same contract as
	 * work_submit otherwise; these jobs, every plugin's, share that one
	 * thread and run one at a time, in submission order. Keep each short
	 * (tens of milliseconds): it competes with the loop for the CPU and
	 * delays the other plugins' paced jobs. Returns 0, -EBUSY, -EINVAL, -ENOMEM. Since: 1.3 (check with
	 * SMCP_API_HAS; without it, use work_submit).
	 */
	int (*work_submit_paced)(struct smcp_host *h, smcp_work_fn work, smcp_work_done_fn done,
				 void *data);
};

/* Bytes of body a paged answer keeps for what it writes after its list
 * (next_cursor, has_more, a note): see json_item_end. Since: 1.2 */
#define SMCP_PAGE_TAIL_BYTES 512

/* Whether the host's API table has member m. */
#define SMCP_API_HAS(api, m)                                                                       \
	((api)->sz >= offsetof(struct smcp_host_api, m) + sizeof((api)->m) && (api)->m != NULL)

/* Convenience: json_item_begin on a host that has it (else nothing). */
static inline void smcp_json_item_begin(const struct smcp_host_api *api, struct smcp_json *j)
{
	if (SMCP_API_HAS(api, json_item_begin))
		(void)api->json_item_begin(j);
}

/* Convenience: whether the item just written fits the page, with tail_bytes
 * of body still to come after the list (true on a host without
 * json_item_end: the answer may then fail as too large). */
static inline bool smcp_json_item_fits_tail(const struct smcp_host_api *api, struct smcp_json *j,
					    size_t tail_bytes)
{
	return !SMCP_API_HAS(api, json_item_end) || api->json_item_end(j, tail_bytes) != -ENOSPC;
}

/* ... with SMCP_PAGE_TAIL_BYTES to come. */
static inline bool smcp_json_item_fits(const struct smcp_host_api *api, struct smcp_json *j)
{
	return smcp_json_item_fits_tail(api, j, SMCP_PAGE_TAIL_BYTES);
}

/* Convenience: a static plugin_info with the ABI this header describes. */
#define SMCP_PLUGIN_INFO_INIT .sz = sizeof(struct smcp_plugin_info), \
			      .abi_major = SMCP_ABI_MAJOR, .abi_minor = SMCP_ABI_MINOR

/* Convenience: a plugin's static smcp_plugin_info with this header's ABI,
 * and the entry returning it, in one:
 *   SMCP_PLUGIN_DEFINE("topology", "0.1.0", "CPU and cache topology",
 *                      .init = topo_init, .fini = topo_fini)
 * (the rest as designated initializers). A plugin that declares an older
 * abi_minor writes its struct out and uses SMCP_PLUGIN_EXPORT. */
#define SMCP_PLUGIN_DEFINE(name_, version_, description_, ...)                                    \
	static const struct smcp_plugin_info smcp_plugin_info_ = {                                 \
		SMCP_PLUGIN_INFO_INIT, .name = (name_), .version = (version_),                      \
		.description = (description_), __VA_ARGS__                                         \
	};                                                                                         \
	SMCP_PLUGIN_EXPORT(smcp_plugin_info_)

/* Convenience: the first members of a step in a table of them,
 * { SMCP_STEP("latency.cpu", 10), .needs = "...", .text = "..." }. */
#define SMCP_STEP(topic_, order_) .sz = sizeof(struct smcp_prompt_step), .topic = (topic_), \
				  .order = (order_)

/*
 * Registering as data: a plugin lists what it offers in static tables,
 * { SMCP_TOOL("get_topology"), .title = ..., .call = ..., .data = &plugin },
 * and registers each table with one call, in order, stopping at the first
 * error (whose -errno it returns). A resource whose URI holds a '{' is a
 * template (RFC 6570). These are of this header, not of the host's table:
 * they work with any 1.x host.
 */
#define SMCP_RESOURCE(uri_) .sz = sizeof(struct smcp_resource_desc), .uri = (uri_)
#define SMCP_TOOL(name_) .sz = sizeof(struct smcp_tool_desc), .name = (name_)

static inline int smcp_register_resources(struct smcp_host *h, const struct smcp_host_api *api,
					  const struct smcp_resource_desc *d, size_t n)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = d[i].uri && strchr(d[i].uri, '{') ? api->register_template(h, &d[i])
							 : api->register_resource(h, &d[i]);
	return err;
}

static inline int smcp_register_tools(struct smcp_host *h, const struct smcp_host_api *api,
				      const struct smcp_tool_desc *d, size_t n)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = api->register_tool(h, &d[i]);
	return err;
}

static inline int smcp_register_prompts(struct smcp_host *h, const struct smcp_host_api *api,
					const struct smcp_prompt_desc *d, size_t n)
{
	int err = 0;

	for (size_t i = 0; !err && i < n; i++)
		err = api->register_prompt(h, &d[i]);
	return err;
}

/*
 * Convenience: register one metric family (api->metric_register) and, when
 * the host refuses it, log "cannot register metric NAME: WHY" as an error,
 * so that a plugin's init() failing on a metric says which one. Returns 0
 * with the id in *ret_id, or metric_register's -errno (*ret_id untouched).
 * The host must have metric_register (SMCP_API_HAS; a 1.1 host or newer).
 * Since: 1.2 (header only)
 */
static inline int smcp_register_metric(struct smcp_host *h, const struct smcp_host_api *api,
				       const struct smcp_metric_desc *d, int *ret_id)
{
	int id = api->metric_register(h, d);

	if (id < 0) {
		api->log(h, SMCP_LOG_ERROR, "cannot register metric %s: %s", d->name,
			 strerror(-id));
		return id;
	}
	*ret_id = id;
	return 0;
}

/*
 * Convenience: the value of an integer or boolean key of this plugin's
 * config section (api->config_int, api->config_bool), or def when the host
 * has none for it (-ENOENT: not declared, or no value and no default).
 * Since: 1.2 (header only)
 */
static inline int64_t smcp_config_int_or(struct smcp_host *h, const struct smcp_host_api *api,
					 const char *key, int64_t def)
{
	int64_t v;

	return api->config_int(h, key, &v) == 0 ? v : def;
}

static inline bool smcp_config_bool_or(struct smcp_host *h, const struct smcp_host_api *api,
				       const char *key, bool def)
{
	bool v;

	return api->config_bool(h, key, &v) == 0 ? v : def;
}

/*
 * Convenience: whether s is 1 to max_len characters of [A-Za-z0-9_.-], the
 * characters the MCP spec allows in a tool name; the host checks tool and
 * prompt names with max_len 128. ASCII whatever the locale.
 * Since: 1.2 (header only)
 */
static inline bool smcp_name_ok(const char *s, size_t max_len)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-' || s[n] == '.'))
			return false;
	return n > 0 && n <= max_len;
}

/* The number of elements of a table (an array, never a pointer). */
#define SMCP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Convenience: register n steps in order, stopping at the first error;
 * on a host older than 1.2 (no prompt steps) nothing, and 0. */
static inline int smcp_register_prompt_steps(struct smcp_host *h, const struct smcp_host_api *api,
					     const struct smcp_prompt_step *steps, size_t n)
{
	int err = 0;

	if (!SMCP_API_HAS(api, register_prompt_step))
		return 0;
	for (size_t i = 0; !err && i < n; i++)
		err = api->register_prompt_step(h, &steps[i]);
	return err;
}

#ifdef __cplusplus
}
#endif

#endif /* SCHEDMCP_PLUGIN_H */
