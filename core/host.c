/* SPDX-License-Identifier: MIT */
/* The host API table: what a plugin can ask of the core. */
#include "host.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
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
#include "util.h"
#include "work.h"

static char *fs_root;
static int fs_root_fd = -1;
static const struct host_hooks *hooks;

static const char *const plugin_state_names[] = {
	[PLUGIN_LOADED] = "loaded",
	[PLUGIN_DEGRADED] = "degraded",
	[PLUGIN_FAILED] = "failed",
	[PLUGIN_DISABLED] = "disabled",
	[PLUGIN_REFUSED] = "refused",
};

const char *host_plugin_state_name(enum plugin_state s)
{
	return UTIL_ENUM_NAME(plugin_state_names, s, "unknown");
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

/*
 * What a plugin passes and returns is read as the ABI minor it declares
 * (plugin.h: abi_minor). The core registers with today's layouts.
 */
static bool built_before_1_2(const struct smcp_host *h)
{
	return h && h->info && h->info->abi_minor < 2;
}

/*
 * Plugins built before ABI 1.2 said "answer later" with 1, which 1.2 made a
 * success like any positive value (plugin.h, SMCP_PENDING). Their read,
 * tool and prompt functions are registered behind a trampoline that turns
 * their 1 into SMCP_PENDING: else the call would be answered at once and
 * freed, and the plugin's call_complete() later would touch freed memory.
 * The trampoline takes the handler's data, so the completion function that
 * shares it is wrapped too. The records live as long as the plugin
 * (host_release).
 */
struct host_compat {
	struct host_compat *next;
	struct smcp_host *owner;
	bool warned; /* about 1.2's SMCP_PENDING from this handler */
	union {
		smcp_read_fn read;
		smcp_tool_fn tool;
		smcp_prompt_fn prompt;
	} fn;
	smcp_complete_fn complete;
	void *data;
};

static int pending_1_0(struct host_compat *hc, int ret)
{
	if (ret == SMCP_PENDING && !hc->warned) {
		/* fine here, an internal error on the 1.0 and 1.1 hosts the
		 * plugin says it loads on: tell its author while it is easy */
		hc->warned = true;
		log_msg(SMCP_LOG_WARNING, hc->owner->name, "declares plugin ABI 1.%u but returned "
			"1.2's SMCP_PENDING, which older hosts take for an error: return "
			"SMCP_PENDING_1_0, or declare 1.2", hc->owner->info->abi_minor);
	}
	return ret == SMCP_PENDING_1_0 ? SMCP_PENDING : ret;
}

static int compat_read(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	struct host_compat *hc = data;

	return pending_1_0(hc, hc->fn.read(hc->data, call, uri, vars, res));
}

static int compat_tool(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	struct host_compat *hc = data;

	return pending_1_0(hc, hc->fn.tool(hc->data, call, args, res));
}

static int compat_prompt(void *data, struct smcp_call *call, const struct smcp_args *args,
			 struct smcp_result *res)
{
	struct host_compat *hc = data;

	return pending_1_0(hc, hc->fn.prompt(hc->data, call, args, res));
}

static int compat_complete(void *data, const char *arg_name, const char *prefix,
			   const struct smcp_args *context, struct smcp_completion *out)
{
	struct host_compat *hc = data;

	return hc->complete(hc->data, arg_name, prefix, context, out);
}

/* A record for h that takes over the handler data *data and, when complete
 * is not NULL, the completion function *complete of a descriptor copy, and
 * points them at itself; the caller moves the handler into fn. */
static struct host_compat *compat_new(struct smcp_host *h, smcp_complete_fn *complete,
				      void **data)
{
	struct host_compat *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return NULL;
	hc->owner = h;
	hc->data = *data;
	*data = hc;
	if (complete) {
		hc->complete = *complete;
		*complete = *complete ? compat_complete : NULL;
	}
	hc->next = h->compat;
	h->compat = hc;
	return hc;
}

void host_release(struct smcp_host *h)
{
	while (h && h->compat) {
		struct host_compat *next = h->compat->next;

		free(h->compat);
		h->compat = next;
	}
}

/* A copy of the descriptor of size sz at d, as much of it as this host
 * knows; the copy keeps d's sz, so the registry reads just as much of it. */
#define DESC_COPY(dst, d)                                                                          \
	do {                                                                                       \
		memset(&(dst), 0, sizeof(dst));                                                    \
		memcpy(&(dst), (d), (d)->sz < sizeof(dst) ? (d)->sz : sizeof(dst));                \
	} while (0)

/* The registry's size check, so that only descriptors it would take are
 * copied and wrapped. */
#define DESC_WHOLE(d, type) ((d) && (d)->sz >= offsetof(type, data) + sizeof((d)->data))

static int register_resource(struct smcp_host *h, const struct smcp_resource_desc *d,
			     bool is_template)
{
	const char *what = is_template ? "resource template" : "resource";
	struct smcp_resource_desc copy;
	struct host_compat *hc;
	int err = check_reg(h, what, d ? d->uri : NULL);

	if (err)
		return err;
	if (built_before_1_2(h) && DESC_WHOLE(d, struct smcp_resource_desc) && d->read) {
		DESC_COPY(copy, d);
		hc = compat_new(h, &copy.complete, &copy.data);
		if (!hc)
			return -ENOMEM;
		hc->fn.read = copy.read;
		copy.read = compat_read;
		d = &copy;
	}
	return reg_result(h, what, d ? d->uri : NULL, registry_add_resource(h, d, is_template));
}

static int api_register_resource(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	return register_resource(h, d, false);
}

static int api_register_template(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	return register_resource(h, d, true);
}

static int api_register_tool(struct smcp_host *h, const struct smcp_tool_desc *d)
{
	struct smcp_tool_desc copy;
	struct host_compat *hc;
	int err = check_reg(h, "tool", d ? d->name : NULL);

	if (err)
		return err;
	if (built_before_1_2(h) && DESC_WHOLE(d, struct smcp_tool_desc) && d->call) {
		DESC_COPY(copy, d);
		hc = compat_new(h, NULL, &copy.data);
		if (!hc)
			return -ENOMEM;
		hc->fn.tool = copy.call;
		copy.call = compat_tool;
		d = &copy;
	}
	return reg_result(h, "tool", d ? d->name : NULL, registry_add_tool(h, d));
}

#define PROMPT_MAX_ARGS 64

/*
 * The prompt's arguments in today's layout, into out (n_args entries): the
 * 1.0 layout (no sz) from a plugin built before 1.2; else entries stepped
 * by args[0].sz, which must cover every 1.2 member and be the same in each.
 */
static int prompt_args_read(const struct smcp_host *h, const struct smcp_prompt_desc *d,
			    struct smcp_prompt_arg *out)
{
	const size_t min = offsetof(struct smcp_prompt_arg, type) + sizeof(out->type);
	const char *at = (const char *)d->args;
	size_t step;

	if (built_before_1_2(h)) {
		const struct smcp_prompt_arg_1_0 *old = (const void *)d->args;

		for (size_t i = 0; i < d->n_args; i++) {
			/* the 1.0 layout starts with a pointer, and no object
			 * lives in the first page: this is 1.2's sz, from a
			 * plugin built against the 1.2 header that declares an
			 * older minor (plugin.h, struct smcp_prompt_arg) */
			if ((uintptr_t)old[i].name < 4096) {
				log_msg(SMCP_LOG_ERROR, h->name, "prompt '%s': declares plugin ABI "
					"1.%u, whose prompt arguments have no sz, but args[%zu] "
					"starts with %zu: pass struct smcp_prompt_arg_1_0 entries, "
					"or declare 1.2", d->name ? d->name : "(null)",
					h->info->abi_minor, i, (size_t)(uintptr_t)old[i].name);
				return -EINVAL;
			}
			out[i] = (struct smcp_prompt_arg){
				.sz = sizeof(*out),
				.name = old[i].name,
				.description = old[i].description,
				.required = old[i].required,
				.type = old[i].type,
			};
		}
		return 0;
	}
	step = d->args[0].sz;
	if (step < min || step > 4096 || step % _Alignof(struct smcp_prompt_arg)) {
		log_msg(SMCP_LOG_ERROR, h->name, "prompt '%s': args[0].sz is %zu: set every "
			"argument's sz to sizeof(struct smcp_prompt_arg) (plugin ABI 1.2)",
			d->name ? d->name : "(null)", step);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->n_args; i++) {
		const struct smcp_prompt_arg *a = (const void *)(at + i * step);

		if (a->sz != step) {
			log_msg(SMCP_LOG_ERROR, h->name, "prompt '%s': args[%zu].sz is %zu, "
				"args[0].sz %zu: set every argument's sz to "
				"sizeof(struct smcp_prompt_arg)", d->name ? d->name : "(null)", i,
				a->sz, step);
			return -EINVAL;
		}
		out[i] = (struct smcp_prompt_arg){
			.sz = sizeof(*out),
			.name = a->name,
			.description = a->description,
			.required = a->required,
			.type = a->type,
		};
	}
	return 0;
}

static int api_register_prompt(struct smcp_host *h, const struct smcp_prompt_desc *d)
{
	struct smcp_prompt_arg args[PROMPT_MAX_ARGS];
	struct smcp_prompt_desc copy;
	struct host_compat *hc;
	int err = check_reg(h, "prompt", d ? d->name : NULL);

	if (err)
		return err;
	/* what the registry would refuse anyway goes to it as it is */
	if (DESC_WHOLE(d, struct smcp_prompt_desc) && d->get && d->n_args &&
	    d->n_args <= PROMPT_MAX_ARGS && d->args) {
		DESC_COPY(copy, d);
		err = prompt_args_read(h, d, args);
		if (err)
			return reg_result(h, "prompt", d->name, err);
		copy.args = args;
		d = &copy;
	}
	if (built_before_1_2(h) && DESC_WHOLE(d, struct smcp_prompt_desc) && d->get) {
		if (d != &copy)
			DESC_COPY(copy, d);
		hc = compat_new(h, &copy.complete, &copy.data);
		if (!hc)
			return -ENOMEM;
		hc->fn.prompt = copy.get;
		copy.get = compat_prompt;
		d = &copy;
	}
	return reg_result(h, "prompt", d ? d->name : NULL, registry_add_prompt(h, d));
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

static int api_resource_owner(struct smcp_host *h, const char *uri, const char **ret_plugin,
			      const char **ret_reason)
{
	struct reg_resource *r;
	cJSON *vars = NULL;

	if (!uri || !ret_plugin || !ret_reason)
		return -EINVAL;
	r = registry_find_resource(uri);
	if (!r)
		r = registry_match_template(uri, &vars);
	cJSON_Delete(vars);
	if (!r || !r->owner)
		return -ENOENT;
	*ret_plugin = r->owner->name;
	*ret_reason = r->owner->state == PLUGIN_DEGRADED
			      ? (r->owner->reason ? r->owner->reason : r->owner->status_reason)
			      : NULL;
	if (r->owner->state == PLUGIN_DEGRADED && !*ret_reason)
		*ret_reason = "degraded";
	return 0;
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
	if (err == SMCP_PENDING || (built_before_1_2(c->owner) && err == SMCP_PENDING_1_0))
		err = -EINVAL;
	c->ops->complete(c, err);
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
	s = result_json_string_node(value);
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

static int api_work_submit_paced(struct smcp_host *h, smcp_work_fn work,
				 smcp_work_done_fn done, void *data)
{
	return h ? work_submit_paced(h, work, done, data) : -EINVAL;
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
	.arg_string = result_api_arg_string,
	.arg_int = result_api_arg_int,
	.arg_double = result_api_arg_double,
	.arg_bool = result_api_arg_bool,
	.result_text = result_api_result_text,
	.result_textf = result_api_result_textf,
	.result_error = result_api_result_error,
	.result_json = result_api_result_json,
	.result_blob = result_api_result_blob,
	.result_image = result_api_result_image,
	.result_audio = result_api_result_audio,
	.result_resource_link = result_api_result_resource_link,
	.result_embedded_text = result_api_result_embedded_text,
	.result_embedded_blob = result_api_result_embedded_blob,
	.result_role = result_api_result_role,
	.result_description = result_api_result_description,
	.json_object = result_api_json_object,
	.json_array = result_api_json_array,
	.json_end = result_api_json_end,
	.json_string = result_api_json_string,
	.json_int = result_api_json_int,
	.json_uint = result_api_json_uint,
	.json_double = result_api_json_double,
	.json_bool = result_api_json_bool,
	.json_null = result_api_json_null,
	.json_raw = result_api_json_raw,
	.call_progress = api_call_progress,
	.call_complete = api_call_complete,
	.call_on_cancel = api_call_on_cancel,
	.call_client_request = api_call_client_request,
	.client_has_capability = api_client_has_capability,
	.completion_add = api_completion_add,
	.completion_total = api_completion_total,
	.metric_register = metrics_api_register,
	.metric_set = metrics_publish_set,
	.metric_add = metrics_publish_add,
	.metric_hist = metrics_publish_hist,
	.metric_observe = metrics_publish_observe,
	.metric_collect = metrics_api_collect,
	.keep_capabilities = privs_keep_caps,
	.work_submit = api_work_submit,
	.add_instructions = api_add_instructions,
	.add_tool_hint = api_add_tool_hint,
	.metric_window = metrics_query_window,
	.register_prompt_step = api_register_prompt_step,
	.register_prompt_completion = api_register_prompt_completion,
	.json_item_begin = result_api_json_item_begin,
	.json_item_end = result_api_json_item_end,
	.resource_owner = api_resource_owner,
	.work_submit_paced = api_work_submit_paced,
};
