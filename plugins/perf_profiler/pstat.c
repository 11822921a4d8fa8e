/* SPDX-License-Identifier: MIT */
/* Counter mode's arithmetic and topology (see pstat.h). */
#include "pstat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>

#include <schedmcp/cpulist.h>
#include <schedmcp/fsread.h>

#define LLC_CONFIG(result)                                                                        \
	(PERF_COUNT_HW_CACHE_LL | PERF_COUNT_HW_CACHE_OP_READ << 8 | (result) << 16)

const struct pstat_event_desc pstat_events[PS__N] = {
	[PS_CYCLES] = { "cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, PSG_CORE },
	[PS_INSTRUCTIONS] = { "instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS,
			      PSG_CORE },
	[PS_BRANCHES] = { "branches", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_INSTRUCTIONS,
			  PSG_CORE },
	[PS_BRANCH_MISSES] = { "branch-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES,
			       PSG_CORE },
	[PS_CACHE_REFS] = { "cache-references", PERF_TYPE_HARDWARE,
			    PERF_COUNT_HW_CACHE_REFERENCES, PSG_CACHE },
	[PS_CACHE_MISSES] = { "cache-misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES,
			      PSG_CACHE },
	[PS_LLC_LOADS] = { "LLC-loads", PERF_TYPE_HW_CACHE,
			   LLC_CONFIG(PERF_COUNT_HW_CACHE_RESULT_ACCESS), PSG_CACHE },
	[PS_LLC_LOAD_MISSES] = { "LLC-load-misses", PERF_TYPE_HW_CACHE,
				 LLC_CONFIG(PERF_COUNT_HW_CACHE_RESULT_MISS), PSG_CACHE },
	[PS_TASK_CLOCK] = { "task-clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, PSG_SW },
	[PS_CONTEXT_SWITCHES] = { "context-switches", PERF_TYPE_SOFTWARE,
				  PERF_COUNT_SW_CONTEXT_SWITCHES, PSG_SW },
	[PS_CPU_MIGRATIONS] = { "cpu-migrations", PERF_TYPE_SOFTWARE,
				PERF_COUNT_SW_CPU_MIGRATIONS, PSG_SW },
	[PS_PAGE_FAULTS] = { "page-faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, PSG_SW },
};

int pstat_scale(const struct pstat_count *c, double *ret)
{
	if (!c->valid || c->running_ns == 0)
		return -ENODATA;
	/* running == enabled: the event had the counter the whole time */
	if (c->running_ns >= c->enabled_ns)
		*ret = (double)c->value;
	else
		*ret = (double)c->value * ((double)c->enabled_ns / (double)c->running_ns);
	return 0;
}

void pstat_agg_init(struct pstat_agg *a)
{
	memset(a, 0, sizeof(*a));
	for (int e = 0; e < PS__N; e++)
		a->running_frac[e] = 1.0;
}

void pstat_agg_add(struct pstat_agg *a, const struct pstat_count *c)
{
	double v;

	for (int e = 0; e < PS__N; e++) {
		if (!c[e].valid)
			continue;
		if (c[e].enabled_ns > 0 && c[e].running_ns < c[e].enabled_ns) {
			double f = (double)c[e].running_ns / (double)c[e].enabled_ns;

			if (f < a->running_frac[e])
				a->running_frac[e] = f;
		}
		/* never scheduled: known to exist, but no count to scale */
		if (pstat_scale(&c[e], &v))
			continue;
		a->v[e] += v;
		a->have[e] = true;
	}
	a->units++;
}

static double ratio(const struct pstat_agg *a, enum pstat_ev num, enum pstat_ev den, double mul)
{
	if (!a->have[num] || !a->have[den] || a->v[den] <= 0)
		return NAN;
	return a->v[num] / a->v[den] * mul;
}

static double rate(const struct pstat_agg *a, enum pstat_ev e, double elapsed_s)
{
	return a->have[e] && elapsed_s > 0 ? a->v[e] / elapsed_s : NAN;
}

void pstat_derive(const struct pstat_agg *a, double elapsed_s, struct pstat_derived *d)
{
	d->ipc = ratio(a, PS_INSTRUCTIONS, PS_CYCLES, 1);
	d->branch_miss_pct = ratio(a, PS_BRANCH_MISSES, PS_BRANCHES, 100);
	d->cache_miss_pct = ratio(a, PS_CACHE_MISSES, PS_CACHE_REFS, 100);
	d->llc_miss_pct = ratio(a, PS_LLC_LOAD_MISSES, PS_LLC_LOADS, 100);
	d->llc_hit_pct = isnan(d->llc_miss_pct) ? NAN : 100 - d->llc_miss_pct;
	/* task-clock counts nanoseconds */
	d->cpus_utilized = rate(a, PS_TASK_CLOCK, elapsed_s) / 1e9;
	d->ctx_switches_per_s = rate(a, PS_CONTEXT_SWITCHES, elapsed_s);
	d->migrations_per_s = rate(a, PS_CPU_MIGRATIONS, elapsed_s);
	d->page_faults_per_s = rate(a, PS_PAGE_FAULTS, elapsed_s);
}

/* ------------------------------------------------------------ topology */

/* The highest-level data or unified cache of cpu: its id, or its first
 * CPU when the kernel gives no id (older kernels, some VMs). */
static int llc_of(const char *root, int cpu)
{
	char path[128], buf[256];
	int best_level = -1, best = -1;

	for (int k = 0; k < 16; k++) {
		int level;

		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index%d/level",
			 cpu, k);
		if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0)
			break;
		level = atoi(buf);
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index%d/type",
			 cpu, k);
		if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0 ||
		    strcmp(buf, "Instruction") == 0 || level <= best_level)
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/cache/index%d/id", cpu,
			 k);
		if (smcp_read_file(root, path, buf, sizeof(buf)) > 0) {
			best = atoi(buf);
		} else {
			snprintf(path, sizeof(path),
				 "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", cpu,
				 k);
			if (smcp_read_file(root, path, buf, sizeof(buf)) <= 0)
				continue;
			best = atoi(buf); /* "4-7" or "4,12": the first CPU */
		}
		best_level = level;
	}
	return best;
}

int pstat_topo_read(const char *root, int max, struct pstat_topo *t)
{
	char path[96], buf[4096];
	unsigned char *map = NULL, *nodes = NULL;
	int err;

	memset(t, 0, sizeof(*t));
	t->max = max;
	t->llc = malloc(sizeof(int) * (size_t)max);
	t->node = malloc(sizeof(int) * (size_t)max);
	t->online = calloc((size_t)max, sizeof(bool));
	map = calloc((size_t)max, 1);
	nodes = calloc((size_t)max, 1);
	if (!t->llc || !t->node || !t->online || !map || !nodes) {
		err = -ENOMEM;
		goto out;
	}
	err = smcp_read_file(root, "/sys/devices/system/cpu/online", buf, sizeof(buf));
	if (err < 0)
		goto out;
	err = smcp_cpulist_map(buf, map, max);
	if (err)
		goto out;
	for (int c = 0; c < max; c++) {
		t->online[c] = map[c];
		t->node[c] = -1;
		t->llc[c] = map[c] ? llc_of(root, c) : -1;
	}
	/* node ids can be sparse: look at the possible ones (every id below
	 * max on kernels without the list) */
	memset(map, 0, (size_t)max);
	if (smcp_read_file(root, "/sys/devices/system/node/possible", buf, sizeof(buf)) < 0 ||
	    smcp_cpulist_map(buf, map, max))
		memset(map, 1, (size_t)max);
	memcpy(nodes, map, (size_t)max);
	for (int n = 0; n < max; n++) {
		if (!nodes[n])
			continue;
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", n);
		if (smcp_read_file(root, path, buf, sizeof(buf)) < 0)
			continue;
		memset(map, 0, (size_t)max);
		if (smcp_cpulist_map(buf, map, max))
			continue;
		for (int c = 0; c < max; c++)
			if (map[c])
				t->node[c] = n;
	}
	err = 0;
out:
	free(map);
	free(nodes);
	if (err)
		pstat_topo_free(t);
	return err;
}

void pstat_topo_free(struct pstat_topo *t)
{
	if (!t)
		return;
	free(t->llc);
	free(t->node);
	free(t->online);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------ folding */

static int domain_cmp(const void *a, const void *b)
{
	const struct pstat_domain *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

int pstat_fold(const struct pstat_count *counts, const int *cpus, int n, const int *key,
	       struct pstat_domain *out)
{
	int nd = 0;

	for (int i = 0; i < n; i++) {
		int id = key[cpus[i]], d;

		for (d = 0; d < nd && out[d].id != id; d++)
			;
		if (d == nd) {
			memset(&out[d], 0, sizeof(out[d]));
			out[d].id = id;
			pstat_agg_init(&out[d].agg);
			nd++;
		}
		if (cpus[i] >= 0 && cpus[i] < 256)
			out[d].cpu_mask[cpus[i] / 64] |= 1ull << (cpus[i] % 64);
		pstat_agg_add(&out[d].agg, &counts[(size_t)i * PS__N]);
	}
	qsort(out, (size_t)nd, sizeof(*out), domain_cmp);
	return nd;
}

double pstat_round4(double v)
{
	double m;

	if (!isfinite(v) || v == 0)
		return v;
	m = pow(10, 3 - floor(log10(fabs(v))));
	return round(v * m) / m;
}
