/* SPDX-License-Identifier: MIT */
/* JSON answers of the scheduler plugin. */
#ifndef SMCP_SCHED_EMIT_H
#define SMCP_SCHED_EMIT_H

#include <schedmcp/plugin.h>

#include "sched_read.h"

/* The debug dump is cut here (about 8k tokens). */
#define SCX_DUMP_MAX_BYTES (32 * 1024)

struct sched_view {
	struct scx_state scx; /* full read */
	struct kernel_release kernel;
	const struct fair_state *fair;
	const char *root;
	const char *debug; /* sched_read_debug_dir() */
};

/* Class ("sched_ext" or "fair") and name of the scheduler in charge. */
const char *sched_emit_class(const struct sched_view *v);
const char *sched_emit_name(const struct sched_view *v);

int sched_emit_current(const struct smcp_host_api *api, struct smcp_json *j,
		       const struct sched_view *v);
int sched_emit_scx(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct sched_view *v);

/* Bit mask of a stat_type name, -1 if unknown. */
int catalog_mask(const char *stat_type);

/* query_stats: the catalog of what schedmcp answers, for one stat_type
 * ("all" for everything). */
int catalog_emit(const struct smcp_host_api *api, struct smcp_host *h, struct smcp_json *j,
		 const char *stat_type);

#endif
