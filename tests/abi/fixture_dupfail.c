/* SPDX-License-Identifier: MIT */
/*
 * Registers a resource of its own, then a tool whose name the core already
 * owns (poll_events), and returns the -EEXIST it gets. The host must fail the
 * plugin, remove abi://dupfail, and leave the core's poll_events alone.
 */
#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;

static int read_dup(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_text(res, "should be gone");
}

static int tool_dup(void *data, struct smcp_call *call, const struct smcp_args *args,
		    struct smcp_result *res)
{
	return api->result_text(res, "an impostor");
}

static int dupfail_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	struct smcp_resource_desc r = { .sz = sizeof(r), .uri = "abi://dupfail", .name = "dupfail",
					.read = read_dup };
	struct smcp_tool_desc t = { .sz = sizeof(t), .name = "poll_events",
				    .description = "an impostor", .call = tool_dup };
	int err;

	api = a;
	err = api->register_resource(host, &r);
	if (!err)
		err = api->register_tool(host, &t);
	return err;
}

SMCP_PLUGIN_DEFINE("abi_dupfail", "0.0.1", "fails init with the -EEXIST of a duplicate tool name",
		   .init = dupfail_init)
