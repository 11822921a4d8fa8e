/* SPDX-License-Identifier: MIT */
/*
 * A plugin "built against ABI 1.0": it declares its own frozen copies of the
 * 1.0 descriptor layouts and hands the host their sizes, as a plugin compiled
 * with the 1.0 header would after the header grows. The host must keep
 * loading it for every 1.N (it reads only the members a descriptor's sz
 * covers). It also checks the host table's sz before using members, as the
 * header asks. The frozen layouts are a prefix of the current ones; the
 * static asserts below say so and must be revisited (not deleted) when a
 * minor appends members.
 *
 * Two things 1.2 changed are read by the host as this plugin's declared
 * minor says: its prompt arguments have no sz (1.2 put one in front), and
 * it answers later with 1 (1.2's SMCP_PENDING is far below every -errno).
 * abi_old_prompt (a required integer and an optional string argument) and
 * abi_old_later (pending, finished from a timer) check both.
 *
 * And the two slips of a plugin built against the 1.2 header that declares
 * an older minor: 1.2-layout prompt arguments (abi_old_mixed: refused, with
 * a reason) and 1.2's SMCP_PENDING (abi_old_later_new: works, with a
 * warning, since older hosts would take it for an error).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
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

/* no sz: 1.2 added one in front */
struct prompt_arg_1_0 {
	const char *name, *description;
	bool required;
	enum smcp_arg_type type;
};

struct prompt_desc_1_0 {
	size_t sz;
	const char *name, *title, *description;
	const struct prompt_arg_1_0 *args;
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
/* the header keeps the 1.0 argument layout for plugins that target 1.0 */
_Static_assert(sizeof(struct smcp_prompt_arg_1_0) == sizeof(struct prompt_arg_1_0) &&
		       offsetof(struct smcp_prompt_arg_1_0, type) ==
			       offsetof(struct prompt_arg_1_0, type),
	       "smcp_prompt_arg_1_0 is not the 1.0 layout");

/* SMCP_PENDING as a 1.0 header defined it */
#define PENDING_1_0 1

/* the last member of the 1.0 host table this plugin uses */
#define API_1_0_END (offsetof(struct smcp_host_api, completion_total) + sizeof(void (*)(void)))

static const struct smcp_host_api *api;
static struct smcp_host *self;

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
	const char *topic = NULL;
	int64_t depth = 0;

	if (api->arg_int(args, "depth", &depth))
		return -EINVAL; /* the host checked it is there and an integer */
	if (api->arg_string(args, "topic", &topic) == 0)
		return api->result_textf(res, "an old prompt about %s, depth %lld", topic,
					 (long long)depth);
	return api->result_textf(res, "an old prompt, depth %lld", (long long)depth);
}

/* Answers later, as a 1.0 plugin did: returns 1, completes from a timer. */
struct later {
	struct smcp_call *call;
	struct smcp_result *res;
};

static void later_fire(void *data)
{
	struct later *l = data;

	if (!l->call)
		return;
	(void)api->result_text(l->res, "an old answer, later");
	(void)api->call_complete(l->call, 0);
	l->call = NULL;
}

static void later_cancel(void *data, struct smcp_call *call)
{
	((struct later *)data)->call = NULL;
}

/* data: the value to return for "later" */
static int tool_later(void *data, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res)
{
	static struct later l;
	int id;

	if (!call || l.call)
		return api->result_error(res, "one at a time");
	id = api->timer_add(self, 50, false, later_fire, &l);
	if (id < 0)
		return id;
	l = (struct later){ .call = call, .res = res };
	(void)api->call_on_cancel(call, later_cancel, &l);
	return (int)(intptr_t)data;
}

static int old_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	static const struct prompt_arg_1_0 pargs[] = {
		{ "topic", "what to ask", false, SMCP_ARG_STRING },
		{ "depth", "how deep", true, SMCP_ARG_INT },
	};
	struct resource_desc_1_0 r = { .sz = sizeof(r), .uri = "abi://old", .name = "old",
				       .description = "1.0 resource", .read = read_old };
	struct resource_desc_1_0 t = { .sz = sizeof(t), .uri = "abi://old/{x}", .name = "old_t",
				       .description = "1.0 template", .read = read_old };
	struct tool_desc_1_0 tool = { .sz = sizeof(tool), .name = "abi_old_tool",
				      .description = "1.0 tool: returns its config",
				      .flags = SMCP_TOOL_READ_ONLY, .call = tool_old, .data = host };
	struct tool_desc_1_0 later = { .sz = sizeof(later), .name = "abi_old_later",
				       .description = "1.0 tool: answers later (returns 1)",
				       .call = tool_later, .data = (void *)(intptr_t)PENDING_1_0 };
	struct tool_desc_1_0 later_new = later;
	/* the header's (1.2) argument layout, not this plugin's */
	static const struct smcp_prompt_arg mixed_args[] = {
		{ sizeof(struct smcp_prompt_arg), "x", "1.2 layout", false, SMCP_ARG_STRING },
	};
	struct prompt_desc_1_0 mixed = { .sz = sizeof(mixed), .name = "abi_old_mixed",
					 .description = "1.2 arguments under a 1.0 plugin",
					 .args = (const struct prompt_arg_1_0 *)mixed_args,
					 .n_args = 1, .get = prompt_old };
	struct prompt_desc_1_0 p = { .sz = sizeof(p), .name = "abi_old_prompt", .description = "1.0 prompt",
				     .args = pargs, .n_args = 2, .get = prompt_old };
	int err;

	if (a->sz < API_1_0_END)
		return -ENOTSUP;
	api = a;
	self = host;
	later_new.name = "abi_old_later_new";
	later_new.description = "1.0 tool returning 1.2's SMCP_PENDING";
	later_new.data = (void *)(intptr_t)SMCP_PENDING;
	err = api->register_resource(host, (const struct smcp_resource_desc *)&r);
	if (!err)
		err = api->register_template(host, (const struct smcp_resource_desc *)&t);
	if (!err)
		err = api->register_tool(host, (const struct smcp_tool_desc *)&tool);
	if (!err)
		err = api->register_tool(host, (const struct smcp_tool_desc *)&later);
	if (!err)
		err = api->register_tool(host, (const struct smcp_tool_desc *)&later_new);
	/* refused (-EINVAL, with a reason in the log): not fatal here */
	if (!err && api->register_prompt(host, (const struct smcp_prompt_desc *)&mixed) != -EINVAL)
		err = -EPROTO;
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
