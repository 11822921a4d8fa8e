/* SPDX-License-Identifier: MIT */
/*
 * A third-party plugin that gives the core's workflow prompts steps of
 * every kind (host API register_prompt_step, register_prompt_completion),
 * for tests/prompts/test_prompts.py. Every text starts with a FIXTURE-
 * marker the test looks for:
 *
 *   FIXTURE-FIRST     topic sched.current, order 5: before the scheduler
 *                     plugin's
 *   FIXTURE-ABSENT    needs a URI nobody registers: left out, missing listed
 *   FIXTURE-PID-N     ${pid}: only when a pid was asked about
 *   FIXTURE-TOP-N     ${top}: the workflow's parameter
 *   FIXTURE-ARGS      render: the arguments it was given, as JSON-ish text
 *   FIXTURE-ZERO      render returns 0: never shown
 *   FIXTURE-FAILS     render returns -ENODATA: left out, missing listed
 *   FIXTURE-LONG      render says it needed more than the buffer: left out
 *   FIXTURE-BALANCE   topic balance.cpu, order 1: the one of alternatives
 *   FIXTURE-NOTE      topic context.task: a paragraph, not a numbered step
 *   FIXTURE-NOWHERE   a topic no workflow lists: accepted, never shown
 *
 * fixture://steps answers the return codes of registrations that must be
 * refused, and of one tried outside init(). [plugin steps_fixture]
 * fail_init = true makes init() fail after registering everything: none of
 * it may then appear. bulk = true adds 40 steps of 2000 bytes (FIXTURE-BULK)
 * under sched.current and latency.cpu: more than a prompt takes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;
static struct smcp_host *self;

/* return codes of the registrations that must fail, in this order */
static const char *const bad_names[] = {
	"bad_topic", "no_text", "long_text", "uri_in_missing", "five_needs", "small_sz",
	"completion_unknown_arg", "completion_twice",
};
static int bad_rc[sizeof(bad_names) / sizeof(bad_names[0])];

static int render_args(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	const char *focus = "-";
	int64_t top = -1, pid = -1;

	(void)api->arg_string(args, "focus_area", &focus);
	(void)api->arg_int(args, "top", &top);
	(void)api->arg_int(args, "pid", &pid);
	return snprintf(buf, len, "FIXTURE-ARGS focus=%s top=%lld pid=%lld", focus,
			(long long)top, (long long)pid);
}

static int render_zero(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	snprintf(buf, len, "FIXTURE-ZERO");
	return 0;
}

static int render_fails(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	snprintf(buf, len, "FIXTURE-FAILS");
	return -ENODATA;
}

static int render_long(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	/* what snprintf returns when it had to cut */
	return snprintf(buf, len, "FIXTURE-LONG %*s", (int)len, "");
}

static int complete_pid(void *data, const char *arg, const char *prefix,
			const struct smcp_args *context, struct smcp_completion *out)
{
	if (strncmp("4194303", prefix, strlen(prefix)) == 0)
		(void)api->completion_add(out, "4194303");
	return api->completion_total(out, 1);
}

static int read_steps(void *data, struct smcp_call *call, const char *uri,
		      const struct smcp_args *vars, struct smcp_result *res)
{
	struct smcp_json *j = api->result_json(res);
	struct smcp_prompt_step late = { .sz = sizeof(late), .topic = "sched.current",
					 .text = "FIXTURE-LATE" };

	if (!j)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		api->json_int(j, bad_names[i], bad_rc[i]);
	api->json_int(j, "outside_init", api->register_prompt_step(self, &late));
	return 0;
}

#define STEP(t, o) .sz = sizeof(struct smcp_prompt_step), .topic = t, .order = o

static int fixture_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	static const struct smcp_prompt_step steps[] = {
		{ STEP("sched.current", 5), .needs = "fixture://steps",
		  .text = "FIXTURE-FIRST: read fixture://steps." },
		{ STEP("sched.current", 6), .needs = "fixture://absent",
		  .missing = "the fixture's absent thing", .text = "FIXTURE-ABSENT" },
		{ STEP("latency.task", 1), .text = "FIXTURE-PID-${pid}" },
		{ STEP("latency.process", 1), .text = "FIXTURE-TOP-${top}" },
		{ STEP("latency.process", 2), .render = render_args },
		{ STEP("sched.current", 7), .render = render_zero },
		{ STEP("sched.current", 8), .missing = "the fixture's failing render",
		  .render = render_fails },
		{ STEP("sched.current", 9), .missing = "the fixture's long render",
		  .render = render_long },
		{ STEP("balance.cpu", 1), .text = "FIXTURE-BALANCE first of the alternatives" },
		{ STEP("context.task", 1), .text = "FIXTURE-NOTE about ${pid}." },
		{ STEP("no.such.topic", 1), .text = "FIXTURE-NOWHERE" },
	};
	char long_text[SMCP_STEP_TEXT_MAX + 1];
	const struct smcp_prompt_step bad[] = {
		{ STEP("Bad Topic", 1), .text = "FIXTURE-BAD" },
		{ STEP("sched.current", 1) },
		{ STEP("sched.current", 1), .text = long_text },
		{ STEP("sched.current", 1), .text = "FIXTURE-BAD", .missing = "see x://y" },
		{ STEP("sched.current", 1), .text = "FIXTURE-BAD", .needs = "a b c d e" },
		{ .sz = offsetof(struct smcp_prompt_step, render), .topic = "sched.current",
		  .text = "FIXTURE-BAD" },
	};
	bool fail = false, bulk = false;
	int err;

	api = a;
	self = host;
	if (!SMCP_API_HAS(api, register_prompt_step)) {
		(void)api->set_status(host, false, "this host has no prompt steps");
		return -ENOTSUP;
	}
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	(void)api->config_bool(host, "fail_init", &fail);
	(void)api->config_bool(host, "bulk", &bulk);
	err = api->register_resource(host, &(struct smcp_resource_desc){
		.sz = sizeof(struct smcp_resource_desc),
		.uri = "fixture://steps",
		.name = "fixture_steps",
		.description = "return codes of the prompt step registrations that must fail",
		.mime_type = "application/json",
		.read = read_steps,
	});
	for (size_t i = 0; !err && i < sizeof(steps) / sizeof(steps[0]); i++)
		err = api->register_prompt_step(host, &steps[i]);
	if (!err)
		err = api->register_prompt_completion(host, "pid", complete_pid, NULL);
	for (int i = 0; !err && bulk && i < 40; i++) {
		char text[2001];
		struct smcp_prompt_step big = { STEP(i % 2 ? "latency.cpu" : "sched.current",
						     100 + i),
						.text = text };

		snprintf(text, sizeof(text), "FIXTURE-BULK-%d %1980s.", i, "");
		err = api->register_prompt_step(host, &big);
	}
	if (err)
		return err;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		bad_rc[i] = api->register_prompt_step(host, &bad[i]);
	bad_rc[6] = api->register_prompt_completion(host, "no_such_argument", complete_pid, NULL);
	bad_rc[7] = api->register_prompt_completion(host, "pid", complete_pid, NULL);
	if (fail) {
		(void)api->set_status(host, false, "fixture: init fails on purpose");
		return -EIO;
	}
	return 0;
}

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "fail_init", SMCP_CONFIG_BOOL, "false",
	  "fail init() after registering the steps", 0, 0 },
	{ sizeof(struct smcp_config_key), "bulk", SMCP_CONFIG_BOOL, "false",
	  "register 40 steps of 2000 bytes", 0, 0 },
	{ 0 },
};

SMCP_PLUGIN_DEFINE("steps_fixture", "0.1.0", "prompt steps of every kind, for the prompts test",
		   .config_keys = keys, .init = fixture_init)
