/* SPDX-License-Identifier: MIT */
/* Inside the watches (watch.c, watch_context.c, watch_tools.c): the watch
 * record, the breach ring and what the three files share. */
#ifndef SMCP_WATCH_IMPL_H
#define SMCP_WATCH_IMPL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "metrics.h"
#include "metrics_query.h"

#define BREACHES_URI "watches://breaches"
#define CONTEXT_METRICS 8
#define CONTEXT_TOP 5
#define EVENT_MAX_BYTES 8192

enum cond_op { OP_GT, OP_GE, OP_LT, OP_LE };
enum watch_state { W_OK, W_PENDING, W_FIRING };

struct condition {
	enum q_stat stat;
	enum cond_op op;
	double threshold; /* in the statistic's unit */
	char text[96];
};

struct watch {
	uint32_t id;
	char name[64];
	char metric[SMCP_METRIC_NAME_MAX + 1];
	struct selector sel;
	char labels[160];
	struct condition cond;
	enum q_agg agg;
	double for_secs, clear_secs, window_secs, hysteresis_pct;
	uint32_t min_samples;
	enum watch_state state;
	uint64_t since; /* first step of the pending condition or the breach */
	bool clearing;
	uint64_t clear_since;
	double value; /* at the newest evaluation; NaN unknown */
	double peak;  /* worst value of the current breach */
	uint64_t episodes;
	int64_t created_ms;
	/* the matching series, refreshed when the store's generation moves */
	struct series **g;
	uint32_t ng, gcap, gen;
	const struct metric *gm;
};

struct breach {
	uint64_t seq;
	char *text;
};

/* Every watch, and the ring of breach/clear events (JSON text each). */
struct watch_set {
	struct smcp_host *core;
	const struct smcp_host_api *api;
	struct watch **w;
	uint32_t n, max;
	uint32_t next_id;
	struct breach *ring;
	uint32_t cap;
	uint64_t next_seq; /* events are numbered from 1 */
	uint64_t breaches_total, clears_total;
	uint32_t generation; /* watch_generation() */
};
/* watch.c keeps the set; the tools read it through these. */
const struct watch *watch_find(int64_t id);
const struct watch *watch_at(uint32_t i); /* 0 <= i < watch_count() */
int watch_delete(int64_t id);		  /* 0, -ENOENT */
struct watch_log {
	uint64_t next_seq, oldest_seq; /* events [oldest_seq, next_seq) are kept */
	uint64_t breaches_total, clears_total;
	uint32_t capacity, max_watches;
};
void watch_log(struct watch_log *ret);
/* The JSON text of event seq, or NULL when it is not kept. */
const char *watch_event(uint64_t seq);
void watch_set_host(struct smcp_host *core, const struct smcp_host_api *api);

/* Parse "<stat> <op> <threshold>" for metric m: 0 or -EINVAL with err set. */
int watch_condition_parse(const struct metric *m, const char *text, struct condition *c, char *err,
			  size_t errlen);
/* Re-select the series of m the watch's labels match, when they changed. */
void watch_refresh_group(struct watch *w, const struct metric *m);
uint64_t watch_oldest_seq(void);
const char *watch_state_name(enum watch_state s);
/* The newest values of every CONTEXT metric over the last window_secs
 * (at least 10 s) up to step; NULL on ENOMEM. */
cJSON *watch_context_snapshot(double window_secs, uint64_t step);

#endif
