/* SPDX-License-Identifier: MIT */
/*
 * What the workflow prompts should read and measure of run-queue latency
 * (host API register_prompt_step), with the thresholds that make a number a
 * finding. Renders fill in what depends on the prompt: the process of the
 * pid asked about (stats://process/ takes a process, the pid may be a
 * thread), the pid in tool calls, and the DSQ step only while a sched_ext
 * scheduler runs.
 */
#include "sl_steps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>

static struct {
	struct smcp_host *h;
	const struct smcp_host_api *api;
} S;

static const char *root(void)
{
	return S.api->fs_root(S.h);
}

/* The pid asked about and its process (Tgid in /proc/PID/status; the pid
 * itself when that cannot be read). false when no pid was asked about. */
static bool asked_pid(const struct smcp_args *args, long long *ret_pid, long long *ret_tgid)
{
	char rel[64], buf[2048], *p;
	int64_t pid;

	if (S.api->arg_int(args, "pid", &pid))
		return false;
	*ret_pid = *ret_tgid = (long long)pid;
	snprintf(rel, sizeof(rel), "/proc/%lld/status", (long long)pid);
	if (smcp_read_file(root(), rel, buf, sizeof(buf)) > 0 && (p = strstr(buf, "\nTgid:\t")) &&
	    atoll(p + 7) > 0)
		*ret_tgid = atoll(p + 7);
	return true;
}

static int render_process(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	long long pid, tgid;

	if (!asked_pid(args, &pid, &tgid))
		return 0;
	return snprintf(buf, len, "Read stats://process/%lld: its run-queue latency per window "
			"(`p50_us`, `p99_us`, `p999_us`, `samples`) and its threads that waited "
			"longest.", tgid);
}

static const char top_waiters[] =
	"Read stats://aggregated/process: `top_10s`.`processes` (sorted by `wait_total_ms`). "
	"For the top %lld: `pid`, `comm`, `wait_total_ms`, `run_queue_latency`.`p99_us` with "
	"`samples`, `cpu_pct`, `last_cpu` (where it ran last), `voluntary` and `involuntary` "
	"switches (many involuntary: preempted while running, so competing for the CPU; mostly "
	"voluntary: waits after waking up).";

/* The top waiters, and whether the process asked about is among them. */
static int render_task_waiters(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	long long pid, tgid;
	int64_t top = 10;
	int n;

	if (!asked_pid(args, &pid, &tgid))
		return 0;
	(void)S.api->arg_int(args, "top", &top);
	n = snprintf(buf, len, top_waiters, (long long)top);
	if (n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " Is %lld among them, and who waits with "
			      "it? Compare the CPUs it ran on with the rest.", tgid);
	return n;
}

static int render_wakers(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	char pid_arg[40] = "";
	long long pid, tgid;

	if (asked_pid(args, &pid, &tgid))
		snprintf(pid_arg, sizeof(pid_arg), ", \"pid\": %lld", pid);
	return snprintf(buf, len, "See who wakes it: analyze_waker_wakee {\"duration_s\": 5%s}. "
			"A waker on a busy CPU, or a long wake chain, adds latency to every hop.",
			pid_arg);
}

static int render_events(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	char pid_arg[40] = "";
	long long pid, tgid;

	if (asked_pid(args, &pid, &tgid))
		snprintf(pid_arg, sizeof(pid_arg), "\"pid\": %lld, ", pid);
	return snprintf(buf, len, "Catch individual long waits: control_event_tracking "
			"{\"action\": \"enable\", %s\"min_latency_us\": 1000}, wait about 5 s, read "
			"them with poll_events {\"type\": \"sched.\", \"limit\": 100}, then "
			"control_event_tracking {\"action\": \"disable\"}. For each long wait note "
			"the CPU, what ran before, and whether a migration came just before.",
			pid_arg);
}

static int render_dsq(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	char state[32];

	if (smcp_read_file(root(), "/sys/kernel/sched_ext/state", state, sizeof(state)) <= 0 ||
	    strcmp(state, "enabled") != 0)
		return 0; /* no dispatch queues without a sched_ext scheduler */
	return snprintf(buf, len, "Read stats://aggregated/dsq: for each entry of `dsqs`, "
			"`inserted_per_s`, `consumed_per_s`, `depth_now` and "
			"`insert_to_run`.`p99_us`. Under 100 us is good; over 1 ms means tasks queue "
			"in that dispatch queue; a depth that keeps growing means the scheduler "
			"consumes it slower than it fills.");
}

#define PROCESSES "stats://aggregated/process"
#define WAITERS "the processes that wait longest for a CPU"

static const struct smcp_prompt_step steps[] = {
	{ SMCP_STEP("latency.cpu", 10), .needs = "stats://aggregated/cpu",
	  .missing = "run-queue latency per CPU",
	  .text = "Read stats://aggregated/cpu. In `system`, the `10s` and `60s` entries' "
		  "`all_cpus`: `run_queue_latency` (`p50_us`, `p99_us`, `p999_us`, `samples`), "
		  "`switches_per_s`, `involuntary_pct`, `migrations_out_per_s`. In "
		  "`per_cpu`.`cpus`: the CPUs whose `run_queue_latency`.`p99_us` is more than "
		  "twice the system p99, with their `busy_pct`." },
	{ SMCP_STEP("latency.measure", 10), .needs = "measure_latency",
	  .text = "If the windows above are marked `incomplete` (schedmcp started recently), "
		  "measure afresh: measure_latency {\"duration_s\": 10, \"group_by\": \"cpu\"}." },
	{ SMCP_STEP("latency.process", 10), .needs = PROCESSES, .missing = WAITERS,
	  .text = "Read stats://aggregated/process: `top_10s`.`processes` (sorted by "
		  "`wait_total_ms`). For the top ${top}: `pid`, `comm`, `wait_total_ms`, "
		  "`run_queue_latency`.`p99_us` with `samples`, `cpu_pct`, `last_cpu` (where it "
		  "ran last), `voluntary` and `involuntary` switches (many involuntary: preempted "
		  "while running, so competing for the CPU; mostly voluntary: waits after waking "
		  "up)." },
	{ SMCP_STEP("latency.task", 10), .needs = "stats://process/{pid}",
	  .missing = "run-queue latency of one process", .render = render_process },
	{ SMCP_STEP("latency.task", 20), .needs = "measure_latency",
	  .text = "Measure it now: measure_latency {\"pid\": ${pid}, \"duration_s\": 10}. Look "
		  "at the histogram: a few very long waits (a second hump) point at specific "
		  "events (preemption by a burst, a migration); a shift of the whole distribution "
		  "points at general contention." },
	{ SMCP_STEP("latency.task", 30), .needs = PROCESSES, .missing = WAITERS,
	  .render = render_task_waiters },
	{ SMCP_STEP("latency.any", 10), .needs = PROCESSES, .missing = WAITERS,
	  .text = "Read stats://aggregated/process: `top_10s`.`processes` (sorted by "
		  "`wait_total_ms`). For the top ${top}: `pid`, `comm`, `wait_total_ms`, "
		  "`run_queue_latency`.`p99_us` with `samples`, `cpu_pct`, `last_cpu`, "
		  "`voluntary` and `involuntary` switches (many involuntary: preempted while "
		  "running; mostly voluntary: waits after waking up). stats://aggregated/thread "
		  "has the same per thread." },
	{ SMCP_STEP("latency.any", 20), .needs = "stats://process/{pid}",
	  .text = "For each of the top ${top} with `run_queue_latency`.`p99_us` over 1000 and "
		  "at least 100 `samples`, read stats://process/{pid} with its pid." },
	{ SMCP_STEP("latency.any", 30), .needs = "measure_latency",
	  .text = "Measure afresh: measure_latency {\"group_by\": \"process\", \"duration_s\": "
		  "10}, then measure_latency {\"pid\": PID, \"duration_s\": 10} for the worst "
		  "one." },
	{ SMCP_STEP("latency.wakers", 10), .needs = "analyze_waker_wakee", .render = render_wakers },
	{ SMCP_STEP("latency.softirq", 10), .needs = "analyze_softirq",
	  .text = "See what interrupts do to those CPUs: analyze_softirq {\"duration_s\": 5, "
		  "\"mode\": \"by_cpu\"}. A CPU with `cpu_pct` over 10 spends that share in "
		  "softirqs (`most_time_in` says which: NET_RX for network receive, TIMER, "
		  "RCU...), and every task queued on it waits behind them." },
	{ SMCP_STEP("latency.events", 10), .needs = "control_event_tracking poll_events",
	  .render = render_events },
	{ SMCP_STEP("latency.dsq", 10), .needs = "stats://aggregated/dsq", .render = render_dsq },
	{ SMCP_STEP("throughput.cpu", 10), .needs = "stats://aggregated/cpu",
	  .missing = "context switches, time slices and migrations per CPU",
	  .text = "From stats://aggregated/cpu, `system`.`10s`.`all_cpus`: `switches_per_s` "
		  "divided by `cpus` (over 20000 per CPU is very high), `involuntary_pct` (over "
		  "30: slices too short or CPUs oversubscribed), `time_slice`.`p50_us` (under 100 "
		  "us: tasks run in tiny bursts and switching overhead dominates), "
		  "`migrations_out_per_s`, `migrations_out_cross_llc_per_s` and "
		  "`migrations_out_cross_node_per_s` (cross-LLC or cross-node moves cost cache "
		  "warmth)." },
	{ SMCP_STEP("throughput.llc", 10), .needs = "stats://aggregated/llc",
	  .text = "Read stats://aggregated/llc: in `windows` (10s), each entry of `llcs`: "
		  "`busy_pct`, `switches_per_s`, `migrations_out_cross_llc_per_s`." },
	{ SMCP_STEP("balance.cpu", 10), .needs = "stats://aggregated/cpu",
	  .text = "From stats://aggregated/cpu, `per_cpu`.`cpus`: `busy_pct` per CPU. A spread "
		  "(max - min) over 30 points while the system is 20-85% busy is an imbalance; "
		  "everything over 90 is saturation, not imbalance." },
	{ SMCP_STEP("balance.sched", 10), .needs = "stats://aggregated/cpu measure_latency",
	  .missing = "run-queue latency and migrations per CPU",
	  .text = "Per-CPU scheduling: stats://aggregated/cpu, `per_cpu`.`cpus`: `busy_pct`, "
		  "`switches_per_s`, `run_queue_latency`.`p99_us`, `migrations_in_per_s`, "
		  "`migrations_out_per_s`. Tasks waiting on busy CPUs while other CPUs idle is "
		  "the harm imbalance does. measure_latency {\"group_by\": \"cpu\", \"window\": "
		  "\"60s\"} gives another window." },
	{ SMCP_STEP("balance.domains", 10), .needs = "stats://aggregated/llc stats://aggregated/node",
	  .text = "Per cache and node: stats://aggregated/llc, `windows` (10s) `llcs`: "
		  "`busy_pct`, `cpus`, `migrations_out_cross_llc_per_s`; stats://aggregated/node: "
		  "`busy_pct` and `migrations_out_cross_node_per_s` per node. The busiest over 1.5 "
		  "times the least busy is an imbalance at that level." },
};

int sl_steps_register(struct smcp_host *h, const struct smcp_host_api *api)
{
	S.h = h;
	S.api = api;
	return smcp_register_prompt_steps(h, api, steps, SMCP_COUNT(steps));
}
