/* SPDX-License-Identifier: MIT */
/*
 * The workflow prompts users know from scxtop (analyze_scheduler_performance,
 * debug_high_latency, analyze_cpu_imbalance, investigate_scheduler_behavior,
 * summarize_system) and more (profile_system, diagnose_regression). They span
 * plugins, so the core owns them. Their text is built when a client gets
 * them, from what the registry holds at that moment: a step names only the
 * resources and tools that exist, and what is missing is said in words (the
 * plugin and why it is not there), never as a name the model cannot use.
 */
#ifndef SMCP_PROMPTS_H
#define SMCP_PROMPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <schedmcp/plugin.h>

/* Register the prompts through the core's host record (from daemon_start). */
int prompts_init(struct smcp_host *core, const struct smcp_host_api *api);

/* ------------------------------------ shared by prompts.c and prompts_flows.c */

/* Prompt text under construction. Errors are sticky (-ENOMEM). */
struct pb {
	char *buf;
	size_t len, cap;
	int err;
	unsigned step; /* number of the last step written */
	/* what the flow could not use, grouped by the plugin that provides it */
	struct {
		const char *plugin;
		char what[512];
	} missing[8];
	unsigned n_missing;
};

void pb_add(struct pb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start the next numbered step. */
void pb_step(struct pb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record something the workflow would use but cannot: what (in words, no
 * URI or tool name) and the plugin that would provide it. */
void pb_missing(struct pb *b, const char *what, const char *plugin);
/* Append the list of what is missing, one line per plugin with its state. */
void pb_missing_list(struct pb *b);
void pb_free(struct pb *b);

/* Whether the registry holds this resource URI / template / tool now. */
bool pr_res(const char *uri);
bool pr_tpl(const char *uri_template);
bool pr_tool(const char *name);
bool pr_prompt(const char *name);

/* The kernel's sched_ext state ("enabled", "disabled"...; "" when the
 * kernel has none) and the root scheduler's ops name ("" when none). */
void pr_sched_ext(char *state, size_t slen, char *ops, size_t olen);

/* Arguments checked by prompts.c before a flow runs. */
struct pr_args {
	const char *focus_area; /* analyze_scheduler_performance: a valid area */
	int64_t pid;            /* debug_high_latency: 0 = any */
	int64_t tgid;           /* its process when pid is a thread */
	char comm[64];
	const char *scheduler_name; /* investigate_scheduler_behavior; NULL = current */
	int64_t duration_secs;      /* profile_system */
	const char *window;         /* diagnose_regression */
};

void flow_performance(struct pb *b, const struct pr_args *a);
void flow_latency(struct pb *b, const struct pr_args *a);
void flow_imbalance(struct pb *b, const struct pr_args *a);
void flow_scheduler(struct pb *b, const struct pr_args *a);
void flow_summary(struct pb *b, const struct pr_args *a);
void flow_profile(struct pb *b, const struct pr_args *a);
void flow_regression(struct pb *b, const struct pr_args *a);

#endif
