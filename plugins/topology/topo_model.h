/* SPDX-License-Identifier: MIT */
/*
 * The machine's CPU topology as sysfs describes it, read once into plain
 * structs so that every answer is built from memory. Private to the
 * topology plugin (hidden symbols).
 *
 * Ids come in two kinds. "Logical" ids (core, package, llc) number the
 * distinct CPU sets in order of their lowest CPU, the way util-linux lscpu
 * numbers its CORE and SOCKET columns, so they are dense and unique across
 * the machine. "Kernel" ids (core_id, physical_package_id, cache id) are
 * what sysfs says; they can be sparse and, for cores, repeat per package.
 * NUMA node ids are the kernel's (numactl uses them).
 */
#ifndef SMCP_TOPO_MODEL_H
#define SMCP_TOPO_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CPU ids above this are ignored (the kernel's NR_CPUS tops out at 8192). */
#define TOPO_MAX_CPUS 8192
#define TOPO_MAX_NODES 1024

struct cpuset {
	uint64_t *bits;
	int nbits;
};

int cpuset_init(struct cpuset *s, int nbits);
void cpuset_free(struct cpuset *s);
void cpuset_set(struct cpuset *s, int cpu);
bool cpuset_test(const struct cpuset *s, int cpu);
bool cpuset_equal(const struct cpuset *a, const struct cpuset *b);
int cpuset_count(const struct cpuset *s);
int cpuset_first(const struct cpuset *s); /* -1 when empty */
int cpuset_copy(struct cpuset *dst, const struct cpuset *src);
/* Parse the kernel's cpulist syntax ("0-3,8,10-11", "" = empty). Ids at or
 * above s->nbits give -ERANGE; bad syntax -EINVAL. */
int cpuset_parse(struct cpuset *s, const char *text);
/* Format as a cpulist into a new string (caller frees); NULL on -ENOMEM. */
char *cpuset_format(const struct cpuset *s);

struct topo_cpu {
	int id;
	bool present, online;
	int core, package, llc; /* logical ids; -1 unknown */
	int core_kid, package_kid, die_kid, llc_kid; /* kernel ids; -1 unknown */
	int node;     /* NUMA node; -1 unknown */
	int capacity; /* cpu_capacity; -1 when the file is absent */
	int64_t min_khz, max_khz, base_khz; /* cpufreq; -1 when absent */
};

/* A set of CPUs sharing something: a core, a package or a last-level cache. */
struct topo_domain {
	int id;        /* logical */
	int kernel_id; /* -1 unknown */
	int level;     /* LLCs: cache level */
	int64_t size_kb; /* LLCs: cache size; -1 unknown */
	struct cpuset cpus;
};

struct topo_node {
	int id;
	struct cpuset cpus; /* online CPUs */
	int *distance;      /* one per entry of topo_model.nodes, same order */
	int n_distance;
};

#define TOPO_MAX_NOTES 8

struct topo_model {
	int nbits; /* size of every cpuset: highest possible CPU + 1 */
	struct cpuset possible, present, online;
	struct topo_cpu *cpus; /* indexed by CPU id, nbits entries */
	struct topo_domain *cores, *packages, *llcs;
	int n_cores, n_packages, n_llcs;
	struct topo_node *nodes;
	int n_nodes;
	int llc_level;        /* 0 when the kernel exposes no cache topology */
	int threads_per_core; /* max SMT siblings among online CPUs */
	int smt_active;       /* smt/active: 0/1, -1 when absent */
	char smt_control[32]; /* smt/control, "" when absent */
	char freq_driver[32], freq_governor[32]; /* "" when no cpufreq */
	char online_text[4096]; /* raw cpu/online, to detect hotplug cheaply */
	const char *notes[TOPO_MAX_NOTES]; /* static strings: what is missing and why */
	int n_notes;
};

/* Read the topology under root ("" for the live system). 0 or -errno; on
 * failure *ret is untouched. A missing optional part (caches, NUMA,
 * cpufreq) is not a failure: it is left unknown and explained in notes. */
int topo_model_read(const char *root, struct topo_model **ret);
void topo_model_free(struct topo_model *m);

#endif
