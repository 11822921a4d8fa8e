/* SPDX-License-Identifier: MIT */
/* list_event_subsystems and list_events: search and page both lists. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "el.h"

/* Rows kept in the "did you mean" and "valid names" parts of an error. */
#define EL_ERROR_NAMES 120

static const char subsystems_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"event_type\":{\"type\":\"string\",\"enum\":[\"all\",\"perf\",\"tracepoint\","
	"\"kprobe\"]}}}";

static const char subsystems_output[] =
	"{\"type\":\"object\",\"required\":[\"perf_subsystems\",\"kprobe_info\"]}";

static const char events_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"event_type\":{\"type\":\"string\",\"enum\":[\"perf\",\"tracepoint\",\"kprobe\"]},"
	"\"subsystem\":{\"type\":\"string\",\"maxLength\":128},"
	"\"filter\":{\"type\":\"string\",\"maxLength\":256,\"description\":\"regex\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"include_format\":{\"type\":\"boolean\"}}}";

static const char events_output[] =
	"{\"type\":\"object\",\"required\":[\"event_type\",\"total_count\",\"returned_count\","
	"\"offset\",\"limit\",\"has_more\",\"events\"]}";

/* --------------------------------------------------------------- helpers */

/* "a, b, c" of the names that contain s (case-insensitive), else all. */
static void name_hint(char *buf, size_t len, const char *const *names, size_t n, const char *s)
{
	size_t at = 0, listed = 0;
	bool any = false;

	for (size_t i = 0; i < n && !any; i++)
		any = strcasestr(names[i], s) || strcasestr(s, names[i]);
	buf[0] = '\0';
	for (size_t i = 0; i < n && listed < EL_ERROR_NAMES; i++) {
		int w;

		if (any && !strcasestr(names[i], s) && !strcasestr(s, names[i]))
			continue;
		w = snprintf(buf + at, len - at, "%s%s", listed ? ", " : "", names[i]);
		if (w < 0 || (size_t)w >= len - at)
			break;
		at += (size_t)w;
		listed++;
	}
	if (!any && listed < n && at + 8 < len)
		snprintf(buf + at, len - at, ", ...");
}

static int unknown_name(struct el_plugin *p, struct smcp_result *res, const char *what,
			const char *name, const char *const *names, size_t n, const char *how)
{
	char *hint = malloc(8192);
	bool close_match = false;

	if (!hint)
		return -ENOMEM;
	for (size_t i = 0; i < n && !close_match; i++)
		close_match = strcasestr(names[i], name) || strcasestr(name, names[i]);
	name_hint(hint, 8192, names, n, name);
	(void)p->api->result_error(res, "unknown %s \"%s\". %s: %s. %s", what, name,
				   close_match ? "Similar names" : "Known names", hint, how);
	free(hint);
	return 0;
}

/* ----------------------------------------------------- list_event_subsystems */

static void emit_perf_subsystems(struct el_plugin *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	const struct ev_catalog *ev;

	api->json_object(j, "perf_subsystems");
	if (!p->ev) {
		api->json_string(j, "error", p->ev_reason);
		api->json_end(j);
		return;
	}
	ev = &p->ev->c;
	api->json_uint(j, "count", ev->n_subs);
	api->json_uint(j, "total_events", ev->n);
	api->json_array(j, "subsystems");
	for (size_t i = 0; i < ev->n_subs; i++)
		api->json_string(j, NULL, ev->subs[i].name);
	api->json_end(j);
	api->json_object(j, "event_counts");
	for (size_t i = 0; i < ev->n_subs; i++)
		api->json_uint(j, ev->subs[i].name, ev->subs[i].count);
	api->json_end(j);
	el_emit_tracefs_source(p, p->ev, j);
	api->json_end(j);
}

static void emit_kprobe_info(struct el_plugin *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	const struct kf_list *l;

	api->json_object(j, "kprobe_info");
	if (!p->kf) {
		api->json_string(j, "error", p->kf_reason);
		api->json_end(j);
		return;
	}
	l = &p->kf->l;
	api->json_uint(j, "total_functions", l->n);
	api->json_array(j, "modules");
	for (size_t i = 0; i < l->n_mods; i++)
		api->json_string(j, NULL, l->mods[i].name);
	api->json_end(j);
	api->json_object(j, "function_counts");
	for (size_t i = 0; i < l->n_mods; i++)
		api->json_uint(j, l->mods[i].name, l->mods[i].count);
	api->json_end(j);
	el_emit_kprobe_source(p, p->kf, j);
	api->json_end(j);
}

static int subsystems_run(struct el_plugin *p, struct el_call *c)
{
	struct smcp_json *j = p->api->result_json(c->res);

	if (!j)
		return -ENOMEM;
	if (c->want & EL_EVENTS)
		emit_perf_subsystems(p, j);
	if (c->want & EL_KFUNCS)
		emit_kprobe_info(p, j);
	return p->api->json_string(j, "more",
				   "list_events {\"event_type\":\"perf\",\"subsystem\":\"sched\"} "
				   "lists one subsystem; event_type kprobe with subsystem MODULE "
				   "lists one module's functions");
}

static int list_event_subsystems(void *data, struct smcp_call *call,
				 const struct smcp_args *args, struct smcp_result *res)
{
	struct el_plugin *p = data;
	const char *type = "all";
	unsigned want = 0;
	struct el_call *c;

	(void)p->api->arg_string(args, "event_type", &type);
	if (strcmp(type, "kprobe") != 0)
		want |= EL_EVENTS;
	if (strcmp(type, "perf") != 0 && strcmp(type, "tracepoint") != 0)
		want |= EL_KFUNCS;
	c = el_call_new(p, call, res, subsystems_run, want);
	return c ? el_call_start(c) : -ENOMEM;
}

/* ------------------------------------------------------------- list_events */

struct page {
	int64_t offset, limit;
	size_t total, returned;
	size_t bytes;   /* of the names picked */
	bool byte_cut;  /* stopped at EL_PAGE_BYTES before limit */
	bool size_cut;  /* ... at max_result_bytes (emit_rows) */
};

/* The rows [first, first+count) of one version of a list that pass the
 * filter, paged. The list is held (a reference) while a worker pages it. */
struct rows {
	struct el_events *ev;   /* perf */
	struct el_kfuncs *kf;   /* kprobe */
	bool kprobe;
	size_t first, count;
	int mod; /* kprobe: only this module (-1: all) */
};

static const char *row_name(const struct rows *r, size_t i, char *buf, size_t len)
{
	const struct kf_list *l;
	const char *mod;

	if (!r->kprobe)
		return ev_catalog_name(&r->ev->c, i);
	l = &r->kf->l;
	mod = l->mods[l->fn[i].mod].name;
	if (strcmp(mod, "vmlinux") == 0)
		return kf_name(l, i);
	snprintf(buf, len, "%s [%s]", kf_name(l, i), mod);
	return buf;
}

/* 1 when row i passes the filter, 0 when not, -errno when the filter
 * gave up (f->why says why). */
static int row_match(const struct rows *r, struct el_filter *f, size_t i, const char *name)
{
	int hit;

	if (r->kprobe) {
		if (r->mod >= 0 && r->kf->l.fn[i].mod != (uint32_t)r->mod)
			return 0;
		hit = el_filter_match(f, kf_name(&r->kf->l, i));
		return hit || !strchr(name, ' ') ? hit : el_filter_match(f, name);
	}
	hit = el_filter_match(f, el_event_part(name));
	return hit ? hit : el_filter_match(f, name);
}

/* Pick the page's rows (indexes into picked, at most pg->limit) and count
 * every match, so the answer can lead with the totals. 0, or what
 * row_match failed with. Touches only r, f, pg and picked: it runs on a
 * worker for long lists. */
static int select_rows(const struct rows *r, struct el_filter *f, struct page *pg,
		       size_t *picked)
{
	char buf[600];

	for (size_t i = r->first; i < r->first + r->count; i++) {
		const char *name = row_name(r, i, buf, sizeof(buf));
		int hit = row_match(r, f, i, name);

		if (hit < 0)
			return hit;
		if (!hit)
			continue;
		if ((int64_t)pg->total >= pg->offset && (int64_t)pg->returned < pg->limit &&
		    !pg->byte_cut) {
			if (pg->bytes + strlen(name) + 4 > EL_PAGE_BYTES) {
				pg->byte_cut = true;
			} else {
				pg->bytes += strlen(name) + 4;
				picked[pg->returned++] = i;
			}
		}
		pg->total++;
	}
	return 0;
}

/* The page's rows; when the answer would pass max_result_bytes, fewer
 * (pg->returned lowered, pg->size_cut set): the page ends at a row and
 * next_offset goes on from there. With formats, those (the larger part)
 * decide where the page ends. */
static void emit_rows(struct el_plugin *p, const struct rows *r, struct page *pg,
		      const size_t *picked, struct smcp_json *j, bool formats)
{
	const struct smcp_host_api *api = p->api;
	char buf[600];

	if (formats) {
		api->json_array(j, "formats");
		for (size_t k = 0; k < pg->returned; k++) {
			smcp_json_item_begin(api, j);
			el_emit_format(p, j, NULL, ev_catalog_name(&r->ev->c, picked[k]), false);
			if (!smcp_json_item_fits(api, j)) {
				pg->returned = k;
				pg->size_cut = true;
			}
		}
		api->json_end(j);
	}
	api->json_array(j, "events");
	for (size_t k = 0; k < pg->returned; k++) {
		smcp_json_item_begin(api, j);
		api->json_string(j, NULL, row_name(r, picked[k], buf, sizeof(buf)));
		if (!smcp_json_item_fits(api, j)) {
			pg->returned = k;
			pg->size_cut = true;
		}
	}
	api->json_end(j);
}

/*
 * One list_events page, from the filter to the answer. Filtering a long
 * list, or with a regex (which may spend its whole CPU budget), runs on a
 * worker; the page is written on the loop.
 */
struct search {
	struct el_call *c;
	struct rows r;
	struct page pg;
	struct el_filter f;
	size_t *picked;
	bool formats, limit_cut;
	int rc; /* select_rows' */
};

/* Lists up to this long with a plain substring filter are paged on the
 * loop: well under a millisecond (2-3 thousand tracepoints in 0.3 ms). */
#define EL_INLINE_ROWS 4096

static void search_free(struct search *s)
{
	el_events_put(s->r.ev);
	el_kfuncs_put(s->r.kf);
	el_filter_free(&s->f);
	free(s->picked);
	free(s);
}

static int search_answer(struct el_plugin *p, struct search *s)
{
	const struct smcp_host_api *api = p->api;
	const struct el_call *c = s->c;
	struct page *pg = &s->pg;
	struct smcp_json *j;
	char note[512];
	int err;

	if (s->rc == -E2BIG) {
		/* the pattern, not the daemon, failed: the model can fix it */
		(void)api->result_error(c->res, "%s (filter \"%s\" over %zu %s)", s->f.why,
					c->filter, s->r.count, s->r.kprobe ? "functions" : "tracepoints");
		return 0;
	}
	j = s->rc ? NULL : api->result_json(c->res);
	if (!j)
		return s->rc ? s->rc : -ENOMEM;
	api->json_string(j, "event_type", s->r.kprobe ? "kprobe" : "perf");
	api->json_string(j, "subsystem", c->sub);
	api->json_string(j, "filter_applied", c->filter && *c->filter ? c->filter : NULL);
	api->json_uint(j, "total_count", pg->total);
	api->json_int(j, "offset", pg->offset);
	api->json_int(j, "limit", pg->limit);
	/* the source before the rows: the rows end where the answer is full,
	 * and what follows them must fit SMCP_PAGE_TAIL_BYTES */
	err = s->r.kprobe ? el_emit_kprobe_source(p, s->r.kf, j)
			  : el_emit_tracefs_source(p, s->r.ev, j);
	if (err)
		return err;
	emit_rows(p, &s->r, pg, s->picked, j, s->formats);
	api->json_uint(j, "returned_count", pg->returned);
	api->json_bool(j, "has_more", (int64_t)pg->total > pg->offset + (int64_t)pg->returned);
	if ((int64_t)pg->total > pg->offset + (int64_t)pg->returned) {
		api->json_int(j, "next_offset", pg->offset + (int64_t)pg->returned);
		snprintf(note, sizeof(note),
			 "showing %zu of %zu matches from offset %lld%s; call again with "
			 "offset %lld for the next page, or narrow with filter/subsystem",
			 pg->returned, pg->total, (long long)pg->offset,
			 s->limit_cut ? " (limit lowered to 10 because include_format)"
			 : pg->size_cut ? " (page ended at the answer size limit, max_result_bytes)"
			 : pg->byte_cut ? " (page cut before limit to keep the answer small)" : "",
			 (long long)(pg->offset + (int64_t)pg->returned));
		api->json_string(j, "note", note);
	} else if (pg->offset > 0 && (size_t)pg->offset >= pg->total && pg->total) {
		snprintf(note, sizeof(note), "offset %lld is past the last match (%zu matches)",
			 (long long)pg->offset, pg->total);
		api->json_string(j, "note", note);
	} else if (!pg->total) {
		api->json_string(j, "note", "nothing matched; try a shorter filter or no "
					    "subsystem");
	}
	return 0;
}

static int search_work(void *data)
{
	struct search *s = data;

	s->rc = select_rows(&s->r, &s->f, &s->pg, s->picked);
	return 0;
}

static void search_done(void *data, int result)
{
	struct search *s = data;
	struct el_call *c = s->c;
	int rc = c->cancelled ? 0 : search_answer(c->p, s);

	(void)result;
	search_free(s);
	el_call_finish(c, rc);
}

/* A name list of the kind sub names, for the error about an unknown one. */
static int unknown_sub(struct el_plugin *p, struct el_call *c, const struct rows *r)
{
	size_t n = r->kprobe ? r->kf->l.n_mods : r->ev->c.n_subs;
	const char **names = malloc((n + 1) * sizeof(*names));
	int rc;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		names[i] = r->kprobe ? r->kf->l.mods[i].name : r->ev->c.subs[i].name;
	if (r->kprobe)
		rc = unknown_name(p, c->res, "module", c->sub, names, n,
				  "For kprobe, subsystem is a module name; vmlinux is the kernel "
				  "image.");
	else
		rc = unknown_name(p, c->res, "subsystem", c->sub, names, n,
				  "list_event_subsystems lists them all.");
	free(names);
	return rc;
}

static int events_run(struct el_plugin *p, struct el_call *c)
{
	const struct smcp_host_api *api = p->api;
	struct search *s = calloc(1, sizeof(*s));
	struct page *pg;
	char err[1024];
	int rc = 0;

	if (!s)
		return -ENOMEM;
	s->c = c;
	s->r.mod = -1;
	s->r.kprobe = c->want == EL_KFUNCS;
	pg = &s->pg;
	pg->limit = EL_DEFAULT_LIMIT;
	if (c->has_limit)
		pg->limit = c->limit < 1 ? 1 : c->limit > EL_MAX_LIMIT ? EL_MAX_LIMIT : c->limit;
	if (c->has_offset)
		pg->offset = c->offset < 0 ? 0 : c->offset;
	s->formats = c->formats && !s->r.kprobe;
	if (s->formats && pg->limit > EL_MAX_FORMAT_LIMIT) {
		pg->limit = EL_MAX_FORMAT_LIMIT;
		s->limit_cut = true;
	}
	if (el_filter_compile(&s->f, c->filter, err, sizeof(err))) {
		(void)api->result_error(c->res, "%s", err);
		goto out;
	}
	if (s->r.kprobe) {
		if (!p->kf) {
			(void)api->result_error(c->res, "kernel function list unavailable: %s",
						p->kf_reason);
			goto out;
		}
		s->r.kf = p->kf;
		p->kf->refs++;
		s->r.count = p->kf->l.n;
		if (c->sub) {
			s->r.mod = (int)el_kf_module_index(&p->kf->l, c->sub);
			if (s->r.mod < 0) {
				rc = unknown_sub(p, c, &s->r);
				goto out;
			}
		}
	} else {
		if (!p->ev) {
			(void)api->result_error(c->res, "tracepoints unavailable: %s", p->ev_reason);
			goto out;
		}
		s->r.ev = p->ev;
		p->ev->refs++;
		s->r.count = p->ev->c.n;
		if (c->sub) {
			const struct ev_subsys *sub = el_catalog_subsys(&p->ev->c, c->sub);

			if (!sub) {
				rc = unknown_sub(p, c, &s->r);
				goto out;
			}
			s->r.first = sub->first;
			s->r.count = sub->count;
		}
	}
	s->picked = calloc((size_t)pg->limit, sizeof(*s->picked));
	if (!s->picked) {
		rc = -ENOMEM;
		goto out;
	}
	if (c->call && (s->r.count > EL_INLINE_ROWS || (s->f.active && !s->f.literal))) {
		el_call_working(c);
		if (api->work_submit(p->host, search_work, search_done, s) == 0)
			return SMCP_PENDING;
		c->state = EL_CALL_NEW; /* no worker: page it here, as it always was */
	}
	(void)search_work(s);
	rc = search_answer(p, s);
out:
	search_free(s);
	return rc < 0 ? rc : 0;
}

static int list_events(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	struct el_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	const char *type = "perf", *sub = NULL, *filter = NULL;
	struct el_filter f;
	struct el_call *c;
	char err[1024];
	int64_t v;

	(void)api->arg_string(args, "event_type", &type);
	(void)api->arg_string(args, "subsystem", &sub);
	(void)api->arg_string(args, "filter", &filter);
	if (sub && !*sub)
		sub = NULL;
	/* a pattern that does not compile is refused at once, without waiting
	 * for a list (compiling is bounded: el_util.h; run compiles it again) */
	if (el_filter_compile(&f, filter, err, sizeof(err))) {
		(void)api->result_error(res, "%s", err);
		return 0;
	}
	el_filter_free(&f);
	c = el_call_new(p, call, res, events_run,
			strcmp(type, "kprobe") == 0 ? EL_KFUNCS : EL_EVENTS);
	if (!c)
		return -ENOMEM;
	(void)api->arg_bool(args, "include_format", &c->formats);
	c->has_limit = api->arg_int(args, "limit", &v) == 0;
	c->limit = c->has_limit ? v : 0;
	c->has_offset = api->arg_int(args, "offset", &v) == 0;
	c->offset = c->has_offset ? v : 0;
	if (el_call_str(&c->sub, sub) || el_call_str(&c->filter, filter)) {
		el_call_free(c);
		return -ENOMEM;
	}
	return el_call_start(c);
}

int el_register_tools(struct el_plugin *p)
{
	const struct smcp_tool_desc tools[] = { {
		SMCP_TOOL("list_event_subsystems"),
		.description = "Tracepoint subsystems and kprobe modules, with counts.",
		.input_schema = subsystems_input,
		.output_schema = subsystems_output,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = list_event_subsystems,
		.data = p,
	}, {
		SMCP_TOOL("list_events"),
		.description = "Tracepoints (subsystem:event) or kprobe-able functions; "
			       "include_format adds fields.",
		.input_schema = events_input,
		.output_schema = events_output,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = list_events,
		.data = p,
	} };

	return smcp_register_tools(p->host, p->api, tools, SMCP_COUNT(tools));
}
