/* SPDX-License-Identifier: MIT */
/* The perf_profiler plugin's steps in the core's workflow prompts. */
#ifndef PP_STEPS_H
#define PP_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int pp_steps_register(struct smcp_host *host, const struct smcp_host_api *api);

#endif
