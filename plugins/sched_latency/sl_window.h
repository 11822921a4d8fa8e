/* SPDX-License-Identifier: MIT */
/*
 * Rolling windows over cumulative counters, computed in user space.
 *
 * A series tracks entities (CPUs, threads, processes, DSQs) by key. Every
 * tick the caller hands in each entity's cumulative counters and
 * histograms; the series stores only what changed since the previous tick,
 * sparsely, in a ring of slots (one per tick). A window ("last 10 s") is
 * the sum of the slots it covers, so several readers never reset anything
 * and idle entities cost nothing. An entity whose counters went backwards
 * (its BPF map entry was evicted and re-created) starts over from zero.
 *
 * Bounds: at most max_entities tracked, at most slot_cap bytes of changes
 * per tick (beyond: the slot is marked truncated and windows that include
 * it say so), SLW_SLOTS slots. Pure code; unit-tested without BPF.
 *
 * Why this is not the core's history (issue 17: a plugin keeps no history
 * of its own, except where the core cannot hold the data): every entity
 * here carries 14 counters and 2 histograms of SL_NB buckets (threads and
 * processes 7 and 1), and the views fold and sort them freely (per LLC and
 * node, any sort key, any pid). As core series that would be 16 series per
 * CPU (a 64-CPU machine: 1024, histograms of up to ~0.5 MiB each, past the
 * whole history_max_mb), 8 per thread and process (thousands, where the
 * core keeps the top metrics_top_n) and 5 per DSQ (up to 1024). The core
 * keeps what it can hold and watches need (sl_metrics.c): per-CPU counters
 * and latency, the top processes, the busiest DSQs. This table keeps only
 * 60 s of changes of what moved, sparsely, and it ticks on the core's step
 * (sl_metrics.c on_step), not a timer of its own.
 */
#ifndef SL_WINDOW_H
#define SL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sl_hist.h"

#define SLW_SLOTS 96 /* 60 one-second ticks plus room for forced ticks */
#define SLW_MAX_COUNTERS 16
#define SLW_MAX_HISTS 2
#define SLW_COMM_LEN 16

struct sl_window_meta {
	uint32_t tgid;
	uint32_t last_cpu;
	char comm[SLW_COMM_LEN];
};

/* One entity's cumulative values at a tick: nc counters, nh histograms of
 * SL_NB buckets. resumed: the caller left this entity out of earlier ticks
 * after its last change (it had exited) and brings it back: if the series
 * no longer tracks it, these values are its new baseline and no change is
 * recorded, so its history is not counted a second time. */
struct sl_window_input {
	uint64_t key;
	struct sl_window_meta meta;
	const uint64_t *c;
	const uint64_t *h;
	bool resumed;
};

struct sl_window_slot {
	uint64_t start_ns, end_ns;
	uint8_t *buf; /* exactly used bytes */
	size_t used;
	uint32_t nrec;
	bool truncated;
};

struct sl_window_series {
	unsigned nc, nh;
	size_t max_entities, slot_cap;
	size_t n_tracked, tracked_cap;
	uint8_t *tracked, *next; /* entity arrays, sorted by key */
	uint8_t *scratch;        /* the tick being recorded, copied to its slot */
	size_t scratch_cap;
	struct sl_window_slot slots[SLW_SLOTS];
	unsigned newest; /* index of the newest slot */
	unsigned count;  /* valid slots */
	uint64_t last_tick_ns;
	uint64_t dropped_entities; /* inputs beyond max_entities, total */
	uint64_t ticks; /* sl_window_tick() calls so far: the newest slot's number */
};

struct sl_window_row {
	uint64_t key;
	struct sl_window_meta meta;
	uint64_t *c; /* nc */
	uint64_t *h; /* nh * SL_NB */
};

struct sl_window_result {
	unsigned nc, nh;
	size_t n;
	struct sl_window_row *rows; /* sorted by key */
	uint64_t *store;
	uint64_t start_ns, end_ns; /* what the rows cover */
	unsigned slots;            /* ticks summed (0: cumulative) */
	bool truncated;            /* some change was not recorded */
};

int sl_window_init(struct sl_window_series *s, unsigned nc, unsigned nh, size_t max_entities,
		   size_t slot_cap);
void sl_window_free(struct sl_window_series *s);

/* Record a tick at now_ns. in is sorted by key in place. Returns the
 * number of entities that changed, or -errno. The first tick after
 * sl_window_init() also records everything since the counters started. */
int sl_window_tick(struct sl_window_series *s, uint64_t now_ns, struct sl_window_input *in,
		   size_t n, uint64_t started_ns);

/* Sum of the slots ending within the last `seconds` before the newest
 * tick (window_ns = seconds * 1e9), or of those starting at or after
 * since_ns. -ENODATA when no tick has been recorded yet. */
int sl_window_window_last(const struct sl_window_series *s, uint64_t window_ns,
			  struct sl_window_result *out);
int sl_window_window_since(const struct sl_window_series *s, uint64_t since_ns,
			   struct sl_window_result *out);

/*
 * One recorded change, as sl_window_visit_since() hands it over: the entity's
 * counter differences (nc) and its histogram differences as npairs packed
 * (bucket, count) pairs (SLW_PAIR_BUCKET / SLW_PAIR_COUNT; bucket counts
 * nh * SL_NB). Borrowed for the call.
 */
struct sl_window_change {
	uint64_t key;
	const struct sl_window_meta *meta;
	const uint64_t *dc;
	const uint32_t *pairs;
	uint32_t npairs;
};
#define SLW_PAIR_BUCKET(p) ((p) >> 24)
#define SLW_PAIR_COUNT(p) ((p) & 0xFFFFFFu)

typedef void (*sl_window_visit_fn)(void *ctx, const struct sl_window_change *ch);

/* Call fn for every change recorded in the slots numbered after after_tick
 * (up to the newest, s->ticks; at most the SLW_SLOTS kept), oldest slot
 * first. Allocates nothing. Returns the number of slots visited. */
unsigned sl_window_visit_since(const struct sl_window_series *s, uint64_t after_tick,
			       sl_window_visit_fn fn, void *ctx);

/* Rows for n entities, zeroed (row i's c and h point into out->store), for
 * a caller that fills them itself; sl_window_result_sort() them by key after.
 * 0 or -ENOMEM. */
int sl_window_result_alloc(struct sl_window_result *out, unsigned nc, unsigned nh, size_t n);
void sl_window_result_sort(struct sl_window_result *r);

/* Rows from cumulative inputs (a "since start" view). */
int sl_window_result_from_inputs(unsigned nc, unsigned nh, const struct sl_window_input *in,
				 size_t n, struct sl_window_result *out);

/* Fold rows into groups: row with key k goes to group map[k] (skipped when
 * k >= n_map or map[k] < 0). Counters and histograms are summed; meta is
 * left empty. */
int sl_window_result_fold(const struct sl_window_result *src, const int *map, size_t n_map,
			  struct sl_window_result *out);

/* The row with key, or NULL. */
struct sl_window_row *sl_window_result_find(const struct sl_window_result *r, uint64_t key);

void sl_window_result_free(struct sl_window_result *r);

#endif
