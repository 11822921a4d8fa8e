/* SPDX-License-Identifier: MIT */
/* The mock host's implementation of the plugin API, over cJSON. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mockhost.h"

struct smcp_host host;
struct reg resources[MAX_REG], tools[MAX_REG];
int n_resources, n_tools;
struct timer timers[MAX_TIMERS];
struct mock_step steps[MAX_REG];
int n_steps;
struct mock_completer completers[MAX_REG];
int n_completers;
static int next_timer_id = 1;

/* ------------------------------------------------------------ registration */

static int add_reg(struct reg *arr, int *n, const char *key, cJSON *desc, smcp_read_fn rd,
		   smcp_tool_fn call, void *data)
{
	if (!host.in_init) {
		cJSON_Delete(desc);
		return -EPERM;
	}
	for (int i = 0; i < *n; i++)
		if (strcmp(arr[i].key, key) == 0) {
			cJSON_Delete(desc);
			return -EEXIST;
		}
	if (*n == MAX_REG) {
		cJSON_Delete(desc);
		return -ENOMEM;
	}
	arr[*n] = (struct reg){ strdup(key), cJSON_PrintUnformatted(desc), rd, call, data };
	cJSON_Delete(desc);
	(*n)++;
	return 0;
}

static int m_register_resource(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	cJSON *o = cJSON_CreateObject();

	if (d->sz < sizeof(*d) || !d->uri || !d->read)
		return -EINVAL;
	cJSON_AddStringToObject(o, "uri", d->uri);
	cJSON_AddStringToObject(o, "name", d->name ? d->name : "");
	cJSON_AddStringToObject(o, "description", d->description ? d->description : "");
	cJSON_AddStringToObject(o, "mimeType", d->mime_type ? d->mime_type : "text/plain");
	cJSON_AddBoolToObject(o, "report", d->flags & SMCP_RESOURCE_REPORT);
	return add_reg(resources, &n_resources, d->uri, o, d->read, NULL, d->data);
}

static int m_register_template(struct smcp_host *h, const struct smcp_resource_desc *d)
{
	return m_register_resource(h, d);
}

static int m_register_tool(struct smcp_host *h, const struct smcp_tool_desc *d)
{
	cJSON *o, *in = NULL, *out = NULL;

	if (d->sz < sizeof(*d) || !d->name || !d->call)
		return -EINVAL;
	if (d->input_schema && !(in = cJSON_Parse(d->input_schema)))
		return -EINVAL;
	if (d->output_schema && !(out = cJSON_Parse(d->output_schema))) {
		cJSON_Delete(in);
		return -EINVAL;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", d->name);
	cJSON_AddStringToObject(o, "description", d->description ? d->description : "");
	cJSON_AddItemToObject(o, "inputSchema", in ? in : cJSON_CreateObject());
	if (out)
		cJSON_AddItemToObject(o, "outputSchema", out);
	cJSON_AddNumberToObject(o, "flags", d->flags);
	return add_reg(tools, &n_tools, d->name, o, NULL, d->call, d->data);
}

static int m_register_prompt(struct smcp_host *h, const struct smcp_prompt_desc *d)
{
	return -ENOTSUP;
}

static void m_log(struct smcp_host *h, enum smcp_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "plugin log[%d]: ", lvl);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int m_set_status(struct smcp_host *h, bool degraded, const char *reason)
{
	h->degraded = degraded;
	snprintf(h->reason, sizeof(h->reason), "%s", reason ? reason : "");
	return 0;
}

static int m_config_string(struct smcp_host *h, const char *k, const char **r)
{
	return -ENOENT;
}

static int m_config_int(struct smcp_host *h, const char *k, int64_t *r)
{
	return -ENOENT;
}

static int m_config_bool(struct smcp_host *h, const char *k, bool *r)
{
	return -ENOENT;
}

static const char *m_fs_root(struct smcp_host *h)
{
	return h->fs_root;
}

static uint64_t m_now_ns(struct smcp_host *h)
{
	return h->now_ns;
}

static int m_watch_fd(struct smcp_host *h, int fd, uint32_t ev, smcp_fd_fn cb, void *data)
{
	return -ENOTSUP;
}

static int m_unwatch_fd(struct smcp_host *h, int fd)
{
	return -ENOENT;
}

static int m_timer_add(struct smcp_host *h, uint64_t ms, bool repeat, smcp_timer_fn cb,
		       void *data)
{
	for (int i = 0; i < MAX_TIMERS; i++) {
		if (timers[i].id)
			continue;
		timers[i] = (struct timer){ next_timer_id++, ms * 1000000ull,
					    h->now_ns + ms * 1000000ull, repeat, cb, data };
		return timers[i].id;
	}
	return -ENOMEM;
}

static int m_timer_remove(struct smcp_host *h, int id)
{
	for (int i = 0; i < MAX_TIMERS; i++)
		if (timers[i].id == id) {
			timers[i].id = 0;
			return 0;
		}
	return -ENOENT;
}

static int m_notify_resource_updated(struct smcp_host *h, const char *uri)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "notify", uri);
	s = cJSON_PrintUnformatted(o);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(o);
	return 0;
}

static int m_notify_list_changed(struct smcp_host *h)
{
	return m_notify_resource_updated(h, "(list)");
}

/* ------------------------------------------------------------ JSON writer */

void writer_init(struct smcp_json *j, cJSON *root)
{
	memset(j, 0, sizeof(*j));
	j->stack[0] = root;
}

static int w_add(struct smcp_json *j, const char *key, cJSON *item, bool push)
{
	cJSON *top;

	if (j->err)
		goto fail;
	top = j->stack[j->depth];
	if (!item || (cJSON_IsObject(top) && !key) || (cJSON_IsArray(top) && key)) {
		j->err = -EINVAL;
		goto fail;
	}
	if (key && cJSON_GetObjectItemCaseSensitive(top, key)) {
		j->err = -EEXIST; /* the real host would produce invalid JSON */
		goto fail;
	}
	if (key)
		cJSON_AddItemToObject(top, key, item);
	else
		cJSON_AddItemToArray(top, item);
	if (push) {
		if (j->depth + 1 >= MAX_DEPTH) {
			j->err = -E2BIG;
			return j->err;
		}
		j->stack[++j->depth] = item;
	}
	return 0;
fail:
	cJSON_Delete(item);
	fprintf(stderr, "mockhost: JSON writer error %d at key %s\n", j->err, key ? key : "-");
	return j->err;
}

static int j_object(struct smcp_json *j, const char *k)
{
	return w_add(j, k, cJSON_CreateObject(), true);
}

static int j_array(struct smcp_json *j, const char *k)
{
	return w_add(j, k, cJSON_CreateArray(), true);
}

static int j_end(struct smcp_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth == 0)
		return j->err = -EINVAL;
	j->depth--;
	return 0;
}

static int j_string(struct smcp_json *j, const char *k, const char *v)
{
	return w_add(j, k, v ? cJSON_CreateString(v) : cJSON_CreateNull(), false);
}

static int j_int(struct smcp_json *j, const char *k, int64_t v)
{
	return w_add(j, k, cJSON_CreateNumber((double)v), false);
}

static int j_uint(struct smcp_json *j, const char *k, uint64_t v)
{
	return w_add(j, k, cJSON_CreateNumber((double)v), false);
}

static int j_double(struct smcp_json *j, const char *k, double v)
{
	return w_add(j, k, v != v ? cJSON_CreateNull() : cJSON_CreateNumber(v), false);
}

static int j_bool(struct smcp_json *j, const char *k, bool v)
{
	return w_add(j, k, cJSON_CreateBool(v), false);
}

static int j_null(struct smcp_json *j, const char *k)
{
	return w_add(j, k, cJSON_CreateNull(), false);
}

static int j_raw(struct smcp_json *j, const char *k, const char *text)
{
	cJSON *v = cJSON_Parse(text);

	return v ? w_add(j, k, v, false) : (j->err = -EINVAL);
}

/* ------------------------------------------------------------ results/args */

static struct smcp_json *m_result_json(struct smcp_result *r)
{
	if (!r->root) {
		r->root = cJSON_CreateObject();
		writer_init(&r->json, r->root);
	}
	return &r->json;
}

static int add_text(struct smcp_result *r, const char *type, const char *text)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "text", text);
	cJSON_AddItemToArray(r->content, o);
	return 0;
}

static int m_result_text(struct smcp_result *r, const char *text)
{
	return add_text(r, "text", text);
}

static int m_result_textf(struct smcp_result *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return add_text(r, "text", buf);
}

static int m_result_error(struct smcp_result *r, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r->is_error = true;
	return add_text(r, "text", buf);
}

static int m_result_unsupported(struct smcp_result *r, const char *m, const void *d, size_t l)
{
	return -ENOTSUP;
}

static int m_result_link(struct smcp_result *r, const char *uri, const char *name,
			 const char *desc, const char *mime)
{
	return add_text(r, "resource_link", uri);
}

static int m_result_embedded_text(struct smcp_result *r, const char *uri, const char *mime,
				  const char *text)
{
	return add_text(r, "resource", text);
}

static int m_result_embedded_blob(struct smcp_result *r, const char *uri, const char *mime,
				  const void *d, size_t l)
{
	return -ENOTSUP;
}

static int m_result_role(struct smcp_result *r, enum smcp_role role)
{
	return -ENOTSUP;
}

static int m_result_description(struct smcp_result *r, const char *text)
{
	return -ENOTSUP;
}

static cJSON *arg_find(const struct smcp_args *a, const char *name)
{
	return a && a->obj ? cJSON_GetObjectItemCaseSensitive(a->obj, name) : NULL;
}

static int m_arg_string(const struct smcp_args *a, const char *name, const char **ret)
{
	cJSON *v = arg_find(a, name);

	if (!v)
		return -ENOENT;
	if (!cJSON_IsString(v))
		return -EINVAL;
	*ret = v->valuestring;
	return 0;
}

static int m_arg_double(const struct smcp_args *a, const char *name, double *ret)
{
	cJSON *v = arg_find(a, name);
	char *end;

	if (!v)
		return -ENOENT;
	if (cJSON_IsNumber(v)) {
		*ret = v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v))
		return -EINVAL;
	*ret = strtod(v->valuestring, &end);
	return *end || end == v->valuestring ? -EINVAL : 0;
}

static int m_arg_int(const struct smcp_args *a, const char *name, int64_t *ret)
{
	double d;
	int err = m_arg_double(a, name, &d);

	if (err)
		return err;
	if (d != (double)(int64_t)d)
		return -EINVAL;
	*ret = (int64_t)d;
	return 0;
}

static int m_arg_bool(const struct smcp_args *a, const char *name, bool *ret)
{
	cJSON *v = arg_find(a, name);

	if (!v)
		return -ENOENT;
	if (!cJSON_IsBool(v))
		return -EINVAL;
	*ret = cJSON_IsTrue(v);
	return 0;
}

static struct smcp_json *m_event_begin(struct smcp_host *h, const char *type)
{
	struct smcp_json *j = calloc(1, sizeof(*j));
	cJSON *root = cJSON_CreateObject();

	writer_init(j, root);
	cJSON_AddStringToObject(root, "event", type);
	return j;
}

static int m_event_commit(struct smcp_host *h, struct smcp_json *j)
{
	char *s = cJSON_PrintUnformatted(j->stack[0]);

	printf("%s\n", s);
	free(s);
	cJSON_Delete(j->stack[0]);
	free(j);
	return 0;
}

/* What the plugin would keep after start-up: nothing is dropped here. */
static int m_keep_capabilities(struct smcp_host *h, uint64_t caps)
{
	return 0;
}

/* Long work: run at once on the calling thread, then done, as if the
 * worker were infinitely fast (unit tests see the same sequence). */
static int m_work_submit(struct smcp_host *h, smcp_work_fn work, smcp_work_done_fn done,
			 void *data)
{
	if (!work || !done)
		return -EINVAL;
	done(data, work(data));
	return 0;
}

/* What a plugin tells the model: checked, nothing more. */
static int m_add_instructions(struct smcp_host *h, const char *text)
{
	return text && *text ? 0 : -EINVAL;
}

static int m_add_tool_hint(struct smcp_host *h, const char *glob, const char *text)
{
	return glob && text ? 0 : -EINVAL;
}

/* Prompt steps: checked as the host checks them (core/steps.c), kept for
 * the "steps" command, which renders them with the arguments it is given. */
static int m_register_prompt_step(struct smcp_host *h, const struct smcp_prompt_step *d)
{
	struct mock_step *s;

	if (!h->in_init)
		return -EPERM;
	if (!d || d->sz < offsetof(struct smcp_prompt_step, data) + sizeof(d->data) ||
	    !d->topic || !*d->topic || strlen(d->topic) > 64 ||
	    strspn(d->topic, "abcdefghijklmnopqrstuvwxyz0123456789_.") != strlen(d->topic) ||
	    (!d->text && !d->render) || (d->text && strlen(d->text) >= SMCP_STEP_TEXT_MAX) ||
	    (d->missing && (strlen(d->missing) > 256 || strstr(d->missing, "://"))))
		return -EINVAL;
	if (n_steps == MAX_REG)
		return -ENOSPC;
	s = &steps[n_steps++];
	*s = (struct mock_step){
		.topic = strdup(d->topic),
		.text = d->text ? strdup(d->text) : NULL,
		.needs = d->needs ? strdup(d->needs) : NULL,
		.missing = d->missing ? strdup(d->missing) : NULL,
		.order = d->order,
		.render = d->render,
		.data = d->data,
	};
	return 0;
}

static int m_register_prompt_completion(struct smcp_host *h, const char *arg,
					smcp_complete_fn fn, void *data)
{
	if (!h->in_init)
		return -EPERM;
	if (!arg || !fn)
		return -EINVAL;
	if (n_completers == MAX_REG)
		return -ENOSPC;
	completers[n_completers++] = (struct mock_completer){ strdup(arg), fn, data };
	return 0;
}

static int m_completion_add(struct smcp_completion *c, const char *value)
{
	if (!c || !value)
		return -EINVAL;
	if (cJSON_GetArraySize(c->values) >= 100)
		return -ENOSPC;
	cJSON_AddItemToArray(c->values, cJSON_CreateString(value));
	return 0;
}

static int m_completion_total(struct smcp_completion *c, uint32_t total)
{
	if (!c)
		return -EINVAL;
	c->total = total;
	return 0;
}

const struct smcp_host_api mock_api = {
	.sz = sizeof(struct smcp_host_api),
	.register_resource = m_register_resource,
	.register_template = m_register_template,
	.register_tool = m_register_tool,
	.register_prompt = m_register_prompt,
	.log = m_log,
	.set_status = m_set_status,
	.config_string = m_config_string,
	.config_int = m_config_int,
	.config_bool = m_config_bool,
	.fs_root = m_fs_root,
	.now_ns = m_now_ns,
	.watch_fd = m_watch_fd,
	.unwatch_fd = m_unwatch_fd,
	.timer_add = m_timer_add,
	.timer_remove = m_timer_remove,
	.notify_resource_updated = m_notify_resource_updated,
	.notify_list_changed = m_notify_list_changed,
	.event_begin = m_event_begin,
	.event_commit = m_event_commit,
	.arg_string = m_arg_string,
	.arg_int = m_arg_int,
	.arg_double = m_arg_double,
	.arg_bool = m_arg_bool,
	.result_text = m_result_text,
	.result_textf = m_result_textf,
	.result_error = m_result_error,
	.result_json = m_result_json,
	.result_blob = m_result_unsupported,
	.result_image = m_result_unsupported,
	.result_audio = m_result_unsupported,
	.result_resource_link = m_result_link,
	.result_embedded_text = m_result_embedded_text,
	.result_embedded_blob = m_result_embedded_blob,
	.result_role = m_result_role,
	.result_description = m_result_description,
	.json_object = j_object,
	.json_array = j_array,
	.json_end = j_end,
	.json_string = j_string,
	.json_int = j_int,
	.json_uint = j_uint,
	.json_double = j_double,
	.json_bool = j_bool,
	.json_null = j_null,
	.json_raw = j_raw,
	.metric_register = m_metric_register,
	.metric_set = m_metric_set,
	.metric_add = m_metric_add,
	.metric_hist = m_metric_hist,
	.metric_observe = m_metric_observe,
	.metric_collect = m_metric_collect,
	.keep_capabilities = m_keep_capabilities,
	.work_submit = m_work_submit,
	.add_instructions = m_add_instructions,
	.add_tool_hint = m_add_tool_hint,
	.metric_window = m_metric_window,
	.completion_add = m_completion_add,
	.completion_total = m_completion_total,
	.register_prompt_step = m_register_prompt_step,
	.register_prompt_completion = m_register_prompt_completion,
};
