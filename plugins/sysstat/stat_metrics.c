/* SPDX-License-Identifier: MIT */
/*
 * The metrics sysstat publishes (docs/metrics.md, "sysstat"), once per
 * history step from the newest sample, and the windows read back from the
 * core's history of them. Percentages are over the last step (the previous
 * sample to the newest); counters are the kernel's cumulative totals (the
 * core takes differences), so a window of the last 10 s is the sum of the
 * core's last 10 steps: the plugin keeps no history of its own, except the
 * per-CPU split (percpu.h says why).
 * Allocation-free after stat_metrics_init().
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stat_metrics.h"

#define LABEL_LEN 12

/* Grouped so that a field's metric is its group's first plus the field. */
enum {
	M_BUSY,
	M_BUSY_CPU,
	M_IOWAIT,
	M_STEAL,
	M_SOFTIRQ,
	M_LOAD1,
	M_RUNNING,
	M_BLOCKED,
	M_CTXT,
	M_FORKS,
	M_PSI, /* + res * 2 + kind */
	M_MEM_AVAIL = M_PSI + PSI_NR * 2,
	M_MEM_USED,
	M_VM,			      /* + enum vm_field */
	M_CPU_S = M_VM + VM_NR_FIELDS, /* {mode}; per CPU: percpu.h says why not here */
	M_NET,			      /* + enum net_field, {iface} */
	M_N = M_NET + NET_NR_FIELDS
};

enum lbl { L_NONE, L_CPU, L_IFACE, L_MODE };

static const struct {
	const char *name, *help, *unit;
	enum smcp_metric_type type;
	enum lbl labels;
	uint32_t flags;
} defs[M_N] = {
	[M_BUSY] = { "cpu_busy_pct", "CPU utilisation of the whole machine (100 - idle - iowait)",
		     "pct", SMCP_METRIC_GAUGE, L_NONE, SMCP_METRIC_CONTEXT },
	[M_BUSY_CPU] = { "cpu_busy_per_cpu_pct", "utilisation of each CPU (100 - idle - iowait)",
			 "pct", SMCP_METRIC_GAUGE, L_CPU, 0 },
	[M_IOWAIT] = { "cpu_iowait_pct", "share of CPU time idle with I/O outstanding", "pct",
		       SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_STEAL] = { "cpu_steal_pct", "share of CPU time taken by the hypervisor", "pct",
		      SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_SOFTIRQ] = { "cpu_softirq_pct", "share of CPU time in softirqs", "pct",
			SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_LOAD1] = { "loadavg_1m", "1-minute load average", "1", SMCP_METRIC_GAUGE, L_NONE,
		      SMCP_METRIC_CONTEXT },
	[M_RUNNING] = { "procs_running", "runnable tasks (/proc/stat procs_running)", "1",
			SMCP_METRIC_GAUGE, L_NONE, SMCP_METRIC_CONTEXT },
	[M_BLOCKED] = { "procs_blocked", "tasks blocked on I/O (/proc/stat procs_blocked)", "1",
			SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_CTXT] = { "context_switches_total", "context switches, all CPUs", "1",
		     SMCP_METRIC_COUNTER, L_NONE, 0 },
	[M_FORKS] = { "forks_total", "processes and threads created", "1", SMCP_METRIC_COUNTER,
		      L_NONE, 0 },
	[M_PSI + PSI_CPU * 2 + PSI_SOME] = {
		"psi_cpu_some_pct", "share of time some runnable task waited for a CPU (PSI)",
		"pct", SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_PSI + PSI_CPU * 2 + PSI_FULL] = {
		"psi_cpu_full_pct", "share of time every non-idle task waited for a CPU (PSI)",
		"pct", SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_PSI + PSI_MEMORY * 2 + PSI_SOME] = {
		"psi_memory_some_pct", "share of time some task stalled on memory (PSI)", "pct",
		SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_PSI + PSI_MEMORY * 2 + PSI_FULL] = {
		"psi_memory_full_pct", "share of time every non-idle task stalled on memory (PSI)",
		"pct", SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_MEM_AVAIL] = { "memory_available_bytes", "MemAvailable", "bytes", SMCP_METRIC_GAUGE,
			  L_NONE, 0 },
	[M_MEM_USED] = { "memory_used_pct", "(MemTotal - MemAvailable) / MemTotal", "pct",
			 SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_VM + VM_PGFAULT] = { "page_faults_total", "page faults, minor and major", "1",
				SMCP_METRIC_COUNTER, L_NONE, 0 },
	[M_VM + VM_PGMAJFAULT] = { "page_major_faults_total", "major page faults (read from disk)",
				   "1", SMCP_METRIC_COUNTER, L_NONE, 0 },
	[M_VM + VM_PSWPIN] = { "swap_in_pages_total", "pages swapped in", "1", SMCP_METRIC_COUNTER,
			       L_NONE, 0 },
	[M_VM + VM_PSWPOUT] = { "swap_out_pages_total", "pages swapped out", "1",
				SMCP_METRIC_COUNTER, L_NONE, 0 },
	[M_CPU_S] = { "cpu_seconds_total", "CPU time of all CPUs by mode (/proc/stat; guest time "
				       "is inside user and nice)",
		      "s", SMCP_METRIC_COUNTER, L_MODE, 0 },
	[M_NET + NET_RX_BYTES] = { "net_rx_bytes_total", "bytes received by the interface",
				   "bytes", SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_RX_PACKETS] = { "net_rx_packets_total", "packets received by the interface",
				     "1", SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_RX_ERRS] = { "net_rx_errors_total", "receive errors of the interface", "1",
				  SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_RX_DROP] = { "net_rx_drops_total", "received packets the interface dropped",
				  "1", SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_TX_BYTES] = { "net_tx_bytes_total", "bytes sent by the interface", "bytes",
				   SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_TX_PACKETS] = { "net_tx_packets_total", "packets sent by the interface", "1",
				     SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_TX_ERRS] = { "net_tx_errors_total", "transmit errors of the interface", "1",
				  SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET + NET_TX_DROP] = { "net_tx_drops_total", "packets the interface dropped on send",
				  "1", SMCP_METRIC_COUNTER, L_IFACE, 0 },
};

static const char *const mode_names[CPU_NR_FIELDS] = {
	[CPU_USER] = "user", [CPU_NICE] = "nice", [CPU_SYSTEM] = "system",
	[CPU_IDLE] = "idle", [CPU_IOWAIT] = "iowait", [CPU_IRQ] = "irq",
	[CPU_SOFTIRQ] = "softirq", [CPU_STEAL] = "steal",
};

struct stat_metrics {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	const struct sampler *s;
	int id[M_N];
	double hz; /* USER_HZ: /proc/stat's ticks per second */
	char (*cpu_label)[LABEL_LEN]; /* cpu_slots */
};

static struct stat_metrics metrics;

static void set(struct stat_metrics *m, int k, const char *a, const char *b, double v)
{
	const char *lv[2] = { a, b };

	(void)m->api->metric_set(m->host, m->id[k], a ? lv : NULL, v);
}

bool stat_metrics_cpu_split(const double *d, struct stat_metrics_cpu_split *ret)
{
	double total = 0;

	for (int f = 0; f < CPU_NR_FIELDS; f++)
		total += d[f] > 0 ? d[f] : 0;
	if (total <= 0)
		return false;
	for (int f = 0; f < CPU_NR_FIELDS; f++)
		ret->pct[f] = (d[f] > 0 ? d[f] : 0) * 100.0 / total;
	ret->busy = 100.0 - ret->pct[CPU_IDLE] - ret->pct[CPU_IOWAIT];
	if (ret->busy < 0)
		ret->busy = 0;
	return true;
}

/* b - a per mode, never negative. */
void stat_metrics_cpu_delta(const struct cpu_times *a, const struct cpu_times *b, double *d)
{
	for (int f = 0; f < CPU_NR_FIELDS; f++)
		d[f] = b->v[f] >= a->v[f] ? (double)(b->v[f] - a->v[f]) : 0;
}

static void publish_cpu(struct stat_metrics *m, const struct sample *a, const struct sample *b)
{
	const struct sampler *s = m->s;
	struct stat_metrics_cpu_split sp;
	double d[CPU_NR_FIELDS];

	for (int f = 0; f < CPU_NR_FIELDS; f++)
		set(m, M_CPU_S, mode_names[f], NULL, (double)b->total.v[f] / m->hz);
	if (!a || !a->have_stat)
		return;
	stat_metrics_cpu_delta(&a->total, &b->total, d);
	if (stat_metrics_cpu_split(d, &sp)) {
		set(m, M_BUSY, NULL, NULL, sp.busy);
		set(m, M_IOWAIT, NULL, NULL, sp.pct[CPU_IOWAIT]);
		set(m, M_STEAL, NULL, NULL, sp.pct[CPU_STEAL]);
		set(m, M_SOFTIRQ, NULL, NULL, sp.pct[CPU_SOFTIRQ]);
	}
	for (int c = 0; c < s->cpu_slots; c++) {
		if (!a->cpu_seen[c] || !b->cpu_seen[c])
			continue;
		stat_metrics_cpu_delta(&a->cpu[c], &b->cpu[c], d);
		if (stat_metrics_cpu_split(d, &sp))
			set(m, M_BUSY_CPU, m->cpu_label[c], NULL, sp.busy);
	}
}

void stat_metrics_publish(void)
{
	struct stat_metrics *m = &metrics;
	const struct sampler *s = m->s;
	const struct sample *b = s ? s->newest : NULL, *a;
	const struct latest *l;
	double dt;

	if (!b)
		return;
	a = s->prev;
	l = &s->latest;
	dt = a && b->t_ns > a->t_ns ? (double)(b->t_ns - a->t_ns) / 1e9 : 0;
	if (b->have_stat) {
		set(m, M_CTXT, NULL, NULL, (double)b->ctxt);
		set(m, M_FORKS, NULL, NULL, (double)b->forks);
		set(m, M_RUNNING, NULL, NULL, b->procs_running);
		set(m, M_BLOCKED, NULL, NULL, b->procs_blocked);
		publish_cpu(m, a, b);
	}
	for (int r = 0; dt > 0 && r < PSI_NR; r++)
		for (int k = PSI_SOME; k <= PSI_FULL; k++)
			if (a->psi_have[r][k] && b->psi_have[r][k] &&
			    b->psi_us[r][k] >= a->psi_us[r][k])
				set(m, M_PSI + r * 2 + k, NULL, NULL,
				    (double)(b->psi_us[r][k] - a->psi_us[r][k]) / 1e4 / dt);
	if (l->have_loadavg)
		set(m, M_LOAD1, NULL, NULL, l->load[0]);
	if (l->have_meminfo && l->mem_kb[MEM_AVAILABLE] >= 0) {
		set(m, M_MEM_AVAIL, NULL, NULL, (double)l->mem_kb[MEM_AVAILABLE] * 1024.0);
		if (l->mem_kb[MEM_TOTAL] > 0)
			set(m, M_MEM_USED, NULL, NULL,
			    (double)(l->mem_kb[MEM_TOTAL] - l->mem_kb[MEM_AVAILABLE]) * 100.0 /
				    (double)l->mem_kb[MEM_TOTAL]);
	}
	for (int f = 0; b->have_vm && f < VM_NR_FIELDS; f++)
		set(m, M_VM + f, NULL, NULL, (double)b->vm[f]);
	for (int i = 0; i < s->n_ifaces; i++)
		for (int f = 0; b->net_seen[i] && f < NET_NR_FIELDS; f++)
			set(m, M_NET + f, s->ifname[i], NULL, (double)b->net[i][f]);
}

/* Series k (labels a, b) over the window: its increase (counter) or mean
 * (gauge), or -1 when it holds no data there. */
static double rd(struct stat_metrics *m, int k, const char *a, const char *b, uint64_t ms,
		 struct smcp_metric_window *w)
{
	const char *lv[2] = { a, b };

	*w = (struct smcp_metric_window){ .sz = sizeof(*w) };
	if (m->api->metric_window(m->host, m->id[k], a ? lv : NULL, ms, w) || !w->steps)
		return -1;
	return w->value;
}

/* A window spans the steps of its longest-held series. */
static void keep_steps(const struct smcp_metric_window *w, struct win_span *sp)
{
	sp->steps = w->steps > sp->steps ? w->steps : sp->steps;
	sp->step_s = w->step_s > 0 ? w->step_s : sp->step_s;
	sp->end_ns = w->end_ns ? w->end_ns : sp->end_ns;
}

void stat_metrics_totals(uint64_t window_ms, struct win *ret, struct win_span *sp)
{
	struct stat_metrics *m = &metrics;
	struct smcp_metric_window w;
	int f;

	*sp = (struct win_span){ 0 };
	if (!m->s)
		return;
	ret->have_stat = true;
	for (f = 0; f < CPU_NR_FIELDS; f++) {
		ret->total[f] = rd(m, M_CPU_S, mode_names[f], NULL, window_ms, &w);
		ret->have_stat &= ret->total[f] >= 0;
		keep_steps(&w, sp);
	}
	ret->ctxt = rd(m, M_CTXT, NULL, NULL, window_ms, &w);
	ret->forks = rd(m, M_FORKS, NULL, NULL, window_ms, &w);
	ret->have_stat &= ret->ctxt >= 0 && ret->forks >= 0;
	ret->procs_running = rd(m, M_RUNNING, NULL, NULL, window_ms, &w);
	ret->procs_blocked = rd(m, M_BLOCKED, NULL, NULL, window_ms, &w);
	ret->have_procs = ret->procs_running >= 0 && ret->procs_blocked >= 0;
	for (int r = 0; r < PSI_NR; r++)
		for (int k = PSI_SOME; k <= PSI_FULL; k++) {
			ret->psi_pct[r][k] = rd(m, M_PSI + r * 2 + k, NULL, NULL, window_ms, &w);
			keep_steps(&w, sp);
		}
	ret->have_vm = true;
	for (f = 0; f < VM_NR_FIELDS; f++) {
		ret->vm[f] = rd(m, M_VM + f, NULL, NULL, window_ms, &w);
		ret->have_vm &= ret->vm[f] >= 0;
		keep_steps(&w, sp);
	}
}

void stat_metrics_ifaces(uint64_t window_ms, struct win *ret, struct win_span *sp)
{
	struct stat_metrics *m = &metrics;
	const struct sampler *s = m->s;
	struct smcp_metric_window w;

	*sp = (struct win_span){ 0 };
	for (int i = 0; s && i < s->n_ifaces; i++) {
		ret->net_seen[i] = 1;
		for (int f = 0; f < NET_NR_FIELDS; f++) {
			ret->net[i][f] = rd(m, M_NET + f, s->ifname[i], NULL, window_ms, &w);
			ret->net_seen[i] &= ret->net[i][f] >= 0;
			keep_steps(&w, sp);
		}
	}
}

bool stat_metrics_procs(uint64_t window_ms, double *running, double *blocked)
{
	struct smcp_metric_window w;
	uint32_t steps;
	double step_s;

	if (!metrics.s)
		return false;
	*running = rd(&metrics, M_RUNNING, NULL, NULL, window_ms, &w);
	steps = w.steps;
	step_s = w.step_s;
	*blocked = rd(&metrics, M_BLOCKED, NULL, NULL, window_ms, &w);
	steps = w.steps < steps ? w.steps : steps;
	return *running >= 0 && *blocked >= 0 &&
	       steps * step_s + step_s / 2 >= (double)window_ms / 1000.0;
}

uint32_t stat_metrics_history(double *step_s)
{
	static const int ref[] = { M_CTXT, M_LOAD1 }; /* /proc/stat, /proc/loadavg */
	struct smcp_metric_window w;
	uint32_t steps = 0;

	*step_s = 1;
	for (size_t i = 0; metrics.s && i < SMCP_COUNT(ref); i++) {
		(void)rd(&metrics, ref[i], NULL, NULL, UINT32_MAX, &w);
		steps = w.steps > steps ? w.steps : steps;
		*step_s = w.step_s > 0 ? w.step_s : *step_s;
	}
	return steps;
}

int stat_metrics_init(struct smcp_host *host, const struct smcp_host_api *api,
		      const struct sampler *s)
{
	static const char *const labels[][2] = {
		[L_CPU] = { "cpu" }, [L_IFACE] = { "iface" }, [L_MODE] = { "mode" },
	};
	struct stat_metrics *m = &metrics;
	long hz = sysconf(_SC_CLK_TCK);

	memset(m, 0, sizeof(*m));
	m->host = host;
	m->api = api;
	m->hz = hz > 0 ? (double)hz : 100;
	m->cpu_label = calloc((size_t)(s->cpu_slots > 0 ? s->cpu_slots : 1), LABEL_LEN);
	if (!m->cpu_label)
		return -ENOMEM;
	for (int c = 0; c < s->cpu_slots; c++)
		snprintf(m->cpu_label[c], LABEL_LEN, "%d", c);
	for (int k = 0; k < M_N; k++) {
		int err = smcp_register_metric(host, api, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = defs[k].name,
			.help = defs[k].help,
			.unit = defs[k].unit,
			.type = defs[k].type,
			.flags = defs[k].flags,
			.labels = defs[k].labels == L_NONE ? NULL : labels[defs[k].labels],
			.n_labels = defs[k].labels == L_NONE ? 0 : 1,
		}, &m->id[k]);

		if (err)
			return err;
	}
	/* counters since boot: the first values are only the baseline */
	m->s = s;
	stat_metrics_publish();
	return 0;
}

void stat_metrics_fini(void)
{
	free(metrics.cpu_label);
	memset(&metrics, 0, sizeof(metrics));
}
