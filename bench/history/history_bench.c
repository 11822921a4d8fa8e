/* SPDX-License-Identifier: MIT */
/*
 * history-bench [--cpus N] [--hours H] [--json]
 *
 * The metric history store under the series the default plugins publish
 * (docs/metrics.md, "What the bundled plugins publish") on an N-CPU machine,
 * fed H hours (default 24) of simulated one-second samples through the real
 * host API members and the real sample tick, on a simulated clock:
 *
 *   sched_latency  per-CPU switch/wakeup/migration/wait counters, run-queue
 *                  latency histograms per LLC and per NUMA node (104 buckets,
 *                  log-normal around 20 us with bursts), the 20 busiest
 *                  processes' latency histograms out of a churning 400, DSQ
 *                  latency and depth for 8 DSQs, dropped-event counter
 *   sysstat        busy % per CPU and for the machine, load, PSI, memory,
 *                  context switches, forks, 4 network interfaces
 *   scheduler      scheduler_info and 10 sched_ext event counters
 *
 * Prints the series count, the memory the store holds (its own accounting
 * and the process RSS growth) at the end, and the cost of one sample tick
 * (publishing every series, then recording the step), median and p99.
 * A benchmark, not a test: exits 0 whatever the figures.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "metrics.h"
#include "watch.h"
#include "metrics_query.h"

#define NB 104
#define STEP_NS 1000000000ull
#define PROCS 400
#define DSQS 8
#define IFACES 4
#define SCX_EVENTS 10

static struct smcp_host plugin = { .name = "bench", .state = PLUGIN_LOADED, .in_init = true };
static double bounds[NB];
static uint64_t seed = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (double)(seed >> 11) / 9007199254740992.0;
}

/* sched_latency's layout: 4 linear sub-buckets per octave of microseconds. */
static void make_bounds(void)
{
	for (unsigned b = 0; b < NB; b++) {
		unsigned nb = b + 1;
		double lo_next;

		if (nb < 4)
			lo_next = 250.0 * nb;
		else
			lo_next = 250.0 * (double)(1ull << ((nb - 4) / 4)) * (4 + (nb - 4) % 4);
		bounds[b] = b == NB - 1 ? INFINITY : lo_next;
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Expected share of each bucket for a log-normal latency of median med_ns. */
static void lognormal(double *p, double med_ns, double sigma)
{
	double prev = 0;

	for (unsigned b = 0; b < NB; b++) {
		double hi = bounds[b];
		double cdf =
			isinf(hi) ? 1 : 0.5 * erfc(-(log(hi) - log(med_ns)) / (sigma * M_SQRT2));

		p[b] = cdf - prev;
		prev = cdf;
	}
}

/* One step's histogram of n samples: expected counts with +-30% noise,
 * rare buckets filled by chance. */
static double fill(uint64_t *c, const double *p, double n)
{
	double sum = 0;

	for (unsigned b = 0; b < NB; b++) {
		double lam = n * p[b];

		if (lam < 1)
			c[b] = urand() < lam ? 1 : 0;
		else
			c[b] = (uint64_t)(lam * (0.7 + 0.6 * urand()));
		sum += (double)c[b] * (b ? bounds[b - 1] : 125);
	}
	return sum;
}

struct ids {
	int cpu_ctr[5], lat_llc, lat_node, lat_proc, dsq_lat, dsq_depth, dropped;
	int busy_cpu, busy, load, running, psi_cpu, psi_mem, mem_avail, mem_used, ctxt, forks,
		iowait, steal, majflt, net_rx, net_tx;
	int sched_info, scx_events;
};

static int reg(const char *name, enum smcp_metric_type t, uint32_t flags, const char *unit,
	       const char *l1, const char *l2)
{
	const char *labels[2] = { l1, l2 };
	struct smcp_metric_desc d = {
		.sz = sizeof(d),
		.name = name,
		.help = name,
		.unit = unit,
		.type = t,
		.flags = flags,
		.labels = labels,
		.n_labels = l2	 ? 2
			    : l1 ? 1
				 : 0,
		.bucket_bounds = t == SMCP_METRIC_HISTOGRAM ? bounds : NULL,
		.n_buckets = t == SMCP_METRIC_HISTOGRAM ? NB : 0,
	};
	int id = metrics_api_register(&plugin, &d);

	if (id < 0) {
		fprintf(stderr, "register %s: %s\n", name, strerror(-id));
		exit(1);
	}
	return id;
}

static void register_all(struct ids *m)
{
	static const char *const ctr[5] = { "sched_cpu_switches_total", "sched_cpu_wakeups_total",
					    "sched_cpu_migrations_total",
					    "sched_cpu_runq_waits_total",
					    "sched_cpu_runq_wait_ns_total" };

	for (int i = 0; i < 5; i++)
		m->cpu_ctr[i] =
			reg(ctr[i], SMCP_METRIC_COUNTER, 0, i == 4 ? "ns" : "1", "cpu", NULL);
	m->lat_llc = reg("sched_runq_latency_ns", SMCP_METRIC_HISTOGRAM, 0, "ns", "llc", NULL);
	m->lat_node =
		reg("sched_node_runq_latency_ns", SMCP_METRIC_HISTOGRAM, 0, "ns", "node", NULL);
	m->lat_proc = reg("sched_proc_runq_latency_ns", SMCP_METRIC_HISTOGRAM,
			  SMCP_METRIC_TOP_N | SMCP_METRIC_CONTEXT, "ns", "pid", "comm");
	m->dsq_lat = reg("sched_dsq_latency_ns", SMCP_METRIC_HISTOGRAM, 0, "ns", "dsq", NULL);
	m->dsq_depth = reg("sched_dsq_depth", SMCP_METRIC_GAUGE, 0, "1", "dsq", NULL);
	m->dropped = reg("sched_events_dropped_total", SMCP_METRIC_COUNTER, 0, "1", NULL, NULL);
	m->busy_cpu = reg("cpu_busy_per_cpu_pct", SMCP_METRIC_GAUGE, 0, "pct", "cpu", NULL);
	m->busy = reg("cpu_busy_pct", SMCP_METRIC_GAUGE, SMCP_METRIC_CONTEXT, "pct", NULL, NULL);
	m->iowait = reg("cpu_iowait_pct", SMCP_METRIC_GAUGE, 0, "pct", NULL, NULL);
	m->steal = reg("cpu_steal_pct", SMCP_METRIC_GAUGE, 0, "pct", NULL, NULL);
	m->load = reg("loadavg_1m", SMCP_METRIC_GAUGE, SMCP_METRIC_CONTEXT, "1", NULL, NULL);
	m->running = reg("procs_running", SMCP_METRIC_GAUGE, SMCP_METRIC_CONTEXT, "1", NULL, NULL);
	m->psi_cpu = reg("psi_cpu_some_pct", SMCP_METRIC_GAUGE, 0, "pct", NULL, NULL);
	m->psi_mem = reg("psi_memory_some_pct", SMCP_METRIC_GAUGE, 0, "pct", NULL, NULL);
	m->mem_avail = reg("memory_available_bytes", SMCP_METRIC_GAUGE, 0, "bytes", NULL, NULL);
	m->mem_used = reg("memory_used_pct", SMCP_METRIC_GAUGE, 0, "pct", NULL, NULL);
	m->ctxt = reg("context_switches_total", SMCP_METRIC_COUNTER, 0, "1", NULL, NULL);
	m->forks = reg("forks_total", SMCP_METRIC_COUNTER, 0, "1", NULL, NULL);
	m->majflt = reg("page_major_faults_total", SMCP_METRIC_COUNTER, 0, "1", NULL, NULL);
	m->net_rx = reg("net_rx_bytes_total", SMCP_METRIC_COUNTER, 0, "bytes", "iface", NULL);
	m->net_tx = reg("net_tx_bytes_total", SMCP_METRIC_COUNTER, 0, "bytes", "iface", NULL);
	m->sched_info =
		reg("scheduler_info", SMCP_METRIC_GAUGE, SMCP_METRIC_CONTEXT, "1", "class", "ops");
	m->scx_events = reg("scx_events_total", SMCP_METRIC_COUNTER, 0, "1", "event", NULL);
}

struct sim {
	int cpus, llcs, nodes;
	double hours;
	double ctr[4096][5];
	double p_calm[NB], p_burst[NB], p_proc[NB];
	double totals[8];
};

static void publish_step(const struct ids *m, struct sim *s, uint64_t step)
{
	char a[32], b[32];
	const char *lv[2] = { a, b };
	uint64_t c[NB];
	bool burst = (step / 600) % 7 == 3 && (step % 600) < 90; /* 90 s bursts, now and then */
	const double *p = burst ? s->p_burst : s->p_calm;
	double sum;

	for (int i = 0; i < s->cpus; i++) {
		snprintf(a, sizeof(a), "%d", i);
		for (int k = 0; k < 5; k++) {
			s->ctr[i][k] += (k == 4 ? 2e7 : 1500) * (0.5 + urand());
			(void)metrics_publish_set(&plugin, m->cpu_ctr[k], lv, s->ctr[i][k]);
		}
		(void)metrics_publish_set(&plugin, m->busy_cpu, lv, 100 * urand());
	}
	for (int i = 0; i < s->llcs; i++) {
		snprintf(a, sizeof(a), "%d", i);
		sum = fill(c, p, 1500.0 * s->cpus / s->llcs);
		(void)metrics_publish_hist(&plugin, m->lat_llc, lv, c, NB, sum, SMCP_HIST_DELTA);
	}
	for (int i = 0; i < s->nodes; i++) {
		snprintf(a, sizeof(a), "%d", i);
		sum = fill(c, p, 1500.0 * s->cpus / s->nodes);
		(void)metrics_publish_hist(&plugin, m->lat_node, lv, c, NB, sum, SMCP_HIST_DELTA);
	}
	/* a few hundred processes run each second; which ones churns */
	for (int i = 0; i < 60; i++) {
		int pid = 1000 + (int)(urand() * urand() * PROCS) + (int)(step / 3600) * 7;

		snprintf(a, sizeof(a), "%d", pid);
		snprintf(b, sizeof(b), "task%d", pid % 97);
		sum = fill(c, s->p_proc, 5 + 200 * urand() * urand());
		(void)metrics_publish_hist(&plugin, m->lat_proc, lv, c, NB, sum, SMCP_HIST_DELTA);
	}
	for (int i = 0; i < DSQS; i++) {
		snprintf(a, sizeof(a), "0x%x", i);
		sum = fill(c, p, 300);
		(void)metrics_publish_hist(&plugin, m->dsq_lat, lv, c, NB, sum, SMCP_HIST_DELTA);
		(void)metrics_publish_set(&plugin, m->dsq_depth, lv, (double)(int)(10 * urand()));
	}
	s->totals[0] += urand() < 0.01 ? 5 : 0;
	(void)metrics_publish_set(&plugin, m->dropped, NULL, s->totals[0]);
	(void)metrics_publish_set(&plugin, m->busy, NULL, 40 + 20 * urand());
	(void)metrics_publish_set(&plugin, m->iowait, NULL, urand());
	(void)metrics_publish_set(&plugin, m->steal, NULL, 0);
	(void)metrics_publish_set(&plugin, m->load, NULL, s->cpus * 0.5 * (1 + urand()));
	(void)metrics_publish_set(&plugin, m->running, NULL, (double)(int)(s->cpus * urand()));
	(void)metrics_publish_set(&plugin, m->psi_cpu, NULL, 10 * urand());
	(void)metrics_publish_set(&plugin, m->psi_mem, NULL, urand());
	(void)metrics_publish_set(&plugin, m->mem_avail, NULL, 8e9 + 1e9 * urand());
	(void)metrics_publish_set(&plugin, m->mem_used, NULL, 40 + urand());
	s->totals[1] += 30000 * s->cpus * urand();
	s->totals[2] += 50 * urand();
	s->totals[3] += urand() < 0.1 ? 3 : 0;
	(void)metrics_publish_set(&plugin, m->ctxt, NULL, s->totals[1]);
	(void)metrics_publish_set(&plugin, m->forks, NULL, s->totals[2]);
	(void)metrics_publish_set(&plugin, m->majflt, NULL, s->totals[3]);
	for (int i = 0; i < IFACES; i++) {
		snprintf(a, sizeof(a), "eth%d", i);
		(void)metrics_publish_add(&plugin, m->net_rx, lv, 1e6 * urand());
		(void)metrics_publish_add(&plugin, m->net_tx, lv, 1e6 * urand());
	}
	snprintf(a, sizeof(a), "ext");
	snprintf(b, sizeof(b), "scx_lavd");
	(void)metrics_publish_set(&plugin, m->sched_info, lv, 1);
	for (int i = 0; i < SCX_EVENTS; i++) {
		snprintf(a, sizeof(a), "SCX_EV_%d", i);
		(void)metrics_publish_add(&plugin, m->scx_events, lv, urand() < 0.05 ? 1 : 0);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct result {
	uint32_t series, hist, scalar, short_fine, short_coarse;
	double hist_kib, tick_us, tick_p99_us, publish_us, minute_us, query_ms;
	double gauge_ns, hist_ns; /* one publish into an existing series */
	size_t store_bytes, scalar_series_bytes;
	long rss_kb;
};

/* The hot path alone: one publish into an existing series, on its own store. */
static void publish_cost(const struct metrics_limits *lim, struct result *r)
{
	static const char *const cl[] = { "cpu" };
	struct smcp_metric_desc g = { .sz = sizeof(g),
				      .name = "cost_gauge",
				      .type = SMCP_METRIC_GAUGE,
				      .labels = cl,
				      .n_labels = 1 };
	struct smcp_metric_desc h = { .sz = sizeof(h),
				      .name = "cost_hist_ns",
				      .type = SMCP_METRIC_HISTOGRAM,
				      .labels = cl,
				      .n_labels = 1,
				      .bucket_bounds = bounds,
				      .n_buckets = NB };
	static uint64_t c[NB];
	char lab[256][8];
	const char *lv[1];
	const int n = 1000000;
	int mg, mh;
	double t0;

	if ((metrics_store_init(lim, 0) ?: watch_store_init(lim->max_watches, lim->breach_ring)))
		return;
	mg = metrics_api_register(&plugin, &g);
	mh = metrics_api_register(&plugin, &h);
	for (int i = 0; i < 256; i++) {
		snprintf(lab[i], sizeof(lab[i]), "%d", i);
		lv[0] = lab[i];
		(void)metrics_publish_set(&plugin, mg, lv, 0);
		(void)metrics_publish_hist(&plugin, mh, lv, c, NB, 0, 0);
	}
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		lv[0] = lab[i & 255];
		(void)metrics_publish_set(&plugin, mg, lv, i);
	}
	r->gauge_ns = (now_s() - t0) / n * 1e9;
	t0 = now_s();
	for (int i = 0; i < n / 10; i++) {
		lv[0] = lab[i & 255];
		c[i % NB] += 3;
		(void)metrics_publish_hist(&plugin, mh, lv, c, NB, i, 0);
	}
	r->hist_ns = (now_s() - t0) / (n / 10) * 1e9;
	watch_store_fini();
	metrics_store_fini();
}

/* Series counts and histogram rings that had to drop old slots. */
static void summarize(struct result *r)
{
	size_t scalar_bytes;

	for (uint32_t i = 0; i < metrics_view()->n_metrics; i++) {
		const struct metric *m = metrics_view()->m[i];

		if (m->type != SMCP_METRIC_HISTOGRAM) {
			r->scalar += m->n_series;
			continue;
		}
		r->hist += m->n_series;
		for (uint32_t k = 0; k < m->n_series; k++) {
			r->short_fine += m->series[k]->h.rf.dropped > 0;
			r->short_coarse += m->series[k]->h.rc.dropped > 0;
		}
	}
	r->series = metrics_view()->n_series;
	scalar_bytes = r->scalar * (history_base_bytes(&metrics_view()->geom, 0) + sizeof(struct series));
	r->hist_kib =
		r->hist ? ((double)metrics_view()->budget.used - (double)scalar_bytes) / r->hist / 1024 : 0;
	r->store_bytes = metrics_view()->budget.used;
	r->scalar_series_bytes = history_base_bytes(&metrics_view()->geom, 0);
}

static void print_json(const struct result *r, const struct sim *s)
{
	printf("{\"cpus\":%d,\"series\":%u,\"histogram_series\":%u,\"store_bytes\":%zu,"
	       "\"rss_growth_kb\":%ld,\"tick_us_median\":%.1f,\"tick_us_p99\":%.1f,"
	       "\"publish_us_median\":%.1f,\"minute_tick_us_median\":%.1f,"
	       "\"query_24h_llc_p99_ms\":%.2f,\"hist_series_with_drops\":%u,"
	       "\"publish_gauge_ns\":%.0f,\"publish_hist104_ns\":%.0f}\n",
	       s->cpus, r->series, r->hist, r->store_bytes, r->rss_kb, r->tick_us, r->tick_p99_us,
	       r->publish_us, r->minute_us, r->query_ms, r->short_fine + r->short_coarse,
	       r->gauge_ns, r->hist_ns);
}

static void print_text(const struct result *r, const struct sim *s)
{
	printf("history-bench: %d CPUs (%d LLCs, %d nodes), %.0f h of 1 s samples\n", s->cpus,
	       s->llcs, s->nodes, s->hours);
	printf("  series            %u (%u scalar, %u histogram)\n", r->series, r->scalar, r->hist);
	printf("  store memory      %.1f MiB accounted (bound: history_max_mb), RSS grew "
	       "%.1f MiB\n",
	       (double)r->store_bytes / 1048576, (double)r->rss_kb / 1024);
	printf("  ring drops        %u fine, %u coarse histogram series lost old slots\n",
	       r->short_fine, r->short_coarse);
	printf("  per series        %.1f KiB scalar (fixed), %.1f KiB histogram (average)\n",
	       (double)r->scalar_series_bytes / 1024, r->hist_kib);
	printf("  sample tick       %.1f us median, %.1f us p99 (publishing every series: %.1f "
	       "us)\n",
	       r->tick_us, r->tick_p99_us, r->publish_us);
	printf("  minute tick       %.1f us median (also closes every coarse slot)\n",
	       r->minute_us);
	printf("  one publish       %.0f ns (gauge), %.0f ns (104-bucket cumulative histogram)\n",
	       r->gauge_ns, r->hist_ns);
	printf("  query             24 h of LLC p99 per minute: %.2f ms\n", r->query_ms);
}

int main(int argc, char **argv)
{
	struct metrics_limits lim = {
		.step_ms = 1000,
		.fine_slots = 900,
		.coarse_slots = 1440,
		.coarse_factor = 60,
		.max_bytes = 1ull << 30, /* measure, do not limit */
		.max_series = 100000,
		.top_n = 20,
		.max_watches = 32,
		.breach_ring = 256,
	};
	int cpus = 0, hours = 24;
	bool json = false;
	struct sim *s = calloc(1, sizeof(*s));
	struct ids m;
	struct result r = { 0 };
	double *tick_s, *pub_s, *roll_s, t0, q_s;
	uint64_t n_roll = 0;
	uint64_t steps, now = STEP_NS;
	long rss0, rss1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc)
			cpus = atoi(argv[++i]);
		else if (strcmp(argv[i], "--hours") == 0 && i + 1 < argc)
			hours = atoi(argv[++i]);
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else {
			fprintf(stderr, "usage: %s [--cpus N] [--hours H] [--json]\n", argv[0]);
			return 2;
		}
	}
	if (cpus <= 0) {
		FILE *f = fopen("/sys/devices/system/cpu/online", "r");
		int lo, hi;

		cpus = f && fscanf(f, "%d-%d", &lo, &hi) == 2 ? hi - lo + 1 : 1;
		if (f)
			fclose(f);
	}
	if (!s || cpus > 4096 || hours <= 0)
		return 2;
	s->cpus = cpus;
	s->hours = hours;
	s->llcs = cpus >= 8 ? cpus / 8 : 1;
	s->nodes = cpus >= 64 ? cpus / 32 : 1;
	make_bounds();
	lognormal(s->p_calm, 20000, 1.0);
	lognormal(s->p_burst, 400000, 1.6);
	lognormal(s->p_proc, 50000, 1.3);
	steps = (uint64_t)hours * 3600;
	tick_s = malloc(steps * sizeof(*tick_s));
	pub_s = malloc(steps * sizeof(*pub_s));
	roll_s = malloc((steps / 60 + 1) * sizeof(*roll_s));
	if (!tick_s || !pub_s || !roll_s)
		return 1;

	rss0 = rss_kb();
	if ((metrics_store_init(&lim, 0) ?: watch_store_init(lim.max_watches, lim.breach_ring)))
		return 1;
	register_all(&m);
	plugin.in_init = false;
	for (uint64_t i = 0; i < steps; i++) {
		t0 = now_s();
		publish_step(&m, s, i);
		pub_s[i] = now_s() - t0;
		now += STEP_NS;
		t0 = now_s();
		metrics_tick(now);
		tick_s[i] = now_s() - t0;
		/* the first step of a minute also closes the minute's coarse slots */
		if (i % 60 == 0 && i)
			roll_s[n_roll++] = tick_s[i] + pub_s[i];
	}
	rss1 = rss_kb();
	{
		/* one query: 24 h of every LLC's latency, p99 per minute */
		struct metric *lat = metrics_find("sched_runq_latency_ns");
		struct qacc *a = malloc(sizeof(*a));
		double sink = 0;

		t0 = now_s();
		for (uint64_t c = 0; c < metrics_view()->geom.coarse_slots && a; c++) {
			metrics_query_qacc_init(a, lat, TIER_COARSE);
			metrics_query_qacc_add(a, lat, lat->series, lat->n_series, TIER_COARSE, c,
					       c, AGG_SUM);
			sink += metrics_query_qacc_stat(a, lat, ST_P99);
		}
		q_s = now_s() - t0;
		free(a);
		(void)sink;
	}
	for (uint64_t i = 0; i < steps; i++)
		tick_s[i] += pub_s[i];
	qsort(tick_s, steps, sizeof(*tick_s), cmp_double);
	qsort(pub_s, steps, sizeof(*pub_s), cmp_double);
	qsort(roll_s, n_roll, sizeof(*roll_s), cmp_double);
	r.tick_us = tick_s[steps / 2] * 1e6;
	r.tick_p99_us = tick_s[steps * 99 / 100] * 1e6;
	r.publish_us = pub_s[steps / 2] * 1e6;
	r.minute_us = n_roll ? roll_s[n_roll / 2] * 1e6 : 0;
	r.query_ms = q_s * 1e3;
	r.rss_kb = rss1 - rss0;
	summarize(&r);
	watch_store_fini();
	metrics_store_fini();
	plugin.in_init = true;
	publish_cost(&lim, &r);
	if (json)
		print_json(&r, s);
	else
		print_text(&r, s);
	free(tick_s);
	free(pub_s);
	free(roll_s);
	free(s);
	return 0;
}
