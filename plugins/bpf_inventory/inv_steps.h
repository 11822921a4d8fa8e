/* SPDX-License-Identifier: MIT */
/* The bpf_inventory plugin's steps in the core's workflow prompts. */
#ifndef INV_STEPS_H
#define INV_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int inv_steps_register(struct smcp_host *host, const struct smcp_host_api *api);

#endif
