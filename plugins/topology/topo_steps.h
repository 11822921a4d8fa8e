/* SPDX-License-Identifier: MIT */
/* The topology plugin's steps in the core's workflow prompts. */
#ifndef TOPO_STEPS_H
#define TOPO_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int topo_steps_register(struct smcp_host *host, const struct smcp_host_api *api);

#endif
