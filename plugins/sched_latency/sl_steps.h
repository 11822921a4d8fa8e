/* SPDX-License-Identifier: MIT */
/* The sched_latency plugin's steps in the core's workflow prompts. */
#ifndef SL_STEPS_H
#define SL_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int sl_steps_register(struct smcp_host *h, const struct smcp_host_api *api);

#endif
