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
#include <stdarg.h>
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

static void field_free(struct sx_field *f)
{
	free(f->name);
	free(f->desc);
	free(f->struct_name);
}

void sx_meta_free(struct sx_meta *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_structs; i++) {
		struct sx_struct *s = &m->structs[i];

		for (size_t k = 0; k < s->n_fields; k++)
			field_free(&s->fields[k]);
		free(s->fields);
		free(s->by_name);
		free(s->name);
		free(s->desc);
	}
	free(m->structs);
	free(m);
}

struct name_pos {
	const char *name;
	size_t pos;
};

/* By name, then by position: the first of equal names sorts first. */
static int by_name_pos(const void *a, const void *b)
{
	const struct name_pos *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int by_field_name(const void *a, const void *b)
{
	return strcmp((*(const struct sx_field *const *)a)->name,
		      (*(const struct sx_field *const *)b)->name);
}

/*
 * Drop the fields of s whose name an earlier field has (keeping order),
 * then index the rest by name. Sorting keeps this O(n log n): a struct has
 * up to META_MAX_FIELDS fields, and pairwise checks would cost 2^20 string
 * compares per struct.
 */
static int fields_dedup(struct sx_meta *m, struct sx_struct *s)
{
	struct name_pos *np = calloc(s->n_fields + 1, sizeof(*np));
	bool *dup = calloc(s->n_fields + 1, sizeof(*dup));
	size_t k, n = 0;
	int err = -ENOMEM;

	s->by_name = calloc(s->n_fields + 1, sizeof(*s->by_name));
	if (!np || !dup || !s->by_name)
		goto out;
	for (k = 0; k < s->n_fields; k++)
		np[k] = (struct name_pos){ s->fields[k].name, k };
	qsort(np, s->n_fields, sizeof(*np), by_name_pos);
	for (k = 1; k < s->n_fields; k++) {
		if (strcmp(np[k].name, np[k - 1].name) != 0)
			continue;
		dup[np[k].pos] = true;
		if (m->dup_fields++ == 0 && !m->dup_structs)
			snprintf(m->dup_first, sizeof(m->dup_first), "%.60s.%.60s", s->name,
				 np[k].name);
	}
	for (k = 0; k < s->n_fields; k++) {
		if (dup[k])
			field_free(&s->fields[k]);
		else
			s->fields[n++] = s->fields[k];
	}
	s->n_fields = n;
	for (k = 0; k < n; k++)
		s->by_name[k] = &s->fields[k];
	qsort(s->by_name, n, sizeof(*s->by_name), by_field_name);
	err = 0;
out:
	free(np);
	free(dup);
	return err;
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
		const char *name = so->string ? so->string : "?";
		struct sx_struct *s;
		const cJSON *fo;
		int nf = cJSON_GetArraySize(fields);

		if (!cJSON_IsObject(so) || !cJSON_IsObject(fields) || nf > META_MAX_FIELDS)
			continue;
		if (sx_meta_find(m, name)) {
			/* at most META_MAX_STRUCTS squared compares: cheap */
			if (m->dup_structs++ == 0 && !m->dup_fields)
				snprintf(m->dup_first, sizeof(m->dup_first), "%.120s", name);
			continue;
		}
		if (!cJSON_IsObject(attrs))
			attrs = so;
		s = &m->structs[m->n_structs++];
		s->name = strdup(name);
		s->desc = dup_str(cJSON_GetObjectItemCaseSensitive(attrs, "desc"));
		s->top = cJSON_GetObjectItemCaseSensitive(attrs, "top") != NULL;
		s->fields = calloc((size_t)nf + 1, sizeof(*s->fields));
		if (!s->name || !s->fields)
			goto oom;
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
		if (fields_dedup(m, s) < 0)
			goto oom;
		if (s->top && !m->top)
			m->top = s;
	}
	/* the structs array no longer moves: fields may point into it */
	for (size_t i = 0; i < m->n_structs; i++)
		for (size_t k = 0; k < m->structs[i].n_fields; k++) {
			struct sx_field *f = &m->structs[i].fields[k];

			if (f->kind == SX_KIND_STRUCT)
				f->sub = sx_meta_find(m, f->struct_name);
		}
	return m;
oom:
	sx_meta_free(m);
	snprintf(why, why_len, "out of memory");
	return NULL;
}

const struct sx_struct *sx_meta_find(const struct sx_meta *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->n_structs; i++)
		if (strcmp(m->structs[i].name, name) == 0)
			return &m->structs[i];
	return NULL;
}

static int key_vs_field(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct sx_field *const *)elem)->name);
}

const struct sx_field *sx_struct_field(const struct sx_struct *s, const char *name)
{
	const struct sx_field *const *f;

	if (!s || !name || !s->n_fields)
		return NULL;
	f = bsearch(name, s->by_name, s->n_fields, sizeof(*s->by_name), key_vs_field);
	return f ? *f : NULL;
}

bool sx_meta_note(const struct sx_meta *m, char *buf, size_t len)
{
	char rep[400];
	int n = 0;

	if (!m || (!m->dup_fields && !m->dup_structs && !m->repair.bad_utf8))
		return false;
	buf[0] = '\0';
	if (m->dup_fields || m->dup_structs)
		n = snprintf(buf, len, "stats_meta repeats %zu field name%s and %zu struct "
				       "name%s (first %s): only the first of each is used",
			     m->dup_fields, m->dup_fields == 1 ? "" : "s", m->dup_structs,
			     m->dup_structs == 1 ? "" : "s", m->dup_first);
	if (sx_repair_note(&m->repair, "stats_meta", rep, sizeof(rep)) && n >= 0 &&
	    (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "%s%s", n ? "; " : "", rep);
	return true;
}

const char *sx_kind_name(enum sx_kind k)
{
	static const char *const names[] = {
		[SX_KIND_UNKNOWN] = "unknown", [SX_KIND_I64] = "i64", [SX_KIND_U64] = "u64",
		[SX_KIND_FLOAT] = "float", [SX_KIND_STRING] = "string", [SX_KIND_STRUCT] = "struct",
	};

	return (size_t)k < SMCP_COUNT(names) ? names[k] : "unknown";
}

/* A struct field is typed by its struct's name when stats_meta gave one. */
static const char *kind_name(enum sx_kind k, const char *struct_name)
{
	return k == SX_KIND_STRUCT && struct_name ? struct_name : sx_kind_name(k);
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
	for (size_t i = 0; i < s->n_fields; i++)
		if (s->fields[i].sub)
			reach(m, s->fields[i].sub, mark);
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
	if (m->dup_fields || m->dup_structs) {
		/* what the scheduler sent twice: only the first of each is above */
		api->json_object(j, "duplicates_ignored");
		api->json_uint(j, "fields", m->dup_fields);
		api->json_uint(j, "structs", m->dup_structs);
		api->json_string(j, "first", m->dup_first);
		api->json_end(j);
	}
	api->json_end(j);
	free(mark);
}

/*
 * The walk looks at each value of the reply at most once (it follows the
 * reply's members, each to the one field of that name), so its work is
 * bounded by the reply; SX_EXTRACT_MAX_NODES bounds it on its own as well.
 * Instances are disjoint parts of the reply, so their copies are too.
 */
/* Paths kept, to refuse a repeat in O(1): open addressing, a power of two
 * above twice SX_EXTRACT_MAX_INSTANCES. */
#define KEPT_SLOTS 2048

struct extract {
	const struct sx_meta *m;
	const struct sx_struct *want;
	cJSON *out;
	struct sx_extract_info *info;
	const char **kept; /* KEPT_SLOTS keys of out, NULL: empty */
	bool nodes_cut, depth_cut, oom;
};

/* Count one value looked at; false once the budget is spent. */
static bool visit(struct extract *x)
{
	if (x->info->visited >= SX_EXTRACT_MAX_NODES) {
		x->nodes_cut = true;
		return false;
	}
	x->info->visited++;
	return true;
}

static void keep(struct extract *x, const char *path, const cJSON *v)
{
	uint32_t h = 2166136261u;
	cJSON *copy;

	x->info->found++;
	if (x->info->kept >= SX_EXTRACT_MAX_INSTANCES)
		return;
	for (const char *c = path; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (h &= KEPT_SLOTS - 1; x->kept[h]; h = (h + 1) & (KEPT_SLOTS - 1))
		if (strcmp(x->kept[h], path) == 0) {
			sx_skip_repeated(&x->info->skips, path);
			return;
		}
	copy = cJSON_Duplicate(v, true);
	if (!copy || !cJSON_AddItemToObject(x->out, path, copy)) {
		cJSON_Delete(copy);
		x->oom = true;
		return;
	}
	x->kept[h] = copy->string; /* out's copy of path, as long as out lives */
	x->info->kept++;
}

static void walk(struct extract *x, const struct sx_struct *s, const cJSON *v, const char *path,
		 int depth);

static void walk_value(struct extract *x, const struct sx_struct *t, const cJSON *v,
		       const char *path, int depth)
{
	if (t == x->want)
		keep(x, path, v);
	else
		walk(x, t, v, path, depth + 1);
}

static void walk(struct extract *x, const struct sx_struct *s, const cJSON *v, const char *path,
		 int depth)
{
	char sub[SX_PATH_MAX], el[SX_PATH_MAX];
	const cJSON *fv, *e;

	if (!cJSON_IsObject(v))
		return;
	if (depth > WALK_MAX_DEPTH) {
		x->depth_cut = true;
		return;
	}
	cJSON_ArrayForEach(fv, v) {
		const struct sx_field *f;
		int idx = 0;

		if (!visit(x))
			return;
		f = sx_struct_field(s, fv->string);
		if (!f || !f->sub || !sx_path_join(sub, path, ".", fv->string, &x->info->skips))
			continue;
		if (f->shape == SX_DATUM) {
			walk_value(x, f->sub, fv, sub, depth);
			continue;
		}
		if (!cJSON_IsArray(fv) && !cJSON_IsObject(fv))
			continue;
		cJSON_ArrayForEach(e, fv) {
			bool ok;

			if (!visit(x))
				return;
			if (cJSON_IsArray(fv))
				ok = sx_path_index(el, sub, idx++, &x->info->skips);
			else
				ok = sx_path_join(el, sub, ".", e->string, &x->info->skips);
			if (ok)
				walk_value(x, f->sub, e, el, depth);
		}
	}
}

/* Append to buf (len bytes, *n used), cutting what does not fit. */
static void __attribute__((format(printf, 4, 5)))
cat(char *buf, size_t len, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n + 1 >= len)
		return;
	va_start(ap, fmt);
	k = vsnprintf(buf + *n, len - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < len ? *n + (size_t)k : len - 1;
}

/* info->cut in words, from what the walk met. */
static void extract_why(const struct extract *x)
{
	struct sx_extract_info *in = x->info;
	size_t left = in->found - in->kept - in->skips.repeated, n = 0, len = sizeof(in->cut);
	char skips[400];

	in->cut[0] = '\0';
	if (x->nodes_cut)
		cat(in->cut, len, &n, "; the walk stopped after looking at %d values of the reply",
		    SX_EXTRACT_MAX_NODES);
	if (x->depth_cut)
		cat(in->cut, len, &n, "; structs nested deeper than %d levels were not looked into",
		    WALK_MAX_DEPTH);
	if (in->kept >= SX_EXTRACT_MAX_INSTANCES && left)
		cat(in->cut, len, &n, "; %zu instances past the first %d left out", left,
		    SX_EXTRACT_MAX_INSTANCES);
	if (x->oom)
		cat(in->cut, len, &n, "; out of memory copying instances");
	if (sx_skips_note(&in->skips, skips, sizeof(skips)))
		cat(in->cut, len, &n, "; %s", skips);
	if (n) /* without the first "; " */
		memmove(in->cut, in->cut + 2, n - 1);
}

cJSON *sx_meta_extract(const struct sx_meta *m, const struct sx_struct *root, const cJSON *stats,
		       const char *name, struct sx_extract_info *ret_info)
{
	struct extract x = { .m = m, .info = ret_info };
	const struct sx_struct *t = sx_meta_find(m, name);
	bool *mark;

	memset(ret_info, 0, sizeof(*ret_info));
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
	x.want = t;
	x.out = cJSON_CreateObject();
	x.kept = calloc(KEPT_SLOTS, sizeof(*x.kept));
	if (!x.out || !x.kept) {
		cJSON_Delete(x.out);
		free(x.kept);
		return NULL;
	}
	if (root == t)
		keep(&x, "(top)", stats);
	else
		walk(&x, root, stats, "", 0);
	extract_why(&x);
	free(x.kept);
	return x.out;
}
