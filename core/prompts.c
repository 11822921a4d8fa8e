/* SPDX-License-Identifier: MIT */
/*
 * The workflow prompts: registration, argument checks and completion. The
 * arguments are the contract with users coming from scxtop; what a prompt
 * says is prompts_flows.c's tables and the steps plugins give them.
 */
#include "prompts.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"
#include "log.h"
#include "privs.h"
#include "steps.h"
#include "util.h"

/* The kernel's PID_MAX_LIMIT on 64-bit: no pid is larger on any machine. */
#define PROMPT_PID_MAX 4194304

static const struct smcp_host_api *api;

/* ----------------------------------------------------------- arguments */

static const char *const focus_areas[] = { "general", "latency", "throughput", "balance" };
static const char *const windows[] = { "5m", "10m", "15m", "30m", "1h" };
static const char *const durations[] = { "5", "10", "30", "60" };

/* "30s", "5m", "2h": a window what_changed and query_history accept. */
static bool window_ok(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!isdigit((unsigned char)s[0]) || v <= 0 || end[1] != '\0')
		return false;
	switch (*end) {
	case 's':
		return v >= 10 && v <= 86400;
	case 'm':
		return v <= 1440;
	case 'h':
		return v <= 24;
	default:
		return false;
	}
}

static int bad_arg(struct smcp_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_arg(struct smcp_result *res, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)api->result_error(res, "%s", msg);
	return -EINVAL;
}

/* Each check reads one argument from args, and puts it (or its default)
 * into out, the arguments the flows and the plugins' steps see. */

static int check_focus(const struct smcp_args *args, cJSON *out, struct smcp_result *res)
{
	const char *v = NULL, *area = "general";

	if (api->arg_string(args, "focus_area", &v) == 0 && v) {
		area = NULL;
		for (size_t i = 0; i < ARRAY_SIZE(focus_areas) && !area; i++)
			if (strcasecmp(v, focus_areas[i]) == 0)
				area = focus_areas[i];
		if (!area)
			return bad_arg(res, "focus_area must be one of general, latency, throughput, "
					    "balance (got \"%.40s\")", v);
	}
	return cJSON_AddStringToObject(out, "focus_area", area) ? 0 : -ENOMEM;
}

/*
 * A pid in range that names a task now. kill(pid, 0) asks the kernel
 * without reading /proc (what a task is, plugins say in their steps): ESRCH
 * is no such task, EPERM one of another user's. It asks the live machine,
 * also under --fs-root.
 */
static int check_pid(const struct smcp_args *args, cJSON *out, struct smcp_result *res)
{
	int64_t pid = 0;

	if (api->arg_int(args, "pid", &pid) == -ENOENT)
		return 0;
	if (pid <= 0 || pid > PROMPT_PID_MAX)
		return bad_arg(res, "pid must be a process id from 1 to %d (got %lld); omit it "
				    "to look at every process", PROMPT_PID_MAX, (long long)pid);
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return bad_arg(res, "no process %lld on this machine (it may have exited); omit "
				    "pid to find the processes that wait longest", (long long)pid);
	return cJSON_AddNumberToObject(out, "pid", (double)pid) ? 0 : -ENOMEM;
}

static int check_scheduler(const struct smcp_args *args, cJSON *out, struct smcp_result *res)
{
	const char *v = NULL;

	if (api->arg_string(args, "scheduler_name", &v) || !v || !*v)
		return 0;
	if (!smcp_name_ok(v, 64))
		return bad_arg(res, "scheduler_name must be a scheduler name such as scx_layered "
				    "or EEVDF (1 to 64 of A-Z a-z 0-9 _ - .), got \"%.40s\"", v);
	return cJSON_AddStringToObject(out, "scheduler_name", v) ? 0 : -ENOMEM;
}

static int check_duration(const struct smcp_args *args, cJSON *out, struct smcp_result *res)
{
	int64_t d = 10;

	if (api->arg_int(args, "duration_secs", &d) == -ENOENT)
		d = 10;
	if (d < 1 || d > 300)
		return bad_arg(res, "duration_secs must be from 1 to 300 seconds (got %lld)",
			       (long long)d);
	return cJSON_AddNumberToObject(out, "duration_secs", (double)d) ? 0 : -ENOMEM;
}

static int check_window(const struct smcp_args *args, cJSON *out, struct smcp_result *res)
{
	const char *v = NULL;

	if (api->arg_string(args, "window", &v) || !v) {
		v = "15m";
	} else if (!window_ok(v)) {
		return bad_arg(res, "window must be a duration such as 30s, 5m, 15m or 1h "
				    "(10 s to 24 h), got \"%.40s\"", v);
	}
	return cJSON_AddStringToObject(out, "window", v) ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------ completion */

static void add_list(struct smcp_completion *out, const char *const *list, size_t n,
		     const char *prefix, uint32_t *total, bool nocase)
{
	size_t pl = strlen(prefix);

	for (size_t i = 0; i < n; i++) {
		if (nocase ? strncasecmp(list[i], prefix, pl) : strncmp(list[i], prefix, pl))
			continue;
		(*total)++;
		(void)api->completion_add(out, list[i]);
	}
}

/*
 * The core's own candidates, then every plugin's that completes this
 * argument (pids, scheduler names: what the machine runs is theirs to
 * say), each counted in the total whether or not it fitted.
 */
static int prompts_complete(void *data, const char *arg_name, const char *prefix,
			    const struct smcp_args *context, struct smcp_completion *out)
{
	struct reg_completer *const *all;
	uint32_t total = 0;
	size_t n;

	if (strcmp(arg_name, "focus_area") == 0)
		add_list(out, focus_areas, ARRAY_SIZE(focus_areas), prefix, &total, true);
	else if (strcmp(arg_name, "duration_secs") == 0)
		add_list(out, durations, ARRAY_SIZE(durations), prefix, &total, false);
	else if (strcmp(arg_name, "window") == 0)
		add_list(out, windows, ARRAY_SIZE(windows), prefix, &total, false);
	all = steps_completers(&n);
	for (size_t i = 0; i < n; i++) {
		uint32_t before = out->count;
		uint64_t caps;
		int err;

		if (strcmp(all[i]->arg, arg_name) != 0)
			continue;
		out->total = 0;
		caps = privs_enter(all[i]->owner);
		err = all[i]->complete(all[i]->data, arg_name, prefix, context, out);
		privs_leave(caps);
		if (err < 0 && err != -ENOSPC)
			log_debug("completion of %s by %s failed: %s", arg_name,
				  all[i]->owner->name, strerror(-err));
		/* its own total when it gave one, else what it added */
		total += out->total > out->count - before ? out->total : out->count - before;
	}
	return api->completion_total(out, total);
}

/* ------------------------------------------------------------------ get */

static const char *const descriptions[] = {
	[P_PERFORMANCE] = "Analyse scheduler performance",
	[P_LATENCY] = "Find why tasks wait for a CPU",
	[P_IMBALANCE] = "Find uneven load across CPUs, caches and NUMA nodes",
	[P_SCHEDULER] = "Explain what the scheduler is doing and why",
	[P_SUMMARY] = "One-screen summary of the machine and its scheduler",
	[P_PROFILE] = "Profile where CPU time goes, including BPF and the scheduler",
	[P_REGRESSION] = "Find what changed when things got slower",
};

static int check_args(enum prompt_id id, const struct smcp_args *args, cJSON *out,
		      struct smcp_result *res)
{
	switch (id) {
	case P_PERFORMANCE:
		return check_focus(args, out, res);
	case P_LATENCY:
		return check_pid(args, out, res);
	case P_SCHEDULER:
		return check_scheduler(args, out, res);
	case P_PROFILE:
		return check_duration(args, out, res);
	case P_REGRESSION:
		return check_window(args, out, res);
	default:
		return 0;
	}
}

static int prompt_get(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	enum prompt_id id = (enum prompt_id)(uintptr_t)data;
	cJSON *checked = cJSON_CreateObject();
	char *text = NULL;
	int err;

	if (!checked)
		return -ENOMEM;
	err = check_args(id, args, checked, res);
	if (!err)
		err = prompts_render(id, checked, &text);
	if (!err)
		err = api->result_description(res, descriptions[id]);
	if (!err)
		err = api->result_role(res, SMCP_ROLE_USER);
	if (!err)
		err = api->result_text(res, text);
	free(text);
	cJSON_Delete(checked);
	return err;
}

/* ---------------------------------------------------------------- setup */

int prompts_init(struct smcp_host *core, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg perf_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "focus_area", "latency, throughput, balance or general (default)", false,
		  SMCP_ARG_STRING },
	};
	static const struct smcp_prompt_arg latency_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "pid", "process (or thread) id to investigate; omit to find the processes "
			 "that wait longest", false, SMCP_ARG_INT },
	};
	static const struct smcp_prompt_arg sched_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "scheduler_name", "scheduler to explain, e.g. scx_layered or EEVDF (default: "
				    "the one running)", false, SMCP_ARG_STRING },
	};
	static const struct smcp_prompt_arg profile_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "duration_secs", "how long to profile, 1 to 300 seconds (default 10)", false,
		  SMCP_ARG_INT },
	};
	static const struct smcp_prompt_arg regression_args[] = {
		{ sizeof(struct smcp_prompt_arg),
		  "window", "how far back things got worse, e.g. 5m, 15m (default), 1h", false,
		  SMCP_ARG_STRING },
	};
	static const struct {
		const char *name, *title, *description;
		const struct smcp_prompt_arg *args;
		size_t n_args;
	} prompts[] = {
		[P_PERFORMANCE] = { "analyze_scheduler_performance", "Analyse scheduler performance",
				    "Workflow to judge scheduling latency, throughput or balance "
				    "with concrete thresholds; focus_area narrows it.",
				    perf_args, 1 },
		[P_LATENCY] = { "debug_high_latency", "Debug high scheduling latency",
				"Workflow to find why a process (or any process) waits for a CPU: "
				"its latency percentiles, contention, wakers, CPUs and causes.",
				latency_args, 1 },
		[P_IMBALANCE] = { "analyze_cpu_imbalance", "Analyse CPU load imbalance",
				  "Workflow to find uneven load across CPUs, LLCs and NUMA "
				  "nodes, tell it from saturation, and find the cause.",
				  NULL, 0 },
		[P_SCHEDULER] = { "investigate_scheduler_behavior", "Investigate scheduler behaviour",
				  "Workflow to explain the running scheduler (sched_ext or the "
				  "fair class): its own stats, DSQs, placement and BPF cost.",
				  sched_args, 1 },
		[P_SUMMARY] = { "summarize_system", "Summarize the system",
				"Workflow for a one-screen summary: hardware, scheduler, load, "
				"latency, top processes, and what schedmcp can observe here.",
				NULL, 0 },
		[P_PROFILE] = { "profile_system", "Profile the system",
				"Workflow to profile CPU time (kernel and user stacks) and the "
				"cost of BPF programs and the scheduler, with thresholds.",
				profile_args, 1 },
		[P_REGRESSION] = { "diagnose_regression", "Diagnose a slowdown",
				   "Workflow to find what changed when the machine got slower: "
				   "metric history before and after, watches, and where.",
				   regression_args, 1 },
	};
	int err = 0;

	api = a;
	for (size_t i = 0; !err && i < ARRAY_SIZE(prompts); i++) {
		struct smcp_prompt_desc d = {
			.sz = sizeof(d),
			.name = prompts[i].name,
			.title = prompts[i].title,
			.description = prompts[i].description,
			.args = prompts[i].args,
			.n_args = prompts[i].n_args,
			.get = prompt_get,
			.complete = prompts[i].n_args ? prompts_complete : NULL,
			.data = (void *)(uintptr_t)i,
		};

		err = api->register_prompt(core, &d);
	}
	return err ? err : prompts_flows_core_steps(core, api);
}
