/* SPDX-License-Identifier: MIT */
/*
 * Per-cgroup run-queue latency: the internal API of sched_latency for other
 * files of the plugin (the cgroupfs side of issue 18 codes against it).
 *
 * The BPF side keys run-queue latency by the cgroup of the task that gets
 * the CPU, in one hierarchy chosen at load time:
 *
 *   SL_CG_V2      the unified hierarchy (cgroup2 that has the cpu
 *                 controller, or a cgroup2-only machine): the id is
 *                 task->cgroups->dfl_cgrp->kn->id, as bpf_get_current_cgroup_id()
 *                 and runqlat -c use;
 *   SL_CG_V1_CPU  the v1 hierarchy the cpu controller is mounted in
 *                 (hybrid hosts): the id is
 *                 task->cgroups->subsys[cpu_cgrp_id]->cgroup->kn->id.
 *
 * Either way the id is the kernfs node id of the cgroup's directory, which
 * on 64-bit kernels is its inode number (stat(2) st_ino) under that
 * hierarchy's mount. Paths in this API are relative to that mount ("/" is
 * the root cgroup, "/system.slice/foo.service" a service); a path that
 * begins with the mount point itself (e.g. "/sys/fs/cgroup/cpu,cpuacct/x")
 * is accepted too and the prefix stripped.
 *
 * Everything here runs on the event loop thread (tool handlers, resource
 * readers, the collect callback), never on a worker; calls do bounded work
 * (no walk of the cgroup filesystem beyond a small bound per call) and
 * allocate nothing the caller must free.
 *
 * A cgroup's row (sl_cgroup_summary_*, sl_cgroup_top) counts the tasks
 * directly in it, not those of its descendants (unlike cpu.stat and
 * cpuacct.usage, which the kernel keeps hierarchically). For a slice, a pod
 * or a user slice, sl_cgroup_subtree_*() adds up the rows of every tracked
 * cgroup at or below its path (sl_cgtree.c), with its own numbers beside.
 *
 * Windows are those of the plugin's other series: 1, 10 or 60 seconds
 * (the last that many seconds of one-second ticks), or 0 for "since the
 * BPF programs loaded". Counts and sums are exact; percentiles come from
 * the histogram (same buckets as everything else in sched_latency, at most
 * 25% wide), interpolated inside their bucket.
 */
#ifndef SL_CGROUP_H
#define SL_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_hist.h"

struct sl;

#define SL_CG_PATH_MAX 512

/* Which hierarchy cgroup ids come from. */
enum sl_cg_hier {
	SL_CG_OFF = 0, /* not tracked: sl_cgroup_info() says why */
	SL_CG_V2,
	SL_CG_V1_CPU,
};

struct sl_cg_info {
	enum sl_cg_hier hier;
	const char *name;        /* "v2", "v1-cpu" or "off" (static string) */
	char mount[256];         /* the hierarchy's mount point, as seen under the
				  * host's fs root; "" when off */
	char reason[256];        /* when off: why, for a user; else "" */
	uint64_t max_cgroups;    /* [plugin sched_latency] cgroup_max */
	uint64_t tracked;        /* cgroups the BPF map holds now */
	uint64_t overflow;       /* switch-ins not counted: the map was full */
};

/* The hierarchy and its state; always succeeds (hier SL_CG_OFF when the
 * plugin's BPF is not running, there is no cpu controller in either
 * layout, or cgroup_max = 0). */
void sl_cgroup_info(struct sl *p, struct sl_cg_info *out);

struct sl_cg_summary {
	uint64_t id;                /* kernfs id (inode) in the hierarchy above */
	char path[SL_CG_PATH_MAX];  /* relative to the mount; "" when the id could
				     * not be resolved (yet, or the cgroup is gone) */
	uint64_t switches;          /* times a task of the cgroup got a CPU */
	uint64_t count;             /* run-queue latency samples among them */
	uint64_t sum_ns;            /* their sum */
	uint64_t p50_ns, p90_ns, p99_ns; /* 0 when count == 0 */
	uint64_t max_ns;            /* window 0: the exact maximum; otherwise the
				     * upper bound of the highest non-empty bucket */
	uint64_t start_ns, end_ns;  /* CLOCK_MONOTONIC span the numbers cover */
	bool truncated;             /* some change in the window was not recorded
				     * (series bounds): counts are lower bounds */
};

/*
 * Latency of one cgroup over the last window_s seconds (1, 10, 60; 0: since
 * load). Brings the series up to date first (at most one tick per 50 ms).
 * 0 with the summary filled (count 0 when the cgroup's tasks did not run in
 * the window); -ENODATA when cgroups are not tracked (sl_cgroup_info says
 * why); -EINVAL for another window or a malformed path; -ENOENT when path
 * is no cgroup of the hierarchy.
 */
int sl_cgroup_summary_by_id(struct sl *p, uint64_t id, unsigned window_s,
			    struct sl_cg_summary *out);
int sl_cgroup_summary_by_path(struct sl *p, const char *path, unsigned window_s,
			      struct sl_cg_summary *out);

/* The id of path (relative to the mount, or beginning with it): 0, -EINVAL,
 * -ENOENT, -ENODATA (not tracked). */
int sl_cgroup_id_of_path(struct sl *p, const char *path, uint64_t *id);

enum sl_cg_sort {
	SL_CG_SORT_WAIT_TIME, /* sum_ns, descending */
	SL_CG_SORT_SWITCHES,  /* switches, descending */
	SL_CG_SORT_P99,       /* p99_ns, descending */
};

/*
 * The cgroups that ran in the window, sorted, rows [offset, offset + max)
 * into out; *total receives how many there are. 0 or -ENODATA / -EINVAL /
 * -ENOMEM.
 */
int sl_cgroup_top(struct sl *p, unsigned window_s, enum sl_cg_sort sort, size_t offset,
		  struct sl_cg_summary *out, size_t max, size_t *total);

#define SL_CG_SUBTREE_PARTS 8

/* A cgroup and everything tracked below it, from one reading of the
 * series (the sum and its parts are the same snapshot). */
struct sl_cg_subtree {
	struct sl_cg_summary own; /* the tasks directly in it; own.path: its path */
	struct sl_cg_summary all; /* it and its descendants; all.id == own.id */
	uint64_t hist[SL_NB];     /* all's histogram */
	size_t cgroups_summed;    /* rows in all: its own (when its tasks ran) and its
				   * descendants' */
	size_t descendants;       /* of them, the descendants' */
	size_t unresolved;        /* tracked cgroups whose path is not known yet:
				   * they may be below it, and are in no sum */
	struct {                  /* the descendants with the most waits (not itself) */
		uint64_t id;
		uint64_t count;
		char path[SL_CG_PATH_MAX];
	} parts[SL_CG_SUBTREE_PARTS];
	size_t nparts;
};

/*
 * The subtree of path (as sl_cgroup_summary_by_path takes it) or of id,
 * whose path relative to the mount is rel (NULL: the resolved one; a cgroup
 * whose path is not known has only its own row), over window_s as above.
 * Returns what sl_cgroup_summary_by_* return.
 */
int sl_cgroup_subtree_by_path(struct sl *p, const char *path, unsigned window_s,
			      struct sl_cg_subtree *out);
int sl_cgroup_subtree_by_id(struct sl *p, uint64_t id, const char *rel, unsigned window_s,
			    struct sl_cg_subtree *out);

#endif
