/* SPDX-License-Identifier: MIT */
/*
 * The metrics sched_latency publishes for the core's history and watches
 * (docs/metrics.md, "sched_latency"), from the metric_collect callback,
 * once per history step:
 *
 *   - machine data straight from the cumulative per-CPU BPF map: run-queue
 *     latency histograms per CPU (summed per LLC on machines with more than
 *     latency_per_cpu_max_cpus CPUs: each histogram series may keep ~0.5 MiB
 *     of history), and per-CPU counters, published cumulative (the core
 *     takes differences);
 *   - per-process latency from the changes the process series (sl_window)
 *     recorded since the previous step, published as deltas, and only for
 *     the TOP_PROCS processes that waited longest (the core keeps its own
 *     top N of those; publishing every process would only be refused).
 *   - per-DSQ counters and insert-to-run latency under sched_ext, from the
 *     cumulative DSQ map (sl_dsq.c), while its hooks are attached: at most
 *     DSQ_PUBLISH_MAX DSQs, those that changed in the last DSQ_IDLE_STEPS
 *     steps (and since the scheduler attached), first come first served (a
 *     DSQ keeps its slot while active, so series do not churn); the rest
 *     are counted in sched_dsq_omitted.
 *
 * The core calls on_step() once per step: the plugin's tick (sl_tick_now:
 * the window series, the event stream's loss accounting, the DSQ series),
 * then collect(), which ends with the notable events (sl_notable.c) judged
 * on the per-CPU map it read. Everything collect() needs is allocated in
 * sl_metrics_init(); it allocates nothing itself (the core allocates only
 * when a new series appears).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "sl.h"
#include "sl_judge.h"

/* Processes offered to the core per step; more than [core] metrics_top_n
 * (20) so that a newcomer can displace a fading series. */
#define TOP_PROCS 32
/* Cgroups offered per step, as TOP_PROCS. */
#define TOP_CGROUPS 32
#define LABEL_LEN 12
#define CPULIST_LEN 64 /* the cpu label of an LLC group: its CPUs */
/* DSQs published per step: each latency series may keep ~0.5 MiB of
 * history, and per-CPU DSQs make as many DSQs as CPUs. */
#define DSQ_PUBLISH_MAX 16
/* DSQs whose activity is followed (the BPF map holds up to 1024). */
#define DSQ_KNOWN_MAX 256
/* A DSQ unchanged for this many steps gives its slot up (a scheduler that
 * went away leaves its DSQs in the cumulative map). */
#define DSQ_IDLE_STEPS 60
#define DSQ_NAME_LEN 48
#define STR_(x) #x
#define STR(x) STR_(x)

enum {
	M_CPU_WAITS,
	M_CPU_WAIT_NS,
	M_CPU_SWITCHES,
	M_CPU_WAKEUPS,
	M_CPU_MIGRATIONS,
	M_CPU_N
};

enum { M_DSQ_INSERTED, M_DSQ_CONSUMED, M_DSQ_RAN, M_DSQ_N };

struct dsq_known {
	uint64_t id;
	uint64_t act;  /* inserted + consumed + ran, cumulative */
	uint32_t idle; /* steps since act last changed */
	bool pub;      /* holds a publishing slot */
	bool based;    /* its series got their zero baseline */
	struct sl_judge *judge; /* notable.dsq_latency's state while published */
};

struct top_proc {
	uint64_t key;
	uint64_t wait_ns;
};

struct top_pub;

/* A window series (processes, cgroups) published as one top-N histogram
 * metric: each step, the entities of the slots recorded since the last
 * step that waited longest, one series each. */
struct top_series {
	int metric;		/* 0: not published */
	unsigned waits, wait_ns; /* the counters' indexes in a change */
	uint64_t tick;		/* the series' tick published last */
	struct top_proc *top;
	unsigned ntop, cap;
	/* the label values of ch's entity; false leaves it out of this step */
	bool (*labels)(struct top_pub *c, const struct sl_window_change *ch, const char **lv);
};

struct sl_metrics {
	int m_lat, m_dropped, m_cpu[M_CPU_N];
	double bounds[SL_NB];
	/* latency groups: one per CPU, or per LLC plus one for CPUs of unknown LLC */
	int ngroups;
	int *cpu_group;       /* ncpus */
	char (*group_llc)[LABEL_LEN], (*group_node)[LABEL_LEN], (*group_cpus)[CPULIST_LEN];
	char (*cpu_label)[LABEL_LEN]; /* ncpus */
	uint64_t *group_hist; /* ngroups * SL_NB */
	uint64_t *group_sum;  /* ngroups */
	struct top_series procs;
	struct top_proc top[TOP_PROCS];
	/* cgroups: cgroups.metric is 0 when per-cgroup latency is off */
	struct top_series cgroups;
	struct top_proc top_cg[TOP_CGROUPS];
	uint64_t cg_unnamed;
	uint64_t hist[SL_NB]; /* one process's delta, expanded */
	/* sched_ext DSQs; m_dsq_lat is 0 when the DSQ object is not loaded */
	int m_dsq_lat, m_dsq_depth, m_dsq_omitted, m_dsq[M_DSQ_N];
	struct dsq_known *dsq; /* DSQ_KNOWN_MAX */
	unsigned n_dsq, n_dsq_pub;
	uint64_t dsq_attaches; /* sl_dsq_attach_count() as of the previous step */
	struct sl_dsq_stats dsq_val;
};

static const struct {
	const char *name, *help, *unit;
} cpu_metrics[M_CPU_N] = {
	[M_CPU_WAITS] = { "sched_cpu_runq_waits_total",
			  "run-queue waits measured on this CPU (tasks that waited, then ran here)",
			  "1" },
	[M_CPU_WAIT_NS] = { "sched_cpu_runq_wait_ns_total",
			    "time tasks waited in this CPU's run queue before running; its rate "
			    "divided by the waits rate is the mean latency",
			    "ns" },
	[M_CPU_SWITCHES] = { "sched_cpu_switches_total", "context switches on this CPU", "1" },
	[M_CPU_WAKEUPS] = { "sched_cpu_wakeups_total", "woken tasks that then ran on this CPU",
			    "1" },
	[M_CPU_MIGRATIONS] = { "sched_cpu_migrations_total",
			       "tasks that ran on this CPU after last running on another", "1" },
};

/* Keep key among the cap entries of top that waited longest. */
static void top_add(struct top_proc *top, unsigned *n, unsigned cap, uint64_t key, uint64_t w)
{
	unsigned min = 0;

	/* an entity in several new slots (a late step) adds up */
	for (unsigned i = 0; i < *n; i++) {
		if (top[i].key == key) {
			top[i].wait_ns += w;
			return;
		}
		if (top[i].wait_ns < top[min].wait_ns)
			min = i;
	}
	if (*n < cap)
		top[(*n)++] = (struct top_proc){ key, w };
	else if (w > top[min].wait_ns)
		top[min] = (struct top_proc){ key, w };
}

static bool top_has(const struct top_proc *top, unsigned n, uint64_t key)
{
	for (unsigned i = 0; i < n; i++)
		if (top[i].key == key)
			return true;
	return false;
}

struct top_pub {
	struct sl *p;
	struct sl_metrics *m;
	struct top_series *s;
	char buf[2][SMCP_METRIC_VALUE_MAX + 1];
};

static void pick_top(void *ctx, const struct sl_window_change *ch)
{
	struct top_series *s = ((struct top_pub *)ctx)->s;

	if (ch->dc[s->waits])
		top_add(s->top, &s->ntop, s->cap, ch->key, ch->dc[s->wait_ns]);
}

/* Expand a change's histogram pairs into m->hist. */
static void change_hist(struct sl_metrics *m, const struct sl_window_change *ch)
{
	memset(m->hist, 0, sizeof(m->hist));
	for (uint32_t i = 0; i < ch->npairs; i++)
		if (SLW_PAIR_BUCKET(ch->pairs[i]) < SL_NB)
			m->hist[SLW_PAIR_BUCKET(ch->pairs[i])] += SLW_PAIR_COUNT(ch->pairs[i]);
}

static const struct {
	const char *name, *help;
} dsq_metrics[M_DSQ_N] = {
	[M_DSQ_INSERTED] = { "sched_dsq_inserted_total",
			     "tasks inserted (enqueued) into this sched_ext DSQ, or moved into it" },
	[M_DSQ_CONSUMED] = { "sched_dsq_consumed_total",
			     "tasks the BPF scheduler moved (dispatched) out of this DSQ to a "
			     "CPU's local DSQ" },
	[M_DSQ_RAN] = { "sched_dsq_ran_total",
			"tasks that ran after waiting in this DSQ (the latency histogram's count)" },
};

static struct dsq_known *dsq_find(struct sl_metrics *m, uint64_t id)
{
	for (unsigned i = 0; i < m->n_dsq; i++)
		if (m->dsq[i].id == id)
			return &m->dsq[i];
	return NULL;
}

/*
 * Follow every DSQ of the cumulative map (even while detached, so that a
 * gone scheduler's DSQs age), and publish those holding a slot while the
 * hooks are attached. The map is created with the plugin, so its counts
 * are all since load: a DSQ's series start from a zero baseline.
 */
static void collect_dsq(struct sl *p, struct sl_metrics *m, uint64_t now_ns)
{
	const struct smcp_host_api *api = p->api;
	int fd = sl_dsq_stats_fd(p), err;
	unsigned omitted = 0;
	__u64 key, next;

	if (fd < 0 || !m->m_dsq_lat)
		return;
	/* a scheduler (re)attached: the DSQs of earlier ones are stale until
	 * they move again, so only the new scheduler's DSQs take slots */
	if (sl_dsq_attach_count(p) != m->dsq_attaches) {
		m->dsq_attaches = sl_dsq_attach_count(p);
		for (unsigned i = 0; i < m->n_dsq; i++)
			m->dsq[i].idle = DSQ_IDLE_STEPS;
	}
	for (err = bpf_map_get_next_key(fd, NULL, &key); !err;
	     err = bpf_map_get_next_key(fd, &key, &next), key = next) {
		struct sl_dsq_stats *v = &m->dsq_val;
		struct dsq_known *e;
		uint64_t act;

		if (bpf_map_lookup_elem(fd, &key, v))
			continue;
		act = v->inserted + v->consumed + v->ran;
		e = dsq_find(m, key);
		if (!e && m->n_dsq < DSQ_KNOWN_MAX) {
			e = &m->dsq[m->n_dsq++];
			*e = (struct dsq_known){ .id = key, .act = act, .idle = act ? 0 : 1 };
		} else if (!e) {
			omitted++; /* not followed at all */
		} else if (e->act != act) {
			e->act = act;
			e->idle = 0;
		} else if (e->idle < DSQ_IDLE_STEPS) {
			e->idle++;
		}
	}
	for (unsigned i = 0; i < m->n_dsq; i++) {
		struct dsq_known *e = &m->dsq[i];

		if (e->pub && e->idle >= DSQ_IDLE_STEPS) {
			e->pub = false;
			m->n_dsq_pub--;
			free(e->judge);
			e->judge = NULL;
		} else if (!e->pub && e->idle < DSQ_IDLE_STEPS) {
			if (m->n_dsq_pub < DSQ_PUBLISH_MAX) {
				e->pub = true;
				m->n_dsq_pub++;
			} else {
				omitted++;
			}
		}
	}
	if (!sl_dsq_attached(p))
		return; /* nothing published: the series age into "no data" */
	for (unsigned i = 0; i < m->n_dsq; i++) {
		struct dsq_known *e = &m->dsq[i];
		const struct sl_dsq_stats *v = &m->dsq_val;
		char name[DSQ_NAME_LEN];
		const char *lv[1] = { name };
		__u64 id = e->id;
		int64_t depth;

		if (!e->pub || bpf_map_lookup_elem(fd, &id, &m->dsq_val))
			continue;
		sl_dsq_name(e->id, name, sizeof(name));
		if (!e->based) {
			memset(m->hist, 0, sizeof(m->hist));
			(void)api->metric_hist(p->h, m->m_dsq_lat, lv, m->hist, SL_NB, 0, 0);
			for (int k = 0; k < M_DSQ_N; k++)
				(void)api->metric_set(p->h, m->m_dsq[k], lv, 0);
			e->based = true;
		}
		(void)api->metric_hist(p->h, m->m_dsq_lat, lv, (const uint64_t *)v->hist, SL_NB,
				       (double)v->wait_ns, 0);
		(void)api->metric_set(p->h, m->m_dsq[M_DSQ_INSERTED], lv, (double)v->inserted);
		(void)api->metric_set(p->h, m->m_dsq[M_DSQ_CONSUMED], lv, (double)v->consumed);
		(void)api->metric_set(p->h, m->m_dsq[M_DSQ_RAN], lv, (double)v->ran);
		if (sl_dsq_depth_of(p, e->id, &depth))
			(void)api->metric_set(p->h, m->m_dsq_depth, lv, (double)depth);
		else
			depth = -1;
		if (!e->judge)
			e->judge = calloc(1, sizeof(*e->judge)); /* NULL: judged from the next step */
		if (e->judge)
			sl_notable_dsq(p, e->judge, name, (const uint64_t *)v->hist, depth, now_ns);
	}
	(void)api->metric_set(p->h, m->m_dsq_omitted, NULL, (double)omitted);
}

static bool proc_series_labels(struct top_pub *c, const struct sl_window_change *ch,
			       const char **lv)
{
	char *comm = c->buf[1];

	snprintf(c->buf[0], sizeof(c->buf[0]), "%llu", (unsigned long long)ch->key);
	memcpy(comm, ch->meta->comm, SLW_COMM_LEN);
	comm[SLW_COMM_LEN] = '\0';
	if (!comm[0])
		strcpy(comm, "?");
	lv[0] = c->buf[0];
	lv[1] = comm;
	return true;
}

/* A cgroup's series is named by its path: one not resolved yet is left
 * out of this step (a watch names paths; ids would churn). */
static bool cg_series_labels(struct top_pub *c, const struct sl_window_change *ch,
			     const char **lv)
{
	const char *path = sl_cgroup_path(c->p, ch->key);

	if (!path) {
		c->m->cg_unnamed++;
		return false;
	}
	lv[0] = sl_cgroup_label(path, c->buf[0]);
	return true;
}

static void publish_one(void *ctx, const struct sl_window_change *ch)
{
	struct top_pub *c = ctx;
	struct top_series *s = c->s;
	const char *lv[2];

	if (!ch->dc[s->waits] || !top_has(s->top, s->ntop, ch->key) || !s->labels(c, ch, lv))
		return;
	change_hist(c->m, ch);
	/* -ENOSPC (not among the core's top N) is normal */
	(void)c->p->api->metric_hist(c->p->h, s->metric, lv, c->m->hist, SL_NB,
				     (double)ch->dc[s->wait_ns], SMCP_HIST_DELTA);
}

/* Publish the slots w recorded since the previous step, each exactly
 * once: this step's tick and any measure_latency forced in between. */
static void publish_top(struct sl *p, const struct sl_window_series *w, struct top_series *s)
{
	struct top_pub c = { .p = p, .m = p->metrics, .s = s };

	if (!w || !s->metric)
		return;
	s->ntop = 0;
	(void)sl_window_visit_since(w, s->tick, pick_top, &c);
	(void)sl_window_visit_since(w, s->tick, publish_one, &c);
	s->tick = w->ticks;
}

static void collect(void *data, uint64_t now_ns)
{
	struct sl *p = data;
	struct sl_metrics *m = p->metrics;
	const struct smcp_host_api *api = p->api;
	const struct sl_cpu_stats *v;
	uint64_t dropped = 0;

	if (!p->running || !m)
		return;
	v = sl_bpf_cpu_stats(p);
	if (v) {
		memset(m->group_hist, 0, (size_t)m->ngroups * SL_NB * sizeof(uint64_t));
		memset(m->group_sum, 0, (size_t)m->ngroups * sizeof(uint64_t));
		for (int c = 0; c < p->ncpus; c++) {
			uint64_t *gh = m->group_hist + (size_t)m->cpu_group[c] * SL_NB;
			const char *lv[1] = { m->cpu_label[c] };
			const uint64_t vals[M_CPU_N] = {
				[M_CPU_WAITS] = v[c].waits,
				[M_CPU_WAIT_NS] = v[c].wait_ns,
				[M_CPU_SWITCHES] = v[c].switches,
				[M_CPU_WAKEUPS] = v[c].wakeups_target,
				[M_CPU_MIGRATIONS] = v[c].migrations_in,
			};

			for (int b = 0; b < SL_NB; b++)
				gh[b] += v[c].wait_hist[b];
			m->group_sum[m->cpu_group[c]] += v[c].wait_ns;
			dropped += v[c].ev_dropped;
			for (int k = 0; k < M_CPU_N; k++)
				(void)api->metric_set(p->h, m->m_cpu[k], lv, (double)vals[k]);
		}
		for (int g = 0; g < m->ngroups; g++) {
			const char *lv[3] = { m->group_node[g], m->group_llc[g], m->group_cpus[g] };
			const uint64_t *gh = m->group_hist + (size_t)g * SL_NB;

			if (!m->group_llc[g][0])
				continue; /* an LLC without possible CPUs */
			(void)api->metric_hist(p->h, m->m_lat, lv, gh, SL_NB,
					       (double)m->group_sum[g], 0);
		}
		(void)api->metric_set(p->h, m->m_dropped, NULL, (double)dropped);
	}
	sl_notable_step(p, v, now_ns);
	publish_top(p, &p->w_proc, &m->procs);
	publish_top(p, sl_cgroup_series(p), &m->cgroups);
	collect_dsq(p, m, now_ns);
}

/* The core's step: the plugin's only tick, then the metrics. */
static void on_step(void *data, uint64_t now_ns)
{
	sl_tick_now(data);
	collect(data, now_ns);
}

static int reg(struct sl *p, const struct smcp_metric_desc *d, int *ret)
{
	return smcp_register_metric(p->h, p->api, d, ret);
}

static void label_id(char *buf, int id)
{
	if (id >= 0)
		snprintf(buf, LABEL_LEN, "%d", id);
	else
		strcpy(buf, "unknown");
}

static int groups_init(struct sl *p, struct sl_metrics *m)
{
	const struct sl_topo *t = &p->topo;
	int nllc = p->topo_ok ? t->n_llc : 0;
	bool per_cpu = p->ncpus <= p->cfg.latency_per_cpu_max;

	m->ngroups = per_cpu ? p->ncpus : nllc + 1;
	m->cpu_group = calloc((size_t)p->ncpus, sizeof(*m->cpu_group));
	m->cpu_label = calloc((size_t)p->ncpus, sizeof(*m->cpu_label));
	m->group_llc = calloc((size_t)m->ngroups, sizeof(*m->group_llc));
	m->group_node = calloc((size_t)m->ngroups, sizeof(*m->group_node));
	m->group_cpus = calloc((size_t)m->ngroups, sizeof(*m->group_cpus));
	m->group_hist = calloc((size_t)m->ngroups * SL_NB, sizeof(uint64_t));
	m->group_sum = calloc((size_t)m->ngroups, sizeof(uint64_t));
	if (!m->cpu_group || !m->cpu_label || !m->group_llc || !m->group_node ||
	    !m->group_cpus || !m->group_hist || !m->group_sum)
		return -ENOMEM;
	for (int c = 0; c < p->ncpus; c++) {
		int llc = p->topo_ok && c < t->ncpus ? t->cpu_llc[c] : -1;
		int node = p->topo_ok && c < t->ncpus ? t->cpu_node[c] : -1;
		int g = per_cpu ? c : llc >= 0 && llc < nllc ? llc : nllc;

		snprintf(m->cpu_label[c], LABEL_LEN, "%d", c);
		m->cpu_group[c] = g;
		if (m->group_llc[g][0])
			continue; /* an LLC's node is that of its first CPU */
		label_id(m->group_llc[g], llc < nllc ? llc : -1);
		label_id(m->group_node[g], node);
		if (per_cpu)
			snprintf(m->group_cpus[g], CPULIST_LEN, "%d", c);
		else if (g == nllc || sl_topo_cpus(t, 1, llc, m->group_cpus[g], CPULIST_LEN) <= 0)
			strcpy(m->group_cpus[g], "unknown");
	}
	return 0;
}

/* Only when the DSQ object is loaded (a kernel with sched_ext): elsewhere
 * the catalog does not change. */
static int dsq_metrics_init(struct sl *p, struct sl_metrics *m)
{
	static const char *const dsq_labels[] = { "dsq" };
	int err;

	m->dsq = calloc(DSQ_KNOWN_MAX, sizeof(*m->dsq));
	if (!m->dsq)
		return -ENOMEM;
	err = reg(p, &(struct smcp_metric_desc){
		.sz = sizeof(struct smcp_metric_desc),
		.name = "sched_dsq_latency_ns",
		.help = "sched_ext DSQ latency: time from a task's insert into this dispatch "
			"queue to it running (dsq as in stats://aggregated/dsq: user:ID, "
			"local, global, local_on:cpuN)",
		.unit = "ns",
		.type = SMCP_METRIC_HISTOGRAM,
		.labels = dsq_labels,
		.n_labels = 1,
		.bucket_bounds = m->bounds,
		.n_buckets = SL_NB,
	}, &m->m_dsq_lat);
	if (!err)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = "sched_dsq_depth",
			.help = "tasks queued in this sched_ext DSQ (user DSQs; read each second)",
			.unit = "1",
			.type = SMCP_METRIC_GAUGE,
			.labels = dsq_labels,
			.n_labels = 1,
		}, &m->m_dsq_depth);
	for (int k = 0; !err && k < M_DSQ_N; k++)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = dsq_metrics[k].name,
			.help = dsq_metrics[k].help,
			.unit = "1",
			.type = SMCP_METRIC_COUNTER,
			.labels = dsq_labels,
			.n_labels = 1,
		}, &m->m_dsq[k]);
	if (!err)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = "sched_dsq_omitted",
			.help = "active sched_ext DSQs left out of the sched_dsq_* series this "
				"step (at most " STR(DSQ_PUBLISH_MAX) " DSQs are published)",
			.unit = "1",
			.type = SMCP_METRIC_GAUGE,
		}, &m->m_dsq_omitted);
	if (err)
		m->m_dsq_lat = 0;
	return err;
}

int sl_metrics_init(struct sl *p)
{
	static const char *const llc_labels[] = { "node", "llc", "cpu" };
	static const char *const proc_labels[] = { "pid", "comm" };
	static const char *const cpu_labels[] = { "cpu" };
	static const char *const cg_labels[] = { "cgroup" };
	const struct smcp_host_api *api = p->api;
	struct sl_metrics *m;
	int err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	p->metrics = m;
	m->procs = (struct top_series){ .waits = SLT_WAITS, .wait_ns = SLT_WAIT_NS, .top = m->top,
					.cap = TOP_PROCS, .labels = proc_series_labels };
	m->cgroups = (struct top_series){ .waits = SLG_WAITS, .wait_ns = SLG_WAIT_NS,
					  .top = m->top_cg, .cap = TOP_CGROUPS,
					  .labels = cg_series_labels };
	err = sl_notable_init(p);
	if (err)
		return err;
	err = groups_init(p, m);
	if (err)
		return err;
	for (unsigned b = 0; b < SL_NB; b++)
		m->bounds[b] = b + 1 < SL_NB ? (double)sl_hist_hi_ns(b) : INFINITY;
	err = reg(p, &(struct smcp_metric_desc){
		.sz = sizeof(struct smcp_metric_desc),
		.name = "sched_runq_latency_ns",
		.help = "run-queue latency: time from becoming runnable to running, per CPU "
			"(per LLC on large machines: cpu is then the LLC's CPU list); no "
			"labels given: the whole machine",
		.unit = "ns",
		.type = SMCP_METRIC_HISTOGRAM,
		.labels = llc_labels,
		.n_labels = 3,
		.bucket_bounds = m->bounds,
		.n_buckets = SL_NB,
	}, &m->m_lat);
	if (!err)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = "sched_proc_runq_latency_ns",
			.help = "run-queue latency of each process (all its threads), the "
				"processes that waited longest",
			.unit = "ns",
			.type = SMCP_METRIC_HISTOGRAM,
			.flags = SMCP_METRIC_TOP_N | SMCP_METRIC_CONTEXT,
			.labels = proc_labels,
			.n_labels = 2,
			.bucket_bounds = m->bounds,
			.n_buckets = SL_NB,
		}, &m->procs.metric);
	for (int k = 0; !err && k < M_CPU_N; k++)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = cpu_metrics[k].name,
			.help = cpu_metrics[k].help,
			.unit = cpu_metrics[k].unit,
			.type = SMCP_METRIC_COUNTER,
			.labels = cpu_labels,
			.n_labels = 1,
		}, &m->m_cpu[k]);
	if (!err)
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = "sched_events_dropped_total",
			.help = "live scheduler events lost because the ring buffer was full",
			.unit = "1",
			.type = SMCP_METRIC_COUNTER,
		}, &m->m_dropped);
	if (!err && sl_cgroup_series(p))
		err = reg(p, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = "sched_cgroup_runq_latency_ns",
			.help = "run-queue latency of the tasks of each cgroup (path below the "
				"hierarchy's mount: stats://aggregated/cgroup), the cgroups that "
				"waited longest",
			.unit = "ns",
			.type = SMCP_METRIC_HISTOGRAM,
			.flags = SMCP_METRIC_TOP_N | SMCP_METRIC_CONTEXT,
			.labels = cg_labels,
			.n_labels = 1,
			.bucket_bounds = m->bounds,
			.n_buckets = SL_NB,
		}, &m->cgroups.metric);
	if (!err && sl_dsq_stats_fd(p) >= 0)
		err = dsq_metrics_init(p, m);
	if (err)
		return err;
	/* baseline: the BPF counters started at attach, and the first
	 * cumulative value of a series only sets where counting starts */
	collect(p, 0);
	return api->metric_collect(p->h, on_step, p);
}

void sl_metrics_fini(struct sl *p)
{
	struct sl_metrics *m = p->metrics;

	sl_notable_fini(p);
	if (!m)
		return;
	free(m->cpu_group);
	free(m->cpu_label);
	free(m->group_llc);
	free(m->group_node);
	free(m->group_cpus);
	free(m->group_hist);
	free(m->group_sum);
	for (unsigned i = 0; m->dsq && i < m->n_dsq; i++)
		free(m->dsq[i].judge);
	free(m->dsq);
	free(m);
	p->metrics = NULL;
}
