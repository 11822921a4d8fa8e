/* SPDX-License-Identifier: MIT */
/* JSON answers of the sysstat plugin, from the core's history and the samples. */
#ifndef SMCP_SYSSTAT_EMIT_H
#define SMCP_SYSSTAT_EMIT_H

#include <schedmcp/plugin.h>

#include "percpu.h"
#include "sample.h"

/* Resources list every CPU's split up to this many CPUs, then summarise. */
#define EMIT_FULL_CPU_ROWS 32
/* Summarised per-CPU busy list and interface lists stop here. */
#define EMIT_MAX_BUSY_ROWS 256
#define EMIT_MAX_IFACE_ROWS 32

enum window_id { WIN_1S, WIN_10S, WIN_60S, WIN_START, WIN_NR };

struct win_memo;

/* Room for one window's per-CPU and per-interface figures (stat_window.h),
 * and the last read of each window of the core's history. */
struct win_buf {
	double (*cpu)[CPU_NR_FIELDS]; /* cpu_slots */
	uint8_t *cpu_seen;
	double (*net)[NET_NR_FIELDS]; /* MAX_IFACES */
	uint8_t *net_seen;
	struct win_memo *memo; /* the last read of the 1 s, 10 s, 60 s windows (stat_window.c) */
};

int stat_window_buf_init(struct win_buf *b, int cpu_slots);
void stat_window_buf_free(struct win_buf *b);

/* Body bytes a page of rows keeps for what follows them (the page object,
 * the current values, sampling and notes): json_item_end's tail. */
#define STAT_PAGE_TAIL_BYTES 2048

struct emit_ctx {
	const struct smcp_host_api *api;
	struct smcp_json *j;
	const struct sampler *s;
	const struct percpu *pc; /* the per-CPU windows */
	struct win_buf *buf;
};

/* What get_system_stats asked for. */
struct stat_query {
	enum window_id window;
	const uint8_t *cpu_filter; /* cpu_slots flags, or NULL: every CPU */
	int64_t offset, limit;
};

/* Window by name ("1s", "10s", "60s", "since_start"); -1 if unknown. */
int stat_window_by_name(const char *name);
const char *stat_window_name(enum window_id w);

/* Resource bodies. Each returns the writer's sticky status. */
int stat_cpu_emit_resource(const struct emit_ctx *c);
int stat_memnet_emit_memory(const struct emit_ctx *c);
int stat_memnet_emit_network(const struct emit_ctx *c);

/* get_system_stats: one window, rows paginated. */
int stat_cpu_emit_query(const struct emit_ctx *c, const struct stat_query *q);
int stat_memnet_emit_network_query(const struct emit_ctx *c, const struct stat_query *q);

#endif
