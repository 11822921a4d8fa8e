/* SPDX-License-Identifier: MIT */
/* stats://system/cpu and get_system_stats kind=cpu. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "stat_metrics.h"

#define BUSIEST_ROWS 8

static const char *const field_keys[CPU_NR_FIELDS] = {
	[CPU_USER] = "user_pct", [CPU_NICE] = "nice_pct", [CPU_SYSTEM] = "system_pct",
	[CPU_IDLE] = "idle_pct", [CPU_IOWAIT] = "iowait_pct", [CPU_IRQ] = "irq_pct",
	[CPU_SOFTIRQ] = "softirq_pct", [CPU_STEAL] = "steal_pct",
};

static void put_split(const struct emit_ctx *c, const struct stat_metrics_cpu_split *sp)
{
	stat_window_put_num(c, "busy_pct", sp->busy);
	for (int f = 0; f < CPU_NR_FIELDS; f++)
		stat_window_put_num(c, field_keys[f], sp->pct[f]);
}

static void emit_window_totals(const struct emit_ctx *c, const struct win *w)
{
	const struct smcp_host_api *api = c->api;
	struct stat_metrics_cpu_split sp;

	if (w->have_stat && stat_metrics_cpu_split(w->total, &sp)) {
		api->json_object(c->j, "cpu");
		put_split(c, &sp);
		api->json_end(c->j);
		stat_window_put_num(c, "context_switches_per_s", stat_window_rate(w, w->ctxt));
		stat_window_put_num(c, "forks_per_s", stat_window_rate(w, w->forks));
	} else {
		api->json_null(c->j, "cpu");
	}
	if (w->have_procs) {
		stat_window_put_num(c, "procs_running_avg", w->procs_running);
		stat_window_put_num(c, "procs_blocked_avg", w->procs_blocked);
	}
	stat_window_put_num(c, "cpu_pressure_some_pct", w->psi_pct[PSI_CPU][PSI_SOME]);
	stat_window_put_num(c, "cpu_pressure_full_pct", w->psi_pct[PSI_CPU][PSI_FULL]);
}

static void emit_now(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	const struct latest *l = &c->s->latest;
	const struct sample *n = c->s->newest;

	api->json_object(c->j, "now");
	if (n && n->have_stat) {
		api->json_int(c->j, "procs_running", n->procs_running);
		api->json_int(c->j, "procs_blocked", n->procs_blocked);
	}
	if (l->have_loadavg) {
		api->json_double(c->j, "load_avg_1m", l->load[0]);
		api->json_double(c->j, "load_avg_5m", l->load[1]);
		api->json_double(c->j, "load_avg_15m", l->load[2]);
		api->json_int(c->j, "runnable_threads", l->runnable);
		api->json_int(c->j, "total_threads", l->threads);
	}
	if (l->psi_avg_have[PSI_CPU][PSI_SOME]) {
		api->json_object(c->j, "cpu_pressure");
		for (int k = PSI_SOME; k <= PSI_FULL; k++) {
			if (!l->psi_avg_have[PSI_CPU][k])
				continue;
			api->json_object(c->j, k == PSI_SOME ? "some" : "full");
			api->json_double(c->j, "avg10", l->psi_avg[PSI_CPU][k][0]);
			api->json_double(c->j, "avg60", l->psi_avg[PSI_CPU][k][1]);
			api->json_double(c->j, "avg300", l->psi_avg[PSI_CPU][k][2]);
			api->json_end(c->j);
		}
		api->json_end(c->j);
	} else {
		api->json_null(c->j, "cpu_pressure");
	}
	api->json_end(c->j);
}

static bool cpu_row(const struct win *w, int cpu, struct stat_metrics_cpu_split *sp)
{
	return w->cpu_seen[cpu] && stat_metrics_cpu_split(w->cpu[cpu], sp);
}

static void put_cpu_row(const struct emit_ctx *c, int cpu, const struct stat_metrics_cpu_split *sp)
{
	c->api->json_object(c->j, NULL);
	c->api->json_int(c->j, "cpu", cpu);
	put_split(c, sp);
	c->api->json_end(c->j);
}

/* Many CPUs: distribution, the busiest few in full, and busy_pct for each. */
static void emit_per_cpu_summary(const struct emit_ctx *c, const struct win *w, int n)
{
	const struct smcp_host_api *api = c->api;
	int top[BUSIEST_ROWS], ntop = 0, listed = 0;
	double min = 101, max = -1, sum = 0, sq = 0;
	struct stat_metrics_cpu_split sp;
	char note[256];

	for (int cpu = 0; cpu < c->s->cpu_slots; cpu++) {
		if (!cpu_row(w, cpu, &sp))
			continue;
		min = sp.busy < min ? sp.busy : min;
		max = sp.busy > max ? sp.busy : max;
		sum += sp.busy;
		sq += sp.busy * sp.busy;
	}
	/* busiest first: repeated selection over at most 8 rows is cheap */
	for (ntop = 0; ntop < BUSIEST_ROWS && ntop < n; ntop++) {
		double best = -1;

		top[ntop] = -1;
		for (int cpu = 0; cpu < c->s->cpu_slots; cpu++) {
			bool taken = false;

			if (!cpu_row(w, cpu, &sp))
				continue;
			for (int k = 0; k < ntop; k++)
				taken |= top[k] == cpu;
			if (!taken && sp.busy > best) {
				best = sp.busy;
				top[ntop] = cpu;
			}
		}
	}
	api->json_bool(c->j, "summarised", true);
	api->json_object(c->j, "busy_pct");
	stat_window_put_num(c, "min", min);
	stat_window_put_num(c, "max", max);
	stat_window_put_num(c, "mean", sum / n);
	stat_window_put_num(c, "stddev", sqrt(fmax(0, sq / n - (sum / n) * (sum / n))));
	api->json_end(c->j);
	api->json_array(c->j, "busiest");
	for (int k = 0; k < ntop; k++)
		if (top[k] >= 0 && cpu_row(w, top[k], &sp))
			put_cpu_row(c, top[k], &sp);
	api->json_end(c->j);
	api->json_array(c->j, "busy_by_cpu");
	for (int cpu = 0; cpu < c->s->cpu_slots && listed < EMIT_MAX_BUSY_ROWS; cpu++) {
		if (!cpu_row(w, cpu, &sp))
			continue;
		api->json_object(c->j, NULL);
		api->json_int(c->j, "cpu", cpu);
		stat_window_put_num(c, "busy_pct", sp.busy);
		api->json_end(c->j);
		listed++;
	}
	api->json_end(c->j);
	snprintf(note, sizeof(note),
		 "%d CPUs: per-CPU split summarised (busiest %d in full%s); every CPU's "
		 "split: get_system_stats {\"kind\":\"cpu\",\"window\":\"%s\",\"cpus\":\"0-63\"}",
		 n, ntop, listed < n ? ", busy_by_cpu cut at 256" : "", stat_window_name(w->id));
	api->json_string(c->j, "note", note);
}

static void emit_per_cpu(const struct emit_ctx *c, enum window_id id)
{
	const struct smcp_host_api *api = c->api;
	struct stat_metrics_cpu_split sp;
	struct win w;
	int n = 0;

	if (!stat_window_open(c, "per_cpu", id, WIN_WANT_CPUS, &w))
		return;
	for (int cpu = 0; cpu < c->s->cpu_slots; cpu++)
		n += cpu_row(&w, cpu, &sp);
	if (n > EMIT_FULL_CPU_ROWS) {
		emit_per_cpu_summary(c, &w, n);
	} else {
		api->json_array(c->j, "cpus");
		for (int cpu = 0; cpu < c->s->cpu_slots; cpu++)
			if (cpu_row(&w, cpu, &sp))
				put_cpu_row(c, cpu, &sp);
		api->json_end(c->j);
	}
	api->json_end(c->j);
}

static void emit_cpu_notes(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	char note[200];

	api->json_array(c->j, "notes");
	api->json_string(c->j, NULL,
			 "percentages are shares of all CPU time in the window (from "
			 "/proc/stat); busy = 100 - idle - iowait; guest time is inside "
			 "user/nice; procs_running includes schedmcp's own sampler");
	if (c->s->stat_error)
		api->json_string(c->j, NULL, c->s->stat_error);
	if (c->s->cpus_dropped) {
		snprintf(note, sizeof(note), "%d CPUs above id %d are not tracked",
			 c->s->cpus_dropped, c->s->cpu_slots - 1);
		api->json_string(c->j, NULL, note);
	}
	api->json_end(c->j);
}

int stat_cpu_emit_resource(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	struct win w, prev = { 0 };

	api->json_array(c->j, "windows");
	for (int id = 0; id < WIN_NR; id++) {
		if (!stat_window_open(c, NULL, id, 0, &w) || stat_window_same_as(c, &w, &prev))
			continue;
		emit_window_totals(c, &w);
		api->json_end(c->j);
	}
	api->json_end(c->j);
	emit_now(c);
	emit_per_cpu(c, WIN_10S);
	stat_window_emit_sampling(c);
	emit_cpu_notes(c);
	return api->json_bool(c->j, "truncated", false);
}

int stat_cpu_emit_query(const struct emit_ctx *c, const struct stat_query *q)
{
	const struct smcp_host_api *api = c->api;
	int64_t total = 0, idx = 0, returned = 0;
	struct stat_metrics_cpu_split sp;
	bool full = false;
	struct win w;
	char note[200] = "";

	api->json_string(c->j, "kind", "cpu");
	if (stat_window_open(c, "window", q->window, WIN_WANT_CPUS, &w)) {
		emit_window_totals(c, &w);
		api->json_end(c->j);
		api->json_array(c->j, "cpus");
		for (int cpu = 0; cpu < c->s->cpu_slots; cpu++) {
			if ((q->cpu_filter && !q->cpu_filter[cpu]) || !cpu_row(&w, cpu, &sp))
				continue;
			total++;
			if (idx++ < q->offset || returned >= q->limit || full)
				continue;
			smcp_json_item_begin(api, c->j);
			put_cpu_row(c, cpu, &sp);
			/* the answer is full (max_result_bytes): next_offset goes on */
			full = !smcp_json_item_fits_tail(api, c->j, STAT_PAGE_TAIL_BYTES);
			if (!full)
				returned++;
		}
		api->json_end(c->j);
	}
	stat_window_emit_page(c, q, returned, total, "CPU rows", " or narrow cpus", note,
			      sizeof(note));
	emit_now(c);
	stat_window_emit_sampling(c);
	emit_cpu_notes(c);
	if (note[0])
		api->json_string(c->j, "note", note);
	return api->json_bool(c->j, "truncated", note[0] != '\0');
}
