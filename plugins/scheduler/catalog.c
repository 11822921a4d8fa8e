/* SPDX-License-Identifier: MIT */
/*
 * query_stats: where each kind of statistic lives (the URIs of SURFACE.md),
 * for clients that can call tools but not list or read resources on their
 * own initiative. Whether a URI is served here, by which plugin, and why
 * not, comes from the host's registry (resource_owner, Since 1.2).
 */
#include <link.h>
#include <stdio.h>
#include <string.h>

#include "sched_emit.h"

enum {
	T_CPU = 1 << 0, T_LLC = 1 << 1, T_NODE = 1 << 2, T_DSQ = 1 << 3, T_PROCESS = 1 << 4,
	T_SCHEDULER = 1 << 5, T_SYSTEM = 1 << 6, T_TOPOLOGY = 1 << 7, T_MEMORY = 1 << 8,
	T_NETWORK = 1 << 9, T_EVENTS = 1 << 10, T_BPF = 1 << 11, T_PROFILING = 1 << 12,
	T_ALL = (1 << 13) - 1,
};

static const struct {
	const char *name;
	unsigned mask;
} types[] = {
	{ "all", T_ALL },	  { "cpu", T_CPU },	      { "llc", T_LLC },
	{ "node", T_NODE },	  { "dsq", T_DSQ },	      { "process", T_PROCESS },
	{ "scheduler", T_SCHEDULER }, { "system", T_SYSTEM }, { "topology", T_TOPOLOGY },
	{ "memory", T_MEMORY },	  { "network", T_NETWORK },   { "events", T_EVENTS },
	{ "bpf", T_BPF },	  { "profiling", T_PROFILING },
};

static const struct entry {
	const char *uri;
	unsigned types;
	const char *provider; /* plugin name when known, else NULL */
	const char *tool;     /* a tool that answers the same with arguments */
	const char *description;
} catalog[] = {
	{ "scheduler://current", T_SCHEDULER, "scheduler", NULL,
	  "the active scheduler: sched_ext state and ops name, else the fair class "
	  "(EEVDF/CFS) with its tunables" },
	{ "stats://scheduler/scx", T_SCHEDULER | T_DSQ, "scheduler", NULL,
	  "kernel sched_ext state, event counters and debug dump" },
	{ "stats://scheduler/raw", T_SCHEDULER, NULL, NULL,
	  "the running scx scheduler's own statistics (scx_stats socket)" },
	{ "topology://info", T_TOPOLOGY | T_CPU | T_LLC | T_NODE, "topology", "get_topology",
	  "CPUs with core, package, LLC, NUMA node; spans and NUMA distances" },
	{ "stats://system/cpu", T_SYSTEM | T_CPU, "sysstat", "get_system_stats",
	  "CPU utilisation split, context switches/s, run queue, load, CPU pressure over "
	  "1 s/10 s/60 s/since start" },
	{ "stats://system/memory", T_SYSTEM | T_MEMORY, "sysstat", "get_system_stats",
	  "meminfo, memory pressure, fault and swap rates" },
	{ "stats://system/network", T_SYSTEM | T_NETWORK, "sysstat", "get_system_stats",
	  "per-interface byte/packet rates" },
	{ "stats://aggregated/cpu", T_CPU, NULL, NULL,
	  "per-CPU context switches, wakeups, migrations, run-queue latency histograms" },
	{ "stats://aggregated/llc", T_LLC, NULL, NULL, "the same per last-level cache" },
	{ "stats://aggregated/node", T_NODE, NULL, NULL, "the same per NUMA node" },
	{ "stats://numa", T_NODE | T_PROCESS | T_MEMORY, "sched_latency", NULL,
	  "per NUMA node: processes with CPU share, memory locality rates (numastat); "
	  "stats://numa/{pid}: a process's pages per node" },
	{ "stats://aggregated/dsq", T_DSQ, NULL, NULL,
	  "per-DSQ enqueues, dispatches, depth and latency (sched_ext)" },
	{ "stats://aggregated/process", T_PROCESS, NULL, NULL,
	  "top processes by switches or latency" },
	{ "stats://aggregated/thread", T_PROCESS, NULL, NULL,
	  "top threads by switches or latency" },
	{ "events://perf", T_EVENTS, NULL, "list_events", "tracepoints by subsystem" },
	{ "events://kprobe", T_EVENTS, NULL, "list_events", "probe-able kernel functions" },
	{ "events://stream", T_EVENTS, NULL, NULL, "live scheduler events" },
	{ "bpf://programs", T_BPF, NULL, NULL, "loaded BPF programs with run-time statistics" },
	{ "profiling://perf/status", T_PROFILING, NULL, "start_perf_profiling",
	  "profiler state" },
	{ "profiling://perf/results", T_PROFILING, NULL, "get_perf_results",
	  "symbolised profile" },
};

struct find {
	char want[64];
	bool found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find *f = data;
	const char *base = strrchr(info->dlpi_name, '/');

	base = base ? base + 1 : info->dlpi_name;
	if (strcmp(base, f->want) == 0) {
		f->found = true;
		return 1;
	}
	return 0;
}

/* Whether PLUGIN.so is mapped in this process (failed plugins are closed). */
static bool plugin_loaded(const char *name)
{
	struct find f = { .found = false };

	if (strcmp(name, "scheduler") == 0)
		return true;
	snprintf(f.want, sizeof(f.want), "%s.so", name);
	dl_iterate_phdr(find_object, &f);
	return f.found;
}

/*
 * Whether e->uri is served here, asked of the host's registry (Since 1.2):
 * the plugin that serves it, available, and why not. An older host: by the
 * name of the plugin known to serve it, when known (null otherwise).
 */
static void emit_availability(const struct smcp_host_api *api, struct smcp_host *h,
			      struct smcp_json *j, const struct entry *e)
{
	const char *plugin = NULL, *why = NULL;

	if (!SMCP_API_HAS(api, resource_owner)) {
		api->json_string(j, "plugin", e->provider);
		if (e->provider)
			api->json_bool(j, "available", plugin_loaded(e->provider));
		else
			api->json_null(j, "available");
		return;
	}
	if (api->resource_owner(h, e->uri, &plugin, &why)) {
		api->json_null(j, "plugin");
		api->json_bool(j, "available", false);
		api->json_string(j, "reason", "no loaded plugin serves it in this daemon "
					      "(schedmcp://plugins says which failed or were "
					      "left out)");
		return;
	}
	api->json_string(j, "plugin", plugin);
	api->json_bool(j, "available", !why);
	if (why)
		api->json_string(j, "reason", why);
}

int catalog_mask(const char *stat_type)
{
	for (size_t i = 0; i < SMCP_COUNT(types); i++)
		if (strcmp(stat_type, types[i].name) == 0)
			return (int)types[i].mask;
	return -1;
}

int catalog_emit(const struct smcp_host_api *api, struct smcp_host *h, struct smcp_json *j,
		 const char *stat_type)
{
	int mask = catalog_mask(stat_type);

	api->json_string(j, "stat_type", stat_type);
	api->json_array(j, "resources");
	for (size_t i = 0; mask > 0 && i < SMCP_COUNT(catalog); i++) {
		const struct entry *e = &catalog[i];

		if (!(e->types & (unsigned)mask))
			continue;
		api->json_object(j, NULL);
		api->json_string(j, "uri", e->uri);
		api->json_string(j, "description", e->description);
		emit_availability(api, h, j, e);
		api->json_string(j, "tool", e->tool);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_string(j, "how_to_read",
			 "read a URI with resources/read; where a tool is named it answers "
			 "the same with arguments (windows, CPU lists, pages)");
	if (!SMCP_API_HAS(api, resource_owner)) {
		api->json_array(j, "notes");
		api->json_string(j, NULL,
				 "available is null for resources of plugins other than "
				 "topology, sysstat and scheduler: resources/list (or "
				 "schedmcp://plugins) says whether this build serves them");
		api->json_end(j);
	}
	return api->json_bool(j, "truncated", false);
}
