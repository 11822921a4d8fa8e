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
	"\"kprobe\"],\"description\":\"all (default), perf (tracepoints; tracepoint is the "
	"same) or kprobe (kernel functions, grouped by module)\"}}}";

static const char subsystems_output[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"perf_subsystems\":{\"type\":\"object\",\"properties\":{"
	"\"count\":{\"type\":\"integer\"},\"total_events\":{\"type\":\"integer\"},"
	"\"subsystems\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"event_counts\":{\"type\":\"object\"},\"error\":{\"type\":\"string\"}}},"
	"\"kprobe_info\":{\"type\":\"object\",\"properties\":{"
	"\"total_functions\":{\"type\":\"integer\"},\"modules\":{\"type\":\"array\"},"
	"\"function_counts\":{\"type\":\"object\"},\"error\":{\"type\":\"string\"}}}}}";

static const char events_input[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
	"\"event_type\":{\"type\":\"string\",\"enum\":[\"perf\",\"tracepoint\",\"kprobe\"],"
	"\"description\":\"perf (default): tracepoints as subsystem:event; tracepoint is the "
	"same. kprobe: kernel functions (name, or 'name [module]')\"},"
	"\"subsystem\":{\"type\":\"string\",\"maxLength\":128,\"description\":\"perf: a "
	"tracefs subsystem such as sched (list_event_subsystems names them); kprobe: a module, "
	"vmlinux for the kernel image. Omit to search everything\"},"
	"\"filter\":{\"type\":\"string\",\"maxLength\":256,\"description\":\"case-insensitive "
	"regex (PCRE2 syntax, no back-references) found anywhere in the name, e.g. "
	"\\\"^sched_(switch|wakeup)\\\" or \\\"rq_clock\\\"; a pattern too costly to run "
	"over the whole list is refused with an error\"},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"description\":\"rows "
	"per page, default 100 (at most 10 with include_format)\"},"
	"\"offset\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"first matching row to "
	"return, default 0; pass next_offset to get the next page\"},"
	"\"include_format\":{\"type\":\"boolean\",\"description\":\"perf only: add each "
	"event's fields with C types, offsets and sizes (tracefs format), for writing a "
	"bpftrace or libbpf program\"}}}";

static const char events_output[] =
	"{\"type\":\"object\",\"required\":[\"event_type\",\"total_count\",\"returned_count\","
	"\"offset\",\"limit\",\"has_more\",\"events\"],\"properties\":{"
	"\"event_type\":{\"type\":\"string\"},\"subsystem\":{\"type\":[\"string\",\"null\"]},"
	"\"filter_applied\":{\"type\":[\"string\",\"null\"]},"
	"\"total_count\":{\"type\":\"integer\"},\"returned_count\":{\"type\":\"integer\"},"
	"\"offset\":{\"type\":\"integer\"},\"limit\":{\"type\":\"integer\"},"
	"\"has_more\":{\"type\":\"boolean\"},\"next_offset\":{\"type\":\"integer\"},"
	"\"events\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"formats\":{\"type\":\"array\"},\"source\":{\"type\":\"object\"},"
	"\"note\":{\"type\":\"string\"}}}";

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

	api->json_object(j, "perf_subsystems");
	if (el_events(p)) {
		api->json_string(j, "error", p->ev_reason);
		api->json_end(j);
		return;
	}
	api->json_uint(j, "count", p->ev.n_subs);
	api->json_uint(j, "total_events", p->ev.n);
	api->json_array(j, "subsystems");
	for (size_t i = 0; i < p->ev.n_subs; i++)
		api->json_string(j, NULL, p->ev.subs[i].name);
	api->json_end(j);
	api->json_object(j, "event_counts");
	for (size_t i = 0; i < p->ev.n_subs; i++)
		api->json_uint(j, p->ev.subs[i].name, p->ev.subs[i].count);
	api->json_end(j);
	el_emit_tracefs_source(p, j);
	api->json_end(j);
}

static void emit_kprobe_info(struct el_plugin *p, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	const struct kf_list *l = &p->kf;

	api->json_object(j, "kprobe_info");
	if (el_kfuncs(p)) {
		api->json_string(j, "error", p->kf_reason);
		api->json_end(j);
		return;
	}
	api->json_uint(j, "total_functions", l->n);
	api->json_array(j, "modules");
	for (size_t i = 0; i < l->n_mods; i++)
		api->json_string(j, NULL, l->mods[i].name);
	api->json_end(j);
	api->json_object(j, "function_counts");
	for (size_t i = 0; i < l->n_mods; i++)
		api->json_uint(j, l->mods[i].name, l->mods[i].count);
	api->json_end(j);
	el_emit_kprobe_source(p, j);
	api->json_end(j);
}

static int list_event_subsystems(void *data, struct smcp_call *call,
				 const struct smcp_args *args, struct smcp_result *res)
{
	struct el_plugin *p = data;
	const char *type = "all";
	struct smcp_json *j;

	(void)p->api->arg_string(args, "event_type", &type);
	j = p->api->result_json(res);
	if (!j)
		return -ENOMEM;
	if (strcmp(type, "kprobe") != 0)
		emit_perf_subsystems(p, j);
	if (strcmp(type, "perf") != 0 && strcmp(type, "tracepoint") != 0)
		emit_kprobe_info(p, j);
	return p->api->json_string(j, "more",
				   "list_events {\"event_type\":\"perf\",\"subsystem\":\"sched\"} "
				   "lists one subsystem; event_type kprobe with subsystem MODULE "
				   "lists one module's functions");
}

/* ------------------------------------------------------------- list_events */

struct page {
	int64_t offset, limit;
	size_t total, returned;
	size_t bytes;   /* of the names picked */
	bool byte_cut;  /* stopped at EL_PAGE_BYTES before limit */
};

/* The rows [first, first+count) of a list that pass the filter, paged. */
struct rows {
	struct el_plugin *p;
	bool kprobe;
	size_t first, count;
	int mod; /* kprobe: only this module (-1: all) */
};

static const char *row_name(const struct rows *r, size_t i, char *buf, size_t len)
{
	const struct kf_list *l = &r->p->kf;
	const char *mod;

	if (!r->kprobe)
		return ev_catalog_name(&r->p->ev, i);
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
		if (r->mod >= 0 && r->p->kf.fn[i].mod != (uint32_t)r->mod)
			return 0;
		hit = el_filter_match(f, kf_name(&r->p->kf, i));
		return hit || !strchr(name, ' ') ? hit : el_filter_match(f, name);
	}
	hit = el_filter_match(f, ev_event_part(name));
	return hit ? hit : el_filter_match(f, name);
}

/* Pick the page's rows (indexes into picked, at most pg->limit) and count
 * every match, so the answer can lead with the totals. 0, or what
 * row_match failed with. */
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

static void emit_rows(const struct rows *r, const struct page *pg, const size_t *picked,
		      struct smcp_json *j, bool formats)
{
	const struct smcp_host_api *api = r->p->api;
	char buf[600];

	api->json_array(j, "events");
	for (size_t k = 0; k < pg->returned; k++)
		api->json_string(j, NULL, row_name(r, picked[k], buf, sizeof(buf)));
	api->json_end(j);
	if (!formats)
		return;
	api->json_array(j, "formats");
	for (size_t k = 0; k < pg->returned; k++)
		el_emit_format(r->p, j, NULL, ev_catalog_name(&r->p->ev, picked[k]), false);
	api->json_end(j);
}

static int list_events(void *data, struct smcp_call *call, const struct smcp_args *args,
		       struct smcp_result *res)
{
	struct el_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	const char *type = "perf", *sub = NULL, *filter = NULL;
	struct page pg = { .limit = EL_DEFAULT_LIMIT };
	struct rows r = { .p = p, .mod = -1 };
	bool formats = false, limit_cut = false;
	size_t *picked = NULL;
	struct el_filter f;
	struct smcp_json *j;
	char err[1024], note[512];
	int64_t v;
	int rc = 0;

	(void)api->arg_string(args, "event_type", &type);
	(void)api->arg_string(args, "subsystem", &sub);
	(void)api->arg_string(args, "filter", &filter);
	(void)api->arg_bool(args, "include_format", &formats);
	if (api->arg_int(args, "limit", &v) == 0)
		pg.limit = v < 1 ? 1 : v > EL_MAX_LIMIT ? EL_MAX_LIMIT : v;
	if (api->arg_int(args, "offset", &v) == 0)
		pg.offset = v < 0 ? 0 : v;
	if (sub && !*sub)
		sub = NULL;
	r.kprobe = strcmp(type, "kprobe") == 0;
	if (r.kprobe)
		formats = false;
	if (formats && pg.limit > EL_MAX_FORMAT_LIMIT) {
		pg.limit = EL_MAX_FORMAT_LIMIT;
		limit_cut = true;
	}
	if (el_filter_compile(&f, filter, err, sizeof(err))) {
		(void)api->result_error(res, "%s", err);
		return 0;
	}
	if (r.kprobe) {
		if (el_kfuncs(p)) {
			(void)api->result_error(res, "kernel function list unavailable: %s",
						p->kf_reason);
			goto out;
		}
		r.count = p->kf.n;
		if (sub) {
			const char **names = malloc((p->kf.n_mods + 1) * sizeof(*names));

			r.mod = (int)kf_module_index(&p->kf, sub);
			if (r.mod < 0) {
				for (size_t i = 0; names && i < p->kf.n_mods; i++)
					names[i] = p->kf.mods[i].name;
				rc = names ? unknown_name(p, res, "module", sub, names, p->kf.n_mods,
							  "For kprobe, subsystem is a module name; "
							  "vmlinux is the kernel image.")
					   : -ENOMEM;
				free(names);
				el_filter_free(&f);
				return rc;
			}
			free(names);
		}
	} else {
		if (el_events(p)) {
			(void)api->result_error(res, "tracepoints unavailable: %s", p->ev_reason);
			goto out;
		}
		r.count = p->ev.n;
		if (sub) {
			const struct ev_subsys *s = ev_catalog_subsys(&p->ev, sub);

			if (!s) {
				const char **names = malloc((p->ev.n_subs + 1) * sizeof(*names));

				for (size_t i = 0; names && i < p->ev.n_subs; i++)
					names[i] = p->ev.subs[i].name;
				rc = names ? unknown_name(p, res, "subsystem", sub, names,
							  p->ev.n_subs,
							  "list_event_subsystems lists them all.")
					   : -ENOMEM;
				free(names);
				el_filter_free(&f);
				return rc;
			}
			r.first = s->first;
			r.count = s->count;
		}
	}
	picked = calloc((size_t)pg.limit, sizeof(*picked));
	if (!picked) {
		rc = -ENOMEM;
		goto out;
	}
	rc = select_rows(&r, &f, &pg, picked);
	if (rc == -E2BIG) {
		/* the pattern, not the daemon, failed: the model can fix it */
		(void)api->result_error(res, "%s (filter \"%s\" over %zu %s)", f.why, filter,
					r.count, r.kprobe ? "functions" : "tracepoints");
		rc = 0;
		goto out;
	}
	j = rc ? NULL : api->result_json(res);
	if (!j) {
		rc = rc ? rc : -ENOMEM;
		goto out;
	}
	api->json_string(j, "event_type", r.kprobe ? "kprobe" : "perf");
	api->json_string(j, "subsystem", sub);
	api->json_string(j, "filter_applied", filter && *filter ? filter : NULL);
	api->json_uint(j, "total_count", pg.total);
	api->json_uint(j, "returned_count", pg.returned);
	api->json_int(j, "offset", pg.offset);
	api->json_int(j, "limit", pg.limit);
	api->json_bool(j, "has_more", (int64_t)pg.total > pg.offset + (int64_t)pg.returned);
	if ((int64_t)pg.total > pg.offset + (int64_t)pg.returned) {
		api->json_int(j, "next_offset", pg.offset + (int64_t)pg.returned);
		snprintf(note, sizeof(note),
			 "showing %zu of %zu matches from offset %lld%s; call again with "
			 "offset %lld for the next page, or narrow with filter/subsystem",
			 pg.returned, pg.total, (long long)pg.offset,
			 limit_cut ? " (limit lowered to 10 because include_format)"
			 : pg.byte_cut ? " (page cut before limit to keep the answer small)" : "",
			 (long long)(pg.offset + (int64_t)pg.returned));
		api->json_string(j, "note", note);
	} else if (pg.offset > 0 && (size_t)pg.offset >= pg.total && pg.total) {
		snprintf(note, sizeof(note), "offset %lld is past the last match (%zu matches)",
			 (long long)pg.offset, pg.total);
		api->json_string(j, "note", note);
	} else if (!pg.total) {
		api->json_string(j, "note", "nothing matched; try a shorter filter or no "
					    "subsystem");
	}
	emit_rows(&r, &pg, picked, j, formats);
	if (r.kprobe)
		rc = el_emit_kprobe_source(p, j);
	else
		rc = el_emit_tracefs_source(p, j);
out:
	free(picked);
	el_filter_free(&f);
	return rc < 0 ? rc : 0;
}

int el_register_tools(struct el_plugin *p)
{
	const struct smcp_host_api *api = p->api;
	int err;

	err = api->register_tool(p->host, &(struct smcp_tool_desc){
		.sz = sizeof(struct smcp_tool_desc),
		.name = "list_event_subsystems",
		.title = "Tracepoint subsystems and kernel-function modules",
		.description = "Tracepoint subsystems (tracefs) with event counts, and the "
			       "probe-able kernel functions per module with the source used "
			       "(available_filter_functions or /proc/kallsyms) and whether this "
			       "kernel has kprobes. Names only; list_events lists the events. "
			       "Example: {\"event_type\":\"perf\"}",
		.input_schema = subsystems_input,
		.output_schema = subsystems_output,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = list_event_subsystems,
		.data = p,
	});
	if (err)
		return err;
	return api->register_tool(p->host, &(struct smcp_tool_desc){
		.sz = sizeof(struct smcp_tool_desc),
		.name = "list_events",
		.title = "Search tracepoints or kernel functions",
		.description = "Tracepoints (event_type perf, as subsystem:event) or probe-able "
			       "kernel functions (kprobe), sorted by name, filtered by a "
			       "case-insensitive regex, paged with limit/offset: total_count, "
			       "has_more and next_offset say what is left. include_format adds "
			       "each tracepoint's fields and types. Example: {\"event_type\":"
			       "\"perf\",\"subsystem\":\"sched\",\"filter\":\"wake\","
			       "\"include_format\":true}",
		.input_schema = events_input,
		.output_schema = events_output,
		.flags = SMCP_TOOL_READ_ONLY | SMCP_TOOL_IDEMPOTENT,
		.call = list_events,
		.data = p,
	});
}
