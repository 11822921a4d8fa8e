/* SPDX-License-Identifier: MIT */
/*
 * stats_meta: the scheduler's description of its statistics structs. As the
 * scx_stats crate serialises it, each struct is
 *
 *   {"name": "LayerStats", "top": "true"?, "desc": "..."?, "user": {...}?,
 *    "fields": {"util": {"datum": "float", "desc": "..."},
 *               "cpus": {"array": "u64", "user": {"_om_skip": "true"}},
 *               "layers": {"dict": {"key": "string", "datum": {"struct": "LayerStats"}}}}}
 *
 * with the kinds i64, u64, float, string and {"struct": NAME}. A field's
 * data and attributes may also come nested as {"data": ..., "attrs": ...};
 * both are read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sx.h"

#define META_MAX_STRUCTS 256
#define META_MAX_FIELDS 1024
#define WALK_MAX_DEPTH 16

static char *dup_str(const cJSON *v)
{
	return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

static enum sx_kind parse_kind(const cJSON *k, char **ret_struct)
{
	const cJSON *s;

	if (cJSON_IsString(k)) {
		if (!strcmp(k->valuestring, "i64"))
			return SX_KIND_I64;
		if (!strcmp(k->valuestring, "u64"))
			return SX_KIND_U64;
		if (!strcmp(k->valuestring, "float") || !strcmp(k->valuestring, "f64"))
			return SX_KIND_FLOAT;
		if (!strcmp(k->valuestring, "string"))
			return SX_KIND_STRING;
		return SX_KIND_UNKNOWN;
	}
	s = cJSON_GetObjectItemCaseSensitive(k, "struct");
	if (cJSON_IsString(s)) {
		*ret_struct = strdup(s->valuestring);
		return *ret_struct ? SX_KIND_STRUCT : SX_KIND_UNKNOWN;
	}
	return SX_KIND_UNKNOWN;
}

static void field_parse(struct sx_field *f, const cJSON *fo)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(fo, "data");
	const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(fo, "attrs");
	const cJSON *d, *user;

	if (!cJSON_IsObject(data))
		data = fo;
	if (!cJSON_IsObject(attrs))
		attrs = fo;
	if ((d = cJSON_GetObjectItemCaseSensitive(data, "datum"))) {
		f->shape = SX_DATUM;
		f->kind = parse_kind(d, &f->struct_name);
	} else if ((d = cJSON_GetObjectItemCaseSensitive(data, "array"))) {
		f->shape = SX_ARRAY;
		f->kind = parse_kind(d, &f->struct_name);
	} else if ((d = cJSON_GetObjectItemCaseSensitive(data, "dict"))) {
		char *ignored = NULL;

		f->shape = SX_DICT;
		f->key = parse_kind(cJSON_GetObjectItemCaseSensitive(d, "key"), &ignored);
		free(ignored);
		f->kind = parse_kind(cJSON_GetObjectItemCaseSensitive(d, "datum"), &f->struct_name);
	}
	f->desc = dup_str(cJSON_GetObjectItemCaseSensitive(attrs, "desc"));
	user = cJSON_GetObjectItemCaseSensitive(attrs, "user");
	f->skip = cJSON_GetObjectItemCaseSensitive(user, "_om_skip") != NULL;
}

void sx_meta_free(struct sx_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_structs; i++) {
		struct sx_struct *s = &m->structs[i];

		for (size_t k = 0; k < s->n_fields; k++) {
			free(s->fields[k].name);
			free(s->fields[k].desc);
			free(s->fields[k].struct_name);
		}
		free(s->fields);
		free(s->name);
		free(s->desc);
	}
	free(m->structs);
	free(m);
}

struct sx_meta *sx_meta_parse(const cJSON *resp, char *why, size_t why_len)
{
	struct sx_meta *m;
	const cJSON *so;
	int n = cJSON_GetArraySize(resp);

	if (!cJSON_IsObject(resp)) {
		snprintf(why, why_len, "stats_meta is not an object of struct descriptions");
		return NULL;
	}
	if (n > META_MAX_STRUCTS) {
		snprintf(why, why_len, "stats_meta describes %d structs (more than %d)", n,
			 META_MAX_STRUCTS);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m || !(m->structs = calloc((size_t)n + 1, sizeof(*m->structs)))) {
		free(m);
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	cJSON_ArrayForEach(so, resp) {
		const cJSON *fields = cJSON_GetObjectItemCaseSensitive(so, "fields");
		const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(so, "attrs");
		struct sx_struct *s;
		const cJSON *fo;
		int nf = cJSON_GetArraySize(fields);

		if (!cJSON_IsObject(so) || !cJSON_IsObject(fields) || nf > META_MAX_FIELDS)
			continue;
		if (!cJSON_IsObject(attrs))
			attrs = so;
		s = &m->structs[m->n_structs++];
		s->name = strdup(so->string ? so->string : "?");
		s->desc = dup_str(cJSON_GetObjectItemCaseSensitive(attrs, "desc"));
		s->top = cJSON_GetObjectItemCaseSensitive(attrs, "top") != NULL;
		s->fields = calloc((size_t)nf + 1, sizeof(*s->fields));
		if (!s->name || !s->fields) {
			sx_meta_free(m);
			snprintf(why, why_len, "out of memory");
			return NULL;
		}
		cJSON_ArrayForEach(fo, fields) {
			struct sx_field *f = &s->fields[s->n_fields];

			if (!cJSON_IsObject(fo) || !fo->string)
				continue;
			f->name = strdup(fo->string);
			if (!f->name)
				continue;
			s->n_fields++;
			field_parse(f, fo);
		}
		if (s->top && !m->top)
			m->top = s;
	}
	return m;
}

const struct sx_struct *sx_meta_find(const struct sx_meta *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->n_structs; i++)
		if (strcmp(m->structs[i].name, name) == 0)
			return &m->structs[i];
	return NULL;
}

const struct sx_field *sx_struct_field(const struct sx_struct *s, const char *name)
{
	for (size_t i = 0; s && i < s->n_fields; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}

bool sx_meta_note(const struct sx_meta *m, char *buf, size_t len)
{
	return m && sx_repair_note(&m->repair, "stats_meta", buf, len);
}

static const char *kind_name(enum sx_kind k, const char *struct_name)
{
	switch (k) {
	case SX_KIND_I64:
		return "i64";
	case SX_KIND_U64:
		return "u64";
	case SX_KIND_FLOAT:
		return "float";
	case SX_KIND_STRING:
		return "string";
	case SX_KIND_STRUCT:
		return struct_name ? struct_name : "struct";
	default:
		return "unknown";
	}
}

const char *sx_field_type(const struct sx_field *f, char *buf, size_t len)
{
	const char *k = kind_name(f->kind, f->struct_name);

	switch (f->shape) {
	case SX_ARRAY:
		snprintf(buf, len, "[%s]", k);
		break;
	case SX_DICT:
		snprintf(buf, len, "{%s:%s}", kind_name(f->key, NULL), k);
		break;
	default:
		snprintf(buf, len, "%s", k);
		break;
	}
	return buf;
}

/* Mark the structs reachable from s (bounded by the struct count). */
static void reach(const struct sx_meta *m, const struct sx_struct *s, bool *mark)
{
	size_t idx = (size_t)(s - m->structs);

	if (mark[idx])
		return;
	mark[idx] = true;
	for (size_t i = 0; i < s->n_fields; i++) {
		const struct sx_struct *t;

		if (s->fields[i].kind != SX_KIND_STRUCT)
			continue;
		t = sx_meta_find(m, s->fields[i].struct_name);
		if (t)
			reach(m, t, mark);
	}
}

void sx_meta_emit(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		  const struct sx_meta *m, const struct sx_struct *root, bool with_desc)
{
	bool *mark = calloc(m->n_structs + 1, sizeof(*mark));
	char type[160];

	if (!mark) {
		api->json_null(j, key);
		return;
	}
	if (root)
		reach(m, root, mark);
	api->json_object(j, key);
	api->json_string(j, "top", m->top ? m->top->name : NULL);
	api->json_object(j, "structs");
	for (size_t i = 0; i < m->n_structs; i++) {
		const struct sx_struct *s = &m->structs[i];

		if (root && !mark[i])
			continue;
		api->json_object(j, s->name);
		if (with_desc && s->desc)
			api->json_string(j, "desc", s->desc);
		api->json_object(j, "fields");
		for (size_t k = 0; k < s->n_fields; k++) {
			const struct sx_field *f = &s->fields[k];

			api->json_object(j, f->name);
			api->json_string(j, "type", sx_field_type(f, type, sizeof(type)));
			if (with_desc && f->desc)
				api->json_string(j, "desc", f->desc);
			if (f->skip)
				api->json_bool(j, "not_a_metric", true);
			api->json_end(j);
		}
		api->json_end(j);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_end(j);
	free(mark);
}

struct extract {
	const struct sx_meta *m;
	const char *want;
	cJSON *out;
	size_t found;
};

static void walk(struct extract *x, const struct sx_struct *s, const cJSON *v, const char *path,
		 int depth);

static void walk_value(struct extract *x, const struct sx_field *f, const cJSON *v,
		       const char *path, int depth)
{
	const struct sx_struct *t = sx_meta_find(x->m, f->struct_name);

	if (!t)
		return;
	if (strcmp(t->name, x->want) == 0) {
		if (x->found++ < 1000)
			cJSON_AddItemToObject(x->out, path, cJSON_Duplicate(v, true));
		return;
	}
	walk(x, t, v, path, depth + 1);
}

static void walk(struct extract *x, const struct sx_struct *s, const cJSON *v, const char *path,
		 int depth)
{
	char sub[512];

	if (depth > WALK_MAX_DEPTH || !cJSON_IsObject(v))
		return;
	for (size_t i = 0; i < s->n_fields; i++) {
		const struct sx_field *f = &s->fields[i];
		const cJSON *fv = cJSON_GetObjectItemCaseSensitive(v, f->name), *e;
		int idx = 0;

		if (f->kind != SX_KIND_STRUCT || !fv)
			continue;
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", f->name);
		if (f->shape == SX_DATUM) {
			walk_value(x, f, fv, sub, depth);
			continue;
		}
		cJSON_ArrayForEach(e, fv) {
			char el[600];

			if (f->shape == SX_ARRAY)
				snprintf(el, sizeof(el), "%s[%d]", sub, idx++);
			else
				snprintf(el, sizeof(el), "%s.%s", sub, e->string ? e->string : "?");
			walk_value(x, f, e, el, depth);
		}
	}
}

cJSON *sx_meta_extract(const struct sx_meta *m, const struct sx_struct *root, const cJSON *stats,
		       const char *name)
{
	struct extract x = { .m = m, .want = name };
	const struct sx_struct *t = sx_meta_find(m, name);
	bool *mark;

	if (!root || !t)
		return NULL;
	mark = calloc(m->n_structs + 1, sizeof(*mark));
	if (!mark)
		return NULL;
	reach(m, root, mark);
	if (!mark[t - m->structs]) {
		free(mark);
		return NULL;
	}
	free(mark);
	x.out = cJSON_CreateObject();
	if (!x.out)
		return NULL;
	if (root == t)
		cJSON_AddItemToObject(x.out, "(top)", cJSON_Duplicate(stats, true));
	else
		walk(&x, root, stats, "", 0);
	return x.out;
}
