/* SPDX-License-Identifier: MIT */
/*
 * What sl_cgroup.c (the map, the series, the answers) and sl_cgpaths.c (ids
 * to paths) share: the per-cgroup state. Private to those two files.
 */
#ifndef SL_CGROUP_PRIV_H
#define SL_CGROUP_PRIV_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "sl.h"
#include "sl_cgroup.h"

#define FILEID_KERNFS 0xfe
#define RESOLVE_PER_TICK 32
#define WALK_PER_TICK 512
#define WALK_DEPTH 16
#define RETRY_TICKS 10

enum name_state { NM_EMPTY, NM_OK, NM_PENDING, NM_GONE };

struct cg_name {
	uint64_t id;
	uint64_t retry_tick; /* NM_PENDING: try again at this tick */
	uint64_t added_tick; /* NM_PENDING: when it became pending */
	uint8_t state;
	char path[SL_CG_PATH_MAX];
};

struct sl_cgroup {
	enum sl_cg_hier hier;
	char mount[256];  /* where we open it (fs root + mount point) */
	char real[256];   /* the same as /proc/self/fd names it */
	char reason[256];
	int mount_fd;
	int map_fd, slots_fd, free_fd; /* cg_stats, cg_slots, cg_free */
	__u64 *overflow; /* the BPF .bss counter */
	size_t max, n;
	struct sl_measure *vals; /* ncpus */
	uint64_t *c, *h;          /* max * SLG_N, max * SL_NB: cumulative sums */
	struct sl_window_input *in;
	struct sl_window_series w;
	struct cg_name *names;
	size_t names_cap, names_used; /* cap: a power of two, >= 2 * max */
	uint64_t ticks;
	size_t verify_at; /* the next index of in[] whose name is checked again */
	int handle_err; /* the last error of open_by_handle_at other than ESTALE */
	bool no_handles; /* open_by_handle_at is refused: walk instead */
	struct {
		DIR *d[WALK_DEPTH];
		size_t len[WALK_DEPTH]; /* path length at each level */
		int depth;              /* 0: no walk under way */
		uint64_t start_tick;
		char path[SL_CG_PATH_MAX];
	} walk;
};

/* sl_cgpaths.c */
struct cg_name *sl_cgpath_slot(struct sl_cgroup *g, uint64_t id, bool add);
/* Name pending ids (handles, else a walk) and recheck a few names. */
void sl_cgpath_tick(struct sl_cgroup *g);
/* Try a handle for id now (a request for a cgroup no tick named yet). */
void sl_cgpath_resolve_now(struct sl_cgroup *g, uint64_t id);
void sl_cgpath_walk_close(struct sl_cgroup *g);

#endif
