/* SPDX-License-Identifier: MIT */
/*
 * event_lister plugin: the tracepoints tracefs lists (events://perf and
 * its per-subsystem and per-event templates) and the kernel functions a
 * probe can attach to (events://kprobe), with two tools to search and page
 * through both (el_tools.c).
 *
 * Both lists are read on demand, on the core's workers, and kept for
 * cache_ttl_s (el_cache.c), so paging through them sees one consistent
 * snapshot and costs no re-read. Every handler copies its arguments into
 * an el_call and answers from its run function: at once when the lists
 * are there, from the worker's done when they have to be read first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/capability.h>

#include "el.h"
#include "el_steps.h"

static const struct smcp_config_key el_config[] = {
	{ sizeof(struct smcp_config_key), "mount_tracefs", SMCP_CONFIG_BOOL, "true",
	  "mount tracefs on /sys/kernel/tracing when it is not mounted (needs root)", 0, 0 },
	{ sizeof(struct smcp_config_key), "cache_ttl_s", SMCP_CONFIG_INT, "30",
	  "seconds the tracepoint and function lists are kept before being re-read", 1, 3600 },
	{ 0 },
};

static struct el_plugin plugin;

int el_emit_tracefs_source(struct el_plugin *p, const struct el_events *ev, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	char file[PATH_MAX + 32];

	snprintf(file, sizeof(file), "%s/available_events", p->tfs.where);
	api->json_object(j, "source");
	api->json_string(j, "file", file);
	api->json_string(j, "found", p->tfs.how);
	api->json_bool(j, "mounted_by_schedmcp", p->tfs.mounted_by_us);
	api->json_uint(j, "lines", ev->c.lines);
	if (ev->c.duplicates)
		api->json_uint(j, "duplicate_lines", ev->c.duplicates);
	if (ev->c.malformed)
		api->json_uint(j, "malformed_lines", ev->c.malformed);
	return api->json_end(j);
}

int el_emit_kprobe_source(struct el_plugin *p, const struct el_kfuncs *kf, struct smcp_json *j)
{
	const struct smcp_host_api *api = p->api;
	const struct kf_list *l = &kf->l;
	char note[512];

	api->json_object(j, "source");
	api->json_string(j, "name", el_kf_source_name(l->source));
	api->json_string(j, "detail", l->source_note);
	api->json_string(j, "blacklist", l->blacklist_note);
	api->json_uint(j, "build_ms", kf->build_us / 1000);
	api->json_end(j);
	api->json_object(j, "excluded");
	api->json_uint(j, "kprobe_blacklist", l->ex.blacklist);
	api->json_uint(j, "init_text", l->ex.init_text);
	api->json_uint(j, "non_probeable_sections", l->ex.sections);
	api->json_uint(j, "padding_symbols", l->ex.padding);
	api->json_uint(j, "not_functions", l->ex.not_functions);
	api->json_uint(j, "invalid_addresses", l->ex.invalid);
	api->json_uint(j, "duplicate_names", l->ex.duplicates);
	api->json_end(j);
	api->json_object(j, "kprobes");
	api->json_bool(j, "kernel_has_kprobes", l->kprobes_built);
	api->json_bool(j, "tracefs_kprobe_events", l->kprobe_events);
	if (!l->kprobes_built)
		snprintf(note, sizeof(note),
			 "this kernel was built without kprobes (no register_kprobe): nothing "
			 "here can be kprobed. The names still serve fentry/fexit BPF "
			 "programs (tracing via BTF trampolines) for functions BTF describes.");
	else if (!l->kprobe_events)
		snprintf(note, sizeof(note),
			 "kprobes exist but tracefs has no kprobe_events: BPF kprobes "
			 "(bpftrace kprobe:NAME, libbpf SEC(\"kprobe/NAME\")) work, perf "
			 "probe and tracefs kprobe_events do not.");
	else
		snprintf(note, sizeof(note),
			 "attach with bpftrace kprobe:NAME, libbpf SEC(\"kprobe/NAME\"), or "
			 "perf probe NAME; functions in a module: kprobe:MODULE:NAME.");
	api->json_string(j, "note", note);
	return api->json_end(j);
}

int el_emit_format(struct el_plugin *p, struct smcp_json *j, const char *key,
		   const char *full_name, bool with_print_fmt)
{
	const struct smcp_host_api *api = p->api;
	const char *ev = el_event_part(full_name);
	char sub[128], probe[300];
	struct ev_format f;
	size_t sl = (size_t)(ev - 1 - full_name);
	int err;

	snprintf(sub, sizeof(sub), "%.*s", (int)(sl < sizeof(sub) ? sl : sizeof(sub) - 1),
		 full_name);
	api->json_object(j, key);
	api->json_string(j, "event", full_name);
	err = el_format_read(p->tfs.dir, sub, ev, &f);
	if (err) {
		char why[200];

		snprintf(why, sizeof(why), "format unavailable: %s/events/%s/%s/format: %s",
			 p->tfs.where, sub, ev, strerror(-err));
		api->json_string(j, "error", why);
		return api->json_end(j);
	}
	if (f.id >= 0)
		api->json_int(j, "id", f.id);
	snprintf(probe, sizeof(probe), "tracepoint:%s:%s", sub, ev);
	api->json_string(j, "bpftrace", probe);
	snprintf(probe, sizeof(probe), "SEC(\"tp/%s/%s\")", sub, ev);
	api->json_string(j, "libbpf", probe);
	api->json_array(j, "fields");
	for (size_t i = 0; i < f.n_fields; i++) {
		const struct ev_field *fl = &f.fields[i];

		if (fl->common)
			continue;
		api->json_object(j, NULL);
		api->json_string(j, "name", fl->name);
		api->json_string(j, "type", fl->type);
		api->json_int(j, "offset", fl->offset);
		api->json_int(j, "size", fl->size);
		api->json_bool(j, "signed", fl->is_signed);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_array(j, "common_fields");
	for (size_t i = 0; i < f.n_fields; i++)
		if (f.fields[i].common)
			api->json_string(j, NULL, f.fields[i].name);
	api->json_end(j);
	if (f.n_skipped)
		api->json_uint(j, "unparsed_field_lines", f.n_skipped);
	if (with_print_fmt && f.print_fmt)
		api->json_string(j, "print_fmt", f.print_fmt);
	api->json_string(j, "access", "bpftrace reads fields as args.NAME; common_fields "
				      "exist in every event");
	el_format_free(&f);
	return api->json_end(j);
}

/* ------------------------------------------------------------- resources */

static int events_unavailable(struct el_plugin *p, struct smcp_result *res)
{
	(void)p->api->result_error(res, "tracepoints unavailable: %s", p->ev_reason);
	return -EIO;
}

static int perf_run(struct el_plugin *p, struct el_call *c)
{
	const struct smcp_host_api *api = p->api;
	const struct ev_subsys *sched;
	const struct ev_catalog *ev;
	struct smcp_json *j;
	bool cut = false;
	size_t shown;

	if (!p->ev)
		return events_unavailable(p, c->res);
	ev = &p->ev->c;
	j = api->result_json(c->res);
	if (!j)
		return -ENOMEM;
	api->json_uint(j, "total_events", ev->n);
	api->json_uint(j, "total_subsystems", ev->n_subs);
	el_emit_tracefs_source(p, p->ev, j);
	/* the sched events first, the subsystems after: each list ends where
	 * the answer is full (max_result_bytes), which "shown" then says */
	sched = el_catalog_subsys(ev, "sched");
	if (sched && sched->count <= 64) {
		api->json_array(j, "sched_events");
		for (uint32_t i = 0; i < sched->count && !cut; i++) {
			smcp_json_item_begin(api, j);
			api->json_string(j, NULL, ev_catalog_name(ev, sched->first + i));
			cut = !smcp_json_item_fits(api, j);
		}
		api->json_end(j);
	}
	api->json_array(j, "subsystems");
	for (shown = 0; shown < ev->n_subs && !cut; shown++) {
		smcp_json_item_begin(api, j);
		api->json_object(j, NULL);
		api->json_string(j, "subsystem", ev->subs[shown].name);
		api->json_uint(j, "count", ev->subs[shown].count);
		api->json_end(j);
		if (!smcp_json_item_fits(api, j))
			break;
	}
	api->json_end(j);
	if (shown < ev->n_subs)
		api->json_uint(j, "subsystems_shown", shown);
	return api->json_string(
		j, "more",
		"events://perf/{subsystem} lists one subsystem's events (e.g. events://perf/sched); "
		"events://perf/{subsystem}/{event} gives an event's fields and types; list_events "
		"{\"event_type\":\"perf\",\"filter\":\"wakeup\"} searches every subsystem and pages");
}

static int perf_subsys_run(struct el_plugin *p, struct el_call *c)
{
	const struct smcp_host_api *api = p->api;
	const struct ev_subsys *s;
	struct smcp_json *j;
	uint32_t shown;

	if (!p->ev)
		return events_unavailable(p, c->res);
	s = el_catalog_subsys(&p->ev->c, c->sub);
	if (!s) {
		(void)p->api->result_error(c->res, "no tracepoint subsystem '%s' in tracefs: "
						   "events://perf lists them", c->sub);
		return -ENOENT;
	}
	j = api->result_json(c->res);
	if (!j)
		return -ENOMEM;
	shown = s->count < EL_SUBSYS_MAX_ROWS ? s->count : EL_SUBSYS_MAX_ROWS;
	api->json_string(j, "subsystem", s->name);
	api->json_uint(j, "count", s->count);
	api->json_uint(j, "shown", shown);
	api->json_bool(j, "has_more", shown < s->count);
	api->json_array(j, "events");
	for (uint32_t i = 0; i < shown; i++)
		api->json_string(j, NULL, ev_catalog_name(&p->ev->c, s->first + i));
	api->json_end(j);
	if (shown < s->count) {
		char more[256];

		snprintf(more, sizeof(more),
			 "cut at %u of %u: list_events {\"event_type\":\"perf\",\"subsystem\":"
			 "\"%s\",\"offset\":%u} gives the rest, or narrow with a filter",
			 shown, s->count, s->name, shown);
		return api->json_string(j, "more", more);
	}
	return api->json_string(j, "more", "events://perf/{subsystem}/{event} gives one event's "
					   "fields; list_events with include_format gives several");
}

/* Whether subsystem:event is in the catalog (within the subsystem's range). */
static bool catalog_has(const struct ev_catalog *c, const struct ev_subsys *s, const char *full)
{
	for (uint32_t i = 0; i < s->count; i++)
		if (strcmp(ev_catalog_name(c, s->first + i), full) == 0)
			return true;
	return false;
}

static int perf_event_run(struct el_plugin *p, struct el_call *c)
{
	const struct ev_subsys *s;
	struct smcp_json *j;
	char full[300];

	if (!p->ev)
		return events_unavailable(p, c->res);
	s = el_catalog_subsys(&p->ev->c, c->sub);
	snprintf(full, sizeof(full), "%s:%s", c->sub, c->name);
	if (!s || !catalog_has(&p->ev->c, s, full)) {
		(void)p->api->result_error(c->res,
					   "no tracepoint %s in tracefs: %s lists %s", full,
					   s ? "events://perf/{subsystem}" : "events://perf",
					   s ? "a subsystem's events" : "the subsystems");
		return -ENOENT;
	}
	j = p->api->result_json(c->res);
	if (!j)
		return -ENOMEM;
	return el_emit_format(p, j, "format", full, true);
}

static int kprobe_run(struct el_plugin *p, struct el_call *c)
{
	const struct smcp_host_api *api = p->api;
	const struct kf_list *l;
	struct smcp_json *j;
	size_t shown;

	if (!p->kf) {
		(void)api->result_error(c->res, "kernel function list unavailable: %s",
					p->kf_reason);
		return -EIO;
	}
	l = &p->kf->l;
	j = api->result_json(c->res);
	if (!j)
		return -ENOMEM;
	shown = l->n < EL_KPROBE_PREVIEW ? l->n : EL_KPROBE_PREVIEW;
	api->json_uint(j, "total_functions", l->n);
	el_emit_kprobe_source(p, p->kf, j);
	api->json_uint(j, "total_modules", l->n_mods);
	api->json_array(j, "modules");
	for (size_t i = 0; i < l->n_mods && i < 64; i++) {
		api->json_object(j, NULL);
		api->json_string(j, "module", l->mods[i].name);
		api->json_uint(j, "count", l->mods[i].count);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_uint(j, "offset", 0);
	api->json_array(j, "functions");
	for (size_t i = 0; i < shown; i++) {
		char row[600];

		smcp_json_item_begin(api, j);
		if (strcmp(l->mods[l->fn[i].mod].name, "vmlinux") == 0)
			api->json_string(j, NULL, kf_name(l, i));
		else {
			snprintf(row, sizeof(row), "%s [%s]", kf_name(l, i),
				 l->mods[l->fn[i].mod].name);
			api->json_string(j, NULL, row);
		}
		if (!smcp_json_item_fits(api, j))
			shown = i; /* the answer is full (max_result_bytes) */
	}
	api->json_end(j);
	api->json_uint(j, "shown", shown);
	api->json_bool(j, "has_more", shown < l->n);
	return api->json_string(
		j, "more",
		"the first functions in name order only: list_events {\"event_type\":\"kprobe\","
		"\"filter\":\"^try_to_wake\",\"limit\":100,\"offset\":0} searches all of them "
		"(case-insensitive regex) and pages with offset; subsystem picks one module "
		"(vmlinux for the kernel image)");
}

/* A read answered by run once the lists in want are there; sub and ev are
 * the template's variables (copied: the call may wait for a list). */
static int read_with(struct el_plugin *p, struct smcp_call *call, struct smcp_result *res,
		     int (*run)(struct el_plugin *, struct el_call *), unsigned want,
		     const char *sub, const char *ev)
{
	struct el_call *c = el_call_new(p, call, res, run, want);

	if (!c)
		return -ENOMEM;
	if (el_call_str(&c->sub, sub) || el_call_str(&c->name, ev)) {
		el_call_free(c);
		return -ENOMEM;
	}
	return el_call_start(c);
}

static int perf_read(void *data, struct smcp_call *call, const char *uri,
		     const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, call, res, perf_run, EL_EVENTS, NULL, NULL);
}

static int perf_subsys_read(void *data, struct smcp_call *call, const char *uri,
			    const struct smcp_args *vars, struct smcp_result *res)
{
	struct el_plugin *p = data;
	const char *sub = NULL;

	if (p->api->arg_string(vars, "subsystem", &sub))
		return -ENOENT;
	return read_with(p, call, res, perf_subsys_run, EL_EVENTS, sub, NULL);
}

static int perf_event_read(void *data, struct smcp_call *call, const char *uri,
			   const struct smcp_args *vars, struct smcp_result *res)
{
	struct el_plugin *p = data;
	const char *sub = NULL, *ev = NULL;

	if (p->api->arg_string(vars, "subsystem", &sub) || p->api->arg_string(vars, "event", &ev))
		return -ENOENT;
	return read_with(p, call, res, perf_event_run, EL_EVENTS, sub, ev);
}

static int kprobe_read(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	return read_with(data, call, res, kprobe_run, EL_KFUNCS, NULL, NULL);
}

/* ------------------------------------------------------------ completion */

static int complete_perf(void *data, const char *arg_name, const char *prefix,
			 const struct smcp_args *context, struct smcp_completion *out)
{
	struct el_plugin *p = data;
	const struct smcp_host_api *api = p->api;
	const struct ev_catalog *ev;
	size_t pl = strlen(prefix);
	uint32_t total = 0;

	/* a completion cannot wait: it offers the cached catalog (re-read in
	 * the background when stale), or nothing until the first read is in */
	(void)el_cache_need(p, EL_EVENTS);
	if (!p->ev)
		return 0;
	ev = &p->ev->c;
	if (strcmp(arg_name, "subsystem") == 0) {
		for (size_t i = 0; i < ev->n_subs; i++) {
			if (strncmp(ev->subs[i].name, prefix, pl) != 0)
				continue;
			total++;
			(void)api->completion_add(out, ev->subs[i].name);
		}
	} else if (strcmp(arg_name, "event") == 0) {
		const char *sub = NULL;
		const struct ev_subsys *s;

		if (!context || api->arg_string(context, "subsystem", &sub))
			return 0;
		s = el_catalog_subsys(ev, sub);
		for (uint32_t i = 0; s && i < s->count; i++) {
			const char *name = el_event_part(ev_catalog_name(ev, s->first + i));

			if (strncmp(name, prefix, pl) != 0)
				continue;
			total++;
			(void)api->completion_add(out, name);
		}
	}
	return api->completion_total(out, total);
}

/* ------------------------------------------------------------ lifecycle */

static const struct smcp_resource_desc el_resources[] = { {
	SMCP_RESOURCE("events://perf"),
	.name = "tracepoints",
	.title = "Tracepoints by subsystem",
	.description = "Tracepoints from tracefs available_events: total, each subsystem "
		       "with its event count, and the sched subsystem's events. One "
		       "subsystem's events: events://perf/{subsystem}; an event's fields: "
		       "events://perf/{subsystem}/{event}; search: list_events.",
	.mime_type = "application/json",
	.read = perf_read,
	.data = &plugin,
}, {
	SMCP_RESOURCE("events://perf/{subsystem}"),
	.name = "tracepoint-subsystem",
	.title = "Tracepoints of one subsystem",
	.description = "The tracepoints of one tracefs subsystem as subsystem:event "
		       "names (at most 400; list_events pages the rest). Subsystem names "
		       "complete.",
	.mime_type = "application/json",
	.read = perf_subsys_read,
	.complete = complete_perf,
	.data = &plugin,
}, {
	SMCP_RESOURCE("events://perf/{subsystem}/{event}"),
	.name = "tracepoint-format",
	.title = "One tracepoint's format",
	.description = "A tracepoint's id, fields (name, C type, offset, size, signed), "
		       "common fields, print format, and how to attach to it from bpftrace "
		       "and libbpf. Subsystem and event names complete.",
	.mime_type = "application/json",
	.read = perf_event_read,
	.complete = complete_perf,
	.data = &plugin,
}, {
	SMCP_RESOURCE("events://kprobe"),
	.name = "kernel-functions",
	.title = "Probe-able kernel functions",
	.description = "Kernel functions a kprobe (or fentry) can attach to: total, per "
		       "module counts, which source was used (available_filter_functions, "
		       "else /proc/kallsyms text symbols) minus the kprobe blacklist, "
		       "whether this kernel has kprobes, and the first 100 names. "
		       "list_events with event_type kprobe searches and pages the rest.",
	.mime_type = "application/json",
	.read = kprobe_read,
	.data = &plugin,
} };

static int el_register_resources(struct el_plugin *p)
{
	return smcp_register_resources(p->host, p->api, el_resources, SMCP_COUNT(el_resources));
}

static int el_init(struct smcp_host *host, const struct smcp_host_api *api)
{
	struct el_plugin *p = &plugin;
	int64_t ttl = 30;
	int err;

	memset(p, 0, sizeof(*p));
	p->host = host;
	p->api = api;
	snprintf(p->root, sizeof(p->root), "%s", api->fs_root(host));
	p->may_mount = true;
	(void)api->config_bool(host, "mount_tracefs", &p->may_mount);
	/* tracefs is root's alone (0700, files 0440), and is read on demand;
	 * mounting it when a read finds it unmounted needs CAP_SYS_ADMIN */
	err = api->keep_capabilities(host, 1ull << CAP_DAC_READ_SEARCH |
						   (p->may_mount ? 1ull << CAP_SYS_ADMIN : 0));
	if (err)
		return err;
	(void)api->config_int(host, "cache_ttl_s", &ttl);
	p->ttl_ns = (uint64_t)ttl * 1000000000ull;
	err = el_register_resources(p);
	if (!err)
		err = el_register_tools(p);
	if (!err)
		err = el_steps_register(host, api);
	if (err)
		return err;
	/* tracepoints now (cheap, and it says early whether tracefs works);
	 * the function list on first use, on a worker (kallsyms takes tens
	 * of ms) */
	el_cache_init(p);
	if (!p->ev)
		api->log(host, SMCP_LOG_WARNING, "tracepoints unavailable: %s", p->ev_reason);
	return 0;
}

static void el_fini(struct smcp_host *host)
{
	el_cache_fini(&plugin);
	memset(&plugin, 0, sizeof(plugin));
}

SMCP_PLUGIN_DEFINE("event_lister", "0.1.0",
		   "tracepoints from tracefs and probe-able kernel functions, searchable and paginated",
		   .config_keys = el_config, .init = el_init, .fini = el_fini)
