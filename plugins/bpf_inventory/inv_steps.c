/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read and measure of BPF programs (host
 * API register_prompt_step): every program and what it costs when CPU time
 * is profiled, and the sched_ext scheduler's own programs while one runs.
 */
#include "inv_steps.h"

#include <stdio.h>
#include <string.h>

#include <schedmcp/fsread.h>

static struct {
	struct smcp_host *host;
	const struct smcp_host_api *api;
} S;

/* Sample for the profile's duration_secs, at most the minute the tool
 * allows in one call. */
static int render_cost(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	int64_t secs = 10;

	(void)S.api->arg_int(args, "duration_secs", &secs);
	if (secs < 1 || secs > 60)
		secs = secs < 1 ? 1 : 60;
	return snprintf(buf, len, "Measure them: control_stats_collection {\"action\": "
			"\"sample\", \"interval_ms\": %lld}: `top` programs by `cpu_pct`, with "
			"`ns_per_call` and `calls_per_s`; `this_daemon` is schedmcp's own cost.",
			(long long)secs * 1000);
}

/* Only while a sched_ext scheduler runs: its programs are struct_ops. */
static int render_scheduler(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	char state[32];

	if (smcp_read_file(S.api->fs_root(S.host), "/sys/kernel/sched_ext/state", state,
			   sizeof(state)) <= 0 || strcmp(state, "enabled") != 0)
		return 0;
	return snprintf(buf, len, "What the scheduler costs: in bpf://programs, its programs "
			"(`type` struct_ops, grouped by `struct_ops_group`). Measure them: "
			"control_stats_collection {\"action\": \"sample\", \"interval_ms\": 2000}: "
			"`ns_per_call`, `calls_per_s`, `cpu_pct` per program. Over 1000 ns per call "
			"in enqueue, dispatch or select_cpu is slow; all its programs together above "
			"5%% of one CPU per busy CPU is expensive.");
}


static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("bpf.cost", 10), .needs = "bpf://programs",
	  .missing = "the BPF program inventory and its run-time cost",
	  .text = "Read bpf://programs: how many programs, their `type` and `name`, which belong "
		  "to the sched_ext scheduler (`type` struct_ops)." },
	{ SMCP_STEP("bpf.cost", 20), .needs = "control_stats_collection", .render = render_cost },
	{ SMCP_STEP("bpf.scheduler", 10), .needs = "bpf://programs control_stats_collection",
	  .missing = "the BPF programs of the scheduler and their cost",
	  .render = render_scheduler },
};

int inv_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	S.host = host;
	S.api = api;
	return smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
}
