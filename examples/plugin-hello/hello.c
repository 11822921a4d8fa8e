/* SPDX-License-Identifier: MIT */
/*
 * hello: the smallest plugin that shows every part of the schedmcp SDK.
 *
 *   hello://greeting           a resource (JSON)
 *   hello://greeting/{name}    a resource template, with completion
 *   say_hello                  a tool; with delay_ms it answers later
 *                              (SMCP_PENDING_1_0, a timer, progress, cancel)
 *   greet                      a prompt with an argument
 *   [plugin hello] greeting    a config key
 *   hello.said                 an event in events://stream
 *   hello_said_total           a metric (ABI 1.1 hosts)
 *
 * Build it out of tree against the installed SDK (see meson.build and
 * docs/plugin-guide.md). Everything is static except the entry point.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/plugin.h>

static const struct smcp_config_key hello_config[] = {
	{ sizeof(struct smcp_config_key), "greeting", SMCP_CONFIG_STRING, "Hello",
	  "the word said before each name", 0, 0 },
	{ 0 },
};

static struct {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	const char *greeting; /* borrowed from the host's config, valid until fini */
	uint64_t said;
	uint64_t started_ns;
	int metric; /* > 0 when the host has metrics */
} hello;

static const char *const names[] = { "ada", "alan", "barbara", "dennis", "grace", "ken" };

/* ------------------------------------------------------------ resources */

static int greeting_read(void *data, struct smcp_call *call, const char *uri,
			 const struct smcp_args *vars, struct smcp_result *res)
{
	const struct smcp_host_api *api = hello.api;
	const char *name = "world";
	struct smcp_json *j;

	/* vars is empty for the plain resource, holds {name} for the template */
	(void)api->arg_string(vars, "name", &name);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_string(j, "greeting", hello.greeting);
	api->json_string(j, "name", name);
	api->json_uint(j, "said_total", hello.said);
	api->json_double(j, "up_s", (double)(api->now_ns(hello.host) - hello.started_ns) / 1e9);
	return 0;
}

static int complete_name(void *data, const char *arg_name, const char *prefix,
			 const struct smcp_args *context, struct smcp_completion *out)
{
	uint32_t n = 0;

	for (size_t i = 0; i < SMCP_COUNT(names); i++) {
		if (strncmp(names[i], prefix, strlen(prefix)) != 0)
			continue;
		n++;
		if (hello.api->completion_add(out, names[i]) == -ENOSPC)
			break;
	}
	return hello.api->completion_total(out, n);
}

/* ----------------------------------------------------------------- tool */

struct later {
	struct smcp_call *call;
	struct smcp_result *res;
	char name[64];
	int timer;
};

static void say(struct smcp_result *res, const char *name)
{
	const struct smcp_host_api *api = hello.api;
	struct smcp_json *ev;

	hello.said++;
	(void)api->result_textf(res, "%s, %s!", hello.greeting, name);
	ev = api->event_begin(hello.host, "hello.said");
	if (ev) {
		api->json_string(ev, "name", name);
		(void)api->event_commit(hello.host, ev);
	}
	if (hello.metric > 0)
		(void)api->metric_add(hello.host, hello.metric, NULL, 1);
}

static void later_fire(void *data)
{
	struct later *l = data;
	struct smcp_call *call = l->call;

	say(l->res, l->name);
	free(l);
	/* the call and its result are invalid after this */
	(void)hello.api->call_complete(call, 0);
}

static void later_cancel(void *data, struct smcp_call *call)
{
	struct later *l = data;

	/* the client gave up (or the daemon stops): no answer is sent */
	(void)hello.api->timer_remove(hello.host, l->timer);
	free(l);
}

static const char say_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"name\":{\"type\":\"string\",\"maxLength\":63,\"description\":\"who to greet\"},"
	"\"delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":60000,"
	"\"description\":\"answer after this long (default 0)\"}"
	"},\"required\":[\"name\"],\"additionalProperties\":false}";

static int say_hello(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	const struct smcp_host_api *api = hello.api;
	const char *name = NULL;
	int64_t delay_ms = 0;
	struct later *l;

	/* the host validated args against say_schema: name is there */
	(void)api->arg_string(args, "name", &name);
	(void)api->arg_int(args, "delay_ms", &delay_ms);
	if (strcmp(name, "nobody") == 0)
		return api->result_error(res, "nobody is not a name; try ada or grace");
	if (delay_ms == 0) {
		say(res, name);
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->call = call;
	l->res = res;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->timer = api->timer_add(hello.host, (uint64_t)delay_ms, false, later_fire, l);
	if (l->timer < 0) {
		int err = l->timer;

		free(l);
		return err;
	}
	(void)api->call_on_cancel(call, later_cancel, l);
	(void)api->call_progress(call, 0, 1, "waiting");
	/* this plugin declares ABI 1.0 (hello_info): "later" is 1.0's value,
	 * which 1.0 hosts know and newer hosts read as SMCP_PENDING */
	return SMCP_PENDING_1_0;
}

/* --------------------------------------------------------------- prompt */

static int greet_get(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	const struct smcp_host_api *api = hello.api;
	const char *name = NULL;

	(void)api->arg_string(args, "name", &name);
	if (!name || !*name) {
		(void)api->result_error(res, "name must not be empty");
		return -EINVAL;
	}
	(void)api->result_description(res, "Greet someone");
	(void)api->result_role(res, SMCP_ROLE_USER);
	return api->result_textf(res, "Call say_hello with name \"%s\" and tell me what it said.",
				 name);
}

/* ---------------------------------------------------------------- setup */

static const struct smcp_resource_desc hello_resources[] = { {
	SMCP_RESOURCE("hello://greeting"),
	.name = "greeting",
	.title = "The greeting",
	.description = "The configured greeting and how often say_hello was called.",
	.mime_type = "application/json",
	.read = greeting_read,
}, {
	SMCP_RESOURCE("hello://greeting/{name}"),
	.name = "greeting_for",
	.description = "The greeting for one name.",
	.mime_type = "application/json",
	.read = greeting_read,
	.complete = complete_name,
} };

static const struct smcp_tool_desc hello_tools[] = { {
	SMCP_TOOL("say_hello"),
	.title = "Say hello",
	.description = "Greets name with the configured greeting; with delay_ms, "
		       "answers that much later. Example: {\"name\": \"ada\"}",
	.input_schema = say_schema,
	.flags = SMCP_TOOL_READ_ONLY,
	.call = say_hello,
} };

static int hello_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	/* 1.0's layout, as the abi_minor this plugin declares (hello_info) asks;
	 * a plugin that declares 1.2 uses struct smcp_prompt_arg, with sz */
	static const struct smcp_prompt_arg_1_0 greet_args[] = {
		{ "name", "who to greet", true, SMCP_ARG_STRING },
	};
	int err;

	hello.host = host;
	hello.api = api;
	hello.started_ns = api->now_ns(host);
	if (api->config_string(host, "greeting", &hello.greeting))
		hello.greeting = "Hello";

	/* tables of descriptors, registered in order (SMCP_RESOURCE and
	 * smcp_register_* are of the header: any 1.x host) */
	err = smcp_register_resources(host, api, hello_resources, SMCP_COUNT(hello_resources));
	if (!err)
		err = smcp_register_tools(host, api, hello_tools, SMCP_COUNT(hello_tools));
	if (!err)
		err = api->register_prompt(host, &(struct smcp_prompt_desc){
			.sz = sizeof(struct smcp_prompt_desc),
			.name = "greet",
			.description = "Ask the model to greet someone through say_hello.",
			.args = (const struct smcp_prompt_arg *)greet_args,
			.n_args = 1,
			.get = greet_get,
			.complete = complete_name,
		});
	if (err)
		return err; /* the host undoes what was registered */

	/* Metrics arrived in ABI 1.1: check before use, run on 1.0 hosts too. */
	if (SMCP_API_HAS(api, metric_register)) {
		struct smcp_metric_desc m = {
			.sz = sizeof(m),
			.name = "hello_said_total",
			.help = "greetings said by say_hello",
			.type = SMCP_METRIC_COUNTER,
		};

		hello.metric = api->metric_register(host, &m);
		if (hello.metric < 0)
			api->log(host, SMCP_LOG_WARNING, "no metric: %s", strerror(-hello.metric));
	} else {
		(void)api->set_status(host, true, "this schedmcp has no metrics (ABI 1.0)");
	}
	api->log(host, SMCP_LOG_INFO, "ready, greeting \"%s\"", hello.greeting);
	return 0;
}

static void hello_fini(struct smcp_host *host)
{
	memset(&hello, 0, sizeof(hello));
}

static const struct smcp_plugin_info hello_info = {
	.sz = sizeof(struct smcp_plugin_info),
	.abi_major = SMCP_ABI_MAJOR,
	/* The oldest host API this plugin needs: 1.0 hosts load it too, and what
	 * came later (metrics, 1.1) is checked with SMCP_API_HAS. What it passes
	 * and returns is then 1.0's: prompt arguments without sz, and
	 * SMCP_PENDING_1_0. A plugin that needs newer members unconditionally
	 * uses SMCP_PLUGIN_INFO_INIT instead (and today's layouts). */
	.abi_minor = 0,
	.name = "hello",
	.version = "0.1.0",
	.description = "example plugin: a resource, a template, a tool, a prompt",
	.config_keys = hello_config,
	.init = hello_init,
	.fini = hello_fini,
};

SMCP_PLUGIN_EXPORT(hello_info)
