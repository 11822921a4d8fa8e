/* SPDX-License-Identifier: MIT */
/*
 * The rolling history of one series, in two tiers: a fine tier (one slot per
 * step, 1 s x 900 by default) and a coarse tier (one slot per `factor`
 * steps, 1 min x 1440 by default). Slots are addressed by step index: fine
 * slot i holds step i, coarse slot j holds steps [j*factor, (j+1)*factor).
 *
 * Scalars (counters, gauges) keep a float per fine slot (a gauge's value, a
 * counter's increase in that step; NaN: no data) and mean/min/max of those
 * per coarse slot. Histograms keep each slot's bucket counts (increases),
 * sparse and varint-encoded, in a byte ring per tier; a coarse slot is the
 * bucket-wise sum of its fine slots, so percentiles over any range stay
 * exact to the bucket. A histogram ring grows (by compaction into a larger
 * buffer) up to a per-slot byte allowance while the budget allows; past it,
 * its oldest slots are dropped first, so a series' coverage can be shorter
 * than the tier (history_coverage() says how far back it reaches).
 *
 * Every byte allocated here is charged to a struct history_budget; nothing
 * is allocated after history_init() except ring growth.
 */
#ifndef SMCP_HISTORY_H
#define SMCP_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum history_tier { TIER_FINE = 0, TIER_COARSE = 1 };

#define HISTORY_MAX_BUCKETS 256
/* Longest encoded histogram slot: nnz, (gap, count) per bucket, a float. */
#define HISTORY_RECORD_MAX(nb) (10 + (size_t)(nb)*12 + sizeof(float))

struct history_geom {
	uint64_t step_ns; /* fine step */
	uint32_t fine_slots;
	uint32_t coarse_slots;
	uint32_t factor;	    /* fine steps per coarse step */
	uint32_t fine_hist_bytes;   /* byte allowance per fine histogram slot */
	uint32_t coarse_hist_bytes; /* ... per coarse histogram slot */
};

struct history_budget {
	size_t used, max;
	uint64_t refused; /* allocations refused for lack of budget */
};

/* Charge n bytes; false (and nothing charged) when that would pass max. */
bool history_budget_take(struct history_budget *b, size_t n);
void history_budget_give(struct history_budget *b, size_t n);

/* Variable-length records addressed by slot index (see history.c). */
struct hist_ring {
	uint8_t *buf;
	uint32_t cap, init_cap, max_cap, head;
	uint32_t *off; /* per slot; HR_NONE: no record */
	uint16_t *len;
	uint64_t tail;	  /* index of the oldest record that may still be live */
	uint64_t dropped; /* records dropped for lack of space */
};

struct coarse_cell {
	float mean, min, max; /* NaN: no data */
};

struct history {
	uint32_t nb;	/* buckets; 0 for a scalar */
	uint64_t first; /* first step written */
	uint64_t last;	/* last step written; first - 1 before any */
	bool any;	/* anything written yet */
	/* the coarse slot being filled (slot acc_idx, not yet in the tier) */
	uint64_t acc_idx;
	uint32_t acc_n; /* fine slots with data in it */
	double acc_sum; /* scalar: sum of values; hist: sum of observed values */
	float acc_min, acc_max;
	uint64_t *acc_counts; /* hist: nb */
	/* scalar tiers */
	float *fine;
	struct coarse_cell *coarse;
	/* histogram tiers */
	struct hist_ring rf, rc;
	size_t bytes; /* charged to the budget */
};

/* Allocate the tiers for a series whose first step will be `first`.
 * nb = 0: scalar. 0, or -ENOSPC when the budget cannot hold it, -ENOMEM. */
int history_init(struct history *h, const struct history_geom *g, uint32_t nb, uint64_t first,
		 struct history_budget *b);
void history_free(struct history *h, struct history_budget *b);
/* Forget everything (keep the memory); the next step written is `first`. */
void history_reset(struct history *h, const struct history_geom *g, uint64_t first);

/* Record step `step` (> the last one written; gaps are recorded as no
 * data). Scalar: v (NaN: no data). Histogram: counts[nb] (NULL: no data)
 * and the sum of observed values (NaN: unknown). */
void history_put_scalar(struct history *h, const struct history_geom *g, uint64_t step, double v);
void history_put_hist(struct history *h, const struct history_geom *g, uint64_t step,
		      const uint64_t *counts, double sum, struct history_budget *b);

/* One slot read back. Scalar: mean/min/max (a fine slot has all three
 * equal). Histogram: counts added into acc[nb], sum into *sum (NaN stays
 * NaN once unknown), *n_obs the observations. False: no data there. The
 * coarse slot still being filled is served from the accumulator. */
bool history_get_scalar(const struct history *h, const struct history_geom *g, enum history_tier t,
			uint64_t idx, struct coarse_cell *ret);
bool history_get_hist(const struct history *h, const struct history_geom *g, enum history_tier t,
		      uint64_t idx, uint64_t *acc, double *sum, uint64_t *n_obs);

/* The oldest slot index of tier t that can hold data, given the newest step
 * written: limited by the tier length, the series' first step and (for
 * histograms) what the ring still holds. */
uint64_t history_coverage(const struct history *h, const struct history_geom *g,
			  enum history_tier t);

/*
 * Saving and restoring a history (core/persist_encode.c). history_record():
 * the encoded record (history_encode's format) of histogram slot idx of
 * tier t, with its length in *ret_len, or NULL when the slot holds none
 * (or has aged out). Restoring starts from history_reset(h, g, first) and
 * loads the slots of each tier oldest first, never below what the tier
 * can hold; the caller then sets last, any, acc_* and the rings' dropped
 * counts from what it saved. A record that does not fit the ring's
 * allowance or the budget drops the oldest ones, as history_put_hist does.
 */
const uint8_t *history_record(const struct history *h, const struct history_geom *g,
			      enum history_tier t, uint64_t idx, uint32_t *ret_len);
void history_load_scalar(struct history *h, const struct history_geom *g, enum history_tier t,
			 uint64_t idx, const struct coarse_cell *c);
void history_load_record(struct history *h, const struct history_geom *g, enum history_tier t,
			 uint64_t idx, const uint8_t *rec, uint32_t len, struct history_budget *b);

/* Bytes that history_init() charges for a series of nb buckets (before any
 * ring growth), and the most a series can ever be charged. */
size_t history_base_bytes(const struct history_geom *g, uint32_t nb);
size_t history_max_bytes(const struct history_geom *g, uint32_t nb);

/* Sparse varint encoding of one histogram slot; exposed for tests. Returns
 * the bytes written (buf must hold history_record_max(nb)). */
size_t history_encode(uint8_t *buf, const uint64_t *counts, uint32_t nb, double sum);
size_t history_record_max(uint32_t nb);
/* Adds the record's counts into acc; -EINVAL on a malformed record. */
int history_decode(const uint8_t *buf, size_t len, uint32_t nb, uint64_t *acc, double *sum,
		   uint64_t *n_obs);

#endif
