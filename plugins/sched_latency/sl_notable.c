/* SPDX-License-Identifier: MIT */
/*
 * Notable events: what a model that only reads events://stream (or
 * poll_events) should hear about without enabling anything, at a rate it
 * can read. Raw sched.* events stay behind control_event_tracking.
 *
 *   notable.runq_latency     a CPU whose run-queue latency tail (p99, or the
 *                            20th longest wait on a CPU with many waits) over
 *                            the last step is far above its own usual tail
 *   notable.migration_burst  migrations across the machine far above usual
 *   notable.dsq_latency      a sched_ext DSQ whose wait tail (insert to
 *                            run) over the last step is far above its own
 *                            usual tail (sl_notable_dsq, from the metrics'
 *                            DSQ collect)
 *
 * Judged once per history step (from sl_metrics.c's collect, on the per-CPU
 * map it already read), never per scheduler event: BPF keeps aggregating in
 * the kernel and an idle machine costs one pass over ncpus histograms a
 * step. The baseline is an EWMA of each CPU's step tail (and of the machine's
 * migrations per step; see baseline() for how bursts are kept out of it),
 * so a CPU that is always busy stops being news; a
 * floor keeps microsecond jitter on an idle machine quiet, a per-kind
 * cooldown and a machine-wide budget (NOTABLE_BUDGET a minute) bound the
 * rate, and what the budget held back is counted in the next event.
 *
 * The process named is found in the thread series' changes since the last
 * step (sl_window_visit_since: no allocation), among the threads that last
 * ran on that CPU: the one that waited longest and the one that ran
 * longest (under CPU hogs, the hog).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl.h"
#include "sl_judge.h"

#define MIG_FLOOR_PER_S 300.0  /* migration bursts below this are not notable */
#define MIG_BASE_MIN_PER_S 20.0
#define MIG_FACTOR 4.0
#define COOLDOWN_NS SL_JUDGE_COOLDOWN_NS /* for bursts, as for each CPU and DSQ */
#define BUDGET_WINDOW_NS (60ull * 1000000000ull)
#define NOTABLE_BUDGET 10      /* notable events a minute, machine-wide */
#define MAX_CAND 8             /* CPUs reported in one step */
#define NT_RUNNERS 3           /* threads named as the CPU's busiest */

struct nt_cpu {
	struct sl_judge judge;
	uint64_t mig_in; /* cumulative migrations in at the last step */
};

struct nt_who {
	uint32_t pid, tgid;
	uint64_t v;
	char comm[SLW_COMM_LEN + 1];
};

struct nt_cand {
	int cpu;
	struct sl_verdict v; /* for a migration burst: base_us and waits only */
	struct nt_who waiter, migrator;
	struct nt_who runners[NT_RUNNERS]; /* most run time first */
};

struct sl_notable {
	struct nt_cpu *cpu; /* ncpus */
	uint64_t mig_prev;
	double mig_ewma;
	uint32_t mig_steps;
	uint64_t mig_last_ns;
	uint64_t last_step_ns;
	uint64_t thr_tick; /* w_thread.ticks visited up to */
	uint64_t budget_start_ns;
	uint32_t budget_used;
	uint64_t suppressed; /* held back by the budget since the last event */
	struct nt_cand cand[MAX_CAND];
	unsigned ncand;
	uint64_t hist[SL_NB]; /* one series' delta */
	uint64_t published;
};

int sl_notable_init(struct sl *p)
{
	struct sl_notable *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->cpu = calloc((size_t)p->ncpus, sizeof(*n->cpu));
	if (!n->cpu) {
		free(n);
		return -ENOMEM;
	}
	p->notable = n;
	return 0;
}

void sl_notable_fini(struct sl *p)
{
	if (!p->notable)
		return;
	free(p->notable->cpu);
	free(p->notable);
	p->notable = NULL;
}

static void take(struct nt_who *w, const struct sl_window_change *ch, uint64_t v)
{
	if (v <= w->v)
		return;
	w->v = v;
	w->pid = (uint32_t)ch->key;
	w->tgid = ch->meta->tgid;
	memcpy(w->comm, ch->meta->comm, SLW_COMM_LEN);
	w->comm[SLW_COMM_LEN] = '\0';
}

/* Keep the NT_RUNNERS largest v in w, largest first, one entry a thread:
 * the window that catches a spike may have started before the threads
 * causing it did, and the thread that ran most in it is then not one of
 * them. */
static void take_top(struct nt_who *w, const struct sl_window_change *ch, uint64_t v)
{
	unsigned i = 0, at;
	struct nt_who t;

	if (!v)
		return;
	while (i < NT_RUNNERS && w[i].pid && w[i].pid != (uint32_t)ch->key)
		i++;
	if (i == NT_RUNNERS) { /* full and not among them: replaces the last */
		i = NT_RUNNERS - 1;
		if (v <= w[i].v)
			return;
		w[i].pid = 0;
	}
	if (w[i].pid && v <= w[i].v)
		return;
	take(&w[i], ch, v);
	t = w[i];
	for (at = i; at > 0 && w[at - 1].v < t.v; at--)
		w[at] = w[at - 1];
	w[at] = t;
}

/* Visit callback: the threads that ran last on a candidate CPU. */
static void pick_threads(void *ctx, const struct sl_window_change *ch)
{
	struct sl_notable *n = ctx;

	for (unsigned i = 0; i < n->ncand; i++) {
		struct nt_cand *c = &n->cand[i];

		if (c->cpu >= 0 && (uint32_t)c->cpu != ch->meta->last_cpu)
			continue;
		if (c->cpu < 0) {
			take(&c->migrator, ch, ch->dc[SLT_MIGRATIONS]);
			continue;
		}
		take(&c->waiter, ch, ch->dc[SLT_WAIT_NS]);
		take_top(c->runners, ch, ch->dc[SLT_RUN_NS]);
	}
}

static bool budget_ok(struct sl_notable *n, uint64_t now)
{
	if (now - n->budget_start_ns >= BUDGET_WINDOW_NS) {
		n->budget_start_ns = now;
		n->budget_used = 0;
	}
	if (n->budget_used >= NOTABLE_BUDGET) {
		n->suppressed++;
		return false;
	}
	n->budget_used++;
	return true;
}

/* 4 significant digits: what a reader needs of a measured value */
static double sig4(double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.4g", v);
	return strtod(buf, NULL);
}

static void emit_who(const struct smcp_host_api *api, struct smcp_json *j, const char *key,
		     const struct nt_who *w, const char *what)
{
	if (!w->pid)
		return;
	api->json_object(j, key);
	api->json_uint(j, "pid", w->pid);
	api->json_uint(j, "tgid", w->tgid);
	api->json_string(j, "comm", w->comm);
	api->json_double(j, what, sig4((double)w->v / 1e6));
	api->json_end(j);
}

static void finish(struct sl *p, struct smcp_json *j, const char *summary)
{
	struct sl_notable *n = p->notable;

	p->api->json_string(j, "summary", summary);
	if (n->suppressed)
		p->api->json_uint(j, "suppressed_before", n->suppressed);
	n->suppressed = 0;
	if (p->api->event_commit(p->h, j) == 0)
		n->published++;
}

static void publish_latency(struct sl *p, const struct nt_cand *c, double step_s)
{
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->event_begin(p->h, "notable.runq_latency");
	char summary[384];
	int len;

	if (!j)
		return;
	api->json_int(j, "cpu", c->cpu);
	api->json_double(j, "tail_us", sig4(c->v.tail_us));
	api->json_string(j, "tail", c->v.rank20 ? "20th longest wait" : "p99");
	api->json_double(j, "baseline_tail_us", sig4(c->v.base_us));
	api->json_double(j, "p99_us", sig4(c->v.p99_us));
	api->json_uint(j, "waits", c->v.waits);
	api->json_uint(j, "waits_over_1ms", c->v.long_waits);
	api->json_double(j, "window_s", sig4(step_s));
	emit_who(api, j, "longest_waiter", &c->waiter, "wait_ms");
	emit_who(api, j, "top_runner", &c->runners[0], "run_ms");
	if (c->runners[0].pid) {
		api->json_array(j, "top_runners");
		for (unsigned i = 0; i < NT_RUNNERS && c->runners[i].pid; i++)
			emit_who(api, j, NULL, &c->runners[i], "run_ms");
		api->json_end(j);
	}
	len = snprintf(summary, sizeof(summary),
		       "CPU %d run-queue latency tail %.4g us over the last %.3g s (%llu waits "
		       "over 1 ms), %.3gx its usual %.4g us",
		       c->cpu, c->v.tail_us, step_s, (unsigned long long)c->v.long_waits,
		       c->v.tail_us / c->v.base_us, c->v.base_us);
	for (unsigned i = 0; i < NT_RUNNERS && c->runners[i].pid; i++)
		if (len > 0 && (size_t)len < sizeof(summary))
			len += snprintf(summary + len, sizeof(summary) - (size_t)len,
					"%s%s (pid %u, %.4g ms)", i ? ", " : "; ran most: ",
					c->runners[i].comm, c->runners[i].pid,
					(double)c->runners[i].v / 1e6);
	if (c->waiter.pid && len > 0 && (size_t)len < sizeof(summary))
		(void)snprintf(summary + len, sizeof(summary) - (size_t)len,
			       "; waited most: %s (pid %u, %.4g ms)", c->waiter.comm,
			       c->waiter.pid, (double)c->waiter.v / 1e6);
	finish(p, j, summary);
}

static void publish_burst(struct sl *p, const struct nt_cand *c, int top_cpu, uint64_t top_n,
			  double step_s)
{
	const struct smcp_host_api *api = p->api;
	struct smcp_json *j = api->event_begin(p->h, "notable.migration_burst");
	char summary[256];
	int len;

	if (!j)
		return;
	api->json_double(j, "migrations_per_s", sig4((double)c->v.waits / step_s));
	api->json_double(j, "baseline_per_s", sig4(c->v.base_us));
	api->json_double(j, "window_s", sig4(step_s));
	api->json_int(j, "cpu", top_cpu);
	api->json_uint(j, "cpu_migrations_in", top_n);
	if (c->migrator.pid) {
		api->json_object(j, "top_migrator");
		api->json_uint(j, "pid", c->migrator.pid);
		api->json_uint(j, "tgid", c->migrator.tgid);
		api->json_string(j, "comm", c->migrator.comm);
		api->json_uint(j, "migrations", c->migrator.v);
		api->json_end(j);
	}
	len = snprintf(summary, sizeof(summary),
		       "%.4g migrations/s over the last %.3g s, %.3gx the usual %.4g/s; most "
		       "into CPU %d",
		       (double)c->v.waits / step_s, step_s, (double)c->v.waits / step_s / c->v.base_us,
		       c->v.base_us, top_cpu);
	if (c->migrator.pid && len > 0 && (size_t)len < sizeof(summary))
		(void)snprintf(summary + len, sizeof(summary) - (size_t)len,
			       "; moved most: %s (pid %u, %llu times)", c->migrator.comm,
			       c->migrator.pid, (unsigned long long)c->migrator.v);
	finish(p, j, summary);
}

void sl_notable_step(struct sl *p, const struct sl_cpu_stats *v, uint64_t now_ns)
{
	struct sl_notable *n = p->notable;
	uint64_t mig = 0, top_n = 0;
	double step_s;
	int top_cpu = -1;

	if (!n || !v)
		return;
	n->ncand = 0;
	step_s = n->last_step_ns && now_ns > n->last_step_ns ?
			 (double)(now_ns - n->last_step_ns) / 1e9 :
			 0;
	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		struct nt_cpu *c = &n->cpu[cpu];
		struct sl_verdict verdict;
		uint64_t dm;

		dm = v[cpu].migrations_in - c->mig_in;
		c->mig_in = v[cpu].migrations_in;
		mig += v[cpu].migrations_in;
		if (dm > top_n) {
			top_n = dm;
			top_cpu = cpu;
		}
		if (sl_judge_step(&c->judge, (const uint64_t *)v[cpu].wait_hist, now_ns, n->ncand < MAX_CAND,
				  n->hist, &verdict))
			n->cand[n->ncand++] = (struct nt_cand){ .cpu = cpu, .v = verdict };
	}
	if (step_s > 0 && n->mig_prev) {
		uint64_t d = mig - n->mig_prev;
		double rate = (double)d / step_s, base = fmax(n->mig_ewma, MIG_BASE_MIN_PER_S);

		if (n->mig_steps >= SL_JUDGE_WARMUP_STEPS && rate >= MIG_FLOOR_PER_S &&
		    rate >= MIG_FACTOR * base && now_ns - n->mig_last_ns >= COOLDOWN_NS &&
		    n->ncand < MAX_CAND) {
			/* cpu -1: the machine; waits holds the migrations */
			n->cand[n->ncand++] = (struct nt_cand){ .cpu = -1,
								 .v = { .base_us = base, .waits = d } };
			n->mig_last_ns = now_ns;
		}
		n->mig_ewma = sl_judge_baseline(n->mig_ewma, rate, n->mig_steps, MIG_BASE_MIN_PER_S);
		n->mig_steps++;
	}
	n->mig_prev = mig;
	n->last_step_ns = now_ns;
	if (!n->ncand) {
		n->thr_tick = p->w_thread.ticks;
		return;
	}
	(void)sl_window_visit_since(&p->w_thread, n->thr_tick, pick_threads, n);
	n->thr_tick = p->w_thread.ticks;
	for (unsigned i = 0; i < n->ncand; i++) {
		if (!budget_ok(n, now_ns))
			continue;
		if (n->cand[i].cpu >= 0)
			publish_latency(p, &n->cand[i], step_s);
		else
			publish_burst(p, &n->cand[i], top_cpu, top_n, step_s);
	}
}

void sl_notable_dsq(struct sl *p, struct sl_judge *judge, const char *dsq, const uint64_t *hist,
		    int64_t depth, uint64_t now_ns)
{
	const struct smcp_host_api *api = p->api;
	struct sl_notable *n = p->notable;
	struct sl_verdict v;
	struct smcp_json *j;
	char summary[256];
	int len;

	if (!n || !sl_judge_step(judge, hist, now_ns, true, n->hist, &v) ||
	    !budget_ok(n, now_ns))
		return;
	j = api->event_begin(p->h, "notable.dsq_latency");
	if (!j)
		return;
	api->json_string(j, "dsq", dsq);
	api->json_double(j, "tail_us", sig4(v.tail_us));
	api->json_string(j, "tail", v.rank20 ? "20th longest wait" : "p99");
	api->json_double(j, "baseline_tail_us", sig4(v.base_us));
	api->json_double(j, "p99_us", sig4(v.p99_us));
	api->json_uint(j, "waits", v.waits);
	api->json_uint(j, "waits_over_1ms", v.long_waits);
	api->json_double(j, "window_s", sig4(v.step_s));
	if (depth >= 0)
		api->json_int(j, "depth", depth);
	len = snprintf(summary, sizeof(summary),
		       "DSQ %s wait tail %.4g us (insert to run) over the last %.3g s (%llu waits "
		       "over 1 ms), %.3gx its usual %.4g us",
		       dsq, v.tail_us, v.step_s, (unsigned long long)v.long_waits,
		       v.tail_us / v.base_us, v.base_us);
	if (depth >= 0 && len > 0 && (size_t)len < sizeof(summary))
		(void)snprintf(summary + len, sizeof(summary) - (size_t)len, "; %lld queued now",
			       (long long)depth);
	finish(p, j, summary);
}
