/* SPDX-License-Identifier: MIT */
/*
 * synth: a synthetic metric source for the history and watch tests. Every
 * history step (its collect callback) it publishes what the synth_set tool
 * asked for, and counts what it published, so the tests can hold the core's
 * answers to exact numbers:
 *
 *   synth_gauge_pct{cpu}        gauge, one series per cpu (ncpu of them)
 *   synth_events_total          counter, cumulative, counter_per_tick per step
 *   synth_latency_ns{cpu}       histogram (1 us .. 32 ms in powers of two, then
 *                               an open bucket), hist_count observations per
 *                               step and cpu in bucket hist_bucket, published
 *                               cumulatively (or as deltas with delta=true)
 *   synth_proc_latency_ns{pid,comm}  histogram, TOP_N + CONTEXT: procs
 *                               processes, pid 1000+i with (i+1)^2
 *                               observations per step in bucket 4 (deltas)
 *   scheduler_info{class,ops}   gauge = 1, CONTEXT (ops: synth_sched, or
 *                               what synth_set's sched_ops says)
 *   cpu_busy_pct                gauge = the gauge value, CONTEXT
 *
 * A pulse (pulse_ticks > 0) publishes gauge for that many steps, then
 * gauge_after. With fail_init = true in [plugin synth], init registers
 * everything and then fails, so the core must drop it all again.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <schedmcp/plugin.h>

#define NB 17
#define MAX_CPUS 8
#define MAX_PROCS 64

static const struct smcp_host_api *api;
static struct smcp_host *host;

static double bounds[NB];
static int m_gauge, m_counter, m_lat, m_proc, m_sched, m_busy;
static char sched_ops[40] = "synth_sched"; /* scheduler_info's ops label (sched_ops) */

static struct {
	double gauge, gauge_after;
	int64_t pulse_ticks; /* steps left at gauge; then gauge_after */
	int64_t ncpu;
	double counter_per_tick;
	int64_t hist_count, hist_bucket;
	bool delta;
	int64_t procs;
	/* what was published */
	uint64_t collects;
	double counter_total;
	uint64_t hist_cum[MAX_CPUS][NB];
	uint64_t hist_published; /* observations, all cpus */
	uint64_t hist_collects;	 /* collects that published observations */
	uint64_t gauge_collects; /* collects at the current gauge setting */
	int last_err;
} st = { .ncpu = 2 };

static void collect(void *data, uint64_t now_ns)
{
	char cpu[8], pid[16], comm[16];
	const char *lv[2];
	double g = st.gauge;
	int err;

	st.collects++;
	if (st.pulse_ticks > 0) {
		if (--st.pulse_ticks == 0)
			st.gauge = st.gauge_after;
	}
	st.gauge_collects++;
	for (int64_t c = 0; c < st.ncpu; c++) {
		uint64_t d[NB] = { 0 };

		snprintf(cpu, sizeof(cpu), "%lld", (long long)c);
		lv[0] = cpu;
		err = api->metric_set(host, m_gauge, lv, g);
		if (err)
			st.last_err = err;
		if (st.hist_count > 0) {
			st.hist_cum[c][st.hist_bucket] += (uint64_t)st.hist_count;
			d[st.hist_bucket] = (uint64_t)st.hist_count;
			st.hist_published += (uint64_t)st.hist_count;
		}
		if (st.delta)
			err = api->metric_hist(host, m_lat, lv, d, NB, NAN, SMCP_HIST_DELTA);
		else
			err = api->metric_hist(host, m_lat, lv, st.hist_cum[c], NB, NAN, 0);
		if (err)
			st.last_err = err;
	}
	if (st.hist_count > 0)
		st.hist_collects++;
	st.counter_total += st.counter_per_tick;
	(void)api->metric_set(host, m_counter, NULL, st.counter_total);
	for (int64_t i = 0; i < st.procs; i++) {
		uint64_t d[NB] = { 0 };

		snprintf(pid, sizeof(pid), "%lld", 1000 + (long long)i);
		snprintf(comm, sizeof(comm), "proc%lld", (long long)i);
		lv[0] = pid;
		lv[1] = comm;
		d[4] = (uint64_t)((i + 1) * (i + 1));
		(void)api->metric_hist(host, m_proc, lv, d, NB, NAN, SMCP_HIST_DELTA);
	}
	lv[0] = "ext";
	lv[1] = sched_ops;
	(void)api->metric_set(host, m_sched, lv, 1);
	(void)api->metric_set(host, m_busy, NULL, g);
}

/* Cumulative histograms: publish the starting totals once so that the first
 * step's observations count (the core takes a first cumulative value as the
 * baseline). */
static void publish_baselines(void)
{
	char cpu[8];
	const char *lv[1] = { cpu };

	for (int64_t c = 0; c < st.ncpu; c++) {
		snprintf(cpu, sizeof(cpu), "%lld", (long long)c);
		(void)api->metric_hist(host, m_lat, lv, st.hist_cum[c], NB, NAN, 0);
	}
}

static int synth_set(void *data, struct smcp_call *call, const struct smcp_args *args,
		     struct smcp_result *res)
{
	struct smcp_json *j;
	const char *s;
	double d;
	int64_t i;
	bool b;

	if (!api->arg_double(args, "gauge", &d)) {
		st.gauge = d;
		st.gauge_collects = 0;
	}
	if (!api->arg_double(args, "gauge_after", &d))
		st.gauge_after = d;
	if (!api->arg_int(args, "pulse_ticks", &i))
		st.pulse_ticks = i;
	if (!api->arg_int(args, "ncpu", &i)) {
		st.ncpu = i;
		publish_baselines();
	}
	if (!api->arg_double(args, "counter_per_tick", &d))
		st.counter_per_tick = d;
	if (!api->arg_int(args, "hist_count", &i))
		st.hist_count = i;
	if (!api->arg_int(args, "hist_bucket", &i))
		st.hist_bucket = i;
	if (!api->arg_bool(args, "delta", &b))
		st.delta = b;
	if (!api->arg_int(args, "procs", &i))
		st.procs = i;
	if (!api->arg_string(args, "sched_ops", &s))
		snprintf(sched_ops, sizeof(sched_ops), "%s", s);
	j = api->result_json(res);
	if (!j)
		return -ENOMEM;
	api->json_uint(j, "collects", st.collects);
	api->json_uint(j, "hist_published", st.hist_published);
	api->json_uint(j, "hist_collects", st.hist_collects);
	api->json_uint(j, "gauge_collects", st.gauge_collects);
	api->json_double(j, "counter_total", st.counter_total);
	api->json_int(j, "pulse_ticks_left", st.pulse_ticks);
	api->json_int(j, "last_err", st.last_err);
	return 0;
}

static const char set_schema[] =
	"{\"type\":\"object\",\"properties\":{"
	"\"gauge\":{\"type\":\"number\"},\"gauge_after\":{\"type\":\"number\"},"
	"\"pulse_ticks\":{\"type\":\"integer\",\"minimum\":0},"
	"\"ncpu\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":8},"
	"\"counter_per_tick\":{\"type\":\"number\",\"minimum\":0},"
	"\"hist_count\":{\"type\":\"integer\",\"minimum\":0},"
	"\"hist_bucket\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":16},"
	"\"delta\":{\"type\":\"boolean\"},"
	"\"procs\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":64},"
	"\"sched_ops\":{\"type\":\"string\",\"maxLength\":32}"
	"},\"additionalProperties\":false}";

static int init(struct smcp_host *h, const struct smcp_host_api *a)
{
	static const char *const cpu_label[] = { "cpu" };
	static const char *const proc_labels[] = { "pid", "comm" };
	static const char *const sched_labels[] = { "class", "ops" };
	struct smcp_metric_desc d = { .sz = sizeof(d) };
	struct smcp_tool_desc t = {
		.sz = sizeof(t),
		.name = "synth_set",
		.description = "test control: what synth publishes per step",
		.input_schema = set_schema,
		.call = synth_set,
	};
	bool fail = false;
	int err;

	api = a;
	host = h;
	if (!SMCP_API_HAS(a, metric_collect)) {
		a->set_status(h, false, "host has no metrics API");
		return -ENOTSUP;
	}
	for (int i = 0; i < NB - 1; i++)
		bounds[i] = 1000.0 * (double)(1u << i);
	bounds[NB - 1] = INFINITY;

	d.name = "synth_gauge_pct";
	d.help = "synthetic gauge per cpu";
	d.unit = "pct";
	d.type = SMCP_METRIC_GAUGE;
	d.labels = cpu_label;
	d.n_labels = 1;
	m_gauge = a->metric_register(h, &d);

	d = (struct smcp_metric_desc){ .sz = sizeof(d) };
	d.name = "synth_events_total";
	d.help = "synthetic counter";
	d.type = SMCP_METRIC_COUNTER;
	m_counter = a->metric_register(h, &d);

	d = (struct smcp_metric_desc){ .sz = sizeof(d) };
	d.name = "synth_latency_ns";
	d.help = "synthetic latency per cpu";
	d.unit = "ns";
	d.type = SMCP_METRIC_HISTOGRAM;
	d.labels = cpu_label;
	d.n_labels = 1;
	d.bucket_bounds = bounds;
	d.n_buckets = NB;
	m_lat = a->metric_register(h, &d);

	d.name = "synth_proc_latency_ns";
	d.help = "synthetic latency per process";
	d.flags = SMCP_METRIC_TOP_N | SMCP_METRIC_CONTEXT;
	d.labels = proc_labels;
	d.n_labels = 2;
	m_proc = a->metric_register(h, &d);

	d = (struct smcp_metric_desc){ .sz = sizeof(d) };
	d.name = "scheduler_info";
	d.help = "the scheduler in charge (value 1)";
	d.type = SMCP_METRIC_GAUGE;
	d.flags = SMCP_METRIC_CONTEXT;
	d.labels = sched_labels;
	d.n_labels = 2;
	m_sched = a->metric_register(h, &d);

	d = (struct smcp_metric_desc){ .sz = sizeof(d) };
	d.name = "cpu_busy_pct";
	d.help = "CPU busy";
	d.unit = "pct";
	d.type = SMCP_METRIC_GAUGE;
	d.flags = SMCP_METRIC_CONTEXT;
	m_busy = a->metric_register(h, &d);

	if (m_gauge < 0 || m_counter < 0 || m_lat < 0 || m_proc < 0 || m_sched < 0 || m_busy < 0)
		return -EINVAL;
	publish_baselines();
	err = a->metric_collect(h, collect, NULL);
	if (!err)
		err = a->register_tool(h, &t);
	if (!err && !a->config_bool(h, "fail_init", &fail) && fail) {
		a->set_status(h, false, "failing on purpose (fail_init)");
		return -EIO;
	}
	return err;
}

static const struct smcp_config_key keys[] = {
	{ sizeof(struct smcp_config_key), "fail_init", SMCP_CONFIG_BOOL, "false",
	  "register everything, then fail init", 0, 0 },
	{ 0 },
};

SMCP_PLUGIN_DEFINE("synth", "1", "synthetic metrics for tests", .config_keys = keys, .init = init)
