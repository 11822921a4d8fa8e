/* SPDX-License-Identifier: MIT */
/*
 * scheduler plugin: scheduler://current, stats://scheduler/scx and
 * query_stats.
 *
 * A 1 s timer reads three small sysfs files (sched_ext state, ops name,
 * enable_seq); when the scheduler changes it notifies subscribers of both
 * resources, publishes a scheduler.changed event for clients that poll
 * (attached, detached or replaced, and why the BPF scheduler exited, from
 * the kernel log held open since start-up), and logs. Once per history step it publishes scheduler_info (and sched_ext's
 * counters) for the core's history and watch context. Reads use a fresh
 * sched_ext state and fair tunables cached for 5 s.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <schedmcp/plugin.h>

#include "sched_emit.h"
#include "sched_steps.h"

#define POLL_MS 1000
#define FAIR_TTL_NS (5 * 1000000000ull)

static const char query_stats_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"stat_type\":{\"type\":\"string\",\"enum\":[\"all\",\"cpu\",\"llc\",\"node\",\"dsq\","
	"\"process\",\"scheduler\",\"system\",\"topology\",\"memory\",\"network\",\"events\","
	"\"bpf\",\"profiling\"]}}}";

static const char query_stats_output[] =
	"{\"type\":\"object\",\"required\":[\"stat_type\",\"resources\"]}";

struct sched_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct scx_state polled; /* what the last poll saw */
	struct kernel_release kernel;
	struct fair_state fair;
	uint64_t fair_read_ns; /* 0: never */
	int m_info, m_rejected, m_events; /* metric ids; 0: the host keeps no history */
	struct scx_state collected; /* the collect callback's full read (too big for its stack) */
	char debug[PATH_MAX]; /* debugfs's sched directory (sched_read_debug_dir) */
	int debug_fd;
	int kmsg_fd;     /* the kernel log, for why a BPF scheduler exited; -errno if not */
};

static struct sched_plugin plugin;

static const char *root(const struct sched_plugin *p)
{
	return p->api->fs_root(p->host);
}

/* The fair class's tunables, read again at most every FAIR_TTL_NS: what
 * scheduler://current and the prompt steps show. */
static const struct fair_state *fair_now(void)
{
	struct sched_plugin *p = &plugin;
	uint64_t now = p->api->now_ns(p->host);

	if (!p->fair_read_ns || now - p->fair_read_ns >= FAIR_TTL_NS) {
		sched_read_fair(root(p), p->debug, &p->fair);
		p->fair_read_ns = now ? now : 1;
	}
	return &p->fair;
}

static void view(struct sched_plugin *p, struct sched_view *v)
{
	v->fair = fair_now();
	sched_read_scx(root(p), true, &v->scx);
	v->kernel = p->kernel;
	v->root = root(p);
	v->debug = p->debug;
}

/* Why the BPF scheduler that ran before went away, as the kernel logged it
 * (the log is read on every change, so an attach skips what came before). */
static void emit_exit_reason(struct sched_plugin *p, struct smcp_json *ev, bool was_ext)
{
	const struct smcp_host_api *api = p->api;
	char reason[256];
	int r = p->kmsg_fd >= 0 ? sched_read_kmsg_reason(p->kmsg_fd, reason, sizeof(reason))
				: p->kmsg_fd;

	if (!was_ext)
		return;
	if (r > 0) {
		api->json_string(ev, "reason", reason);
		return;
	}
	api->json_null(ev, "reason");
	if (r == 0)
		api->json_string(ev, "reason_note", "the kernel log has no sched_ext exit line "
				 "since the last change");
	else
		api->json_string(ev, "reason_note", p->kmsg_fd < 0 ?
				 "/dev/kmsg could not be opened at start-up (needs CAP_SYSLOG "
				 "or kernel.dmesg_restrict = 0)" : "reading /dev/kmsg failed");
}

static void publish_change(struct sched_plugin *p, const struct scx_state *before,
			   const struct scx_state *after)
{
	const struct smcp_host_api *api = p->api;
	struct sched_view from = { .scx = *before, .kernel = p->kernel };
	struct sched_view to = { .scx = *after, .kernel = p->kernel };
	struct smcp_json *ev;

	api->log(p->host, SMCP_LOG_INFO, "scheduler changed: %s (%s) -> %s (%s), sched_ext %s",
		 sched_emit_name(&from), sched_emit_class(&from), sched_emit_name(&to),
		 sched_emit_class(&to), after->state[0] ? after->state : "absent");
	(void)api->notify_resource_updated(p->host, "scheduler://current");
	(void)api->notify_resource_updated(p->host, "stats://scheduler/scx");
	ev = api->event_begin(p->host, "scheduler.changed");
	if (!ev)
		return;
	api->json_string(ev, "from_class", sched_emit_class(&from));
	api->json_string(ev, "from_name", sched_emit_name(&from));
	api->json_string(ev, "to_class", sched_emit_class(&to));
	api->json_string(ev, "to_name", sched_emit_name(&to));
	api->json_string(ev, "sched_ext_state", after->state[0] ? after->state : NULL);
	if (after->enable_seq >= 0)
		api->json_int(ev, "enable_seq", after->enable_seq);
	api->json_string(ev, "change", !before->have_ops ? "attached" :
				       !after->have_ops ? "detached" : "replaced");
	emit_exit_reason(p, ev, before->have_ops);
	(void)api->event_commit(p->host, ev);
}

static void sched_poll(void *data)
{
	struct sched_plugin *p = data;
	struct scx_state now;

	sched_read_scx(root(p), false, &now);
	if (!sched_read_scx_changed(&p->polled, &now))
		return;
	publish_change(p, &p->polled, &now);
	p->polled = now;
}

/* Both resources: a fresh view, written by emit. */
static int read_with(struct sched_plugin *p, struct smcp_result *res,
		     int (*emit)(const struct smcp_host_api *, struct smcp_json *,
				 const struct sched_view *))
{
	struct smcp_json *j = p->api->result_json(res);
	struct sched_view v;

	if (!j)
		return -ENOMEM;
	view(p, &v);
	return emit(p->api, j, &v);
}

static int read_current(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, res, sched_emit_current);
}

static int read_scx(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, res, sched_emit_scx);
}

static int query_stats(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	struct sched_plugin *p = data;
	const char *type = "all";
	struct smcp_json *j;

	(void)p->api->arg_string(args, "stat_type", &type);
	if (catalog_mask(type) < 0) {
		(void)p->api->result_error(res,
					   "stat_type must be one of: all, cpu, llc, node, dsq, "
					   "process, scheduler, system, topology, memory, network, "
					   "events, bpf, profiling (got \"%s\")",
					   type);
		return 0;
	}
	j = p->api->result_json(res);
	return j ? catalog_emit(p->api, p->host, j, type) : -ENOMEM;
}

/* Once per history step: which scheduler is in charge (a gauge of 1 whose
 * labels name it: a switch shows as one series ending and another starting)
 * and, while the kernel has sched_ext, its rejection and event counters. */
static void sched_collect(void *data, uint64_t now_ns)
{
	struct sched_plugin *p = data;
	struct sched_view v = { .scx = p->polled, .kernel = p->kernel };
	const char *lv[2] = { sched_emit_class(&v), sched_emit_name(&v) };
	struct scx_state *st = &p->collected;

	(void)p->api->metric_set(p->host, p->m_info, lv, 1);
	if (!p->polled.supported)
		return;
	sched_read_scx(root(p), true, st);
	if (st->nr_rejected >= 0)
		(void)p->api->metric_set(p->host, p->m_rejected, NULL, (double)st->nr_rejected);
	for (int i = 0; i < st->n_events && i < SCX_MAX_EVENTS; i++) {
		const char *ev[1] = { st->events[i].name };

		(void)p->api->metric_set(p->host, p->m_events, ev, (double)st->events[i].value);
	}
}

static int metrics_init(struct sched_plugin *p)
{
	static const char *const info_labels[] = { "class", "ops" };
	static const char *const event_labels[] = { "event" };
	const struct smcp_host_api *api = p->api;
	const struct smcp_metric_desc d[] = {
		{ .sz = sizeof(d[0]), .name = "scheduler_info",
		  .help = "1 for the scheduler in charge: class sched_ext with the BPF "
			  "scheduler's ops name, or fair with EEVDF/CFS",
		  .unit = "1", .type = SMCP_METRIC_GAUGE, .flags = SMCP_METRIC_CONTEXT,
		  .labels = info_labels, .n_labels = 2 },
		{ .sz = sizeof(d[0]), .name = "scx_nr_rejected_total",
		  .help = "tasks sched_ext rejected (/sys/kernel/sched_ext/nr_rejected)",
		  .unit = "1", .type = SMCP_METRIC_COUNTER },
		{ .sz = sizeof(d[0]), .name = "scx_events_total",
		  .help = "sched_ext event counters (/sys/kernel/sched_ext/root/events)",
		  .unit = "1", .type = SMCP_METRIC_COUNTER, .labels = event_labels,
		  .n_labels = 1 },
	};
	int *ids[] = { &p->m_info, &p->m_rejected, &p->m_events };

	if (!SMCP_API_HAS(api, metric_collect))
		return 0; /* an older host: everything but history */
	for (size_t i = 0; i < SMCP_COUNT(d); i++) {
		int err = smcp_register_metric(p->host, api, &d[i], ids[i]);

		if (err)
			return err;
	}
	sched_collect(p, 0); /* baseline of the counters */
	return api->metric_collect(p->host, sched_collect, p);
}

static const struct smcp_resource_desc sched_resources[] = { {
	SMCP_RESOURCE("scheduler://current"),
	.name = "scheduler",
	.title = "Active scheduler",
	.description = "The scheduler in charge: class sched_ext with the BPF scheduler's "
		       "ops name (state, switch_all, enable_seq, nr_rejected, event "
		       "counters), else the kernel's fair class (EEVDF on 6.6+, CFS "
		       "before) with its tunables. Updated notifications when a "
		       "sched_ext scheduler loads or unloads.",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = read_current,
	.data = &plugin,
}, {
	SMCP_RESOURCE("stats://scheduler/scx"),
	.name = "scheduler_scx",
	.title = "Kernel sched_ext state",
	.description = "The kernel's sched_ext state and event counters "
		       "(/sys/kernel/sched_ext) and its debug dump "
		       "(/sys/kernel/debug/sched/ext) when readable, each with the reason "
		       "when not (no sched_ext, debugfs not mounted, not root, lockdown).",
	.mime_type = "application/json",
	.read = read_scx,
	.data = &plugin,
} };

static const struct smcp_tool_desc sched_tools[] = { {
	SMCP_TOOL("query_stats"),
	.description = "Which resource or tool answers each statistic. Start here.",
	.input_schema = query_stats_input,
	.output_schema = query_stats_output,
	.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
	.call = query_stats,
	.data = &plugin,
} };

static int sched_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct sched_plugin *p = &plugin;
	int err;

	p->host = host;
	p->api = api;
	/* debugfs's top directory is root's alone: hold the sched directory
	 * below it open, and no capability is needed after start-up */
	p->debug_fd = sched_read_debug_dir(root(p), p->debug, sizeof(p->debug));
	/* root's alone too: held open for the exit reasons of BPF schedulers */
	p->kmsg_fd = sched_read_kmsg_open(root(p));
	err = api->add_instructions(host, "scheduler://current names the active scheduler.");
	if (err)
		return err;
	sched_read_kernel_release(root(p), &p->kernel);
	sched_read_scx(root(p), false, &p->polled);
	if (!p->kernel.text[0])
		(void)api->set_status(host, true,
				      "cannot read /proc/sys/kernel/osrelease: the fair class "
				      "(EEVDF or CFS) is unknown");
	err = smcp_register_resources(host, api, sched_resources, SMCP_COUNT(sched_resources));
	if (!err)
		err = smcp_register_tools(host, api, sched_tools, SMCP_COUNT(sched_tools));
	if (!err)
		err = sched_steps_register(host, api, &p->kernel, fair_now);
	if (err)
		return err;
	err = api->timer_add(host, POLL_MS, true, sched_poll, p);
	if (err < 0)
		return err;
	return metrics_init(p);
}

static void sched_fini(struct smcp_host *host)
{
	if (plugin.debug_fd >= 0)
		close(plugin.debug_fd);
	if (plugin.kmsg_fd >= 0)
		close(plugin.kmsg_fd);
	memset(&plugin, 0, sizeof(plugin));
}

SMCP_PLUGIN_DEFINE("scheduler", "0.1.0",
		   "the active scheduler (sched_ext or the fair class) and query_stats",
		   .init = sched_init, .fini = sched_fini)
