/* SPDX-License-Identifier: MIT */
/*
 * CPU -> last-level cache and CPU -> NUMA node, read from sysfs under a
 * root prefix, for folding per-CPU data into per-LLC and per-node views
 * and for telling cross-LLC/cross-node migrations apart in BPF.
 *
 * LLC ids are logical like the topology plugin's: distinct CPU sets
 * numbered in order of their lowest CPU. Node ids are the kernel's.
 * Kept deliberately small; the topology plugin owns the full model.
 */
#ifndef SL_TOPO_H
#define SL_TOPO_H

#include <stddef.h>

#define SL_TOPO_MAX_CPUS 4096 /* == SL_MAX_CPUS */

struct sl_topo {
	int ncpus;     /* entries in cpu_llc and cpu_node */
	int *cpu_llc;  /* logical LLC id; -1 unknown */
	int *cpu_node; /* NUMA node id; -1 unknown */
	int n_llc;     /* LLC ids are 0 .. n_llc-1 */
	int n_node;    /* node ids are below n_node (may be sparse) */
	int llc_level; /* cache level used; 0 when not from caches */
	char llc_source[96];
	char node_source[96];
};

/*
 * Read the mapping under root ("" for the live system). ncpus: how many
 * CPU ids to describe (the BPF side's possible CPUs); <= 0 means "from
 * cpu/possible". Missing cache or NUMA information is not an error: it is
 * replaced by the package or a single node and said in *_source. 0 or
 * -errno (-ENOMEM, or -ENOENT when not even cpu/possible is readable and
 * ncpus <= 0).
 */
int sl_topo_read(const char *root, int ncpus, struct sl_topo *t);
void sl_topo_free(struct sl_topo *t);

/* CPUs with cpu_llc (llc true) or cpu_node equal to id, as a cpulist
 * ("0-3,8"), into buf. Returns the number of CPUs. */
int sl_topo_cpus(const struct sl_topo *t, int llc, int id, char *buf, size_t len);

#endif
