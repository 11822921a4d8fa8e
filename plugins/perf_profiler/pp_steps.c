/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should do with the profiler (host API
 * register_prompt_step): check what this machine allows, take a profile
 * for the prompt's duration_secs, read it by function, process and stack;
 * and, in the other workflows, where a profile answers the question.
 */
#include "pp_steps.h"


static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("profile", 10), .needs = "profiling://perf/status",
	  .text = "Read profiling://perf/status: `state` (idle, running...), "
		  "`capabilities`.`privileged`, `capabilities`.`hardware_events` (false in most "
		  "VMs: sw:cpu-clock is used instead, say so)." },
	{ SMCP_STEP("profile", 20), .needs = "start_perf_profiling stop_perf_profiling",
	  .missing = "CPU profiling with call stacks",
	  .text = "Call start_perf_profiling {\"duration_secs\": ${duration_secs}, \"wait\": "
		  "true}. If a profile is already running, wait for it or stop it with "
		  "stop_perf_profiling first." },
	{ SMCP_STEP("profile", 30), .needs = "get_perf_results",
	  .missing = "CPU profiling with call stacks",
	  .text = "Call get_perf_results {\"limit\": 30}: per function `self_pct`, `total_pct` "
		  "and `module`; then get_perf_results {\"group_by\": \"process\", \"limit\": "
		  "10}, and get_perf_results {\"include_stacks\": true, \"limit\": 5} for the "
		  "call paths into the top functions ({\"format\": \"folded\"} gives flame-graph "
		  "input, {\"format\": \"png\"} the flame graph as an image)." },
	{ SMCP_STEP("profile.hint", 10), .needs = "start_perf_profiling",
	  .text = "To see where CPU time goes, use the profile_system prompt, or call "
		  "start_perf_profiling {\"duration_secs\": 10, \"wait\": true}." },
	{ SMCP_STEP("profile.cpu", 10), .needs = "start_perf_profiling get_perf_results",
	  .text = "What runs on the hot CPUs: start_perf_profiling {\"duration_secs\": 5, "
		  "\"wait\": true}, then get_perf_results {\"group_by\": \"cpu\"}." },
};

int pp_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	return smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
}
