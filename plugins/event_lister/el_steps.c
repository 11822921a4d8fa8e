/* SPDX-License-Identifier: MIT */
/*
 * Where the workflow prompts go when the statistics are not enough (host
 * API register_prompt_step): the scheduler's tracepoints, their fields, and
 * how to follow one with bpftrace.
 */
#include "el_steps.h"

static const struct smcp_prompt_step steps[] = {
	{ .sz = sizeof(steps[0]), .topic = "tracing", .order = 10,
	  .needs = "list_events events://perf/{subsystem}/{event}",
	  .text = "If the statistics do not settle it, follow the scheduler's tracepoints: "
		  "list_events {\"event_type\": \"perf\", \"subsystem\": \"sched\"} lists them, and "
		  "events://perf/sched/sched_switch (or any other of them) gives one's fields and "
		  "how to attach to it from bpftrace." },
};

int el_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	int err = 0;

	if (!SMCP_API_HAS(api, register_prompt_step))
		return 0;
	for (size_t i = 0; !err && i < sizeof(steps) / sizeof(steps[0]); i++)
		err = api->register_prompt_step(host, &steps[i]);
	return err;
}
