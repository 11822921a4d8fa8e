/* SPDX-License-Identifier: MIT */
/* JSON answers of the topology plugin, built from a struct topo_model. */
#ifndef SMCP_TOPO_EMIT_H
#define SMCP_TOPO_EMIT_H

#include <schedmcp/plugin.h>

#include "topo_model.h"

/* Lists of packages, LLCs and nodes are cut after this many entries. */
#define TOPO_MAX_DOMAIN_ROWS 64
/* topology://info lists at most this many CPUs. */
#define TOPO_INFO_MAX_CPUS 256

struct topo_query {
	bool full;            /* detail_level == "full" */
	bool include_offline; /* list offline CPUs too */
	bool have_cpus;       /* cpus holds a filter */
	int64_t offset, limit;
	struct cpuset cpus;
};

/* Body of topology://info. Returns 0 or the writer's sticky -errno. */
int topo_emit_info(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct topo_model *m);

/* structuredContent of get_topology. */
int topo_emit_tool(const struct smcp_host_api *api, struct smcp_json *j,
		   const struct topo_model *m, const struct topo_query *q);

#endif
