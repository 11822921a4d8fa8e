/* SPDX-License-Identifier: MIT */
/*
 * topology plugin: topology://info and get_topology.
 *
 * The topology is read from sysfs once at start and again only when the
 * set of online CPUs changes (a 2 s poll of one small file), so answers
 * are built from memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/fsread.h>
#include <schedmcp/plugin.h>

#include "topo_emit.h"
#include "topo_model.h"
#include "topo_steps.h"

#define HOTPLUG_POLL_MS 2000

static const char get_topology_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"detail_level\":{\"type\":\"string\",\"enum\":[\"summary\",\"full\"]},"
	"\"include_offline\":{\"type\":\"boolean\"},"
	"\"cpus\":{\"type\":\"string\"},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":128}}}";

static const char get_topology_output[] =
	"{\"type\":\"object\",\"required\":[\"summary\",\"packages\",\"llcs\",\"nodes\"]}";

struct topo_plugin {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	struct topo_model *model; /* NULL while sysfs cannot be read */
	int read_err;             /* why model is NULL */
	int timer;
};

static struct topo_plugin plugin;

/* Re-read sysfs; on failure keep serving the last good model (stale beats
 * nothing). Returns whether a new model is in place. */
static bool topo_refresh(struct topo_plugin *p)
{
	struct topo_model *m = NULL;
	int err = topo_model_read(p->api->fs_root(p->host), &m);

	if (err) {
		if (err != p->read_err)
			p->api->log(p->host, SMCP_LOG_WARNING, "cannot read CPU topology: %s",
				    strerror(-err));
		p->read_err = err;
		if (!p->model)
			(void)p->api->set_status(p->host, true,
						 "cannot read /sys/devices/system/cpu");
		return false;
	}
	if (!p->model && p->read_err)
		(void)p->api->set_status(p->host, false, NULL);
	topo_model_free(p->model);
	p->model = m;
	p->read_err = 0;
	return true;
}

static void topo_poll(void *data)
{
	struct topo_plugin *p = data;
	char online[sizeof(p->model->online_text)];
	int n = smcp_read_file(p->api->fs_root(p->host), "/sys/devices/system/cpu/online",
			       online, sizeof(online));

	/* unchanged, or still unreadable: nothing to do */
	if (n >= 0 && p->model && strcmp(online, p->model->online_text) == 0)
		return;
	if (n < 0 && !p->model)
		return;
	if (!topo_refresh(p))
		return;
	p->api->log(p->host, SMCP_LOG_INFO, "online CPUs now %s", p->model->online_text);
	(void)p->api->notify_resource_updated(p->host, "topology://info");
}

static int no_model(struct topo_plugin *p, struct smcp_result *res)
{
	(void)p->api->result_error(res, "CPU topology unavailable: cannot read "
				   "%s/sys/devices/system/cpu (%s)",
				   p->api->fs_root(p->host), strerror(-p->read_err));
	return 0;
}

static int topo_info_read(void *data, struct smcp_call *call, const char *uri,
			  const struct smcp_args *vars, struct smcp_result *res)
{
	struct topo_plugin *p = data;
	struct smcp_json *j;

	if (!p->model) {
		no_model(p, res);
		return -EIO;
	}
	j = p->api->result_json(res);
	if (!j)
		return -ENOMEM;
	return topo_emit_info(p->api, j, p->model);
}

static int get_topology(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	struct topo_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	struct topo_query q = { .limit = 64 };
	const char *level = "summary", *cpus = NULL;
	struct smcp_json *j;
	int64_t v;
	int err;

	if (!p->model)
		return no_model(p, res);
	(void)api->arg_string(args, "detail_level", &level);
	if (strcmp(level, "summary") != 0 && strcmp(level, "full") != 0) {
		(void)api->result_error(res,
					"detail_level must be one of: summary, full (got \"%s\")",
					level);
		return 0;
	}
	q.full = strcmp(level, "full") == 0;
	(void)api->arg_bool(args, "include_offline", &q.include_offline);
	if (api->arg_int(args, "offset", &v) == 0)
		q.offset = v < 0 ? 0 : v;
	if (api->arg_int(args, "limit", &v) == 0)
		q.limit = v < 1 ? 1 : v > 128 ? 128 : v;
	if (api->arg_string(args, "cpus", &cpus) == 0) {
		err = cpuset_init(&q.cpus, p->model->nbits);
		if (err)
			return err;
		q.have_cpus = true;
		err = cpuset_parse(&q.cpus, cpus);
		if (err) {
			(void)api->result_error(res,
						"cpus must be a CPU list such as \"0-7,64\" with "
						"ids from 0 to %d (got \"%s\")",
						p->model->nbits - 1, cpus);
			cpuset_free(&q.cpus);
			return 0;
		}
	}
	j = api->result_json(res);
	err = j ? topo_emit_tool(api, j, p->model, &q) : -ENOMEM;
	if (q.have_cpus)
		cpuset_free(&q.cpus);
	return err;
}

static const struct smcp_resource_desc topo_resources[] = { {
	SMCP_RESOURCE("topology://info"),
	.name = "topology",
	.title = "CPU topology",
	.description = "CPUs with their core, package, last-level cache and NUMA node; "
		       "packages, LLCs and nodes with CPU spans, the NUMA distance "
		       "matrix, SMT state and counts. Logical ids are dense like lscpu's; "
		       "kernel_id is what sysfs says. Large machines: first 256 CPUs, "
		       "the rest through get_topology.",
	.mime_type = "application/json",
	.flags = SMCP_RESOURCE_REPORT,
	.read = topo_info_read,
	.data = &plugin,
} };

static const struct smcp_tool_desc topo_tools[] = { {
	SMCP_TOOL("get_topology"),
	.description = "CPUs by core, LLC, package and NUMA node; full adds per-CPU rows.",
	.input_schema = get_topology_input,
	.output_schema = get_topology_output,
	.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
	.call = get_topology,
	.data = &plugin,
} };

static int topo_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct topo_plugin *p = &plugin;
	int err;

	p->host = host;
	p->api = api;
	(void)topo_refresh(p);
	err = api->add_instructions(host, "topology://info maps CPUs to cores, caches and nodes.");
	if (!err)
		err = smcp_register_resources(host, api, topo_resources, SMCP_COUNT(topo_resources));
	if (!err)
		err = smcp_register_tools(host, api, topo_tools, SMCP_COUNT(topo_tools));
	if (!err)
		err = topo_steps_register(host, api);
	if (err)
		return err;
	err = api->timer_add(host, HOTPLUG_POLL_MS, true, topo_poll, p);
	if (err < 0)
		return err;
	p->timer = err;
	return 0;
}

static void topo_fini(struct smcp_host *host)
{
	topo_model_free(plugin.model);
	memset(&plugin, 0, sizeof(plugin));
}

SMCP_PLUGIN_DEFINE("topology", "0.1.0", "CPU, cache and NUMA topology from sysfs",
		   .init = topo_init, .fini = topo_fini)
