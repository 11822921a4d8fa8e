/* SPDX-License-Identifier: MIT */
/*
 * The text of each workflow prompt, written for the model that will follow
 * it: which resource or tool to read, which fields, what number means what.
 * Every name is checked against the registry first (pr_res, pr_tool...):
 * a step whose data is missing is left out and pb_missing() says why in
 * words. Field names are those the plugins emit; tests/integration
 * test_prompts.py checks every URI, tool and field named here.
 */
#include <stdio.h>
#include <string.h>

#include "prompts.h"

/* Plugins that provide what the flows read (for pb_missing). */
#define PL_TOPO "topology"
#define PL_SYS "sysstat"
#define PL_SCHED "scheduler"
#define PL_LAT "sched_latency"
#define PL_PERF "perf_profiler"
#define PL_BPF "bpf_inventory"
#define PL_SCX "scx_stats"
#define PL_EVENTS "event_lister"

static const char intro[] =
	"You are working with schedmcp, an MCP server that observes the CPU scheduler of a "
	"live Linux machine (read-only). Quote every number with its window (1s, 10s, 60s, "
	"since_start) and, for percentiles, its sample count; a percentile from fewer than "
	"100 samples is anecdotal, say so. Where an answer says available:false, report its "
	"reason instead of guessing; where it says truncated, follow the hint it gives.\n";

static const char lat_rules[] =
	"Run-queue latency is the time from a task's wakeup (or preemption) until it runs. "
	"Judge the p99 over 10 s: under 1 ms is healthy; 1-5 ms is noticeable for interactive "
	"and request-serving work; over 5 ms, or a p99.9 over 20 ms, needs a cause.";

static bool scx_running(void)
{
	char state[32], ops[128];

	pr_sched_ext(state, sizeof(state), ops, sizeof(ops));
	return strcmp(state, "enabled") == 0;
}

/* ---------------------------------------------------------- shared steps */

static void step_scheduler(struct pb *b)
{
	if (pr_res("scheduler://current"))
		pb_step(b, "Read scheduler://current: `class` (sched_ext or fair) and `name`. For "
			   "sched_ext also `sched_ext`.`ops`, `switch_all` (false: only tasks that "
			   "asked for SCHED_EXT use it) and `nr_rejected`; for the fair class "
			   "`fair`.`algorithm` (EEVDF or CFS).");
	else
		pb_missing(b, "which scheduler runs (sched_ext or the fair class)", PL_SCHED);
}

static void step_topology(struct pb *b)
{
	if (pr_res("topology://info"))
		pb_step(b, "Read topology://info: `nr_cpus`, `nr_cores`, `nr_llcs`, `nr_nodes`, "
			   "`summary`.`smt_enabled`, the CPUs of each entry of `llcs` and `nodes`, "
			   "and its `notes` (VMs often hide the cache topology).");
	else if (pr_tool("get_topology"))
		pb_step(b, "Call get_topology {\"detail_level\": \"summary\"}: CPUs, cores, LLCs, "
			   "NUMA nodes and SMT.");
	else
		pb_missing(b, "the CPU topology (cores, caches, NUMA nodes)", PL_TOPO);
}

static void step_load(struct pb *b)
{
	if (pr_res("stats://system/cpu"))
		pb_step(b, "Read stats://system/cpu. In `windows`, the 10s entry (and 60s for the "
			   "trend): `cpu`.`busy_pct`, `cpu`.`iowait_pct`, `cpu`.`steal_pct`, "
			   "`context_switches_per_s`, `procs_running_avg`, `cpu_pressure_some_pct`; "
			   "and `now`.`load_avg_1m`. busy_pct over 90 is saturation; "
			   "procs_running_avg above the CPU count means a backlog; "
			   "cpu_pressure_some_pct over 20 means tasks often wait for a CPU (over 50: "
			   "severe); steal_pct over 5 means the hypervisor takes CPU time.");
	else
		pb_missing(b, "CPU utilisation, run queue length and CPU pressure", PL_SYS);
}

static void step_memory(struct pb *b)
{
	if (pr_res("stats://system/memory"))
		pb_step(b, "Read stats://system/memory: `used_pct`, `pressure`.`some`.`avg10` "
			   "and, in the 10s entry of `windows`, `major_faults_per_s` and "
			   "`swap_in_pages_per_s`. Memory pressure over 10, or more than 100 major "
			   "faults/s, stalls tasks in ways that look like scheduling delay.");
}

static void step_cpu_latency(struct pb *b)
{
	if (pr_res("stats://aggregated/cpu"))
		pb_step(b, "Read stats://aggregated/cpu. In `system`, the `10s` and `60s` "
			   "entries' `all_cpus`: `run_queue_latency` (`p50_us`, `p99_us`, "
			   "`p999_us`, `samples`), `switches_per_s`, `involuntary_pct`, "
			   "`migrations_out_per_s`. In `per_cpu`.`cpus`: the CPUs whose "
			   "`run_queue_latency`.`p99_us` is more than twice the system p99, with "
			   "their `busy_pct`.");
	else
		pb_missing(b, "run-queue latency per CPU", PL_LAT);
}

static void step_top_waiters(struct pb *b, unsigned top)
{
	if (pr_res("stats://aggregated/process"))
		pb_step(b, "Read stats://aggregated/process: `top_10s`.`processes` (sorted by "
			   "`wait_total_ms`). For the top %u: `pid`, `comm`, `wait_total_ms`, "
			   "`run_queue_latency`.`p99_us` with `samples`, `cpu_pct`, `voluntary` "
			   "and `involuntary` switches (many involuntary: preempted while running, "
			   "so competing for the CPU; mostly voluntary: waits after waking up).",
			top);
	else
		pb_missing(b, "the processes that wait longest for a CPU", PL_LAT);
}

static void step_dsq(struct pb *b)
{
	if (pr_res("stats://aggregated/dsq"))
		pb_step(b, "If the class is sched_ext, read stats://aggregated/dsq: for each entry "
			   "of `dsqs`, `inserted_per_s`, `consumed_per_s`, `depth_now` and "
			   "`insert_to_run`.`p99_us`. Under 100 us is good; over 1 ms means tasks "
			   "queue in that dispatch queue; a depth that keeps growing means the "
			   "scheduler consumes it slower than it fills.");
}

static void step_scx_raw(struct pb *b, bool detail)
{
	if (pr_res("stats://scheduler/raw")) {
		pb_step(b, "If the class is sched_ext, read stats://scheduler/raw: the scheduler's "
			   "own statistics (`stats`) with every field's type and meaning in "
			   "`meta`. If `available` is false, give its `reason` in one line.");
		if (detail && pr_tpl("stats://scheduler/raw/{target}"))
			pb_add(b, " For nested structs (listed in `meta`.`structs`, e.g. "
				  "LayerStats for scx_layered), read stats://scheduler/raw/{target} "
				  "with the struct name: every instance of it, by path.");
	} else if (scx_running()) {
		pb_missing(b, "the sched_ext scheduler's own statistics (its stats socket)",
			   PL_SCX);
	}
}

static void step_changes(struct pb *b, const char *window)
{
	if (pr_tool("what_changed"))
		pb_step(b, "Call what_changed {\"window\": \"%s\", \"baseline\": \"1h\"}: the "
			   "metrics that moved most recently against the hour before. A change "
			   "that lines up with the symptom is a lead.", window);
}

/* ----------------------------------------------------------- summarize */

void flow_summary(struct pb *b, const struct pr_args *a)
{
	pb_add(b, "Summarise this Linux machine and its CPU scheduler on one screen.\n\n%s", intro);
	step_topology(b);
	step_scheduler(b);
	step_load(b);
	step_memory(b);
	if (pr_res("stats://system/network"))
		pb_step(b, "Read stats://system/network only for the busiest interface of "
			   "`interfaces` (its byte and packet rates); skip it when idle.");
	step_cpu_latency(b);
	step_top_waiters(b, 5);
	step_scx_raw(b, false);
	pb_step(b, "Read schedmcp://plugins: name every plugin whose `state` is not loaded, "
		   "with its `reason`, in one line each (that is what this server cannot see).");
	pb_step(b, "Write the summary in this shape, one line each, numbers included:\n"
		   "   Hardware: CPUs, cores, SMT on/off, LLCs, NUMA nodes\n"
		   "   Scheduler: name and class (sched_ext: ops, switch_all)\n"
		   "   Load (10s): busy %%, runnable tasks vs CPUs, CPU pressure, load average\n"
		   "   Latency (10s): p50/p99/p99.9 run-queue latency with samples, and a verdict\n"
		   "   Top waiters: up to 5 processes with their p99 and CPU%%\n"
		   "   Memory: used %%, pressure\n"
		   "   Verdict: healthy, or the one or two things that need attention\n\n"
		   "%s", lat_rules);
	pb_add(b, "\n\nThen suggest the next prompt where it applies: debug_high_latency when a "
		  "p99 is over 5 ms, analyze_cpu_imbalance when per-CPU busy differs by more than "
		  "30 points, investigate_scheduler_behavior for a sched_ext scheduler, "
		  "profile_system when CPU time is the question%s.",
	       pr_prompt("monitor") ? ", monitor to keep watching" : "");
	(void)a;
}

/* ---------------------------------------------------------- performance */

static void perf_latency_steps(struct pb *b)
{
	step_cpu_latency(b);
	if (pr_tool("measure_latency"))
		pb_step(b, "If the windows above are marked `incomplete` (schedmcp started "
			   "recently), measure afresh: measure_latency {\"duration_s\": 10, "
			   "\"group_by\": \"cpu\"}.");
	step_top_waiters(b, 5);
	step_dsq(b);
}

static void perf_throughput_steps(struct pb *b)
{
	if (pr_res("stats://aggregated/cpu"))
		pb_step(b, "From stats://aggregated/cpu, `system`.`10s`.`all_cpus`: "
			   "`switches_per_s` divided by `cpus` (over 20000 per CPU is very high), "
			   "`involuntary_pct` (over 30: slices too short or CPUs oversubscribed), "
			   "`time_slice`.`p50_us` (under 100 us: tasks run in tiny bursts and "
			   "switching overhead dominates), `migrations_out_per_s`, "
			   "`migrations_out_cross_llc_per_s` and `migrations_out_cross_node_per_s` "
			   "(cross-LLC or cross-node moves cost cache warmth).");
	else
		pb_missing(b, "context switches, time slices and migrations per CPU", PL_LAT);
	if (pr_res("stats://aggregated/llc"))
		pb_step(b, "Read stats://aggregated/llc: in `windows` (10s), each entry of `llcs`: "
			   "`busy_pct`, `switches_per_s`, `migrations_out_cross_llc_per_s`.");
	if (pr_res("stats://system/cpu"))
		pb_step(b, "In stats://system/cpu (10s): `cpu`.`system_pct`, `cpu`.`irq_pct` and "
			   "`cpu`.`softirq_pct` against `cpu`.`user_pct`: kernel time over 30%% of "
			   "busy time is overhead worth explaining.");
	if (pr_tool("start_perf_profiling"))
		pb_step(b, "To see where CPU time goes, use the profile_system prompt, or call "
			   "start_perf_profiling {\"duration_secs\": 10, \"wait\": true}.");
}

static void perf_balance_steps(struct pb *b)
{
	if (pr_res("stats://aggregated/cpu"))
		pb_step(b, "From stats://aggregated/cpu, `per_cpu`.`cpus`: `busy_pct` per CPU. "
			   "A spread (max - min) over 30 points while the system is 20-85%% busy "
			   "is an imbalance; everything over 90 is saturation, not imbalance.");
	else if (pr_res("stats://system/cpu"))
		pb_step(b, "From stats://system/cpu, `per_cpu`.`cpus`: `busy_pct` per CPU. A "
			   "spread (max - min) over 30 points while the system is 20-85%% busy is "
			   "an imbalance; everything over 90 is saturation, not imbalance.");
	if (pr_res("stats://aggregated/node"))
		pb_step(b, "Read stats://aggregated/node (and stats://aggregated/llc when there is "
			   "more than one LLC): compare `busy_pct` across entries; the busiest "
			   "over 1.5 times the least busy is an imbalance at that level.");
	pb_add(b, " For the full imbalance workflow use the analyze_cpu_imbalance prompt.");
}

void flow_performance(struct pb *b, const struct pr_args *a)
{
	const char *f = a->focus_area;
	bool all = strcmp(f, "general") == 0;

	pb_add(b, "Analyse the performance of the CPU scheduler on this machine; focus: %s%s.\n\n%s",
	       f,
	       !strcmp(f, "latency")	  ? " (how long runnable tasks wait for a CPU)"
	       : !strcmp(f, "throughput") ? " (work done per CPU second: switching, migration "
					    "and kernel overhead)"
	       : !strcmp(f, "balance")	  ? " (load spread across CPUs, caches and NUMA nodes)"
					  : " (latency, throughput and balance in turn)",
	       intro);
	if (all || !strcmp(f, "latency"))
		pb_add(b, "%s\n", lat_rules);
	step_scheduler(b);
	step_topology(b);
	step_load(b);
	if (all || !strcmp(f, "latency"))
		perf_latency_steps(b);
	if (all || !strcmp(f, "throughput"))
		perf_throughput_steps(b);
	if (all || !strcmp(f, "balance"))
		perf_balance_steps(b);
	if (all || strcmp(f, "balance"))
		step_scx_raw(b, true);
	if (pr_tool("sample_scheduler_stats") && (all || !strcmp(f, "throughput")))
		pb_step(b, "With a sched_ext scheduler serving stats, call sample_scheduler_stats "
			   "{\"duration_s\": 10}: `counters` are rates per second of its cumulative "
			   "fields, `gauges` their mean, min and max.");
	step_changes(b, "10m");
	pb_step(b, "Report findings ranked by impact. For each: the evidence (numbers with "
		   "window and samples), the likely cause, and one concrete action (task "
		   "priority or cpu.weight, CPU affinity or cpusets, a scheduler tunable, another "
		   "sched_ext scheduler). Say plainly when a number is fine.");
}

/* -------------------------------------------------------------- latency */

static bool latency_data(void)
{
	return pr_res("stats://aggregated/process") || pr_tool("measure_latency") ||
	       pr_tpl("stats://process/{pid}");
}

void flow_latency(struct pb *b, const struct pr_args *a)
{
	char who[160];

	if (a->pid && a->tgid && a->tgid != a->pid)
		snprintf(who, sizeof(who), "thread %lld (%s) of process %lld", (long long)a->pid,
			 a->comm, (long long)a->tgid);
	else if (a->pid)
		snprintf(who, sizeof(who), "process %lld (%s)", (long long)a->pid, a->comm);
	if (a->pid)
		pb_add(b, "Find out whether %s waits too long for a CPU, and why.\n\n%s%s\n", who,
		       intro, lat_rules);
	else
		pb_add(b, "Some tasks seem to wait too long for a CPU: find which, and why.\n\n%s%s\n",
		       intro, lat_rules);
	if (!latency_data()) {
		pb_add(b, "\nThis schedmcp cannot measure run-queue latency right now (see the end "
			  "of this message). Use the indirect signs below and say in your answer "
			  "that latency itself was not measured.\n");
		pb_missing(b, "run-queue latency per process, CPU and window", PL_LAT);
	}
	step_scheduler(b);
	if (a->pid) {
		if (pr_tpl("stats://process/{pid}"))
			pb_step(b, "Read stats://process/%lld: its run-queue latency per window "
				   "(`p50_us`, `p99_us`, `p999_us`, `samples`) and its threads that "
				   "waited longest.", (long long)(a->tgid ? a->tgid : a->pid));
		if (pr_tool("measure_latency"))
			pb_step(b, "Measure it now: measure_latency {\"pid\": %lld, \"duration_s\": "
				   "10}. Look at the histogram: a few very long waits (a second hump) "
				   "point at specific events (preemption by a burst, a migration); a "
				   "shift of the whole distribution points at general contention.",
				(long long)a->pid);
		step_top_waiters(b, 10);
		pb_add(b, " Is %lld among them, and who waits with it?",
		       (long long)(a->tgid ? a->tgid : a->pid));
	} else {
		step_top_waiters(b, 3);
		if (pr_res("stats://aggregated/thread"))
			pb_add(b, " stats://aggregated/thread has the same per thread.");
		if (pr_tpl("stats://process/{pid}"))
			pb_step(b, "For each of the top 3 with `run_queue_latency`.`p99_us` over 1000 "
				   "and at least 100 `samples`, read stats://process/{pid} with its "
				   "pid.");
		if (pr_tool("measure_latency"))
			pb_step(b, "Measure afresh: measure_latency {\"group_by\": \"process\", "
				   "\"duration_s\": 10}, then measure_latency {\"pid\": PID, "
				   "\"duration_s\": 10} for the worst one.");
	}
	step_cpu_latency(b);
	if (pr_res("stats://aggregated/cpu") && pr_res("stats://aggregated/process"))
		pb_add(b, " Compare the CPUs the process ran on (`last_cpu` in its row) with the "
			  "rest.");
	step_load(b);
	if (pr_tool("analyze_waker_wakee"))
		pb_step(b, "See who wakes it: analyze_waker_wakee {\"duration_s\": 5%s%lld}. A waker "
			   "on a busy CPU, or a long wake chain, adds latency to every hop.",
			a->pid ? ", \"pid\": " : "", (long long)a->pid);
	if (pr_tool("analyze_softirq"))
		pb_step(b, "See what interrupts do to those CPUs: analyze_softirq {\"duration_s\": 5, "
			   "\"mode\": \"by_cpu\"}. A CPU with `cpu_pct` over 10 spends that share in "
			   "softirqs (`most_time_in` says which: NET_RX for network receive, TIMER, "
			   "RCU...), and every task queued on it waits behind them.");
	if (pr_tool("control_event_tracking") && pr_tool("poll_events")) {
		char pidarg[48] = "";

		if (a->pid)
			snprintf(pidarg, sizeof(pidarg), "\"pid\": %lld, ", (long long)a->pid);
		pb_step(b, "Catch individual long waits: control_event_tracking {\"action\": "
			   "\"enable\", %s\"min_latency_us\": 1000}, wait about 5 s, read them with "
			   "poll_events {\"type\": \"sched.\", \"limit\": 100}, then "
			   "control_event_tracking {\"action\": \"disable\"}. For each long wait note "
			   "the CPU, what ran before, and whether a migration came just before.",
			pidarg);
	}
	step_dsq(b);
	step_scx_raw(b, false);
	step_memory(b);
	if (pr_tool("get_topology"))
		pb_step(b, "Place the CPUs involved with get_topology {\"detail_level\": \"full\"}: "
			   "busy SMT siblings, cross-LLC or cross-node moves.");
	if (latency_data())
		pb_step(b, "Match the evidence to a cause:\n"
			   "   - saturation: busy_pct over 90 and procs_running_avg above the CPU "
			   "count; every task waits (fix: capacity, or priority through nice or "
			   "cgroup cpu.weight);\n"
			   "   - competition on a few CPUs: high p99 only on the CPUs it runs on while "
			   "others idle (affinity, cpusets, or interrupts%s);\n"
			   "   - preemption by heavier tasks: many involuntary switches and a bimodal "
			   "histogram;\n"
			   "   - wakeup chains: a slow or busy waker;\n"
			   "   - sched_ext policy: long waits in one dispatch queue, or the "
			   "scheduler's own stats;\n"
			   "   - not the scheduler: memory pressure, I/O wait (iowait_pct), CPU cgroup "
			   "throttling (cpu.stat nr_throttled in the cgroup's directory).",
			pr_res("stats://system/cpu") ? ": `irq_pct` and `softirq_pct` per CPU in "
						       "stats://system/cpu" : "");
	else
		pb_step(b, "Without latency measurements, judge from load: CPU pressure "
			   "(cpu_pressure_some_pct) is the share of time some runnable task "
			   "waited, so over 20 means waits are common; procs_running_avg above the "
			   "CPU count means a backlog; a few CPUs busy while others idle points at "
			   "affinity, cpusets or interrupts; memory pressure, I/O wait and CPU "
			   "cgroup throttling (cpu.stat nr_throttled) also delay tasks.");
	pb_step(b, "Answer with the verdict first (%s), then the cause with its evidence, then "
		   "two or three actions.",
		 latency_data() ? "is latency really high? p99 and p99.9 with samples"
				: "from load and pressure, saying that latency was not measured");
}

/* ------------------------------------------------------------ imbalance */

void flow_imbalance(struct pb *b, const struct pr_args *a)
{
	pb_add(b, "Find out whether CPU load is unevenly spread across the CPUs, caches and "
		  "NUMA nodes of this machine, and why.\n\n%s", intro);
	step_topology(b);
	if (pr_res("stats://system/cpu")) {
		pb_step(b, "Per-CPU utilisation: stats://system/cpu, `per_cpu`.`cpus` (10 s): "
			   "`busy_pct`, `irq_pct`, `softirq_pct` per CPU.");
		if (pr_tool("get_system_stats"))
			pb_add(b, " For a longer window, or on machines with more than 32 CPUs "
				  "(summarised there), call get_system_stats {\"kind\": \"cpu\", "
				  "\"window\": \"60s\"} and page with offset.");
		pb_add(b, " Compute the mean, min, max, the spread (max - min) and the CPUs more "
			  "than 25 points above the mean.");
	} else {
		pb_missing(b, "per-CPU utilisation", PL_SYS);
	}
	if (pr_res("stats://aggregated/cpu"))
		pb_step(b, "Per-CPU scheduling: stats://aggregated/cpu, `per_cpu`.`cpus`: "
			   "`busy_pct`, `switches_per_s`, `run_queue_latency`.`p99_us`, "
			   "`migrations_in_per_s`, `migrations_out_per_s`. Tasks waiting on busy "
			   "CPUs while other CPUs idle is the harm imbalance does.");
	else
		pb_missing(b, "run-queue latency and migrations per CPU", PL_LAT);
	if (pr_tool("measure_latency"))
		pb_add(b, " measure_latency {\"group_by\": \"cpu\", \"window\": \"60s\"} gives "
			  "another window.");
	if (pr_res("stats://aggregated/llc") || pr_res("stats://aggregated/node")) {
		pb_step(b, "Per cache and node:");
		if (pr_res("stats://aggregated/llc"))
			pb_add(b, " stats://aggregated/llc, `windows` (10s) `llcs`: `busy_pct`, "
				  "`cpus`, `migrations_out_cross_llc_per_s`;");
		if (pr_res("stats://aggregated/node"))
			pb_add(b, " stats://aggregated/node: `busy_pct` and "
				  "`migrations_out_cross_node_per_s` per node;");
		pb_add(b, " the busiest over 1.5 times the least busy is an imbalance at that "
			  "level.");
	}
	step_top_waiters(b, 10);
	if (pr_res("stats://aggregated/process"))
		pb_add(b, " Where do the busiest processes run (`last_cpu`, `cpu_pct`)?");
	if (pr_tool("start_perf_profiling") && pr_tool("get_perf_results"))
		pb_step(b, "What runs on the hot CPUs: start_perf_profiling {\"duration_secs\": 5, "
			   "\"wait\": true}, then get_perf_results {\"group_by\": \"cpu\"}.");
	step_scheduler(b);
	step_scx_raw(b, true);
	step_changes(b, "10m");
	pb_step(b, "Decide:\n"
		   "   - imbalanced: the system is 20-85%% busy and the per-CPU busy spread is "
		   "over 30 points (in the 60 s window too), or one LLC or node is over 1.5 times "
		   "another, and tasks on the busy CPUs wait (p99 over 2 ms) while other CPUs "
		   "are more than 50%% idle;\n"
		   "   - not imbalance: everything over 90%% busy (saturation: capacity is the "
		   "issue); idle CPUs that are offline or isolated (topology notes, isolcpus, "
		   "nohz_full); fewer runnable tasks than CPUs (procs_running_avg), so there is "
		   "nothing to spread;\n"
		   "   - usual causes: CPU affinity and cpusets, interrupts concentrated on a few "
		   "CPUs (irq_pct, softirq_pct), NUMA memory binding, one single-threaded "
		   "bottleneck, the scheduler's placement policy.");
	pb_step(b, "Answer with a small table of the busiest and idlest CPUs (and LLCs or "
		   "nodes) with their numbers, the verdict, the cause and the remedy.");
	(void)a;
}

/* ------------------------------------------------------------ scheduler */

static const struct {
	const char *name; /* ops name (scx_ prefix optional) */
	const char *notes;
} sched_notes[] = {
	{ "layered", "scx_layered groups tasks into layers by rules and gives each layer CPUs. "
		     "In its LayerStats (one per layer): `util`, `util_frac`, "
		     "`tasks`, `cur_nr_cpus` against `min_nr_cpus` and `max_nr_cpus` (a busy "
		     "layer stuck at max_nr_cpus is starved), `preempt` and `preempt_fail`, "
		     "`affn_viol` (tasks whose affinity escapes the layer), `xllc_migration`. "
		     "Values are per period since the previous read." },
	{ "rusty", "scx_rusty balances load between scheduling domains (usually one per LLC): "
		   "look for per-domain load differences and the migrations it does to fix them." },
	{ "lavd", "scx_lavd favours latency-critical tasks and compacts work onto fewer cores "
		  "when load is low: idle cores can be by design; watch preemption counts." },
	{ "bpfland", "scx_bpfland prioritises tasks that sleep often (interactive ones); "
		     "CPU-bound tasks may wait longer by design." },
	{ "p2dq", "scx_p2dq keeps dispatch queues per LLC and balances by picking the less "
		  "loaded of two: look at per-LLC depth and cross-LLC migrations." },
	{ "central", "scx_central dispatches from one CPU: that CPU is busy by design." },
	{ "simple", "scx_simple is a minimal example scheduler (global FIFO or vtime): no "
		    "stats socket, no topology awareness." },
};

/* "scx_layered" and "layered" name the same scheduler. */
static bool same_scheduler(const char *x, const char *y)
{
	if (!strncmp(x, "scx_", 4))
		x += 4;
	if (!strncmp(y, "scx_", 4))
		y += 4;
	return strcmp(x, y) == 0 || !strncmp(x, y, strlen(x)) || !strncmp(y, x, strlen(y));
}

static const char *notes_for(const char *name)
{
	if (!name || !*name)
		return NULL;
	if (!strncmp(name, "scx_", 4))
		name += 4;
	for (size_t i = 0; i < sizeof(sched_notes) / sizeof(sched_notes[0]); i++)
		if (!strncmp(name, sched_notes[i].name, strlen(sched_notes[i].name)))
			return sched_notes[i].notes;
	return NULL;
}

static void scheduler_scx_steps(struct pb *b, const char *name)
{
	const char *notes = notes_for(name);

	if (pr_res("stats://scheduler/scx"))
		pb_step(b, "Read stats://scheduler/scx: `sched_ext`.`events`, the kernel's "
			   "counters of where the scheduler needed help (for example "
			   "SCX_EV_SELECT_CPU_FALLBACK: no idle CPU found in select_cpu; "
			   "SCX_EV_DISPATCH_KEEP_LAST: a CPU kept running its task for want of "
			   "another); `nr_rejected` over 0: tasks the scheduler refused; "
			   "`enable_seq` counts loads (a rising value: it restarts). Read "
			   "`debug_dump` when readable.");
	step_scx_raw(b, true);
	if (pr_tool("sample_scheduler_stats"))
		pb_step(b, "Call sample_scheduler_stats {\"duration_s\": 10}: `counters` give rates "
			   "per second, `gauges` mean, min and max; fields in `constant` did not "
			   "move.");
	if (notes)
		pb_add(b, "\n   %s", notes);
	if (notes && strstr(notes, "LayerStats")) {
		if (pr_tpl("stats://scheduler/raw/{target}"))
			pb_add(b, " Read them all with stats://scheduler/raw/LayerStats.");
		else
			pb_missing(b, "the per-layer statistics of scx_layered", PL_SCX);
	}
	step_dsq(b);
	if (pr_res("stats://aggregated/cpu"))
		pb_step(b, "Where tasks wait and move: stats://aggregated/cpu, `per_cpu`.`cpus`: "
			   "`run_queue_latency`.`p99_us`, `busy_pct`, `migrations_out_per_s`, "
			   "`migrations_out_cross_llc_per_s`.");
	if (pr_res("bpf://programs")) {
		pb_step(b, "What the scheduler costs: in bpf://programs, its programs (`type` "
			   "struct_ops, grouped by `struct_ops_group`).");
		if (pr_tool("control_stats_collection"))
			pb_add(b, " Measure them: control_stats_collection {\"action\": \"sample\", "
				  "\"interval_ms\": 2000}: `ns_per_call`, `calls_per_s`, `cpu_pct` "
				  "per program. Over 1000 ns per call in enqueue, dispatch or "
				  "select_cpu is slow; all its programs together above 5%% of one CPU "
				  "per busy CPU is expensive.");
	} else {
		pb_missing(b, "the BPF programs of the scheduler and their cost", PL_BPF);
	}
}

static void scheduler_fair_steps(struct pb *b)
{
	if (pr_res("scheduler://current"))
		pb_step(b, "From scheduler://current, `fair`.`tunables`: `base_slice_ms` (the "
			   "slice EEVDF gives a task before others are eligible; shorter: lower "
			   "latency, more switches), and the other tunables with their sources. "
			   "EEVDF picks the eligible task with the earliest virtual deadline; a "
			   "waking task preempts only when it is eligible earlier.");
	step_cpu_latency(b);
	if (pr_res("stats://aggregated/cpu"))
		pb_add(b, " Also `time_slice`.`p50_us` and `involuntary_pct`: how much of the "
			  "slice tasks use and how often they are preempted.");
	step_top_waiters(b, 5);
}

void flow_scheduler(struct pb *b, const struct pr_args *a)
{
	char state[32], ops[128];
	bool scx;

	pr_sched_ext(state, sizeof(state), ops, sizeof(ops));
	scx = strcmp(state, "enabled") == 0;
	pb_add(b, "Explain how the CPU scheduler%s%s behaves on this machine: what it is "
		  "designed to do, what it is doing, where tasks wait, and what it costs.\n\n",
	       a->scheduler_name ? " " : "", a->scheduler_name ? a->scheduler_name : "");
	if (!state[0])
		pb_add(b, "When this prompt was made, the kernel had no sched_ext: only the fair "
			  "class (EEVDF, or CFS before 6.6) can run.%s\n",
		       a->scheduler_name && strncmp(a->scheduler_name, "scx_", 4) == 0
			       ? " The scheduler asked about cannot run here: say so, and explain "
				 "the fair class instead."
			       : "");
	else if (!scx)
		pb_add(b, "When this prompt was made, no sched_ext scheduler was running (state "
			  "%s): the fair class schedules everything.%s\n", state,
		       a->scheduler_name && strncmp(a->scheduler_name, "scx_", 4) == 0
			       ? " The scheduler asked about is not running: say so, and explain "
				 "what runs."
			       : "");
	else
		pb_add(b, "When this prompt was made, the running sched_ext scheduler's ops name "
			  "was %s.%s\n", ops[0] ? ops : "(unknown)",
		       a->scheduler_name && !same_scheduler(a->scheduler_name, ops)
			       ? " That is not the scheduler asked about: say so, and explain the "
				 "one running."
			       : "");
	pb_add(b, "\n%s", intro);
	step_scheduler(b);
	if (scx)
		scheduler_scx_steps(b, a->scheduler_name ? a->scheduler_name : ops);
	else
		scheduler_fair_steps(b);
	step_topology(b);
	step_changes(b, "15m");
	pb_step(b, "Answer these: is the policy doing what it is designed for on this "
		   "workload? Where do tasks wait (which CPUs, %sprocesses)? Does it fall back "
		   "or refuse work? What does it cost? End with tuning options%s.",
		 scx ? "which dispatch queues, " : "",
		 scx ? " (its command-line knobs, or another sched_ext scheduler better suited)"
		     : " (base_slice_ms, nice and cgroup cpu.weight, SCHED_BATCH or SCHED_IDLE "
		       "for background work, or a sched_ext scheduler)");
}

/* --------------------------------------------------------------- profile */

void flow_profile(struct pb *b, const struct pr_args *a)
{
	bool perf = pr_tool("start_perf_profiling") && pr_tool("get_perf_results");
	bool bpf = pr_res("bpf://programs");
	long long d = (long long)a->duration_secs;

	pb_add(b, "Profile where CPU time goes on this machine for %lld s, including the cost of "
		  "BPF programs and of the scheduler itself.\n\n%s", d, intro);
	if (!perf && !bpf)
		pb_add(b, "\nThis schedmcp can neither sample call stacks nor measure BPF "
			  "programs right now (see the end of this message): say so, and fall "
			  "back on the CPU split below.\n");
	if (perf) {
		if (pr_res("profiling://perf/status"))
			pb_step(b, "Read profiling://perf/status: `state` (idle, running...), "
				   "`capabilities`.`privileged`, `capabilities`.`hardware_events` "
				   "(false in most VMs: sw:cpu-clock is used instead, say so).");
		pb_step(b, "Call start_perf_profiling {\"duration_secs\": %lld, \"wait\": true}. If a "
			   "profile is already running, wait for it%s.", d,
			pr_tool("stop_perf_profiling") ? " or stop it with stop_perf_profiling first"
						       : "");
		pb_step(b, "Call get_perf_results {\"limit\": 30}: per function `self_pct`, "
			   "`total_pct` and `module`; then get_perf_results {\"group_by\": "
			   "\"process\", \"limit\": 10}, and get_perf_results {\"include_stacks\": "
			   "true, \"limit\": 5} for the call paths into the top functions "
			   "({\"format\": \"folded\"} gives flame-graph input).");
	} else {
		pb_missing(b, "CPU profiling with call stacks", PL_PERF);
	}
	if (bpf) {
		pb_step(b, "Read bpf://programs: how many programs, their `type` and `name`, which "
			   "belong to the sched_ext scheduler (`type` struct_ops).");
		if (pr_tool("control_stats_collection"))
			pb_add(b, " Measure them: control_stats_collection {\"action\": \"sample\", "
				  "\"interval_ms\": %lld}: `top` programs by `cpu_pct`, with "
				  "`ns_per_call` and `calls_per_s`; `this_daemon` is schedmcp's own "
				  "cost.", (d > 60 ? 60 : d) * 1000);
	} else {
		pb_missing(b, "the BPF program inventory and its run-time cost", PL_BPF);
	}
	if (pr_res("stats://system/cpu"))
		pb_step(b, "Put it in context with stats://system/cpu (10s): `cpu`.`user_pct`, "
			   "`cpu`.`system_pct`, `cpu`.`softirq_pct`, `context_switches_per_s`.");
	if (perf || bpf) {
		pb_step(b, "Judge: a function over 10%% self is a hotspot. Lock slow paths "
			   "(native_queued_spin_lock_slowpath, __mutex_lock, rwsem_down_*) over 5%% "
			   "mean lock contention. Scheduler functions (__schedule, pick_next_task*, "
			   "enqueue_task*, select_task_rq*, try_to_wake_up, update_curr) together "
			   "over 10%% mean switching overhead: check the switch rate. Idle functions "
			   "(do_idle, cpuidle_*, *_idle) are idle time, not a hotspot. A BPF program "
			   "over 1%% of one CPU is measurable; a sched_ext scheduler's programs "
			   "together over 5%% of one CPU per busy CPU are expensive. Fewer than 1000 "
			   "samples: the percentages are rough.");
		pb_step(b, "Answer with the top five hotspots (share, module, what they are doing "
			   "and why), the BPF and scheduler cost, and what to do about the "
			   "biggest.");
	} else {
		pb_step(b, "Judge from the split: kernel time (system, irq, softirq) over 30%% of "
			   "busy time is overhead worth explaining; over 20000 context switches per "
			   "second per CPU means switching itself costs. Answer with the split, what "
			   "it suggests, and that no profile could be taken.");
	}
}

/* ------------------------------------------------------------ regression */

void flow_regression(struct pb *b, const struct pr_args *a)
{
	bool history = pr_tool("what_changed") && pr_tool("query_history");

	pb_add(b, "Things got slower on this machine within the last %s: find what changed, "
		  "when, and where.\n\n%s", a->window, intro);
	if (history) {
		pb_step(b, "Call what_changed {\"window\": \"%s\", \"baseline\": \"1h\"}: the metrics "
			   "that moved most between the window and the hour before, with before and "
			   "after values.", a->window);
		pb_step(b, "For the top three, call query_history {\"metric\": NAME, \"start\": "
			   "\"-1h\", \"group_by\": \"cpu\"} (or \"llc\", or no group_by for the "
			   "series as published) to find when it started and where.");
		if (pr_res("metrics://catalog"))
			pb_add(b, " metrics://catalog lists every metric with its unit and labels.");
	} else {
		pb_add(b, "\nThis schedmcp keeps no metric history right now, so compare windows "
			  "instead: each statistic below comes for the last 1 s, 10 s, 60 s and "
			  "since schedmcp started; a 60 s value far from since_start is a recent "
			  "change (only as far back as schedmcp has run).\n");
	}
	if (pr_tool("watch_status"))
		pb_step(b, "Call watch_status {}: any watch that fired in the window, with the "
			   "context captured when it did.");
	step_cpu_latency(b);
	step_top_waiters(b, 5);
	step_load(b);
	step_scheduler(b);
	if (pr_res("scheduler://current"))
		pb_add(b, " Did the scheduler change or restart (a different `name`, a higher "
			  "`enable_seq`)?");
	if (pr_tool("poll_events"))
		pb_step(b, "Call poll_events {\"limit\": 100}: recent events (scheduler changes and "
			   "others) with their time.");
	pb_step(b, "Answer: when it started, how big the change is (before -> after, with "
		   "windows), where (CPUs, processes), what changed at the same time, and the "
		   "next step (debug_high_latency with the pid, analyze_cpu_imbalance%s).",
		 pr_prompt("monitor") ? ", or the monitor prompt to keep watching" : "");
}
