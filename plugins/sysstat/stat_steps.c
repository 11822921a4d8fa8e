/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read of the system statistics (host API
 * register_prompt_step), with the thresholds that make a number a finding:
 * load and pressure, the kernel's share of CPU time, per-CPU busy for
 * imbalance (when no per-CPU scheduling statistics come first), memory and
 * network.
 */
#include "stat_steps.h"

static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("load", 10),
	  .needs = "stats://system/cpu",
	  .missing = "CPU utilisation, run queue length and CPU pressure",
	  .text = "Read stats://system/cpu. In `windows`, the 10s entry (and 60s for the trend): "
		  "`cpu`.`busy_pct`, `cpu`.`iowait_pct`, `cpu`.`steal_pct`, "
		  "`context_switches_per_s`, `procs_running_avg`, `cpu_pressure_some_pct`; and "
		  "`now`.`load_avg_1m`. busy_pct over 90 is saturation; procs_running_avg above "
		  "the CPU count means a backlog; cpu_pressure_some_pct over 20 means tasks often "
		  "wait for a CPU (over 50: severe); steal_pct over 5 means the hypervisor takes "
		  "CPU time." },
	{ SMCP_STEP("load.split", 10),
	  .needs = "stats://system/cpu",
	  .text = "Split of CPU time in stats://system/cpu (10s): `cpu`.`user_pct` against "
		  "`cpu`.`system_pct`, `cpu`.`irq_pct` and `cpu`.`softirq_pct`, with "
		  "`context_switches_per_s`: kernel time over 30% of busy time is overhead worth "
		  "explaining." },
	{ SMCP_STEP("load.per_cpu", 10),
	  .needs = "stats://system/cpu get_system_stats", .missing = "per-CPU utilisation",
	  .text = "Per-CPU utilisation: stats://system/cpu, `per_cpu`.`cpus` (10 s): "
		  "`busy_pct`, `irq_pct`, `softirq_pct` per CPU. For a longer window, or on "
		  "machines with more than 32 CPUs (summarised there), call get_system_stats "
		  "{\"kind\": \"cpu\", \"window\": \"60s\"} and page with offset. Compute the mean, "
		  "min, max, the spread (max - min) and the CPUs more than 25 points above the "
		  "mean." },
	/* after the scheduling statistics' own per-CPU step, which says more */
	{ SMCP_STEP("balance.cpu", 20),
	  .needs = "stats://system/cpu",
	  .text = "From stats://system/cpu, `per_cpu`.`cpus`: `busy_pct` per CPU. A spread "
		  "(max - min) over 30 points while the system is 20-85% busy is an imbalance; "
		  "everything over 90 is saturation, not imbalance." },
	{ SMCP_STEP("memory", 10),
	  .needs = "stats://system/memory",
	  .text = "Read stats://system/memory: `used_pct`, `pressure`.`some`.`avg10` and, in "
		  "the 10s entry of `windows`, `major_faults_per_s` and `swap_in_pages_per_s`. "
		  "Memory pressure over 10, or more than 100 major faults/s, stalls tasks in "
		  "ways that look like scheduling delay." },
	{ SMCP_STEP("network", 10),
	  .needs = "stats://system/network",
	  .text = "Read stats://system/network only for the busiest interface of `interfaces` "
		  "(its byte and packet rates); skip it when idle." },
};

int stat_steps_register(struct smcp_host *host, const struct smcp_host_api *api)
{
	return smcp_register_prompt_steps(host, api, steps, SMCP_COUNT(steps));
}
