/* SPDX-License-Identifier: MIT */
/* The event_lister plugin's steps in the core's workflow prompts. */
#ifndef EL_STEPS_H
#define EL_STEPS_H

#include <schedmcp/plugin.h>

/* Register them (in init); 0 on a host without steps (before ABI 1.2). */
int el_steps_register(struct smcp_host *host, const struct smcp_host_api *api);

#endif
