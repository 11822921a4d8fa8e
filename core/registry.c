/* SPDX-License-Identifier: MIT */
#include "registry.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/hashmap.h>

#include "log.h"
#include "schema.h"
#include "steps.h"
#include "util.h"

static struct registry registry;

/*
 * Lookups by name (every tools/call and resources/read, and each name a
 * workflow step needs: dozens per prompts/get) go through one index of the
 * arrays, rebuilt on the first lookup after a change: names change at
 * start-up and when a plugin goes, lookups come with every request.
 */
#define STR_MAP SMCP_HASHMAP_INIT(smcp_hashmap_str_hash, smcp_hashmap_str_equal, NULL, 0)
static struct {
	struct smcp_hashmap resources, templates, tools, prompts;
	bool valid;
} idx = { STR_MAP, STR_MAP, STR_MAP, STR_MAP, false };

static void index_free(void)
{
	smcp_hashmap_free(&idx.resources);
	smcp_hashmap_free(&idx.templates);
	smcp_hashmap_free(&idx.tools);
	smcp_hashmap_free(&idx.prompts);
	idx.valid = false;
}

static int index_add(struct smcp_hashmap *m, const char *name, size_t i)
{
	int ret = smcp_hashmap_insert(m, (uintptr_t)name, i, NULL);

	return ret < 0 ? ret : 0;
}

/* false (and every lookup scans the arrays) when memory is short */
static bool index_ready(void)
{
	int err = 0;

	if (idx.valid)
		return true;
	smcp_hashmap_clear(&idx.resources);
	smcp_hashmap_clear(&idx.templates);
	smcp_hashmap_clear(&idx.tools);
	smcp_hashmap_clear(&idx.prompts);
	for (size_t i = 0; !err && i < registry.n_resources; i++)
		err = index_add(registry.resources[i]->is_template ? &idx.templates : &idx.resources,
				registry.resources[i]->uri, i);
	for (size_t i = 0; !err && i < registry.n_tools; i++)
		err = index_add(&idx.tools, registry.tools[i]->name, i);
	for (size_t i = 0; !err && i < registry.n_prompts; i++)
		err = index_add(&idx.prompts, registry.prompts[i]->name, i);
	if (err)
		index_free();
	idx.valid = !err;
	return idx.valid;
}

const struct registry *registry_view(void)
{
	return &registry;
}

/* Size of a descriptor up to and including member m: older plugins may hand
 * us shorter structs, and members they do not know read as zero. */
#define DESC_HAS(d, type, m) ((d)->sz >= offsetof(type, m) + sizeof(((type *)0)->m))

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static bool dup_failed(const char *src, const char *copy)
{
	return src && !copy;
}

static bool template_ok(const char *t)
{
	bool in = false;
	size_t vars = 0;

	for (const char *p = t; *p; p++) {
		if (*p == '{') {
			if (in || p[1] == '}')
				return false;
			in = true;
			vars++;
		} else if (*p == '}') {
			/* an empty name: "{}" or "{+}" */
			if (!in || p[-1] == '{' || (p[-1] == '+' && p[-2] == '{'))
				return false;
			in = false;
		} else if (in && !(isalnum((unsigned char)*p) || *p == '_' || (*p == '+' && p[-1] == '{'))) {
			return false;
		}
	}
	return !in && vars > 0;
}

static void resource_free(struct reg_resource *r)
{
	if (!r)
		return;
	free(r->uri);
	free(r->name);
	free(r->title);
	free(r->description);
	free(r->mime_type);
	free(r);
}

static void tool_free(struct reg_tool *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->title);
	free(t->description);
	cJSON_Delete(t->input_schema);
	cJSON_Delete(t->output_schema);
	free(t);
}

static void note_free(struct reg_note *n)
{
	if (!n)
		return;
	free(n->glob);
	free(n->text);
	free(n);
}

static int note_add(struct reg_note ***arr, size_t *n, struct smcp_host *owner, const char *glob,
		    const char *text)
{
	struct reg_note *note;

	if (!text || !*text || strlen(text) > REG_NOTE_MAX_BYTES ||
	    (glob && (!*glob || strlen(glob) > 256)))
		return -EINVAL;
	note = util_new_slot((void ***)arr, *n, sizeof(*note));
	if (!note)
		return -ENOMEM;
	note->owner = owner;
	note->text = strdup(text);
	note->glob = glob ? strdup(glob) : NULL;
	if (!note->text || (glob && !note->glob)) {
		note_free(note);
		return -ENOMEM;
	}
	(*arr)[(*n)++] = note;
	return 0;
}

int registry_add_instructions(struct smcp_host *owner, const char *text)
{
	size_t mine = 0;

	for (size_t i = 0; i < registry.n_instructions; i++)
		mine += registry.instructions[i]->owner == owner;
	if (mine >= REG_INSTRUCTIONS_PER_PLUGIN)
		return -ENOSPC;
	return note_add(&registry.instructions, &registry.n_instructions, owner, NULL, text);
}

int registry_add_tool_hint(struct smcp_host *owner, const char *glob, const char *text)
{
	if (!glob)
		return -EINVAL;
	return note_add(&registry.tool_hints, &registry.n_tool_hints, owner, glob, text);
}

static void prompt_free(struct reg_prompt *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_args; i++) {
		free(p->args[i].name);
		free(p->args[i].description);
	}
	free(p->args);
	free(p->name);
	free(p->title);
	free(p->description);
	free(p);
}

static int append(void ***arr, size_t *n, void *item)
{
	void **na = realloc(*arr, (*n + 1) * sizeof(*na));

	if (!na)
		return -ENOMEM;
	*arr = na;
	na[(*n)++] = item;
	registry.generation++;
	idx.valid = false;
	return 0;
}

int registry_add_resource(struct smcp_host *owner, const struct smcp_resource_desc *d,
			  bool is_template)
{
	struct reg_resource *r;
	int err;

	if (!d || d->sz < offsetof(struct smcp_resource_desc, data) + sizeof(d->data) || !d->uri ||
	    !d->name || !d->read || !*d->uri)
		return -EINVAL;
	if (strlen(d->uri) > 1024 || !strstr(d->uri, "://"))
		return -EINVAL;
	if (is_template != template_ok(d->uri))
		return -EINVAL;
	for (size_t i = 0; i < registry.n_resources; i++)
		if (strcmp(registry.resources[i]->uri, d->uri) == 0)
			return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->uri = strdup(d->uri);
	r->name = strdup(d->name);
	r->title = dup_opt(d->title);
	r->description = dup_opt(d->description);
	r->mime_type = strdup(d->mime_type ? d->mime_type : "text/plain");
	if (!r->uri || !r->name || !r->mime_type || dup_failed(d->title, r->title) ||
	    dup_failed(d->description, r->description)) {
		err = -ENOMEM;
		goto fail;
	}
	r->flags = d->flags;
	r->is_template = is_template;
	r->read = d->read;
	r->complete = d->complete;
	r->data = d->data;
	r->owner = owner;
	err = append((void ***)&registry.resources, &registry.n_resources, r);
	if (err)
		goto fail;
	return 0;
fail:
	resource_free(r);
	return err;
}

int registry_add_tool(struct smcp_host *owner, const struct smcp_tool_desc *d)
{
	struct reg_tool *t;
	int err;

	if (!d || d->sz < offsetof(struct smcp_tool_desc, data) + sizeof(d->data) || !d->name ||
	    !d->call || !d->description || !smcp_name_ok(d->name, 128))
		return -EINVAL;
	if (registry_find_tool(d->name))
		return -EEXIST;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->name = strdup(d->name);
	t->title = dup_opt(d->title);
	t->description = strdup(d->description);
	if (!t->name || !t->description || dup_failed(d->title, t->title)) {
		err = -ENOMEM;
		goto fail;
	}
	t->input_schema = d->input_schema ? cJSON_Parse(d->input_schema)
					  : cJSON_Parse("{\"type\":\"object\",\"properties\":{}}");
	if (!t->input_schema || schema_check(t->input_schema, true) < 0) {
		log_err("tool %s: input_schema is not a valid object schema", d->name);
		err = -EINVAL;
		goto fail;
	}
	if (d->output_schema) {
		t->output_schema = cJSON_Parse(d->output_schema);
		if (!t->output_schema || schema_check(t->output_schema, true) < 0) {
			log_err("tool %s: output_schema is not a valid object schema", d->name);
			err = -EINVAL;
			goto fail;
		}
	}
	t->flags = d->flags;
	t->call = d->call;
	t->data = d->data;
	t->owner = owner;
	err = append((void ***)&registry.tools, &registry.n_tools, t);
	if (err)
		goto fail;
	return 0;
fail:
	tool_free(t);
	return err;
}

int registry_add_prompt(struct smcp_host *owner, const struct smcp_prompt_desc *d)
{
	struct reg_prompt *p;
	int err;

	if (!d || d->sz < offsetof(struct smcp_prompt_desc, data) + sizeof(d->data) || !d->name ||
	    !d->get || !smcp_name_ok(d->name, 128) || (d->n_args && !d->args) || d->n_args > 64)
		return -EINVAL;
	if (registry_find_prompt(d->name))
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->name = strdup(d->name);
	p->title = dup_opt(d->title);
	p->description = dup_opt(d->description);
	p->args = calloc(d->n_args ? d->n_args : 1, sizeof(*p->args));
	if (!p->name || !p->args || dup_failed(d->title, p->title) ||
	    dup_failed(d->description, p->description)) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < d->n_args; i++) {
		if (!d->args[i].name) {
			err = -EINVAL;
			goto fail;
		}
		p->n_args = i + 1;
		p->args[i].name = strdup(d->args[i].name);
		p->args[i].description = dup_opt(d->args[i].description);
		p->args[i].required = d->args[i].required;
		p->args[i].type = d->args[i].type;
		if (!p->args[i].name || dup_failed(d->args[i].description, p->args[i].description)) {
			err = -ENOMEM;
			goto fail;
		}
	}
	p->get = d->get;
	p->complete = d->complete;
	p->data = d->data;
	p->owner = owner;
	err = append((void ***)&registry.prompts, &registry.n_prompts, p);
	if (err)
		goto fail;
	return 0;
fail:
	prompt_free(p);
	return err;
}

void registry_remove_owner(const struct smcp_host *owner)
{
	size_t removed = 0;

	UTIL_REMOVE_OWNED(registry.resources, registry.n_resources, owner, resource_free, removed);
	UTIL_REMOVE_OWNED(registry.tools, registry.n_tools, owner, tool_free, removed);
	UTIL_REMOVE_OWNED(registry.prompts, registry.n_prompts, owner, prompt_free, removed);
	UTIL_REMOVE_OWNED(registry.instructions, registry.n_instructions, owner, note_free, removed);
	UTIL_REMOVE_OWNED(registry.tool_hints, registry.n_tool_hints, owner, note_free, removed);
	if (removed) {
		registry.generation += removed;
		idx.valid = false;
	}
	steps_remove_owner(owner);
}

void registry_free(void)
{
	UTIL_FREE_ALL(registry.resources, registry.n_resources, resource_free);
	UTIL_FREE_ALL(registry.tools, registry.n_tools, tool_free);
	UTIL_FREE_ALL(registry.prompts, registry.n_prompts, prompt_free);
	UTIL_FREE_ALL(registry.instructions, registry.n_instructions, note_free);
	UTIL_FREE_ALL(registry.tool_hints, registry.n_tool_hints, note_free);
	registry = (struct registry){ 0 };
	index_free();
	steps_free();
}

struct reg_resource *registry_find_resource(const char *uri)
{
	const struct smcp_hashmap_entry *e;

	if (index_ready()) {
		e = smcp_hashmap_find(&idx.resources, (uintptr_t)uri);
		return e ? registry.resources[e->value] : NULL;
	}
	for (size_t i = 0; i < registry.n_resources; i++)
		if (!registry.resources[i]->is_template && strcmp(registry.resources[i]->uri, uri) == 0)
			return registry.resources[i];
	return NULL;
}

struct reg_resource *registry_find_template(const char *uri_template)
{
	const struct smcp_hashmap_entry *e;

	if (index_ready()) {
		e = smcp_hashmap_find(&idx.templates, (uintptr_t)uri_template);
		return e ? registry.resources[e->value] : NULL;
	}
	for (size_t i = 0; i < registry.n_resources; i++)
		if (registry.resources[i]->is_template &&
		    strcmp(registry.resources[i]->uri, uri_template) == 0)
			return registry.resources[i];
	return NULL;
}

struct reg_tool *registry_find_tool(const char *name)
{
	const struct smcp_hashmap_entry *e;

	if (index_ready()) {
		e = smcp_hashmap_find(&idx.tools, (uintptr_t)name);
		return e ? registry.tools[e->value] : NULL;
	}
	for (size_t i = 0; i < registry.n_tools; i++)
		if (strcmp(registry.tools[i]->name, name) == 0)
			return registry.tools[i];
	return NULL;
}

struct reg_prompt *registry_find_prompt(const char *name)
{
	const struct smcp_hashmap_entry *e;

	if (index_ready()) {
		e = smcp_hashmap_find(&idx.prompts, (uintptr_t)name);
		return e ? registry.prompts[e->value] : NULL;
	}
	for (size_t i = 0; i < registry.n_prompts; i++)
		if (strcmp(registry.prompts[i]->name, name) == 0)
			return registry.prompts[i];
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Percent-decode [s, s+n) into a new string; NULL on a bad escape or %00. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		if (i + 2 >= n) {
			free(out);
			return NULL;
		}
		int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/*
 * Match uri against an RFC 6570 level-1 template: literals must match
 * exactly, {var} matches one or more characters up to the next literal
 * character and never '/', {+var} may contain '/'. Values are
 * percent-decoded.
 */
static bool template_match(const char *tpl, const char *uri, cJSON *vars)
{
	const char *t = tpl, *u = uri;

	while (*t) {
		if (*t == '{') {
			const char *close = strchr(t, '}');
			bool reserved = t[1] == '+';
			const char *name = t + 1 + reserved;
			char stop = close[1];
			const char *start = u;
			char vname[128], *val;
			size_t nlen = (size_t)(close - name);

			if (nlen >= sizeof(vname))
				return false;
			while (*u && *u != stop && (reserved || *u != '/'))
				u++;
			if (u == start)
				return false;
			memcpy(vname, name, nlen);
			vname[nlen] = '\0';
			val = pct_decode(start, (size_t)(u - start));
			if (!val)
				return false;
			cJSON_AddItemToObject(vars, vname, cJSON_CreateString(val));
			free(val);
			t = close + 1;
		} else {
			if (*t != *u)
				return false;
			t++;
			u++;
		}
	}
	return *u == '\0';
}

struct reg_resource *registry_match_template(const char *uri, cJSON **ret_vars)
{
	for (size_t i = 0; i < registry.n_resources; i++) {
		struct reg_resource *r = registry.resources[i];
		cJSON *vars;

		if (!r->is_template)
			continue;
		vars = cJSON_CreateObject();
		if (!vars)
			return NULL;
		if (template_match(r->uri, uri, vars)) {
			*ret_vars = vars;
			return r;
		}
		cJSON_Delete(vars);
	}
	return NULL;
}

cJSON *registry_template_vars(const char *uri_template)
{
	cJSON *arr = cJSON_CreateArray();

	for (const char *p = uri_template; arr && (p = strchr(p, '{')); p++) {
		const char *close = strchr(p, '}');
		const char *name = p + 1 + (p[1] == '+');
		char buf[128];
		size_t n;

		if (!close)
			break;
		n = (size_t)(close - name);
		if (n >= sizeof(buf))
			continue;
		memcpy(buf, name, n);
		buf[n] = '\0';
		cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
	}
	return arr;
}
