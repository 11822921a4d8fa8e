/* SPDX-License-Identifier: MIT */
/* The sysstat plugin's steps in the core's workflow prompts. */
#ifndef STAT_STEPS_H
#define STAT_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int stat_steps_register(struct smcp_host *host, const struct smcp_host_api *api);

#endif
