/* SPDX-License-Identifier: MIT */
/*
 * The workflow prompts users know from scxtop (analyze_scheduler_performance,
 * debug_high_latency, analyze_cpu_imbalance, investigate_scheduler_behavior,
 * summarize_system) and more (profile_system, diagnose_regression). They span
 * plugins, so the core owns them, and they are data:
 *
 *   prompts.c         names, arguments, argument checks, completion
 *   prompts_flows.c   each prompt as a table of rows: text about no plugin
 *                     (the task, how to judge a p99, the answer to write)
 *                     and topics, in order; the core's own steps
 *   prompts_render.c  one loop that turns a table into the text
 *
 * The steps come from plugins (host API register_prompt_step, core/steps.h):
 * a topic's row becomes the steps filed under it whose needs are registered
 * when the client gets the prompt. Nothing here names a plugin, its URIs,
 * tools or fields; tests/docs/layering.py holds core/ and mcp/ to that.
 */
#ifndef SMCP_PROMPTS_H
#define SMCP_PROMPTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <schedmcp/plugin.h>

/* Register the prompts and the core's own steps (from daemon_start). */
int prompts_init(struct smcp_host *core, const struct smcp_host_api *api);

enum prompt_id {
	P_PERFORMANCE,
	P_LATENCY,
	P_IMBALANCE,
	P_SCHEDULER,
	P_SUMMARY,
	P_PROFILE,
	P_REGRESSION,
	P_COUNT
};

enum row_kind {
	ROW_TEXT,  /* general text, appended as it is */
	ROW_STEP,  /* general text as the next numbered step */
	ROW_TOPIC, /* the topic's steps, each the next numbered step */
	ROW_NOTE,  /* the topic's steps as paragraphs: context, not actions */
};

/*
 * One row of a workflow. Text (of the row, and of the steps) may hold
 * ${arg} placeholders: a row or step naming an argument that is not set is
 * left out.
 */
struct row {
	enum row_kind kind;
	const char *s; /* the text, or the topic */
	/* NULL, or conditions on the arguments, all of which must hold:
	 * "pid" (given), "!pid" (not given), "focus_area=general|latency" */
	const char *when;
	/* topic rows: "top=5 window=10m", arguments for the steps that the
	 * prompt's own do not set */
	const char *params;
	/* text rows: only when some step of one of these topics is shown /
	 * when none is (space-separated topics of the same workflow) */
	const char *with, *without;
	const char *needs; /* text rows: names that must be registered */
	bool one; /* topic rows: only the first step that can be shown */
};

struct flow {
	const struct row *rows;
	size_t n_rows;
};

/* The workflow of prompt id. */
const struct flow *prompts_flows_get(enum prompt_id id);

/* Whether some workflow lists topic. */
bool prompts_flows_topic_known(const char *topic);

/* Register the core's own steps (history, watches, events). */
int prompts_flows_core_steps(struct smcp_host *core, const struct smcp_host_api *api);

/*
 * The text of prompt id for args (an object of its checked arguments, with
 * defaults), into *ret_text (malloc'd; the caller frees). Returns 0 or
 * -ENOMEM.
 */
int prompts_render(enum prompt_id id, const cJSON *args, char **ret_text);

#endif
