/* SPDX-License-Identifier: MIT */
/*
 * sysstat plugin: windowed CPU, memory and network statistics.
 *
 * Once per step of the core's history (1 s by default) the collect
 * callback samples /proc and publishes the counters as metrics; the last
 * 1 s, 10 s and 60 s are read back from the core's history of them and
 * "since start" is the newest sample less the first. Every answer names
 * its window, never since-boot totals.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/cpulist.h>
#include <schedmcp/plugin.h>

#include "stat_metrics.h"
#include "stat_steps.h"

#define QUERY_DEFAULT_ROWS 64
#define QUERY_MAX_ROWS 128
#define STAT_UNREADABLE "cannot read /proc/stat: CPU utilisation is unavailable"

static const char get_system_stats_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"kind\":{\"type\":\"string\",\"enum\":[\"cpu\",\"memory\",\"network\"]},"
	"\"window\":{\"type\":\"string\",\"enum\":[\"1s\",\"10s\",\"60s\",\"since_start\"]},"
	"\"cpus\":{\"type\":\"string\"},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":128}}}";

static const char get_system_stats_output[] =
	"{\"type\":\"object\",\"required\":[\"kind\"]}";

struct sysstat {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct sampler sampler;
	struct percpu percpu;
	struct win_buf buf;
	bool sampler_ready;
	bool stat_ok; /* last /proc/stat read worked */
};

static struct sysstat plugin;

/* The core's step: one sample, published for the history. */
static void sysstat_collect(void *data, uint64_t now_ns)
{
	struct sysstat *p = data;
	bool ok = sample_take(&p->sampler, now_ns) == 0;

	if (ok != p->stat_ok) {
		p->api->log(p->host, ok ? SMCP_LOG_INFO : SMCP_LOG_WARNING,
			    ok ? "/proc/stat readable again" : "cannot read /proc/stat");
		(void)p->api->set_status(p->host, !ok, ok ? NULL : STAT_UNREADABLE);
	}
	p->stat_ok = ok;
	percpu_push(&p->percpu, p->sampler.prev, p->sampler.newest);
	stat_metrics_publish();
}

static struct emit_ctx ctx(struct sysstat *p, struct smcp_json *j)
{
	return (struct emit_ctx){
		.api = p->api,
		.j = j,
		.s = &p->sampler,
		.pc = &p->percpu,
		.buf = &p->buf,
	};
}

typedef int (*emit_fn)(const struct emit_ctx *c);

static int read_with(struct sysstat *p, struct smcp_result *res, emit_fn fn)
{
	struct smcp_json *j = p->api->result_json(res);
	struct emit_ctx c;

	if (!j)
		return -ENOMEM;
	c = ctx(p, j);
	return fn(&c);
}

static int read_cpu(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, res, stat_cpu_emit_resource);
}

static int read_memory(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, res, stat_memnet_emit_memory);
}

static int read_network(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, res, stat_memnet_emit_network);
}

/* cpus filter as one flag per sampler CPU slot; -EINVAL on bad syntax. */
/* A CPU list from the client into a map of slots (ids beyond are ignored:
 * no such CPU is sampled). -EINVAL/-ERANGE on bad syntax, -ENOMEM. */
static int parse_cpu_filter(const char *text, int slots, uint8_t **ret)
{
	uint8_t *f = calloc((size_t)slots, 1);
	int err;

	if (!f)
		return -ENOMEM;
	err = smcp_cpulist_map(text, f, slots);
	if (err) {
		free(f);
		return err;
	}
	*ret = f;
	return 0;
}

static int get_system_stats(void *data, struct smcp_call *call, const struct smcp_args *args,
			    struct smcp_result *res)
{
	struct sysstat *p = data;
	const struct smcp_host_api *api = p->api;
	struct stat_query q = { .window = WIN_10S, .limit = QUERY_DEFAULT_ROWS };
	const char *kind = "cpu", *window = NULL, *cpus = NULL;
	uint8_t *filter = NULL;
	struct smcp_json *j;
	struct emit_ctx c;
	int64_t v;
	int err;

	(void)api->arg_string(args, "kind", &kind);
	if (api->arg_string(args, "window", &window) == 0) {
		int w = stat_window_by_name(window);

		if (w < 0) {
			(void)api->result_error(res,
						"window must be one of: 1s, 10s, 60s, since_start "
						"(got \"%s\")",
						window);
			return 0;
		}
		q.window = w;
	}
	if (strcmp(kind, "cpu") != 0 && strcmp(kind, "memory") != 0 &&
	    strcmp(kind, "network") != 0) {
		(void)api->result_error(res,
					"kind must be one of: cpu, memory, network (got \"%s\")",
					kind);
		return 0;
	}
	if (api->arg_int(args, "offset", &v) == 0)
		q.offset = v < 0 ? 0 : v;
	if (api->arg_int(args, "limit", &v) == 0)
		q.limit = v < 1 ? 1 : v > QUERY_MAX_ROWS ? QUERY_MAX_ROWS : v;
	if (api->arg_string(args, "cpus", &cpus) == 0) {
		err = parse_cpu_filter(cpus, p->sampler.cpu_slots, &filter);
		if (err == -EINVAL || err == -ERANGE) {
			(void)api->result_error(res,
						"cpus must be a CPU list such as \"0-15,64\" "
						"(got \"%s\")",
						cpus);
			return 0;
		}
		if (err)
			return err;
		q.cpu_filter = filter;
	}
	j = api->result_json(res);
	if (!j) {
		free(filter);
		return -ENOMEM;
	}
	c = ctx(p, j);
	if (strcmp(kind, "cpu") == 0)
		err = stat_cpu_emit_query(&c, &q);
	else if (strcmp(kind, "network") == 0)
		err = stat_memnet_emit_network_query(&c, &q);
	else
		err = api->json_string(j, "kind", "memory") ?: stat_memnet_emit_memory(&c);
	free(filter);
	return err;
}

static const struct smcp_resource_desc sysstat_resources[] = { {
	SMCP_RESOURCE("stats://system/cpu"),
	.name = "system_cpu",
	.title = "CPU utilisation",
	.description = "CPU utilisation over the last 1 s, 10 s, 60 s and since schedmcp started "
		       "(each window named, with the seconds it really covers): user/nice/system/"
		       "irq/softirq/steal/iowait/idle %, context switches/s, forks/s, run-queue "
		       "length, CPU pressure (PSI); load averages; per-CPU split for the 10 s "
		       "window (summarised on machines with more than 32 CPUs).",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = read_cpu,
	.data = &plugin,
}, {
	SMCP_RESOURCE("stats://system/memory"),
	.name = "system_memory",
	.title = "Memory",
	.description = "Memory from /proc/meminfo (kB) with used %, memory pressure (PSI), and "
		       "page-fault and swap rates over 1 s, 10 s, 60 s and since start.",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = read_memory,
	.data = &plugin,
}, {
	SMCP_RESOURCE("stats://system/network"),
	.name = "system_network",
	.title = "Network",
	.description = "Per-interface byte/packet/error/drop rates over 1 s, 10 s, 60 s and since "
		       "start (totals leave out loopback), busiest 32 interfaces listed.",
	.mime_type = "application/json",
	.read = read_network,
	.data = &plugin,
} };

static const struct smcp_tool_desc sysstat_tools[] = { {
	SMCP_TOOL("get_system_stats"),
	.description = "CPU (and per-CPU), memory or network stats over a window.",
	.input_schema = get_system_stats_input,
	.output_schema = get_system_stats_output,
	.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
	.call = get_system_stats,
	.data = &plugin,
} };

static int sysstat_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct sysstat *p = &plugin;
	double step_s;
	int err;

	p->host = host;
	p->api = api;
	err = sample_init(&p->sampler, api->fs_root(host));
	if (err)
		return err;
	p->sampler_ready = true;
	err = stat_window_buf_init(&p->buf, p->sampler.cpu_slots);
	if (err)
		return err;
	p->stat_ok = sample_take(&p->sampler, api->now_ns(host)) == 0;
	if (!p->stat_ok)
		(void)api->set_status(host, true, STAT_UNREADABLE);
	err = smcp_register_resources(host, api, sysstat_resources, SMCP_COUNT(sysstat_resources));
	if (!err)
		err = smcp_register_tools(host, api, sysstat_tools, SMCP_COUNT(sysstat_tools));
	if (!err)
		err = stat_steps_register(host, api);
	if (err)
		return err;
	err = stat_metrics_init(host, api, &p->sampler);
	if (err)
		return err;
	/* the per-CPU windows step with the core's history */
	(void)stat_metrics_history(&step_s);
	err = percpu_init(&p->percpu, p->sampler.cpu_slots, step_s);
	if (err)
		return err;
	return api->metric_collect(host, sysstat_collect, p);
}

static void sysstat_fini(struct smcp_host *host)
{
	stat_metrics_fini();
	percpu_fini(&plugin.percpu);
	stat_window_buf_free(&plugin.buf);
	if (plugin.sampler_ready)
		sample_fini(&plugin.sampler);
	memset(&plugin, 0, sizeof(plugin));
}

SMCP_PLUGIN_DEFINE("sysstat", "0.1.0", "windowed CPU, memory and network statistics from /proc",
		   .init = sysstat_init, .fini = sysstat_fini)
