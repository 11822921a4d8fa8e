/* SPDX-License-Identifier: MIT */
/* JSON answers of the bpf_inventory plugin, built from one snapshot. */
#ifndef SMCP_INV_EMIT_H
#define SMCP_INV_EMIT_H

#include <schedmcp/plugin.h>

#include "inv.h"
#include "inv_stats.h"

struct inv_emit {
	const struct smcp_host_api *api;
	struct smcp_json *j;
	const struct inv_snap *s;
	const struct inv_stats *st;
	uint64_t now_ns;      /* host monotonic clock */
	uint64_t default_duration_s;
	size_t max_rows;
};

/* bpf://programs, bpf://programs/{id}, bpf://maps */
int inv_emit_programs(const struct inv_emit *e);
int inv_emit_program(const struct inv_emit *e, const struct inv_prog *p);
int inv_emit_maps(const struct inv_emit *e);

/* control_stats_collection: state, the last window and its top programs. */
int inv_emit_stats_report(const struct inv_emit *e, const char *action, size_t top,
			  const char *message);

#endif
