/* SPDX-License-Identifier: MIT */
/*
 * Answers: results grouped by symbol, stack, process or CPU (JSON, or
 * folded stacks for flame graphs), the status resource and the summary
 * every answer starts with. Every answer stays within cfg.result_bytes of
 * JSON (the host also mirrors it as text) and says what it left out.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_plugin.h"

#define MAX_OUT_FRAMES 64
#define TOP_PER_GROUP 3
#define STACKS_PER_SYMBOL 3
#define MAX_NAME 200

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? round(10000.0 * (double)part / (double)whole) / 100.0 : 0.0;
}

double pp_elapsed_s(const struct pp_plugin *pp)
{
	uint64_t end;

	if (pp->state == PP_IDLE || !pp->meta.start_ns)
		return 0;
	end = pp->state == PP_RUNNING ? pp->api->now_ns(pp->host) : pp->meta.stop_ns;
	return round((double)(end - pp->meta.start_ns) / 1e7) / 100.0;
}

static const char *state_name(enum pp_state s)
{
	return s == PP_RUNNING ? "running" : s == PP_STOPPED ? "stopped" : "idle";
}

/* Symbol names can be kilobytes (C++ templates): keep answers bounded. */
static const char *clip(const char *s, char *buf, size_t len)
{
	if (strlen(s) < len)
		return s;
	snprintf(buf, len, "%.*s...", (int)len - 4, s);
	return buf;
}

void pp_out_summary(struct pp_plugin *pp, struct smcp_json *j)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_meta *m = &pp->meta;
	const struct pp_profile *p = &pp->prof;

	api->json_string(j, "state", state_name(pp->state));
	if (pp->state == PP_IDLE)
		return;
	api->json_string(j, "event", m->ev.name);
	if (strcmp(m->requested, m->ev.name) != 0)
		api->json_string(j, "requested_event", m->requested);
	if (m->note[0])
		api->json_string(j, "note", m->note);
	if (m->ev.is_tracepoint)
		api->json_string(j, "sampling", "every tracepoint hit");
	else
		api->json_int(j, "frequency_hz", m->freq_hz);
	if (m->pid >= 0)
		api->json_int(j, "pid", m->pid);
	else
		api->json_string(j, "scope", "all processes");
	if (m->cpu >= 0)
		api->json_int(j, "cpu", m->cpu);
	api->json_string(j, "unwind", m->dwarf ? "dwarf+frame_pointer" : "frame_pointer");
	api->json_double(j, "elapsed_secs", pp_elapsed_s(pp));
	if (m->duration_s > 0)
		api->json_double(j, "duration_secs", m->duration_s);
	if (pp->state == PP_STOPPED)
		api->json_string(j, "stopped_because", m->stop_reason);
	api->json_uint(j, "samples", p->samples);
	if (p->lost_samples)
		api->json_uint(j, "lost_samples", p->lost_samples);
	if (p->dropped_samples)
		api->json_uint(j, "dropped_samples", p->dropped_samples);
	api->json_object(j, "unwind_methods");
	for (int i = 0; i < PP_UNW__N; i++)
		api->json_uint(j, pp_unwind_method_name(i), p->by_method[i]);
	api->json_end(j);
}

/* "leaf_a (workload)", "schedule [k]", "bpf_prog_x_y [bpf]" */
static void frame_label(const struct pp_symrow *r, char *buf, size_t len)
{
	char c[MAX_NAME + 4];

	if (r->kernel && strcmp(r->module, "[kernel.kallsyms]") == 0)
		snprintf(buf, len, "%s [k]", clip(r->name, c, sizeof(c)));
	else if (r->kernel)
		snprintf(buf, len, "%s %s", clip(r->name, c, sizeof(c)), r->module);
	else
		snprintf(buf, len, "%s (%s)", clip(r->name, c, sizeof(c)), r->module);
}

/* Frames root first, at most MAX_OUT_FRAMES (the leaf side is kept).
 * Returns the bytes it added, roughly. */
static size_t put_frames(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
			 uint32_t stack)
{
	const struct smcp_host_api *api = pp->api;
	unsigned int n = pp_stack_len(&pp->prof, stack), skip = 0;
	char buf[MAX_NAME + 64];
	size_t bytes = 12;

	if (n > MAX_OUT_FRAMES)
		skip = n - MAX_OUT_FRAMES;
	api->json_array(j, "frames");
	if (skip) {
		snprintf(buf, sizeof(buf), "... %u outer frames not shown", skip);
		api->json_string(j, NULL, buf);
	}
	/* stacks are leaf first: walk from the root end */
	for (unsigned int i = n - skip; i-- > 0;) {
		frame_label(&a->rows[pp_agg_frame_row(a, stack, i)], buf, sizeof(buf));
		api->json_string(j, NULL, buf);
		bytes += strlen(buf) + 4;
	}
	api->json_end(j);
	return bytes;
}

static void put_row_ref(struct pp_plugin *pp, struct smcp_json *j, const struct pp_symrow *r)
{
	char c[MAX_NAME + 4];

	pp->api->json_string(j, "symbol", clip(r->name, c, sizeof(c)));
	pp->api->json_string(j, "module", r->module);
	pp->api->json_string(j, "kind", r->kernel ? "kernel" : "user");
}

struct budget {
	size_t used, limit;
	bool cut;
	uint32_t cut_at;
};

static bool over(struct budget *b, size_t more)
{
	if (b->used + more > b->limit)
		return true;
	b->used += more;
	return false;
}

static size_t row_cost(const struct pp_symrow *r)
{
	return strnlen(r->name, MAX_NAME) + strlen(r->module) + 110;
}

static void put_symbols(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
			const struct pp_report_opts *o, struct budget *b, uint32_t *ret_n)
{
	const struct smcp_host_api *api = pp->api;
	uint32_t n = 0;

	api->json_array(j, "symbols");
	for (size_t i = o->offset; i < a->n_sym_order && n < o->limit; i++) {
		const struct pp_symrow *r = &a->rows[a->sym_order[i]];
		uint32_t st[STACKS_PER_SYMBOL];
		uint64_t cnt[STACKS_PER_SYMBOL];
		size_t ns = 0, cost = row_cost(r);

		if (o->include_stacks) {
			ns = pp_agg_row_stacks(a, a->sym_order[i], st, cnt, STACKS_PER_SYMBOL);
			for (size_t k = 0; k < ns; k++)
				cost += 40 + 40 * pp_stack_len(&pp->prof, st[k]);
		}
		if (over(b, cost)) {
			b->cut = true;
			b->cut_at = (uint32_t)i;
			break;
		}
		api->json_object(j, NULL);
		put_row_ref(pp, j, r);
		api->json_uint(j, "self", r->self);
		api->json_double(j, "self_pct", pct(r->self, a->total));
		api->json_uint(j, "total", r->total);
		api->json_double(j, "total_pct", pct(r->total, a->total));
		if (ns) {
			api->json_array(j, "stacks");
			for (size_t k = 0; k < ns; k++) {
				api->json_object(j, NULL);
				api->json_uint(j, "count", cnt[k]);
				api->json_double(j, "pct", pct(cnt[k], a->total));
				put_frames(pp, j, a, st[k]);
				api->json_end(j);
			}
			api->json_end(j);
		}
		api->json_end(j);
		n++;
	}
	api->json_end(j);
	*ret_n = n;
}

static void put_stacks(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
		       const struct pp_report_opts *o, struct budget *b, uint32_t *ret_n)
{
	const struct smcp_host_api *api = pp->api;
	size_t cap = 8192;
	char *buf = malloc(cap);
	uint32_t n = 0;

	api->json_array(j, "stacks");
	for (size_t i = o->offset; buf && i < a->n_stacks && n < o->limit; i++) {
		const struct pp_agg_stack *s = &a->stacks[i];
		size_t need = pp_agg_folded(a, s->stack, s->comm, buf, cap), cost;

		if (need >= cap) {
			char *nb = realloc(buf, need + 1);

			if (!nb)
				break;
			buf = nb;
			cap = need + 1;
			pp_agg_folded(a, s->stack, s->comm, buf, cap);
		}
		cost = need + 60 + (o->include_stacks ? 40 * pp_stack_len(&pp->prof, s->stack) : 0);
		if (over(b, cost)) {
			b->cut = true;
			b->cut_at = (uint32_t)i;
			break;
		}
		api->json_object(j, NULL);
		api->json_uint(j, "count", s->count);
		api->json_double(j, "pct", pct(s->count, a->total));
		if (s->comm)
			api->json_string(j, "comm", s->comm);
		api->json_string(j, "folded", buf);
		if (o->include_stacks)
			put_frames(pp, j, a, s->stack);
		api->json_end(j);
		n++;
	}
	api->json_end(j);
	free(buf);
	*ret_n = n;
}

static void put_groups(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
		       const struct pp_report_opts *o, struct budget *b, uint32_t *ret_n)
{
	const struct smcp_host_api *api = pp->api;
	bool by_proc = o->group == PP_GROUP_PROCESS;
	uint32_t n = 0;

	api->json_array(j, by_proc ? "processes" : "cpus");
	for (size_t i = o->offset; i < a->n_groups && n < o->limit; i++) {
		const struct pp_agg_group *g = &a->groups[i];
		uint32_t rows[TOP_PER_GROUP];
		uint64_t cnt[TOP_PER_GROUP];
		size_t nt = pp_agg_group_top(a, g->key, rows, cnt, TOP_PER_GROUP), cost = 80;

		for (size_t k = 0; k < nt; k++)
			cost += row_cost(&a->rows[rows[k]]);
		if (over(b, cost)) {
			b->cut = true;
			b->cut_at = (uint32_t)i;
			break;
		}
		api->json_object(j, NULL);
		if (by_proc) {
			api->json_int(j, "pid", g->key);
			api->json_string(j, "comm", g->comm);
		} else {
			api->json_int(j, "cpu", g->key);
		}
		api->json_uint(j, "samples", g->count);
		api->json_double(j, "pct", pct(g->count, a->total));
		api->json_array(j, "top_symbols");
		for (size_t k = 0; k < nt; k++) {
			api->json_object(j, NULL);
			put_row_ref(pp, j, &a->rows[rows[k]]);
			api->json_uint(j, "self", cnt[k]);
			api->json_double(j, "pct_of_group", pct(cnt[k], g->count));
			api->json_end(j);
		}
		api->json_end(j);
		api->json_end(j);
		n++;
	}
	api->json_end(j);
	*ret_n = n;
}

/* Files whose frames did not resolve, and why. */
static void put_unresolved(struct pp_plugin *pp, struct smcp_json *j, const struct pp_agg *a,
			   struct budget *b)
{
	const struct smcp_host_api *api = pp->api;
	int shown = 0;

	for (size_t i = 0; i < a->n_sym_order && shown < 5; i++) {
		const struct pp_symrow *r = &a->rows[a->sym_order[i]];
		const struct pp_module *m;
		const char *why;

		if (r->resolved || r->kernel || r->mod == PP_MOD_UNKNOWN ||
		    r->mod >= pp->prof.procs.n_mods || !r->self)
			continue;
		m = &pp->prof.procs.mods[r->mod];
		if (m->elf)
			why = m->elf->debug_note ? m->elf->debug_note :
						   "addresses outside every function symbol";
		else
			why = pp_elf_strerror(m->load_err);
		if (over(b, strlen(m->path) + strlen(why) + 80))
			break;
		if (!shown)
			api->json_array(j, "unresolved");
		api->json_object(j, NULL);
		api->json_string(j, "file", m->path);
		api->json_uint(j, "self", r->self);
		api->json_string(j, "why", why);
		api->json_end(j);
		shown++;
	}
	if (shown)
		api->json_end(j);
}

static int put_folded(struct pp_plugin *pp, struct smcp_result *res, const struct pp_agg *a,
		      const struct pp_report_opts *o)
{
	const struct smcp_host_api *api = pp->api;
	size_t limit = (size_t)pp->cfg.result_bytes * 2, len = 0, cap = 4096;
	char *out = malloc(cap), *line = malloc(8192);
	size_t i, n = 0;
	int err = 0;

	if (!out || !line) {
		err = -ENOMEM;
		goto out;
	}
	out[0] = '\0';
	for (i = o->offset; i < a->n_stacks && n < o->limit; i++) {
		const struct pp_agg_stack *s = &a->stacks[i];
		size_t need = pp_agg_folded(a, s->stack, s->comm, line, 8192);
		int w;

		if (need >= 8192 || len + need + 24 > limit)
			break;
		if (len + need + 24 > cap) {
			char *no;

			while (len + need + 24 > cap)
				cap *= 2;
			no = realloc(out, cap);
			if (!no) {
				err = -ENOMEM;
				goto out;
			}
			out = no;
		}
		w = snprintf(out + len, cap - len, "%s %llu\n", line, (unsigned long long)s->count);
		len += (size_t)w;
		n++;
	}
	err = api->result_text(res, out);
	if (!err)
		err = api->result_textf(
			res,
			"# folded stacks %zu-%zu of %zu (%llu samples in all%s); %s",
			n ? (size_t)o->offset + 1 : 0, (size_t)o->offset + n, a->n_stacks,
			(unsigned long long)a->total, o->pid >= 0 ? " of this pid" : "",
			i < a->n_stacks ? "more: call again with offset set to the next index, "
					  "or narrow with pid" :
					  "complete");
out:
	free(out);
	free(line);
	return err;
}

/*
 * Kernel symbols are read lazily and kept across profiles: reading
 * /proc/kallsyms costs ~150 ms, and only modules change it (BPF programs
 * loaded while sampling come as PERF_RECORD_KSYMBOL). A kernel frame that
 * still does not resolve triggers one more read per profile.
 */
void pp_kallsyms_refresh(struct pp_plugin *pp, bool force)
{
	const char *root = pp->api->fs_root(pp->host);
	uint64_t h = 0;
	char *mods;
	size_t len;

	if (smcp_slurp(root, "/proc/modules", 4 << 20, &mods, &len) == 0) {
		h = pp_hash_bytes(mods, len, 0);
		free(mods);
	}
	if (!force && pp->ks_loaded && h == pp->ks_modules_hash)
		return;
	pp->ks_err = pp_kallsyms_load(&pp->ks, root);
	pp->ks_loaded = true;
	pp->ks_modules_hash = h;
}

static int build_agg(struct pp_plugin *pp, struct pp_agg *a, const struct pp_report_opts *o)
{
	bool kernel = !pp->meta.kernel_excluded;
	int err;

	if (kernel)
		pp_kallsyms_refresh(pp, false);
	err = pp_agg_build(a, &pp->prof, pp->ks_err ? NULL : &pp->ks, pp->cfg.debug_dir, o->group,
			   o->pid);
	if (err || !kernel || !a->kernel_unresolved || pp->ks_retried_for == pp->profiles_run)
		return err;
	/* loaded after our snapshot (a module, an older BPF program): read again */
	pp->ks_retried_for = pp->profiles_run;
	pp_kallsyms_refresh(pp, true);
	pp_agg_free(a);
	return pp_agg_build(a, &pp->prof, pp->ks_err ? NULL : &pp->ks, pp->cfg.debug_dir,
			    o->group, o->pid);
}

int pp_out_results(struct pp_plugin *pp, struct smcp_result *res, const struct pp_report_opts *o)
{
	const struct smcp_host_api *api = pp->api;
	static const char *const group_names[] = { "symbol", "stack", "process", "cpu" };
	struct budget b = { .limit = pp->cfg.result_bytes };
	struct pp_agg a;
	struct smcp_json *j;
	size_t total_rows;
	uint32_t n = 0;
	int err;

	err = build_agg(pp, &a, o);
	if (err)
		goto out;
	if (o->folded) {
		err = put_folded(pp, res, &a, o);
		goto out;
	}
	j = api->result_json(res);
	if (!j) {
		err = -ENOMEM;
		goto out;
	}
	pp_out_summary(pp, j);
	api->json_string(j, "group_by", group_names[o->group]);
	if (o->pid >= 0) {
		api->json_int(j, "filter_pid", o->pid);
		api->json_uint(j, "filtered_samples", a.total);
	}
	b.used = 600;
	switch (o->group) {
	case PP_GROUP_SYMBOL:
		total_rows = a.n_sym_order;
		put_symbols(pp, j, &a, o, &b, &n);
		break;
	case PP_GROUP_STACK:
		total_rows = a.n_stacks;
		put_stacks(pp, j, &a, o, &b, &n);
		break;
	default:
		total_rows = a.n_groups;
		put_groups(pp, j, &a, o, &b, &n);
		break;
	}
	api->json_object(j, "page");
	api->json_uint(j, "offset", o->offset);
	api->json_uint(j, "returned", n);
	api->json_uint(j, "total", total_rows);
	if (o->offset + n < total_rows)
		api->json_uint(j, "next_offset", o->offset + n);
	api->json_end(j);
	api->json_object(j, "symbolisation");
	api->json_uint(j, "distinct_frames", a.frames_symbolised);
	api->json_uint(j, "resolved", a.frames_resolved);
	if (pp->meta.kernel_excluded)
		api->json_string(j, "kernel", "not sampled");
	else if (pp->ks_err)
		api->json_string(j, "kernel", "no /proc/kallsyms: kernel frames unresolved");
	else if (pp->ks.restricted)
		api->json_string(j, "kernel",
				 "kallsyms addresses hidden (kernel.kptr_restrict or no privilege)");
	api->json_end(j);
	put_unresolved(pp, j, &a, &b);
	api->json_array(j, "notes");
	if (b.cut)
		api->json_string(j, NULL,
				 "cut to keep the answer small: call again with offset set to "
				 "page.next_offset, a smaller limit, include_stacks false, or pid");
	else if (o->offset + n < total_rows)
		api->json_string(j, NULL, "more rows: call again with offset set to page.next_offset");
	if (pp->prof.lost_samples)
		api->json_string(j, NULL,
				 "the kernel dropped samples when the ring buffer filled: lower "
				 "frequency_hz or raise ring_pages in the config");
	if (pp->prof.dropped_samples)
		api->json_string(j, NULL,
				 "samples with new stacks were dropped after max_stacks distinct "
				 "stacks (config max_stacks)");
	if (o->group == PP_GROUP_SYMBOL)
		api->json_string(j, NULL,
				 "self: samples with the symbol as leaf; total: samples with it "
				 "anywhere on the stack. format folded gives flame-graph input");
	api->json_end(j);
out:
	pp_agg_free(&a);
	return err;
}

int pp_out_status(struct pp_plugin *pp, struct smcp_json *j)
{
	const struct smcp_host_api *api = pp->api;
	const struct pp_elf_cache_stats *cs = &pp->cache.st;

	pp_out_summary(pp, j);
	api->json_object(j, "capabilities");
	api->json_bool(j, "perf_event_open", pp->perf_ok);
	if (!pp->perf_ok)
		api->json_string(j, "perf_error", pp->perf_err);
	api->json_bool(j, "privileged", pp->privileged);
	api->json_int(j, "perf_event_paranoid", pp->paranoid);
	api->json_bool(j, "system_wide", pp->perf_ok && (pp->privileged || pp->paranoid <= 0));
	api->json_bool(j, "kernel_stacks", pp->perf_ok && (pp->privileged || pp->paranoid <= 1));
	api->json_bool(j, "hardware_events", pp->hw_ok);
	api->json_bool(j, "dwarf_unwinding", pp->unw && pp->cfg.stack_bytes > 0);
	api->json_int(j, "max_frequency_hz", pp->max_rate);
	api->json_end(j);
	if (pp->state == PP_RUNNING) {
		api->json_object(j, "resources_held");
		api->json_uint(j, "perf_fds", pp->meta.n_fds);
		api->json_uint(j, "ring_buffers", pp->meta.n_rings);
		api->json_uint(j, "ring_bytes", pp->meta.ring_bytes);
		if (pp->meta.pid >= 0)
			api->json_uint(j, "threads_at_start", pp->meta.n_threads);
		api->json_end(j);
	}
	if (pp->have_prof) {
		api->json_object(j, "profile_memory");
		api->json_uint(j, "distinct_stacks", pp->prof.n_stacks);
		api->json_uint(j, "processes", pp->prof.procs.n);
		api->json_uint(j, "files", pp->prof.procs.n_mods - 1);
		api->json_uint(j, "bytes", pp_profile_mem(&pp->prof));
		api->json_uint(j, "dwarf_attempts", pp->prof.dwarf_attempts);
		api->json_uint(j, "dwarf_failures", pp->prof.dwarf_failures);
		api->json_end(j);
	}
	api->json_object(j, "symbol_cache");
	api->json_uint(j, "files", pp->cache.n_entries);
	api->json_uint(j, "max_files", pp->cache.max_entries);
	api->json_uint(j, "lookups", cs->lookups);
	api->json_uint(j, "hits", cs->hits);
	api->json_uint(j, "loads", cs->loads);
	api->json_uint(j, "debug_files", cs->debug_files);
	api->json_uint(j, "evictions", cs->evictions);
	api->json_string(j, "debug_dir", pp->cfg.debug_dir);
	api->json_end(j);
	api->json_object(j, "kallsyms");
	if (!pp->ks_loaded) {
		api->json_string(j, "state", "read when the first results with kernel frames are");
	} else if (pp->ks_err) {
		api->json_string(j, "error", strerror(-pp->ks_err));
	} else {
		api->json_uint(j, "symbols", pp->ks.n);
		api->json_uint(j, "module_symbols", pp->ks.n_modules_syms);
		api->json_uint(j, "bpf_programs", pp->ks.n_bpf);
		api->json_bool(j, "restricted", pp->ks.restricted);
	}
	api->json_end(j);
	return 0;
}
