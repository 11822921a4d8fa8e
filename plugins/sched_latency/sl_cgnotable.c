/* SPDX-License-Identifier: MIT */
/*
 * notable.throttling: a cgroup whose own CPU quota started throttling it,
 * on the event stream (issue 16) at a rate a model can read.
 *
 * Only cgroups with a quota can be throttled (a child is throttled through
 * its ancestor's quota, and the ancestor's nr_throttled counts it), so a
 * bounded walk of the cpu hierarchy every RESCAN_S finds those (at most
 * MAX_WATCHED), and every STEP_MS their cpu.stat alone is read: with no
 * quota anywhere the watcher costs one walk every RESCAN_S. Needs no BPF.
 * A cgroup is notable when nr_throttled rose by SL_CG_NOTE_MIN periods and
 * SL_CG_NOTE_PCT % of its periods in the step (sl_cg_throttle_notable);
 * COOLDOWN_NS per cgroup and BUDGET events a minute machine-wide bound the
 * rate, and what the budget held back is counted in the next event.
 *
 * The same readings feed two counters for history and watches ("alert me
 * when my-app.service is throttled"): sched_cgroup_throttled_periods_total
 * and sched_cgroup_throttled_ns_total, labelled cgroup = the path (or, when
 * the path is over a label's 63 bytes, its last component), top-N series.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl.h"
#include "sl_cgfs.h"
#include "sl_cgnames.h"
#include "sl_cgtool.h"

#define STEP_MS 2000
#define RESCAN_S 30
#define MAX_WATCHED 128
#define WALK_MAX 10000 /* one quota file each, on a worker */
#define WALK_DEPTH 10
#define COOLDOWN_NS (30ull * 1000000000ull)
#define BUDGET_WINDOW_NS (60ull * 1000000000ull)
#define BUDGET 6

struct watched {
	char path[SL_CGFS_PATH_MAX];
	uint64_t t_ns, periods, throttled, throttled_us;
	uint64_t last_event_ns;
	int64_t quota_us;
	uint64_t period_us;
	bool fresh; /* no previous reading yet */
};

struct cgn {
	struct sl *p;
	struct sl_cgfs fs;
	struct watched *w;
	size_t n;
	unsigned steps;
	int timer;
	uint64_t budget_start_ns;
	unsigned budget_used, held_back;
	uint64_t published;
	int m_periods, m_ns; /* metric ids; 0: the host keeps no history */
	bool scanning;       /* a rescan is on a worker */
	uint64_t unlabelled; /* readings left out of the metrics: no label fits */
};

static struct cgn cgn;

/* A rescan: on a worker (it walks up to WALK_MAX directories), the list
 * of quota'd cgroups; merged on the loop, keeping what was known. */
struct rescan {
	struct cgn *n;
	struct sl_cgfs fs; /* a copy: the worker touches nothing the loop does */
	char (*paths)[SL_CGFS_PATH_MAX];
	size_t np;
};

static bool rescan_visit(void *ctx, const char *path, const char *name)
{
	struct rescan *r = ctx;

	(void)name;
	if (r->np >= MAX_WATCHED)
		return true;
	if (sl_cgfs_has_quota(&r->fs, path))
		snprintf(r->paths[r->np++], SL_CGFS_PATH_MAX, "%s", path);
	return false;
}

static int rescan_work(void *data)
{
	struct rescan *r = data;

	(void)sl_cgfs_walk(&r->fs, WALK_MAX, WALK_DEPTH, rescan_visit, r);
	return 0;
}

static void step_one(struct cgn *n, struct watched *w, uint64_t now, bool judge);

static void rescan_done(void *data, int result)
{
	struct rescan *r = data;
	struct cgn *n = r->n;
	struct watched *nw = calloc(MAX_WATCHED, sizeof(*nw));

	(void)result;
	n->scanning = false;
	if (nw && n->p) {
		for (size_t k = 0; k < r->np; k++) {
			nw[k] = (struct watched){ .fresh = true };
			for (size_t i = 0; i < n->n; i++)
				if (strcmp(n->w[i].path, r->paths[k]) == 0) {
					nw[k] = n->w[i];
					break;
				}
			snprintf(nw[k].path, sizeof(nw[k].path), "%s", r->paths[k]);
		}
		free(n->w);
		n->w = nw;
		n->n = r->np;
		nw = NULL;
		/* a cgroup found now is read now: its first step counts */
		for (size_t k = 0; k < n->n; k++)
			if (n->w[k].fresh)
				step_one(n, &n->w[k], n->p->api->now_ns(n->p->h), false);
	}
	free(nw);
	free(r->paths);
	free(r);
}

static void rescan(struct cgn *n)
{
	struct rescan *r;

	if (n->scanning)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return;
	r->paths = calloc(MAX_WATCHED, sizeof(*r->paths));
	if (!r->paths) {
		free(r);
		return;
	}
	r->n = n;
	r->fs = n->fs;
	n->scanning = true;
	if (SMCP_API_HAS(n->p->api, work_submit) &&
	    n->p->api->work_submit(n->p->h, rescan_work, rescan_done, r) == 0)
		return;
	/* no workers (an older host, or a full queue): bounded, on the loop */
	(void)rescan_work(r);
	rescan_done(r, 0);
}

static bool budget_ok(struct cgn *n, uint64_t now)
{
	if (now - n->budget_start_ns >= BUDGET_WINDOW_NS) {
		n->budget_start_ns = now;
		n->budget_used = 0;
	}
	if (n->budget_used >= BUDGET) {
		n->held_back++;
		return false;
	}
	n->budget_used++;
	return true;
}

static void publish(struct cgn *n, struct watched *w, const struct sl_cg_sample *s,
		    uint64_t d_periods, uint64_t d_throttled, double step_s)
{
	const struct smcp_host_api *api = n->p->api;
	struct smcp_json *j = api->event_begin(n->p->h, "notable.throttling");
	double pct = 100.0 * (double)d_throttled / (double)d_periods;
	double limit = (double)s->quota_us / (double)s->period_us;
	double thr_ms = (double)(s->throttled_us - w->throttled_us) / 1000.0;
	struct sl_cg_name nm;
	char summary[SL_CGFS_PATH_MAX + 200];

	if (!j)
		return;
	sl_cgname_of_path(w->path, &nm);
	api->json_string(j, "cgroup", w->path);
	if (nm.unit[0])
		api->json_string(j, "unit", nm.unit);
	if (nm.container[0])
		api->json_string(j, "container_id", nm.container);
	api->json_string(j, "layout", sl_cgfs_layout_name(n->fs.layout));
	api->json_double(j, "limit_cpus", (double)(int64_t)(limit * 1000) / 1000);
	api->json_uint(j, "periods", d_periods);
	api->json_uint(j, "throttled", d_throttled);
	api->json_double(j, "throttled_pct", (double)(int64_t)(pct * 10) / 10);
	api->json_double(j, "throttled_ms", (double)(int64_t)(thr_ms * 10) / 10);
	api->json_uint(j, "nr_throttled", s->nr_throttled);
	api->json_double(j, "window_s", (double)(int64_t)(step_s * 100) / 100);
	snprintf(summary, sizeof(summary),
		 "cgroup %s throttled by its own quota (%.2f CPUs) in %llu of %llu periods over "
		 "the last %.1f s (%.0f ms); diagnose_cgroup tells more",
		 w->path, limit, (unsigned long long)d_throttled, (unsigned long long)d_periods,
		 step_s, thr_ms);
	api->json_string(j, "summary", summary);
	if (n->held_back)
		api->json_uint(j, "suppressed_before", n->held_back);
	n->held_back = 0;
	if (api->event_commit(n->p->h, j) == 0)
		n->published++;
}

/* The cgroup label of path: the path, or its last component when the path
 * does not fit a label value; NULL when neither does. */
static const char *label_of(const char *path)
{
	const char *base = strrchr(path, '/');

	if (strlen(path) <= SMCP_METRIC_VALUE_MAX)
		return path;
	return base && strlen(base + 1) <= SMCP_METRIC_VALUE_MAX ? base + 1 : NULL;
}

static void publish_metrics(struct cgn *n, const struct watched *w, uint64_t dt,
			    uint64_t dthr_us)
{
	const char *lv[1] = { label_of(w->path) };

	if (!n->m_periods)
		return;
	if (!lv[0]) {
		n->unlabelled++;
		return;
	}
	/* -ENOSPC is the top-N keeping another cgroup: normal */
	(void)n->p->api->metric_add(n->p->h, n->m_periods, lv, (double)dt);
	(void)n->p->api->metric_add(n->p->h, n->m_ns, lv, (double)dthr_us * 1000.0);
}

/* Read w now: with judge, publish what rose since the last reading. */
static void step_one(struct cgn *n, struct watched *w, uint64_t now, bool judge)
{
	struct sl_cg_sample s;
	uint64_t dp, dt;

	if (sl_cgfs_sample_throttle(&n->fs, w->path, now, &s) || !s.has_throttle) {
		w->fresh = true;
		return;
	}
	dp = s.nr_periods - w->periods;
	dt = s.nr_throttled - w->throttled;
	if (judge && !w->fresh && s.nr_periods >= w->periods && s.nr_throttled >= w->throttled &&
	    s.throttled_us >= w->throttled_us) {
		publish_metrics(n, w, dt, s.throttled_us - w->throttled_us);
		if (s.has_limit && s.quota_us > 0 && sl_cg_throttle_notable(dp, dt) &&
		    now - w->last_event_ns >= COOLDOWN_NS && budget_ok(n, now)) {
			publish(n, w, &s, dp, dt, (double)(now - w->t_ns) / 1e9);
			w->last_event_ns = now;
		}
	}
	w->t_ns = now;
	w->periods = s.nr_periods;
	w->throttled = s.nr_throttled;
	w->throttled_us = s.throttled_us;
	w->fresh = false;
}

static void on_step(void *data)
{
	struct cgn *n = data;
	uint64_t now = n->p->api->now_ns(n->p->h);

	if (n->steps++ % (RESCAN_S * 1000 / STEP_MS) == 0)
		rescan(n);
	for (size_t i = 0; i < n->n; i++)
		step_one(n, &n->w[i], now, true);
}

int sl_cgnotable_init(struct sl *p)
{
	int id;

	static const char *const labels[] = { "cgroup" };
	struct smcp_metric_desc m = {
		.sz = sizeof(m),
		.type = SMCP_METRIC_COUNTER,
		.flags = SMCP_METRIC_TOP_N,
		.labels = labels,
		.n_labels = 1,
	};
	int err;

	memset(&cgn, 0, sizeof(cgn));
	cgn.p = p;
	if (sl_cgfs_detect(p->api->fs_root(p->h), &cgn.fs) || cgn.fs.layout == SL_CGL_NONE)
		return 0; /* nothing to watch; diagnose_cgroup says why when asked */
	if (SMCP_API_HAS(p->api, metric_register)) {
		m.name = "sched_cgroup_throttled_periods_total";
		m.help = "CFS periods in which a cgroup's own CPU quota throttled it (cpu.stat "
			 "nr_throttled), for the cgroups that have a quota; label cgroup: its path "
			 "in the cpu hierarchy";
		m.unit = "1";
		err = smcp_register_metric(p->h, p->api, &m, &cgn.m_periods);
		if (err)
			return err;
		m.name = "sched_cgroup_throttled_ns_total";
		m.help = "time a cgroup's own CPU quota held it throttled (cpu.stat "
			 "throttled_usec / throttled_time); label cgroup as above";
		m.unit = "ns";
		err = smcp_register_metric(p->h, p->api, &m, &cgn.m_ns);
		if (err)
			return err;
	}
	cgn.budget_start_ns = p->api->now_ns(p->h);
	id = p->api->timer_add(p->h, STEP_MS, true, on_step, &cgn);
	if (id < 0)
		return id;
	cgn.timer = id;
	on_step(&cgn); /* the first readings: nothing is judged until the next step */
	return 0;
}

void sl_cgnotable_fini(struct sl *p)
{
	if (cgn.timer > 0)
		(void)p->api->timer_remove(p->h, cgn.timer);
	free(cgn.w);
	memset(&cgn, 0, sizeof(cgn));
}
