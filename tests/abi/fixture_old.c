/* SPDX-License-Identifier: MIT */
/*
 * A plugin "built against ABI 1.0": it declares its own frozen copies of the
 * 1.0 descriptor layouts and hands the host their sizes, as a plugin compiled
 * with the 1.0 header would after the header grows. The host must keep
 * loading it for every 1.N (it reads only the members a descriptor's sz
 * covers). It also checks the host table's sz before using members, as the
 * header asks. While the header is still 1.0 the frozen and current layouts
 * coincide; the static asserts below say so and must be revisited (not
 * deleted) when 1.1 appends members.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <schedmcp/plugin.h>

struct plugin_info_1_0 {
	size_t sz;
	uint32_t abi_major, abi_minor;
	const char *name, *version, *description;
	const struct smcp_config_key *config_keys;
	int (*init)(struct smcp_host *host, const struct smcp_host_api *api);
	void (*fini)(struct smcp_host *host);
};

struct config_key_1_0 {
	size_t sz;
	const char *name;
	enum smcp_config_type type;
	const char *default_value, *description;
	int64_t min, max;
};

struct resource_desc_1_0 {
	size_t sz;
	const char *uri, *name, *title, *description, *mime_type;
	uint32_t flags;
	smcp_read_fn read;
	smcp_complete_fn complete;
	void *data;
};

struct tool_desc_1_0 {
	size_t sz;
	const char *name, *title, *description, *input_schema, *output_schema;
	uint32_t flags;
	smcp_tool_fn call;
	void *data;
};

struct prompt_desc_1_0 {
	size_t sz;
	const char *name, *title, *description;
	const struct smcp_prompt_arg *args;
	size_t n_args;
	smcp_prompt_fn get;
	smcp_complete_fn complete;
	void *data;
};

/* The 1.0 layouts are a prefix of today's: same offsets for every member. */
_Static_assert(offsetof(struct smcp_plugin_info, fini) == offsetof(struct plugin_info_1_0, fini),
	       "plugin_info 1.0 prefix moved");
_Static_assert(offsetof(struct smcp_tool_desc, data) == offsetof(struct tool_desc_1_0, data),
	       "tool_desc 1.0 prefix moved");
_Static_assert(offsetof(struct smcp_resource_desc, data) == offsetof(struct resource_desc_1_0, data),
	       "resource_desc 1.0 prefix moved");
_Static_assert(offsetof(struct smcp_prompt_desc, data) == offsetof(struct prompt_desc_1_0, data),
	       "prompt_desc 1.0 prefix moved");
_Static_assert(offsetof(struct smcp_config_key, max) == offsetof(struct config_key_1_0, max),
	       "config_key 1.0 prefix moved");

/* the last member of the 1.0 host table this plugin uses */
#define API_1_0_END (offsetof(struct smcp_host_api, completion_total) + sizeof(void (*)(void)))

static const struct smcp_host_api *api;

static const struct config_key_1_0 keys[] = {
	{ sizeof(struct config_key_1_0), "answer", SMCP_CONFIG_INT, "42", "a number", 0, 100 },
	{ sizeof(struct config_key_1_0), "word", SMCP_CONFIG_STRING, "old", "a word", 0, 0 },
	{ 0 },
};

static int read_old(void *data, struct smcp_call *call, const char *uri,
		    const struct smcp_args *vars, struct smcp_result *res)
{
	const char *x = NULL;

	if (vars && api->arg_string(vars, "x", &x) == 0)
		return api->result_textf(res, "old template %s", x);
	return api->result_text(res, "old resource");
}

static int tool_old(void *data, struct smcp_call *call, const struct smcp_args *args,
		    struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);
	const char *word = NULL;
	int64_t answer = 0;

	if (!j)
		return -ENOMEM;
	(void)api->config_int((struct smcp_host *)data, "answer", &answer);
	(void)api->config_string((struct smcp_host *)data, "word", &word);
	api->json_int(j, "answer", answer);
	api->json_string(j, "word", word);
	return 0;
}

static int prompt_old(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	return api->result_text(res, "an old prompt");
}

static int old_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_arg pargs[] = { { "topic", "what to ask", false, SMCP_ARG_STRING } };
	struct resource_desc_1_0 r = { .sz = sizeof(r), .uri = "abi://old", .name = "old",
				       .description = "1.0 resource", .read = read_old };
	struct resource_desc_1_0 t = { .sz = sizeof(t), .uri = "abi://old/{x}", .name = "old_t",
				       .description = "1.0 template", .read = read_old };
	struct tool_desc_1_0 tool = { .sz = sizeof(tool), .name = "abi_old_tool",
				      .description = "1.0 tool: returns its config",
				      .flags = SMCP_TOOL_READ_ONLY, .call = tool_old, .data = host };
	struct prompt_desc_1_0 p = { .sz = sizeof(p), .name = "abi_old_prompt", .description = "1.0 prompt",
				     .args = pargs, .n_args = 1, .get = prompt_old };
	int err;

	if (a->sz < API_1_0_END)
		return -ENOTSUP;
	api = a;
	err = api->register_resource(host, (const struct smcp_resource_desc *)&r);
	if (!err)
		err = api->register_template(host, (const struct smcp_resource_desc *)&t);
	if (!err)
		err = api->register_tool(host, (const struct smcp_tool_desc *)&tool);
	if (!err)
		err = api->register_prompt(host, (const struct smcp_prompt_desc *)&p);
	return err;
}

static const struct plugin_info_1_0 info = {
	.sz = sizeof(info),
	.abi_major = 1,
	.abi_minor = 0,
	.name = "abi_old",
	.version = "1.0.0",
	.description = "built against plugin ABI 1.0 with frozen 1.0 layouts",
	.config_keys = (const struct smcp_config_key *)keys,
	.init = old_init,
};

SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void);
SMCP_EXPORT const struct smcp_plugin_info *SMCP_PLUGIN_ENTRY(void)
{
	return (const struct smcp_plugin_info *)&info;
}
