/* SPDX-License-Identifier: MIT */
/* The host API table: what a plugin can ask of the core. */
#include "host.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "events.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "privs.h"
#include "registry.h"
#include "result.h"
#include "steps.h"
#include "work.h"

static char *fs_root;
static int fs_root_fd = -1;
static const struct host_hooks *hooks;

const char *plugin_state_name(enum plugin_state s)
{
	switch (s) {
	case PLUGIN_LOADED:
		return "loaded";
	case PLUGIN_DEGRADED:
		return "degraded";
	case PLUGIN_FAILED:
		return "failed";
	case PLUGIN_DISABLED:
		return "disabled";
	case PLUGIN_REFUSED:
		return "refused";
	}
	return "unknown";
}

void host_set_fs_root(const char *root)
{
	free(fs_root);
	fs_root = NULL;
	if (fs_root_fd >= 0)
		close(fs_root_fd);
	fs_root_fd = -1;
	if (!root || !*root)
		return;
	/* opened once and named through /proc/self/fd: once the daemon has left
	 * uid 0 for its own account, a tree below a directory only root may
	 * enter (a checkout in /root) stays readable, as /proc and /sys are.
	 * What changes below it is seen; a new tree renamed over it is not. */
	fs_root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs_root_fd < 0 || asprintf(&fs_root, "/proc/self/fd/%d", fs_root_fd) < 0) {
		if (fs_root_fd >= 0)
			close(fs_root_fd);
		fs_root_fd = -1;
		fs_root = strdup(root);
	}
}

const char *host_fs_root(void)
{
	return fs_root ? fs_root : "";
}

void host_set_hooks(const struct host_hooks *h)
{
	hooks = h;
}

const struct host_hooks *host_get_hooks(void)
{
	return hooks;
}

static int check_reg(struct smcp_host *h, const char *what, const char *name)
{
	if (!h)
		return -EINVAL;
	if (!h->in_init) {
		log_msg(SMCP_LOG_ERROR, h->name, "refused to register %s '%s' outside init()", what,
			name ? name : "?");
		return -EPERM;
	}
	return 0;
}

static int reg_result(struct smcp_host *h, const char *what, const char *name, int err)
{
	if (err)
		log_msg(SMCP_LOG_ERROR, h->name, "cannot register %s '%s': %s", what,
			name ? name : "(null)", strerror(-err));
	return err;
}

static int api_register_resource(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	int err = check_reg(h, "resource", d ? d->uri : NULL);

	return err ? err : reg_result(h, "resource", d ? d->uri : NULL, registry_add_resource(h, d, false));
}

static int api_register_template(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	int err = check_reg(h, "resource template", d ? d->uri : NULL);

	return err ? err : reg_result(h, "resource template", d ? d->uri : NULL, registry_add_resource(h, d, true));
}

static int api_register_tool(struct smcp_host *h, const struct smcp_tool_desc *d)
{
	int err = check_reg(h, "tool", d ? d->name : NULL);

	return err ? err : reg_result(h, "tool", d ? d->name : NULL, registry_add_tool(h, d));
}

static int api_register_prompt(struct smcp_host *h, const struct smcp_prompt_desc *d)
{
	int err = check_reg(h, "prompt", d ? d->name : NULL);

	return err ? err : reg_result(h, "prompt", d ? d->name : NULL, registry_add_prompt(h, d));
}

static int api_add_instructions(struct smcp_host *h, const char *text)
{
	int err = check_reg(h, "instructions", "");

	return err ? err : reg_result(h, "instructions", "", registry_add_instructions(h, text));
}

static int api_add_tool_hint(struct smcp_host *h, const char *glob, const char *text)
{
	int err = check_reg(h, "tool hint", glob);

	return err ? err : reg_result(h, "tool hint", glob, registry_add_tool_hint(h, glob, text));
}

static int api_register_prompt_step(struct smcp_host *h, const struct smcp_prompt_step *d)
{
	const char *topic = d && d->topic ? d->topic : NULL;
	int err = check_reg(h, "prompt step", topic);

	return err ? err : reg_result(h, "prompt step", topic, steps_add(h, d));
}

static int api_register_prompt_completion(struct smcp_host *h, const char *arg,
					  smcp_complete_fn fn, void *data)
{
	int err = check_reg(h, "prompt completion", arg);

	return err ? err : reg_result(h, "prompt completion", arg,
				      steps_add_completer(h, arg, fn, data));
}

__attribute__((format(printf, 3, 4))) static void api_log(struct smcp_host *h,
							  enum smcp_log_level lvl,
							  const char *fmt, ...)
{
	va_list ap;

	if ((unsigned)lvl > SMCP_LOG_EMERGENCY)
		lvl = SMCP_LOG_ERROR;
	va_start(ap, fmt);
	log_vmsg(lvl, h ? h->name : "plugin", fmt, ap);
	va_end(ap);
}

static int api_set_status(struct smcp_host *h, bool degraded, const char *reason)
{
	char *r = NULL;

	if (!h)
		return -EINVAL;
	if (reason && !(r = strdup(reason)))
		return -ENOMEM;
	free(h->status_reason);
	h->status_reason = r;
	h->status_degraded = degraded;
	if (!h->in_init && (h->state == PLUGIN_LOADED || h->state == PLUGIN_DEGRADED)) {
		h->state = degraded ? PLUGIN_DEGRADED : PLUGIN_LOADED;
		free(h->reason);
		h->reason = reason && degraded ? strdup(reason) : NULL;
		if (hooks && hooks->resource_updated)
			hooks->resource_updated("schedmcp://plugins");
	}
	return 0;
}

static const char *cfg_lookup(struct smcp_host *h, const char *key,
			      const struct smcp_config_key **ret_key)
{
	const struct smcp_config_key *k;
	const char *v;

	if (!h || !key || !h->info)
		return NULL;
	k = config_key_find(h->info->config_keys, key);
	if (!k)
		return NULL;
	*ret_key = k;
	v = config_value(h->cfg, key, NULL);
	return v ? v : k->default_value;
}

static int api_config_string(struct smcp_host *h, const char *key, const char **ret)
{
	const struct smcp_config_key *k;
	const char *v = cfg_lookup(h, key, &k);

	if (!v)
		return -ENOENT;
	*ret = v;
	return 0;
}

static int api_config_int(struct smcp_host *h, const char *key, int64_t *ret)
{
	const struct smcp_config_key *k;
	const char *v = cfg_lookup(h, key, &k);

	if (!v)
		return -ENOENT;
	return config_parse_int(v, k->min, k->max, ret);
}

static int api_config_bool(struct smcp_host *h, const char *key, bool *ret)
{
	const struct smcp_config_key *k;
	const char *v = cfg_lookup(h, key, &k);

	if (!v)
		return -ENOENT;
	return config_parse_bool(v, ret);
}

static const char *api_fs_root(struct smcp_host *h)
{
	return host_fs_root();
}

static uint64_t api_now_ns(struct smcp_host *h)
{
	return loop_now_ns();
}

static int api_watch_fd(struct smcp_host *h, int fd, uint32_t events, smcp_fd_fn cb, void *data)
{
	return h ? loop_watch(fd, events, cb, data, h) : -EINVAL;
}

static int api_unwatch_fd(struct smcp_host *h, int fd)
{
	return h ? loop_unwatch(fd) : -EINVAL;
}

static int api_timer_add(struct smcp_host *h, uint64_t interval_ms, bool repeat, smcp_timer_fn cb,
			 void *data)
{
	return h ? loop_timer_add(interval_ms, repeat, cb, data, h) : -EINVAL;
}

static int api_timer_remove(struct smcp_host *h, int id)
{
	return h ? loop_timer_remove(id) : -EINVAL;
}

static int api_notify_resource_updated(struct smcp_host *h, const char *uri)
{
	if (!h || !uri)
		return -EINVAL;
	if (hooks && hooks->resource_updated)
		hooks->resource_updated(uri);
	return 0;
}

static int api_notify_list_changed(struct smcp_host *h)
{
	if (!h)
		return -EINVAL;
	if (hooks && hooks->list_changed)
		hooks->list_changed();
	return 0;
}

static int api_call_progress(struct smcp_call *c, double progress, double total, const char *msg)
{
	if (!c || c->finished)
		return -EINVAL;
	return c->ops->progress ? c->ops->progress(c, progress, total, msg) : 0;
}

static int api_call_complete(struct smcp_call *c, int err)
{
	if (!c || !c->pending || c->finished)
		return -EINVAL;
	c->finished = true;
	c->ops->complete(c, err == SMCP_PENDING ? -EINVAL : err);
	return 0;
}

static int api_call_on_cancel(struct smcp_call *c, smcp_cancel_fn cb, void *data)
{
	if (!c || c->finished)
		return -EINVAL;
	c->cancel_cb = cb;
	c->cancel_data = data;
	return 0;
}

static int api_call_client_request(struct smcp_call *c, const char *method, const char *params_json,
				   uint32_t timeout_ms, smcp_response_fn cb, void *data)
{
	if (!c || c->finished || !method || !cb)
		return -EINVAL;
	if (!c->ops->client_request)
		return -ENOTSUP;
	return c->ops->client_request(c, method, params_json, timeout_ms, cb, data);
}

static bool api_client_has_capability(struct smcp_host *h, const char *name)
{
	return name && hooks && hooks->client_has_capability && hooks->client_has_capability(name);
}

static int api_completion_add(struct smcp_completion *c, const char *value)
{
	cJSON *s;

	if (!c || !value)
		return -EINVAL;
	if (c->count >= COMPLETION_MAX_VALUES) {
		c->more = true;
		return -ENOSPC;
	}
	s = json_string_node(value);
	if (!s)
		return -ENOMEM;
	cJSON_AddItemToArray(c->values, s);
	c->count++;
	return 0;
}

static int api_completion_total(struct smcp_completion *c, uint32_t total)
{
	if (!c)
		return -EINVAL;
	c->total = total;
	if (total > c->count)
		c->more = true;
	return 0;
}

static int api_work_submit(struct smcp_host *h, smcp_work_fn work, smcp_work_done_fn done,
			   void *data)
{
	return h ? work_submit(h, work, done, data) : -EINVAL;
}

const struct smcp_host_api host_api = {
	.sz = sizeof(struct smcp_host_api),
	.register_resource = api_register_resource,
	.register_template = api_register_template,
	.register_tool = api_register_tool,
	.register_prompt = api_register_prompt,
	.log = api_log,
	.set_status = api_set_status,
	.config_string = api_config_string,
	.config_int = api_config_int,
	.config_bool = api_config_bool,
	.fs_root = api_fs_root,
	.now_ns = api_now_ns,
	.watch_fd = api_watch_fd,
	.unwatch_fd = api_unwatch_fd,
	.timer_add = api_timer_add,
	.timer_remove = api_timer_remove,
	.notify_resource_updated = api_notify_resource_updated,
	.notify_list_changed = api_notify_list_changed,
	.event_begin = events_begin,
	.event_commit = events_commit,
	.arg_string = api_arg_string,
	.arg_int = api_arg_int,
	.arg_double = api_arg_double,
	.arg_bool = api_arg_bool,
	.result_text = api_result_text,
	.result_textf = api_result_textf,
	.result_error = api_result_error,
	.result_json = api_result_json,
	.result_blob = api_result_blob,
	.result_image = api_result_image,
	.result_audio = api_result_audio,
	.result_resource_link = api_result_resource_link,
	.result_embedded_text = api_result_embedded_text,
	.result_embedded_blob = api_result_embedded_blob,
	.result_role = api_result_role,
	.result_description = api_result_description,
	.json_object = api_json_object,
	.json_array = api_json_array,
	.json_end = api_json_end,
	.json_string = api_json_string,
	.json_int = api_json_int,
	.json_uint = api_json_uint,
	.json_double = api_json_double,
	.json_bool = api_json_bool,
	.json_null = api_json_null,
	.json_raw = api_json_raw,
	.call_progress = api_call_progress,
	.call_complete = api_call_complete,
	.call_on_cancel = api_call_on_cancel,
	.call_client_request = api_call_client_request,
	.client_has_capability = api_client_has_capability,
	.completion_add = api_completion_add,
	.completion_total = api_completion_total,
	.metric_register = metrics_api_register,
	.metric_set = metrics_api_set,
	.metric_add = metrics_api_add,
	.metric_hist = metrics_api_hist,
	.metric_observe = metrics_api_observe,
	.metric_collect = metrics_api_collect,
	.keep_capabilities = privs_keep_caps,
	.work_submit = api_work_submit,
	.add_instructions = api_add_instructions,
	.add_tool_hint = api_add_tool_hint,
	.metric_window = metrics_api_window,
	.register_prompt_step = api_register_prompt_step,
	.register_prompt_completion = api_register_prompt_completion,
};
