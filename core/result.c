/* SPDX-License-Identifier: MIT */
#include "result.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Largest single text or binary item a plugin may add (before base64). */
#define MAX_ITEM_BYTES (8u << 20)

void result_init(struct smcp_result *r, enum result_kind kind, const char *uri,
		 const char *mime_type)
{
	*r = (struct smcp_result){ .kind = kind };
	r->content = cJSON_CreateArray();
	if (uri)
		r->uri = strdup(uri);
	if (mime_type)
		r->mime_type = strdup(mime_type);
	if (!r->content || (uri && !r->uri) || (mime_type && !r->mime_type))
		r->err = -ENOMEM;
}

void result_release(struct smcp_result *r)
{
	cJSON_Delete(r->content);
	json_writer_release(&r->json);
	free(r->uri);
	free(r->mime_type);
	free(r->error);
	free(r->description);
	*r = (struct smcp_result){ 0 };
}

int result_status(const struct smcp_result *r)
{
	if (r->err)
		return r->err;
	if (r->has_json && r->json.err)
		return r->json.err;
	if (r->has_json && r->json.depth != 1)
		return -EINVAL; /* an object or array left open */
	return 0;
}

cJSON *result_take_json(struct smcp_result *r)
{
	cJSON *root;

	if (!r->has_json)
		return NULL;
	root = r->json.root;
	r->json.root = NULL;
	r->has_json = false;
	return root;
}

cJSON *json_string_node(const char *s)
{
	int err;
	char *fixed = utf8_sanitize(s, &err);
	cJSON *n;

	if (err)
		return NULL;
	n = cJSON_CreateString(fixed ? fixed : s);
	free(fixed);
	return n;
}

/* Append one content item, wrapping it as a message for prompts. */
static int add_item(struct smcp_result *r, cJSON *item)
{
	if (!item) {
		r->err = r->err ? r->err : -ENOMEM;
		return -ENOMEM;
	}
	if (r->err) {
		cJSON_Delete(item);
		return r->err;
	}
	if (r->kind == RESULT_PROMPT) {
		cJSON *msg = cJSON_CreateObject();

		if (!msg) {
			cJSON_Delete(item);
			return r->err = -ENOMEM;
		}
		cJSON_AddStringToObject(msg, "role", r->role == SMCP_ROLE_ASSISTANT ? "assistant" : "user");
		cJSON_AddItemToObject(msg, "content", item);
		item = msg;
	}
	cJSON_AddItemToArray(r->content, item);
	return 0;
}

static cJSON *typed(const char *type)
{
	cJSON *o = cJSON_CreateObject();

	if (o && !cJSON_AddStringToObject(o, "type", type)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool add_str(cJSON *o, const char *key, const char *val)
{
	cJSON *s;

	if (!val)
		return true;
	s = json_string_node(val);
	if (!s)
		return false;
	cJSON_AddItemToObject(o, key, s);
	return true;
}

static bool add_b64(cJSON *o, const char *key, const void *data, size_t len)
{
	char *b = base64_encode(data, len);
	cJSON *s;

	if (!b)
		return false;
	s = cJSON_CreateString(b);
	free(b);
	if (!s)
		return false;
	cJSON_AddItemToObject(o, key, s);
	return true;
}

int api_result_text(struct smcp_result *r, const char *text)
{
	cJSON *item;

	if (!r || !text)
		return -EINVAL;
	if (strlen(text) > MAX_ITEM_BYTES)
		return -E2BIG;
	if (r->kind == RESULT_READ) {
		item = cJSON_CreateObject();
		if (item && !(add_str(item, "uri", r->uri) && add_str(item, "mimeType", r->mime_type) &&
			      add_str(item, "text", text))) {
			cJSON_Delete(item);
			item = NULL;
		}
	} else {
		item = typed("text");
		if (item && !add_str(item, "text", text)) {
			cJSON_Delete(item);
			item = NULL;
		}
	}
	return add_item(r, item);
}

__attribute__((format(printf, 2, 0))) static int vtextf(struct smcp_result *r, const char *fmt,
						     va_list ap, char **ret)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return r->err = -ENOMEM;
	*ret = s;
	return 0;
}

int api_result_textf(struct smcp_result *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int err;

	if (!r || !fmt)
		return -EINVAL;
	va_start(ap, fmt);
	err = vtextf(r, fmt, ap, &s);
	va_end(ap);
	if (err)
		return err;
	err = api_result_text(r, s);
	free(s);
	return err;
}

int api_result_error(struct smcp_result *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int err;

	if (!r || !fmt)
		return -EINVAL;
	va_start(ap, fmt);
	err = vtextf(r, fmt, ap, &s);
	va_end(ap);
	if (err)
		return err;
	r->is_error = true;
	if (!r->error)
		r->error = strdup(s);
	/* a failed read or prompt is answered with a protocol error, not content */
	err = r->kind == RESULT_TOOL ? api_result_text(r, s) : 0;
	free(s);
	return err;
}

struct smcp_json *api_result_json(struct smcp_result *r)
{
	if (!r)
		return NULL;
	if (r->has_json)
		return &r->json;
	if (json_writer_init(&r->json)) {
		r->err = -ENOMEM;
		return NULL;
	}
	r->has_json = true;
	return &r->json;
}

static int add_binary(struct smcp_result *r, const char *type, const char *mime, const void *data,
		      size_t len)
{
	cJSON *item;

	if (!r || !mime || (!data && len))
		return -EINVAL;
	if (len > MAX_ITEM_BYTES)
		return -E2BIG;
	if (r->kind == RESULT_READ) {
		item = cJSON_CreateObject();
		if (item && !(add_str(item, "uri", r->uri) && add_str(item, "mimeType", mime) &&
			      add_b64(item, "blob", data, len))) {
			cJSON_Delete(item);
			item = NULL;
		}
		return add_item(r, item);
	}
	item = typed(type);
	if (item && !(add_b64(item, "data", data, len) && add_str(item, "mimeType", mime))) {
		cJSON_Delete(item);
		item = NULL;
	}
	return add_item(r, item);
}

int api_result_blob(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	if (r && r->kind != RESULT_READ)
		return -EINVAL;
	return add_binary(r, "blob", mime, data, len);
}

int api_result_image(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	return add_binary(r, "image", mime, data, len);
}

int api_result_audio(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	return add_binary(r, "audio", mime, data, len);
}

int api_result_resource_link(struct smcp_result *r, const char *uri, const char *name,
			     const char *description, const char *mime)
{
	cJSON *item;

	if (!r || !uri || !name || r->kind == RESULT_READ)
		return -EINVAL;
	item = typed("resource_link");
	if (item && !(add_str(item, "uri", uri) && add_str(item, "name", name) &&
		      add_str(item, "description", description) && add_str(item, "mimeType", mime))) {
		cJSON_Delete(item);
		item = NULL;
	}
	return add_item(r, item);
}

static int add_embedded(struct smcp_result *r, const char *uri, const char *mime, const char *text,
			const void *data, size_t len)
{
	cJSON *item, *res;
	bool ok;

	if (!r || !uri || r->kind == RESULT_READ)
		return -EINVAL;
	if ((text && strlen(text) > MAX_ITEM_BYTES) || len > MAX_ITEM_BYTES)
		return -E2BIG;
	item = typed("resource");
	res = cJSON_CreateObject();
	ok = item && res && add_str(res, "uri", uri) && add_str(res, "mimeType", mime) &&
	     (text ? add_str(res, "text", text) : add_b64(res, "blob", data, len));
	if (!ok) {
		cJSON_Delete(item);
		cJSON_Delete(res);
		return add_item(r, NULL);
	}
	cJSON_AddItemToObject(item, "resource", res);
	return add_item(r, item);
}

int api_result_embedded_text(struct smcp_result *r, const char *uri, const char *mime,
			     const char *text)
{
	if (!text)
		return -EINVAL;
	return add_embedded(r, uri, mime, text, NULL, 0);
}

int api_result_embedded_blob(struct smcp_result *r, const char *uri, const char *mime,
			     const void *data, size_t len)
{
	if (!data && len)
		return -EINVAL;
	return add_embedded(r, uri, mime, NULL, data ? data : "", len);
}

int api_result_role(struct smcp_result *r, enum smcp_role role)
{
	if (!r || r->kind != RESULT_PROMPT || (role != SMCP_ROLE_USER && role != SMCP_ROLE_ASSISTANT))
		return -EINVAL;
	r->role = role;
	return 0;
}

int api_result_description(struct smcp_result *r, const char *text)
{
	char *d;

	if (!r || !text)
		return -EINVAL;
	d = strdup(text);
	if (!d)
		return r->err = -ENOMEM;
	free(r->description);
	r->description = d;
	return 0;
}

/* ------------------------------------------------------------- JSON writer */

int json_writer_init(struct smcp_json *j)
{
	*j = (struct smcp_json){ 0 };
	j->root = cJSON_CreateObject();
	if (!j->root)
		return j->err = -ENOMEM;
	j->stack[0] = j->root;
	j->depth = 1;
	return 0;
}

void json_writer_release(struct smcp_json *j)
{
	cJSON_Delete(j->root);
	j->root = NULL;
	j->depth = 0;
}

/* Attach item under key in the current container, checking key usage. */
static int put(struct smcp_json *j, const char *key, cJSON *item)
{
	cJSON *top;

	if (!j) {
		cJSON_Delete(item);
		return -EINVAL;
	}
	if (j->err) {
		cJSON_Delete(item);
		return j->err;
	}
	if (!item)
		return j->err = -ENOMEM;
	if (j->depth < 1) {
		cJSON_Delete(item);
		return j->err = -EINVAL;
	}
	top = j->stack[j->depth - 1];
	if (cJSON_IsObject(top)) {
		int err = 0;
		char *fixed;

		if (!key) {
			cJSON_Delete(item);
			return j->err = -EINVAL;
		}
		fixed = utf8_sanitize(key, &err);
		if (err) {
			cJSON_Delete(item);
			return j->err = err;
		}
		cJSON_AddItemToObject(top, fixed ? fixed : key, item);
		free(fixed);
	} else {
		if (key) {
			cJSON_Delete(item);
			return j->err = -EINVAL;
		}
		cJSON_AddItemToArray(top, item);
	}
	return 0;
}

static int open_container(struct smcp_json *j, const char *key, cJSON *c)
{
	int err;

	if (!j) {
		cJSON_Delete(c);
		return -EINVAL;
	}
	if (j->depth >= JSON_MAX_DEPTH) {
		cJSON_Delete(c);
		return j->err = -E2BIG;
	}
	err = put(j, key, c);
	if (err)
		return err;
	j->stack[j->depth++] = c;
	return 0;
}

int api_json_object(struct smcp_json *j, const char *key)
{
	return open_container(j, key, cJSON_CreateObject());
}

int api_json_array(struct smcp_json *j, const char *key)
{
	return open_container(j, key, cJSON_CreateArray());
}

int api_json_end(struct smcp_json *j)
{
	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	if (j->depth <= 1)
		return j->err = -EINVAL; /* the root closes itself */
	j->depth--;
	return 0;
}

int api_json_string(struct smcp_json *j, const char *key, const char *val)
{
	return put(j, key, val ? json_string_node(val) : cJSON_CreateNull());
}

/*
 * Integers are stored as raw JSON text: cJSON prints every number with
 * "%1.15g" and re-parses it to check the round trip, which was a sixth of
 * the cost of a read. Integers print exactly, with no 2^53 limit. Readers
 * in the core use json_number() below for both forms.
 */
static cJSON *int_node(bool neg, uint64_t mag)
{
	char buf[24], *p = buf + sizeof(buf);

	*--p = '\0';
	do {
		*--p = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	if (neg)
		*--p = '-';
	return cJSON_CreateRaw(p);
}

int api_json_int(struct smcp_json *j, const char *key, int64_t val)
{
	return put(j, key, int_node(val < 0, val < 0 ? 0 - (uint64_t)val : (uint64_t)val));
}

int api_json_uint(struct smcp_json *j, const char *key, uint64_t val)
{
	return put(j, key, int_node(false, val));
}

bool json_number(const cJSON *v, double *ret)
{
	if (cJSON_IsNumber(v)) {
		*ret = v->valuedouble;
		return true;
	}
	if (cJSON_IsRaw(v) && v->valuestring &&
	    (v->valuestring[0] == '-' || (v->valuestring[0] >= '0' && v->valuestring[0] <= '9'))) {
		*ret = strtod(v->valuestring, NULL);
		return true;
	}
	return false;
}

int api_json_double(struct smcp_json *j, const char *key, double val)
{
	return put(j, key, isfinite(val) ? cJSON_CreateNumber(val) : cJSON_CreateNull());
}

int api_json_bool(struct smcp_json *j, const char *key, bool val)
{
	return put(j, key, cJSON_CreateBool(val));
}

int api_json_null(struct smcp_json *j, const char *key)
{
	return put(j, key, cJSON_CreateNull());
}

int api_json_raw(struct smcp_json *j, const char *key, const char *json_text)
{
	cJSON *v;

	if (!j || !json_text)
		return -EINVAL;
	if (!utf8_valid(json_text, strlen(json_text)))
		return -EINVAL;
	v = cJSON_Parse(json_text);
	if (!v)
		return -EINVAL; /* not sticky: the caller can fall back */
	return put(j, key, v);
}

/* ---------------------------------------------------------------- args */

static const cJSON *arg_find(const struct smcp_args *a, const char *name)
{
	const cJSON *cur;
	char buf[256];
	char *seg, *save = NULL;

	if (!a || !a->obj || !name)
		return NULL;
	cur = cJSON_GetObjectItemCaseSensitive(a->obj, name);
	if (cur || !strchr(name, '.') || strlen(name) >= sizeof(buf))
		return cur;
	strcpy(buf, name);
	cur = a->obj;
	for (seg = strtok_r(buf, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save))
		cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, seg) : NULL;
	return cur;
}

int api_arg_string(const struct smcp_args *a, const char *name, const char **ret)
{
	const cJSON *v = arg_find(a, name);

	if (!v)
		return -ENOENT;
	if (!cJSON_IsString(v))
		return -EINVAL;
	*ret = v->valuestring;
	return 0;
}

static int arg_number(const struct smcp_args *a, const char *name, double *ret)
{
	const cJSON *v = arg_find(a, name);
	char *end;
	double d;

	if (!v)
		return -ENOENT;
	if (cJSON_IsNumber(v)) {
		*ret = v->valuedouble;
		return 0;
	}
	if (!cJSON_IsString(v) || !*v->valuestring)
		return -EINVAL;
	d = strtod(v->valuestring, &end);
	if (*end || !isfinite(d))
		return -EINVAL;
	*ret = d;
	return 0;
}

int api_arg_int(const struct smcp_args *a, const char *name, int64_t *ret)
{
	double d;
	int err = arg_number(a, name, &d);

	if (err)
		return err;
	if (d != floor(d) || fabs(d) > 9007199254740991.0)
		return -EINVAL;
	*ret = (int64_t)d;
	return 0;
}

int api_arg_double(const struct smcp_args *a, const char *name, double *ret)
{
	return arg_number(a, name, ret);
}

int api_arg_bool(const struct smcp_args *a, const char *name, bool *ret)
{
	const cJSON *v = arg_find(a, name);

	if (!v)
		return -ENOENT;
	if (cJSON_IsBool(v)) {
		*ret = cJSON_IsTrue(v);
		return 0;
	}
	if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false"))) {
		*ret = v->valuestring[0] == 't';
		return 0;
	}
	return -EINVAL;
}
