/* SPDX-License-Identifier: MIT */
/*
 * A plugin that loads and records what the host answered to registrations
 * it should refuse: duplicates (its own and other plugins'), descriptors
 * smaller than the 1.0 layout, a schema that does not parse, and (from its
 * tool, i.e. outside init) any registration at all. The abi_probe_results
 * tool returns the codes as structuredContent, plus its config values.
 *
 * It also holds 1.2's rules to account: prompt arguments carry sz (the
 * host steps by it, so a later minor's larger entries work: abi_probe_wide;
 * a missing or uneven sz is refused), and a handler's positive return value
 * is a success, not "answer later" (abi_probe_positive returns 1).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;
static struct smcp_host *self;

static struct {
	int first, dup_own_tool, dup_core_tool, dup_core_resource, dup_own_prompt, short_tool,
		short_resource, bad_schema, bad_template, null_desc, arg_sz_zero, arg_sz_uneven,
		wide_prompt;
} codes;

static int read_probe(void *data, struct smcp_call *call, const char *uri,
		      const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_text(res, "probe");
}

static int prompt_probe(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	return api->result_text(res, "probe");
}

static int prompt_wide(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	const char *second = "-";
	int64_t first = 0;

	(void)api->arg_int(args, "first", &first);
	(void)api->arg_string(args, "second", &second);
	return api->result_textf(res, "wide %lld %s", (long long)first, second);
}

/* A success that happens to be 1 (a count of one item, a length): before
 * 1.2 that was SMCP_PENDING, and the call never got its answer. */
static int tool_positive(void *data, struct smcp_call *call, const struct smcp_args *args,
			 struct smcp_result *res)
{
	int err = api->result_text(res, "one");

	return err ? err : 1;
}

static int tool_noop(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	return api->result_text(res, "noop");
}

static int tool_results(void *data, struct smcp_call *call, const struct smcp_args *args,
			struct smcp_result *res)
{
	struct smcp_resource_desc r = { .sz = sizeof(r), .uri = "abi://late", .name = "late",
					.read = read_probe };
	struct smcp_resource_desc t = { .sz = sizeof(t), .uri = "abi://late/{x}", .name = "late_t",
					.read = read_probe };
	struct smcp_tool_desc tool = { .sz = sizeof(tool), .name = "abi_late_tool",
				       .description = "registered too late", .call = tool_noop };
	struct smcp_prompt_desc p = { .sz = sizeof(p), .name = "abi_late_prompt", .get = prompt_probe };
	struct smcp_json *j = api->result_json(res);
	const char *greeting = NULL;
	int64_t level = 0;

	if (!j)
		return -ENOMEM;
	api->json_object(j, "init");
	api->json_int(j, "first", codes.first);
	api->json_int(j, "dup_own_tool", codes.dup_own_tool);
	api->json_int(j, "dup_core_tool", codes.dup_core_tool);
	api->json_int(j, "dup_core_resource", codes.dup_core_resource);
	api->json_int(j, "dup_own_prompt", codes.dup_own_prompt);
	api->json_int(j, "short_tool", codes.short_tool);
	api->json_int(j, "short_resource", codes.short_resource);
	api->json_int(j, "bad_schema", codes.bad_schema);
	api->json_int(j, "bad_template", codes.bad_template);
	api->json_int(j, "null_desc", codes.null_desc);
	api->json_int(j, "arg_sz_zero", codes.arg_sz_zero);
	api->json_int(j, "arg_sz_uneven", codes.arg_sz_uneven);
	api->json_int(j, "wide_prompt", codes.wide_prompt);
	api->json_end(j);
	api->json_object(j, "late");
	api->json_int(j, "resource", api->register_resource(self, &r));
	api->json_int(j, "template", api->register_template(self, &t));
	api->json_int(j, "tool", api->register_tool(self, &tool));
	api->json_int(j, "prompt", api->register_prompt(self, &p));
	api->json_end(j);
	api->json_object(j, "config");
	if (api->config_string(self, "greeting", &greeting) == 0)
		api->json_string(j, "greeting", greeting);
	if (api->config_int(self, "level", &level) == 0)
		api->json_int(j, "level", level);
	api->json_int(j, "undeclared", api->config_string(self, "undeclared", &greeting));
	api->json_end(j);
	api->json_object(j, "errno");
	api->json_int(j, "EEXIST", EEXIST);
	api->json_int(j, "EINVAL", EINVAL);
	api->json_int(j, "EPERM", EPERM);
	api->json_int(j, "ENOENT", ENOENT);
	api->json_end(j);
	return 0;
}

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "greeting", SMCP_CONFIG_STRING, "hi", "a word", 0, 0 },
	{ sizeof(struct smcp_config_key), "level", SMCP_CONFIG_INT, "1", "1 to 5", 1, 5 },
	{ 0 },
};

/* An argument as a later minor might lay it out: today's members, then
 * more. The host must step by sz and read the members it knows. */
struct wide_arg {
	struct smcp_prompt_arg a;
	uint64_t later_member;
};

static int register_prompts(struct smcp_host *host)
{
	static const struct wide_arg wide[] = {
		{ { sizeof(struct wide_arg), "first", "a number", true, SMCP_ARG_INT }, 1 },
		{ { sizeof(struct wide_arg), "second", "a word", false, SMCP_ARG_STRING }, 2 },
	};
	static const struct smcp_prompt_arg no_sz[] = {
		{ 0, "x", "sz not set", false, SMCP_ARG_STRING },
	};
	static const struct smcp_prompt_arg uneven[] = {
		{ sizeof(struct smcp_prompt_arg), "x", "right", false, SMCP_ARG_STRING },
		{ sizeof(struct smcp_prompt_arg) + 8, "y", "wrong", false, SMCP_ARG_STRING },
	};
	struct smcp_prompt_desc p = { .sz = sizeof(p), .name = "abi_probe_wide",
				      .description = "arguments of a later layout",
				      .args = &wide[0].a, .n_args = 2, .get = prompt_wide };

	codes.wide_prompt = api->register_prompt(host, &p);
	p.name = "abi_probe_no_sz";
	p.args = no_sz;
	p.n_args = 1;
	codes.arg_sz_zero = api->register_prompt(host, &p);
	p.name = "abi_probe_uneven";
	p.args = uneven;
	p.n_args = 2;
	codes.arg_sz_uneven = api->register_prompt(host, &p);
	return codes.wide_prompt;
}

static int probe_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	struct smcp_tool_desc tool = { .sz = sizeof(tool), .name = "abi_probe_results",
				       .description = "what the host answered to bad registrations",
				       .flags = SMCP_TOOL_READ_ONLY, .call = tool_results };
	struct smcp_tool_desc core_tool = tool;
	struct smcp_resource_desc core_res = { .sz = sizeof(core_res), .uri = "schedmcp://plugins",
					       .name = "mine", .read = read_probe };
	struct smcp_prompt_desc p = { .sz = sizeof(p), .name = "abi_probe_prompt", .get = prompt_probe };
	struct smcp_tool_desc short_tool = tool, bad_schema = tool;
	struct smcp_resource_desc short_res = core_res, bad_tpl = core_res;
	int err;

	api = a;
	self = host;
	codes.first = api->register_tool(host, &tool);
	codes.dup_own_tool = api->register_tool(host, &tool);
	core_tool.name = "poll_events"; /* the core's */
	codes.dup_core_tool = api->register_tool(host, &core_tool);
	codes.dup_core_resource = api->register_resource(host, &core_res);
	err = api->register_prompt(host, &p);
	codes.dup_own_prompt = api->register_prompt(host, &p);
	short_tool.name = "abi_short_tool";
	short_tool.sz = offsetof(struct smcp_tool_desc, data); /* smaller than any ABI's */
	codes.short_tool = api->register_tool(host, &short_tool);
	short_res.uri = "abi://short";
	short_res.sz = sizeof(size_t);
	codes.short_resource = api->register_resource(host, &short_res);
	bad_schema.name = "abi_bad_schema";
	bad_schema.input_schema = "{\"type\":\"object\",\"properties\":";
	codes.bad_schema = api->register_tool(host, &bad_schema);
	bad_tpl.uri = "abi://tpl/{x";
	codes.bad_template = api->register_template(host, &bad_tpl);
	codes.null_desc = api->register_tool(host, NULL);
	if (!err)
		err = register_prompts(host);
	if (!err)
		err = api->register_tool(host, &(struct smcp_tool_desc){
			.sz = sizeof(struct smcp_tool_desc), .name = "abi_probe_positive",
			.description = "returns 1 (a positive success) with the text one",
			.call = tool_positive });
	return codes.first ? codes.first : err;
}

SMCP_PLUGIN_DEFINE("abi_probe", "0.0.1", "records the host's answers to bad registrations",
		   .config_keys = keys, .init = probe_init)
