/* SPDX-License-Identifier: MIT */
/*
 * A cgroup's subtree from the per-cgroup rows (sl_cgroup.c): the BPF map
 * counts each cgroup's own tasks only, so a slice, a pod or a user slice is
 * answered by adding up, in user space, the rows of every tracked cgroup at
 * or below its path. Pure code over a struct sl_window_result and a lookup
 * of paths; unit-tested on synthetic rows without BPF.
 *
 * Paths are relative to the hierarchy's mount: "/" (the root: everything
 * tracked is below it), "/system.slice", "/kubepods.slice/kubepods-pod1.slice".
 */
#ifndef SL_CGTREE_H
#define SL_CGTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_window.h"

#define SL_CGTREE_PARTS 8 /* descendants named beside the sum, the most waits first */

/* The path of a cgroup id, or NULL when it is not known (yet). */
typedef const char *(*sl_cgtree_path_fn)(void *ctx, uint64_t id);

struct sl_cgtree_part {
	uint64_t id;
	uint64_t rank; /* the ranking counter of its row (waits) */
};

struct sl_cgtree_sum {
	size_t summed;     /* rows at base or below it, base's own row included */
	size_t unresolved; /* rows whose path is not known: in no subtree yet */
	bool has_base;     /* base's own row is among them */
	uint64_t c[SLW_MAX_COUNTERS]; /* nc counters summed (the max counter: the largest) */
	uint64_t h[SL_NB];            /* the first histogram of the rows, summed */
	/* the descendants (not base itself) with the largest rank counter, in
	 * descending order; nparts <= SL_CGTREE_PARTS, summed - has_base in all */
	struct sl_cgtree_part parts[SL_CGTREE_PARTS];
	size_t nparts;
};

/* Whether path is base or a cgroup below it ("/a/bc" is not below "/a/b").
 * Both must be paths as above; false when either is NULL. */
bool sl_cgtree_under(const char *path, const char *base);

/*
 * Sum the rows of r whose path (fn(ctx, row key)) is base or below it.
 * Counters [0, r->nc) are added up, except max_counter (< 0: none), whose
 * largest value is kept; rank_counter (< r->nc) orders parts[]. The row of
 * base_id counts as base's own even when fn does not know its path. r->nh
 * must be at least 1 and r->nc at most SLW_MAX_COUNTERS. Allocates nothing.
 * 0, or -EINVAL (a bad base or r).
 */
int sl_cgtree_sum(const struct sl_window_result *r, uint64_t base_id, const char *base,
		  sl_cgtree_path_fn fn, void *ctx, int max_counter, unsigned rank_counter,
		  struct sl_cgtree_sum *out);

#endif
