/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <errno.h>
#include <string.h>

#include "host.h"
#include "loader.h"
#include "loop.h"
#include "registry.h"
#include "smcp-config.h"
#include "work.h"

static const struct smcp_host_api *api;

static unsigned count_owned(const struct smcp_host *p, int kind)
{
	unsigned n = 0;

	if (kind == 0)
		for (size_t i = 0; i < registry.n_resources; i++)
			n += registry.resources[i]->owner == p;
	if (kind == 1)
		for (size_t i = 0; i < registry.n_tools; i++)
			n += registry.tools[i]->owner == p;
	if (kind == 2)
		for (size_t i = 0; i < registry.n_prompts; i++)
			n += registry.prompts[i]->owner == p;
	return n;
}

static void write_one(struct smcp_json *j, const struct smcp_host *p)
{
	api->json_object(j, NULL);
	api->json_string(j, "name", p->name);
	api->json_string(j, "version", p->version);
	api->json_string(j, "state", host_plugin_state_name(p->state));
	api->json_string(j, "reason", p->reason);
	api->json_string(j, "description", p->description);
	api->json_string(j, "path", p->path);
	api->json_uint(j, "resources", count_owned(p, 0));
	api->json_uint(j, "tools", count_owned(p, 1));
	api->json_uint(j, "prompts", count_owned(p, 2));
	api->json_end(j);
}

void status_write_plugins(const struct smcp_host_api *a, struct smcp_json *j)
{
	size_t n;
	struct smcp_host *const *all = loader_plugins(&n);

	api = a;
	api->json_array(j, "plugins");
	write_one(j, loader_core());
	for (size_t i = 0; i < n; i++)
		write_one(j, all[i]);
	api->json_end(j);
}

/* Whether anything held every session (core/loop.h), and what long work
 * went to the workers (core/work.h). */
static void write_loop(struct smcp_json *j)
{
	struct smcp_host *const *all;
	struct loop_stats ls;
	struct work_stats ws;
	const char *who = "core";
	size_t n;

	loop_stats(&ls);
	work_stats(&ws);
	all = loader_plugins(&n);
	for (size_t i = 0; i < n; i++)
		if (all[i] == ls.longest_owner)
			who = all[i]->name;
	api->json_object(j, "loop");
	api->json_uint(j, "callbacks", ls.dispatches);
	api->json_double(j, "longest_ms", (double)ls.longest_ns / 1e6);
	api->json_string(j, "longest_by", who);
	api->json_uint(j, "over_50ms", ls.stalls);
	api->json_uint(j, "work_submitted", ws.submitted);
	api->json_uint(j, "work_completed", ws.completed);
	api->json_uint(j, "work_running", ws.running);
	api->json_uint(j, "work_queued", ws.queued);
	api->json_double(j, "work_longest_ms", (double)ws.longest_ns / 1e6);
	api->json_end(j);
}

static int plugins_read(void *data, struct smcp_call *call, const char *uri,
			const struct smcp_args *vars, struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);
	const struct host_hooks *hooks;

	if (!j)
		return -ENOMEM;
	api->json_string(j, "server_version", SMCP_VERSION);
	api->json_string(j, "plugin_abi", SMCP_ABI_VERSION_STR);
	status_write_plugins(api, j);
	write_loop(j);
	hooks = host_get_hooks();
	if (hooks && hooks->write_session)
		hooks->write_session(api, j);
	return 0;
}

int status_init(struct smcp_host *core, const struct smcp_host_api *a)
{
	struct smcp_resource_desc d = {
		.sz = sizeof(d),
		.uri = "schedmcp://plugins",
		.name = "plugins",
		.title = "Loaded plugins",
		.description = "Every plugin found: version, state (loaded, degraded, failed, "
			       "disabled, refused), the reason when not loaded, and what each "
			       "registered; plus this session's protocol counters.",
		.mime_type = "application/json",
		.flags = SMCP_RESOURCE_REPORT,
		.read = plugins_read,
	};

	api = a;
	return api->register_resource(core, &d);
}
