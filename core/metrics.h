/* SPDX-License-Identifier: MIT */
/*
 * The metric store: metric families registered by plugins, their series
 * (one per set of label values), the host API members that publish into
 * them, and the sample tick that records every series into its history
 * (history.h) once per step and then evaluates the watches (watch.h).
 *
 * Memory bound: every byte of series state and history is charged to one
 * budget ([core] history_max_mb); a series that does not fit is refused,
 * and so is a series past [core] metrics_max_series. Metrics flagged
 * SMCP_METRIC_TOP_N keep at most [core] metrics_top_n series each.
 */
#ifndef SMCP_METRICS_H
#define SMCP_METRICS_H

#include <schedmcp/hashmap.h>
#include <schedmcp/plugin.h>

#include "config.h"
#include "history.h"

#define METRIC_LV_BYTES 192 /* packed label values of one series */
#define METRICS_MAX_FAMILIES 1024
#define METRICS_MAX_COLLECTORS 64

struct metric;

struct series {
	struct metric *m;
	uint32_t hash;
	uint16_t lv_len;			/* bytes of lv used */
	uint8_t lv_off[SMCP_METRIC_MAX_LABELS]; /* where each value starts in lv */
	char lv[METRIC_LV_BYTES];		/* values, each NUL-terminated */
	uint64_t first_step;
	uint64_t pub_step; /* the step it was last published in */
	bool delta_seen;   /* an increase is known for the step being filled */
	bool have_delta;   /* one was known in some earlier step */
	bool have_base;	   /* a cumulative total was published */
	double cur;	   /* gauge: value; counter: increase in this step */
	double base;	   /* counter: last cumulative total */
	double score;	   /* activity in the step being filled */
	double last_score; /* ... in the newest recorded step */
	uint64_t *hcur;	   /* histogram: counts in the step being filled */
	uint64_t *hbase;   /* histogram: last cumulative counts */
	double hsum_cur, hsum_base;
	/* what /metrics exports (core/metrics_prom.c): a counter's increases
	 * and a histogram's counts summed over every step recorded since the
	 * series appeared in this process (Prometheus reads a restart as a
	 * reset) */
	double total;
	uint64_t *htotal;
	double hsum_total;
	size_t bytes; /* charged to the budget besides the history */
	struct history h;
};

struct metric {
	int id; /* 1-based index in the store */
	char name[SMCP_METRIC_NAME_MAX + 1];
	char unit[16];
	char *help;
	enum smcp_metric_type type;
	uint32_t flags;
	uint32_t n_labels;
	char label[SMCP_METRIC_MAX_LABELS][SMCP_METRIC_NAME_MAX + 1];
	uint32_t nb;	/* histogram buckets */
	double *bounds; /* nb upper bounds */
	struct smcp_host *owner;
	struct series **series;
	uint32_t n_series, cap_series;
	struct smcp_hashmap index; /* series index -> nothing, by label values */
	uint64_t refused; /* publishes of a series that could not be created */
	uint64_t evicted; /* top-N series replaced by more active ones */
	bool dead;	  /* its plugin is gone */
};

struct metrics_limits {
	uint64_t step_ms;
	uint32_t fine_slots, coarse_slots, coarse_factor;
	uint64_t max_bytes;
	uint32_t max_series, top_n, max_watches, breach_ring;
};

struct metrics_store {
	struct metrics_limits lim;
	struct history_geom geom;
	struct history_budget budget;
	struct metric **m;
	uint32_t n_metrics;
	uint32_t n_series;	 /* live series, all metrics */
	uint64_t refused_series; /* not created: the series limit or the budget */
	uint64_t next_step;	 /* the step being filled */
	uint64_t last_step;	 /* the newest step recorded (valid when any_step) */
	bool any_step;
	uint64_t t0_ns;	    /* monotonic start of step 0 */
	int64_t t0_unix_ms; /* wall clock at t0 */
	uint64_t ticks;
	uint64_t tick_ns_last, tick_ns_max, tick_ns_sum;
	uint32_t generation; /* bumped whenever a series appears or goes */
	int timer;
	struct smcp_host *core;
	const struct smcp_host_api *api;
};

/* The store, read-only: what the history tools, watches and persistence
 * look at. Only the store's own code changes it. */
const struct metrics_store *metrics_view(void);
/* What persistence needs to write: the memory budget restored history is
 * charged to, and the generation a restored series bumps. */
struct history_budget *metrics_budget(void);
void metrics_bump_generation(void);
/* The store itself, writable: for tests and benchmarks that fill history
 * directly, nothing else. */
struct metrics_store *metrics_store_for_tests(void);

/* Who wants to know when a step is recorded (watches): fn runs after every
 * series has recorded step. At most METRICS_MAX_OBSERVERS; 0, -ENOSPC. */
#define METRICS_MAX_OBSERVERS 4
int metrics_on_step(void (*fn)(void *ctx, uint64_t step), void *ctx);

/* Read the [core] history and metric limits, declared in keys (the core's
 * key table: ranges and defaults), from the validated [core] section. */
void metrics_configure(const struct config_section *core, const struct smcp_config_key *keys);
/* Set up the store with the configured limits and start the sample tick
 * (a timer of the core's host record). The history tools (metrics_tools.h)
 * and the watches (watch.h) attach themselves from the wiring: the store
 * knows neither. */
int metrics_init(struct smcp_host *core, const struct smcp_host_api *api);
void metrics_fini(void);

/* The limits metrics_configure() read (the watches' among them). */
const struct metrics_limits *metrics_configured(void);
/* The store alone (no registrations, no timer), for tests and the bench:
 * t0_ns is step 0's start. */
int metrics_store_init(const struct metrics_limits *lim, uint64_t t0_ns);
void metrics_store_fini(void);
/* Record the step(s) that ended by now_ns: run the collectors, close the
 * step of every series, evaluate watches. */
void metrics_tick(uint64_t now_ns);

/*
 * Restoring saved history (core/persist.c), after every plugin's init()
 * and before the first tick. metrics_continue(): carry on the timeline
 * whose step 0 began at t0_unix_ms (wall clock) and whose newest recorded
 * step is last_step, given the clocks now: t0_ns is re-based so that old
 * step indices keep their times, the steps since last_step stay empty (a
 * gap), series created in init() start at the current step, and the tick
 * is re-armed on the timeline's step boundaries. -EBUSY once a step was
 * recorded, -ERANGE when now is not past last_step.
 * metrics_series_restore(): the series of m with label values lv for a
 * saved history (the caller loads it): one created in init() is reused;
 * otherwise a new one, within the top-N, series and memory limits
 * (-ENOSPC, not counted as a refusal), that records no data until its
 * plugin publishes it. -EINVAL for bad label values, -ENOMEM.
 */
int metrics_continue(int64_t t0_unix_ms, uint64_t last_step, uint64_t now_ns, int64_t now_unix_ms);
struct series *metrics_series_restore(struct metric *m, const char *const *lv, uint64_t first_step,
				      uint64_t pub_step, double last_score, int *err);

/* Host API members (plugin.h, Since 1.1). */
int metrics_api_register(struct smcp_host *h, const struct smcp_metric_desc *d);
int metrics_publish_set(struct smcp_host *h, int metric, const char *const *lv, double value);
int metrics_publish_add(struct smcp_host *h, int metric, const char *const *lv, double delta);
int metrics_publish_hist(struct smcp_host *h, int metric, const char *const *lv,
			 const uint64_t *counts, uint32_t n, double sum, uint32_t flags);
int metrics_publish_observe(struct smcp_host *h, int metric, const char *const *lv, double value);
int metrics_api_collect(struct smcp_host *h, smcp_collect_fn cb, void *data);
/* Since 1.2 (metrics_query.c) */
int metrics_query_window(struct smcp_host *h, int metric, const char *const *lv, uint64_t window_ms,
			 struct smcp_metric_window *w);

/* Inside the store (metrics*.c): plugin h's live metric with this id, or
 * NULL; the series of these label values, created if need be (NULL with
 * *err set: -EINVAL, -ENOSPC, -ENOMEM); score is the newcomer's activity
 * for the top-N rule. */
struct metric *metrics_metric_of(struct smcp_host *h, int id);
struct series *metrics_series_get(struct metric *m, const char *const *lv, double score, int *err);
/* The series of these label values, or NULL: never creates one. */
struct series *metrics_series_find(const struct metric *m, const char *const *lv);

/* Lookups for the tools. */
struct metric *metrics_find(const char *name);
/* The value of label i of s. */
static inline const char *series_label(const struct series *s, uint32_t i)
{
	return s->lv + s->lv_off[i];
}
/* Index of a label name in m, or -1. */
int metrics_label_index(const struct metric *m, const char *name);
const char *metrics_type_name(enum smcp_metric_type t);

/* Time: a step's start in unix ms, and the step holding a unix time. */
int64_t metrics_step_unix_ms(uint64_t step);
int64_t metrics_unix_to_step(int64_t unix_ms);
int64_t metrics_now_unix_ms(void);
double metrics_step_secs(void);

/* The catalog in the Prometheus text format 0.0.4, or OpenMetrics 1.0.0
 * (core/metrics_prom.c), appended to b: what GET /metrics answers. Returns
 * 0 or b's error. */
struct jbuf;
int metrics_prom_render(struct jbuf *b, bool openmetrics);

#endif
