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
	*r = (struct smcp_result){ .kind = kind, .limit = JBUF_NO_LIMIT };
	jbuf_init(&r->items, JBUF_NO_LIMIT);
	if (uri)
		r->uri = strdup(uri);
	if (mime_type)
		r->mime_type = strdup(mime_type);
	if ((uri && !r->uri) || (mime_type && !r->mime_type))
		r->err = -ENOMEM;
}

void result_release(struct smcp_result *r)
{
	jbuf_free(&r->items);
	result_json_writer_release(&r->json);
	free(r->uri);
	free(r->mime_type);
	free(r->error);
	free(r->description);
	*r = (struct smcp_result){ 0 };
}

void result_set_limit(struct smcp_result *r, size_t limit)
{
	r->limit = limit;
	r->items.limit = limit;
}

void result_set_page(struct smcp_result *r, size_t limit, unsigned plain, unsigned escaped)
{
	r->page = (struct json_page){ .limit = limit, .plain = (uint8_t)plain,
				      .escaped = (uint8_t)escaped, .items = &r->items };
}

void result_json_into(struct smcp_result *r, struct jbuf *out)
{
	r->json_out = out;
}

int result_status(const struct smcp_result *r)
{
	if (r->err)
		return r->err;
	if (r->items.err)
		return r->items.err;
	if (r->has_json && r->json.err)
		return r->json.err;
	if (r->has_json && r->json.depth > 1)
		return -EINVAL; /* an object or array left open */
	return 0;
}

void result_json_end(struct smcp_result *r)
{
	if (r->has_json && r->json.depth == 1)
		(void)result_json_writer_close(&r->json);
}

const struct jbuf *result_json_text(struct smcp_result *r)
{
	if (!r->has_json)
		return NULL;
	result_json_end(r);
	return r->json.out;
}

static cJSON *parse_buf(const struct jbuf *b)
{
	return b->p && !b->err && !jbuf_over(b) ? cJSON_ParseWithLength(b->p, b->len) : NULL;
}

cJSON *result_take_json(struct smcp_result *r)
{
	cJSON *root;

	if (!r->has_json || r->json.out != &r->json.own)
		return NULL;
	root = result_json_writer_parse(&r->json);
	result_json_writer_release(&r->json);
	r->has_json = false;
	return root;
}

cJSON *result_take_items(struct smcp_result *r)
{
	struct jbuf b;
	cJSON *arr;

	jbuf_init(&b, JBUF_NO_LIMIT);
	jbuf_put(&b, "[", 1);
	jbuf_put(&b, r->items.p, r->items.len);
	jbuf_put(&b, "]", 1);
	arr = parse_buf(&b);
	jbuf_free(&b);
	return arr ? arr : cJSON_CreateArray();
}

cJSON *result_json_string_node(const char *s)
{
	int err;
	char *fixed = util_utf8_sanitize(s, &err);
	cJSON *n;

	if (err)
		return NULL;
	n = cJSON_CreateString(fixed ? fixed : s);
	free(fixed);
	return n;
}

/* ----------------------------------------------------------- content items */

/*
 * Start one content item in r->items: the comma before it, and for prompts
 * the message it is wrapped in. NULL (and nothing written) when the result
 * already failed.
 */
static struct jbuf *item_begin(struct smcp_result *r)
{
	struct jbuf *b = &r->items;

	if (r->err)
		return NULL;
	if (r->n_items)
		jbuf_put(b, ",", 1);
	if (r->kind == RESULT_PROMPT) {
		jbuf_puts(b, r->role == SMCP_ROLE_ASSISTANT ? "{\"role\":\"assistant\",\"content\":"
							    : "{\"role\":\"user\",\"content\":");
	}
	return b;
}

static int item_end(struct smcp_result *r)
{
	struct jbuf *b = &r->items;

	if (r->kind == RESULT_PROMPT)
		jbuf_put(b, "}", 1);
	r->n_items++;
	if (b->err)
		r->err = b->err;
	return r->err;
}

/* ,"key":"val" (nothing when val is NULL); first: no comma. */
static void item_str(struct jbuf *b, const char *key, const char *val, bool first)
{
	if (!val)
		return;
	if (!first)
		jbuf_put(b, ",", 1);
	jbuf_strz(b, key);
	jbuf_put(b, ":", 1);
	jbuf_strz(b, val);
}

static void item_b64(struct jbuf *b, const char *key, const void *data, size_t len)
{
	jbuf_put(b, ",", 1);
	jbuf_strz(b, key);
	jbuf_put(b, ":", 1);
	jbuf_base64(b, data, len);
}

int result_api_result_text(struct smcp_result *r, const char *text)
{
	struct jbuf *b;

	if (!r || !text)
		return -EINVAL;
	if (strlen(text) > MAX_ITEM_BYTES)
		return -E2BIG;
	b = item_begin(r);
	if (!b)
		return r->err;
	if (r->kind == RESULT_READ) {
		jbuf_put(b, "{", 1);
		item_str(b, "uri", r->uri, true);
		item_str(b, "mimeType", r->mime_type, !r->uri);
		item_str(b, "text", text, !r->uri && !r->mime_type);
	} else {
		jbuf_puts(b, "{\"type\":\"text\"");
		item_str(b, "text", text, false);
	}
	jbuf_put(b, "}", 1);
	return item_end(r);
}

/* textf and error: the formatted text as content; an error also marks the
 * result failed, and a failed read or prompt is answered with a protocol
 * error, not content. */
__attribute__((format(printf, 3, 0))) static int vtext(struct smcp_result *r, bool is_error,
						    const char *fmt, va_list ap)
{
	char *s = NULL;
	int err = 0;

	if (!r || !fmt)
		return -EINVAL;
	if (vasprintf(&s, fmt, ap) < 0)
		return r->err = -ENOMEM;
	if (is_error) {
		r->is_error = true;
		if (!r->error)
			r->error = strdup(s);
	}
	if (!is_error || r->kind == RESULT_TOOL)
		err = result_api_result_text(r, s);
	free(s);
	return err;
}

int result_api_result_textf(struct smcp_result *r, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vtext(r, false, fmt, ap);
	va_end(ap);
	return err;
}

int result_api_result_error(struct smcp_result *r, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vtext(r, true, fmt, ap);
	va_end(ap);
	return err;
}

struct smcp_json *result_api_result_json(struct smcp_result *r)
{
	int err;

	if (!r)
		return NULL;
	if (r->has_json)
		return &r->json;
	jbuf_init(&r->json.own, r->limit);
	err = result_json_writer_open(&r->json, r->json_out ? r->json_out : &r->json.own);
	r->json.page = r->page;
	/* what out held before the body (a read's envelope) was not escaped by us */
	r->json.page.scanned = r->json.out->len;
	if (err) {
		r->err = -ENOMEM;
		return NULL;
	}
	r->has_json = true;
	return &r->json;
}

static int add_binary(struct smcp_result *r, const char *type, const char *mime, const void *data,
		      size_t len)
{
	struct jbuf *b;

	if (!r || !mime || (!data && len))
		return -EINVAL;
	if (len > MAX_ITEM_BYTES)
		return -E2BIG;
	b = item_begin(r);
	if (!b)
		return r->err;
	jbuf_put(b, "{", 1);
	if (r->kind == RESULT_READ) {
		item_str(b, "uri", r->uri, true);
		item_str(b, "mimeType", mime, !r->uri);
		item_b64(b, "blob", data, len);
	} else {
		item_str(b, "type", type, true);
		item_b64(b, "data", data, len);
		item_str(b, "mimeType", mime, false);
	}
	jbuf_put(b, "}", 1);
	return item_end(r);
}

int result_api_result_blob(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	if (r && r->kind != RESULT_READ)
		return -EINVAL;
	return add_binary(r, "blob", mime, data, len);
}

int result_api_result_image(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	return add_binary(r, "image", mime, data, len);
}

int result_api_result_audio(struct smcp_result *r, const char *mime, const void *data, size_t len)
{
	return add_binary(r, "audio", mime, data, len);
}

int result_api_result_resource_link(struct smcp_result *r, const char *uri, const char *name,
				    const char *description, const char *mime)
{
	struct jbuf *b;

	if (!r || !uri || !name || r->kind == RESULT_READ)
		return -EINVAL;
	b = item_begin(r);
	if (!b)
		return r->err;
	jbuf_puts(b, "{\"type\":\"resource_link\"");
	item_str(b, "uri", uri, false);
	item_str(b, "name", name, false);
	item_str(b, "description", description, false);
	item_str(b, "mimeType", mime, false);
	jbuf_put(b, "}", 1);
	return item_end(r);
}

static int add_embedded(struct smcp_result *r, const char *uri, const char *mime, const char *text,
			const void *data, size_t len)
{
	struct jbuf *b;

	if (!r || !uri || r->kind == RESULT_READ)
		return -EINVAL;
	if ((text && strlen(text) > MAX_ITEM_BYTES) || len > MAX_ITEM_BYTES)
		return -E2BIG;
	b = item_begin(r);
	if (!b)
		return r->err;
	jbuf_puts(b, "{\"type\":\"resource\",\"resource\":{");
	item_str(b, "uri", uri, true);
	item_str(b, "mimeType", mime, false);
	if (text)
		item_str(b, "text", text, false);
	else
		item_b64(b, "blob", data, len);
	jbuf_put(b, "}}", 2);
	return item_end(r);
}

int result_api_result_embedded_text(struct smcp_result *r, const char *uri, const char *mime,
				    const char *text)
{
	if (!text)
		return -EINVAL;
	return add_embedded(r, uri, mime, text, NULL, 0);
}

int result_api_result_embedded_blob(struct smcp_result *r, const char *uri, const char *mime,
				    const void *data, size_t len)
{
	if (!data && len)
		return -EINVAL;
	return add_embedded(r, uri, mime, NULL, data ? data : "", len);
}

int result_api_result_role(struct smcp_result *r, enum smcp_role role)
{
	if (!r || r->kind != RESULT_PROMPT || (role != SMCP_ROLE_USER && role != SMCP_ROLE_ASSISTANT))
		return -EINVAL;
	r->role = role;
	return 0;
}

int result_api_result_description(struct smcp_result *r, const char *text)
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

int result_json_writer_open(struct smcp_json *j, struct jbuf *out)
{
	/* own is left as it is: out may be it */
	j->out = out;
	j->page = (struct json_page){ 0 };
	j->depth = 1;
	j->obj = j->empty = 1;
	jbuf_put(out, "{", 1);
	return j->err = out->err;
}

int result_json_writer_init(struct smcp_json *j)
{
	jbuf_init(&j->own, JBUF_NO_LIMIT);
	return result_json_writer_open(j, &j->own);
}

int result_json_writer_close(struct smcp_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth != 1)
		return j->err = -EINVAL;
	jbuf_put(j->out, "}", 1);
	j->depth = 0;
	return j->err = j->out->err;
}

cJSON *result_json_writer_parse(struct smcp_json *j)
{
	if (j->depth == 1 && result_json_writer_close(j))
		return NULL;
	if (j->err || j->depth)
		return NULL;
	return parse_buf(j->out);
}

char *result_json_writer_pretty(struct smcp_json *j)
{
	cJSON *root = result_json_writer_parse(j);
	char *text = root ? cJSON_Print(root) : NULL;

	cJSON_Delete(root);
	return text;
}

void result_json_writer_release(struct smcp_json *j)
{
	jbuf_free(&j->own);
	j->out = NULL;
	j->depth = 0;
}

/* Write key (and the comma before it) for a new member of the current
 * container, checking that keys are used in objects only. */
static int member(struct smcp_json *j, const char *key)
{
	uint64_t bit;

	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	if (j->depth < 1)
		return j->err = -EINVAL;
	bit = 1ull << (j->depth - 1);
	if (!(j->obj & bit) != !key)
		return j->err = -EINVAL; /* a key outside an object, or none inside one */
	if (j->empty & bit)
		j->empty &= ~bit;
	else
		jbuf_put(j->out, ",", 1);
	if (key) {
		jbuf_strz(j->out, key);
		jbuf_put(j->out, ":", 1);
	}
	return 0;
}

static int written(struct smcp_json *j)
{
	if (j->out->err)
		j->err = j->out->err;
	return j->err;
}

static int open_container(struct smcp_json *j, const char *key, bool obj)
{
	uint64_t bit;
	int err;

	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	if (j->depth >= JSON_MAX_DEPTH)
		return j->err = -E2BIG;
	err = member(j, key);
	if (err)
		return err;
	bit = 1ull << j->depth++;
	j->empty |= bit;
	if (obj)
		j->obj |= bit;
	else
		j->obj &= ~bit;
	jbuf_put(j->out, obj ? "{" : "[", 1);
	return written(j);
}

int result_api_json_object(struct smcp_json *j, const char *key)
{
	return open_container(j, key, true);
}

int result_api_json_array(struct smcp_json *j, const char *key)
{
	return open_container(j, key, false);
}

int result_api_json_end(struct smcp_json *j)
{
	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	if (j->depth <= 1)
		return j->err = -EINVAL; /* the root closes itself */
	j->depth--;
	jbuf_put(j->out, j->obj & (1ull << j->depth) ? "}" : "]", 1);
	return written(j);
}

int result_api_json_string(struct smcp_json *j, const char *key, const char *val)
{
	int err = member(j, key);

	if (err)
		return err;
	if (val)
		jbuf_strz(j->out, val);
	else
		jbuf_put(j->out, "null", 4);
	return written(j);
}

int result_api_json_int(struct smcp_json *j, const char *key, int64_t val)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_int(j->out, val);
	return written(j);
}

int result_api_json_uint(struct smcp_json *j, const char *key, uint64_t val)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_uint(j->out, val);
	return written(j);
}

/*
 * A measured value as a model should read it: at most 4 significant digits
 * (1741, not 1740.6666666666667). An integral value is a count or an id
 * that came as a double: exact. The one place the host API's doubles are
 * rounded; numbers of JSON the core copies (arguments, ids) are not.
 */
static double measured(double v)
{
	char buf[32];

	if (!isfinite(v) || v == trunc(v))
		return v;
	snprintf(buf, sizeof(buf), "%.4g", v);
	return strtod(buf, NULL);
}

int result_api_json_double(struct smcp_json *j, const char *key, double val)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_double(j->out, measured(val)); /* null when not finite */
	return written(j);
}

int result_api_json_bool(struct smcp_json *j, const char *key, bool val)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_put(j->out, val ? "true" : "false", val ? 4 : 5);
	return written(j);
}

int result_api_json_null(struct smcp_json *j, const char *key)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_put(j->out, "null", 4);
	return written(j);
}

/* Checked, not parsed: the text goes into the answer as it is (less the
 * whitespace between tokens), once. */
int result_api_json_raw(struct smcp_json *j, const char *key, const char *json_text)
{
	size_t len, total;
	uint64_t empty;
	int err;

	if (!j || !json_text)
		return -EINVAL;
	if (j->err)
		return j->err;
	len = j->out->len;
	total = j->out->total;
	empty = j->empty;
	err = member(j, key);
	if (err)
		return err;
	if (jbuf_raw(j->out, json_text, strlen(json_text),
		     JSON_RAW_MAX_DEPTH)) {
		/* not sticky: the caller can fall back */
		jbuf_rewind(j->out, len, total);
		j->empty = empty;
		return -EINVAL;
	}
	return written(j);
}

int result_api_json_item_begin(struct smcp_json *j)
{
	struct json_page *pg;

	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	pg = &j->page;
	pg->mark_len = j->out->len;
	pg->mark_total = j->out->total;
	pg->mark_quotes = pg->quotes;
	pg->mark_empty = j->empty;
	pg->mark_depth = j->depth;
	return 0;
}

/* The answer's size as it will be sent, were the body to end here with
 * tail more bytes; SIZE_MAX when out already dropped bytes. */
static size_t page_projected(struct smcp_json *j, size_t tail)
{
	struct json_page *pg = &j->page;
	const struct jbuf *o = j->out;
	size_t body;

	if (jbuf_over(o))
		return SIZE_MAX;
	if (pg->escaped) {
		/* each '"' and '\\' of the body costs one byte more in its text copy */
		for (; pg->scanned < o->len; pg->scanned++)
			pg->quotes += o->p[pg->scanned] == '"' || o->p[pg->scanned] == '\\';
	}
	body = o->total;
	return pg->plain * (body + tail) + pg->escaped * (body + pg->quotes + 2 * tail) +
	       (pg->items ? pg->items->total : 0);
}

int result_api_json_item_end(struct smcp_json *j, size_t tail_bytes)
{
	struct json_page *pg;

	if (!j)
		return -EINVAL;
	if (j->err)
		return j->err;
	pg = &j->page;
	if (!pg->mark_depth || pg->mark_depth != j->depth)
		return j->err = -EINVAL;
	pg->mark_depth = 0;
	if (!pg->limit || !pg->kept ||
	    (tail_bytes < pg->limit && page_projected(j, tail_bytes) <= pg->limit)) {
		pg->kept++;
		return 0;
	}
	jbuf_rewind(j->out, pg->mark_len, pg->mark_total);
	j->empty = pg->mark_empty;
	pg->quotes = pg->mark_quotes;
	pg->scanned = pg->mark_len;
	return -ENOSPC;
}

int result_json_put_trusted(struct smcp_json *j, const char *key, const char *text, size_t len)
{
	int err = member(j, key);

	if (err)
		return err;
	jbuf_put(j->out, text, len);
	return written(j);
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

int result_api_arg_string(const struct smcp_args *a, const char *name, const char **ret)
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

int result_api_arg_int(const struct smcp_args *a, const char *name, int64_t *ret)
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

int result_api_arg_double(const struct smcp_args *a, const char *name, double *ret)
{
	return arg_number(a, name, ret);
}

int result_api_arg_bool(const struct smcp_args *a, const char *name, bool *ret)
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
