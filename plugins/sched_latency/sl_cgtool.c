/* SPDX-License-Identifier: MIT */
/*
 * diagnose_cgroup and stats://cgroup/{+cgroup}: why a cgroup waits for a CPU.
 * Two samples of its cgroupfs files (sl_cgfs.c) and of its siblings' usage
 * and weight, duration_s apart on the loop's timer (never a sleep), and
 * the run-queue waits of its member processes and of the machine from the
 * BPF series over the same window; sl_cg_judge() names the cause.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_call.h"
#include "sl_cgfs.h"
#include "sl_cgnames.h"
#include "sl_cgroup.h"
#include "sl_cgtool.h"

#define MAX_SIBLINGS 32
#define MAX_MEMBERS 4096
#define TOP_MEMBERS 5
#define MAX_AFFINITY 64 /* members whose allowed CPUs are read */

struct cg_side {
	char name[256];
	struct sl_cg_sample a, b;
};

struct cg_diag {
	struct sl_cgfs fs;
	char input[SL_CGFS_PATH_MAX];
	char path[SL_CGFS_PATH_MAX];
	bool guess;
	char guess_why[256];
	struct sl_cg_sample a, b;
	struct sl_cg_machine ma, mb;
	struct cg_side *sib; /* siblings, this one included */
	int nsib;
	bool resource;
	bool bpf_cg; /* the per-cgroup BPF series has it: c0 since load at the start */
	int resolve_err;
	char why[1024]; /* what resolving said */
	char state_root[256]; /* where the runtimes' state is read (sl_cgstate.h) */
	const char *from, *rt_kind; /* resolved through a runtime's state */
	char rt_name[320];
	bool cancelled; /* while the name was resolved on a worker */
	/* the cgroup and its descendants (sl_cgroup_subtree_*): since load at
	 * the start and the end, and the window of cg_window() */
	struct sl_cg_subtree t0, t1, tw;
};

static double r2(double v)
{
	return (double)(int64_t)(v * 100.0 + (v < 0 ? -0.5 : 0.5)) / 100.0;
}

static void diag_free(struct sl_call *c)
{
	struct cg_diag *d = c->priv;

	if (d)
		free(d->sib);
	free(d);
	c->priv = NULL;
}

/* The parent of path into buf, and path's last component. */
static const char *split_parent(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	snprintf(buf, len, "%.*s", (int)(n ? n : 1), n ? path : "/");
	return slash ? slash + 1 : path;
}

static void sample_siblings(struct cg_diag *d, uint64_t now, bool second)
{
	char parent[SL_CGFS_PATH_MAX], sp[SL_CGFS_PATH_MAX + 260];

	(void)split_parent(d->path, parent, sizeof(parent));
	for (int i = 0; i < d->nsib; i++) {
		snprintf(sp, sizeof(sp), "%s/%s", parent[1] ? parent : "", d->sib[i].name);
		(void)sl_cgfs_sample(&d->fs, sp, now, second ? &d->sib[i].b : &d->sib[i].a);
	}
}

/* Run-queue waits of the members (processes in cgroup.procs now) and of
 * the machine since c->since_ns, from the process and CPU series. */
struct member {
	uint32_t pid;
	char comm[SLW_COMM_LEN + 1];
	uint64_t waits, wait_ns, run_ns;
	double p99_us;
};

struct waits {
	uint64_t h[SL_NB], hm[SL_NB];
	uint64_t wait_ns, m_wait_ns;
	struct member top[TOP_MEMBERS];
	int ntop, nprocs, nran;
	bool incomplete;
	int pids[MAX_MEMBERS];
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	return x->p99_us < y->p99_us ? 1 : x->p99_us > y->p99_us ? -1 : 0;
}

static int waits_read(struct sl_call *c, struct cg_diag *d, struct waits *o, struct sl_cg_wait *w)
{
	struct sl *p = c->p;
	struct sl_window_result r = { 0 }, rc = { 0 };
	struct sl_pct pc;
	int err;

	memset(w, 0, sizeof(*w));
	w->mean_us = -1;
	sl_tick_now(p);
	err = sl_window_window_since(&p->w_proc, c->since_ns, &r);
	if (!err)
		err = sl_window_window_since(&p->w_cpu, c->since_ns, &rc);
	if (err)
		goto out;
	o->incomplete = r.truncated;
	o->nprocs = sl_cgfs_procs(&d->fs, d->path, o->pids, MAX_MEMBERS);
	for (int i = 0; i < o->nprocs; i++) {
		struct sl_window_row *row = sl_window_result_find(&r, (uint64_t)o->pids[i]);
		struct member m;

		if (!row)
			continue;
		o->nran++;
		for (int b = 0; b < SL_NB; b++)
			o->h[b] += row->h[b];
		o->wait_ns += row->c[SLT_WAIT_NS];
		sl_hist_percentiles(row->h, &pc);
		m = (struct member){ .pid = (uint32_t)o->pids[i], .waits = row->c[SLT_WAITS],
				     .wait_ns = row->c[SLT_WAIT_NS], .run_ns = row->c[SLT_RUN_NS],
				     .p99_us = pc.samples ? pc.p99_us : 0 };
		snprintf(m.comm, sizeof(m.comm), "%.*s", SLW_COMM_LEN, row->meta.comm);
		if (o->ntop < TOP_MEMBERS)
			o->top[o->ntop++] = m;
		else if (m.p99_us > o->top[TOP_MEMBERS - 1].p99_us)
			o->top[TOP_MEMBERS - 1] = m;
		qsort(o->top, (size_t)o->ntop, sizeof(o->top[0]), member_cmp);
	}
	for (size_t i = 0; i < rc.n; i++) {
		for (int b = 0; b < SL_NB; b++)
			o->hm[b] += rc.rows[i].h[b]; /* histogram 0: run-queue wait */
		o->m_wait_ns += rc.rows[i].c[SLC_WAIT_NS];
	}
	/* the rest of the machine: its own waits would pull the baseline
	 * towards it (the series tick together, so the members' waits are
	 * inside the CPUs' ones) */
	for (int b = 0; b < SL_NB; b++)
		o->hm[b] = o->hm[b] > o->h[b] ? o->hm[b] - o->h[b] : 0;
	o->m_wait_ns = o->m_wait_ns > o->wait_ns ? o->m_wait_ns - o->wait_ns : 0;
	sl_hist_percentiles(o->h, &pc);
	w->waits = pc.samples;
	if (pc.samples) {
		w->mean_us = (double)o->wait_ns / (double)pc.samples / 1000.0;
		w->p99_us = pc.p99_us;
	}
	sl_hist_percentiles(o->hm, &pc);
	w->m_waits = pc.samples;
	if (pc.samples) {
		w->m_mean_us = (double)o->m_wait_ns / (double)pc.samples / 1000.0;
		w->m_p99_us = pc.p99_us;
	}
out:
	sl_window_result_free(&r);
	sl_window_result_free(&rc);
	return err;
}

static void waits_emit(struct sl *p, struct smcp_json *j, const struct waits *o)
{
	const struct smcp_host_api *api = p->api;

	api->json_object(j, "members");
	api->json_string(j, "scope", "own (the processes in its cgroup.procs)");
	api->json_int(j, "processes", o->nprocs < 0 ? 0 : o->nprocs);
	api->json_int(j, "processes_that_ran", o->nran);
	sl_emit_latency(p, j, "run_queue_latency", o->h, o->wait_ns, -1);
	api->json_array(j, "top_by_p99");
	for (int i = 0; i < o->ntop; i++) {
		const struct member *m = &o->top[i];

		api->json_object(j, NULL);
		api->json_uint(j, "pid", m->pid);
		api->json_string(j, "comm", m->comm);
		api->json_uint(j, "waits", m->waits);
		api->json_double(j, "p99_us", r2(m->p99_us));
		api->json_double(j, "mean_us",
				 m->waits ? r2((double)m->wait_ns / (double)m->waits / 1000.0) : 0);
		api->json_double(j, "ran_ms", r2((double)m->run_ns / 1e6));
		api->json_end(j);
	}
	api->json_end(j);
	if (o->incomplete)
		api->json_bool(j, "incomplete", true);
	api->json_end(j);
	api->json_object(j, "rest_of_machine");
	sl_emit_latency(p, j, "run_queue_latency", o->hm, o->m_wait_ns, -1);
	api->json_end(j);
}

/* The cgroup's BPF series (keyed by each task's cgroup, threads in other
 * cgroups than their process included), summed over its subtree with its
 * own numbers beside: exact counts over the window from two since-load
 * readings (d->t0, d->t1), percentiles from the shortest window of the
 * series that covers it (d->tw, ws seconds). */
static unsigned cg_window(const struct sl_call *c)
{
	return c->duration_s <= 1 ? 1 : c->duration_s <= 10 ? 10 : 60;
}

static bool cg_read(struct sl_call *c, struct cg_diag *d, uint64_t *n, uint64_t *sum)
{
	const char *rel = d->t0.own.path[0] ? d->t0.own.path : NULL;

	if (!d->bpf_cg || sl_cgroup_subtree_by_id(c->p, d->t0.own.id, rel, 0, &d->t1) ||
	    sl_cgroup_subtree_by_id(c->p, d->t0.own.id, rel, cg_window(c), &d->tw))
		return false;
	*n = d->t1.all.count > d->t0.all.count ? d->t1.all.count - d->t0.all.count : 0;
	*sum = d->t1.all.sum_ns > d->t0.all.sum_ns ? d->t1.all.sum_ns - d->t0.all.sum_ns : 0;
	return true;
}

static uint64_t grew(uint64_t a, uint64_t b)
{
	return b > a ? b - a : 0;
}

static void cg_pct(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct sl_cg_summary *s)
{
	api->json_uint(j, "waits", s->count);
	if (s->count) {
		api->json_double(j, "p50_us", r2((double)s->p50_ns / 1000.0));
		api->json_double(j, "p90_us", r2((double)s->p90_ns / 1000.0));
		api->json_double(j, "p99_us", r2((double)s->p99_ns / 1000.0));
	}
}

static void cg_emit(struct sl_call *c, struct cg_diag *d, struct smcp_json *j, uint64_t n,
		    uint64_t sum)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct sl_cg_info info;
	char key[16];

	sl_cgroup_info(p, &info);
	api->json_object(j, "cgroup_waits");
	api->json_string(j, "source", info.name);
	api->json_uint(j, "id", d->t0.own.id);
	api->json_string(j, "scope", "subtree");
	api->json_string(j, "scope_note", "the cgroup and every tracked cgroup below it, summed; "
					  "own: the tasks directly in it");
	api->json_uint(j, "cgroups_summed", d->tw.cgroups_summed);
	if (d->tw.unresolved)
		api->json_uint(j, "cgroups_unresolved", d->tw.unresolved);
	api->json_uint(j, "waits", n);
	if (n)
		api->json_double(j, "mean_us", r2((double)sum / (double)n / 1000.0));
	api->json_uint(j, "switches", grew(d->t0.all.switches, d->t1.all.switches));
	snprintf(key, sizeof(key), "last_%us", cg_window(c));
	api->json_object(j, key);
	cg_pct(api, j, &d->tw.all);
	if (d->tw.all.count)
		sl_emit_histogram(p, j, "histogram", d->tw.hist);
	/* the parts, from the same reading as the sum */
	api->json_array(j, "descendants");
	for (size_t i = 0; i < d->tw.nparts; i++) {
		api->json_object(j, NULL);
		if (d->tw.parts[i].path[0])
			api->json_string(j, "cgroup", d->tw.parts[i].path);
		api->json_uint(j, "id", d->tw.parts[i].id);
		api->json_uint(j, "waits", d->tw.parts[i].count);
		api->json_end(j);
	}
	api->json_end(j);
	if (d->tw.descendants > d->tw.nparts)
		api->json_uint(j, "descendants_not_listed", d->tw.descendants - d->tw.nparts);
	if (d->tw.all.truncated)
		api->json_bool(j, "incomplete", true);
	api->json_end(j);
	api->json_object(j, "own");
	api->json_uint(j, "waits", grew(d->t0.own.count, d->t1.own.count));
	api->json_uint(j, "switches", grew(d->t0.own.switches, d->t1.own.switches));
	api->json_object(j, key);
	cg_pct(api, j, &d->tw.own);
	api->json_end(j);
	api->json_end(j);
	api->json_end(j);
}

static void emit_name(const struct smcp_host_api *api, struct smcp_json *j, struct cg_diag *d)
{
	struct sl_cg_name n;

	sl_cgname_of_path(d->path, &n);
	api->json_object(j, "cgroup");
	api->json_string(j, "path", d->path);
	if (strcmp(d->input, d->path) != 0)
		api->json_string(j, "input", d->input);
	api->json_string(j, "kind", n.kind);
	if (d->from) {
		api->json_string(j, "resolved_from", d->from);
		api->json_string(j, "runtime_kind", d->rt_kind);
		api->json_string(j, "name", d->rt_name);
	}
	if (n.unit[0])
		api->json_string(j, "unit", n.unit);
	if (n.container[0])
		api->json_string(j, "container_id", n.container);
	if (n.pod_uid[0]) {
		api->json_string(j, "pod_uid", n.pod_uid);
		api->json_string(j, "qos", n.qos);
	}
	if (n.guess || d->guess) {
		api->json_bool(j, "guess", true);
		api->json_string(j, "guess_why", d->guess ? d->guess_why : n.why);
	}
	api->json_string(j, "layout", sl_cgfs_layout_name(d->fs.layout));
	api->json_string(j, "hierarchy", d->fs.cpu_root);
	api->json_uint(j, "processes", d->b.nr_procs);
	api->json_end(j);
}

/* Its weight against its busy siblings' and its share of what they used. */
static void emit_weight(const struct smcp_host_api *api, struct smcp_json *j, struct cg_diag *d,
			double span_s)
{
	uint64_t wsum = 0, self_w = d->b.weight;
	double usum = 0, self_u = 0;
	int busy = 0;

	for (int i = 0; i < d->nsib; i++) {
		struct cg_side *s = &d->sib[i];
		double u;

		if (!s->a.has_usage || !s->b.has_usage || s->b.usage_us <= s->a.usage_us)
			continue;
		u = (double)(s->b.usage_us - s->a.usage_us);
		busy++;
		usum += u;
		wsum += s->b.has_weight ? s->b.weight : 0;
		if (strcmp(s->name, strrchr(d->path, '/') + 1) == 0)
			self_u = u;
	}
	api->json_object(j, "weight");
	api->json_string(j, "file", d->fs.layout == SL_CGL_V2 ? "cpu.weight" : "cpu.shares");
	if (d->b.has_weight)
		api->json_uint(j, "value", self_w);
	api->json_int(j, "busy_siblings", busy > 0 ? busy - (self_u > 0) : 0);
	if (busy > 0 && wsum > 0 && self_u > 0 && span_s > 0) {
		api->json_double(j, "entitled_pct", r2(100.0 * (double)self_w / (double)wsum));
		api->json_double(j, "got_pct", r2(100.0 * self_u / usum));
	}
	api->json_end(j);
}

static void summary(char *buf, size_t len, const struct sl_cg_judgement *jd,
		    const struct sl_cg_delta *dl, const struct sl_cg_wait *w)
{
	switch (jd->main) {
	case SL_CG_THROTTLED:
		snprintf(buf, len,
			 "its own quota throttles it: %.2f CPUs allowed, throttled in %.0f%% of "
			 "%llu periods (nr_throttled +%llu, %.0f ms throttled)",
			 dl->limit_cpus, dl->throttled_periods_pct, (unsigned long long)dl->d_periods,
			 (unsigned long long)dl->d_throttled, dl->throttled_ms);
		break;
	case SL_CG_CONTENTION:
		if (jd->fills_own_cpus) {
			snprintf(buf, len,
				 "its tasks compete with each other: they keep the %d CPU%s they may "
				 "run on busy (%.2f CPUs used) and waited p99 %.2f ms, mean %.2f ms "
				 "over %llu waits, not throttled",
				 w->allowed_cpus, w->allowed_cpus == 1 ? "" : "s", dl->cpus_used,
				 w->p99_us / 1000, w->mean_us / 1000, (unsigned long long)w->waits);
			break;
		}
		snprintf(buf, len,
			 "it competes for CPUs with its neighbours: its tasks waited p99 %.2f ms, "
			 "mean %.2f ms over %llu waits (the rest of the machine %.2f ms), not "
			 "throttled, the machine %.0f%% idle",
			 w->p99_us / 1000, w->mean_us / 1000, (unsigned long long)w->waits,
			 w->m_mean_us / 1000, dl->machine_idle_pct);
		break;
	case SL_CG_MACHINE_SHORT:
		snprintf(buf, len,
			 "the machine is short of CPU: %.0f%% idle, CPU pressure %.0f%% of the "
			 "window; it waits like everybody else",
			 dl->machine_idle_pct, dl->machine_psi_some_pct);
		break;
	default:
		snprintf(buf, len, "no CPU wait worth a look%s",
			 jd->waits_known ? "" : " from cgroupfs (run-queue waits unknown)");
	}
}

static void diag_finish(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct cg_diag *d = c->priv;
	struct smcp_json *j = NULL;
	struct sl_cg_delta dl;
	struct sl_cg_wait w = { .mean_us = -1 };
	struct sl_cg_judgement jd;
	uint64_t now = api->now_ns(p->h);
	bool have_waits = false, have_cg;
	uint64_t cg_n = 0, cg_sum = 0;
	struct waits *wt = NULL;
	char text[512];
	int err = 0;

	(void)sl_cgfs_sample(&d->fs, d->path, now, &d->b);
	(void)sl_cgfs_machine(&d->fs, &d->mb);
	sample_siblings(d, now, true);
	if (!d->b.exists) {
		err = api->result_error(c->res, "cgroup %s went away during the window", d->path);
		goto done;
	}
	j = api->result_json(c->res);
	if (!j) {
		err = -ENOMEM;
		goto done;
	}
	sl_cgfs_delta(&d->a, &d->b, &d->ma, &d->mb, p->ncpus, &dl);
	wt = calloc(1, sizeof(*wt));
	if (!wt) {
		err = -ENOMEM;
		goto done;
	}
	if (p->running && waits_read(c, d, wt, &w) == 0)
		have_waits = true;
	have_cg = p->running && cg_read(c, d, &cg_n, &cg_sum);
	if (have_cg && cg_n && (!have_waits || !w.waits)) {
		/* no member process in the series (a slice, whose tasks are
		 * in its children; threads of processes elsewhere): the
		 * cgroup's subtree stands in */
		w.waits = cg_n;
		w.mean_us = (double)cg_sum / (double)cg_n / 1000.0;
		w.p99_us = (double)d->tw.all.p99_ns / 1000.0;
		have_waits = true;
	}
	if (have_waits && wt->nprocs > 0) {
		w.allowed_cpus = sl_cgfs_allowed_cpus(&d->fs, wt->pids, wt->nprocs, MAX_AFFINITY,
						      p->ncpus);
		w.ncpus = p->ncpus;
	}
	sl_cg_judge(&dl, have_waits ? &w : NULL, &jd);
	summary(text, sizeof(text), &jd, &dl, &w);
	api->json_string(j, "verdict", sl_cg_cause_names[jd.main]);
	api->json_string(j, "summary", text);
	api->json_array(j, "causes");
	for (int i = 1; i < SL_CG_NCAUSES; i++)
		if (jd.causes & (1u << i))
			api->json_string(j, NULL, sl_cg_cause_names[i]);
	api->json_end(j);
	emit_name(api, j, d);
	api->json_object(j, "window");
	api->json_double(j, "span_s", r2(dl.span_s));
	api->json_end(j);

	api->json_object(j, "quota");
	api->json_string(j, "scope", "subtree (cpu.stat: the kernel's counters are hierarchical)");
	if (d->b.has_limit && d->b.quota_us > 0) {
		api->json_int(j, "quota_us", d->b.quota_us);
		api->json_uint(j, "period_us", d->b.period_us);
		api->json_double(j, "limit_cpus", r2(dl.limit_cpus));
		if (dl.has_usage)
			api->json_double(j, "limit_used_pct", r2(dl.limit_used_pct));
	} else {
		api->json_string(j, "limit", d->b.has_limit ? "none" : "unknown");
	}
	if (dl.has_throttle) {
		api->json_uint(j, "nr_periods", dl.d_periods);
		api->json_uint(j, "nr_throttled", dl.d_throttled);
		api->json_uint(j, "nr_throttled_start", d->a.nr_throttled);
		api->json_uint(j, "nr_throttled_end", d->b.nr_throttled);
		api->json_double(j, "throttled_periods_pct", r2(dl.throttled_periods_pct));
		api->json_double(j, "throttled_ms", r2(dl.throttled_ms));
	}
	api->json_end(j);

	api->json_object(j, "usage");
	api->json_string(j, "scope", "subtree (the kernel's usage counters are hierarchical)");
	if (dl.has_usage) {
		api->json_double(j, "cpus", r2(dl.cpus_used));
		api->json_double(j, "machine_pct", r2(dl.machine_pct));
	} else {
		api->json_string(j, "unavailable", d->fs.layout == SL_CGL_V2
							   ? "no usage_usec in cpu.stat"
							   : "no cpuacct.usage for this cgroup in the "
							     "cpuacct hierarchy");
	}
	api->json_int(j, "ncpus", p->ncpus);
	if (w.allowed_cpus > 0)
		api->json_int(j, "allowed_cpus", w.allowed_cpus);
	api->json_end(j);
	emit_weight(api, j, d, dl.span_s);

	api->json_object(j, "pressure");
	if (dl.has_psi) {
		api->json_double(j, "some_pct", r2(dl.psi_some_pct));
		api->json_double(j, "full_pct", r2(dl.psi_full_pct));
	}
	if (dl.machine_psi_some_pct >= 0)
		api->json_double(j, "machine_some_pct", r2(dl.machine_psi_some_pct));
	if (dl.machine_idle_pct >= 0)
		api->json_double(j, "machine_idle_pct", r2(dl.machine_idle_pct));
	api->json_end(j);
	if (have_cg)
		cg_emit(c, d, j, cg_n, cg_sum);
	if (have_waits)
		waits_emit(p, j, wt);
	else
		api->json_string(j, "run_queue_latency_unavailable",
				 p->running ? "the series could not be read" : p->reason);
done:
	free(wt);
	sl_call_complete(c, err);
}

/* A reason the model reads: an isError result for the tool, a successful
 * read that says so for the resource (as the plugin's other resources). */
static int refuse(struct sl *p, struct smcp_result *res, bool resource, const char *why)
{
	struct smcp_json *j;

	if (!resource)
		return p->api->result_error(res, "%s", why);
	j = p->api->result_json(res);
	if (!j)
		return -ENOMEM;
	p->api->json_bool(j, "available", false);
	p->api->json_string(j, "reason", why);
	return 0;
}

/* After the name is resolved: the first samples and the timer. Returns
 * what the handler returns (SMCP_PENDING once started); c is released
 * otherwise. */
static int diag_begin(struct sl_call *c)
{
	struct sl *p = c->p;
	const struct smcp_host_api *api = p->api;
	struct cg_diag *d = c->priv;
	char parent[SL_CGFS_PATH_MAX], names[MAX_SIBLINGS][256];
	uint64_t now = api->now_ns(p->h);
	int err, n;

	if (d->resolve_err == -EINVAL || d->resolve_err == -ENOENT ||
	    d->resolve_err == -EEXIST || d->resolve_err == -E2BIG) {
		err = d->resource && d->resolve_err == -ENOENT
			      ? -ENOENT
			      : refuse(p, c->res, d->resource, d->why);
		goto out;
	}
	err = d->resolve_err;
	if (err)
		goto out;
	if (d->guess)
		snprintf(d->guess_why, sizeof(d->guess_why), "%s", d->why);
	err = sl_cgfs_sample(&d->fs, d->path, now, &d->a);
	if (err == 0 && !d->a.exists) {
		err = d->resource ? -ENOENT
				  : api->result_error(c->res,
						      "no cgroup %s in the cpu hierarchy (%s, %s)",
						      d->path, d->fs.cpu_root,
						      sl_cgfs_layout_name(d->fs.layout));
		goto out;
	}
	if (err)
		goto out;
	(void)sl_cgfs_machine(&d->fs, &d->ma);
	(void)split_parent(d->path, parent, sizeof(parent));
	n = strcmp(d->path, "/") ? sl_cgfs_children(&d->fs, parent, names, MAX_SIBLINGS) : 0;
	if (n > 0) {
		d->sib = calloc((size_t)n, sizeof(*d->sib));
		if (!d->sib) {
			err = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < n; i++)
			snprintf(d->sib[i].name, sizeof(d->sib[i].name), "%s", names[i]);
		d->nsib = n;
		sample_siblings(d, now, false);
	}
	if (p->running) {
		sl_tick_now(p);
		c->since_ns = p->w_cpu.last_tick_ns;
		d->bpf_cg = sl_cgroup_subtree_by_path(p, d->path, 0, &d->t0) == 0;
	}
	err = sl_call_go(c);
	if (err == SMCP_PENDING)
		return err;
out:
	sl_call_release(c);
	return err;
}

/* A name (not a path) is found by a walk of up to SL_CG_WALK_MAX cgroups:
 * on a worker, which touches only d's fs, input and results. */
static int resolve_work(void *data)
{
	struct sl_call *c = data;
	struct cg_diag *d = c->priv;
	struct sl_cg_found *f = malloc(sizeof(*f));

	if (!f) {
		d->resolve_err = -ENOMEM;
		return 0;
	}
	d->resolve_err = sl_cgname_find(&d->fs, d->state_root, d->input, f);
	snprintf(d->path, sizeof(d->path), "%s", f->path);
	snprintf(d->why, sizeof(d->why), "%s", f->why);
	snprintf(d->rt_name, sizeof(d->rt_name), "%s", f->name);
	d->guess = f->guess;
	d->from = f->from;
	d->rt_kind = f->kind;
	free(f);
	return 0;
}

static void resolve_cancel(void *data, struct smcp_call *call)
{
	struct sl_call *c = data;

	((struct cg_diag *)c->priv)->cancelled = true; /* resolve_done frees */
	c->call = NULL;
}

static void resolve_done(void *data, int result)
{
	struct sl_call *c = data;
	struct cg_diag *d = c->priv;
	struct smcp_call *call = c->call;
	const struct smcp_host_api *api = c->p->api; /* c is gone when diag_begin fails */
	int err;

	(void)result;
	if (d->cancelled) {
		sl_call_release(c);
		return;
	}
	(void)api->call_on_cancel(call, NULL, NULL);
	err = diag_begin(c);
	if (err != SMCP_PENDING)
		(void)api->call_complete(call, err);
}

static int diag_start(struct sl *p, struct smcp_call *call, const struct smcp_args *args,
		      struct smcp_result *res, const char *input, unsigned duration_s,
		      bool resource)
{
	const struct smcp_host_api *api = p->api;
	struct sl_call *c = sl_call_new(p, call, args, res, diag_finish, diag_free);
	struct cg_diag *d = calloc(1, sizeof(*d));
	int err;

	if (!c || !d) {
		free(d);
		if (c)
			sl_call_release(c);
		return -ENOMEM;
	}
	c->priv = d;
	c->duration_s = duration_s;
	d->resource = resource;
	snprintf(d->input, sizeof(d->input), "%s", input);
	snprintf(d->state_root, sizeof(d->state_root), "%s",
		 p->cfg.container_state_root[0] ? p->cfg.container_state_root
						: api->fs_root(p->h) ? api->fs_root(p->h) : "");
	/* the layout can change (a cgroup2 mount added): look again, cheaply */
	if (sl_cgfs_detect(api->fs_root(p->h), &d->fs) || d->fs.layout == SL_CGL_NONE) {
		snprintf(d->why, sizeof(d->why), "cgroups: %s",
			 d->fs.reason[0] ? d->fs.reason : "cannot read the mount table");
		err = refuse(p, res, resource, d->why);
		sl_call_release(c);
		return err;
	}
	if (input[0] != '/' && SMCP_API_HAS(api, work_submit) &&
	    api->work_submit(p->h, resolve_work, resolve_done, c) == 0) {
		(void)api->call_on_cancel(call, resolve_cancel, c);
		return SMCP_PENDING;
	}
	(void)resolve_work(c); /* a path (no walk), or no workers: bounded, here */
	return diag_begin(c);
}

static int diagnose_cgroup(void *data, struct smcp_call *call, const struct smcp_args *args,
			   struct smcp_result *res)
{
	struct sl *p = data;
	const char *input = NULL;
	int64_t v = SL_DEFAULT_DURATION_S;

	if (p->api->arg_string(args, "cgroup", &input))
		return p->api->result_error(res, "cgroup is required: a path, unit, container id or "
						 "name, or pod");
	(void)p->api->arg_int(args, "duration_s", &v);
	return diag_start(p, call, args, res, input, (unsigned)v, false);
}

static int read_cgroup(void *data, struct smcp_call *call, const char *uri,
		       const struct smcp_args *vars, struct smcp_result *res)
{
	struct sl *p = data;
	const char *path = NULL;
	char input[SL_CGFS_PATH_MAX + 1];

	if (p->api->arg_string(vars, "cgroup", &path) || !path[0])
		return -ENOENT;
	/* stats://cgroup/system.slice/x.service is the path /system.slice/x.service;
	 * a single word is a name (unit, container id, pod uid) */
	snprintf(input, sizeof(input), "%s%s", strchr(path, '/') && path[0] != '/' ? "/" : "",
		 path);
	return diag_start(p, call, vars, res, input, 1, true);
}

static const char diag_schema[] =
	"{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"cgroup\"],"
	"\"properties\":{\"cgroup\":{\"type\":\"string\",\"maxLength\":511},"
	"\"duration_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":30}}}";

int sl_cgtool_register(struct sl *p)
{
	const struct smcp_tool_desc tool = {
		SMCP_TOOL("diagnose_cgroup"),
		.description = "Why a cgroup (path, unit or container id) waits for CPU: its "
			       "quota, contention or a full machine. cgroup: a path "
			       "(/system.slice/web.service), a systemd unit, a container id (12+ "
			       "hex) or name (my-nginx: Docker or Podman), a pod uid, a pod name, "
			       "namespace/pod or namespace/pod/container.",
		.input_schema = diag_schema,
		.flags = SMCP_TOOL_READ_ONLY,
		.call = diagnose_cgroup,
		.data = p,
	};
	const struct smcp_resource_desc res = {
		SMCP_RESOURCE("stats://cgroup/{+cgroup}"),
		.name = "cgroup",
		.title = "One cgroup's CPU",
		.description = "A cgroup (path, unit or container id) over 1 s: quota, throttling, "
			       "usage, weight, pressure, its tasks' run-queue waits and the "
			       "diagnose_cgroup verdict. Also a container or pod name "
			       "(stats://cgroup/my-nginx).",
		.mime_type = "application/json",
		.read = read_cgroup,
		.data = p,
	};
	int err;

	err = p->api->register_tool(p->h, &tool);
	if (!err)
		err = p->api->register_template(p->h, &res);
	if (!err)
		err = sl_cgsteps_register(p);
	return err;
}
