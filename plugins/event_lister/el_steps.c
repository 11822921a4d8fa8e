/* SPDX-License-Identifier: MIT */
/*
 * Where the workflow prompts go when the statistics are not enough (host
 * API register_prompt_step): the scheduler's tracepoints, their fields, and
 * how to follow one with bpftrace.
 */
#include "el_steps.h"

static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("tracing", 10),
	  .needs = "list_events events://perf/{subsystem}/{event}",
	  .text = "If the statistics do not settle it, follow the scheduler's tracepoints: "
		  "list_events {\"event_type\": \"perf\", \"subsystem\": \"sched\"} lists them, and "
		  "events://perf/sched/sched_switch (or any other of them) gives one's fields and "
		  "how to attach to it from bpftrace." },
};

int el_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	return smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
}
