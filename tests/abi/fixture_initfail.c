/* SPDX-License-Identifier: MIT */
/*
 * init() registers one of everything (resource, template, tool, prompt, a
 * prompt step whose text comes from a render callback, a completion of the
 * workflow prompts' pid, a repeating 1 ms timer, a one-shot timer, an fd
 * watch on an always-readable eventfd, an event) and then fails. The host
 * must undo all of it before it unloads the code: a timer, watch, render or
 * completer left behind would call into an unmapped library and crash the
 * daemon. fini() logs a marker the test counts (exactly once).
 *
 * Config: [plugin abi_initfail] use_status = false fails without
 * set_status(), so the reason is strerror(EIO).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <schedmcp/plugin.h>

static const struct smcp_host_api *api;
static int efd = -1;

static int read_fail(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	return api->result_text(res, "should never be readable");
}

static int tool_fail(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	return api->result_text(res, "should never be callable");
}

static int prompt_fail(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	return api->result_text(res, "should never be gettable");
}

static int render_fail(void *data, const struct smcp_args *args, char *buf, size_t len)
{
	return snprintf(buf, len, "ABI-FIXTURE-STEP should never be shown");
}

static int complete_fail(void *data, const char *arg, const char *prefix,
			 const struct smcp_args *context, struct smcp_completion *out)
{
	return api->completion_add(out, "ABI-FIXTURE-COMPLETION");
}

static void on_timer(void *data)
{
	api->log(data, SMCP_LOG_ERROR, "ABI-FIXTURE-TIMER-FIRED");
}

static void on_fd(void *data, int fd, uint32_t revents)
{
	api->log(data, SMCP_LOG_ERROR, "ABI-FIXTURE-FD-FIRED");
}

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "use_status", SMCP_CONFIG_BOOL, "true",
	  "explain the failure with set_status()", 0, 0 },
	{ 0 },
};

static int initfail_init(struct smcp_host *host, const struct smcp_host_api *a)
{
	struct smcp_resource_desc r = { .sz = sizeof(r), .uri = "abi://initfail", .name = "initfail",
					.read = read_fail };
	struct smcp_resource_desc t = { .sz = sizeof(t), .uri = "abi://initfail/{x}",
					.name = "initfail_t", .read = read_fail };
	struct smcp_tool_desc tool = { .sz = sizeof(tool), .name = "abi_initfail_tool",
				       .description = "never visible", .call = tool_fail };
	struct smcp_prompt_desc p = { .sz = sizeof(p), .name = "abi_initfail_prompt",
				      .get = prompt_fail };
	struct smcp_prompt_step step = { .sz = sizeof(step), .topic = "sched.current",
					 .render = render_fail };
	struct smcp_json *ev;
	bool use_status = true;
	int err;

	api = a;
	if ((err = api->register_resource(host, &r)) ||
	    (err = api->register_template(host, &t)) ||
	    (err = api->register_tool(host, &tool)) ||
	    (err = api->register_prompt(host, &p)) ||
	    (err = api->register_prompt_step(host, &step)) ||
	    (err = api->register_prompt_completion(host, "pid", complete_fail, NULL)))
		return err == -EIO ? -EINVAL : err; /* a registration failure is not the planned one */
	if (api->timer_add(host, 1, true, on_timer, host) <= 0 ||
	    api->timer_add(host, 50, false, on_timer, host) <= 0)
		return -EINVAL;
	efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || api->watch_fd(host, efd, 1 /* EPOLLIN */, on_fd, host))
		return -EINVAL;
	ev = api->event_begin(host, "abi.initfail");
	if (ev)
		(void)api->event_commit(host, ev);
	(void)api->config_bool(host, "use_status", &use_status);
	if (use_status)
		api->set_status(host, false, "fixture: init fails on purpose after registering everything");
	return -EIO;
}

static void initfail_fini(struct smcp_host *host)
{
	api->log(host, SMCP_LOG_WARNING, "ABI-FIXTURE-FINI-CALLED");
	if (efd >= 0)
		close(efd);
	efd = -1;
}

SMCP_PLUGIN_DEFINE("abi_initfail", "0.0.1", "fails init after registering one of everything",
		   .config_keys = keys, .init = initfail_init, .fini = initfail_fini)
