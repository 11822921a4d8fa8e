/* SPDX-License-Identifier: MIT */
#include "inv_emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/bpf.h>

/* Programs named in a cost summary of bpf://programs. */
#define COST_TOP 5
/* Bytes of program rows in bpf://programs before the rest go to more_ids. */
#define INV_ROWS_BYTES 56000
/* Ids listed (not described) past max_rows, so every program stays reachable. */
#define MORE_IDS_MAX 4000

static const char *const so_states[] = { "init", "inuse", "tobefree", "ready" };

static void emit_owners(const struct inv_emit *e, const struct inv_owners *o)
{
	const struct smcp_host_api *api = e->api;

	if (!e->s->owners_scanned)
		return;
	api->json_array(e->j, "owners");
	for (uint32_t i = 0; i < o->n; i++) {
		api->json_object(e->j, NULL);
		api->json_int(e->j, "pid", o->o[i].pid);
		api->json_string(e->j, "comm", o->o[i].comm);
		api->json_end(e->j);
	}
	api->json_end(e->j);
	if (o->total > o->n)
		api->json_uint(e->j, "owner_count", o->total);
	if (o->self)
		api->json_bool(e->j, "this_daemon", true);
}

/* load_time is CLOCK_BOOTTIME; the wall clock is derived from now. */
static void emit_load_time(const struct inv_emit *e, uint64_t load_ns)
{
	struct timespec rt, bt;
	uint64_t boot_now, ago_ns;
	time_t when;
	struct tm tm;
	char iso[32];

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	boot_now = (uint64_t)bt.tv_sec * 1000000000ull + (uint64_t)bt.tv_nsec;
	ago_ns = boot_now > load_ns ? boot_now - load_ns : 0;
	when = rt.tv_sec - (time_t)(ago_ns / 1000000000ull);
	if (gmtime_r(&when, &tm) && strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm))
		e->api->json_string(e->j, "loaded_at", iso);
	e->api->json_uint(e->j, "loaded_s_ago", ago_ns / 1000000000ull);
}

static void emit_delta(const struct inv_emit *e, const char *key, const struct inv_delta *d)
{
	const struct smcp_host_api *api = e->api;
	double span_s = (double)d->span_ns / 1e9;

	api->json_object(e->j, key);
	api->json_double(e->j, "span_ms", (double)d->span_ns / 1e6);
	api->json_uint(e->j, "calls", d->calls);
	api->json_uint(e->j, "run_time_ns", d->run_ns);
	if (d->calls)
		api->json_double(e->j, "ns_per_call", (double)d->run_ns / (double)d->calls);
	else
		api->json_null(e->j, "ns_per_call");
	api->json_double(e->j, "calls_per_s", span_s > 0 ? (double)d->calls / span_s : 0);
	api->json_double(e->j, "cpu_pct",
			 d->span_ns ? 100.0 * (double)d->run_ns / (double)d->span_ns : 0);
	api->json_end(e->j);
}

static void emit_stats_state(const struct inv_emit *e)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_stats *st = e->st;
	int kernel = inv_stats_kernel_enabled();
	char note[512];

	api->json_object(e->j, "stats");
	api->json_bool(e->j, "collecting", inv_stats_running(st));
	api->json_bool(e->j, "stats_fd_held_by_schedmcp", st->fd >= 0);
	if (kernel >= 0)
		api->json_bool(e->j, "kernel_counting", kernel == 1);
	if (inv_stats_running(st)) {
		api->json_uint(e->j, "interval_ms", st->interval_ms);
		api->json_uint(e->j, "windows", st->windows);
		api->json_double(e->j, "running_s", (double)(e->now_ns - st->started_ns) / 1e9);
		if (st->stop_at_ns)
			api->json_double(e->j, "auto_stop_in_s",
					 st->stop_at_ns > e->now_ns
						 ? (double)(st->stop_at_ns - e->now_ns) / 1e9
						 : 0);
		else
			api->json_null(e->j, "auto_stop_in_s");
		snprintf(note, sizeof(note),
			 st->windows ? "window = the last %llu ms; since_start = since "
				       "collection started. cpu_pct is percent of one CPU."
				     : "collecting: the first window completes %llu ms after start",
			 (unsigned long long)st->interval_ms);
	} else if (st->windows) {
		snprintf(note, sizeof(note),
			 "not collecting (%s); windows shown are the last ones measured, "
			 "%.0f s ago. The stats fd is released.",
			 st->last_stop, (double)(e->now_ns - st->cur_ns) / 1e9);
	} else if (kernel == 1) {
		snprintf(note, sizeof(note),
			 "schedmcp is not sampling, but the kernel is counting (kernel."
			 "bpf_stats_enabled=1: the sysctl or another process's BPF_ENABLE_STATS "
			 "fd), so run_cnt/run_time_ns grow. control_stats_collection "
			 "{\"action\":\"sample\"} measures one window.");
	} else {
		snprintf(note, sizeof(note),
			 "run-time stats are off in the kernel (no BPF_ENABLE_STATS fd is held and "
			 "kernel.bpf_stats_enabled=0): run_cnt and run_time_ns hold only what was "
			 "counted while they were on, usually 0. control_stats_collection "
			 "{\"action\":\"sample\"} measures one window and releases the fd again; "
			 "start/stop keep sampling.");
	}
	api->json_string(e->j, "note", note);
	if (!inv_stats_running(st) && st->last_stop[0])
		api->json_string(e->j, "last_stop", st->last_stop);
	api->json_end(e->j);
}

static const char *prog_name(const struct inv_prog *p)
{
	return p->full_name[0] ? p->full_name : p->name;
}

static const struct inv_so_group *group_of(const struct inv_emit *e, const struct inv_prog *p)
{
	return p->group >= 0 && (size_t)p->group < e->s->n_groups ? &e->s->groups[p->group] : NULL;
}

static void emit_attach(const struct inv_emit *e, const struct inv_prog *p)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_so_group *g = group_of(e, p);
	bool any = false;

	api->json_array(e->j, "attach");
	for (size_t i = 0; i < e->s->n_links; i++) {
		if (e->s->links[i].prog_id != p->id || !e->s->links[i].target[0])
			continue;
		api->json_string(e->j, NULL, e->s->links[i].target);
		any = true;
	}
	if (g) {
		char t[256];

		snprintf(t, sizeof(t), "%s.%s of %s", g->kind, p->op, g->name[0] ? g->name : g->map_name);
		api->json_string(e->j, NULL, t);
	} else if (!any && p->target[0]) {
		api->json_string(e->j, NULL, p->target);
	}
	api->json_end(e->j);
}

static void emit_prog_fields(const struct inv_emit *e, const struct inv_prog *p, bool full)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_so_group *g = group_of(e, p);
	uint32_t n_maps = p->nr_map_ids < INV_MAX_MAP_IDS ? p->nr_map_ids : INV_MAX_MAP_IDS;
	struct inv_delta d;
	char buf[32], tag[17];

	for (int i = 0; i < 8; i++)
		snprintf(tag + 2 * i, 3, "%02x", p->tag[i]);
	api->json_uint(e->j, "id", p->id);
	api->json_string(e->j, "name", prog_name(p));
	if (full && p->full_name[0])
		api->json_string(e->j, "kernel_name", p->name);
	api->json_string(e->j, "type", inv_prog_type_name(p->type, buf, sizeof(buf)));
	api->json_uint(e->j, "type_id", p->type);
	api->json_string(e->j, "tag", tag);
	emit_load_time(e, p->load_time_ns);
	api->json_uint(e->j, "uid", p->uid);
	api->json_uint(e->j, "verified_insns", p->verified_insns);
	api->json_uint(e->j, "xlated_bytes", p->xlated_len);
	api->json_uint(e->j, "jited_bytes", p->jited_len);
	if (p->memlock >= 0)
		api->json_int(e->j, "memlock_bytes", p->memlock);
	api->json_array(e->j, "map_ids");
	for (uint32_t i = 0; i < n_maps; i++)
		api->json_uint(e->j, NULL, p->map_ids[i]);
	api->json_end(e->j);
	emit_attach(e, p);
	if (g) {
		api->json_object(e->j, "struct_ops");
		api->json_string(e->j, "kind", g->kind);
		api->json_string(e->j, "name", g->name);
		api->json_string(e->j, "op", p->op);
		api->json_uint(e->j, "map_id", g->map_id);
		api->json_end(e->j);
	}
	emit_owners(e, &p->owners);
	api->json_uint(e->j, "run_cnt", p->run_cnt);
	api->json_uint(e->j, "run_time_ns", p->run_time_ns);
	if (inv_stats_window(e->st, p->id, &d))
		emit_delta(e, "window", &d);
	if (!full)
		return;
	if (inv_stats_since_start(e->st, p->id, &d))
		emit_delta(e, "since_start", &d);
	if (p->run_cnt)
		api->json_double(e->j, "avg_ns_per_call_counted",
				 (double)p->run_time_ns / (double)p->run_cnt);
	api->json_uint(e->j, "recursion_misses", p->recursion_misses);
	api->json_bool(e->j, "gpl_compatible", p->gpl);
	api->json_uint(e->j, "btf_id", p->btf_id);
	api->json_uint(e->j, "func_info_count", p->nr_func_info);
	if (p->nr_map_ids > n_maps)
		api->json_uint(e->j, "map_count", p->nr_map_ids);
}

/* Cost of every program and of this daemon's over the last window. */
struct cost {
	struct inv_delta all, mine;
	size_t run_all, run_mine, n_mine;
	uint64_t span_ns;
};

static void sum_cost(const struct inv_emit *e, struct cost *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < e->s->n_progs; i++) {
		const struct inv_prog *p = &e->s->progs[i];
		struct inv_delta d;

		c->n_mine += p->owners.self;
		if (!inv_stats_window(e->st, p->id, &d))
			continue;
		c->span_ns = d.span_ns;
		c->all.calls += d.calls;
		c->all.run_ns += d.run_ns;
		c->run_all += d.calls > 0;
		if (p->owners.self) {
			c->mine.calls += d.calls;
			c->mine.run_ns += d.run_ns;
			c->run_mine += d.calls > 0;
		}
	}
	c->all.span_ns = c->mine.span_ns = c->span_ns;
}

static int cmp_window_cost(const void *a, const void *b, void *arg)
{
	const struct inv_emit *e = arg;
	const struct inv_prog *x = *(const struct inv_prog *const *)a;
	const struct inv_prog *y = *(const struct inv_prog *const *)b;
	struct inv_delta dx = { 0 }, dy = { 0 };

	(void)inv_stats_window(e->st, x->id, &dx);
	(void)inv_stats_window(e->st, y->id, &dy);
	if (dx.run_ns != dy.run_ns)
		return dx.run_ns < dy.run_ns ? 1 : -1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void emit_top(const struct inv_emit *e, size_t top)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_prog **order;
	char buf[32];

	order = malloc((e->s->n_progs + 1) * sizeof(*order));
	if (!order)
		return;
	for (size_t i = 0; i < e->s->n_progs; i++)
		order[i] = &e->s->progs[i];
	qsort_r(order, e->s->n_progs, sizeof(*order), cmp_window_cost, (void *)e);
	api->json_array(e->j, "top");
	for (size_t i = 0; i < e->s->n_progs && i < top; i++) {
		const struct inv_prog *p = order[i];
		const struct inv_so_group *g = group_of(e, p);
		struct inv_delta d;

		if (!inv_stats_window(e->st, p->id, &d) || !d.calls)
			break;
		api->json_object(e->j, NULL);
		api->json_uint(e->j, "id", p->id);
		api->json_string(e->j, "name", prog_name(p));
		api->json_string(e->j, "type", inv_prog_type_name(p->type, buf, sizeof(buf)));
		if (g) {
			api->json_string(e->j, "struct_ops", g->name[0] ? g->name : g->map_name);
			api->json_string(e->j, "op", p->op);
		}
		if (p->owners.self)
			api->json_bool(e->j, "this_daemon", true);
		api->json_uint(e->j, "calls", d.calls);
		api->json_double(e->j, "calls_per_s", (double)d.calls * 1e9 / (double)d.span_ns);
		api->json_double(e->j, "ns_per_call", (double)d.run_ns / (double)d.calls);
		api->json_double(e->j, "cpu_pct", 100.0 * (double)d.run_ns / (double)d.span_ns);
		api->json_end(e->j);
	}
	api->json_end(e->j);
	free(order);
}

static void emit_cost(const struct inv_emit *e, size_t top)
{
	const struct smcp_host_api *api = e->api;
	struct cost c;

	sum_cost(e, &c);
	if (!c.span_ns)
		return;
	api->json_object(e->j, "cost");
	api->json_string(e->j, "what", "BPF run time over the last window; cpu_pct is percent "
					"of one CPU");
	emit_delta(e, "all_programs", &c.all);
	api->json_uint(e->j, "programs_that_ran", c.run_all);
	emit_delta(e, "this_daemon", &c.mine);
	api->json_uint(e->j, "this_daemon_programs", c.n_mine);
	emit_top(e, top);
	api->json_end(e->j);
}

static void emit_group(const struct inv_emit *e, const struct inv_so_group *g)
{
	const struct smcp_host_api *api = e->api;

	api->json_object(e->j, NULL);
	api->json_string(e->j, "kind", g->kind[0] ? g->kind : NULL);
	api->json_string(e->j, "name", g->name[0] ? g->name : NULL);
	api->json_uint(e->j, "map_id", g->map_id);
	api->json_string(e->j, "map_name", g->map_name);
	if (g->state >= 0 && g->state < 4)
		api->json_string(e->j, "state", so_states[g->state]);
	if (strcmp(g->kind, "sched_ext_ops") == 0)
		api->json_bool(e->j, "active_sched_ext_scheduler", g->active_sched_ext);
	api->json_array(e->j, "ops");
	for (size_t i = 0; i < g->n_ops; i++) {
		const struct inv_prog *p = inv_find_prog(e->s, g->ops[i].prog_id);

		api->json_object(e->j, NULL);
		api->json_string(e->j, "op", g->ops[i].op);
		api->json_uint(e->j, "prog_id", g->ops[i].prog_id);
		if (p)
			api->json_string(e->j, "prog_name", prog_name(p));
		api->json_end(e->j);
	}
	api->json_end(e->j);
	if (g->error[0])
		api->json_string(e->j, "error", g->error);
	api->json_end(e->j);
}

/* A generous guess at the bytes a program row takes, to keep the whole
 * answer inside the limit whatever max_rows says. */
static size_t row_bytes(const struct inv_emit *e, const struct inv_prog *p)
{
	size_t n = 520 + 12 * (p->nr_map_ids < INV_MAX_MAP_IDS ? p->nr_map_ids : INV_MAX_MAP_IDS) +
		   48 * p->owners.n + strlen(p->target);

	for (size_t i = 0; i < e->s->n_links; i++)
		if (e->s->links[i].prog_id == p->id)
			n += strlen(e->s->links[i].target) + 4;
	return n;
}

int inv_emit_programs(const struct inv_emit *e)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_snap *s = e->s;
	size_t shown = s->n_progs < e->max_rows ? s->n_progs : e->max_rows;
	size_t bytes = 0, left;
	char buf[32];
	uint32_t counts[64] = { 0 };

	for (size_t i = 0; i < shown; i++) {
		bytes += row_bytes(e, &s->progs[i]);
		if (bytes > INV_ROWS_BYTES) {
			shown = i;
			break;
		}
	}

	api->json_uint(e->j, "total_programs", s->n_progs);
	api->json_object(e->j, "by_type");
	for (size_t i = 0; i < s->n_progs; i++)
		counts[s->progs[i].type < 63 ? s->progs[i].type : 63]++;
	for (uint32_t t = 0; t < 64; t++)
		if (counts[t])
			api->json_uint(e->j, inv_prog_type_name(t, buf, sizeof(buf)), counts[t]);
	api->json_end(e->j);
	api->json_uint(e->j, "total_maps", s->n_maps);
	api->json_uint(e->j, "total_links", s->n_links);
	api->json_array(e->j, "this_daemon_program_ids");
	for (size_t i = 0; i < s->n_progs; i++)
		if (s->progs[i].owners.self)
			api->json_uint(e->j, NULL, s->progs[i].id);
	api->json_end(e->j);
	emit_stats_state(e);
	emit_cost(e, COST_TOP);
	if (s->n_groups) {
		api->json_array(e->j, "struct_ops");
		for (size_t i = 0; i < s->n_groups; i++)
			emit_group(e, &s->groups[i]);
		api->json_end(e->j);
	}
	api->json_array(e->j, "programs");
	for (size_t i = 0; i < shown; i++) {
		smcp_json_item_begin(api, e->j);
		api->json_object(e->j, NULL);
		emit_prog_fields(e, &s->progs[i], false);
		api->json_end(e->j);
		/* the guess above was short of the client's max_result_bytes:
		 * end here, with room for more_ids and the notes after */
		left = s->n_progs - i - 1;
		if (left > MORE_IDS_MAX)
			left = MORE_IDS_MAX;
		if (!smcp_json_item_fits_tail(api, e->j, 1024 + 8 * left)) {
			shown = i;
			break;
		}
	}
	api->json_end(e->j);
	api->json_uint(e->j, "shown", shown);
	api->json_bool(e->j, "has_more", shown < s->n_progs);
	if (shown < s->n_progs) {
		char more[256];

		api->json_array(e->j, "more_ids");
		for (size_t i = shown; i < s->n_progs && i < shown + MORE_IDS_MAX; i++)
			api->json_uint(e->j, NULL, s->progs[i].id);
		api->json_end(e->j);
		snprintf(more, sizeof(more),
			 "%zu programs described (max_rows, or the answer size); the rest are "
			 "listed by id in more_ids: read bpf://programs/{id} for any of them",
			 shown);
		api->json_string(e->j, "more", more);
	}
	if (s->owners_cut)
		api->json_string(e->j, "owners_note", "the /proc walk for owners stopped at its "
						      "bound; some owners are missing");
	api->json_double(e->j, "scan_ms", (double)s->scan_us / 1000.0);
	return api->json_string(e->j, "detail", "bpf://programs/{id} has links, maps, all "
						"owners and since-start stats; bpf://maps "
						"lists maps");
}

int inv_emit_program(const struct inv_emit *e, const struct inv_prog *p)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_so_group *g = group_of(e, p);
	uint32_t n_maps = p->nr_map_ids < INV_MAX_MAP_IDS ? p->nr_map_ids : INV_MAX_MAP_IDS;
	char buf[32], cmd[64];

	emit_prog_fields(e, p, true);
	api->json_array(e->j, "links");
	for (size_t i = 0; i < e->s->n_links; i++) {
		const struct inv_link *l = &e->s->links[i];

		if (l->prog_id != p->id)
			continue;
		api->json_object(e->j, NULL);
		api->json_uint(e->j, "id", l->id);
		api->json_string(e->j, "type", inv_link_type_name(l->type, buf, sizeof(buf)));
		api->json_string(e->j, "target", l->target);
		emit_owners(e, &l->owners);
		api->json_end(e->j);
	}
	api->json_end(e->j);
	api->json_array(e->j, "maps");
	for (uint32_t i = 0; i < n_maps; i++) {
		const struct inv_map *m = inv_find_map(e->s, p->map_ids[i]);

		if (!m)
			continue;
		api->json_object(e->j, NULL);
		api->json_uint(e->j, "id", m->id);
		api->json_string(e->j, "name", m->name);
		api->json_string(e->j, "type", inv_map_type_name(m->type, buf, sizeof(buf)));
		api->json_uint(e->j, "max_entries", m->max_entries);
		if (m->memlock >= 0)
			api->json_int(e->j, "memlock_bytes", m->memlock);
		api->json_end(e->j);
	}
	api->json_end(e->j);
	if (g) {
		api->json_array(e->j, "struct_ops_group");
		emit_group(e, g);
		api->json_end(e->j);
	}
	emit_stats_state(e);
	snprintf(cmd, sizeof(cmd), "bpftool prog show id %u", p->id);
	return api->json_string(e->j, "compare_with", cmd);
}

int inv_emit_maps(const struct inv_emit *e)
{
	const struct smcp_host_api *api = e->api;
	const struct inv_snap *s = e->s;
	size_t shown = s->n_maps < e->max_rows ? s->n_maps : e->max_rows;
	int64_t memlock = 0;
	char buf[32];

	for (size_t i = 0; i < s->n_maps; i++)
		memlock += s->maps[i].memlock > 0 ? s->maps[i].memlock : 0;
	api->json_uint(e->j, "total_maps", s->n_maps);
	api->json_int(e->j, "total_memlock_bytes", memlock);
	api->json_array(e->j, "maps");
	for (size_t i = 0; i < shown; i++) {
		const struct inv_map *m = &s->maps[i];

		api->json_object(e->j, NULL);
		api->json_uint(e->j, "id", m->id);
		api->json_string(e->j, "name", m->name);
		api->json_string(e->j, "type", inv_map_type_name(m->type, buf, sizeof(buf)));
		api->json_uint(e->j, "key_size", m->key_size);
		api->json_uint(e->j, "value_size", m->value_size);
		api->json_uint(e->j, "max_entries", m->max_entries);
		if (m->map_flags)
			api->json_uint(e->j, "flags", m->map_flags);
		if (m->memlock >= 0)
			api->json_int(e->j, "memlock_bytes", m->memlock);
		api->json_uint(e->j, "used_by_programs", m->n_progs);
		emit_owners(e, &m->owners);
		api->json_end(e->j);
	}
	api->json_end(e->j);
	api->json_uint(e->j, "shown", shown);
	api->json_bool(e->j, "has_more", shown < s->n_maps);
	if (shown < s->n_maps) {
		api->json_array(e->j, "more_ids");
		for (size_t i = shown; i < s->n_maps && i < shown + MORE_IDS_MAX; i++)
			api->json_uint(e->j, NULL, s->maps[i].id);
		api->json_end(e->j);
		api->json_string(e->j, "more", "maps past max_rows are listed by id only; "
					       "bpf://programs/{id} shows the maps of a program");
	}
	return api->json_string(e->j, "memory_note",
				"memlock_bytes is what the kernel charges each map (fdinfo "
				"memlock); per-CPU maps are charged for every possible CPU");
}

int inv_emit_stats_report(const struct inv_emit *e, const char *action, size_t top,
			  const char *message)
{
	const struct smcp_host_api *api = e->api;
	struct inv_delta d, all = { 0 };
	struct cost c;
	bool any = false;

	api->json_string(e->j, "action", action);
	if (message)
		api->json_string(e->j, "message", message);
	emit_stats_state(e);
	if (!e->s)
		return api->json_string(e->j, "note", "no program snapshot");
	sum_cost(e, &c);
	if (c.span_ns) {
		api->json_object(e->j, "window");
		emit_delta(e, "all_programs", &c.all);
		api->json_uint(e->j, "programs_that_ran", c.run_all);
		emit_delta(e, "this_daemon", &c.mine);
		api->json_uint(e->j, "this_daemon_programs", c.n_mine);
		api->json_end(e->j);
	}
	for (size_t i = 0; i < e->s->n_progs; i++) {
		if (!inv_stats_since_start(e->st, e->s->progs[i].id, &d))
			continue;
		all.calls += d.calls;
		all.run_ns += d.run_ns;
		all.span_ns = d.span_ns;
		any = true;
	}
	if (any)
		emit_delta(e, "since_start", &all);
	if (c.span_ns)
		emit_top(e, top);
	api->json_uint(e->j, "total_programs", e->s->n_progs);
	return api->json_string(e->j, "more", "bpf://programs shows every program with its "
					      "window; bpf://programs/{id} one in detail");
}
