/* SPDX-License-Identifier: MIT */
/*
 * The metrics sysstat publishes for the core's history and watches
 * (docs/metrics.md, "sysstat"), once per history step from the newest two
 * samples of the ring: percentages are over the last sample interval (1 s),
 * counters are the kernel's cumulative totals (the core takes differences).
 * When no new sample came since the previous step, the same values are
 * published again (gauges) or do not move (counters). Allocation-free
 * after stat_metrics_init().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat_metrics.h"

#define LABEL_LEN 12

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
	M_PSI_CPU_SOME,
	M_PSI_MEM_SOME,
	M_PSI_MEM_FULL,
	M_MEM_AVAIL,
	M_MEM_USED,
	M_MAJFLT,
	M_NET_RX,
	M_NET_TX,
	M_NET_RX_DROP,
	M_N
};

enum lbl { L_NONE, L_CPU, L_IFACE };

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
	[M_PSI_CPU_SOME] = { "psi_cpu_some_pct",
			     "share of time some runnable task waited for a CPU (PSI)", "pct",
			     SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_PSI_MEM_SOME] = { "psi_memory_some_pct",
			     "share of time some task stalled on memory (PSI)", "pct",
			     SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_PSI_MEM_FULL] = { "psi_memory_full_pct",
			     "share of time every non-idle task stalled on memory (PSI)", "pct",
			     SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_MEM_AVAIL] = { "memory_available_bytes", "MemAvailable", "bytes", SMCP_METRIC_GAUGE,
			  L_NONE, 0 },
	[M_MEM_USED] = { "memory_used_pct", "(MemTotal - MemAvailable) / MemTotal", "pct",
			 SMCP_METRIC_GAUGE, L_NONE, 0 },
	[M_MAJFLT] = { "page_major_faults_total", "major page faults (read from disk)", "1",
		       SMCP_METRIC_COUNTER, L_NONE, 0 },
	[M_NET_RX] = { "net_rx_bytes_total", "bytes received by the interface", "bytes",
		       SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET_TX] = { "net_tx_bytes_total", "bytes sent by the interface", "bytes",
		       SMCP_METRIC_COUNTER, L_IFACE, 0 },
	[M_NET_RX_DROP] = { "net_rx_drops_total", "received packets the interface dropped", "1",
			    SMCP_METRIC_COUNTER, L_IFACE, 0 },
};

struct stat_metrics {
	struct smcp_host *host;
	const struct smcp_host_api *api;
	const struct sampler *s;
	int id[M_N];
	char (*cpu_label)[LABEL_LEN]; /* cpu_slots */
};

static struct stat_metrics metrics;

static void set(struct stat_metrics *m, int k, const char *label, double v)
{
	const char *lv[1] = { label };

	(void)m->api->metric_set(m->host, m->id[k], label ? lv : NULL, v);
}

static void collect(void *data, uint64_t now_ns)
{
	struct stat_metrics *m = data;
	const struct sampler *s = m->s;
	const struct sample *b = sampler_newest(s), *a;
	const struct latest *l = &s->latest;
	double dt;

	if (!b)
		return;
	a = s->count >= 2 ? &s->ring[(s->head - 1 + RING_SLOTS) % RING_SLOTS] : NULL;
	dt = a && b->t_ns > a->t_ns ? (double)(b->t_ns - a->t_ns) / 1e9 : 0;
	if (b->have_stat) {
		struct cpu_split sp;

		set(m, M_CTXT, NULL, (double)b->ctxt);
		set(m, M_FORKS, NULL, (double)b->forks);
		set(m, M_RUNNING, NULL, b->procs_running);
		set(m, M_BLOCKED, NULL, b->procs_blocked);
		if (a && a->have_stat && cpu_split(&a->total, &b->total, &sp)) {
			set(m, M_BUSY, NULL, sp.busy);
			set(m, M_IOWAIT, NULL, sp.pct[CPU_IOWAIT]);
			set(m, M_STEAL, NULL, sp.pct[CPU_STEAL]);
			set(m, M_SOFTIRQ, NULL, sp.pct[CPU_SOFTIRQ]);
		}
		for (int c = 0; a && a->have_stat && c < s->cpu_slots; c++)
			if (a->cpu_seen[c] && b->cpu_seen[c] &&
			    cpu_split(&a->cpu[c], &b->cpu[c], &sp))
				set(m, M_BUSY_CPU, m->cpu_label[c], sp.busy);
	}
	if (dt > 0) {
		static const int psi[][3] = { { M_PSI_CPU_SOME, PSI_CPU, PSI_SOME },
					      { M_PSI_MEM_SOME, PSI_MEMORY, PSI_SOME },
					      { M_PSI_MEM_FULL, PSI_MEMORY, PSI_FULL } };

		for (size_t i = 0; i < sizeof(psi) / sizeof(psi[0]); i++) {
			int r = psi[i][1], k = psi[i][2];

			if (a->psi_have[r][k] && b->psi_have[r][k] &&
			    b->psi_us[r][k] >= a->psi_us[r][k])
				set(m, psi[i][0], NULL,
				    (double)(b->psi_us[r][k] - a->psi_us[r][k]) / 1e4 / dt);
		}
	}
	if (l->have_loadavg)
		set(m, M_LOAD1, NULL, l->load[0]);
	if (l->have_meminfo && l->mem_kb[MEM_AVAILABLE] >= 0) {
		set(m, M_MEM_AVAIL, NULL, (double)l->mem_kb[MEM_AVAILABLE] * 1024.0);
		if (l->mem_kb[MEM_TOTAL] > 0)
			set(m, M_MEM_USED, NULL,
			    (double)(l->mem_kb[MEM_TOTAL] - l->mem_kb[MEM_AVAILABLE]) * 100.0 /
				    (double)l->mem_kb[MEM_TOTAL]);
	}
	if (b->have_vm)
		set(m, M_MAJFLT, NULL, (double)b->vm[VM_PGMAJFAULT]);
	for (int i = 0; i < s->n_ifaces; i++) {
		if (!b->net_seen[i])
			continue;
		set(m, M_NET_RX, s->ifname[i], (double)b->net[i][NET_RX_BYTES]);
		set(m, M_NET_TX, s->ifname[i], (double)b->net[i][NET_TX_BYTES]);
		set(m, M_NET_RX_DROP, s->ifname[i], (double)b->net[i][NET_RX_DROP]);
	}
}

int stat_metrics_init(struct smcp_host *host, const struct smcp_host_api *api,
		      const struct sampler *s)
{
	static const char *const cpu_labels[] = { "cpu" };
	static const char *const iface_labels[] = { "iface" };
	struct stat_metrics *m = &metrics;

	if (!SMCP_API_HAS(api, metric_collect))
		return 0; /* an older host: everything but history */
	memset(m, 0, sizeof(*m));
	m->host = host;
	m->api = api;
	m->s = s;
	m->cpu_label = calloc((size_t)(s->cpu_slots > 0 ? s->cpu_slots : 1), LABEL_LEN);
	if (!m->cpu_label)
		return -ENOMEM;
	for (int c = 0; c < s->cpu_slots; c++)
		snprintf(m->cpu_label[c], LABEL_LEN, "%d", c);
	for (int k = 0; k < M_N; k++) {
		int id = api->metric_register(host, &(struct smcp_metric_desc){
			.sz = sizeof(struct smcp_metric_desc),
			.name = defs[k].name,
			.help = defs[k].help,
			.unit = defs[k].unit,
			.type = defs[k].type,
			.flags = defs[k].flags,
			.labels = defs[k].labels == L_CPU     ? cpu_labels
				  : defs[k].labels == L_IFACE ? iface_labels
							      : NULL,
			.n_labels = defs[k].labels == L_NONE ? 0 : 1,
		});

		if (id < 0) {
			api->log(host, SMCP_LOG_ERROR, "cannot register metric %s: %s",
				 defs[k].name, strerror(-id));
			return id;
		}
		m->id[k] = id;
	}
	/* counters since boot: the first values are only the baseline */
	collect(m, 0);
	return api->metric_collect(host, collect, m);
}

void stat_metrics_fini(void)
{
	free(metrics.cpu_label);
	memset(&metrics, 0, sizeof(metrics));
}
