/* SPDX-License-Identifier: MIT */
/*
 * Each workflow prompt as data: rows of general text, written for the model
 * that will follow it (the task, how to judge what it finds, the answer to
 * write), and topics whose steps plugins contribute (docs/plugin-guide.md
 * lists the topics). The text here names no plugin, resource, tool or field
 * of a plugin: what to read comes from the steps, which say it only while
 * it is registered. The core's own tools (what_changed, query_history,
 * watch_status, poll_events) give their steps like any plugin, at the end.
 */
#include <stddef.h>
#include <string.h>

#include "prompts.h"
#include "util.h"

#define INTRO                                                                                      \
	"You are working with schedmcp, an MCP server that observes the CPU scheduler of a live "  \
	"Linux machine (read-only). Quote every number with its window (1s, 10s, 60s, "            \
	"since_start) and, for percentiles, its sample count; a percentile from fewer than 100 "   \
	"samples is anecdotal, say so. Where an answer says available:false, report its reason "   \
	"instead of guessing; where it says truncated, follow the hint it gives.\n"

#define LAT_RULES                                                                                  \
	"Run-queue latency is the time from a task's wakeup (or preemption) until it runs. Judge " \
	"the p99 over 10 s: under 1 ms is healthy; 1-5 ms is noticeable for interactive and "      \
	"request-serving work; over 5 ms, or a p99.9 over 20 ms, needs a cause."

#define ROWS(a) { a, ARRAY_SIZE(a) }
#define TEXT(t, ...) { .kind = ROW_TEXT, .s = t, __VA_ARGS__ }
#define STEP(t, ...) { .kind = ROW_STEP, .s = t, __VA_ARGS__ }
#define TOPIC(t, ...) { .kind = ROW_TOPIC, .s = t, __VA_ARGS__ }
#define NOTE(t, ...) { .kind = ROW_NOTE, .s = t, __VA_ARGS__ }

/* ------------------------------------------------------------ summarize */

static const struct row summary[] = {
	TEXT("Summarise this Linux machine and its CPU scheduler on one screen.\n\n" INTRO),
	TOPIC("hardware.cpus"),
	TOPIC("sched.current"),
	TOPIC("load"),
	TOPIC("memory"),
	TOPIC("network"),
	TOPIC("latency.cpu"),
	TOPIC("latency.process", .params = "top=5"),
	TOPIC("scx.stats"),
	STEP("Read schedmcp://plugins: name every plugin whose `state` is not loaded, with "
	     "its `reason`, in one line each (that is what this server cannot see)."),
	STEP("Write the summary in this shape, one line each, numbers included:\n"
	     "   Hardware: CPUs, cores, SMT on/off, LLCs, NUMA nodes\n"
	     "   Scheduler: name and class (sched_ext: ops, switch_all)\n"
	     "   Load (10s): busy %, runnable tasks vs CPUs, CPU pressure, load average\n"
	     "   Latency (10s): p50/p99/p99.9 run-queue latency with samples, and a verdict\n"
	     "   Top waiters: up to 5 processes with their p99 and CPU%\n"
	     "   Memory: used %, pressure\n"
	     "   Verdict: healthy, or the one or two things that need attention\n\n" LAT_RULES),
	TEXT("\n\nThen suggest the next prompt where it applies: debug_high_latency when a "
	     "p99 is over 5 ms, analyze_cpu_imbalance when per-CPU busy differs by more than "
	     "30 points, investigate_scheduler_behavior for a sched_ext scheduler, "
	     "profile_system when CPU time is the question"),
	TEXT(", monitor to keep watching", .needs = "monitor"),
	TEXT("."),
};

/* ---------------------------------------------------------- performance */

#define F_LATENCY "focus_area=general|latency"
#define F_THROUGHPUT "focus_area=general|throughput"
#define F_BALANCE "focus_area=general|balance"

static const struct row performance[] = {
	TEXT("Analyse the performance of the CPU scheduler on this machine; focus: "
	     "${focus_area}"),
	TEXT(" (how long runnable tasks wait for a CPU)", .when = "focus_area=latency"),
	TEXT(" (work done per CPU second: switching, migration and kernel overhead)",
	     .when = "focus_area=throughput"),
	TEXT(" (load spread across CPUs, caches and NUMA nodes)",
	     .when = "focus_area=balance"),
	TEXT(" (latency, throughput and balance in turn)", .when = "focus_area=general"),
	TEXT(".\n\n" INTRO),
	TEXT(LAT_RULES "\n", .when = F_LATENCY),
	TOPIC("sched.current"),
	TOPIC("hardware.cpus"),
	TOPIC("load"),
	TOPIC("latency.cpu", .when = F_LATENCY),
	TOPIC("latency.measure", .when = F_LATENCY),
	TOPIC("latency.process", .when = F_LATENCY, .params = "top=5"),
	TOPIC("latency.dsq", .when = F_LATENCY),
	TOPIC("throughput.cpu", .when = F_THROUGHPUT),
	TOPIC("throughput.llc", .when = F_THROUGHPUT),
	TOPIC("load.split", .when = F_THROUGHPUT),
	TOPIC("profile.hint", .when = F_THROUGHPUT),
	TOPIC("balance.cpu", .when = F_BALANCE, .one = true),
	TOPIC("balance.domains", .when = F_BALANCE),
	TEXT(" For the full imbalance workflow use the analyze_cpu_imbalance prompt.",
	     .when = F_BALANCE),
	TOPIC("scx.stats", .when = "focus_area=general|latency|throughput"),
	TOPIC("scx.sample", .when = F_THROUGHPUT),
	TOPIC("changes", .params = "window=10m"),
	STEP("Report findings ranked by impact. For each: the evidence (numbers with "
	     "window and samples), the likely cause, and one concrete action (task priority "
	     "or cpu.weight, CPU affinity or cpusets, a scheduler tunable, another sched_ext "
	     "scheduler). Say plainly when a number is fine."),
};

/* -------------------------------------------------------------- latency */

#define MEASURED "latency.task latency.any"

static const struct row latency[] = {
	TEXT("Find out whether task ${pid} waits too long for a CPU, and why.\n\n",
	     .when = "pid"),
	TEXT("Some tasks seem to wait too long for a CPU: find which, and why.\n\n",
	     .when = "!pid"),
	NOTE("context.task", .when = "pid"),
	TEXT(INTRO LAT_RULES "\n"),
	TEXT("\nThis schedmcp cannot measure run-queue latency right now (see the end of "
	     "this message). Use the indirect signs below and say in your answer that "
	     "latency itself was not measured.\n",
	     .without = MEASURED),
	TOPIC("sched.current"),
	TOPIC("latency.task", .when = "pid", .params = "top=10"),
	TOPIC("latency.any", .when = "!pid", .params = "top=3"),
	TOPIC("latency.cpu"),
	TOPIC("load"),
	TOPIC("latency.wakers"),
	TOPIC("latency.softirq"),
	TOPIC("latency.events"),
	TOPIC("latency.dsq"),
	TOPIC("scx.stats"),
	TOPIC("memory"),
	TOPIC("hardware.placement"),
	TOPIC("tracing"),
	STEP("Match the evidence to a cause:\n"
	     "   - saturation: CPUs over 90% busy and more runnable tasks than CPUs; every "
	     "task waits (fix: capacity, or priority through nice or cgroup cpu.weight);\n"
	     "   - competition on a few CPUs: high p99 only on the CPUs it runs on while "
	     "others idle (affinity, cpusets, or interrupts on those CPUs);\n"
	     "   - preemption by heavier tasks: many involuntary switches and a bimodal "
	     "histogram;\n"
	     "   - wakeup chains: a slow or busy waker;\n"
	     "   - sched_ext policy: long waits in one dispatch queue, or the scheduler's own "
	     "stats;\n"
	     "   - not the scheduler: memory pressure, I/O wait, CPU cgroup throttling "
	     "(cpu.stat nr_throttled in the cgroup's directory).",
	     .with = MEASURED),
	STEP("Without latency measurements, judge from load: CPU pressure is the share of "
	     "time some runnable task waited, so over 20% means waits are common; more "
	     "runnable tasks than CPUs on average means a backlog; a few CPUs busy while "
	     "others idle points at affinity, cpusets or interrupts; memory pressure, I/O "
	     "wait and CPU cgroup throttling (cpu.stat nr_throttled) also delay tasks.",
	     .without = MEASURED),
	STEP("Answer with the verdict first (is latency really high? p99 and p99.9 with "
	     "samples), then the cause with its evidence, then two or three actions.",
	     .with = MEASURED),
	STEP("Answer with the verdict first (from load and pressure, saying that latency "
	     "was not measured), then the cause with its evidence, then two or three "
	     "actions.",
	     .without = MEASURED),
};

/* ------------------------------------------------------------ imbalance */

static const struct row imbalance[] = {
	TEXT("Find out whether CPU load is unevenly spread across the CPUs, caches and "
	     "NUMA nodes of this machine, and why.\n\n" INTRO),
	TOPIC("hardware.cpus"),
	TOPIC("load.per_cpu"),
	TOPIC("balance.sched"),
	TOPIC("balance.domains"),
	TOPIC("latency.process", .params = "top=10"),
	TOPIC("profile.cpu"),
	TOPIC("sched.current"),
	TOPIC("scx.stats"),
	TOPIC("changes", .params = "window=10m"),
	STEP("Decide:\n"
	     "   - imbalanced: the system is 20-85% busy and the per-CPU busy spread is over "
	     "30 points (in the 60 s window too), or one LLC or node is over 1.5 times "
	     "another, and tasks on the busy CPUs wait (p99 over 2 ms) while other CPUs are "
	     "more than 50% idle;\n"
	     "   - not imbalance: everything over 90% busy (saturation: capacity is the "
	     "issue); idle CPUs that are offline or isolated (topology notes, isolcpus, "
	     "nohz_full); fewer runnable tasks than CPUs, so there is nothing to spread;\n"
	     "   - usual causes: CPU affinity and cpusets, interrupts concentrated on a few "
	     "CPUs (irq and softirq time per CPU), NUMA memory binding, one single-threaded "
	     "bottleneck, the scheduler's placement policy."),
	STEP("Answer with a small table of the busiest and idlest CPUs (and LLCs or "
	     "nodes) with their numbers, the verdict, the cause and the remedy."),
};

/* ------------------------------------------------------------ scheduler */

static const struct row scheduler[] = {
	TEXT("Explain how the CPU scheduler ${scheduler_name} behaves on this machine: "
	     "what it is designed to do, what it is doing, where tasks wait, and what it "
	     "costs.\n\n",
	     .when = "scheduler_name"),
	TEXT("Explain how the CPU scheduler behaves on this machine: what it is designed "
	     "to do, what it is doing, where tasks wait, and what it costs.\n\n",
	     .when = "!scheduler_name"),
	NOTE("context.scheduler"),
	TEXT(INTRO),
	TOPIC("sched.current"),
	TOPIC("scx.kernel"),
	TOPIC("scx.stats"),
	TOPIC("scx.sample"),
	TOPIC("scx.scheduler"),
	TOPIC("latency.dsq"),
	TOPIC("sched.fair"),
	TOPIC("latency.cpu"),
	TOPIC("throughput.cpu"),
	TOPIC("latency.process", .params = "top=5"),
	TOPIC("bpf.scheduler"),
	TOPIC("hardware.cpus"),
	TOPIC("tracing"),
	TOPIC("changes", .params = "window=15m"),
	TOPIC("sched.tuning"),
	STEP("Answer these: is the policy doing what it is designed for on this workload? "
	     "Where do tasks wait (which CPUs, dispatch queues, processes)? Does it fall "
	     "back or refuse work? What does it cost? End with the tuning options that fit."),
};

/* --------------------------------------------------------------- profile */

#define PROFILED "profile bpf.cost"

static const struct row profile[] = {
	TEXT("Profile where CPU time goes on this machine for ${duration_secs} s, "
	     "including the cost of BPF programs and of the scheduler itself.\n\n" INTRO),
	TEXT("\nThis schedmcp can neither sample call stacks nor measure BPF programs "
	     "right now (see the end of this message): say so, and fall back on the CPU "
	     "split below.\n",
	     .without = PROFILED),
	TOPIC("profile"),
	TOPIC("bpf.cost"),
	TOPIC("load.split"),
	STEP("Judge: a function over 10% self is a hotspot. Lock slow paths "
	     "(native_queued_spin_lock_slowpath, __mutex_lock, rwsem_down_*) over 5% mean "
	     "lock contention. Scheduler functions (__schedule, pick_next_task*, "
	     "enqueue_task*, select_task_rq*, try_to_wake_up, update_curr) together over "
	     "10% mean switching overhead: check the switch rate. Idle functions (do_idle, "
	     "cpuidle_*, *_idle) are idle time, not a hotspot. A BPF program over 1% of one "
	     "CPU is measurable; a sched_ext scheduler's programs together over 5% of one "
	     "CPU per busy CPU are expensive. Fewer than 1000 samples: the percentages are "
	     "rough.",
	     .with = PROFILED),
	STEP("Answer with the top five hotspots (share, module, what they are doing and "
	     "why), the BPF and scheduler cost, and what to do about the biggest.",
	     .with = PROFILED),
	STEP("Judge from the split: kernel time (system, irq, softirq) over 30% of busy "
	     "time is overhead worth explaining; over 20000 context switches per second per "
	     "CPU means switching itself costs. Answer with the split, what it suggests, and "
	     "that no profile could be taken.",
	     .without = PROFILED),
};

/* ------------------------------------------------------------ regression */

static const struct row regression[] = {
	TEXT("Things got slower on this machine within the last ${window}: find what "
	     "changed, when, and where.\n\n" INTRO),
	TOPIC("changes"),
	TOPIC("history"),
	TEXT("\nThis schedmcp keeps no metric history right now, so compare windows "
	     "instead: each statistic below comes for the last 1 s, 10 s, 60 s and since "
	     "schedmcp started; a 60 s value far from since_start is a recent change (only "
	     "as far back as schedmcp has run).\n",
	     .without = "changes history"),
	TOPIC("watches"),
	TOPIC("latency.cpu"),
	TOPIC("latency.process", .params = "top=5"),
	TOPIC("load"),
	TOPIC("sched.change"),
	TOPIC("events"),
	STEP("Answer: when it started, how big the change is (before -> after, with "
	     "windows), where (CPUs, processes), what changed at the same time, and the "
	     "next step (debug_high_latency with the pid, analyze_cpu_imbalance"),
	TEXT(", or the monitor prompt to keep watching", .needs = "monitor"),
	TEXT(")."),
};

static const struct flow flows[P_COUNT] = {
	[P_PERFORMANCE] = ROWS(performance), [P_LATENCY] = ROWS(latency),
	[P_IMBALANCE] = ROWS(imbalance),     [P_SCHEDULER] = ROWS(scheduler),
	[P_SUMMARY] = ROWS(summary),	     [P_PROFILE] = ROWS(profile),
	[P_REGRESSION] = ROWS(regression),
};

const struct flow *prompts_flows_get(enum prompt_id id)
{
	return id < P_COUNT ? &flows[id] : NULL;
}

bool prompts_flows_topic_known(const char *topic)
{
	for (size_t f = 0; f < P_COUNT; f++)
		for (size_t i = 0; i < flows[f].n_rows; i++)
			if ((flows[f].rows[i].kind == ROW_TOPIC ||
			     flows[f].rows[i].kind == ROW_NOTE) &&
			    strcmp(flows[f].rows[i].s, topic) == 0)
				return true;
	return false;
}

/* ------------------------------------------------------ the core's steps */

/* What the core's own tools add, given like any plugin's steps (they are
 * there only while metrics and watches are). */
int prompts_flows_core_steps(struct smcp_host *core, const struct smcp_host_api *api)
{
	static const struct smcp_prompt_step steps[] = {
		{ .sz = sizeof(steps[0]), .topic = "changes", .order = 10, .needs = "what_changed",
		  .text = "Call what_changed {\"window\": \"${window}\", \"baseline\": \"1h\"}: the "
			  "metrics that moved most in the last ${window} against the hour before, "
			  "with before and after values. A change that lines up with the symptom "
			  "is a lead." },
		{ .sz = sizeof(steps[0]), .topic = "history", .order = 10,
		  .needs = "query_history metrics://catalog",
		  .text = "For the top three, call query_history {\"metric\": NAME, \"start\": "
			  "\"-1h\", \"group_by\": \"cpu\"} (or \"llc\", or no group_by for the "
			  "series as published) to find when it started and where. "
			  "metrics://catalog lists every metric with its unit and labels." },
		{ .sz = sizeof(steps[0]), .topic = "watches", .order = 10, .needs = "watch_status",
		  .text = "Call watch_status {}: any watch that fired in the window, with the "
			  "context captured when it did." },
		{ .sz = sizeof(steps[0]), .topic = "events", .order = 10, .needs = "poll_events",
		  .text = "Call poll_events {\"limit\": 100}: recent events (scheduler changes "
			  "and others) with their time." },
	};
	int err = 0;

	for (size_t i = 0; !err && i < ARRAY_SIZE(steps); i++)
		err = api->register_prompt_step(core, &steps[i]);
	return err;
}
