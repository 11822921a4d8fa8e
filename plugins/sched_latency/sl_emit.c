/* SPDX-License-Identifier: MIT */
/*
 * JSON building blocks shared by the resources and the tools: windows,
 * latency blocks (percentiles always beside their sample count), CPU /
 * LLC / node rows and top-N task rows.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl.h"

const char *const sl_window_names[SL_NWINDOWS] = { "1s", "10s", "60s", "since_start" };
static const uint64_t window_ns[SL_NWINDOWS] = { 1000000000ull, 10000000000ull,
						 60000000000ull, 0 };

const char *const sl_sort_names[SL_NSORT] = {
	"wait_time", "p99", "p50", "mean", "waits", "switches", "wakeups", "migrations", "run_time",
};

int sl_window_parse(const char *name, enum sl_window_id *ret)
{
	for (int w = 0; w < SL_NWINDOWS; w++)
		if (strcmp(name, sl_window_names[w]) == 0) {
			*ret = (enum sl_window_id)w;
			return 0;
		}
	return -EINVAL;
}

static double round1(double v)
{
	return isfinite(v) ? round(v * 10.0) / 10.0 : v;
}

static double round3(double v)
{
	return isfinite(v) ? round(v * 1000.0) / 1000.0 : v;
}

double sl_span_s(const struct sl_window_result *r)
{
	return r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0;
}

/* ------------------------------------------------------------ inputs */

int sl_cpu_inputs(struct sl *p, const struct sl_cpu_snap *s, struct sl_window_input **ret)
{
	struct sl_window_input *in = calloc((size_t)(s->ncpus ? s->ncpus : 1), sizeof(*in));

	if (!in)
		return -ENOMEM;
	for (int c = 0; c < s->ncpus; c++) {
		in[c].key = (uint64_t)c;
		in[c].c = s->c + (size_t)c * SLC_N;
		in[c].h = s->h + (size_t)c * SLC_NH * SL_NB;
	}
	*ret = in;
	return s->ncpus;
}

static int fresh_rows(struct sl *p, const char *kind, struct sl_window_result *out)
{
	struct sl_window_input *in = NULL;
	int n, err;

	if (strcmp(kind, "cpu") == 0) {
		struct sl_cpu_snap s;

		err = sl_bpf_read_cpus(p, &s);
		if (err)
			return err;
		n = sl_cpu_inputs(p, &s, &in);
		err = n < 0 ? n : sl_window_result_from_inputs(SLC_N, SLC_NH, in, (size_t)n, out);
		sl_cpu_snap_free(&s);
	} else {
		sl_refresh_tasks(p); /* the tables as of now */
		err = sl_tasks_result(&p->tasks, strcmp(kind, "process") == 0, out);
	}
	free(in);
	if (!err) {
		out->start_ns = p->start_ns;
		out->end_ns = p->api->now_ns(p->h);
	}
	return err;
}

int sl_window_rows(struct sl *p, const char *kind, enum sl_window_id w,
		   struct sl_window_result *out)
{
	const struct sl_window_series *s = strcmp(kind, "cpu") == 0	 ? &p->w_cpu
					   : strcmp(kind, "thread") == 0 ? &p->w_thread
									 : &p->w_proc;

	if (w == SL_WSTART)
		return fresh_rows(p, kind, out);
	return sl_window_window_last(s, window_ns[w], out);
}

/* ------------------------------------------------------------ blocks */

void sl_emit_window(struct sl *p, struct smcp_json *j, const char *key, const char *name,
		    const struct sl_window_result *r)
{
	const struct smcp_host_api *api = p->api;
	uint64_t now = api->now_ns(p->h);
	enum sl_window_id w = SL_WSTART;

	(void)sl_window_parse(name, &w);
	api->json_object(j, key);
	api->json_string(j, "name", name);
	if (!r) {
		api->json_double(j, "span_s", round3((double)(now - p->start_ns) / 1e9));
		api->json_uint(j, "ends_ms_ago", 0);
	} else {
		double span = sl_span_s(r);

		api->json_double(j, "span_s", round3(span));
		api->json_uint(j, "ends_ms_ago", now > r->end_ns ? (now - r->end_ns) / 1000000 : 0);
		if (w != SL_WSTART && r->slots)
			api->json_bool(j, "incomplete",
				       r->truncated || span < 0.9 * (double)window_ns[w] / 1e9);
		else if (r->truncated)
			api->json_bool(j, "incomplete", true);
	}
	api->json_end(j);
}

void sl_emit_latency(struct sl *p, struct smcp_json *j, const char *key, const uint64_t *h,
		     uint64_t sum_ns, int64_t max_ns)
{
	const struct smcp_host_api *api = p->api;
	struct sl_pct pc;

	sl_hist_percentiles(h, &pc);
	if (max_ns >= 0) {
		/* interpolation inside the top bucket can pass the largest sample */
		double max_us = (double)max_ns / 1000.0;

		pc.p50_us = pc.p50_us > max_us ? max_us : pc.p50_us;
		pc.p90_us = pc.p90_us > max_us ? max_us : pc.p90_us;
		pc.p99_us = pc.p99_us > max_us ? max_us : pc.p99_us;
		pc.p999_us = pc.p999_us > max_us ? max_us : pc.p999_us;
	}
	api->json_object(j, key);
	api->json_uint(j, "samples", pc.samples);
	if (pc.samples) {
		api->json_double(j, "mean_us",
				 round1((double)sum_ns / (double)pc.samples / 1000.0));
		api->json_double(j, "p50_us", round1(pc.p50_us));
		api->json_double(j, "p90_us", round1(pc.p90_us));
		api->json_double(j, "p99_us", round1(pc.p99_us));
		api->json_double(j, "p999_us", round1(pc.p999_us));
		if (max_ns >= 0)
			api->json_double(j, "max_us", round1((double)max_ns / 1000.0));
	}
	api->json_end(j);
}

void sl_emit_histogram(struct sl *p, struct smcp_json *j, const char *key, const uint64_t *h)
{
	const struct smcp_host_api *api = p->api;

	api->json_object(j, key);
	api->json_string(j, "buckets",
			 "log2 microsecond octaves split in 4; [lo_us, hi_us, count], empty "
			 "buckets left out");
	api->json_array(j, "counts");
	for (unsigned b = 0; b < SL_NB; b++) {
		if (!h[b])
			continue;
		api->json_array(j, NULL);
		api->json_double(j, NULL, (double)sl_hist_lo_ns(b) / 1000.0);
		api->json_double(j, NULL, (double)sl_hist_hi_ns(b) / 1000.0);
		api->json_uint(j, NULL, h[b]);
		api->json_end(j);
	}
	api->json_end(j);
	api->json_end(j);
}

static double per_s(uint64_t v, double span)
{
	return span > 0 ? round1((double)v / span) : 0;
}

/* ------------------------------------------------------------- CPU rows */

/* One row of CPU-series counters; what is "cpu", "llc", "node" or
 * "system" (all CPUs folded, ncpus_in of them). */
static void cpu_row(struct sl *p, struct smcp_json *j, const char *key, const char *what,
		    const struct sl_window_row *r, double span, bool since_start, int ncpus_in)
{
	const struct smcp_host_api *api = p->api;
	const uint64_t *c = r->c;
	uint64_t sw = c[SLC_VOL] + c[SLC_INVOL];
	char cpus[256];

	api->json_object(j, key);
	if (strcmp(what, "system") == 0)
		api->json_uint(j, "cpus", (uint64_t)ncpus_in);
	else
		api->json_uint(j, what, r->key);
	if (strcmp(what, "system") == 0) {
		/* no per-domain fields */
	} else if (strcmp(what, "cpu") == 0 && p->topo_ok && (int)r->key < p->topo.ncpus) {
		api->json_int(j, "llc", p->topo.cpu_llc[r->key]);
		api->json_int(j, "node", p->topo.cpu_node[r->key]);
	} else if (strcmp(what, "cpu") != 0) {
		sl_topo_cpus(&p->topo, strcmp(what, "llc") == 0, (int)r->key, cpus, sizeof(cpus));
		api->json_string(j, "cpus", cpus);
	}
	api->json_uint(j, "switches", c[SLC_SWITCHES]);
	api->json_double(j, "switches_per_s", per_s(c[SLC_SWITCHES], span));
	if (sw)
		api->json_double(j, "involuntary_pct",
				 round1(100.0 * (double)c[SLC_INVOL] / (double)sw));
	api->json_double(j, "wakeups_per_s", per_s(c[SLC_WAKE_TARGET], span));
	if (p->cfg.waker_cpu)
		api->json_double(j, "wakeups_issued_per_s", per_s(c[SLC_WAKE_WAKER], span));
	api->json_double(j, "migrations_in_per_s", per_s(c[SLC_MIG_IN], span));
	api->json_double(j, "migrations_out_per_s", per_s(c[SLC_MIG_OUT], span));
	if (p->topo_ok) {
		api->json_double(j, "migrations_out_cross_llc_per_s", per_s(c[SLC_MIG_XLLC], span));
		api->json_double(j, "migrations_out_cross_node_per_s",
				 per_s(c[SLC_MIG_XNODE], span));
	}
	/* run time is booked when a slice ends, so a slice that began before
	 * the window can push a busy CPU's figure a little past 100 */
	if (ncpus_in > 0 && span > 0)
		api->json_double(j, "busy_pct",
				 fmin(100.0, round1(100.0 * (double)c[SLC_RUN_NS] / 1e9 / span /
						    ncpus_in)));
	sl_emit_latency(p, j, "run_queue_latency", r->h, c[SLC_WAIT_NS],
			since_start && strcmp(what, "cpu") == 0 ? (int64_t)c[SLC_WAIT_MAX] : -1);
	api->json_object(j, "time_slice");
	api->json_uint(j, "samples", c[SLC_SLICES]);
	if (c[SLC_SLICES]) {
		api->json_double(j, "mean_us",
				 round1((double)c[SLC_RUN_NS] / (double)c[SLC_SLICES] / 1000.0));
		api->json_double(j, "p50_us", round1(sl_hist_quantile_us(r->h + SL_NB, 0.5, NULL)));
		api->json_double(j, "p99_us",
				 round1(sl_hist_quantile_us(r->h + SL_NB, 0.99, NULL)));
	}
	api->json_end(j);
	api->json_end(j);
}

void sl_emit_system(struct sl *p, struct smcp_json *j, const char *key,
		    const struct sl_window_result *r, bool since_start)
{
	int *map = calloc((size_t)p->ncpus, sizeof(int));
	struct sl_window_result all;

	if (!map)
		return;
	if (sl_window_result_fold(r, map, (size_t)p->ncpus, &all) == 0 && all.n == 1) {
		cpu_row(p, j, key, "system", &all.rows[0], sl_span_s(r), since_start, p->ncpus);
		sl_window_result_free(&all);
	}
	free(map);
}

void sl_emit_cpu_rows(struct sl *p, struct smcp_json *j, const char *key, const char *what,
		      const struct sl_window_result *r, bool since_start, int cpu_filter,
		      size_t offset, size_t limit)
{
	const struct smcp_host_api *api = p->api;
	double span = sl_span_s(r);
	size_t shown = 0, total = 0;
	bool cut = false;

	api->json_array(j, key);
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_window_row *row = &r->rows[i];
		int n_in = 1;

		if (cpu_filter >= 0 && row->key != (uint64_t)cpu_filter)
			continue;
		if (strcmp(what, "cpu") != 0) {
			char tmp[8];

			n_in = sl_topo_cpus(&p->topo, strcmp(what, "llc") == 0, (int)row->key, tmp,
					    sizeof(tmp));
			if (!n_in)
				continue; /* a node id with no CPUs */
		}
		total++;
		if (total <= offset || shown >= limit || cut)
			continue;
		smcp_json_item_begin(api, j);
		cpu_row(p, j, NULL, what, row, span, since_start, n_in);
		if (!smcp_json_item_fits(api, j)) {
			cut = true; /* the answer is full (max_result_bytes): count the rest */
			continue;
		}
		shown++;
	}
	api->json_end(j);
	api->json_bool(j, "has_more", total > offset + shown);
	if (total > offset + shown) {
		char msg[160];

		api->json_uint(j, "next_offset", offset + shown);

		snprintf(msg, sizeof(msg), "%zu of %zu rows shown; continue with offset=%zu",
			 shown, total, offset + shown);
		api->json_string(j, "truncated", msg);
	}
}

/* ------------------------------------------------------------ task rows */

struct sort_ent {
	double v;
	size_t i;
};

static int cmp_desc(const void *a, const void *b)
{
	const struct sort_ent *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? 1 : -1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static double sort_value(const struct sl_window_row *r, enum sl_sort s)
{
	switch (s) {
	case SL_SORT_WAIT_TIME:
		return (double)r->c[SLT_WAIT_NS];
	case SL_SORT_P99:
		return r->c[SLT_WAITS] ? sl_hist_quantile_us(r->h, 0.99, NULL) : -1;
	case SL_SORT_P50:
		return r->c[SLT_WAITS] ? sl_hist_quantile_us(r->h, 0.5, NULL) : -1;
	case SL_SORT_MEAN:
		return r->c[SLT_WAITS] ? (double)r->c[SLT_WAIT_NS] / (double)r->c[SLT_WAITS] : -1;
	case SL_SORT_WAITS:
		return (double)r->c[SLT_WAITS];
	case SL_SORT_SWITCHES:
		return (double)(r->c[SLT_VOL] + r->c[SLT_INVOL]);
	case SL_SORT_WAKEUPS:
		return (double)r->c[SLT_WAKEUPS];
	case SL_SORT_MIGRATIONS:
		return (double)r->c[SLT_MIGRATIONS];
	case SL_SORT_RUN_TIME:
	default:
		return (double)r->c[SLT_RUN_NS];
	}
}

static void task_row(struct sl *p, struct smcp_json *j, bool threads, const struct sl_window_row *r,
		     double span, bool since_start, bool histogram)
{
	const struct smcp_host_api *api = p->api;
	const uint64_t *c = r->c;

	api->json_object(j, NULL);
	api->json_uint(j, threads ? "tid" : "pid", r->key);
	if (threads)
		api->json_uint(j, "pid", r->meta.tgid);
	api->json_string(j, "comm", r->meta.comm);
	api->json_double(j, "wait_total_ms", round3((double)c[SLT_WAIT_NS] / 1e6));
	sl_emit_latency(p, j, "run_queue_latency", r->h, c[SLT_WAIT_NS],
			since_start ? (int64_t)c[SLT_WAIT_MAX] : -1);
	api->json_double(j, "switches_per_s", per_s(c[SLT_VOL] + c[SLT_INVOL], span));
	api->json_uint(j, "voluntary", c[SLT_VOL]);
	api->json_uint(j, "involuntary", c[SLT_INVOL]);
	api->json_uint(j, "wakeups", c[SLT_WAKEUPS]);
	api->json_uint(j, "migrations", c[SLT_MIGRATIONS]);
	api->json_double(j, "run_ms", round3((double)c[SLT_RUN_NS] / 1e6));
	if (span > 0)
		api->json_double(j, "cpu_pct", round1(100.0 * (double)c[SLT_RUN_NS] / 1e9 / span));
	api->json_uint(j, "last_cpu", r->meta.last_cpu);
	if (histogram)
		sl_emit_histogram(p, j, "histogram", r->h);
	api->json_end(j);
}

void sl_emit_task_rows(struct sl *p, struct smcp_json *j, const char *key, bool threads,
		       const struct sl_window_result *r, bool since_start, uint32_t tgid_filter,
		       enum sl_sort sort, size_t offset, size_t limit, bool histogram)
{
	const struct smcp_host_api *api = p->api;
	struct sort_ent *ord = malloc((r->n ? r->n : 1) * sizeof(*ord));
	double span = sl_span_s(r);
	size_t n = 0, shown = 0;

	api->json_array(j, key);
	if (!ord) {
		api->json_end(j);
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct sl_window_row *row = &r->rows[i];

		if (tgid_filter && (threads ? row->meta.tgid : row->key) != tgid_filter)
			continue;
		ord[n++] = (struct sort_ent){ sort_value(row, sort), i };
	}
	qsort(ord, n, sizeof(*ord), cmp_desc);
	for (size_t k = offset; k < n && shown < limit; k++, shown++) {
		smcp_json_item_begin(api, j);
		task_row(p, j, threads, &r->rows[ord[k].i], span, since_start, histogram);
		if (!smcp_json_item_fits(api, j))
			break; /* the answer is full (max_result_bytes) */
	}
	api->json_end(j);
	api->json_uint(j, "rows_total", n);
	api->json_bool(j, "has_more", n > offset + shown);
	if (n > offset + shown) {
		char msg[200];

		api->json_uint(j, "next_offset", offset + shown);

		snprintf(msg, sizeof(msg),
			 "%zu of %zu rows shown (sorted by %s); continue with offset=%zu, or "
			 "filter with pid",
			 shown, n, sl_sort_names[sort], offset + shown);
		api->json_string(j, "truncated", msg);
	}
	free(ord);
}
