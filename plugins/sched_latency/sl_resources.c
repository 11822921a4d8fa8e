/* SPDX-License-Identifier: MIT */
/*
 * The stats:// resources (scxtop's names) and the stats://process/{pid}
 * template. Every answer names its window, puts the sample count beside
 * every percentile, and is bounded: top-N rows with a sort key, and a note
 * saying how to get the rest (measure_latency takes window, group_by,
 * sort, limit and offset).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sl.h"

#define CPU_ROWS 64
#define DOMAIN_ROWS 16
#define TOP_ROWS 20
#define TOP_SINCE_START_ROWS 10
#define THREADS_OF_PROCESS 20
#define COMPLETIONS 100

int sl_unavailable(struct sl *p, struct smcp_result *res, bool tool)
{
	struct smcp_json *j;

	if (tool)
		return p->api->result_error(res, "sched_latency is not collecting: %s", p->reason);
	j = p->api->result_json(res);
	if (!j)
		return -ENOMEM;
	p->api->json_bool(j, "available", false);
	p->api->json_string(j, "reason", p->reason);
	return 0;
}

static void header(struct sl *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;

	api->json_bool(j, "available", true);
	api->json_object(j, "source");
	api->json_string(j, "programs", p->mode);
	api->json_string(j, "latency_clock", p->clock);
	api->json_string(j, "counting",
			 "exact: every sched_switch, sched_waking/wakeup and migration is counted "
			 "in the kernel; nothing is sampled");
	api->json_double(j, "collecting_s",
			 (double)((api->now_ns(p->h) - p->start_ns) / 1000000) / 1000.0);
	api->json_end(j);
}

/* ------------------------------------------------------------------- CPUs */

static int read_cpu(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j;
	struct sl_window_result r;

	if (!p->running)
		return sl_unavailable(p, res, false);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	header(p, j);
	api->json_object(j, "system");
	for (int w = 0; w < SL_NWINDOWS; w++) {
		int err = sl_window_rows(p, "cpu", (enum sl_window_id)w, &r);

		if (err == -ENODATA) {
			api->json_object(j, sl_window_names[w]);
			api->json_string(j, "note", "no data yet: the first 1 s tick has not run");
			api->json_end(j);
		}
		if (err)
			continue;
		api->json_object(j, sl_window_names[w]);
		sl_emit_window(p, j, "window", sl_window_names[w], w == SL_WSTART ? NULL : &r);
		sl_emit_system(p, j, "all_cpus", &r, w == SL_WSTART);
		api->json_end(j);
		sl_window_result_free(&r);
	}
	api->json_end(j);
	if (sl_window_rows(p, "cpu", SL_W10, &r) == 0) {
		api->json_object(j, "per_cpu");
		sl_emit_window(p, j, "window", "10s", &r);
		sl_emit_cpu_rows(p, j, "cpus", "cpu", &r, false, -1, 0, CPU_ROWS);
		api->json_end(j);
		sl_window_result_free(&r);
	}
	api->json_string(
		j, "more",
		"other windows per CPU: measure_latency {group_by: cpu, window: 1s|10s|60s|"
		"since_start}; per LLC/node: stats://aggregated/llc, stats://aggregated/node");
	return 0;
}

/* LLC or NUMA node: the CPU rows folded through the topology. */
static int read_domain(struct sl *p, struct smcp_result *res, bool llc)
{
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j;

	if (!p->running)
		return sl_unavailable(p, res, false);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	header(p, j);
	if (!p->topo_ok) {
		api->json_string(j, "error", "the CPU topology could not be read from sysfs");
		return 0;
	}
	api->json_string(j, "mapping", llc ? p->topo.llc_source : p->topo.node_source);
	api->json_array(j, "windows");
	for (int w = 0; w < SL_NWINDOWS; w++) {
		struct sl_window_result r, f;

		if (sl_window_rows(p, "cpu", (enum sl_window_id)w, &r))
			continue;
		if (sl_window_result_fold(&r, llc ? p->topo.cpu_llc : p->topo.cpu_node,
					  (size_t)p->topo.ncpus, &f) == 0) {
			api->json_object(j, NULL);
			sl_emit_window(p, j, "window", sl_window_names[w],
				       w == SL_WSTART ? NULL : &r);
			sl_emit_cpu_rows(p, j, llc ? "llcs" : "nodes", llc ? "llc" : "node", &f,
					 w == SL_WSTART, -1, 0, DOMAIN_ROWS);
			api->json_end(j);
			sl_window_result_free(&f);
		}
		sl_window_result_free(&r);
	}
	api->json_end(j);
	return 0;
}

static int read_llc(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	return read_domain(data, res, true);
}

static int read_node(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	return read_domain(data, res, false);
}

static int read_dsq(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	struct smcp_json *j = p->api->result_json(res);

	if (!j)
		return -ENOMEM;
	return sl_dsq_emit(p, j);
}

/* ------------------------------------------------------ processes, threads */

static int read_tasks(struct sl *p, struct smcp_result *res, bool threads)
{
	const struct smcp_host_api *api = p->api;
	const char *kind = threads ? "thread" : "process";
	struct smcp_json *j;
	struct sl_window_result r;

	if (!p->running)
		return sl_unavailable(p, res, false);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	header(p, j);
	if (sl_window_rows(p, kind, SL_W10, &r) == 0) {
		api->json_object(j, "top_10s");
		sl_emit_window(p, j, "window", "10s", &r);
		api->json_string(j, "sort", "wait_time");
		sl_emit_task_rows(p, j, threads ? "threads" : "processes", threads, &r, false, 0,
				  SL_SORT_WAIT_TIME, 0, TOP_ROWS, false);
		api->json_end(j);
		sl_window_result_free(&r);
	}
	if (sl_window_rows(p, kind, SL_WSTART, &r) == 0) {
		api->json_object(j, "top_since_start");
		sl_emit_window(p, j, "window", "since_start", NULL);
		api->json_string(j, "sort", "wait_time");
		sl_emit_task_rows(p, j, threads ? "threads" : "processes", threads, &r, true, 0,
				  SL_SORT_WAIT_TIME, 0, TOP_SINCE_START_ROWS, false);
		api->json_end(j);
		api->json_object(j, "tracked");
		api->json_uint(j, "entries", r.n);
		api->json_uint(j, "capacity", threads ? p->tasks.max_thr : p->tasks.max_proc);
		api->json_uint(j, "evicted", threads ? p->tasks.evicted_threads
						     : p->tasks.evicted_procs);
		api->json_uint(j, "exit_records_lost", sl_bpf_exits_lost(p));
		if (threads) {
			uint32_t slots;
			uint64_t fallbacks, failed;

			sl_bpf_slot_info(p, &slots, &fallbacks, &failed);
			api->json_uint(j, "task_slots", slots);
			api->json_uint(j, "task_slot_fallbacks", fallbacks);
			api->json_uint(j, "task_state_failures", failed);
		}
		api->json_string(
			j, "policy",
			threads ? "exited threads stay until room is needed; the least "
				  "recently active make room first"
				: "a process keeps the counts of its exited threads; the "
				  "least recently active without live threads make room first");
		api->json_end(j);
		sl_window_result_free(&r);
	}
	api->json_string(
		j, "more",
		threads ? "measure_latency {group_by: thread, window, sort, limit, offset, pid}"
			: "measure_latency {group_by: process, window, sort, limit, offset}; "
			  "stats://process/{pid} for one process and its threads");
	return 0;
}

static int read_process(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	return read_tasks(data, res, false);
}

static int read_thread(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	return read_tasks(data, res, true);
}

static bool proc_exists(struct sl *p, int64_t pid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/proc/%lld", p->api->fs_root(p->h), (long long)pid);
	return access(path, F_OK) == 0;
}

static int read_one_process(void *data, struct smcp_call *call, const char *uri,
			    const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	struct sl_window_result r;
	struct smcp_json *j;
	struct sl_proc *pr;
	int64_t pid = 0;

	if (api->arg_int(vars, "pid", &pid) || pid <= 0 || pid > 0x7fffffff) {
		api->result_error(res, "pid must be a positive integer");
		return -ENOENT;
	}
	if (!p->running)
		return sl_unavailable(p, res, false);
	sl_refresh_tasks(p);
	pr = sl_tasks_process(&p->tasks, (uint32_t)pid);
	if (!pr && !proc_exists(p, pid)) {
		api->result_error(res, "no process %lld: not running and not tracked; "
				       "stats://aggregated/process lists the busiest ones, "
				       "measure_latency {\"group_by\": \"process\"} pages them all",
				  (long long)pid);
		return -ENOENT;
	}
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	header(p, j);
	api->json_uint(j, "pid", (uint64_t)pid);
	api->json_bool(j, "running_now", proc_exists(p, pid));
	if (!pr) {
		api->json_string(
			j, "note",
			"no scheduling activity recorded for this process since the plugin "
			"started (or it made room for busier ones)");
		return 0;
	}
	api->json_string(j, "comm", pr->comm);
	api->json_uint(j, "live_threads", pr->live_threads);
	api->json_array(j, "windows");
	for (int w = 0; w < SL_NWINDOWS; w++) {
		if (sl_window_rows(p, "process", (enum sl_window_id)w, &r))
			continue;
		api->json_object(j, NULL);
		sl_emit_window(p, j, "window", sl_window_names[w], w == SL_WSTART ? NULL : &r);
		sl_emit_task_rows(p, j, "process", false, &r, w == SL_WSTART, (uint32_t)pid,
				  SL_SORT_WAIT_TIME, 0, 1, w == SL_WSTART);
		api->json_end(j);
		sl_window_result_free(&r);
	}
	api->json_end(j);
	if (sl_window_rows(p, "thread", SL_WSTART, &r) == 0) {
		api->json_object(j, "threads_since_start");
		api->json_string(j, "sort", "wait_time");
		sl_emit_task_rows(p, j, "threads", true, &r, true, (uint32_t)pid,
				  SL_SORT_WAIT_TIME, 0, THREADS_OF_PROCESS, false);
		api->json_end(j);
		sl_window_result_free(&r);
	}
	return 0;
}

static int cmp_wait_desc(const void *a, const void *b)
{
	const struct sl_window_row *x = a, *y = b;

	if (x->c[SLT_WAIT_NS] != y->c[SLT_WAIT_NS])
		return x->c[SLT_WAIT_NS] < y->c[SLT_WAIT_NS] ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key;
}

/* Tracked PIDs, those that waited longest since start first. */
static int complete_pid(void *data, const char *arg_name, const char *prefix,
			const struct smcp_args *context, struct smcp_completion *out)
{
	struct sl *p = data;
	const struct smcp_host_api *api = p->api;
	size_t plen = prefix ? strlen(prefix) : 0;
	struct sl_window_result r;
	uint32_t total = 0;

	if (!p->running || strcmp(arg_name, "pid") != 0)
		return 0;
	if (sl_window_rows(p, "process", SL_WSTART, &r))
		return 0;
	qsort(r.rows, r.n, sizeof(*r.rows), cmp_wait_desc);
	for (size_t i = 0; i < r.n; i++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)r.rows[i].key);
		if (plen && strncmp(buf, prefix, plen) != 0)
			continue;
		total++;
		if (total <= COMPLETIONS)
			(void)api->completion_add(out, buf);
	}
	(void)api->completion_total(out, total);
	sl_window_result_free(&r);
	return 0;
}

/* ---------------------------------------------------------- registration */

int sl_resources_register(struct sl *p)
{
	/* the fixed URIs, then the one template */
	const struct smcp_resource_desc res[] = { {
		SMCP_RESOURCE("stats://aggregated/cpu"),
		.name = "sched_cpu",
		.title = "Scheduler statistics per CPU",
		.description = "Context switches, wakeups, migrations and run-queue latency percentiles "
			       "(with sample counts) for the last 1 s, 10 s, 60 s and since start, "
			       "system-wide and per CPU. Exact in-kernel counts.",
		.mime_type = "application/json",
		.flags = SMCP_RESOURCE_REPORT,
		.read = read_cpu,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://aggregated/llc"),
		.name = "sched_llc",
		.title = "Scheduler statistics per LLC",
		.description = "The per-CPU statistics folded per last-level cache, with cross-LLC "
			       "migrations, for each window.",
		.mime_type = "application/json",
		.read = read_llc,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://aggregated/node"),
		.name = "sched_node",
		.title = "Scheduler statistics per NUMA node",
		.description = "The per-CPU statistics folded per NUMA node, with cross-node migrations, for "
			       "each window.",
		.mime_type = "application/json",
		.read = read_node,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://aggregated/dsq"),
		.name = "sched_dsq",
		.title = "sched_ext dispatch queues",
		.description = "Per-DSQ inserts, consumption, current depth and insert-to-run latency when a "
			       "sched_ext scheduler runs; says so when the kernel has no sched_ext.",
		.mime_type = "application/json",
		.read = read_dsq,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://aggregated/process"),
		.name = "sched_process",
		.title = "Top processes by run-queue wait",
		.description = "Processes that waited longest for a CPU in the last 10 s and since start: "
			       "latency percentiles, switches, wakeups, migrations, CPU time.",
		.mime_type = "application/json",
		.flags = SMCP_RESOURCE_REPORT,
		.read = read_process,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://aggregated/thread"),
		.name = "sched_thread",
		.title = "Top threads by run-queue wait",
		.description = "Threads that waited longest for a CPU in the last 10 s and since start.",
		.mime_type = "application/json",
		.read = read_thread,
		.data = p,
	}, {
		SMCP_RESOURCE("stats://process/{pid}"),
		.name = "sched_process_pid",
		.title = "Scheduling statistics of one process",
		.description = "One process: run-queue latency per window with its histogram "
			       "since start, and its threads that waited longest.",
		.mime_type = "application/json",
		.read = read_one_process,
		.complete = complete_pid,
		.data = p,
	} };

	return smcp_register_resources(p->h, p->api, res, SMCP_COUNT(res));
}
