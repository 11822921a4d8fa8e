/* SPDX-License-Identifier: MIT */
/*
 * The analyses. Each builds its aggregates from one replay, sorts them,
 * and keeps only the page [cursor, cursor + limit) as rows; the total is
 * reported so the client can page on.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <schedmcp/array.h>

#include "ta_an.h"
#include "ta_replay.h"
#include "ta_stacks.h"

const char *const ta_analyses[] = { "summary",	   "states",	"latency",  "preemptions",
				    "wakeups",	   "critical_path", "migrations", "timeline",
				    "thread_window", "fairness",	"outliers", "dsq",
				    "samples", NULL };

static struct ta_cell *cell(struct ta_row *r, const char *key, uint8_t kind)
{
	struct ta_cell *c;

	if (r->n >= TA_ROW_CELLS)
		return NULL;
	c = &r->c[r->n++];
	c->key = key;
	c->kind = kind;
	return c;
}

void ta_cell_int(struct ta_row *r, const char *key, int64_t v)
{
	struct ta_cell *c = cell(r, key, TA_C_INT);

	if (c)
		c->i = v;
}

void ta_cell_uint(struct ta_row *r, const char *key, uint64_t v)
{
	struct ta_cell *c = cell(r, key, TA_C_UINT);

	if (c)
		c->u = v;
}

void ta_cell_dbl(struct ta_row *r, const char *key, double v)
{
	struct ta_cell *c = cell(r, key, TA_C_DBL);

	if (c)
		c->d = v;
}

void ta_cell_str(struct ta_row *r, const char *key, const char *v)
{
	struct ta_cell *c = cell(r, key, v ? TA_C_STR : TA_C_NULL);

	if (c && v)
		snprintf(c->s, sizeof(c->s), "%s", v);
}

void ta_answer_free(struct ta_answer *a)
{
	free(a->rows);
	a->rows = NULL;
}

/* A page of rows: row(i) for i in [cursor, cursor + limit) of total. */
struct ta_row *ta_an_page_row(struct ta_answer *a, const struct ta_query *q, uint64_t i)
{
	struct ta_row *r;

	a->total = i + 1 > a->total ? i + 1 : a->total;
	if (i < q->cursor || i >= q->cursor + q->limit || a->n_rows >= TA_MAX_ROWS)
		return NULL;
	r = &a->rows[a->n_rows++];
	memset(r, 0, sizeof(*r));
	return r;
}

static int bad(struct ta_answer *a, const char *msg)
{
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", msg);
	return -EINVAL;
}

static void put_thread(struct ta_row *r, const struct ta_trace *t, uint32_t th)
{
	if (th >= t->n_th) {
		ta_cell_str(r, "comm", NULL);
		return;
	}
	ta_cell_int(r, "tid", t->th[th].tid);
	ta_cell_int(r, "pid", t->th[th].tgid ? t->th[th].tgid : t->th[th].tid);
	ta_cell_str(r, "comm", t->th[th].comm[0] ? t->th[th].comm : "?");
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static uint64_t rel(const struct ta_trace *t, uint64_t ts)
{
	return ts >= t->first_ts ? ts - t->first_ts : 0;
}

/* ---------------------------------------------------------------- summary */

static int an_summary(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a)
{
	struct ta_row *h = &a->head;
	uint64_t procs = 0, i = 0;

	for (size_t k = 0; k < t->n_th; k++)
		procs += t->th[k].tgid == t->th[k].tid || !t->th[k].tgid;
	ta_cell_uint(h, "first_ts_ns", t->first_ts);
	ta_cell_uint(h, "last_ts_ns", t->last_ts);
	ta_cell_dbl(h, "duration_s", (double)(t->last_ts - t->first_ts) / 1e9);
	ta_cell_uint(h, "cpus", t->n_cpus);
	ta_cell_uint(h, "threads", t->n_th);
	ta_cell_uint(h, "processes", procs);
	ta_cell_uint(h, "events", t->n_events);
	ta_cell_uint(h, "lost_events", t->lost_events);
	ta_cell_uint(h, "lossy_bundles", t->lossy_bundles);
	ta_cell_uint(h, "reordered_events", t->unordered_events);
	ta_cell_uint(h, "track_slices", t->track_slices);
	ta_cell_uint(h, "track_instants", t->track_instants);
	ta_cell_uint(h, "track_counters", t->track_counters);
	ta_cell_uint(h, "counter_tracks", t->n_ctracks);
	ta_cell_str(h, "producer", t->uname[0] ? t->uname : NULL);
	if (q->cpu >= 0) { /* that CPU's events only */
		uint64_t n[TA_EV_N] = { 0 };

		if ((uint64_t)q->cpu < t->n_cpus) {
			for (size_t k = 0; k < t->cpus[q->cpu].n; k++)
				if (t->cpus[q->cpu].ev[k].type < TA_EV_N)
					n[t->cpus[q->cpu].ev[k].type]++;
			ta_cell_uint(h, "cpu_lost_events", t->cpus[q->cpu].lost);
		}
		ta_cell_int(h, "cpu", q->cpu);
		for (int e = 1; e < TA_EV_N; e++) {
			struct ta_row *r = ta_an_page_row(a, q, i++);

			if (!r)
				continue;
			ta_cell_str(r, "event", ta_ev_name(e));
			ta_cell_uint(r, "count", n[e]);
		}
	}
	for (int e = 1; q->cpu < 0 && e < TA_EV_N; e++) {
		struct ta_row *r = ta_an_page_row(a, q, i++);

		if (!r)
			continue;
		ta_cell_str(r, "event", ta_ev_name(e));
		ta_cell_uint(r, "count", t->counts[e]);
	}
	snprintf(a->note, sizeof(a->note),
		 "applies: %s%s%s%s%s%s%s", t->stacks && t->stacks->n_s ? "samples " : "",
		 t->counts[TA_EV_SWITCH] ? "states latency preemptions "
		 "timeline thread_window fairness outliers critical_path " : "",
		 t->counts[TA_EV_WAKING] + t->counts[TA_EV_WAKEUP_NEW] ? "wakeups " : "",
		 t->counts[TA_EV_MIGRATE] ? "migrations " : "",
		 t->dsq_events ? "dsq" : "(dsq: no sched_ext DSQ tracks in this trace)",
		 (t->last_ts - t->first_ts) > 86400ull * 1000000000 ? "; WARNING: the trace spans "
		 "more than a day: its timestamps may mix clocks" : "",
		 t->lost_events ? "; events were lost: states and latencies near the losses are "
		 "approximate" : "");
	return 0;
}

/* ----------------------------------------------------------------- states */

static bool in_scope(const struct ta_trace *t, const struct ta_query *q, uint32_t th)
{
	if (q->tid >= 0 && t->th[th].tid != q->tid)
		return false;
	if (q->pid >= 0 && (t->th[th].tgid ? t->th[th].tgid : t->th[th].tid) != q->pid)
		return false;
	return true;
}



/* The query's window in trace time: [*lo, *hi]; false when none was asked
 * (the whole trace). */
bool ta_an_window(const struct ta_trace *t, const struct ta_query *q, uint64_t *lo,
		     uint64_t *hi)
{
	*lo = q->t1_ns >= 0 ? t->first_ts + (uint64_t)q->t1_ns : t->first_ts;
	*hi = q->t2_ns >= 0 ? t->first_ts + (uint64_t)q->t2_ns : t->last_ts;
	return q->t1_ns >= 0 || q->t2_ns >= 0;
}

void ta_an_put_window(struct ta_answer *a, const struct ta_trace *t, uint64_t lo, uint64_t hi)
{
	ta_cell_uint(&a->head, "t1_ns", rel(t, lo));
	ta_cell_uint(&a->head, "t2_ns", rel(t, hi));
}

static int by_total_desc(const void *x, const void *y, void *ctx)
{
	const uint64_t *a = (const uint64_t *)ctx + (size_t)*(const uint32_t *)x * TS_N;
	const uint64_t *b = (const uint64_t *)ctx + (size_t)*(const uint32_t *)y * TS_N;
	uint64_t ta = a[TS_RUNNING] + a[TS_RUNNABLE], tb = b[TS_RUNNING] + b[TS_RUNNABLE];

	return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/* Each thread's time in each state (TS_N per thread) and switches in:
 * the replay's totals, or within [lo, hi] from its intervals, clipped. */
static int state_times(const struct ta_trace *t, const struct ta_replay *rp, bool windowed,
		       uint64_t lo, uint64_t hi, uint64_t *ns, uint64_t *sw)
{
	if (!windowed) {
		for (uint32_t i = 0; i < t->n_th; i++) {
			memcpy(ns + (size_t)i * TS_N, rp->ts[i].ns, sizeof(rp->ts[i].ns));
			sw[i] = rp->ts[i].switches_in;
		}
		return 0;
	}
	if (!rp->iv)
		return -ENOTSUP;
	for (size_t k = 0; k < rp->n_iv; k++) {
		const struct ta_ival *v = &rp->iv[k];
		uint64_t b = v->start > lo ? v->start : lo, e = v->end < hi ? v->end : hi;

		if (v->th >= t->n_th || v->state >= TS_N || e <= b)
			continue;
		ns[(size_t)v->th * TS_N + v->state] += e - b;
		if (v->state == TS_RUNNING && v->start >= lo)
			sw[v->th]++;
	}
	return 0;
}

static int an_states(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		     const struct ta_replay *rp)
{
	uint32_t *idx = malloc((t->n_th + 1) * sizeof(*idx));
	uint64_t *ns = calloc((size_t)t->n_th * TS_N + 1, sizeof(*ns));
	uint64_t *sw = calloc((size_t)t->n_th + 1, sizeof(*sw)), lo, hi;
	bool windowed = ta_an_window(t, q, &lo, &hi);
	size_t n = 0;
	int err;

	err = !idx || !ns || !sw ? -ENOMEM : state_times(t, rp, windowed, lo, hi, ns, sw);
	if (err) {
		free(idx);
		free(ns);
		free(sw);
		return err == -ENOTSUP ? bad(a, "this trace's replay kept no intervals: no window")
				       : err;
	}
	for (uint32_t i = 0; i < t->n_th; i++) {
		uint64_t sum = 0;

		for (int st = 1; st < TS_N; st++)
			sum += ns[(size_t)i * TS_N + st];
		if (sum && in_scope(t, q, i))
			idx[n++] = i;
	}
	qsort_r(idx, n, sizeof(*idx), by_total_desc, ns);
	for (size_t k = 0; k < n; k++) {
		const struct ta_tstat *s = &rp->ts[idx[k]];
		const uint64_t *v = ns + (size_t)idx[k] * TS_N;
		struct ta_row *r = ta_an_page_row(a, q, k);
		uint64_t sum = 0;

		if (!r)
			continue;
		for (int st = 1; st < TS_N; st++)
			sum += v[st];
		put_thread(r, t, idx[k]);
		ta_cell_uint(r, "observed_ns", sum);
		ta_cell_uint(r, "running_ns", v[TS_RUNNING]);
		ta_cell_dbl(r, "running_pct", pct(v[TS_RUNNING], sum));
		ta_cell_uint(r, "runnable_ns", v[TS_RUNNABLE]);
		ta_cell_dbl(r, "runnable_pct", pct(v[TS_RUNNABLE], sum));
		ta_cell_uint(r, "sleeping_ns", v[TS_SLEEP]);
		ta_cell_dbl(r, "sleeping_pct", pct(v[TS_SLEEP], sum));
		ta_cell_uint(r, "blocked_ns", v[TS_BLOCKED]);
		ta_cell_dbl(r, "blocked_pct", pct(v[TS_BLOCKED], sum));
		ta_cell_uint(r, "other_ns", v[TS_OTHER] + v[TS_DEAD]);
		ta_cell_str(r, "iowait_ns", NULL);
		ta_cell_uint(r, "switches", sw[idx[k]]);
		if (!windowed) { /* the replay counts these over the whole trace only */
			ta_cell_uint(r, "preempted", s->preempted);
			ta_cell_uint(r, "wakeups", s->wakeups);
		}
	}
	free(idx);
	free(ns);
	free(sw);
	if (windowed) {
		ta_an_put_window(a, t, lo, hi);
	} else {
		ta_cell_uint(&a->head, "irq_ns", rp->irq_ns);
		ta_cell_uint(&a->head, "softirq_ns", rp->softirq_ns);
	}
	snprintf(a->method, sizeof(a->method),
		 "state from sched_switch prev_state (R runnable, S/I sleeping, D blocked) and "
		 "sched_waking; time counted from each thread's first event%s; iowait is null: "
		 "these events do not say which D sleeps wait for I/O",
		 windowed ? ", within [t1_ns, t2_ns] (switches: switch-ins in it)" : "");
	return 0;
}

/* ---------------------------------------------------------------- latency */

static int lat_cmp(const void *x, const void *y)
{
	const struct ta_lat *a = x, *b = y;
	uint64_t ka = a->th, kb = b->th; /* overwritten with the group key */

	if (ka != kb)
		return ka < kb ? -1 : 1;
	return a->ns < b->ns ? -1 : a->ns > b->ns;
}

static uint64_t q_at(const struct ta_lat *l, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return l[k ? k - 1 : 0].ns;
}

struct lgroup {
	uint32_t key, first;
	size_t n;
	uint64_t sum, wake_n, wake_sum, pre_n, pre_sum, wake_max, pre_max;
	uint64_t enq_n, enq_sum; /* wakes with a sched_wakeup: waking -> enqueue */
};

static int by_sum_desc(const void *x, const void *y)
{
	const struct lgroup *a = x, *b = y;

	return a->sum < b->sum ? 1 : a->sum > b->sum ? -1 : 0;
}

static int an_latency(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		      const struct ta_replay *rp)
{
	bool by_cpu = !strcmp(q->group, "cpu"), by_thread = !strcmp(q->group, "thread");
	struct ta_lat *l = malloc((rp->n_lat + 1) * sizeof(*l));
	struct lgroup *g = NULL;
	size_t n = 0, ng = 0, cap = 0;
	int err = 0;

	uint64_t lo, hi;
	bool windowed = ta_an_window(t, q, &lo, &hi);

	if (!l)
		return -ENOMEM;
	if (windowed)
		ta_an_put_window(a, t, lo, hi);
	for (size_t i = 0; i < rp->n_lat; i++) {
		struct ta_lat x = rp->lat[i];
		const struct ta_thread *th = &t->th[x.th];

		if (!in_scope(t, q, x.th) || (q->cpu >= 0 && x.cpu != q->cpu))
			continue;
		if (windowed && (x.at < lo || x.at > hi))
			continue; /* a wait counts where it ended */
		x.th = by_cpu ? x.cpu : by_thread ? (uint32_t)th->tid :
			(uint32_t)(th->tgid ? th->tgid : th->tid);
		l[n++] = x;
	}
	qsort(l, n, sizeof(*l), lat_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!ng || g[ng - 1].key != l[i].th) {
			if (smcp_array_grow(&g, &cap, ng, sizeof(*g), 64)) {
				err = -ENOMEM;
				goto out;
			}
			memset(&g[ng], 0, sizeof(*g));
			g[ng].key = l[i].th;
			g[ng++].first = (uint32_t)i;
		}
		g[ng - 1].n++;
		g[ng - 1].sum += l[i].ns;
		if (l[i].kind == TA_LAT_WAKE) {
			g[ng - 1].wake_n++;
			g[ng - 1].wake_sum += l[i].ns;
			if (l[i].ns > g[ng - 1].wake_max)
				g[ng - 1].wake_max = l[i].ns;
			if (l[i].enq_ns != UINT32_MAX) {
				g[ng - 1].enq_n++;
				g[ng - 1].enq_sum += l[i].enq_ns;
			}
		} else {
			g[ng - 1].pre_n++;
			g[ng - 1].pre_sum += l[i].ns;
			if (l[i].ns > g[ng - 1].pre_max)
				g[ng - 1].pre_max = l[i].ns;
		}
	}
	if (ng)
		qsort(g, ng, sizeof(*g), by_sum_desc);
	for (size_t k = 0; k < ng; k++) {
		struct ta_row *r = ta_an_page_row(a, q, k);
		const struct ta_lat *s = &l[g[k].first];

		if (!r)
			continue;
		if (by_cpu) {
			ta_cell_uint(r, "cpu", g[k].key);
			if (g[k].key < t->n_cpus)
				ta_cell_dbl(r, "busy_pct", pct(rp->cpu_busy_ns[g[k].key],
							       t->last_ts - t->first_ts));
		} else {
			uint32_t th = ta_thread_index(t, (int32_t)g[k].key);

			ta_cell_int(r, by_thread ? "tid" : "pid", (int32_t)g[k].key);
			ta_cell_str(r, "comm", th != UINT32_MAX && t->th[th].comm[0] ?
					       t->th[th].comm : "?");
		}
		ta_cell_uint(r, "samples", g[k].n);
		ta_cell_uint(r, "total_delay_ns", g[k].sum);
		ta_cell_uint(r, "mean_ns", g[k].sum / g[k].n);
		ta_cell_uint(r, "p50_ns", q_at(s, g[k].n, 0.50));
		ta_cell_uint(r, "p90_ns", q_at(s, g[k].n, 0.90));
		ta_cell_uint(r, "p99_ns", q_at(s, g[k].n, 0.99));
		ta_cell_uint(r, "p99_9_ns", q_at(s, g[k].n, 0.999));
		ta_cell_uint(r, "max_ns", s[g[k].n - 1].ns);
		ta_cell_uint(r, "after_wakeup", g[k].wake_n);
		ta_cell_uint(r, "after_wakeup_delay_ns", g[k].wake_sum);
		ta_cell_uint(r, "after_wakeup_max_ns", g[k].wake_max);
		if (g[k].enq_n) {
			ta_cell_uint(r, "wakeups_with_enqueue", g[k].enq_n);
			ta_cell_uint(r, "waking_to_runnable_ns", g[k].enq_sum);
		}
		ta_cell_uint(r, "after_preemption", g[k].pre_n);
		ta_cell_uint(r, "after_preemption_delay_ns", g[k].pre_sum);
		ta_cell_uint(r, "after_preemption_max_ns", g[k].pre_max);
	}
	snprintf(a->method, sizeof(a->method),
		 "scheduling delay per switch-in: from sched_waking/wakeup_new (after_wakeup) or "
		 "from a preempted switch-out (after_preemption) to the switch-in; where the trace "
		 "has sched_wakeup, waking_to_runnable_ns sums waking -> enqueue of those wakes "
		 "(the rest of their delay is runnable -> running); exact percentiles over all "
		 "samples%s, grouped by %s",
		 windowed ? " that ended within [t1_ns, t2_ns]" : "", by_cpu ? "cpu" :
		 by_thread ? "thread" : "process");
out:
	free(l);
	free(g);
	return err;
}

/* ---------------------------------------------------- pairs (preempt, wake) */

struct pair {
	uint32_t a, b;
	uint64_t n;
};

static int pair_cmp(const void *x, const void *y)
{
	const struct pair *a = x, *b = y;

	return a->n < b->n ? 1 : a->n > b->n ? -1 : 0;
}

static int an_pairs(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		    const struct smcp_hashmap *m, const char *ka, const char *kb)
{
	struct pair *p = malloc((m->n + 1) * sizeof(*p));
	size_t n = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		const struct smcp_hashmap_entry *e = &m->entries[i];

		if (!m->hashes[i])
			continue;
		p[n] = (struct pair){ (uint32_t)(e->key >> 32), (uint32_t)e->key, e->value };
		if ((q->tid < 0 && q->pid < 0) || in_scope(t, q, p[n].a) || in_scope(t, q, p[n].b))
			n++;
	}
	qsort(p, n, sizeof(*p), pair_cmp);
	for (size_t k = 0; k < n; k++) {
		struct ta_row *r = ta_an_page_row(a, q, k);

		if (!r)
			continue;
		ta_cell_int(r, ka, t->th[p[k].a].tid);
		ta_cell_str(r, "comm", t->th[p[k].a].comm);
		ta_cell_int(r, kb, t->th[p[k].b].tid);
		ta_cell_str(r, "comm2", t->th[p[k].b].comm);
		ta_cell_uint(r, "count", p[k].n);
	}
	free(p);
	return 0;
}

/* ------------------------------------------------------- intervals (time) */

static void put_ival(struct ta_row *r, const struct ta_trace *t, const struct ta_ival *v)
{
	ta_cell_uint(r, "start_ns", rel(t, v->start));
	ta_cell_uint(r, "dur_ns", v->end - v->start);
	put_thread(r, t, v->th);
	ta_cell_str(r, "state", ta_tstate_name(v->state));
	ta_cell_int(r, "cpu", v->cpu);
	if (v->other != UINT32_MAX && v->other < t->n_th) {
		ta_cell_str(r, v->state == TS_RUNNABLE ? "preempted_by" : "woken_by",
			    t->th[v->other].comm);
		ta_cell_int(r, "by_tid", t->th[v->other].tid);
	}
}

/* timeline (cpu or pid given) and thread_window (tid given): the intervals
 * that overlap [t1, t2], clipped, in the order they ended (time order
 * for one thread or one CPU). */
static int an_window(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		     const struct ta_replay *rp, bool thread_window)
{
	uint64_t t1 = q->t1_ns >= 0 ? t->first_ts + (uint64_t)q->t1_ns : t->first_ts;
	uint64_t t2 = q->t2_ns >= 0 ? t->first_ts + (uint64_t)q->t2_ns : t->last_ts;
	uint64_t k = 0, in_state[TS_N] = { 0 };

	if (thread_window && q->tid < 0)
		return bad(a, "thread_window needs tid (and t1_ns, t2_ns: ns from the trace's start)");
	if (!thread_window && q->cpu < 0 && q->pid < 0 && q->tid < 0)
		return bad(a, "timeline needs cpu, pid or tid");
	for (size_t i = 0; i < rp->n_iv; i++) {
		struct ta_ival v = rp->iv[i];
		struct ta_row *r;

		if (v.end <= t1 || v.start >= t2 || !in_scope(t, q, v.th))
			continue;
		if (q->cpu >= 0 && (v.state != TS_RUNNING || v.cpu != q->cpu))
			continue;
		if (!thread_window && q->cpu < 0 && v.state != TS_RUNNING &&
		    v.state != TS_RUNNABLE)
			continue;
		v.start = v.start < t1 ? t1 : v.start;
		v.end = v.end > t2 ? t2 : v.end;
		in_state[v.state] += v.end - v.start;
		r = ta_an_page_row(a, q, k++);
		if (r)
			put_ival(r, t, &v);
	}
	ta_cell_uint(&a->head, "t1_ns", rel(t, t1));
	ta_cell_uint(&a->head, "t2_ns", rel(t, t2));
	for (int s = 1; s < TS_N; s++)
		if (in_state[s])
			ta_cell_uint(&a->head, s == TS_RUNNING ? "running_ns" : s == TS_RUNNABLE ?
				     "runnable_ns" : s == TS_SLEEP ? "sleeping_ns" : s == TS_BLOCKED ?
				     "blocked_ns" : "other_ns", in_state[s]);
	snprintf(a->method, sizeof(a->method), "intervals of thread state between events, clipped "
		 "to [t1_ns, t2_ns] (ns from the trace's first event); %s",
		 q->cpu >= 0 ? "what ran on the CPU" : thread_window ? "every state of the thread" :
		 "running and runnable intervals of the process's threads");
	return 0;
}

#define TA_PATH_STEPS 10000

/* critical_path: from the thread's last moment back, what it waited for:
 * running -> itself; runnable -> the CPU; sleeping -> follow the waker. */
static int an_critical(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		       const struct ta_replay *rp)
{
	uint32_t th = ta_thread_index(t, (int32_t)q->tid);
	uint64_t at = q->t2_ns >= 0 ? t->first_ts + (uint64_t)q->t2_ns : t->last_ts;
	uint64_t lo = q->t1_ns >= 0 ? t->first_ts + (uint64_t)q->t1_ns : t->first_ts, k = 0;
	uint32_t *first = NULL;
	int steps = 0;

	if (q->tid < 0 || th == UINT32_MAX)
		return bad(a, "critical_path needs tid, a thread of the trace");
	/* per thread, its intervals newest first (the replay's lists); where
	 * each thread's walk has got to */
	first = malloc((t->n_th + 1) * sizeof(*first));
	if (!first)
		return -ENOMEM;
	memcpy(first, rp->iv_last, t->n_th * sizeof(*first));
	while (at > lo && steps++ < TA_PATH_STEPS) {
		uint32_t i = first[th];
		struct ta_ival v;
		struct ta_row *r;

		/* at never grows, so what was skipped stays skipped: first[]
		 * moves down each list, and the walk is linear */
		while (i != UINT32_MAX && rp->iv[i].start >= at)
			i = rp->iv_prev[i];
		first[th] = i;
		if (i == UINT32_MAX)
			break;
		v = rp->iv[i];
		if (v.end > at)
			v.end = at;
		if (v.start < lo)
			v.start = lo;
		r = ta_an_page_row(a, q, k++);
		if (r)
			put_ival(r, t, &v);
		at = v.start;
		if ((v.state == TS_SLEEP || v.state == TS_BLOCKED) && v.other < t->n_th &&
		    v.other != th) {
			th = v.other; /* the waker: what it did before the wakeup */
			at = v.end;
		}
	}
	free(first);
	snprintf(a->method, sizeof(a->method),
		 "walked back from t2_ns (default: the end): running and runnable time is the "
		 "thread's own; a sleep ended by a wakeup continues on the waker before that "
		 "moment (wakeup chain); rows newest first; at most %d steps (narrow with "
		 "t1_ns, t2_ns)", TA_PATH_STEPS);
	return 0;
}

/* ------------------------------------------------------------- migrations */

static int an_migrations(const struct ta_trace *t, const struct ta_query *q,
			 struct ta_answer *a)
{
	static const char *const cls[] = { "same_core", "same_llc", "same_node", "cross_node",
					   "unknown" };
	uint64_t n[5] = { 0 };
	const struct ta_topo *tp = q->topo;

	for (uint32_t c = 0; c < t->n_cpus; c++)
		for (size_t i = 0; i < t->cpus[c].n; i++) {
			const struct ta_ev *e = &t->cpus[c].ev[i];
			uint32_t th = ta_thread_index(t, e->a);
			int k = 4;

			if (e->type != TA_EV_MIGRATE || (th != UINT32_MAX && !in_scope(t, q, th)))
				continue;
			if (tp && tp->valid && e->b >= 0 && e->c >= 0 && (uint32_t)e->b < tp->n_cpus &&
			    (uint32_t)e->c < tp->n_cpus) {
				uint32_t o = (uint32_t)e->b, d = (uint32_t)e->c;

				k = tp->core[o] == tp->core[d] && tp->core[o] >= 0 ? 0 :
				    tp->llc[o] == tp->llc[d] && tp->llc[o] >= 0 ? 1 :
				    tp->node[o] == tp->node[d] && tp->node[o] >= 0 ? 2 : 3;
			}
			n[k]++;
		}
	for (int k = 0; k < 5; k++) {
		struct ta_row *r = ta_an_page_row(a, q, (uint64_t)k);

		if (!r)
			continue;
		ta_cell_str(r, "class", cls[k]);
		ta_cell_uint(r, "count", n[k]);
	}
	snprintf(a->method, sizeof(a->method), "sched_migrate_task orig_cpu -> dest_cpu, classed "
		 "by %s", tp && tp->valid ? "this machine's topology from /sys (the trace says it "
		 "comes from this kernel and CPU count)" : q->topo_why ? q->topo_why :
		 "nothing: topology unknown");
	return 0;
}

/* --------------------------------------------------------------- fairness */

static const int prio_weight[40] = {
	88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
	9548,  7620,  6100,  4904,  3906,  3121,  2501,  1991,  1586,  1277,
	1024,  820,   655,   526,   423,   335,   272,   215,   172,   137,
	110,   87,    70,    56,    45,    36,    29,    23,    18,    15,
};

static int by_served(const void *x, const void *y, void *ctx)
{
	const struct ta_tstat *a = &((const struct ta_replay *)ctx)->ts[*(const uint32_t *)x];
	const struct ta_tstat *b = &((const struct ta_replay *)ctx)->ts[*(const uint32_t *)y];
	double sa = (double)a->ns[TS_RUNNING] / (double)(a->ns[TS_RUNNING] + a->ns[TS_RUNNABLE] + 1);
	double sb = (double)b->ns[TS_RUNNING] / (double)(b->ns[TS_RUNNING] + b->ns[TS_RUNNABLE] + 1);

	return sa < sb ? -1 : sa > sb;
}

static int an_fairness(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		       const struct ta_replay *rp)
{
	uint32_t *idx = malloc((t->n_th + 1) * sizeof(*idx));
	uint64_t total_run = 0, total_w = 0, starved = 0;
	size_t n = 0;

	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n_th; i++)
		if (rp->ts[i].ns[TS_RUNNING] + rp->ts[i].ns[TS_RUNNABLE] && in_scope(t, q, i)) {
			int p = t->th[i].prio;

			idx[n++] = i;
			total_run += rp->ts[i].ns[TS_RUNNING];
			total_w += p >= 100 && p < 140 ? (uint64_t)prio_weight[p - 100] : 1024;
		}
	qsort_r(idx, n, sizeof(*idx), by_served, (void *)rp);
	for (size_t k = 0; k < n; k++) {
		const struct ta_tstat *s = &rp->ts[idx[k]];
		int p = t->th[idx[k]].prio;
		uint64_t w = p >= 100 && p < 140 ? (uint64_t)prio_weight[p - 100] : 1024;
		bool st = s->max_wait_ns >= 50000000ull;
		struct ta_row *r = ta_an_page_row(a, q, k);

		starved += st;
		if (!r)
			continue;
		put_thread(r, t, idx[k]);
		if (p != INT32_MIN)
			ta_cell_int(r, "prio", p);
		ta_cell_uint(r, "weight", w);
		ta_cell_dbl(r, "cpu_share_pct", pct(s->ns[TS_RUNNING], total_run));
		ta_cell_dbl(r, "weight_share_pct", pct(w, total_w));
		ta_cell_dbl(r, "served_pct", pct(s->ns[TS_RUNNING], s->ns[TS_RUNNING] +
						 s->ns[TS_RUNNABLE]));
		ta_cell_uint(r, "max_wait_ns", s->max_wait_ns);
		ta_cell_str(r, "starved", st ? "yes" : "no");
	}
	ta_cell_uint(&a->head, "starved_threads", starved);
	free(idx);
	snprintf(a->method, sizeof(a->method),
		 "threads that wanted a CPU, least served first: served_pct = running / (running + "
		 "runnable); cpu_share_pct of all running time vs weight_share_pct from the "
		 "kernel's nice-to-weight table (prio 100..139; others 1024); starved: a wait of "
		 "50 ms or more");
	return 0;
}

/* --------------------------------------------------------------- outliers */

static int lat_ns_cmp(const void *x, const void *y)
{
	const struct ta_lat *a = x, *b = y;

	return a->ns < b->ns ? 1 : a->ns > b->ns ? -1 : 0;
}

static int an_outliers(const struct ta_trace *t, const struct ta_query *q, struct ta_answer *a,
		       const struct ta_replay *rp)
{
	struct ta_lat *l = malloc((rp->n_lat + 1) * sizeof(*l));
	size_t n = 0, out = 0;
	uint64_t q1, q3, fence;

	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < rp->n_lat; i++)
		if (in_scope(t, q, rp->lat[i].th) && (q->cpu < 0 || rp->lat[i].cpu == q->cpu))
			l[n++] = rp->lat[i];
	qsort(l, n, sizeof(*l), lat_ns_cmp); /* largest first */
	q1 = n ? l[(n * 3) / 4].ns : 0;
	q3 = n ? l[n / 4].ns : 0;
	fence = q3 + 3 * (q3 - q1);
	for (size_t i = 0; i < n && l[i].ns > fence; i++) {
		struct ta_row *r = ta_an_page_row(a, q, out++);

		if (!r)
			continue;
		put_thread(r, t, l[i].th);
		ta_cell_uint(r, "delay_ns", l[i].ns);
		ta_cell_uint(r, "at_ns", rel(t, l[i].at));
		ta_cell_uint(r, "cpu", l[i].cpu);
		ta_cell_str(r, "after", l[i].kind == TA_LAT_WAKE ? "wakeup" : "preemption");
	}
	ta_cell_uint(&a->head, "samples", n);
	ta_cell_uint(&a->head, "q1_ns", q1);
	ta_cell_uint(&a->head, "q3_ns", q3);
	ta_cell_uint(&a->head, "fence_ns", fence);
	free(l);
	snprintf(a->method, sizeof(a->method),
		 "scheduling delays above Tukey's far-out fence Q3 + 3 * (Q3 - Q1) of all delays "
		 "in scope, largest first; thread_window with the tid and at_ns shows the context");
	return 0;
}

int ta_analyze(const struct ta_trace *t, const struct ta_replay *shared, const struct ta_query *q,
	       struct ta_answer *a, struct ta_replay **ret_rp)
{
	const char *n = q->analysis;
	struct ta_replay *own = NULL;
	const struct ta_replay *rp = shared;
	int err = 0;

	memset(a, 0, sizeof(*a));
	a->rows = calloc(TA_MAX_ROWS, sizeof(*a->rows));
	if (!a->rows)
		return -ENOMEM;
	if (!strcmp(n, "summary"))
		return an_summary(t, q, a);
	if (!strcmp(n, "migrations"))
		return an_migrations(t, q, a);
	if (!strcmp(n, "dsq"))
		return ta_an_dsq(t, q, a);
	if (!strcmp(n, "samples"))
		return ta_an_samples(t, q, a);
	if (!rp) {
		own = malloc(sizeof(*own));
		if (!own)
			return -ENOMEM;
		err = ta_replay_run(own, t, true);
		if (err) {
			free(own);
			return err;
		}
		rp = own;
	}
	if (!strcmp(n, "states"))
		err = an_states(t, q, a, rp);
	else if (!strcmp(n, "latency"))
		err = an_latency(t, q, a, rp);
	else if (!strcmp(n, "preemptions")) {
		err = an_pairs(t, q, a, &rp->pairs, "preempter_tid", "victim_tid");
		snprintf(a->method, sizeof(a->method), "switches whose prev_state was R: the "
			 "next task (preempter, comm) took the CPU from the previous (victim, comm2)");
	} else if (!strcmp(n, "wakeups")) {
		err = an_pairs(t, q, a, &rp->wakes, "waker_tid", "wakee_tid");
		snprintf(a->method, sizeof(a->method), "sched_waking of a sleeping thread: the "
			 "waker (comm) is the task running on the waking CPU, the wakee is comm2; "
			 "critical_path follows the chain of one thread");
	} else if (!strcmp(n, "critical_path"))
		err = an_critical(t, q, a, rp);
	else if (!strcmp(n, "timeline"))
		err = an_window(t, q, a, rp, false);
	else if (!strcmp(n, "thread_window"))
		err = an_window(t, q, a, rp, true);
	else if (!strcmp(n, "fairness"))
		err = an_fairness(t, q, a, rp);
	else if (!strcmp(n, "outliers"))
		err = an_outliers(t, q, a, rp);
	else
		err = bad(a, "unknown analysis");
	if (own && ret_rp && !err) {
		*ret_rp = own; /* the caller may keep it for the next analyses */
		own = NULL;
	}
	if (own) {
		ta_replay_free(own);
		free(own);
	}
	return err;
}
