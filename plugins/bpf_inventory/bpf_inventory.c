/* SPDX-License-Identifier: MIT */
/*
 * bpf_inventory plugin: bpf://programs, bpf://programs/{id}, bpf://maps,
 * and control_stats_collection, which holds a BPF_ENABLE_STATS fd only
 * while it samples so programs report real run counts and run times.
 *
 * Every read takes a fresh snapshot with the BPF syscall (inv_scan.c), on
 * the core's workers (inv_queue.c), and so does every answer of the tool;
 * only the names BTF gave are kept between reads, and kernel BTF when
 * reads decode struct_ops maps, released BTF_KEEP_MS after the last one.
 * The sampler's counters are read on a worker too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <schedmcp/plugin.h>
#include <linux/capability.h>

#include "inv.h"
#include "inv_plugin.h"
#include "inv_stats.h"
#include "inv_steps.h"

#define BTF_KEEP_MS 30000

static const struct smcp_config_key inv_config[] = {
	{ sizeof(struct smcp_config_key), "max_rows", SMCP_CONFIG_INT, "100",
	  "programs (and maps) described in bpf://programs and bpf://maps; the rest are "
	  "listed by id", 10, 2000 },
	{ sizeof(struct smcp_config_key), "default_interval_ms", SMCP_CONFIG_INT, "1000",
	  "run-time stats window when control_stats_collection gives no interval_ms", 100,
	  60000 },
	{ sizeof(struct smcp_config_key), "default_duration_s", SMCP_CONFIG_INT, "600",
	  "stats collection stops by itself after this long unless duration_s says "
	  "otherwise (0: only on stop)", 0, 86400 },
	{ 0 },
};

static const char stats_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"action\"],"
	"\"properties\":{"
	"\"action\":{\"type\":\"string\",\"enum\":[\"start\",\"stop\",\"status\",\"sample\"]},"
	"\"interval_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":60000},"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":50}}}";

static const char stats_output[] =
	"{\"type\":\"object\",\"required\":[\"action\",\"stats\"]}";

static struct inv_plugin plugin;

static uint64_t now_ns(struct inv_plugin *p)
{
	return p->api->now_ns(p->host);
}

static void btf_release(void *data)
{
	struct inv_plugin *p = data;

	p->btf_timer = 0;
	/* a worker is using it: its done keeps it another while */
	if (!p->scanning)
		inv_btf_release(p->btf);
}

/*
 * Kernel BTF takes 5 MiB or more. A read that only needed names (cached by
 * inv_btf.c) gives it back at once: kept while reads came in, it stayed
 * for as long as a client kept reading (issue 20). A read that decoded
 * struct_ops maps needs it again next time, so then it is kept until reads
 * stop for BTF_KEEP_MS. Called on the loop when no snapshot job uses it.
 */
void inv_btf_touch(struct inv_plugin *p)
{
	int t;

	if (!inv_btf_loaded(p->btf))
		return;
	if (p->btf_timer) {
		(void)p->api->timer_remove(p->host, p->btf_timer);
		p->btf_timer = 0;
	}
	if (!inv_btf_keep(p->btf)) {
		inv_btf_release(p->btf);
		return;
	}
	t = p->api->timer_add(p->host, BTF_KEEP_MS, false, btf_release, p);
	p->btf_timer = t > 0 ? t : 0;
	if (t <= 0)
		inv_btf_release(p->btf);
}

/* ------------------------------------------------------------- resources */

static int read_with(struct inv_plugin *p, struct smcp_call *call, struct smcp_result *res,
		     enum inv_req_kind kind, unsigned want, uint32_t id)
{
	struct inv_req *r = inv_req_new(p, kind, want, call, res);

	if (!r)
		return -ENOMEM;
	r->id = id;
	return inv_req_submit(r);
}

static int programs_read(void *data, struct smcp_call *call, const char *uri,
			 const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, call, res, INV_REQ_PROGRAMS, INV_WANT_ALL, 0);
}

static int program_read(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	struct inv_plugin *p = data;
	int64_t id;

	if (p->api->arg_int(vars, "id", &id) || id <= 0 || id > UINT32_MAX) {
		(void)p->api->result_error(res, "a BPF program id is a number from 1 up: "
						"bpf://programs lists them");
		return -ENOENT;
	}
	return read_with(p, call, res, INV_REQ_PROGRAM, INV_WANT_ALL, (uint32_t)id);
}

static int maps_read(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, call, res, INV_REQ_MAPS, INV_WANT_MAPS | INV_WANT_OWNERS, 0);
}

static int complete_id(void *data, const char *arg_name, const char *prefix,
		       const struct smcp_args *context, struct smcp_completion *out)
{
	struct inv_plugin *p = data;
	size_t pl = strlen(prefix);
	uint32_t total = 0;
	__u32 id = 0;

	if (strcmp(arg_name, "id") != 0)
		return 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		char s[16];

		snprintf(s, sizeof(s), "%u", id);
		if (strncmp(s, prefix, pl) != 0)
			continue;
		total++;
		(void)p->api->completion_add(out, s);
	}
	return p->api->completion_total(out, total);
}

/* ------------------------------------------------------------ sampling */

/*
 * Each window reads every program's run-time counters: four syscalls a
 * program, 20-70 ms with two thousand of them. The reads run on a worker
 * (one at a time; a timer tick that finds the last one still running lets
 * its window grow); what they read is applied on the loop in their done,
 * which also does what the tick did: stop after duration_s or after a
 * one-window sample, answer the samples waiting for the window, notify.
 * A read started for a collection since stopped is dropped (stats_gen).
 */
struct counters_job {
	struct inv_plugin *p;
	uint64_t gen;
	bool base; /* the collection's first snapshot */
	struct inv_counter *c;
	size_t n;
	uint64_t at_ns;
	int err;
};

static void stats_tick(void *data);

static void stop_collection(struct inv_plugin *p, const char *reason)
{
	if (p->stats_timer)
		(void)p->api->timer_remove(p->host, p->stats_timer);
	p->stats_timer = 0;
	p->user_started = false;
	p->stats_gen++;
	p->counting = false;
	if (inv_stats_running(&p->st)) {
		inv_stats_stop(&p->st, now_ns(p), reason);
		p->api->log(p->host, SMCP_LOG_INFO, "BPF run-time stats released: %s", reason);
	}
}

static int arm_timer(struct inv_plugin *p, uint64_t interval_ms)
{
	int t;

	if (p->stats_timer)
		(void)p->api->timer_remove(p->host, p->stats_timer);
	p->stats_timer = 0;
	t = p->api->timer_add(p->host, interval_ms, true, stats_tick, p);
	if (t < 0)
		return t;
	p->stats_timer = t;
	p->st.interval_ms = interval_ms;
	return 0;
}

/* Answer the samples waiting for a window: from the next snapshot, or
 * with error now. */
static void finish_pending(struct inv_plugin *p, const char *error)
{
	struct inv_req *done[INV_MAX_PENDING];
	size_t n = p->n_pend;

	/* completing may run host code; work on a copy of the list */
	memcpy(done, p->pend, sizeof(done));
	p->n_pend = 0;
	for (size_t i = 0; i < n; i++) {
		if (error)
			inv_req_fail(done[i], error);
		else
			inv_req_queue(done[i]);
	}
}

/* On a worker: only the job. The time is the host's clock (now_ns is
 * CLOCK_MONOTONIC), read here: a window ends when its counters are read,
 * however long the job waited for a worker. */
static int counters_work(void *data)
{
	struct counters_job *cj = data;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	cj->at_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	cj->err = inv_read_counters(&cj->c, &cj->n);
	return 0;
}

static void counters_window(struct inv_plugin *p, struct counters_job *cj)
{
	inv_stats_push(&p->st, cj->c, cj->n, cj->at_ns);
	cj->c = NULL;
	if (p->user_started && p->st.stop_at_ns && now_ns(p) >= p->st.stop_at_ns)
		stop_collection(p, "stopped by itself after duration_s");
	/* a sample alone needs one window: release the fd before answering */
	if (!p->user_started && inv_stats_running(&p->st))
		stop_collection(p, "one-window sample finished");
	finish_pending(p, NULL);
	(void)p->api->notify_resource_updated(p->host, "bpf://programs");
}

static void counters_done(void *data, int result)
{
	struct counters_job *cj = data;
	struct inv_plugin *p = cj->p;
	char why[200];
	int err;

	(void)result;
	if (cj->gen != p->stats_gen || !inv_stats_running(&p->st))
		goto out; /* stopped (and maybe started again) meanwhile */
	p->counting = false;
	if (cj->err) {
		snprintf(why, sizeof(why), "%s program counters failed: %s",
			 cj->base ? "cannot collect BPF run-time stats: reading" : "reading",
			 strerror(-cj->err));
		stop_collection(p, why);
		finish_pending(p, why);
		goto out;
	}
	if (!cj->base) {
		counters_window(p, cj);
		goto out;
	}
	inv_stats_set_base(&p->st, cj->c, cj->n, cj->at_ns);
	cj->c = NULL;
	err = arm_timer(p, p->st.interval_ms);
	if (err) {
		snprintf(why, sizeof(why), "cannot add the sampling timer: %s", strerror(-err));
		stop_collection(p, "could not add a timer");
		finish_pending(p, why);
	}
out:
	free(cj->c);
	free(cj);
}

/* Read the counters for the current collection on a worker (on the loop
 * when no job can be submitted). */
static int read_counters(struct inv_plugin *p, bool base)
{
	struct counters_job *cj = calloc(1, sizeof(*cj));

	if (!cj)
		return -ENOMEM;
	cj->p = p;
	cj->gen = p->stats_gen;
	cj->base = base;
	p->counting = true;
	if (p->api->work_submit(p->host, counters_work, counters_done, cj)) {
		counters_work(cj);
		counters_done(cj, 0);
	}
	return 0;
}

static void stats_tick(void *data)
{
	struct inv_plugin *p = data;

	if (p->counting)
		return; /* the last read is still running: this window grows */
	if (read_counters(p, false)) {
		stop_collection(p, "reading program counters failed: out of memory");
		finish_pending(p, "reading program counters failed: out of memory");
	}
}

static int start_collection(struct inv_plugin *p, uint64_t interval_ms, struct smcp_result *res)
{
	char why[256];
	int err;

	err = inv_stats_enable(&p->st, now_ns(p), interval_ms, why, sizeof(why));
	if (err) {
		(void)p->api->result_error(res, "cannot collect BPF run-time stats: %s", why);
		return err;
	}
	p->stats_gen++;
	/* the base snapshot; its done arms the window timer */
	err = read_counters(p, true);
	if (err) {
		inv_stats_stop(&p->st, now_ns(p), "could not read the counters");
		(void)p->api->result_error(res, "cannot collect BPF run-time stats: %s",
					   strerror(-err));
		return err;
	}
	if (!inv_stats_running(&p->st)) {
		/* read here (no worker) and failed: last_stop says why */
		(void)p->api->result_error(res, "%s", p->st.last_stop);
		return -EIO;
	}
	p->api->log(p->host, SMCP_LOG_INFO, "BPF run-time stats on, window %llu ms",
		    (unsigned long long)interval_ms);
	return 0;
}

/* The tool's answer: state, window and top programs, from a snapshot. */
static int report(struct inv_plugin *p, struct smcp_call *call, struct smcp_result *res,
		  const char *action, size_t top, const char *message)
{
	struct inv_req *r = inv_req_new(p, INV_REQ_REPORT,
					INV_WANT_MAPS | INV_WANT_STRUCT_OPS | INV_WANT_OWNERS |
						INV_WANT_NAMES,
					call, res);

	if (!r)
		return -ENOMEM;
	r->action = action;
	r->top = top;
	snprintf(r->message, sizeof(r->message), "%s", message ? message : "");
	return inv_req_submit(r);
}

static void sample_cancelled(void *data, struct smcp_call *call)
{
	struct inv_req *r = data;
	struct inv_plugin *p = r->p;

	(void)call;
	if (!p->api)
		return; /* unloaded already */
	for (size_t i = 0; i < p->n_pend; i++) {
		if (p->pend[i] != r)
			continue;
		p->pend[i] = p->pend[--p->n_pend];
		break;
	}
	inv_req_free(r);
	if (!p->n_pend && !p->user_started)
		stop_collection(p, "sample cancelled");
}

static int control_stats(void *data, struct smcp_call *call, const struct smcp_args *args,
			 struct smcp_result *res)
{
	struct inv_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	uint64_t interval = p->default_interval_ms, duration = p->default_duration_s;
	const char *action = NULL;
	struct inv_req *r;
	char msg[256];
	size_t top = 10;
	int64_t v;

	if (api->arg_string(args, "action", &action)) {
		(void)api->result_error(res, "action is required: start, stop, status or sample");
		return 0;
	}
	if (api->arg_int(args, "interval_ms", &v) == 0)
		interval = v < 100 ? 100 : v > 60000 ? 60000 : (uint64_t)v;
	if (api->arg_int(args, "duration_s", &v) == 0)
		duration = v < 0 ? 0 : v > 86400 ? 86400 : (uint64_t)v;
	if (api->arg_int(args, "limit", &v) == 0)
		top = v < 1 ? 1 : v > 50 ? 50 : (size_t)v;

	if (strcmp(action, "start") == 0) {
		if (!inv_stats_running(&p->st)) {
			if (start_collection(p, interval, res))
				return 0;
			snprintf(msg, sizeof(msg),
				 "collecting: holding a BPF_ENABLE_STATS fd; the first window "
				 "completes in %llu ms", (unsigned long long)interval);
		} else {
			if (interval != p->st.interval_ms && arm_timer(p, interval) == 0)
				snprintf(msg, sizeof(msg), "already collecting; window now %llu ms",
					 (unsigned long long)interval);
			else
				snprintf(msg, sizeof(msg), "already collecting");
		}
		p->user_started = true;
		p->st.stop_at_ns = duration ? now_ns(p) + duration * 1000000000ull : 0;
		return report(p, call, res, "start", top, msg);
	}
	if (strcmp(action, "stop") == 0) {
		bool was = inv_stats_running(&p->st);

		stop_collection(p, "stopped by control_stats_collection");
		finish_pending(p, "stats collection was stopped before the window ended");
		return report(p, call, res, "stop", top,
			      was ? "stopped: the stats fd is released; the last window "
				    "stays readable until the next start"
				  : "was not collecting");
	}
	if (strcmp(action, "status") == 0)
		return report(p, call, res, "status", top, NULL);
	if (strcmp(action, "sample") == 0) {
		if (p->n_pend == INV_MAX_PENDING) {
			(void)api->result_error(res, "%d samples are already waiting for the next "
						"window; call again after it", INV_MAX_PENDING);
			return 0;
		}
		if (!inv_stats_running(&p->st) && start_collection(p, interval, res))
			return 0;
		if (!call)
			return report(p, call, res, "sample", top, "no call to complete later: "
								   "this is the state now");
		r = inv_req_new(p, INV_REQ_REPORT,
				INV_WANT_MAPS | INV_WANT_STRUCT_OPS | INV_WANT_OWNERS |
					INV_WANT_NAMES,
				call, res);
		if (!r)
			return -ENOMEM;
		r->action = "sample";
		r->top = top;
		r->state = INV_REQ_WINDOW;
		p->pend[p->n_pend++] = r;
		(void)api->call_on_cancel(call, sample_cancelled, r);
		return SMCP_PENDING;
	}
	(void)api->result_error(res, "action must be start, stop, status or sample (got \"%s\")",
				action);
	return 0;
}

/* ------------------------------------------------------------ lifecycle */

static const struct smcp_resource_desc inv_resources[] = { {
	SMCP_RESOURCE("bpf://programs"),
	.name = "bpf-programs",
	.title = "Loaded BPF programs",
	.description = "Every loaded BPF program: id, name, type, tag, load time, uid, "
		       "verified instructions, xlated/jited bytes, memory, maps, attach "
		       "points (links, BTF), owning processes, run_cnt and run_time_ns, "
		       "and the last stats window (ns per call, calls/s, cpu_pct) while "
		       "control_stats_collection samples. sched_ext and other struct_ops "
		       "programs are grouped under their scheduler with the op name; this "
		       "daemon's own programs are marked, with their cost.",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = programs_read,
	.data = &plugin,
}, {
	SMCP_RESOURCE("bpf://programs/{id}"),
	.name = "bpf-program",
	.title = "One BPF program in detail",
	.description = "One program by id: everything in bpf://programs plus its links "
		       "with targets, its maps, all owners, since-start stats, recursion "
		       "misses and its struct_ops group. Ids complete.",
	.mime_type = "application/json",
	.read = program_read,
	.complete = complete_id,
	.data = &plugin,
}, {
	SMCP_RESOURCE("bpf://maps"),
	.name = "bpf-maps",
	.title = "Loaded BPF maps",
	.description = "Every BPF map: id, name, type, key/value size, max entries, "
		       "flags, memory charged (memlock bytes), how many programs use it "
		       "and which processes hold it.",
	.mime_type = "application/json",
	.read = maps_read,
	.data = &plugin,
} };

static const struct smcp_tool_desc inv_tools[] = { {
	SMCP_TOOL("control_stats_collection"),
	.description = "BPF program cost (calls/s, ns/call, CPU %). sample: one window; "
		       "start: continuous.",
	.input_schema = stats_input,
	.output_schema = stats_output,
	.flags = SMCP_TOOL_IDEMPOTENT,
	.call = control_stats,
	.data = &plugin,
} };

static int inv_register(struct inv_plugin *p)
{
	int err = smcp_register_resources(p->host, p->api, inv_resources,
					  SMCP_COUNT(inv_resources));

	return err ? err : smcp_register_tools(p->host, p->api, inv_tools, SMCP_COUNT(inv_tools));
}

static int inv_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct inv_plugin *p = &plugin;
	__u32 id;
	int err;

	memset(p, 0, sizeof(*p));
	p->host = host;
	p->api = api;
	/* on every read: BPF_*_GET_NEXT_ID and GET_FD_BY_ID, BPF_ENABLE_STATS
	 * (CAP_SYS_ADMIN); the owners of programs: /proc/PID/fd and fdinfo of
	 * every user's processes, root's among them */
	err = api->keep_capabilities(host, 1ull << CAP_SYS_ADMIN | 1ull << CAP_SYS_PTRACE |
						   1ull << CAP_DAC_READ_SEARCH);
	if (err)
		return err;
	snprintf(p->root, sizeof(p->root), "%s", api->fs_root(host));
	p->max_rows = (size_t)smcp_config_int_or(host, api, "max_rows", 100);
	p->default_interval_ms = (uint64_t)smcp_config_int_or(host, api, "default_interval_ms",
							      1000);
	p->default_duration_s = (uint64_t)smcp_config_int_or(host, api, "default_duration_s", 600);
	inv_stats_init(&p->st);
	p->btf = inv_btf_new();
	if (!p->btf)
		return -ENOMEM;
	err = inv_register(p);
	if (!err)
		err = inv_steps_register(host, api);
	if (err)
		return err;
	err = bpf_prog_get_next_id(0, &id);
	if (err && err != -ENOENT) {
		char why[256];

		snprintf(why, sizeof(why), "cannot list BPF programs: %s%s", strerror(-err),
			 err == -EPERM ? " (needs CAP_SYS_ADMIN: run schedmcp as root)" : "");
		(void)api->set_status(host, true, why);
		api->log(host, SMCP_LOG_WARNING, "%s", why);
	}
	return 0;
}

static void inv_fini(struct smcp_host *host)
{
	struct inv_plugin *p = &plugin;

	/* the host removes our timers, has cancelled pending calls and has
	 * run the done of every job */
	inv_queue_fini(p);
	for (size_t i = 0; i < p->n_pend; i++)
		inv_req_free(p->pend[i]);
	inv_stats_free(&p->st);
	inv_btf_free(p->btf);
	memset(p, 0, sizeof(*p));
}

SMCP_PLUGIN_DEFINE("bpf_inventory", "0.1.0",
		   "loaded BPF programs and maps, with run-time statistics sampled on demand",
		   .config_keys = inv_config, .init = inv_init, .fini = inv_fini)
