/* SPDX-License-Identifier: MIT */
/*
 * Counter mode (perf_stat): which counting events exist, how they are
 * grouped, how a multiplexed count is scaled, how per-CPU counts fold into
 * LLCs and nodes, and the ratios derived from them. No host API and no
 * perf_event_open here (pp_stat.c opens and reads), so a unit test can feed
 * it synthetic counts and a fixture sysfs tree.
 *
 * Groups: each group is opened with one leader per CPU (or thread), so its
 * members count over the same intervals and a ratio of two members (IPC,
 * a miss rate) is of like with like even when the PMU multiplexes. A group
 * has at most four events: two fixed counters plus two general ones, or
 * four general ones, which every x86 PMU schedules at once.
 */
#ifndef SMCP_PSTAT_H
#define SMCP_PSTAT_H

#include <stdbool.h>
#include <stdint.h>

enum pstat_ev {
	PS_CYCLES = 0,
	PS_INSTRUCTIONS,
	PS_BRANCHES,
	PS_BRANCH_MISSES,
	PS_CACHE_REFS,
	PS_CACHE_MISSES,
	PS_LLC_LOADS,
	PS_LLC_LOAD_MISSES,
	PS_TASK_CLOCK,
	PS_CONTEXT_SWITCHES,
	PS_CPU_MIGRATIONS,
	PS_PAGE_FAULTS,
	PS__N,
};

#define PS_FIRST_SW PS_TASK_CLOCK /* events before it need a hardware PMU */

enum pstat_group {
	PSG_CORE = 0, /* cycles, instructions, branches, branch misses */
	PSG_CACHE,    /* cache references and misses, LLC loads and misses */
	PSG_SW,       /* task-clock, context switches, migrations, page faults */
	PSG__N,
};

struct pstat_event_desc {
	const char *name;   /* as perf stat names it, and the answer's key */
	uint32_t type;      /* perf_event_attr.type */
	uint64_t config;    /* perf_event_attr.config */
	enum pstat_group group;
};

/* The event table, indexed by enum pstat_ev. */
extern const struct pstat_event_desc pstat_events[PS__N];

/* One counting fd's read (read_format TOTAL_TIME_ENABLED | RUNNING). */
struct pstat_count {
	uint64_t value;
	uint64_t enabled_ns, running_ns;
	bool valid; /* opened and read */
};

/*
 * The count scaled for multiplexing: value * enabled / running, as perf
 * stat does. Sets *ret and returns 0; -ENODATA when the event was never
 * scheduled (running 0) or c is not valid, leaving *ret alone.
 */
int pstat_scale(const struct pstat_count *c, double *ret);

/* Scaled counts summed over CPUs or threads. */
struct pstat_agg {
	double v[PS__N];
	bool have[PS__N];        /* at least one unit counted it */
	/* lowest running/enabled over the units (1: never multiplexed) */
	double running_frac[PS__N];
	uint32_t units;          /* CPUs or threads added */
};

void pstat_agg_init(struct pstat_agg *a);
/* Add one unit's counts (an array of PS__N). */
void pstat_agg_add(struct pstat_agg *a, const struct pstat_count *c);

/* Ratios of an aggregate; NaN where an input is missing or zero. */
struct pstat_derived {
	double ipc;               /* instructions / cycles */
	double branch_miss_pct;   /* branch misses / branches */
	double cache_miss_pct;    /* cache misses / cache references */
	double llc_miss_pct;      /* LLC load misses / LLC loads */
	double llc_hit_pct;       /* 100 - llc_miss_pct */
	double cpus_utilized;     /* task-clock / elapsed time (CPUs busy) */
	double ctx_switches_per_s;
	double migrations_per_s;
	double page_faults_per_s;
};

void pstat_derive(const struct pstat_agg *a, double elapsed_s, struct pstat_derived *d);

/* CPU topology for folding: llc and node of each CPU id below max. */
struct pstat_topo {
	int max;       /* entries of the arrays */
	int *llc;      /* LLC id (the cache's id, else its first CPU); -1: unknown */
	int *node;     /* NUMA node; -1: unknown (no node directory: one node) */
	bool *online;
};

/*
 * Read /sys/devices/system/cpu (online, cpuN/cache/indexK) and
 * /sys/devices/system/node/nodeN/cpulist under root for CPUs below max.
 * The LLC is the highest-level data or unified cache. 0, -ENOMEM, or
 * -errno when the online list cannot be read. Free with pstat_topo_free.
 */
int pstat_topo_read(const char *root, int max, struct pstat_topo *t);
void pstat_topo_free(struct pstat_topo *t);

/* A folded domain: its id and the CPUs in it. */
struct pstat_domain {
	int id;
	uint64_t cpu_mask[4]; /* CPUs below 256, for the answer's cpu list */
	struct pstat_agg agg;
};

/*
 * Fold per-CPU counts (counts[i * PS__N], for CPU cpus[i], i < n) by
 * key[cpu] (an llc or node array of pstat_topo) into out (room for n
 * domains), sorted by id. Returns the number of domains.
 */
int pstat_fold(const struct pstat_count *counts, const int *cpus, int n, const int *key,
	       struct pstat_domain *out);

/* Round to 4 significant digits (measured values; counts stay exact). */
double pstat_round4(double v);

#endif
