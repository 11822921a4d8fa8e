/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read of the topology (host API
 * register_prompt_step): the machine's shape for every workflow, and where
 * the CPUs involved sit when a latency is being chased.
 */
#include "topo_steps.h"

static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("hardware.cpus", 10),
	  .needs = "topology://info",
	  .missing = "the CPU topology (cores, caches, NUMA nodes)",
	  .text = "Read topology://info: `nr_cpus`, `nr_cores`, `nr_llcs`, `nr_nodes`, "
		  "`summary`.`smt_enabled`, the CPUs of each entry of `llcs` and `nodes`, and its "
		  "`notes` (VMs often hide the cache topology)." },
	{ SMCP_STEP("hardware.placement", 10),
	  .needs = "get_topology",
	  .text = "Place the CPUs involved with get_topology {\"detail_level\": \"full\"}: busy "
		  "SMT siblings, cross-LLC or cross-node moves." },
};

int topo_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	return smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
}
