/* SPDX-License-Identifier: MIT */
/* Windows: the core's history for the last 1 s, 10 s, 60 s (per CPU: percpu.c); two
 * samples for since start. */
#include "stat_window.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat_metrics.h"

static const struct {
	const char *name;
	uint64_t secs; /* 0: since the plugin started */
} windows[WIN_NR] = {
	[WIN_1S] = { "1s", 1 },
	[WIN_10S] = { "10s", 10 },
	[WIN_60S] = { "60s", 60 },
	[WIN_START] = { "since_start", 0 },
};

int stat_window_by_name(const char *name)
{
	for (int i = 0; i < WIN_NR; i++)
		if (strcmp(name, windows[i].name) == 0)
			return i;
	return -1;
}

const char *stat_window_name(enum window_id w)
{
	return windows[w].name;
}

static double round2(double v)
{
	return round(v * 100.0) / 100.0;
}

void stat_window_put_num(const struct emit_ctx *c, const char *key, double v)
{
	if (v < 0)
		c->api->json_null(c->j, key);
	else
		c->api->json_double(c->j, key, round2(v));
}

/*
 * What was read of the core's history at one step. It changes only when
 * the collect callback samples and the core records the step, so every read
 * until then gives the same figures: an answer that shows a window twice
 * (the per-CPU view, the busiest interfaces), or a client that reads again
 * within the step, reads the series once. Keyed by the newest sample's time
 * (0: nothing held).
 */
struct memo_window {
	uint64_t t_ns, net_t_ns; /* when the machine's, the interfaces' figures were read */
	struct win w;		 /* the machine's figures (no per-CPU ones: percpu.c) */
	struct win_span tot, net;
	double net_v[MAX_IFACES][NET_NR_FIELDS];
	uint8_t net_seen[MAX_IFACES];
};

struct win_memo {
	struct memo_window win[WIN_START]; /* 1 s, 10 s, 60 s */
	uint64_t procs_t_ns;		   /* since start: the run-queue means */
	bool procs_ok;
	double running, blocked;
	uint64_t history_t_ns; /* the steps held (stat_window_emit_sampling) */
	uint32_t history_steps;
	double history_step_s;
};

int stat_window_buf_init(struct win_buf *b, int cpu_slots)
{
	b->cpu = calloc((size_t)cpu_slots, sizeof(*b->cpu));
	b->cpu_seen = calloc((size_t)cpu_slots, 1);
	b->net = calloc(MAX_IFACES, sizeof(*b->net));
	b->net_seen = calloc(MAX_IFACES, 1);
	b->memo = calloc(1, sizeof(*b->memo));
	if (b->cpu && b->cpu_seen && b->net && b->net_seen && b->memo)
		return 0;
	stat_window_buf_free(b);
	return -ENOMEM;
}

void stat_window_buf_free(struct win_buf *b)
{
	free(b->cpu);
	free(b->cpu_seen);
	free(b->net);
	free(b->net_seen);
	free(b->memo);
	memset(b, 0, sizeof(*b));
}

static uint64_t newest_ns(const struct emit_ctx *c)
{
	return c->s->newest ? c->s->newest->t_ns : 0;
}

/* Window id of the core's history into ret (its scratch set), read once per step. */
static bool history_window(const struct emit_ctx *c, enum window_id id, unsigned want,
			   struct win *ret)
{
	struct memo_window *m = &c->buf->memo->win[id];
	uint64_t t_ns = newest_ns(c), ms = windows[id].secs * 1000;
	struct win_span sp;

	if (!t_ns || m->t_ns != t_ns) {
		m->w = *ret;
		stat_metrics_totals(ms, &m->w, &m->tot);
		m->t_ns = t_ns;
	}
	if ((want & WIN_WANT_NET) && (!t_ns || m->net_t_ns != t_ns)) {
		m->w.net = m->net_v;
		m->w.net_seen = m->net_seen;
		stat_metrics_ifaces(ms, &m->w, &m->net);
		m->net_t_ns = t_ns;
	}
	*ret = m->w;
	ret->net = m->net_v;
	ret->net_seen = m->net_seen;
	ret->cpu = c->buf->cpu;
	ret->cpu_seen = c->buf->cpu_seen;
	sp = m->tot;
	if ((want & WIN_WANT_NET) && m->net.steps > sp.steps)
		sp = m->net;
	ret->end_ns = sp.end_ns;
	ret->covered_s = sp.steps * sp.step_s;
	ret->complete = ret->covered_s + sp.step_s / 2 >= (double)ms / 1000.0;
	return sp.steps > 0;
}

static double diff(uint64_t before, uint64_t after)
{
	return after >= before ? (double)(after - before) : 0;
}

/* The newest sample less the first: nothing older is needed. */
static bool since_start(const struct emit_ctx *c, unsigned want, struct win *w)
{
	const struct sampler *s = c->s;
	const struct sample *a = &s->first, *b = s->newest;

	if (!b || b->t_ns <= a->t_ns)
		return false;
	w->covered_s = (double)(b->t_ns - a->t_ns) / 1e9;
	w->end_ns = b->t_ns;
	w->complete = true;
	w->have_stat = a->have_stat && b->have_stat;
	stat_metrics_cpu_delta(&a->total, &b->total, w->total);
	w->ctxt = diff(a->ctxt, b->ctxt);
	w->forks = diff(a->forks, b->forks);
	for (int r = 0; r < PSI_NR; r++)
		for (int k = PSI_SOME; k <= PSI_FULL; k++)
			w->psi_pct[r][k] = a->psi_have[r][k] && b->psi_have[r][k]
						   ? diff(a->psi_us[r][k], b->psi_us[r][k]) / 1e4 /
							     w->covered_s
						   : -1;
	w->have_vm = a->have_vm && b->have_vm;
	for (int f = 0; f < VM_NR_FIELDS; f++)
		w->vm[f] = diff(a->vm[f], b->vm[f]);
	for (int i = 0; (want & WIN_WANT_CPUS) && i < s->cpu_slots; i++) {
		w->cpu_seen[i] = a->cpu_seen[i] && b->cpu_seen[i];
		stat_metrics_cpu_delta(&a->cpu[i], &b->cpu[i], w->cpu[i]);
	}
	for (int i = 0; (want & WIN_WANT_NET) && i < s->n_ifaces; i++) {
		w->net_seen[i] = a->net_seen[i] && b->net_seen[i];
		for (int f = 0; f < NET_NR_FIELDS; f++)
			w->net[i][f] = diff(a->net[i][f], b->net[i][f]);
	}
	/* run-queue means from the core's history, while it reaches back: only
	 * those two series, the rest is the two samples' difference */
	if (c->buf->memo->procs_t_ns != b->t_ns) {
		c->buf->memo->procs_ok = stat_metrics_procs((uint64_t)(w->covered_s * 1000),
							    &c->buf->memo->running,
							    &c->buf->memo->blocked);
		c->buf->memo->procs_t_ns = b->t_ns;
	}
	w->have_procs = c->buf->memo->procs_ok;
	w->procs_running = c->buf->memo->running;
	w->procs_blocked = c->buf->memo->blocked;
	return true;
}

bool stat_window_get(const struct emit_ctx *c, enum window_id id, unsigned want, struct win *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->id = id;
	ret->cpu = c->buf->cpu;
	ret->cpu_seen = c->buf->cpu_seen;
	ret->net = c->buf->net;
	ret->net_seen = c->buf->net_seen;
	if (id == WIN_START)
		return since_start(c, want, ret);
	if (!history_window(c, id, want, ret))
		return false;
	if (want & WIN_WANT_CPUS)
		(void)percpu_window(c->pc, (unsigned)windows[id].secs, ret->cpu, ret->cpu_seen);
	return true;
}

bool stat_window_open(const struct emit_ctx *c, const char *key, enum window_id id, unsigned want,
		      struct win *ret)
{
	const struct smcp_host_api *api = c->api;
	bool ok = stat_window_get(c, id, want, ret);

	api->json_object(c->j, key);
	api->json_string(c->j, "window", windows[id].name);
	if (windows[id].secs)
		api->json_int(c->j, "requested_s", (int64_t)windows[id].secs);
	else
		api->json_null(c->j, "requested_s");
	if (!ok) {
		api->json_bool(c->j, "available", false);
		api->json_string(c->j, "reason",
				 "only one sample so far; windows need two and the sampler "
				 "takes one per second");
		api->json_end(c->j);
		return false;
	}
	api->json_bool(c->j, "available", true);
	api->json_double(c->j, "covered_s", round2(ret->covered_s));
	api->json_bool(c->j, "complete", ret->complete);
	return true;
}

bool stat_window_same_as(const struct emit_ctx *c, const struct win *w, struct win *prev)
{
	if (prev->end_ns && prev->end_ns == w->end_ns &&
	    fabs(prev->covered_s - w->covered_s) < 1e-6) {
		c->api->json_string(c->j, "same_as", windows[prev->id].name);
		c->api->json_end(c->j);
		return true;
	}
	*prev = *w;
	return false;
}

double stat_window_rate(const struct win *w, double increase)
{
	return increase > 0 && w->covered_s > 0 ? increase / w->covered_s : 0;
}

void stat_window_emit_page(const struct emit_ctx *c, const struct stat_query *q, int64_t returned,
			   int64_t total, const char *rows, const char *hint, char *note,
			   size_t note_len)
{
	const struct smcp_host_api *api = c->api;

	api->json_object(c->j, "page");
	api->json_int(c->j, "offset", q->offset);
	api->json_int(c->j, "limit", q->limit);
	api->json_int(c->j, "returned", returned);
	api->json_int(c->j, "total", total);
	if (q->offset + returned < total) {
		api->json_int(c->j, "next_offset", q->offset + returned);
		snprintf(note, note_len, "%lld more %s: call again with offset=%lld%s",
			 (long long)(total - q->offset - returned),
			 rows, (long long)(q->offset + returned), hint);
	} else {
		api->json_null(c->j, "next_offset");
	}
	api->json_end(c->j);
}

void stat_window_emit_sampling(const struct emit_ctx *c)
{
	const struct smcp_host_api *api = c->api;
	const struct sample *newest = c->s->newest;
	struct win_memo *m = c->buf->memo;
	double step_s;
	uint32_t steps;

	if (!newest || m->history_t_ns != newest->t_ns) {
		m->history_steps = stat_metrics_history(&m->history_step_s);
		m->history_t_ns = newest ? newest->t_ns : 0;
	}
	steps = m->history_steps;
	step_s = m->history_step_s;

	api->json_object(c->j, "sampling");
	api->json_int(c->j, "interval_ms", (int64_t)(step_s * 1000 + 0.5));
	/* the core's history of the window series, and the sample before it */
	api->json_int(c->j, "samples_kept", steps + (newest != NULL));
	if (newest) {
		api->json_double(c->j, "history_s", round2(steps * step_s));
		api->json_double(c->j, "since_start_s",
				 round2((double)(newest->t_ns - c->s->first.t_ns) / 1e9));
	}
	api->json_end(c->j);
}
